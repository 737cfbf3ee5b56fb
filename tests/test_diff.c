/* test_diff.c - tg_diff: derivatives recorded as nodes. Mixed and repeated derivatives of
 * composite functions, g'' of every activation against its closed form, derivative nodes
 * replayed at new points, derivatives that are identically zero, and branches masked off by
 * where (0 at every order, NaN or Inf inside). See LICENSE. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

#define EXPECT_CLOSE(got, want, rtol, what, ...)                                              \
    cr_expect(th_close((got), (want), (rtol), 1e-14), what ": tg_diff gives %.17g, expected "   \
              "%.17g", __VA_ARGS__, (double)(got), (double)(want))

static void expect_ok(tg_tape *t)
{
    cr_assert_eq(tg_tape_status(t), TG_OK, "tape error: %s", tg_tape_error(t));
}

/* ---- composite functions ---- */

Test(diff, mixed_and_repeated_derivatives_of_x_y_sin_x)
{
    /* f = x y sin x: fx = y sin x + x y cos x, fy = x sin x,
     * fxx = 2y cos x - x y sin x, fxy = fyx = sin x + x cos x, fyy = 0 */
    tg_tape *t = tg_tape_new();
    const double pts[][2] = {{0.7, -1.3}, {-2.1, 0.4}, {1.9, 2.5}, {0.0, 1.0}};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        double x = pts[i][0], y = pts[i][1];
        tg_tape_reset(t);
        tg_var px = tg_param(t, x), py = tg_param(t, y);
        tg_var f = tg_mul(tg_mul(px, py), tg_sin(px));
        tg_var fx = tg_diff(f, px), fy = tg_diff(f, py);
        tg_var fxx = tg_diff(fx, px), fxy = tg_diff(fx, py), fyx = tg_diff(fy, px),
               fyy = tg_diff(fy, py);
        expect_ok(t);
        EXPECT_CLOSE(tg_value(fx), y * sin(x) + x * y * cos(x), 1e-14, "fx at (%g, %g)", x, y);
        EXPECT_CLOSE(tg_value(fy), x * sin(x), 1e-14, "fy at (%g, %g)", x, y);
        EXPECT_CLOSE(tg_value(fxx), 2 * y * cos(x) - x * y * sin(x), 1e-14, "fxx at (%g, %g)",
                     x, y);
        EXPECT_CLOSE(tg_value(fxy), sin(x) + x * cos(x), 1e-14, "fxy at (%g, %g)", x, y);
        EXPECT_CLOSE(tg_value(fyx), sin(x) + x * cos(x), 1e-14, "fyx at (%g, %g)", x, y);
        EXPECT_CLOSE(tg_value(fyy), 0.0, 1e-14, "fyy at (%g, %g)", x, y);
        /* the Hessian row from one backward over the derivative node agrees */
        cr_assert_eq(tg_backward(fx), TG_OK, "%s", tg_tape_error(t));
        EXPECT_CLOSE(tg_gradient(px), tg_value(fxx), 1e-14, "backward(fx) wrt x at (%g, %g)", x,
                     y);
        EXPECT_CLOSE(tg_gradient(py), tg_value(fxy), 1e-14, "backward(fx) wrt y at (%g, %g)", x,
                     y);
    }
    tg_tape_free(t);
}

Test(diff, repeated_derivatives_of_a_polynomial_end_in_zero)
{
    /* y = x^3 through reuse: 3x^2, 6x, 6, 0 */
    tg_tape *t = tg_tape_new();
    const double x = -1.75;
    tg_var p = tg_param(t, x), y = tg_mul(tg_mul(p, p), p);
    tg_var d1 = tg_diff(y, p), d2 = tg_diff(d1, p), d3 = tg_diff(d2, p), d4 = tg_diff(d3, p);
    expect_ok(t);
    EXPECT_CLOSE(tg_value(d1), 3 * x * x, 1e-15, "(x^3)' at %g", x);
    EXPECT_CLOSE(tg_value(d2), 6 * x, 1e-15, "(x^3)'' at %g", x);
    EXPECT_CLOSE(tg_value(d3), 6.0, 1e-15, "(x^3)''' at %g", x);
    EXPECT_CLOSE(tg_value(d4), 0.0, 1e-15, "(x^3)'''' at %g", x);
    tg_tape_free(t);
}

