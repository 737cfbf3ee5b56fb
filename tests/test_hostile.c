/* test_hostile.c - numerically hostile inputs and huge shapes, a named test each: saturating
 * activations at +-1e3 and +-1e308 (finite value and derivative, first and second order), the
 * gaussian rules at 1e308 under anomaly mode, cross_entropy with logits +-1e4, 0*inf inside a
 * backward sweep (the zero-adjoint rule), subnormal operands, 2^31 elements requested,
 * gradient checks at kinks reported as non-differentiable points, and the tape fuzzer's
 * finds. Errors and their messages (anomaly mode's included): test_errors.c. See LICENSE. */
#include <criterion/criterion.h>
#include <float.h>
#include <stdio.h>

#include "helpers.h"

typedef tg_var (*unary_fn)(tg_var);

static const struct {
    const char *name;
    unary_fn f;
} saturating[] = {
    {"sigmoid", tg_sigmoid}, {"tanh", tg_tanh}, {"softplus", tg_softplus},
    {"silu", tg_silu},       {"gelu", tg_gelu},
};
#define NSAT (sizeof saturating / sizeof saturating[0])

static const double extremes[] = {1e3, -1e3, 1e308, -1e308, DBL_MAX, -DBL_MAX};
#define NEXT (sizeof extremes / sizeof extremes[0])

/* The limits of each activation's value and slope far out: y ~ 0 or 1 or x, y' ~ 0 or 1. */
static void expected(const char *name, double x, double *y, double *dy)
{
    int pos = x > 0;
    if (!strcmp(name, "sigmoid")) *y = pos, *dy = 0;
    else if (!strcmp(name, "tanh")) *y = pos ? 1 : -1, *dy = 0;
    else *y = pos ? x : 0, *dy = pos; /* softplus, silu, gelu */
}

/* ---- saturating activations ---- */

Test(hostile, activations_at_plus_minus_1e3_and_1e308_scalar)
{
    for (size_t i = 0; i < NSAT; i++)
        for (size_t j = 0; j < NEXT; j++) {
            tg_tape *t = tg_tape_new();
            tg_tape_check_nan(t, 1); /* any NaN/Inf on the way is an error */
            double x0 = extremes[j], want_y, want_dy;
            expected(saturating[i].name, x0, &want_y, &want_dy);
            tg_var x = tg_param(t, x0), y = saturating[i].f(x);
            cr_expect_eq(tg_backward(y), TG_OK, "%s(%g): %s", saturating[i].name, x0,
                         tg_tape_error(t));
            double v = tg_value(y), g = tg_gradient(x);
            cr_expect(isfinite(v) && isfinite(g), "%s(%g) = %g, derivative %g",
                      saturating[i].name, x0, v, g);
            cr_expect(th_close(v, want_y, 1e-15, 1e-300), "%s(%g) = %.17g, expected %.17g",
                      saturating[i].name, x0, v, want_y);
            cr_expect(th_close(g, want_dy, 1e-15, 1e-300), "%s'(%g) = %.17g, expected %.17g",
                      saturating[i].name, x0, g, want_dy);
            tg_tape_free(t);
        }
}

Test(hostile, activations_at_plus_minus_1e3_and_1e308_tensor)
{
    int shape[1] = {(int)NEXT};
    for (size_t i = 0; i < NSAT; i++) {
        tg_tape *t = tg_tape_new();
        tg_tape_check_nan(t, 1);
        tg_var x = tg_tensor_param(t, 1, shape, extremes);
        tg_var y = saturating[i].f(x);
        /* seeded with ones, not summed: 1e308 + DBL_MAX would overflow the sum itself */
        const double ones[NEXT] = {1, 1, 1, 1, 1, 1};
        cr_expect_eq(tg_backward_seed(y, ones), TG_OK, "%s: %s", saturating[i].name,
                     tg_tape_error(t));
        const double *v = tg_data(y), *g = tg_gradient_data(x);
        cr_assert(v && g, "%s: no values or gradients", saturating[i].name);
        for (size_t j = 0; j < NEXT; j++) {
            double want_y, want_dy;
            expected(saturating[i].name, extremes[j], &want_y, &want_dy);
            cr_expect(th_close(v[j], want_y, 1e-15, 1e-300) && th_close(g[j], want_dy, 1e-15,
                      1e-300), "%s(%g) = %.17g (d %.17g), expected %.17g (d %.17g)",
                      saturating[i].name, extremes[j], v[j], g[j], want_y, want_dy);
        }
        tg_tape_free(t);
    }
}

