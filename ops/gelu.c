/* gelu: y = x*Phi(x), the exact form (not the tanh approximation).
 * dy/dx = Phi(x) + x*phi(x), phi(x) = e^(-x^2/2)/sqrt(2 pi).
 * Reverse rule as nodes: gx = gy*(normcdf(x) + x*phi(x)). See LICENSE. */
#include "internal.h"

static double gelu_eval(const double *x, double *d)
{
    double phi, cdf = tg_op_normcdf.eval(x, &phi);
    if (d) d[0] = cdf + x[0] * phi;
    return x[0] * cdf;
}

static tg_var gelu_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    tg_var cdf = tg_normcdf(x[0]);
    tg_var phi = tg_op_normcdf.vjp_graph(x, cdf, tg_const_like(y, 1.0), i);
    return tg_mul(gy, tg_add(cdf, tg_mul(x[0], phi)));
}

const tg_op_def tg_op_gelu = {.name = "gelu", .arity = 1,
                              .math = "y = x*Phi(x); dy/dx = Phi(x) + x*phi(x)",
                              .eval = gelu_eval,
                              .vjp_graph = gelu_vjp_graph};

tg_var tg_gelu(tg_var x) { return tg_record1(&tg_op_gelu, gelu_eval, x); }
