/* test_logits.c - the ops on logits, by closed form: softmax and log_softmax along any axis
 * against a long double reference, and exact at logits of +-1e308. The registry walkers
 * check the same ops against finite differences, forward mode and their recorded rules; the
 * exact error messages are in test_tensor_ops.c. See LICENSE. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

#define LN2 0.693147180559945309417232121458176568

/* ---- references in long double: x is n entries, step apart ---- */

static long double ref_max(const double *x, size_t n, size_t step)
{
    long double m = x[0];
    for (size_t k = 1; k < n; k++)
        if (x[k * step] > m) m = x[k * step];
    return m;
}

/* ln sum e^x = m + ln(1 + r), r = the sum over the entries other than the (first) max, so
 * that a tiny r keeps its digits in long double too */
static long double ref_lse(const double *x, size_t n, size_t step)
{
    long double m = ref_max(x, n, step), r = 0;
    size_t a = 0;
    while (x[a * step] != m) a++;
    for (size_t k = 0; k < n; k++)
        if (k != a) r += expl((long double)x[k * step] - m);
    return m + log1pl(r);
}

/* |a - b| within ulps units in the last place of b (a double); exact for 0 and infinities */
static int within_ulps(double a, double b, double ulps)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (a == b) return 1;
    if (isinf(a) || isinf(b)) return 0;
    double ulp = nextafter(fabs(b), INFINITY) - fabs(b);
    return fabs(a - b) <= ulps * ulp;
}

/* The run along axis through element e of a tensor of shape sh (rank r): its first element
 * and its stride; *len its length. */
static size_t run_start(const int *sh, int r, int axis, size_t e, size_t *step, size_t *len)
{
    size_t inner = 1;
    for (int d = axis + 1; d < r; d++) inner *= (size_t)sh[d];
    *step = inner;
    *len = (size_t)sh[axis];
    size_t k = (e / inner) % *len;
    return e - k * inner;
}

/* ---- softmax and log_softmax along any axis ---- */

Test(logits, softmax_and_log_softmax_run_along_any_axis)
{
    int sh[3] = {2, 3, 4};
    double x[24];
    th_rng r = th_rng_new(31);
    for (int e = 0; e < 24; e++) x[e] = 4.0 * th_uniform(&r, -1.0, 1.0);
    tg_tape *t = tg_tape_new();
    tg_var v = tg_tensor_param(t, 3, sh, x);
    tg_var last = tg_softmax(v), llast = tg_log_softmax(v);
    for (int axis = -3; axis < 3; axis++) {
        int a = axis < 0 ? axis + 3 : axis;
        tg_var y = tg_softmax_axis(v, axis), ly = tg_log_softmax_axis(v, axis);
        cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
        int ys[4];
        cr_expect_eq(tg_shape(y, ys), 3);
        cr_expect(ys[0] == 2 && ys[1] == 3 && ys[2] == 4, "axis %d: shape changed", axis);
        const double *p = tg_data(y), *lp = tg_data(ly);
        for (size_t e = 0; e < 24; e++) {
            size_t step, len, s0 = run_start(sh, 3, a, e, &step, &len);
            long double m = ref_max(x + s0, len, step), lse = ref_lse(x + s0, len, step);
            double want = (double)expl((long double)x[e] - lse);
            double lwant = (double)(((long double)x[e] - m) - (lse - m));
            cr_expect(within_ulps(p[e], want, 4), "softmax axis %d [%zu]: %.17g, reference "
                      "%.17g", axis, e, p[e], want);
            cr_expect(within_ulps(lp[e], lwant, 4), "log_softmax axis %d [%zu]: %.17g, "
                      "reference %.17g", axis, e, lp[e], lwant);
        }
        if (a == 2) { /* the last axis: the same bits as the builders without an axis */
            cr_expect(!memcmp(p, tg_data(last), sizeof x), "softmax axis %d differs from "
                      "tg_softmax", axis);
            cr_expect(!memcmp(lp, tg_data(llast), sizeof x), "log_softmax axis %d differs "
                      "from tg_log_softmax", axis);
        }
        /* the vector-Jacobian product: gx = y (g - sum_axis(g y)) and g - e^ly sum_axis(g) */
        double g[24];
        for (int e = 0; e < 24; e++) g[e] = th_uniform(&r, -1.0, 1.0);
        for (int which = 0; which < 2; which++) {
            cr_assert_eq(tg_backward_seed(which ? ly : y, g), TG_OK, "%s", tg_tape_error(t));
            const double *gx = tg_gradient_data(v);
            for (size_t e = 0; e < 24; e++) {
                size_t step, len, s0 = run_start(sh, 3, a, e, &step, &len);
                long double dot = 0, sum = 0, mag = 0, lse = ref_lse(x + s0, len, step);
                for (size_t k = 0; k < len; k++) {
                    long double pk = expl((long double)x[s0 + k * step] - lse);
                    dot += g[s0 + k * step] * pk;
                    sum += g[s0 + k * step];
                    mag += fabsl(g[s0 + k * step]);
                }
                long double pe = expl((long double)x[e] - lse);
                double want = which ? (double)(g[e] - pe * sum) : (double)(pe * (g[e] - dot));
                /* g - <g, p> cancels: the error is relative to the terms, not to the result */
                double scale = (double)(which ? fabsl(g[e]) + pe * mag : pe * (fabsl(g[e]) + mag));
                cr_expect(th_close(gx[e], want, 1e-15, 1e-15 * scale), "%s axis %d: gx[%zu] = "
                          "%.17g, reference %.17g", which ? "log_softmax" : "softmax", axis, e,
                          gx[e], want);
            }
        }
    }
    tg_tape_free(t);
}

Test(logits, softmax_along_axis_0_is_exact_at_logits_of_1e308)
{
    /* columns (1e308, 1e308) and (-1e308, 1e308): softmax [0.5, 0.5] and [0, 1] */
    int sh[2] = {2, 2};
    double x[4] = {1e308, -1e308, 1e308, 1e308};
    tg_tape *t = tg_tape_new();
    tg_var v = tg_tensor_param(t, 2, sh, x);
    tg_var y = tg_softmax_axis(v, 0), ly = tg_log_softmax_axis(v, -2);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    const double want[4] = {0.5, 0, 0.5, 1};
    const double lwant[4] = {-LN2, -INFINITY, -LN2, 0}; /* -2e308 rounds to -Inf */
    for (int e = 0; e < 4; e++) {
        cr_expect_eq(tg_data(y)[e], want[e], "softmax[%d] = %.17g, expected %g", e,
                     tg_data(y)[e], want[e]);
        cr_expect(within_ulps(tg_data(ly)[e], lwant[e], 1), "log_softmax[%d] = %.17g, "
                  "expected %.17g", e, tg_data(ly)[e], lwant[e]);
    }
    /* the gradient of y[0,0] + 2 y[1,1]: y (g - sum g y) per column, finite and exact */
    const double g[4] = {1, 0, 0, 2}, gwant[4] = {0.25, 0, -0.25, 0};
    cr_assert_eq(tg_backward_seed(y, g), TG_OK, "%s", tg_tape_error(t));
    for (int e = 0; e < 4; e++)
        cr_expect_eq(tg_gradient_data(v)[e], gwant[e], "gx[%d] = %.17g, expected %g", e,
                     tg_gradient_data(v)[e], gwant[e]);
    tg_tape_free(t);
}
