/* normcdf: y = Phi(x) = erfc(-x/sqrt 2)/2, the standard normal CDF (erfc keeps the left
 * tail's digits).  dy/dx = phi(x) = e^(-x^2/2)/sqrt(2 pi).
 * Reverse rule as nodes: gx = gy*normpdf(x). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

#define INV_SQRT_2PI 0.39894228040143267794
#define INV_SQRT_2 0.70710678118654752440

TG_EVAL(normcdf, {
    if (d) d[0] = INV_SQRT_2PI * exp(-0.5 * x[0] * x[0]);
    return 0.5 * erfc(-x[0] * INV_SQRT_2);
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