Test(diff, derivative_with_respect_to_an_intermediate_is_its_delta)
{
    /* z = w x + b, a = sigmoid(z), E = (a - y)^2 / 2: dE/dz = (a - y) a (1 - a) */
    tg_tape *t = tg_tape_new();
    tg_var w = tg_param(t, 0.8), b = tg_param(t, -0.1), x = tg_const(t, 1.5),
           y = tg_const(t, 0.2);
    tg_var z = tg_add(tg_mul(w, x), b), a = tg_sigmoid(z), d = tg_sub(a, y);
    tg_var e = tg_mul(tg_const(t, 0.5), tg_mul(d, d));
    tg_var dz = tg_diff(e, z), da = tg_diff(e, a), de = tg_diff(e, e);
    expect_ok(t);
    double av = tg_value(a);
    EXPECT_CLOSE(tg_value(dz), (av - 0.2) * av * (1 - av), 1e-14, "dE/dz%s", "");
    EXPECT_CLOSE(tg_value(da), av - 0.2, 1e-14, "dE/da%s", "");
    EXPECT_CLOSE(tg_value(de), 1.0, 0, "dE/dE%s", "");
    cr_assert_eq(tg_backward(e), TG_OK);
    EXPECT_CLOSE(tg_value(dz), tg_gradient(z), 1e-14, "dE/dz vs tg_backward%s", "");
    tg_tape_free(t);
}

Test(diff, derivative_of_a_function_not_depending_on_wrt_is_zero)
{
    tg_tape *t = tg_tape_new();
    tg_var q = tg_param(t, 2.0), p = tg_param(t, 0.5);
    tg_var y = tg_sin(p);
    tg_var late = tg_param(t, 3.0); /* recorded after y */
    tg_var c = tg_exp(tg_const(t, 1.0)); /* no parameter at all */
    tg_var dq = tg_diff(y, q), dl = tg_diff(y, late), dc = tg_diff(c, p);
    expect_ok(t);
    cr_expect_neq(dq.index, TG_NONE);
    cr_expect_eq(tg_value(dq), 0.0, "dy/dq with q unused: %.17g", tg_value(dq));
    cr_expect_eq(tg_value(dl), 0.0, "dy/dq with q recorded after y: %.17g", tg_value(dl));
    cr_expect_eq(tg_value(dc), 0.0, "d(constant)/dp: %.17g", tg_value(dc));
    /* a zero derivative is itself differentiable (to zero) */
    tg_var ddq = tg_diff(dq, q);
    expect_ok(t);
    cr_expect_eq(tg_value(ddq), 0.0);
    /* a zero that stays zero when replayed elsewhere */
    tg_set(p, -1.0);
    tg_set(q, 7.0);
    cr_expect_eq(tg_replay(t), TG_OK);
    cr_expect_eq(tg_value(dq), 0.0);
    tg_tape_free(t);
}

Test(diff, derivative_nodes_replay_to_the_closed_form_at_new_points)
{
    /* g = tanh: g' = 1 - t^2, g'' = -2 t (1 - t^2), and h = x^2 e^(-x): h' = (2x - x^2) e^-x */
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 0.3);
    tg_var g = tg_tanh(p), d1 = tg_diff(g, p), d2 = tg_diff(d1, p);
    tg_var h = tg_mul(tg_mul(p, p), tg_exp(tg_neg(p))), hd = tg_diff(h, p);
    expect_ok(t);
    for (double x = -2.5; x <= 2.5; x += 0.31) {
        tg_set(p, x);
        cr_assert_eq(tg_replay(t), TG_OK, "replay at %g: %s", x, tg_tape_error(t));
        double th = tanh(x);
        EXPECT_CLOSE(tg_value(d1), 1 - th * th, 1e-13, "replayed tanh' at %g", x);
        EXPECT_CLOSE(tg_value(d2), -2 * th * (1 - th * th), 1e-13, "replayed tanh'' at %g", x);
        EXPECT_CLOSE(tg_value(hd), (2 * x - x * x) * exp(-x), 1e-13, "replayed h' at %g", x);
    }
    tg_tape_free(t);
}

