/* abs: y = |x|.  dy/dx = sign(x); at the kink x = 0 we take abs'(0) = 0 (the subgradient
 * in the middle, as PyTorch does).  Branch quantity: x.
 * Reverse rule as nodes: gx = gy*(step(x) - step(-x)). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(abs, {
    if (d) d[0] = (x[0] > 0) - (x[0] < 0);
    return fabs(x[0]);
})

static double abs_branch(const double *x) { return x[0]; }

static tg_var abs_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_sub(tg_step(x[0]), tg_step(tg_neg(x[0]))));
}

TG_EVAL_ROW(abs, 1)

const tg_op_def tg_op_abs = {.name = "abs", .arity = 1,
                             .math = "y = |x|; dy/dx = sign(x) (abs'(0) = 0)",
                             .eval = abs_eval, .code = abs_code,
                             .eval_row = abs_row, .branch = abs_branch,
                             .vjp_graph = abs_vjp_graph};

tg_var tg_abs(tg_var x) { return tg_apply1(&tg_op_abs, x); }
