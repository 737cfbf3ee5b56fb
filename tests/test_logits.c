/* test_logits.c - the ops on logits and labels, by closed form: softmax and log_softmax along
 * any axis against a long double reference, logsumexp (its value to the last digit, its
 * gradient softmax, exact at logits of +-1e308, its choice at -Inf, +Inf and NaN at first and
 * second order), and one_hot (its rows, cross-entropy as -sum(one_hot * log_softmax) / N,
 * replay of new labels). The registry walkers check the same ops against finite differences,
 * forward mode and their recorded rules; the exact error messages are in test_tensor_ops.c.
 * See LICENSE. */
#include <criterion/criterion.h>
#include <float.h>
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

/* The bound for a comparison with a long double reference: ulps where long double carries
 * more digits than double at run time; under valgrind, which computes long double at double
 * precision, the reference itself is only good to some dozens of ulps. */
static double ref_ulps(double ulps)
{
    volatile long double one = 1.0L, tiny = 0x1p-60L;
    return one + tiny != one ? ulps : 64 * ulps;
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

/* logsumexp's Hessian over the n entries of v, with p its gradient: diag(p) - p p^T. */
static void expect_softmax_hessian(tg_var y, tg_var v, int n, const double *p, double rtol,
                                   double atol, size_t c)
{
    double h[9];
    cr_assert_leq(n, 3);
    cr_assert_eq(tg_hessian(y, 1, &v, h), TG_OK, "%s", tg_tape_error(y.tape));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double hw = (i == j ? p[i] : 0) - p[i] * p[j];
            cr_expect(th_close(h[i * n + j], hw, rtol, atol), "case %zu: H[%d][%d] = %.17g, "
                      "expected %.17g", c, i, j, h[i * n + j], hw);
        }
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
            cr_expect(within_ulps(p[e], want, ref_ulps(4)), "softmax axis %d [%zu]: %.17g, "
                      "reference %.17g", axis, e, p[e], want);
            cr_expect(within_ulps(lp[e], lwant, ref_ulps(4)), "log_softmax axis %d [%zu]: %.17g, "
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
    /* a dominant entry keeps its digits: log_softmax([0, -700])[0] = -log1p(e^-700) */
    int two = 2;
    double far[2] = {0, -700};
    tg_var lf = tg_log_softmax_axis(tg_tensor_const(t, 1, &two, far), 0);
    cr_expect(within_ulps(tg_data(lf)[0], -9.8596765437597708e-305, 1), "log_softmax([0, -700])"
              "[0] = %.17g, expected -9.8596765437597708e-305", tg_data(lf)[0]);
    /* the gradient of y[0,0] + 2 y[1,1]: y (g - sum g y) per column, finite and exact */
    const double g[4] = {1, 0, 0, 2}, gwant[4] = {0.25, 0, -0.25, 0};
    cr_assert_eq(tg_backward_seed(y, g), TG_OK, "%s", tg_tape_error(t));
    for (int e = 0; e < 4; e++)
        cr_expect_eq(tg_gradient_data(v)[e], gwant[e], "gx[%d] = %.17g, expected %g", e,
                     tg_gradient_data(v)[e], gwant[e]);
    tg_tape_free(t);
}

/* ---- logsumexp ---- */

Test(logits, logsumexp_is_the_long_double_value_and_its_gradient_is_softmax_on_every_axis)
{
    int sh[3] = {3, 2, 4};
    static const double scales[] = {1.0, 30.0, 700.0};
    th_rng r = th_rng_new(2718);
    for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
        double x[24];
        for (int e = 0; e < 24; e++) x[e] = scales[si] * th_uniform(&r, -1.0, 1.0);
        tg_tape *t = tg_tape_new();
        tg_var v = tg_tensor_param(t, 3, sh, x);
        for (int axis = -3; axis < 3; axis++) {
            int a = axis < 0 ? axis + 3 : axis;
            for (int keep = 0; keep < 2; keep++) {
                tg_var y = tg_logsumexp(v, axis, keep), p = tg_softmax_axis(v, axis);
                cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
                int ys[4], rank = tg_shape(y, ys), k = 0;
                cr_expect_eq(rank, keep ? 3 : 2, "axis %d keepdims %d: rank %d", axis, keep,
                             rank);
                for (int d = 0; d < 3; d++)
                    if (d != a) cr_expect_eq(ys[k++], sh[d]);
                    else if (keep) cr_expect_eq(ys[k++], 1);
                /* values: each output element is its run's ln sum e^x */
                size_t inner = 1, ny = tg_numel(y);
                for (int d = a + 1; d < 3; d++) inner *= (size_t)sh[d];
                for (size_t o = 0; o < ny; o++) {
                    size_t s0 = (o / inner) * inner * (size_t)sh[a] + o % inner;
                    double want = (double)ref_lse(x + s0, (size_t)sh[a], inner);
                    cr_expect(within_ulps(tg_data(y)[o], want, ref_ulps(2)), "scale %g axis %d: "
                              "y[%zu] = %.17g, reference %.17g", scales[si], axis, o,
                              tg_data(y)[o], want);
                }
                /* the gradient of sum(y * w) is softmax * w along the axis */
                double w[24];
                for (size_t o = 0; o < ny; o++) w[o] = th_uniform(&r, -2.0, 2.0);
                cr_assert_eq(tg_backward_seed(y, w), TG_OK, "%s", tg_tape_error(t));
                for (size_t e = 0; e < 24; e++) {
                    size_t o = (e / (inner * (size_t)sh[a])) * inner + e % inner;
                    double want = tg_data(p)[e] * w[o];
                    cr_expect(th_close(tg_gradient_data(v)[e], want, 1e-15, 1e-300),
                              "scale %g axis %d keepdims %d: gx[%zu] = %.17g, softmax * w = "
                              "%.17g", scales[si], axis, keep, e, tg_gradient_data(v)[e], want);
                }
            }
        }
        tg_tape_free(t);
    }
}