Test(diff, derivative_node_passes_the_gradient_check)
{
    /* the derivative graph is an ordinary graph: its own reverse, forward and finite
     * differences agree */
    tg_tape *t = tg_tape_new();
    tg_var p[2] = {tg_param(t, 0.6), tg_param(t, -0.9)};
    tg_var f = tg_mul(tg_softplus(tg_mul(p[0], p[1])), tg_gelu(p[1]));
    tg_var fx = tg_diff(f, p[0]);
    expect_ok(t);
    tg_check_result res[2];
    tg_check_report rep;
    tg_status rc = tg_check_grad(fx, 2, p, NULL, res, &rep);
    cr_assert_eq(rc, TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(rep.failed, 0, "check of df/dx: %d failed, worst rel err %g at %d (reverse %.17g, fd %.17g)",
                 rep.failed, rep.worst_rel, rep.worst, res[rep.worst < 0 ? 0 : rep.worst].reverse,
                 res[rep.worst < 0 ? 0 : rep.worst].fd);
    tg_tape_free(t);
}

/* ---- g'' of every activation ---- */

static double sg(double x) { return 1.0 / (1.0 + exp(-x)); }
static double phi(double x) { return INV_SQRT_2PI * exp(-0.5 * x * x); }
static double Phi(double x) { return 0.5 * erfc(-x * INV_SQRT2); }

static tg_var leaky01(tg_var x) { return tg_leaky_relu(x, 0.1); }

typedef struct activation {
    const char *name;
    tg_var (*g)(tg_var);
    double (*d1)(double);
    double (*d2)(double);
    double lo, hi; /* where to sample */
} activation;

static double sigmoid_d1(double x) { return sg(x) * (1 - sg(x)); }
static double sigmoid_d2(double x) { return sg(x) * (1 - sg(x)) * (1 - 2 * sg(x)); }
static double tanh_d1(double x) { return 1 - tanh(x) * tanh(x); }
static double tanh_d2(double x) { return -2 * tanh(x) * (1 - tanh(x) * tanh(x)); }
static double softplus_d2(double x) { return sg(x) * (1 - sg(x)); }
static double silu_d1(double x) { return sg(x) * (1 + x * (1 - sg(x))); }
static double silu_d2(double x) { return sg(x) * (1 - sg(x)) * (2 + x * (1 - 2 * sg(x))); }
static double gelu_d1(double x) { return Phi(x) + x * phi(x); }
static double gelu_d2(double x) { return phi(x) * (2 - x * x); }
static double normcdf_d2(double x) { return -x * phi(x); }
static double normpdf_d2(double x) { return (x * x - 1) * phi(x); }
static double relu_d1(double x) { return x > 0 ? 1.0 : 0.0; }
static double leaky_d1(double x) { return x > 0 ? 1.0 : 0.1; }
static double abs_d1(double x) { return (x > 0) - (x < 0); }
static double zero(double x) { return (void)x, 0.0; }
static double exp_f(double x) { return exp(x); }
static double log_d1(double x) { return 1 / x; }
static double log_d2(double x) { return -1 / (x * x); }
static double sqrt_d1(double x) { return 0.5 / sqrt(x); }
static double sqrt_d2(double x) { return -0.25 / (x * sqrt(x)); }
static double cos_f(double x) { return cos(x); }
static double neg_sin(double x) { return -sin(x); }
static double neg_cos(double x) { return -cos(x); }
static double log1p_d1(double x) { return 1 / (1 + x); }
static double log1p_d2(double x) { return -1 / ((1 + x) * (1 + x)); }
static double tan_d1(double x) { return 1 + tan(x) * tan(x); }
static double tan_d2(double x) { return 2 * tan(x) * (1 + tan(x) * tan(x)); }
static double atan_d1(double x) { return 1 / (1 + x * x); }
static double atan_d2(double x) { return -2 * x / ((1 + x * x) * (1 + x * x)); }
static double erf_d1(double x) { return 1.12837916709551257390 * exp(-x * x); } /* 2/sqrt(pi) */
static double erf_d2(double x) { return -2 * x * erf_d1(x); }
/* the two-operand kinked ops with one operand a constant off the sampled grid */
static tg_var maximum_c(tg_var x) { return tg_maximum(x, tg_const_like(x, 0.37)); }
static tg_var minimum_c(tg_var x) { return tg_minimum(tg_const_like(x, 0.37), x); }
static tg_var clamp_c(tg_var x) { return tg_clamp(x, -1.234, 0.777); }
static double maximum_d1(double x) { return x > 0.37; }
static double minimum_d1(double x) { return x < 0.37; }
static double clamp_d1(double x) { return x >= -1.234 && x <= 0.777; }

static const activation acts[] = {
    {"sigmoid", tg_sigmoid, sigmoid_d1, sigmoid_d2, -6, 6},
    {"tanh", tg_tanh, tanh_d1, tanh_d2, -4, 4},
    {"softplus", tg_softplus, sg, softplus_d2, -6, 6},
    {"silu", tg_silu, silu_d1, silu_d2, -6, 6},
    {"gelu", tg_gelu, gelu_d1, gelu_d2, -5, 5},
    {"normcdf", tg_normcdf, phi, normcdf_d2, -5, 5},
    {"normpdf", tg_normpdf, normcdf_d2, normpdf_d2, -5, 5},
    {"relu", tg_relu, relu_d1, zero, -3, 3},
    {"leaky_relu", leaky01, leaky_d1, zero, -3, 3},
    {"abs", tg_abs, abs_d1, zero, -3, 3},
    {"step", tg_step, zero, zero, -3, 3},
    {"exp", tg_exp, exp_f, exp_f, -4, 4},
    {"log", tg_log, log_d1, log_d2, 0.05, 5},
    {"sqrt", tg_sqrt, sqrt_d1, sqrt_d2, 0.05, 5},
    {"sin", tg_sin, cos_f, neg_sin, -4, 4},
    {"cos", tg_cos, neg_sin, neg_cos, -4, 4},
    {"log1p", tg_log1p, log1p_d1, log1p_d2, -0.95, 5},
    {"expm1", tg_expm1, exp_f, exp_f, -4, 4},
    {"tan", tg_tan, tan_d1, tan_d2, -1.5, 1.5},
    {"atan", tg_atan, atan_d1, atan_d2, -5, 5},
    {"erf", tg_erf, erf_d1, erf_d2, -4, 4},
    {"sign", tg_sign, zero, zero, -3, 3},
    {"maximum", maximum_c, maximum_d1, zero, -3, 3},
    {"minimum", minimum_c, minimum_d1, zero, -3, 3},
    {"clamp", clamp_c, clamp_d1, zero, -3, 3},
};

Test(diff, second_derivative_of_every_activation_matches_its_closed_form)
{
    tg_tape *t = tg_tape_new();
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        const activation *a = &acts[i];
        for (int k = 0; k <= 40; k++) {
            double x = a->lo + (a->hi - a->lo) * k / 40.0;
            if (x == 0.0) continue; /* the kinked ones are pinned in test_gradcheck.c */
            tg_tape_reset(t);
            tg_var p = tg_param(t, x), y = a->g(p);
            tg_var d1 = tg_diff(y, p), d2 = tg_diff(d1, p);
            expect_ok(t);
            EXPECT_CLOSE(tg_value(d1), a->d1(x), 1e-12, "%s'(%.17g)", a->name, x);
            EXPECT_CLOSE(tg_value(d2), a->d2(x), 1e-12, "%s''(%.17g)", a->name, x);
        }
    }
    tg_tape_free(t);
}

