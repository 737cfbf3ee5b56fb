/* normpdf_d2: y = phi''(x) = (x^2 - 1) phi(x), x^2 - 1 by one fma.  dy/dx = phi'''(x) =
 * x (3 - x^2) phi(x).  Both by tg_normal_mix (a few ULP; 0 below the normal range).
 * A primitive so that normpdf_d1's reverse rule (phi'' from tg_diff twice, Phi''' of normcdf)
 * keeps its digits.  Reverse rule as nodes: gx = gy*(-x normpdf_d2(x) - 2 normpdf_d1(x))
 * (= phi''': no node forms x^2, so none overflows). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(normpdf_d2, {
    if (d) d[0] = tg_normal_mix(x[0], 0.0, x[0] * fma(-x[0], x[0], 3.0));
    return tg_normal_mix(x[0], 0.0, fma(x[0], x[0], -1.0));
})

static tg_var normpdf_d2_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var a = tg_neg(tg_mul(x[0], y));
    tg_var b = tg_mul(tg_const_like(y, 2.0), tg_normpdf_d1(x[0]));
    return tg_mul(gy, tg_sub(a, b));
}

TG_EVAL_ROW(normpdf_d2, 1)

const tg_op_def tg_op_normpdf_d2 = {.name = "normpdf_d2", .arity = 1,
                                    .math = "y = (x^2 - 1) phi(x); dy/dx = x(3 - x^2) phi(x)",
                                    .eval = normpdf_d2_eval, .code = normpdf_d2_code,
                                    .eval_row = normpdf_d2_row,
                                    .vjp_graph = normpdf_d2_vjp_graph};

tg_var tg_normpdf_d2(tg_var x) { return tg_apply1(&tg_op_normpdf_d2, x); }
