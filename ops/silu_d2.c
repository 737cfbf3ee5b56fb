/* silu_d2: y = silu''(x) = s'(x) (2 - x tanh(x/2)), s' = sigmoid' (even), formed so that it
 * keeps its digits: with a = |x| and e = e^-a,
 *   y = e M/(1 + e)^3,  M = 2 - a + (2 + a) e
 * and near the root r = 2.39936 of M, with d = a - r (r carried in two parts), since
 * 2 - r + (2 + r) e^-r = 0,
 *   M = -d + (r - 2) expm1(-d) + d e                      (no cancellation)
 * Past |x| = 708, y = ((2 - a) h) h with h = e^(-a/2); 0 where y leaves the normal range.
 * dy/dx = silu'''(x) = 3 s'' + x s''', plainly (third order is not held to the ULP bounds).
 * A primitive so that silu_d1's reverse rule (silu'' from tg_diff twice) keeps its digits.
 * Reverse rule as nodes: gx = gy*(3 s'' + x s'''), s'' = -s' tanh(x/2), s''' = s'(1 - 6 s'),
 * s' = sigmoid_d1(x).  The root's constants: tests/accuracy/gen_reference.py --constants.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

#define R_HI 2.3993572805154675
#define R_LO 1.8464872855353363e-16
#define R_MINUS_2 0.39935728051546765

TG_EVAL(silu_d2, {
    double a = fabs(x[0]);
    if (isnan(a)) {
        if (d) d[0] = a;
        return a;
    }
    if (a > 708.0) { /* s' = s''' = e^-a and s'' = -sign(x) e^-a to the last bit */
        double h = exp(-0.5 * a), d3 = x[0] < 0 ? 3.0 - a : a - 3.0;
        if (d) d[0] = h == 0.0 ? 0.0 : tg_flush_subnormal((d3 * h) * h);
        return h == 0.0 ? -0.0 : tg_flush_subnormal(((2.0 - a) * h) * h);
    }
    if (d) d[0] = 3.0 * tg_sigmoid_deriv(x[0], 2, 0) + x[0] * tg_sigmoid_deriv(x[0], 3, 0);
    double e = exp(-a), m;
    if (a > 1.5 && a < 3.5) {
        double dx = (a - R_HI) - R_LO; /* a - R_HI is exact here (Sterbenz) */
        m = fma(R_MINUS_2, expm1(-dx), fma(dx, e, -dx));
    } else {
        m = fma(2.0 + a, e, 2.0 - a);
    }
    return tg_flush_subnormal(tg_div_one_plus(e * m, e, 3));
})

static tg_var silu_d2_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var s1 = tg_sigmoid_d1(x[0]);
    tg_var s2 = tg_neg(tg_mul(s1, tg_tanh(tg_mul(x[0], tg_const_like(y, 0.5)))));
    tg_var s3 = tg_mul(s1, tg_sub(tg_const_like(y, 1.0), tg_mul(tg_const_like(y, 6.0), s1)));
    return tg_mul(gy, tg_add(tg_mul(tg_const_like(y, 3.0), s2), tg_mul(x[0], s3)));
}

TG_EVAL_ROW(silu_d2, 1)

const tg_op_def tg_op_silu_d2 = {.name = "silu_d2", .arity = 1,
                                 .math = "y = silu''(x) = s'(2 - x tanh(x/2));"
                                         " dy/dx = 3s'' + x s'''",
                                 .eval = silu_d2_eval, .code = silu_d2_code,
                                 .eval_row = silu_d2_row,
                                 .vjp_graph = silu_d2_vjp_graph};

tg_var tg_silu_d2(tg_var x) { return tg_apply1(&tg_op_silu_d2, x); }
