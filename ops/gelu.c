/* gelu: y = x*Phi(x), the exact form (not the tanh approximation).
 * dy/dx = Phi(x) + x*phi(x), phi(x) = e^(-x^2/2)/sqrt(2 pi).
 * Reverse rule as nodes: gx = gy*(normcdf(x) + x*normpdf(x)); normpdf squares x inside its
 * kernel, so no node overflows at |x| > 1.3e154 (anomaly mode stays quiet). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(gelu, {
    double phi, cdf = tg_op_normcdf.eval(x, &phi);
    if (d) d[0] = cdf + x[0] * phi;
    return x[0] * cdf;
})

static tg_var gelu_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_add(tg_normcdf(x[0]), tg_mul(x[0], tg_normpdf(x[0]))));
}

TG_EVAL_ROW(gelu, 1)

const tg_op_def tg_op_gelu = {.name = "gelu", .arity = 1,
                              .math = "y = x*Phi(x); dy/dx = Phi(x) + x*phi(x)",
                              .eval = gelu_eval, .code = gelu_code,
                              .eval_row = gelu_row,
                              .vjp_graph = gelu_vjp_graph};

tg_var tg_gelu(tg_var x) { return tg_apply1(&tg_op_gelu, x); }