/* Second order (tg_diff, the vjp_graph rules) without anomaly mode: finite, with the limits
 * 0 or 1 for the first derivative and 0 for the second. */
Test(hostile, activations_second_order_at_plus_minus_1e3_and_1e308)
{
    for (size_t i = 0; i < NSAT; i++)
        for (size_t j = 0; j < NEXT; j++) {
            tg_tape *t = tg_tape_new();
            double x0 = extremes[j], want_y, want_dy;
            expected(saturating[i].name, x0, &want_y, &want_dy);
            tg_var x = tg_param(t, x0), y = saturating[i].f(x);
            tg_var d = tg_diff(y, x), d2 = tg_diff(d, x);
            cr_expect_eq(tg_tape_status(t), TG_OK, "%s(%g): %s", saturating[i].name, x0,
                         tg_tape_error(t));
            cr_expect(th_close(tg_value(d), want_dy, 1e-15, 1e-300),
                      "tg_diff %s at %g = %.17g, expected %.17g", saturating[i].name, x0,
                      tg_value(d), want_dy);
            cr_expect(th_close(tg_value(d2), 0.0, 0, 1e-300), "second derivative of %s at %g "
                      "= %.17g, expected 0", saturating[i].name, x0, tg_value(d2));
            tg_tape_free(t);
        }
}

/* gelu's and normcdf's rules used to square x in a node (phi(x) = e^(-x^2/2)), which
 * overflows to inf for |x| > 1.3e154; the result was still right (e^-inf = 0) but anomaly
 * mode stopped at the inf: "mul: result is inf at node #5 (x1 = 1e+308, x2 = 1e+308)". They
 * now go through normpdf, which squares x inside its kernel: no node overflows, first or
 * second order. Far out every derivative is 0, except gelu' = 1 on the right. */
Test(hostile, gaussian_rules_at_1e308_under_anomaly_mode)
{
    static const double xs[] = {1e308, -1e308, 1e200, -1e200, 1e155, -1e155, DBL_MAX, -DBL_MAX};
    static const struct {
        const char *name;
        tg_var (*f)(tg_var);
        int right_slope_one;
    } fs[] = {{"gelu", tg_gelu, 1}, {"normcdf", tg_normcdf, 0}, {"normpdf", tg_normpdf, 0}};
    for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++)
        for (size_t j = 0; j < sizeof xs / sizeof xs[0]; j++) {
            tg_tape *t = tg_tape_new();
            tg_tape_check_nan(t, 1);
            tg_var x = tg_param(t, xs[j]), d = tg_diff(fs[k].f(x), x), d2 = tg_diff(d, x);
            cr_expect_eq(tg_tape_status(t), TG_OK, "%s at %g: %s", fs[k].name, xs[j],
                         tg_tape_error(t));
            double want = fs[k].right_slope_one && xs[j] > 0 ? 1.0 : 0.0;
            cr_expect_eq(tg_value(d), want, "%s'(%g) = %.17g, expected %g", fs[k].name, xs[j],
                         tg_value(d), want);
            cr_expect_eq(tg_value(d2), 0.0, "%s''(%g) = %.17g, expected 0", fs[k].name, xs[j],
                         tg_value(d2));
            tg_tape_free(t);
        }
}

/* ---- cross entropy at extreme logits ---- */

Test(hostile, cross_entropy_with_logits_plus_minus_1e4)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    int shape[2] = {2, 3};
    const double z[6] = {1e4, -1e4, 0, -1e4, 1e4, -1e4};
    const int wrong[2] = {1, 0}; /* the label sits on a logit 2e4 below the maximum */
    tg_var x = tg_tensor_param(t, 2, shape, z), l = tg_cross_entropy(x, wrong);
    cr_expect_eq(tg_backward(l), TG_OK, "%s", tg_tape_error(t));
    /* -log softmax = max - z_label + log sum e^(z - max) = 2e4 (+ e^-1e4 terms) per row */
    cr_expect(th_close(tg_value(l), 2e4, 1e-15, 0), "loss %.17g, expected 2e4", tg_value(l));
    const double *g = tg_gradient_data(x);
    /* d/dz = (softmax - onehot) / N */
    const double want[6] = {0.5, -0.5, 0, -0.5, 0.5, 0};
    for (int i = 0; i < 6; i++)
        cr_expect(th_close(g[i], want[i], 1e-15, 1e-300), "dL/dz[%d] = %.17g, expected %g", i,
                  g[i], want[i]);
    tg_tape_free(t);
}

