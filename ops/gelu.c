/* gelu: y = x*Phi(x), the exact form (not the tanh approximation).
 * dy/dx = Phi(x) + x*phi(x), phi(x) = e^(-x^2/2)/sqrt(2 pi).
 * Reverse rule as nodes: gx = gy*(normcdf(x) + x*phi(x)). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

#define INV_SQRT_2PI 0.39894228040143267794

static double gelu_eval(const double *x) { return x[0] * tg_op_normcdf.eval(x); }

static void gelu_partials(const double *x, double y, double *d)
{
    double phi;
    tg_op_normcdf.partials(x, y, &phi);
    d[0] = tg_op_normcdf.eval(x) + x[0] * phi;
}

static tg_var gelu_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var phi = tg_mul(tg_const_like(y, INV_SQRT_2PI),
                        tg_exp(tg_mul(tg_const_like(y, -0.5), tg_mul(x[0], x[0]))));
    return tg_mul(gy, tg_add(tg_normcdf(x[0]), tg_mul(x[0], phi)));
}

const tg_op_def tg_op_gelu = {.name = "gelu", .arity = 1,
                              .math = "y = x*Phi(x); dy/dx = Phi(x) + x*phi(x)",
                              .eval = gelu_eval, .partials = gelu_partials,
                              .vjp_graph = gelu_vjp_graph};

tg_var tg_gelu(tg_var x) { return tg_apply1(&tg_op_gelu, x); }
