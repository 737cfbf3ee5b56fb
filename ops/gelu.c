/* gelu: y = x*Phi(x), the exact form (not the tanh approximation).
 * dy/dx = Phi(x) + x*phi(x), phi(x) = e^(-x^2/2)/sqrt(2 pi) (gelu_d1's value).
 * Evaluated by tg_normal_mix, so x*Phi(x) keeps its digits where Phi(x) alone has left the
 * normal range (x near -38); 0 where y leaves it.  Reverse rule as nodes:
 * gx = gy*gelu_d1(x), an op whose own derivative keeps its digits too. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(gelu, {
    if (d) d[0] = tg_op_gelu_d1.eval(x, NULL);
    return tg_normal_mix(x[0], x[0], 0.0);
})

static tg_var gelu_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_gelu_d1(x[0]));
}

TG_EVAL_ROW(gelu, 1)

const tg_op_def tg_op_gelu = {.name = "gelu", .arity = 1,
                              .math = "y = x*Phi(x); dy/dx = Phi(x) + x*phi(x)",
                              .eval = gelu_eval, .code = gelu_code,
                              .eval_row = gelu_row,
                              .vjp_graph = gelu_vjp_graph};

tg_var tg_gelu(tg_var x) { return tg_apply1(&tg_op_gelu, x); }