Test(hostile, cross_entropy_with_the_one_hot_at_the_maximum)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    int shape[2] = {2, 3};
    const double z[6] = {1e4, -1e4, 0, -1e4, 1e4, 1e4}; /* row 1: a tie at the maximum */
    const int right[2] = {0, 1};
    tg_var x = tg_tensor_param(t, 2, shape, z), l = tg_cross_entropy(x, right);
    cr_expect_eq(tg_backward(l), TG_OK, "%s", tg_tape_error(t));
    /* row 0 loses e^-1e4 = 0; row 1 loses log 2 */
    cr_expect(th_close(tg_value(l), log(2.0) / 2, 1e-15, 0), "loss %.17g, expected %.17g",
              tg_value(l), log(2.0) / 2);
    const double *g = tg_gradient_data(x);
    const double want[6] = {0, 0, 0, 0, -0.25, 0.25};
    for (int i = 0; i < 6; i++)
        cr_expect(th_close(g[i], want[i], 1e-15, 1e-300), "dL/dz[%d] = %.17g, expected %g", i,
                  g[i], want[i]);
    /* a one-element batch, rank 1 */
    tg_tape_reset(t);
    int c[1] = {3};
    const double z1[3] = {-1e4, 1e4, 0};
    const int lab1 = 1;
    x = tg_tensor_param(t, 1, c, z1);
    l = tg_cross_entropy(x, &lab1);
    cr_expect_eq(tg_backward(l), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_value(l), 0.0, "loss %.17g at a one-hot maximum 1e4 above the rest",
                 tg_value(l));
    g = tg_gradient_data(x);
    for (int i = 0; i < 3; i++)
        cr_expect(g[i] == 0.0, "dL/dz[%d] = %.17g, expected 0", i, g[i]);
    tg_tape_free(t);
}

/* ---- 0 * inf inside a backward sweep ---- */

/* The zero-adjoint rule: a node whose adjoint is exactly 0 passes nothing back, so an infinite
 * local partial behind it (sqrt' at 0, log' at 0) cannot turn 0 * inf into NaN. */
Test(hostile, zero_adjoint_times_infinite_partial_is_zero_not_nan)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 0.0);
    tg_var y = tg_mul(tg_const(t, 0.0), tg_sqrt(x)); /* dy/dsqrt = 0, dsqrt/dx = inf */
    cr_expect_eq(tg_backward(y), TG_OK);
    cr_expect_eq(tg_value(y), 0.0);
    cr_expect(tg_gradient(x) == 0.0, "d(0 * sqrt x)/dx at 0 = %g, expected 0", tg_gradient(x));
    /* the same through where: the masked side holds log(0) = -inf and log'(0) = inf */
    tg_tape_reset(t);
    x = tg_param(t, 0.0);
    tg_var w = tg_where(tg_step(x), tg_log(x), tg_mul(x, tg_const(t, 3.0)));
    cr_expect_eq(tg_backward(w), TG_OK);
    cr_expect_eq(tg_value(w), 0.0);
    cr_expect(tg_gradient(x) == 3.0, "d where(x > 0, log x, 3x)/dx at 0 = %g, expected 3",
              tg_gradient(x));
    /* and under anomaly mode nothing is reported: no NaN or Inf reaches a gradient */
    tg_tape_check_nan(t, 1);
    cr_expect_eq(tg_backward(w), TG_OK, "%s", tg_tape_error(t));
    /* a factor that is 0 by value, relu(-1), masks sqrt'(0) = inf the same way */
    tg_tape_reset(t);
    tg_tape_check_nan(t, 1);
    tg_var a = tg_param(t, -1.0), q = tg_param(t, 0.0);
    tg_var y2 = tg_mul(tg_relu(a), tg_sqrt(q));
    cr_expect_eq(tg_backward(y2), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(q), 0.0, "d relu(-1) sqrt(q)/dq at 0 = %g", tg_gradient(q));
    tg_tape_free(t);
}

/* Where the adjoint itself is infinite and the partial 0 the product is NaN, and the value is
 * NaN too (0 * inf forward): nothing is hidden. */
Test(hostile, infinite_adjoint_times_zero_partial_is_nan_like_the_value)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, -1.0), big = tg_exp(tg_const(t, 1000.0));
    tg_var y = tg_mul(tg_relu(x), big);
    cr_expect_eq(tg_backward(y), TG_OK);
    cr_expect(isnan(tg_value(y)), "relu(-1) * inf = %g", tg_value(y));
    cr_expect(isnan(tg_gradient(x)), "its derivative %g", tg_gradient(x));
    tg_tape_free(t);
}

