/* erf: y = erf x = (2/sqrt(pi)) int_0^x e^(-t^2) dt, through C's erf.
 * dy/dx = (2/sqrt(pi)) e^(-x^2) (erf_d1's value, by tg_exp_neg_square: x^2 is formed exactly
 * and nothing underflows on the way, so it keeps its digits, where e^(-x^2) of a rounded x^2
 * is 113 ULP off at x = 25.9; 0 from |x| = 26.6, where it leaves the normal range).
 * Reverse rule as nodes: gx = gy*erf_d1(x), an op whose own derivative keeps its digits too.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

#define TWO_OVER_SQRT_PI 1.12837916709551257390

TG_EVAL(erf, {
    if (d) d[0] = tg_exp_neg_square(x[0], TWO_OVER_SQRT_PI);
    return erf(x[0]);
})

static tg_var erf_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_erf_d1(x[0]));
}

TG_EVAL_ROW(erf, 1)

const tg_op_def tg_op_erf = {.name = "erf", .arity = 1,
                             .math = "y = erf x; dy/dx = 2/sqrt(pi) e^(-x^2)",
                             .eval = erf_eval, .code = erf_code,
                             .eval_row = erf_row,
                             .vjp_graph = erf_vjp_graph};

tg_var tg_erf(tg_var x) { return tg_apply1(&tg_op_erf, x); }
