/* tanh: y = tanh x.  dy/dx = 1 - y^2 (reuses the output).
 * Reverse rule as nodes: gx = gy*(1 - y*y). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(tanh, {
    double y = tanh(x[0]);
    if (d) d[0] = 1.0 - y * y;
    return y;
})

static tg_var tanh_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)i;
    return tg_mul(gy, tg_sub(tg_const_like(y, 1.0), tg_mul(y, y)));
}

TG_EVAL_ROW(tanh, 1)

const tg_op_def tg_op_tanh = {.name = "tanh", .arity = 1, .math = "y = tanh x; dy/dx = 1 - y^2",
                              .eval = tanh_eval, .code = tanh_code,
                              .eval_row = tanh_row,
                              .vjp_graph = tanh_vjp_graph};

tg_var tg_tanh(tg_var x) { return tg_apply1(&tg_op_tanh, x); }
