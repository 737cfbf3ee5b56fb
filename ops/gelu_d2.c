/* gelu_d2: y = gelu''(x) = (2 - x^2) phi(x), phi(x) = e^(-x^2/2)/sqrt(2 pi); 2 - x^2 by one
 * fma (exact to the last bit at its roots +-sqrt 2), the product by tg_normal_mix.
 * dy/dx = gelu'''(x) = x (x^2 - 4) phi(x).  0 where they leave the normal range.
 * A primitive so that gelu_d1's reverse rule (gelu'' from tg_diff twice) keeps its digits.
 * Reverse rule as nodes: gx = gy*(-x gelu_d2(x) + 2 normpdf_d1(x)) (= gelu''': no node forms
 * x^2, so none overflows). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(gelu_d2, {
    if (d) d[0] = tg_normal_mix(x[0], 0.0, x[0] * fma(x[0], x[0], -4.0));
    return tg_normal_mix(x[0], 0.0, fma(-x[0], x[0], 2.0));
})

static tg_var gelu_d2_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var a = tg_neg(tg_mul(x[0], y));
    tg_var b = tg_mul(tg_const_like(y, 2.0), tg_normpdf_d1(x[0]));
    return tg_mul(gy, tg_add(a, b));
}

TG_EVAL_ROW(gelu_d2, 1)

const tg_op_def tg_op_gelu_d2 = {.name = "gelu_d2", .arity = 1,
                                 .math = "y = gelu''(x) = (2 - x^2) phi(x);"
                                         " dy/dx = x(x^2 - 4) phi(x)",
                                 .eval = gelu_d2_eval, .code = gelu_d2_code,
                                 .eval_row = gelu_d2_row,
                                 .vjp_graph = gelu_d2_vjp_graph};

tg_var tg_gelu_d2(tg_var x) { return tg_apply1(&tg_op_gelu_d2, x); }
