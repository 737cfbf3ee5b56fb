/* special.c - numerical kernels the ops share, declared in tapegrad_op.h for every op author:
 * the derivatives of the logistic sigmoid (sigmoid, tanh, softplus, silu and their derivative
 * ops are built on them) and the standard normal density and CDF combined, p*Phi(x) +
 * q*phi(x) (normpdf, normcdf, gelu and theirs), each to a few ULP and with no intermediate
 * underflow. Each is defined by KERNEL, which keeps its text too: the tape compiler writes
 * the kernels an op's code calls into the code it generates (tg_kernels). See LICENSE. */
#include <math.h>

#include "internal.h"

/* Defines a kernel, and NAME_text: the same definition as C text, its macros expanded. */
#define KERNEL(NAME, SIG, ...)                                                                \
    SIG __VA_ARGS__ static const char NAME##_text[] = TG_EVAL_TEXT_(SIG __VA_ARGS__);
#define TEXT(SIG, ...) TG_EVAL_TEXT_(SIG __VA_ARGS__)

/* ln 2 in two parts (fdlibm's split: LN2_HI has 21 trailing zero bits, so k * LN2_HI is exact
 * for |k| < 2^21) */
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
/* 1/sqrt(2 pi), 1/sqrt 2 and 2/sqrt(pi), each as a double and the rest */
#define RSQRT2PI_HI 0.3989422804014327
#define RSQRT2PI_LO -2.49232720227773e-17
#define RSQRT2_HI 0.7071067811865476
#define RSQRT2_LO -4.833646656726457e-17
#define TWO_RSQRTPI 1.1283791670955126

/* Where Phi's left tail is taken from the density and Mills' ratio instead of erfc, and how
 * many terms of Laplace's continued fraction that takes (below 0.3 ULP from x = -8 down). */
#define TAIL 8.0
#define CF_TERMS 28

/* ---- the logistic sigmoid ---- */

KERNEL(tg_sigmoid_deriv, double tg_sigmoid_deriv(double x, int n, int s), {
    if (isnan(x)) return x;
    double a = fabs(x), r;
    if (a > 708.0) {
        /* e = e^-a is at or below the normal range: 1 + e and 1 - e are 1, every derivative
         * is +-e, formed as (2^s h) h with h = e^(-a/2) so that it is rounded once */
        double h = exp(-0.5 * a);
        r = (h * (double)(1 << s)) * h; /* 2^s h is exact */
        if (n == 2 && x > 0) r = -r;
        return tg_flush_subnormal(r);
    }
    double e = exp(-a);
    double d1 = tg_div_one_plus(e, e, 2); /* s' = e/(1 + e)^2 */
    if (n == 1)
        r = d1;
    else if (n == 2) /* s'' = s' (1 - 2 s(|x|)) sign(x) = sign(x) e expm1(-a)/(1 + e)^3 */
        r = (x < 0 ? -1.0 : 1.0) * tg_div_one_plus(e * expm1(-a), e, 3);
    else /* s''' = s' (1 - 6 s'), plainly (it cancels near x = +-1.317) */
        r = d1 * (1.0 - 6.0 * d1);
    return tg_flush_subnormal(r * (double)(1 << s)); /* exact: r is far from both ends */
})

/* ---- the standard normal distribution ---- */

/* e^(-x^2/2) = g * 2^-k. x^2 is formed exactly as hi + lo (fma), so the exponent -hi/2 is
 * exact and e^(-lo/2) corrects the rest (to second order: its exponent is below 2e-7 in
 * magnitude): an exponent rounded once would cost up to x^2/2
 * ULP (500 at x = 38). Where e^(-hi/2) would leave the normal range, it is taken as
 * e^(1024 LN2_HI - hi/2) e^(1024 LN2_LO) with k = 1024: for hi/2 in [700, 1100] that first
 * exponent is exact (both terms are multiples of 2^-43, the sum below 512), the second joins
 * the correction. Beyond x^2/2 = 1100 the density is below 1e-477 and g is 0. x must not be
 * NaN. */
