/* div: y = a/b.  dy/da = 1/b, dy/db = -a/b^2 = -y/b (reuses y).
 * b = 0 gives +-Inf or NaN, as in C; anomaly mode reports it.
 * Reverse rule as nodes: ga = gy/b, gb = -(gy*y)/b. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(div, {
    double y = x[0] / x[1];
    if (d) d[0] = 1.0 / x[1], d[1] = -y / x[1];
    return y;
})

static tg_var div_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    if (i == 0) return tg_div(gy, x[1]);
    return tg_neg(tg_div(tg_mul(gy, y), x[1]));
}

TG_EVAL_ROW(div, 2)

const tg_op_def tg_op_div = {.name = "div", .arity = 2,
                             .math = "y = a/b; dy/da = 1/b, dy/db = -a/b^2",
                             .eval = div_eval, .code = div_code,
                             .eval_row = div_row,
                             .vjp_graph = div_vjp_graph};

tg_var tg_div(tg_var a, tg_var b) { return tg_apply2(&tg_op_div, a, b); }
