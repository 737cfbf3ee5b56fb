/* normpdf_d1: y = phi'(x) = -x phi(x).  dy/dx = phi''(x) = (x^2 - 1) phi(x), x^2 - 1 by one
 * fma (exact to the last bit at its roots +-1).  Both by tg_normal_mix: to a few ULP, and
 * right where phi(x) alone is below the normal range; 0 where they leave it.
 * A primitive so that normpdf's and normcdf's reverse rules keep their digits.
 * Reverse rule as nodes: gx = gy*normpdf_d2(x). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(normpdf_d1, {
    if (d) d[0] = tg_normal_mix(x[0], 0.0, fma(x[0], x[0], -1.0));
    return tg_normal_mix(x[0], 0.0, -x[0]);
})

static tg_var normpdf_d1_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_normpdf_d2(x[0]));
}

TG_EVAL_ROW(normpdf_d1, 1)

const tg_op_def tg_op_normpdf_d1 = {.name = "normpdf_d1", .arity = 1,
                                    .math = "y = -x phi(x); dy/dx = (x^2 - 1) phi(x)",
                                    .eval = normpdf_d1_eval, .code = normpdf_d1_code,
                                    .eval_row = normpdf_d1_row,
                                    .vjp_graph = normpdf_d1_vjp_graph};

tg_var tg_normpdf_d1(tg_var x) { return tg_apply1(&tg_op_normpdf_d1, x); }
