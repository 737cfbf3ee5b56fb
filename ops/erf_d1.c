/* erf_d1: y = erf'(x) = (2/sqrt(pi)) e^(-x^2) (even).  dy/dx = erf''(x) = -2x y.  Both by
 * tg_exp_neg_square, which forms x^2 exactly and never underflows on the way, so they keep
 * their digits at every x (e^(-x^2) of a rounded x^2 is 100 ULP off at x = 26) and are 0
 * where they leave the normal range (|x| past 26.6).
 * A primitive so that erf's reverse rule, and so its second derivative, keep their digits.
 * Reverse rule as nodes: gx = gy*erf_d2(x). See LICENSE. */
#include "tapegrad_op.h"

#define TWO_OVER_SQRT_PI 1.12837916709551257390

TG_EVAL(erf_d1, {
    if (d) d[0] = tg_exp_neg_square(x[0], -2.0 * x[0] * TWO_OVER_SQRT_PI);
    return tg_exp_neg_square(x[0], TWO_OVER_SQRT_PI);
})

static tg_var erf_d1_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_erf_d2(x[0]));
}

TG_EVAL_ROW(erf_d1, 1)

const tg_op_def tg_op_erf_d1 = {.name = "erf_d1", .arity = 1,
                                .math = "y = erf'(x) = 2/sqrt(pi) e^(-x^2); dy/dx = -2x y",
                                .eval = erf_d1_eval, .code = erf_d1_code,
                                .eval_row = erf_d1_row,
                                .vjp_graph = erf_d1_vjp_graph};

tg_var tg_erf_d1(tg_var x) { return tg_apply1(&tg_op_erf_d1, x); }
