/* step: y = x > 0 ? 1 : 0 (Heaviside, with step(0) = 0).  dy/dx = 0 away from the jump at 0,
 * taken as 0 there too.  A primitive because the reverse rules of relu, abs and leaky_relu
 * need their piece selector as a node.  Reverse rule as nodes: gx = 0. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(step, {
    if (d) d[0] = 0.0;
    return x[0] > 0 ? 1.0 : 0.0;
})

static double step_branch(const double *x) { return x[0]; }

static tg_var step_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)gy, (void)i;
    return tg_const_like(y, 0.0);
}

TG_EVAL_ROW(step, 1)

const tg_op_def tg_op_step = {.name = "step", .arity = 1,
                              .math = "y = x > 0 ? 1 : 0; dy/dx = 0 (jump at 0, step(0) = 0)",
                              .eval = step_eval, .code = step_code,
                              .eval_row = step_row,
                              .branch = step_branch, .vjp_graph = step_vjp_graph};

tg_var tg_step(tg_var x) { return tg_apply1(&tg_op_step, x); }
