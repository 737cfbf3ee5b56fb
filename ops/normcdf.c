/* normcdf: y = Phi(x) = erfc(-x/sqrt 2)/2, the standard normal CDF (erfc keeps the left
 * tail's digits; its argument's rounding is put back, and below x = -8 Phi is taken as phi
 * times Mills' ratio: tg_normal_mix).  dy/dx = phi(x) = e^(-x^2/2)/sqrt(2 pi).
 * 0 where they leave the normal range.  Reverse rule as nodes: gx = gy*normpdf(x). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(normcdf, {
    if (d) d[0] = tg_normal_mix(x[0], 0.0, 1.0);
    return tg_normal_mix(x[0], 1.0, 0.0);
})

static tg_var normcdf_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_normpdf(x[0]));
}

TG_EVAL_ROW(normcdf, 1)

const tg_op_def tg_op_normcdf = {.name = "normcdf", .arity = 1,
                                 .math = "y = Phi(x); dy/dx = e^(-x^2/2)/sqrt(2 pi)",
                                 .eval = normcdf_eval, .code = normcdf_code,
                                 .eval_row = normcdf_row,
                                 .vjp_graph = normcdf_vjp_graph};

tg_var tg_normcdf(tg_var x) { return tg_apply1(&tg_op_normcdf, x); }
