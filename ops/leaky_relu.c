/* leaky_relu: y = x > 0 ? x : s*x, with the slope s as a second operand (a constant from
 * tg_leaky_relu, or a parameter: then it is learned, as in PReLU).
 * dy/dx = x > 0 ? 1 : s; at the kink x = 0 we take the left value s.  dy/ds = min(x, 0).
 * Branch quantity: x.  Reverse rule as nodes: gx = gy*(step(x) + s*(1 - step(x))),
 * gs = gy*(x - relu(x)). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(leaky_relu, {
    if (d) {
        d[0] = x[0] > 0 ? 1.0 : x[1];
        d[1] = x[0] > 0 ? 0.0 : x[0];
    }
    return x[0] > 0 ? x[0] : x[1] * x[0];
})

static double leaky_relu_branch(const double *x) { return x[0]; }

static tg_var leaky_relu_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    if (i == 1) return tg_mul(gy, tg_sub(x[0], tg_relu(x[0])));
    /* step + s*(1 - step): exact for any slope (s + (1-s)*step cancels when s is huge) */
    tg_var on = tg_step(x[0]), off = tg_sub(tg_const_like(y, 1.0), on);
    return tg_mul(gy, tg_add(on, tg_mul(x[1], off)));
}

TG_EVAL_ROW(leaky_relu, 2)

const tg_op_def tg_op_leaky_relu = {
    .name = "leaky_relu", .arity = 2,
    .math = "y = x > 0 ? x : s*x; dy/dx = x > 0 ? 1 : s (s at 0), dy/ds = min(x,0)",
    .eval = leaky_relu_eval, .code = leaky_relu_code,
    .eval_row = leaky_relu_row, .branch = leaky_relu_branch,
    .vjp_graph = leaky_relu_vjp_graph};

tg_var tg_leaky_relu(tg_var x, double slope)
{
    return tg_apply2(&tg_op_leaky_relu, x, tg_const_like(x, slope));
}