/* Logits near the largest double: the result is the long double value rounded, the gradient
 * exact; where the max is 0 a tiny sum keeps its digits. */
Test(logits, logsumexp_is_exact_at_logits_of_1e308)
{
    static const struct {
        int n;
        double x[3], g[3];
    } cases[] = {
        {3, {1e308, 1e308, -1e308}, {0.5, 0.5, 0}},
        {2, {-1e308, -1e308}, {0.5, 0.5}},
        {2, {1e308, -1e308}, {1, 0}},
        {2, {DBL_MAX, DBL_MAX}, {0.5, 0.5}},
        {2, {-DBL_MAX, 0}, {0, 1}},
        {3, {1000, 1000, 1000}, {1.0 / 3, 1.0 / 3, 1.0 / 3}},
        {2, {600, 599}, {0.7310585786300049, 0.2689414213699951}}, /* not e^(x - y): 107 ulp */
        {2, {0, -40}, {1, 4.248354255291589e-18}}, /* y = log1p(e^-40), not 0 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tg_tape *t = tg_tape_new();
        int n = cases[c].n;
        tg_var v = tg_tensor_param(t, 1, &n, cases[c].x), y = tg_logsumexp(v, 0, 0);
        cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
        double want = (double)ref_lse(cases[c].x, (size_t)n, 1);
        cr_expect(isfinite(tg_value(y)) && within_ulps(tg_value(y), want, 1), "case %zu: y = "
                  "%.17g, reference %.17g", c, tg_value(y), want);
        cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
        double dx[3] = {1, 2, 3}, dwant = 0;
        for (int k = 0; k < n; k++) {
            cr_expect(within_ulps(tg_gradient_data(v)[k], cases[c].g[k], 1), "case %zu: dy/dx[%d]"
                      " = %.17g, expected %.17g", c, k, tg_gradient_data(v)[k], cases[c].g[k]);
            dwant += cases[c].g[k] * dx[k];
        }
        cr_assert_eq(tg_jvp(t, 1, &v, dx), TG_OK);
        cr_expect(within_ulps(tg_tangent(y), dwant, 2), "case %zu: tangent %.17g, expected "
                  "%.17g", c, tg_tangent(y), dwant);
        /* second order: diag(p) - p p^T, through the recorded rule */
        expect_softmax_hessian(y, v, n, cases[c].g, 1e-15, 1e-300, c);
        tg_tape_free(t);
    }
    /* the composition overflows where the op does not */
    tg_tape *t = tg_tape_new();
    int two = 2;
    double x[2] = {1000, 1000};
    tg_var v = tg_tensor_param(t, 1, &two, x);
    tg_var naive = tg_log(tg_sum(tg_exp(v))), lse = tg_logsumexp(v, -1, 0);
    cr_expect(isinf(tg_value(naive)), "log(sum(exp(x))) = %g at 1000", tg_value(naive));
    cr_expect(within_ulps(tg_value(lse), 1000 + LN2, 1), "logsumexp = %.17g",
              tg_value(lse));
    tg_tape_free(t);
}

