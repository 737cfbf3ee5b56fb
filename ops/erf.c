/* erf: y = erf x = (2/sqrt(pi)) int_0^x e^(-t^2) dt, through C's erf.
 * dy/dx = (2/sqrt(pi)) e^(-x^2).  The kernel splits x^2 exactly as h + l (h = x*x rounded,
 * l = fma(x, x, -h)) and takes e^(-x^2) = e^(-h) (1 - l): e^(-h) alone is off by |l|
 * relatively, up to 5.7e-14 near |x| = 26 (113 ulps at x = 25.9).  The partial is 0 from
 * |x| ~ 27.3, where the exact value leaves the doubles.  d2y/dx2 = -2x dy/dx.
 * The rule writes dy/dx = (c phi(x))^2 with phi = normpdf and c = 2 pi^(1/4) (so c^2 phi^2 =
 * 4 sqrt(pi) e^(-x^2)/(2 pi)): normpdf squares x inside its kernel, so no node overflows
 * for huge |x|, and its own rule (phi' = -x phi) gives the second derivative; the rule is as
 * accurate as normpdf (a few ulps more), so it keeps the digits once normpdf's kernel does.
 * Reverse rule as nodes: gx = gy*(c*normpdf(x))^2. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

#define TWO_OVER_SQRT_PI 1.12837916709551257390
#define TWO_PI_QUARTER 2.66267072760077942560 /* 2 pi^(1/4) */

TG_EVAL(erf, {
    if (d) {
        double h = x[0] * x[0];
        /* above 746, e^(-h) is 0 and fma(x, x, -Inf) could be -Inf: 0*Inf */
        d[0] = h > 746.0 ? 0.0 : TWO_OVER_SQRT_PI * (exp(-h) * (1.0 - fma(x[0], x[0], -h)));
    }
    return erf(x[0]);
})

static tg_var erf_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var a = tg_mul(tg_const_like(y, TWO_PI_QUARTER), tg_normpdf(x[0]));
    return tg_mul(gy, tg_mul(a, a));
}

TG_EVAL_ROW(erf, 1)

const tg_op_def tg_op_erf = {.name = "erf", .arity = 1,
                             .math = "y = erf x; dy/dx = 2/sqrt(pi) e^(-x^2)",
                             .eval = erf_eval, .code = erf_code,
                             .eval_row = erf_row,
                             .vjp_graph = erf_vjp_graph};

tg_var tg_erf(tg_var x) { return tg_apply1(&tg_op_erf, x); }
