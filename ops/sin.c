/* sin: y = sin x.  dy/dx = cos x.  Reverse rule as nodes: gx = gy*cos(x). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(sin, {
    if (d) d[0] = cos(x[0]);
    return sin(x[0]);
})

static tg_var sin_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_cos(x[0]));
}

TG_EVAL_ROW(sin, 1)

const tg_op_def tg_op_sin = {.name = "sin", .arity = 1, .math = "y = sin x; dy/dx = cos x",
                             .eval = sin_eval, .code = sin_code,
                             .eval_row = sin_row,
                             .vjp_graph = sin_vjp_graph};

tg_var tg_sin(tg_var x) { return tg_apply1(&tg_op_sin, x); }