Test(diff, third_derivative_of_tanh)
{
    /* tanh''' = -2 (1 - t^2)(1 - 3 t^2) */
    tg_tape *t = tg_tape_new();
    for (double x = -3; x <= 3; x += 0.25) {
        tg_tape_reset(t);
        tg_var p = tg_param(t, x);
        tg_var d3 = tg_diff(tg_diff(tg_diff(tg_tanh(p), p), p), p);
        expect_ok(t);
        double th = tanh(x);
        EXPECT_CLOSE(tg_value(d3), -2 * (1 - th * th) * (1 - 3 * th * th), 1e-11, "tanh'''(%g)",
                     x);
    }
    tg_tape_free(t);
}

Test(diff, pow_rule_keeps_the_conventions_of_its_partials)
{
    /* ops.md: pow's dy/db is taken as 0 where y = 0 (a = 0, b > 0: the limit), and the
     * partials give dy/da = 0 where b = 0. tg_diff must give the same numbers as tg_backward,
     * or g'' of x^p at x = 0 (a relu output raised to a learned power) becomes NaN. */
    static const double cases[][2] = {{0.0, 2.0}, {0.0, 0.5}, {0.0, 1.0}, {0.0, 0.0}};
    tg_tape *t = tg_tape_new();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double a = cases[i][0], b = cases[i][1];
        tg_tape_reset(t);
        tg_var pa = tg_param(t, a), pb = tg_param(t, b), y = tg_pow(pa, pb);
        cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
        double ga = tg_gradient(pa), gb = tg_gradient(pb);
        double da = tg_value(tg_diff(y, pa)), db = tg_value(tg_diff(y, pb));
        expect_ok(t);
        cr_expect(th_close(da, ga, 1e-15, 0), "pow(%g, %g): dy/da by tg_diff %.17g, by "
                  "tg_backward %.17g", a, b, da, ga);
        cr_expect(th_close(db, gb, 1e-15, 0), "pow(%g, %g): dy/db by tg_diff %.17g, by "
                  "tg_backward %.17g (the convention dy/db = 0 where y = 0)", a, b, db, gb);
    }
    tg_tape_free(t);
}

