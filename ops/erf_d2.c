/* erf_d2: y = erf''(x) = -2x erf'(x) (odd), by tg_exp_neg_square: a few ULP at every x, 0
 * where it leaves the normal range (|x| past 26.7, a little after erf' does).
 * dy/dx = erf'''(x) = (4x^2 - 2) erf'(x), plainly (it cancels near its roots, x = +-0.7071:
 * third order is not held to the ULP bounds).
 * A primitive so that erf_d1's reverse rule (erf'' from tg_diff twice) keeps its digits.
 * Reverse rule as nodes: gx = gy*((4x^2 - 2) erf_d1(x)). See LICENSE. */
#include "tapegrad_op.h"

#define TWO_OVER_SQRT_PI 1.12837916709551257390

TG_EVAL(erf_d2, {
    if (d) d[0] = tg_exp_neg_square(x[0], (4.0 * x[0] * x[0] - 2.0) * TWO_OVER_SQRT_PI);
    return tg_exp_neg_square(x[0], -2.0 * x[0] * TWO_OVER_SQRT_PI);
})

static tg_var erf_d2_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var f = tg_sub(tg_mul(tg_const_like(y, 4.0), tg_mul(x[0], x[0])), tg_const_like(y, 2.0));
    return tg_mul(gy, tg_mul(f, tg_erf_d1(x[0])));
}

TG_EVAL_ROW(erf_d2, 1)

const tg_op_def tg_op_erf_d2 = {.name = "erf_d2", .arity = 1,
                                .math = "y = erf''(x) = -2x erf'(x); dy/dx = (4x^2 - 2) erf'(x)",
                                .eval = erf_d2_eval, .code = erf_d2_code,
                                .eval_row = erf_d2_row,
                                .vjp_graph = erf_d2_vjp_graph};

tg_var tg_erf_d2(tg_var x) { return tg_apply1(&tg_op_erf_d2, x); }
