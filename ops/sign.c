/* sign: y = -1, 0 or 1 as x < 0, x = 0 (either zero) or x > 0; sign(NaN) = 0 (as PyTorch's
 * torch.sign, and as abs's partial here).  dy/dx = 0 away from the jump at 0, taken as 0
 * there too.  Branch quantity: x, so tg_replay notes a change of sign and the gradient check
 * calls a step across 0 a kink.
 * Reverse rule as nodes: gx = 0. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(sign, {
    if (d) d[0] = 0.0;
    return (x[0] > 0) - (x[0] < 0);
})

static double sign_branch(const double *x) { return x[0]; }

static tg_var sign_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)gy, (void)i;
    return tg_const_like(y, 0.0);
}

TG_EVAL_ROW(sign, 1)

const tg_op_def tg_op_sign = {.name = "sign", .arity = 1,
                              .math = "y = x > 0 ? 1 : x < 0 ? -1 : 0; dy/dx = 0 (jump at 0)",
                              .eval = sign_eval, .code = sign_code,
                              .eval_row = sign_row,
                              .branch = sign_branch, .vjp_graph = sign_vjp_graph};

tg_var tg_sign(tg_var x) { return tg_apply1(&tg_op_sign, x); }