Test(diff, replayed_relu_derivative_follows_the_branch)
{
    /* d relu(x)/dx recorded at x > 0, replayed to x < 0: the step node inside flips too */
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 0.5), d = tg_diff(tg_mul(tg_relu(p), p), p); /* 2x or 0 */
    expect_ok(t);
    cr_expect_eq(tg_value(d), 1.0);
    tg_set(p, -0.5);
    cr_expect_eq(tg_replay(t), TG_OK);
    cr_expect_not_null(tg_replay_note(t), "relu crossed its kink and no note says so");
    cr_expect_eq(tg_value(d), 0.0, "d(relu(x) x)/dx at -0.5 after replay: %.17g", tg_value(d));
    tg_set(p, 2.0);
    cr_expect_eq(tg_replay(t), TG_OK);
    cr_expect_not_null(tg_replay_note(t), "relu crossed back and no note says so");
    cr_expect_eq(tg_value(d), 4.0, "d(relu(x) x)/dx at 2 after replay: %.17g", tg_value(d));
    tg_tape_free(t);
}

/* ---- masked branches: where's unchosen side at every order ---- */

/* y is w, a zero's sign included (NaN is NaN) */
static int same_value(double y, double w)
{
    return isnan(w) ? isnan(y) : y == w && signbit(y) == signbit(w);
}

Test(diff, mul0_is_mul_but_a_zero_factor_wins)
{
    /* the product tg_diff records: a*b bit for bit, except 0 * Inf and 0 * NaN, which are 0 */
    static const double cases[][3] = {
        {3.0, 4.0, 12.0}, {-2.0, 0.0, -0.0}, {0.0, INFINITY, 0.0}, {-INFINITY, 0.0, 0.0},
        {0.0, NAN, 0.0},  {NAN, -0.0, 0.0},  {NAN, 2.0, NAN},      {INFINITY, 2.0, INFINITY},
    };
    const int n = (int)(sizeof cases / sizeof cases[0]), shape[1] = {n};
    double a[sizeof cases / sizeof cases[0]], b[sizeof cases / sizeof cases[0]];
    tg_tape *t = tg_tape_new();
    for (int i = 0; i < n; i++) {
        a[i] = cases[i][0], b[i] = cases[i][1];
        double y = tg_value(tg_mul0(tg_const(t, a[i]), tg_const(t, b[i])));
        cr_expect(same_value(y, cases[i][2]), "mul0(%g, %g) = %g, want %g", a[i], b[i], y,
                  cases[i][2]);
    }
    /* the same element by element on tensors (the row kernel) */
    tg_var ta = tg_tensor_const(t, 1, shape, a), tb = tg_tensor_const(t, 1, shape, b);
    const double *y = tg_data(tg_mul0(ta, tb));
    expect_ok(t);
    for (int i = 0; i < n; i++)
        cr_expect(same_value(y[i], cases[i][2]), "mul0 on tensors, element %d: mul0(%g, %g) = "
                  "%g, want %g", i, a[i], b[i], y[i], cases[i][2]);
    tg_tape_free(t);
}

/* f(x) = where(step(x), g(x), 0) or, flipped, where(1 - step(x), 0, g(x)): the side not chosen
 * may be NaN (sqrt or log of a negative) or have an infinite derivative (sqrt, log, 1/x at
 * 0). tg_backward's gradient is 0 there, since a zero adjoint passes nothing back; the
 * derivatives recorded by tg_diff must be 0 too, at every order, and stay so when the nodes
 * are replayed there from a point where the branch was chosen. */