/* At its special points logsumexp gives the documented value and, at first and second order
 * alike, NaN partials where the max is infinite (or a NaN is in the run), and exact ones
 * where only some entries are -Inf. */
Test(logits, logsumexp_special_points_agree_at_first_and_second_order)
{
    static const struct {
        int n;
        double x[3];
        double y;      /* the value */
        double g[3];   /* the gradient (NaN: undefined) */
    } cases[] = {
        {3, {-INFINITY, -INFINITY, -INFINITY}, -INFINITY, {NAN, NAN, NAN}},
        {1, {-INFINITY}, -INFINITY, {NAN}},
        {3, {INFINITY, 0, 1}, INFINITY, {NAN, NAN, NAN}},
        {2, {INFINITY, INFINITY}, INFINITY, {NAN, NAN}},
        {3, {INFINITY, NAN, 1}, NAN, {NAN, NAN, NAN}},
        {3, {NAN, 1, 2}, NAN, {NAN, NAN, NAN}},
        {3, {1, 2, NAN}, NAN, {NAN, NAN, NAN}},
        {3, {-INFINITY, 0, -INFINITY}, 0, {0, 1, 0}},
        {3, {-INFINITY, 0, 0}, LN2, {0, 0.5, 0.5}},
        {1, {-7.5}, -7.5, {1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tg_tape *t = tg_tape_new();
        int n = cases[c].n;
        tg_var v = tg_tensor_param(t, 1, &n, cases[c].x), y = tg_logsumexp(v, 0, 0);
        cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
        cr_expect(within_ulps(tg_value(y), cases[c].y, 1), "case %zu: y = %.17g, expected %g",
                  c, tg_value(y), cases[c].y);
        /* first order: reverse, forward, the recorded rule */
        cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
        double grad[3], dx[3] = {1, 1, 1};
        memcpy(grad, tg_gradient_data(v), (size_t)n * sizeof *grad);
        cr_assert_eq(tg_jvp(t, 1, &v, dx), TG_OK);
        double tangent = tg_tangent(y);
        tg_var d = tg_diff(y, v);
        cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
        double gsum = 0;
        for (int k = 0; k < n; k++) {
            cr_expect(th_close(grad[k], cases[c].g[k], 1e-16, 0), "case %zu: backward dy/dx[%d]"
                      " = %g, expected %g", c, k, grad[k], cases[c].g[k]);
            cr_expect(th_close(tg_data(d)[k], cases[c].g[k], 1e-16, 0), "case %zu: tg_diff "
                      "dy/dx[%d] = %g, expected %g", c, k, tg_data(d)[k], cases[c].g[k]);
            gsum += cases[c].g[k];
        }
        cr_expect(th_close(tangent, gsum, 1e-16, 0), "case %zu: tangent %g, expected %g", c,
                  tangent, gsum);
        /* second order: diag(p) - p p^T, NaN where p is */
        expect_softmax_hessian(y, v, n, cases[c].g, 1e-16, 0, c);
        tg_tape_free(t);
    }
}

/* ---- one_hot ---- */

Test(logits, one_hot_is_a_constant_with_a_one_at_each_label)
{
    static const int labels[4] = {2, 0, 4, 2};
    tg_tape *t = tg_tape_new();
    tg_var y = tg_one_hot(t, 4, labels, 5);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    int ys[4];
    cr_expect_eq(tg_shape(y, ys), 2);
    cr_expect(ys[0] == 4 && ys[1] == 5, "shape [%d,%d]", ys[0], ys[1]);
    for (int n = 0; n < 4; n++)
        for (int c = 0; c < 5; c++)
            cr_expect_eq(tg_data(y)[n * 5 + c], c == labels[n], "y[%d][%d] = %g", n, c,
                         tg_data(y)[n * 5 + c]);
    /* a constant: L = sum(W * y) gives W the one-hot and the one-hot nothing */
    double w[20] = {0};
    int sh[2] = {4, 5};
    tg_var W = tg_tensor_param(t, 2, sh, w);
    cr_assert_eq(tg_backward(tg_sum(tg_mul(W, y))), TG_OK, "%s", tg_tape_error(t));
    cr_expect(!memcmp(tg_gradient_data(W), tg_data(y), sizeof w), "dL/dW is not the one-hot");
    cr_expect_null(tg_gradient_data(y), "the one-hot got a gradient");
    /* one class: a column of ones */
    static const int zeros[3] = {0, 0, 0};
    tg_var one = tg_one_hot(t, 3, zeros, 1);
    cr_assert_eq(tg_numel(one), 3);
    for (int n = 0; n < 3; n++) cr_expect_eq(tg_data(one)[n], 1.0);
    /* no tape, or a tape in error: an error handle, nothing recorded, the first message kept */
    cr_expect_eq(tg_one_hot(NULL, 4, labels, 5).index, TG_NONE);
    tg_sum_axis(W, 5, 0);
    size_t size = tg_tape_size(t);
    cr_expect_eq(tg_one_hot(t, 4, labels, 5).index, TG_NONE);
    cr_expect_eq(tg_one_hot(t, 0, NULL, 0).index, TG_NONE);
    cr_expect_eq(tg_tape_size(t), size, "tg_one_hot recorded on a tape in error");
    th_expect_error(t, TG_ERR_ARG, "sum: axis 5 is out of range for rank 2 (x is [4,5])");
    tg_tape_free(t);
}

/* cross_entropy(z, l) = -sum(one_hot(l) * log_softmax(z)) / N, value and gradient */
Test(logits, cross_entropy_is_minus_the_mean_of_one_hot_times_log_softmax)
{
    static const int labels[3] = {1, 3, 0};
    int sh[2] = {3, 4};
    double z[12];
    th_rng r = th_rng_new(404);
    for (int e = 0; e < 12; e++) z[e] = 3 * th_uniform(&r, -1.0, 1.0);
    tg_tape *t = tg_tape_new();
    tg_var Z = tg_tensor_param(t, 2, sh, z);
    tg_var fused = tg_cross_entropy(Z, labels);
    tg_var comp = tg_mul(tg_sum(tg_mul(tg_one_hot(t, 3, labels, 4), tg_log_softmax(Z))),
                         tg_const(t, -1.0 / 3));
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect(th_close(tg_value(fused), tg_value(comp), 1e-15, 0), "fused %.17g, one_hot form "
              "%.17g", tg_value(fused), tg_value(comp));
    double g[12];
    cr_assert_eq(tg_backward(fused), TG_OK);
    memcpy(g, tg_gradient_data(Z), sizeof g);
    cr_assert_eq(tg_backward(comp), TG_OK);
    for (int e = 0; e < 12; e++)
        cr_expect(th_close(tg_gradient_data(Z)[e], g[e], 1e-14, 1e-16), "dL/dz[%d]: one_hot "
                  "form %.17g, fused %.17g", e, tg_gradient_data(Z)[e], g[e]);
    tg_tape_free(t);
}

/* Applied to a labels node, one_hot follows tg_tensor_set through a replay; a label made
 * invalid there gives its row NaN and leaves the others. */
Test(logits, one_hot_of_a_labels_node_replays_new_labels)
{
    int three = 3, classes = 4;
    const double l0[3] = {0, 3, 1}, l1[3] = {2, 2, 0}, bad[3] = {1, 4, 0.5};
    tg_tape *t = tg_tape_new();
    tg_var L = tg_tensor_const(t, 1, &three, l0);
    tg_var y = tg_apply_attr(&tg_op_one_hot, 1, &L, 1, &classes);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    tg_tensor_set(L, l1);
    cr_assert_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    for (int n = 0; n < 3; n++)
        for (int c = 0; c < 4; c++)
            cr_expect_eq(tg_data(y)[n * 4 + c], c == l1[n], "after replay y[%d][%d] = %g", n, c,
                         tg_data(y)[n * 4 + c]);
    tg_tensor_set(L, bad);
    cr_assert_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    for (int c = 0; c < 4; c++) {
        cr_expect_eq(tg_data(y)[c], c == 1, "row 0 [%d] = %g", c, tg_data(y)[c]);
        cr_expect(isnan(tg_data(y)[4 + c]), "row 1 (label 4 of 4 classes) [%d] = %g", c,
                  tg_data(y)[4 + c]);
        cr_expect(isnan(tg_data(y)[8 + c]), "row 2 (label 0.5) [%d] = %g", c, tg_data(y)[8 + c]);
    }
    tg_tape_free(t);
}