KERNEL(tg_gauss, static double tg_gauss(double x, int *k), {
    double hi = x * x, a = 0.5 * hi, c = -0.5 * fma(x, x, -hi);
    *k = 0;
    if (!(a <= 1100.0)) return 0.0;
    double e;
    if (a < 700.0) {
        e = exp(-a);
    } else {
        e = exp(1024 * LN2_HI - a);
        c += 1024 * LN2_LO;
        *k = 1024;
    }
    return fma(e, c + 0.5 * c * c, e); /* e^c - 1 to 1e-21: |c| < 2e-7 */
})

/* v/sqrt(2 pi) * 2^-k with one rounding for the constant. */
KERNEL(tg_density, static double tg_density(double v, int k), {
    double r = fma(v, RSQRT2PI_HI, v * RSQRT2PI_LO);
    return k ? ldexp(r, -k) : r;
})

/* Phi(x) for x >= -TAIL: erfc(-x/sqrt 2)/2, with the argument's rounding error z_lo put back
 * to first order (erfc'(z) = -2/sqrt(pi) e^(-z^2), g = e^(-x^2/2) = e^(-z^2) to far more than
 * the correction needs): erfc's relative error is 2 z^2 times its argument's, 70 ULP at x = -8
 * if -x/sqrt 2 is merely rounded. */
KERNEL(tg_cdf_mid, static double tg_cdf_mid(double x, double g), {
    if (x > 40.0) return 1.0; /* 1 - 4e-350, and the steps below would meet inf - inf */
    double zh = -x * RSQRT2_HI, zl = fma(-x, RSQRT2_HI, -zh) + -x * RSQRT2_LO;
    return 0.5 * (erfc(zh) - zl * TWO_RSQRTPI * g);
})

KERNEL(tg_normal_mix, double tg_normal_mix(double x, double p, double q), {
    if (isnan(x) || isnan(p) || isnan(q)) return x + p + q;
    int k;
    if (x < -TAIL) {
        /* Phi(x) = phi(x) R(-x), R Mills' ratio 1/(t + 1/(t + 2/(t + 3/(t + ...)))), so the
         * whole is phi(x) (p R + q), formed in the scaled range of gauss */
        double t = -x, f = t;
        for (int i = CF_TERMS; i >= 1 && p != 0.0; i--) f = t + i / f;
        double w = p / f + q, g = tg_gauss(x, &k);
        if (g == 0.0 || w == 0.0) return w < 0 ? -0.0 : 0.0;
        return tg_flush_subnormal(tg_density(g * w, k));
    }
    double g = tg_gauss(x, &k), r = p != 0.0 ? p * tg_cdf_mid(x, k ? 0.0 : g) : 0.0;
    if (q != 0.0 && g != 0.0) r += tg_density(g * q, k);
    return tg_flush_subnormal(r);
})

/* p e^(-x^2) as (g p) g with g = e^(-x^2/2) from tg_gauss: no intermediate underflow (g alone
 * is normal wherever the result is), three roundings beside g's. */
KERNEL(tg_exp_neg_square, double tg_exp_neg_square(double x, double p), {
    if (isnan(x) || isnan(p)) return x + p;
    int k;
    double g = tg_gauss(x, &k);
    if (k || g == 0.0 || p == 0.0) return p < 0 ? -0.0 : 0.0; /* below 1e-600 */
    return tg_flush_subnormal((g * p) * g);
})

const tg_kernel tg_kernels[] = {
    {"tg_flush_subnormal", TG_K_FLUSH_SUBNORMAL(TEXT)},
    {"tg_div_one_plus", TG_K_DIV_ONE_PLUS(TEXT)},
    {"tg_sigmoid_deriv", tg_sigmoid_deriv_text},
    {"tg_gauss", tg_gauss_text},
    {"tg_density", tg_density_text},
    {"tg_cdf_mid", tg_cdf_mid_text},
    {"tg_normal_mix", tg_normal_mix_text},
    {"tg_exp_neg_square", tg_exp_neg_square_text},
    {NULL, NULL},
};
_Static_assert(sizeof tg_kernels / sizeof *tg_kernels <= TG_MAX_KERNELS, "tg_kernels");
