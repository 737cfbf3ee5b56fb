/* sqrt: y = sqrt(x).  dy/dx = 1/(2y) (reuses the output; +Inf at x = 0).
 * Negative x gives NaN (anomaly mode reports it).
 * Reverse rule as nodes: gx = (gy/2)/y. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(sqrt, {
    double y = sqrt(x[0]);
    if (d) d[0] = 0.5 / y;
    return y;
})

static tg_var sqrt_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)i;
    return tg_div(tg_mul(gy, tg_const_like(y, 0.5)), y);
}

TG_EVAL_ROW(sqrt, 1)

const tg_op_def tg_op_sqrt = {.name = "sqrt", .arity = 1,
                              .math = "y = sqrt(x); dy/dx = 1/(2 sqrt(x))",
                              .eval = sqrt_eval, .code = sqrt_code,
                              .eval_row = sqrt_row,
                              .vjp_graph = sqrt_vjp_graph};

tg_var tg_sqrt(tg_var x) { return tg_apply1(&tg_op_sqrt, x); }
