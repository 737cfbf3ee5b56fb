/* normpdf: y = phi(x) = e^(-x^2/2)/sqrt(2 pi), the standard normal density.
 * dy/dx = -x*phi(x).
 * Reverse rule as nodes: gx = gy*(-(x*y)) (reuses the output). The square of x is formed
 * only inside the kernel, so no node overflows: for |x| > 1.3e154 it is inf there, y is 0,
 * and the rule's x*y is 0 (gelu's and normcdf's rules use this op for that). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

#define INV_SQRT_2PI 0.39894228040143267794

TG_EVAL(normpdf, {
    double y = INV_SQRT_2PI * exp(-0.5 * x[0] * x[0]);
    if (d) d[0] = -x[0] * y;
    return y;
})

static tg_var normpdf_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    return tg_mul(gy, tg_neg(tg_mul(x[0], y)));
}

TG_EVAL_ROW(normpdf, 1)

const tg_op_def tg_op_normpdf = {.name = "normpdf", .arity = 1,
                                 .math = "y = e^(-x^2/2)/sqrt(2 pi); dy/dx = -x*y",
                                 .eval = normpdf_eval, .code = normpdf_code,
                                 .eval_row = normpdf_row,
                                 .vjp_graph = normpdf_vjp_graph};

tg_var tg_normpdf(tg_var x) { return tg_apply1(&tg_op_normpdf, x); }