/* ---- subnormals ---- */

Test(hostile, subnormal_operands_give_exact_finite_gradients)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    const double s = 3 * DBL_TRUE_MIN; /* 1.5e-323 */
    tg_var x = tg_param(t, s);
    tg_var y = tg_add(tg_mul(x, tg_const(t, 2.0)), tg_mul(x, x)); /* 2x + x^2 */
    tg_var q = tg_sigmoid(x), e = tg_exp(x), th = tg_tanh(x);
    tg_var all = tg_add(tg_add(y, q), tg_add(e, th));
    cr_expect_eq(tg_backward(all), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_value(y), 2 * s, "2x + x^2 at a subnormal x = %g", tg_value(y));
    /* d/dx = 2 + 2x + sigmoid' + e^x + tanh' = 2 + 0 + 1/4 + 1 + 1 */
    cr_expect(th_close(tg_gradient(x), 4.25, 1e-15, 0), "gradient %.17g, expected 4.25",
              tg_gradient(x));
    /* 1/sqrt and 1/x of small normals stay finite down to DBL_MIN / 2 */
    tg_tape_reset(t);
    x = tg_param(t, DBL_MIN / 2);
    tg_var r = tg_sqrt(x), l = tg_log(x);
    cr_expect_eq(tg_backward(tg_add(r, l)), TG_OK, "%s", tg_tape_error(t));
    cr_expect(isfinite(tg_gradient(x)) && tg_gradient(x) > 1e307, "gradient %g",
              tg_gradient(x));
    /* below that 1/x overflows: anomaly mode names the op in the backward sweep */
    tg_tape_reset(t);
    x = tg_param(t, DBL_MIN / 4);
    l = tg_log(x);
    cr_expect_eq(tg_backward(l), TG_ERR_DOMAIN);
    th_expect_error(t, TG_ERR_DOMAIN, "log: backward: dy/dx1 is inf at node #1");
    tg_tape_free(t);
}

Test(hostile, subnormal_tensor_through_matmul_and_softmax)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    int sa[2] = {2, 2}, sb[2] = {2, 2};
    const double a[4] = {DBL_TRUE_MIN, 2 * DBL_TRUE_MIN, -DBL_TRUE_MIN, DBL_MIN / 8};
    const double b[4] = {1, 2, 3, 4};
    tg_var A = tg_tensor_param(t, 2, sa, a), B = tg_tensor_param(t, 2, sb, b);
    tg_var loss = tg_sum(tg_softmax(tg_matmul(A, B)));
    cr_expect_eq(tg_backward(loss), TG_OK, "%s", tg_tape_error(t));
    cr_expect(th_close(tg_value(loss), 2.0, 1e-15, 0), "sum of two softmax rows %.17g",
              tg_value(loss));
    const double *gA = tg_gradient_data(A), *gB = tg_gradient_data(B);
    for (int i = 0; i < 4; i++)
        cr_expect(isfinite(gA[i]) && isfinite(gB[i]) && fabs(gA[i]) < 1e-12 &&
                  fabs(gB[i]) < 1e-12, "gradient [%d]: %g %g (the sum of a softmax is flat)",
                  i, gA[i], gB[i]);
    tg_tape_free(t);
}

/* ---- huge shapes ---- */