typedef struct masked_case {
    const char *name;
    tg_var (*g)(tg_var);
    double at;
} masked_case;

static tg_var recip(tg_var x) { return tg_div(tg_const_like(x, 1.0), x); }

static const masked_case masked_cases[] = {
    {"sqrt(x)", tg_sqrt, -1.0}, /* NaN */
    {"sqrt(x)", tg_sqrt, 0.0},  /* sqrt'(0) = Inf */
    {"log(x)", tg_log, -1.0},   /* NaN */
    {"log(x)", tg_log, 0.0},    /* -Inf, log'(0) = Inf */
    {"1/x", recip, 0.0},        /* Inf, and every derivative infinite */
};

static tg_var masked(tg_var x, const masked_case *c, int flip)
{
    tg_var zero = tg_const_like(x, 0.0);
    return flip ? tg_where(tg_sub(tg_const_like(x, 1.0), tg_step(x)), zero, c->g(x))
                : tg_where(tg_step(x), c->g(x), zero);
}

Test(diff, where_passes_no_nan_from_its_unchosen_side_at_any_order)
{
    tg_tape *t = tg_tape_new();
    for (size_t i = 0; i < sizeof masked_cases / sizeof masked_cases[0]; i++)
        for (int flip = 0; flip < 2; flip++) {
            const masked_case *c = &masked_cases[i];
            tg_tape_reset(t);
            tg_var x = tg_param(t, c->at);
            tg_var f = masked(x, c, flip);
            tg_var d1 = tg_diff(f, x), d2 = tg_diff(d1, x), d3 = tg_diff(d2, x);
            expect_ok(t);
            cr_expect_eq(tg_backward(f), TG_OK);
            cr_expect_eq(tg_gradient(x), 0.0, "%s (side %d) at %g: tg_backward %.17g", c->name,
                         flip + 1, c->at, tg_gradient(x));
            const tg_var d[3] = {d1, d2, d3};
            for (int k = 0; k < 3; k++)
                cr_expect_eq(tg_value(d[k]), 0.0, "%s masked off by where (side %d): order %d "
                             "at %g is %.17g, not 0", c->name, flip + 1, k + 1, c->at,
                             tg_value(d[k]));
        }
    tg_tape_free(t);
}

Test(diff, where_masks_by_a_constant_condition_too)
{
    /* where(k, x log(m), 0) with constants k = 0 and m = -1: the adjoint reaching the mul is
     * a constant 0 and its partial log(m) a constant NaN; their product passes nothing */
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 2.0), k = tg_const(t, 0.0), m = tg_const(t, -1.0);
    tg_var f = tg_where(k, tg_mul(x, tg_log(m)), tg_const(t, 0.0));
    tg_var d1 = tg_diff(f, x), d2 = tg_diff(d1, x);
    expect_ok(t);
    cr_expect_eq(tg_value(d1), 0.0, "f' is %.17g", tg_value(d1));
    cr_expect_eq(tg_value(d2), 0.0, "f'' is %.17g", tg_value(d2));
    tg_tape_free(t);
}

Test(diff, where_masked_derivatives_replay_across_the_switch)
{
    /* recorded where sqrt is chosen (x = 4), replayed where it is not (-1, 0) and back */
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 4.0);
    tg_var f = tg_where(tg_step(x), tg_sqrt(x), tg_const(t, 0.0));
    tg_var d1 = tg_diff(f, x), d2 = tg_diff(d1, x), d3 = tg_diff(d2, x);
    expect_ok(t);
    const double at[] = {4.0, -1.0, 0.0, 9.0};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        double v = at[i], on = v > 0;
        tg_set(x, v);
        cr_assert_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
        /* sqrt' = x^-1/2 / 2, sqrt'' = -x^-3/2 / 4, sqrt''' = 3 x^-5/2 / 8 */
        double want[3] = {on ? 0.5 / sqrt(v) : 0.0, on ? -0.25 / (v * sqrt(v)) : 0.0,
                          on ? 0.375 / (v * v * sqrt(v)) : 0.0};
        const tg_var d[3] = {d1, d2, d3};
        for (int k = 0; k < 3; k++)
            EXPECT_CLOSE(tg_value(d[k]), want[k], 1e-14, "replayed order %d at %g", k + 1, v);
    }
    tg_tape_free(t);
}
