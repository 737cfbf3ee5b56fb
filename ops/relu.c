/* relu: y = max(x, 0).  dy/dx = 1 for x > 0, 0 for x < 0; at the kink x = 0 we take the
 * one-sided value relu'(0) = 0 (as PyTorch does).  Branch quantity: x.
 * Reverse rule as nodes: gx = gy*step(x). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(relu, {
    if (d) d[0] = x[0] > 0 ? 1.0 : 0.0;
    return x[0] > 0 ? x[0] : 0.0;
})

static double relu_branch(const double *x) { return x[0]; }

static tg_var relu_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_step(x[0]));
}

TG_EVAL_ROW(relu, 1)

const tg_op_def tg_op_relu = {.name = "relu", .arity = 1,
                              .math = "y = max(x,0); dy/dx = x > 0 ? 1 : 0 (relu'(0) = 0)",
                              .eval = relu_eval, .code = relu_code,
                              .eval_row = relu_row,
                              .branch = relu_branch, .vjp_graph = relu_vjp_graph};

tg_var tg_relu(tg_var x) { return tg_apply1(&tg_op_relu, x); }
