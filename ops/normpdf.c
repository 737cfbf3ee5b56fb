/* normpdf: y = phi(x) = e^(-x^2/2)/sqrt(2 pi), the standard normal density.
 * dy/dx = -x*phi(x) (normpdf_d1's value).  x^2 is formed exactly inside the kernel
 * (tg_normal_mix), so no digit is lost to its rounding (e^(-x^2/2) with x^2 rounded is 500
 * ULP off at x = 38) and no node overflows for huge |x|; 0 where y leaves the normal range.
 * Reverse rule as nodes: gx = gy*normpdf_d1(x), not -x*y: where y is below the normal range,
 * x*y may not be. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(normpdf, {
    if (d) d[0] = tg_normal_mix(x[0], 0.0, -x[0]);
    return tg_normal_mix(x[0], 0.0, 1.0);
})

static tg_var normpdf_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_normpdf_d1(x[0]));
}

TG_EVAL_ROW(normpdf, 1)

const tg_op_def tg_op_normpdf = {.name = "normpdf", .arity = 1,
                                 .math = "y = e^(-x^2/2)/sqrt(2 pi); dy/dx = -x*y",
                                 .eval = normpdf_eval, .code = normpdf_code,
                                 .eval_row = normpdf_row,
                                 .vjp_graph = normpdf_vjp_graph};

tg_var tg_normpdf(tg_var x) { return tg_apply1(&tg_op_normpdf, x); }