Test(hostile, two_to_the_31_elements_requested)
{
    th_alloc a;
    memset(&a, 0, sizeof a);
    tg_tape *t = tg_tape_new_with(th_alloc_fn, &a);
    int s2[2] = {65536, 32768}; /* exactly 2^31 */
    tg_var v = tg_tensor_fill(t, 2, s2, 1.0);
    cr_expect_eq(v.index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_fill: more than 2^31-1 elements requested");
    tg_tape_reset(t);
    int s4[4] = {2147483647, 2147483647, 2147483647, 2147483647}; /* the product overflows */
    tg_tensor_fill(t, 4, s4, 1.0);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_fill: more than 2^31-1 elements requested");
    tg_tape_reset(t);
    const double one = 1.0; /* never read: the count is refused first */
    tg_tensor_param(t, 2, s2, &one);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_param: more than 2^31-1 elements requested");
    tg_tape_reset(t);
    tg_var x = tg_tensor_fill(t, 1, (int[]){4}, 1.0);
    tg_reshape(x, 2, s2);
    th_expect_error(t, TG_ERR_SHAPE, "reshape: 4 elements cannot take shape [65536,32768] (x is "
                    "[4])");
    cr_expect(a.allocated < ((size_t)1 << 24), "%zu bytes allocated for refused requests",
              a.allocated);
    tg_tape_free(t);
    cr_expect_eq(a.live, 0);
}

/* ---- gradient checks at kinks ---- */

Test(hostile, gradient_check_near_a_relu_kink_is_a_non_differentiable_point)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 1e-12);
    tg_label(x, "x");
    tg_var y = tg_relu(x);
    tg_check_result res;
    tg_check_report rep;
    tg_status rc = tg_check_grad(y, 1, &x, NULL, &res, &rep);
    cr_assert_eq(rc, TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(rep.failed, 0, "a kink must not count as a failure");
    cr_expect_eq(res.kink, 1, "relu at 1e-12: the +-h step crosses 0, kink not flagged");
    cr_expect_eq(res.pass, 1);
    cr_expect_eq(rep.kinks, 1);
    cr_expect_eq(rep.failed, 0);
    cr_expect_eq(res.reverse, 1.0, "relu'(1e-12) = %g", res.reverse);
    /* the printed verdict is what a user reads */
    char buf[2048] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    cr_assert_not_null(f);
    tg_check_print(f, 1, &x, &res, &rep);
    fclose(f);
    cr_expect(strstr(buf, "non-differentiable point (a kink within the step)") != NULL,
              "report:\n%s", buf);
    cr_expect(strstr(buf, "0 failed, 1 at kinks") != NULL, "report:\n%s", buf);
    /* away from the kink the same check compares and passes */
    tg_set(x, 0.5);
    cr_expect_eq(tg_replay(t), TG_OK);
    cr_assert_eq(tg_check_grad(y, 1, &x, NULL, &res, &rep), TG_OK);
    cr_expect_eq(rep.failed, 0);
    cr_expect_eq(res.kink, 0);
    cr_expect_eq(rep.kinks, 0);
    tg_tape_free(t);
}

Test(hostile, gradient_check_near_abs_and_leaky_relu_kinks)
{
    tg_tape *t = tg_tape_new();
    tg_var a = tg_param(t, -1e-12), b = tg_param(t, 1e-13);
    tg_var y = tg_add(tg_abs(a), tg_leaky_relu(b, 0.1));
    tg_var p[2] = {a, b};
    tg_check_result res[2];
    tg_check_report rep;
    cr_assert_eq(tg_check_grad(y, 2, p, NULL, res, &rep), TG_OK);
    cr_expect_eq(rep.kinks, 2, "kinks %d", rep.kinks);
    cr_expect_eq(rep.failed, 0);
    cr_expect(res[0].kink && res[1].kink);
    tg_tape_free(t);
}

/* ---- found by the tape fuzzer (tests/fuzz/fuzz_tape.c) ---- */

/* tg_replay loaded nodes[in[0] & TG_INDEX].v before checking TG_TENSOR, but a tensor node's
 * in[0] is an offset into tape->ext, not a node index: once ext outgrew the node array the
 * load read past it (ASan: heap-buffer-overflow in tg_replay). Fixed for tensor nodes. */
Test(hostile, replay_of_a_long_tensor_tape_reads_only_its_records)
{
    tg_tape *t = tg_tape_new();
    int shape[1] = {2};
    const double v[2] = {1, 2};
    tg_var x = tg_tensor_param(t, 1, shape, v), y = x;
    for (int i = 0; i < 300; i++) y = tg_where(x, y, x); /* 3 ext entries per node */
    tg_tensor_set(x, v);
    cr_expect_eq(tg_replay(t), TG_OK);
    cr_expect_eq(tg_data(y)[1], 2.0);
    tg_tape_free(t);
}

/* The same read for a *scalar* node with three operands (where on scalars is TG_NARY too, its
 * in[0] an ext offset), fixed since: replay takes an n-ary node's inputs from ext. The value
 * read was unused, so only a sanitized build (make sanitize, make valgrind) can fail here. */
Test(hostile, replay_of_a_long_scalar_where_chain_reads_only_its_records)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 1.0), y = x;
    for (int i = 0; i < 300; i++) y = tg_where(x, y, x);
    tg_set(x, 2.0);
    cr_expect_eq(tg_replay(t), TG_OK);
    cr_expect_eq(tg_value(y), 2.0);
    tg_tape_free(t);
}
