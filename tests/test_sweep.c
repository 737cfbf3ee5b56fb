/* test_sweep.c - the numeric sweeps: reverse (tg_backward/tg_gradient), forward (tg_jvp) and
 * replay (tg_set + tg_replay): reuse and fan-out, unused and inactive parts of the graph,
 * masked branches, repeated sweeps, reset and re-record, kink flips (every op the registry
 * gives a branch or choose kernel, on scalars and on tensors). See LICENSE. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

#define EXPECT_NEAR(got, want, what, ...)                                                     \
    cr_expect(th_close((got), (want), 1e-13, 1e-15), what ": got %.17g, expected %.17g",       \
              __VA_ARGS__, (double)(got), (double)(want))

static tg_tape *new_tape(void)
{
    tg_tape *t = tg_tape_new();
    cr_assert_not_null(t, "tg_tape_new failed");
    return t;
}

static void expect_ok(tg_tape *t)
{
    cr_expect_eq(tg_tape_status(t), TG_OK, "tape error: %s", tg_tape_error(t));
}

/* ---- reverse sweep ---- */

Test(sweep, reused_node_accumulates_both_paths)
{
    tg_tape *t = new_tape();
    for (double x = -2.5; x <= 2.5; x += 0.5) {
        tg_tape_reset(t);
        tg_var p = tg_param(t, x), y = tg_mul(p, p);
        cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
        EXPECT_NEAR(tg_gradient(p), 2 * x, "d(x*x)/dx at x = %g", x);
    }
    tg_tape_free(t);
}

Test(sweep, fan_out_accumulates_along_every_path)
{
    /* a = 2p; E = sin(a) + a*a + a: dE/da = cos a + 2a + 1, dE/dp = 2 dE/da */
    tg_tape *t = new_tape();
    const double x = 0.7;
    tg_var p = tg_param(t, x), a = tg_mul(tg_const(t, 2.0), p);
    tg_var e = tg_add(tg_add(tg_sin(a), tg_mul(a, a)), a);
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    double av = 2 * x, dEda = cos(av) + 2 * av + 1;
    EXPECT_NEAR(tg_gradient(a), dEda, "dE/da at a = %g", av);
    EXPECT_NEAR(tg_gradient(p), 2 * dEda, "dE/dp at p = %g", x);
    tg_tape_free(t);
}

Test(sweep, unused_parameter_and_unused_branch_get_zero)
{
    tg_tape *t = new_tape();
    tg_var p = tg_param(t, 1.5), q = tg_param(t, -0.5);
    tg_var side = tg_exp(tg_mul(p, q)); /* recorded, but E does not use it */
    tg_var e = tg_mul(p, tg_sin(p));
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(q), 0.0, "unused parameter q: gradient %.17g", tg_gradient(q));
    cr_expect_eq(tg_gradient(side), 0.0, "unused branch exp(p*q): gradient %.17g",
                 tg_gradient(side));
    EXPECT_NEAR(tg_gradient(p), sin(1.5) + 1.5 * cos(1.5), "d(p sin p)/dp at %g", 1.5);
    tg_tape_free(t);
}

Test(sweep, gradient_of_intermediates_is_the_hand_delta)
{
    /* z = w x + b, a = sigmoid(z), E = (a - y)^2 / 2:  dE/da = a - y,  dE/dz = (a - y) a (1 - a) */
    tg_tape *t = new_tape();
    const double xv = 0.35, wv = -1.2, bv = 0.4, yv = 0.9;
    tg_var x = tg_const(t, xv), w = tg_param(t, wv), b = tg_param(t, bv), y = tg_const(t, yv);
    tg_var z = tg_add(tg_mul(w, x), b), a = tg_sigmoid(z);
    tg_var d = tg_sub(a, y), e = tg_mul(tg_const(t, 0.5), tg_mul(d, d));
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    double av = 1 / (1 + exp(-(wv * xv + bv))), delta = (av - yv) * av * (1 - av);
    EXPECT_NEAR(tg_gradient(a), av - yv, "dE/da (a = %g)", av);
    EXPECT_NEAR(tg_gradient(z), delta, "dE/dz (a = %g)", av);
    EXPECT_NEAR(tg_gradient(w), delta * xv, "dE/dw (a = %g)", av);
    EXPECT_NEAR(tg_gradient(b), delta, "dE/db (a = %g)", av);
    tg_tape_free(t);
}

Test(sweep, constants_and_nodes_of_constants_get_zero)
{
    tg_tape *t = new_tape();
    tg_var c = tg_const(t, 2.0), k = tg_exp(c), p = tg_param(t, 3.0);
    tg_var e = tg_mul(tg_mul(k, c), p);
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(c), 0.0, "constant: gradient %.17g", tg_gradient(c));
    cr_expect_eq(tg_gradient(k), 0.0, "exp(constant): gradient %.17g", tg_gradient(k));
    EXPECT_NEAR(tg_gradient(p), 2.0 * exp(2.0), "dE/dp%s", "");
    tg_tape_free(t);
}

Test(sweep, inactive_nan_subgraph_does_not_poison_gradients)
{
    tg_tape *t = new_tape();
    tg_var p = tg_param(t, 1.25);
    tg_var bad = tg_log(tg_const(t, -1.0));          /* NaN, depends on no parameter */
    tg_var worse = tg_div(tg_const(t, 1.0), tg_const(t, 0.0)); /* Inf, inactive too */
    tg_var e = tg_add(tg_mul(p, p), tg_mul(bad, worse));
    cr_assert(isnan(tg_value(bad)) && isinf(tg_value(worse)), "setup: expected NaN and Inf");
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    /* add's partial for p's side is 1 whatever the other operand is */
    EXPECT_NEAR(tg_gradient(p), 2.5, "d/dp of p*p + NaN at p = %g", 1.25);
    cr_expect_eq(tg_gradient(bad), 0.0, "inactive NaN node: gradient %.17g", tg_gradient(bad));
    tg_tape_free(t);
}

/* A user op whose kernel counts the calls that ask for partials: inactive nodes must never
 * need them (recording, sweeps, replay). Static: Criterion runs each test in its own
 * process. */
static int probe_partial_calls;

static double probe_eval(const double *x, double *d)
{
    if (d) {
        probe_partial_calls++;
        d[0] = 2 * x[0];
    }
    return x[0] * x[0];
}

static const tg_op_def probe_op = {.name = "probe", .arity = 1, .eval = probe_eval};

Test(sweep, inactive_nodes_are_never_asked_for_partials)
{
    tg_tape *t = new_tape();
    tg_var c = tg_const(t, 3.0), p = tg_param(t, 0.5);
    tg_var inactive = tg_apply1(&probe_op, c);
    tg_var active = tg_apply1(&probe_op, p);
    tg_var e = tg_add(active, tg_mul(inactive, p));
    cr_expect_eq(probe_partial_calls, 1, "recording asked %d nodes for partials, expected 1 "
                 "(only the active probe)", probe_partial_calls);
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    EXPECT_NEAR(tg_gradient(p), 1.0 + 9.0, "d/dp (p^2 + 9p) at p = %g", 0.5);
    cr_expect_eq(tg_gradient(inactive), 0.0, "inactive probe node: gradient %.17g",
                 tg_gradient(inactive));
    tg_set(c, 4.0);
    cr_assert_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(probe_partial_calls, 2, "after a replay %d partial calls, expected 2",
                 probe_partial_calls);
    tg_tape_free(t);
}

Test(sweep, masked_branch_with_infinite_partial_gives_zero_not_nan)
{
    /* y = relu(a) * sqrt(q) at a = -1, q = 0: relu is off, so y = 0 near the point and
     * dy/dq = 0, although dsqrt/dq = Inf there */
    tg_tape *t = new_tape();
    tg_var a = tg_param(t, -1.0), q = tg_param(t, 0.0);
    tg_var y = tg_mul(tg_relu(a), tg_sqrt(q));
    cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(q), 0.0, "reverse dy/dq: %.17g, expected 0 (masked branch)",
                 tg_gradient(q));
    cr_expect_eq(tg_gradient(a), 0.0, "reverse dy/da: %.17g, expected 0", tg_gradient(a));
    /* the same with relu(-p), p = 1 */
    tg_var p = tg_param(t, 1.0), y2 = tg_mul(tg_relu(tg_neg(p)), tg_sqrt(q));
    cr_assert_eq(tg_backward(y2), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(q), 0.0, "reverse d(relu(-p) sqrt q)/dq: %.17g", tg_gradient(q));
    cr_expect_eq(tg_gradient(p), 0.0, "reverse d(relu(-p) sqrt q)/dp: %.17g", tg_gradient(p));
    tg_tape_free(t);
}

Test(sweep, masked_branch_forward_mode_agrees_with_reverse)
{
    /* The forward-mode twin of the test above: the dot-product identity
     * <jvp(u), 1> = <u, vjp(1)> must hold, so jvp along q must give 0, not 0 * Inf = NaN. */
    tg_tape *t = new_tape();
    tg_var a = tg_param(t, -1.0), q = tg_param(t, 0.0);
    tg_var y = tg_mul(tg_relu(a), tg_sqrt(q));
    double one = 1.0;
    cr_assert_eq(tg_jvp(t, 1, &q, &one), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_tangent(y), 0.0, "mul(relu(a), sqrt(q)) at a = -1, q = 0: jvp along q "
                 "gives %.17g, reverse mode gives 0", tg_tangent(y));
    tg_var both[2] = {a, q};
    tg_check_result res[2];
    tg_check_report rep;
    cr_assert_eq(tg_check_grad(y, 2, both, NULL, res, &rep), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(res[1].pass, 1, "tg_check_grad calls dy/dq a failure: reverse %.17g, forward "
                 "%.17g", res[1].reverse, res[1].forward);
    tg_tape_free(t);
}

Test(sweep, backward_twice_gives_the_same_numbers)
{
    tg_tape *t = new_tape();
    tg_var p = tg_param(t, 0.3), q = tg_param(t, -1.1);
    tg_var e = tg_add(tg_mul(tg_tanh(p), q), tg_mul(p, p));
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    double gp = tg_gradient(p), gq = tg_gradient(q);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
        cr_expect_eq(tg_gradient(p), gp, "sweep %d: dE/dp %.17g, first sweep %.17g", i + 2,
                     tg_gradient(p), gp);
        cr_expect_eq(tg_gradient(q), gq, "sweep %d: dE/dq %.17g, first sweep %.17g", i + 2,
                     tg_gradient(q), gq);
    }
    EXPECT_NEAR(gq, tanh(0.3), "dE/dq%s", "");
    tg_tape_free(t);
}

Test(sweep, backward_from_an_intermediate_node)
{
    tg_tape *t = new_tape();
    tg_var p = tg_param(t, 0.8);
    tg_var a = tg_sin(p), b = tg_mul(a, a), e = tg_exp(b);
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    cr_assert_eq(tg_backward(a), TG_OK, "%s", tg_tape_error(t));
    EXPECT_NEAR(tg_gradient(p), cos(0.8), "d sin(p)/dp from the intermediate%s", "");
    EXPECT_NEAR(tg_gradient(a), 1.0, "d a/d a%s", "");
    cr_expect_eq(tg_gradient(b), 0.0, "node after the seed: gradient %.17g", tg_gradient(b));
    cr_expect_eq(tg_gradient(e), 0.0, "node after the seed: gradient %.17g", tg_gradient(e));
    /* a node recorded after the last sweep has gradient 0 */
    tg_var late = tg_mul(e, p);
    cr_expect_eq(tg_gradient(late), 0.0, "node recorded after the sweep: %.17g",
                 tg_gradient(late));
    expect_ok(t);
    tg_tape_free(t);
}

Test(sweep, backward_from_a_parameter_or_a_constant)
{
    tg_tape *t = new_tape();
    tg_var p = tg_param(t, 2.0), c = tg_const(t, 3.0);
    cr_assert_eq(tg_backward(p), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(p), 1.0, "dp/dp = %.17g", tg_gradient(p));
    cr_assert_eq(tg_backward(c), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(p), 0.0, "dc/dp = %.17g", tg_gradient(p));
    cr_expect_eq(tg_gradient(c), 0.0, "dc/dc of a constant = %.17g (constants get 0)",
                 tg_gradient(c));
    tg_tape_free(t);
}

/* E(w, b; x) = tanh(w*x + b)^2 + relu(w - b) * softplus(b), recorded on t */
static tg_var record_e(tg_tape *t, double w, double b, double x, tg_var *pw, tg_var *pb)
{
    *pw = tg_param(t, w);
    *pb = tg_param(t, b);
    tg_var th = tg_tanh(tg_add(tg_mul(*pw, tg_const(t, x)), *pb));
    return tg_add(tg_mul(th, th), tg_mul(tg_relu(tg_sub(*pw, *pb)), tg_softplus(*pb)));
}

Test(sweep, reset_and_rerecord_gives_identical_results)
{
    tg_tape *t = new_tape();
    tg_var w, b;
    tg_var e = record_e(t, 0.9, -0.4, 1.3, &w, &b);
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    double v0 = tg_value(e), gw = tg_gradient(w), gb = tg_gradient(b);
    size_t n0 = tg_tape_size(t);
    for (int i = 0; i < 3; i++) {
        tg_tape_reset(t);
        e = record_e(t, 0.9, -0.4, 1.3, &w, &b);
        cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
        cr_expect_eq(tg_tape_size(t), n0, "size %zu after re-recording, %zu before",
                     tg_tape_size(t), n0);
        cr_expect_eq(tg_value(e), v0, "value %.17g after reset, %.17g before", tg_value(e), v0);
        cr_expect_eq(tg_gradient(w), gw, "dE/dw %.17g after reset, %.17g before",
                     tg_gradient(w), gw);
        cr_expect_eq(tg_gradient(b), gb, "dE/db %.17g after reset, %.17g before",
                     tg_gradient(b), gb);
    }
    tg_tape_free(t);
}

/* ---- forward sweep ---- */

Test(sweep, jvp_gives_directional_derivatives)
{
    /* f = p1 sin p2 + p2^2: grad = (sin p2, p1 cos p2 + 2 p2) */
    tg_tape *t = new_tape();
    const double x1 = 1.7, x2 = -0.6;
    tg_var p[2] = {tg_param(t, x1), tg_param(t, x2)};
    tg_var f = tg_add(tg_mul(p[0], tg_sin(p[1])), tg_mul(p[1], p[1]));
    const double dirs[][2] = {{1, 0}, {0, 1}, {0.3, -2.0}, {-1.5, 0.25}};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        cr_assert_eq(tg_jvp(t, 2, p, dirs[i]), TG_OK, "%s", tg_tape_error(t));
        double want = sin(x2) * dirs[i][0] + (x1 * cos(x2) + 2 * x2) * dirs[i][1];
        EXPECT_NEAR(tg_tangent(f), want, "directional derivative along (%g, %g)", dirs[i][0],
                    dirs[i][1]);
        EXPECT_NEAR(tg_tangent(p[0]), dirs[i][0], "tangent of p1 along (%g, %g)", dirs[i][0],
                    dirs[i][1]);
    }
    /* no seeds: every tangent is 0 */
    cr_assert_eq(tg_jvp(t, 0, NULL, NULL), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_tangent(f), 0.0, "jvp with no seeds: tangent %.17g", tg_tangent(f));
    /* the same parameter seeded twice: the directions add */
    tg_var twice[2] = {p[0], p[0]};
    const double d2[2] = {1.0, 2.0};
    cr_assert_eq(tg_jvp(t, 2, twice, d2), TG_OK, "%s", tg_tape_error(t));
    EXPECT_NEAR(tg_tangent(f), 3.0 * sin(x2), "p1 seeded twice (1 + 2)%s", "");
    tg_var late = tg_mul(f, f);
    cr_expect_eq(tg_tangent(late), 0.0, "node recorded after the jvp: tangent %.17g",
                 tg_tangent(late));
    tg_tape_free(t);
}

Test(sweep, jvp_and_backward_agree_on_a_network)
{
    tg_tape *t = new_tape();
    th_rng r = th_rng_new(7);
    tg_var w[6];
    for (int i = 0; i < 6; i++) w[i] = tg_param(t, th_uniform(&r, -1, 1));
    tg_var x1 = tg_const(t, 0.4), x2 = tg_const(t, -0.7);
    tg_var h1 = tg_tanh(tg_add(tg_mul(w[0], x1), tg_mul(w[1], x2)));
    tg_var h2 = tg_sigmoid(tg_add(tg_mul(w[2], x1), tg_mul(w[3], x2)));
    tg_var o = tg_add(tg_mul(w[4], h1), tg_mul(w[5], h2));
    tg_var e = tg_mul(o, o);
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    double u[6], dot = 0;
    for (int i = 0; i < 6; i++) {
        u[i] = th_uniform(&r, -1, 1);
        dot += u[i] * tg_gradient(w[i]);
    }
    cr_assert_eq(tg_jvp(t, 6, w, u), TG_OK, "%s", tg_tape_error(t));
    EXPECT_NEAR(tg_tangent(e), dot, "<jvp(u), 1> vs <u, grad>%s", "");
    tg_tape_free(t);
}

/* ---- replay ---- */

Test(sweep, replay_equals_recording_at_the_new_point)
{
    tg_tape *t = new_tape(), *fresh = new_tape();
    th_rng r = th_rng_new(11);
    tg_var w, b;
    tg_var e = record_e(t, 0.9, -0.4, 1.3, &w, &b);
    for (int i = 0; i < 20; i++) {
        /* w - b stays positive, so relu never changes branch */
        double wv = th_uniform(&r, 0.5, 2.0), bv = th_uniform(&r, -1.5, 0.4);
        tg_set(w, wv);
        tg_set(b, bv);
        cr_assert_eq(tg_replay(t), TG_OK, "replay at w = %g, b = %g: %d, %s", wv, bv,
                     tg_tape_status(t), tg_tape_error(t));
        cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
        tg_tape_reset(fresh);
        tg_var fw, fb, fe = record_e(fresh, wv, bv, 1.3, &fw, &fb);
        cr_assert_eq(tg_backward(fe), TG_OK, "%s", tg_tape_error(fresh));
        cr_expect_eq(tg_value(e), tg_value(fe), "value at w = %g, b = %g: replay %.17g, "
                     "recording %.17g", wv, bv, tg_value(e), tg_value(fe));
        cr_expect_eq(tg_gradient(w), tg_gradient(fw), "dE/dw at w = %g, b = %g: replay %.17g, "
                     "recording %.17g", wv, bv, tg_gradient(w), tg_gradient(fw));
        cr_expect_eq(tg_gradient(b), tg_gradient(fb), "dE/db at w = %g, b = %g: replay %.17g, "
                     "recording %.17g", wv, bv, tg_gradient(b), tg_gradient(fb));
    }
    tg_tape_free(fresh);
    tg_tape_free(t);
}

Test(sweep, replay_across_a_kink_reports_flip_and_stays_exact)
{
    tg_tape *t = new_tape(), *fresh = new_tape();
    tg_var w, b;
    tg_var e = record_e(t, 0.9, -0.4, 1.3, &w, &b); /* w - b = 1.3 > 0 */
    tg_var fw, fb;
    /* to w - b < 0: relu switches off */
    tg_set(b, 1.5);
    cr_expect_eq(tg_replay(t), TG_OK, "relu crossed its kink: %s", tg_tape_error(t));
    cr_expect_not_null(tg_replay_note(t), "relu crossed its kink and no note says so");
    cr_expect_eq(tg_tape_status(t), TG_OK, "a flip is not an error: %s", tg_tape_error(t));
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    tg_var fe = record_e(fresh, 0.9, 1.5, 1.3, &fw, &fb);
    cr_assert_eq(tg_backward(fe), TG_OK, "%s", tg_tape_error(fresh));
    cr_expect_eq(tg_value(e), tg_value(fe), "value after the flip %.17g, fresh %.17g",
                 tg_value(e), tg_value(fe));
    cr_expect_eq(tg_gradient(b), tg_gradient(fb), "dE/db after the flip %.17g, fresh %.17g",
                 tg_gradient(b), tg_gradient(fb));
    /* a second replay at the same point compares with the first: no flip */
    cr_expect_eq(tg_replay(t), TG_OK, "replay at an unchanged point: %d", tg_replay(t));
    cr_expect_null(tg_replay_note(t), "no flip, yet a note: %s", tg_replay_note(t));
    tg_tape_free(fresh);
    tg_tape_free(t);
}

/* The kinked ops, from the registry: elementwise ops with a branch kernel and tensor ops with
 * a choose kernel (tg_replay watches both). Returns how many. */
static int kinked_ops(const tg_op_def **out, int cap)
{
    int n = 0;
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (!op->branch && !op->choose) continue;
        cr_assert_lt(n, cap, "more than %d kinked ops", cap);
        out[n++] = op;
    }
    return n;
}

static int sign_of(double s) { return (s > 0) - (s < 0); }

/* The derivation finds the ops known to be kinked, each once, and each kernel is one the
 * sweeps read: a branch on an elementwise op (a tensor op's branch would be ignored), a choose
 * on a tensor op. */
Test(sweep, kinked_ops_from_the_registry_include_the_known_ones)
{
    const tg_op_def *ops[64];
    int n = kinked_ops(ops, 64);
    cr_assert_gt(n, 0, "no op of the registry has a branch or a choose kernel");
    static const struct {
        const char *name;
        int choose;
    } known[] = {{"relu", 0},    {"abs", 0},     {"leaky_relu", 0}, {"step", 0}, {"sign", 0},
                 {"maximum", 0}, {"minimum", 0}, {"clamp", 0},      {"max", 1}};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        int found = 0;
        for (int i = 0; i < n; i++) found += strcmp(ops[i]->name, known[k].name) == 0;
        cr_expect_eq(found, 1, "%s is among the kinked ops %d times", known[k].name, found);
        const tg_op_def *op = tg_registry_find(NULL, known[k].name);
        cr_assert_not_null(op, "%s is not registered", known[k].name);
        cr_expect_eq(op->choose != NULL, known[k].choose, "%s: choose kernel %s", op->name,
                     op->choose ? "present" : "missing");
    }
    for (int i = 0; i < n; i++) {
        if (ops[i]->branch)
            cr_expect(ops[i]->eval && !ops[i]->infer && !ops[i]->choose, "%s has a branch "
                      "kernel but is not an elementwise op without choose", ops[i]->name);
        if (ops[i]->choose)
            cr_expect_not_null(ops[i]->infer, "%s has a choose kernel but no infer",
                               ops[i]->name);
    }
}

/* Every op with a branch kernel, on scalars: operand 0 moves across the kink, the others are
 * the constant 0.01 (leaky_relu's slope). The note is compared whole, its inputs being the
 * op's branch quantity before and after. */
Test(sweep, replay_flip_names_the_kinked_node_for_each_kinked_op)
{
    const tg_op_def *ops[64];
    int n = kinked_ops(ops, 64), exercised = 0, nbranch = 0;
    for (int i = 0; i < n; i++) {
        const tg_op_def *op = ops[i];
        if (!op->branch) continue;
        nbranch++;
        double at[TG_MAX_ARITY] = {0.31, 0.01, 0.01, 0.01}, before, after;
        int s0 = sign_of(op->branch(at));
        at[0] = 0.5;
        before = op->branch(at);
        at[0] = -0.02;
        after = op->branch(at);
        cr_assert(s0 == sign_of(before) && sign_of(before) != sign_of(after), "%s: the branch "
                  "quantity's sign does not change between 0.5 and -0.02 only (other operands "
                  "0.01), so this test cannot cross its kink", op->name);
        tg_tape *t = new_tape();
        tg_var p = tg_param(t, 0.31), c = tg_const(t, 0.0);
        tg_var in[TG_MAX_ARITY] = {tg_add(p, c)};
        for (int k = 1; k < op->arity; k++) in[k] = tg_const(t, 0.01);
        tg_var k = tg_apply(op, op->arity, in);
        tg_label(k, "a2[2]");
        tg_var e = tg_mul(k, k);
        (void)e;
        cr_assert_eq(tg_tape_status(t), TG_OK, "%s: %s", op->name, tg_tape_error(t));
        tg_set(p, 0.5);
        cr_expect_eq(tg_replay(t), TG_OK, "%s: same side of the kink: %d", op->name,
                     tg_tape_status(t));
        cr_expect_null(tg_replay_note(t), "%s: a note without a flip", op->name);
        tg_set(p, -0.02);
        tg_status rc = tg_replay(t);
        cr_expect_eq(rc, TG_OK, "%s: input 0.5 -> -0.02: replay returned %d", op->name, rc);
        char want[160];
        snprintf(want, sizeof want, "%s 'a2[2]': branch changed (input %.6g -> %.6g)", op->name,
                 before, after);
        cr_assert_not_null(tg_replay_note(t), "%s: input 0.5 -> -0.02 and no note", op->name);
        cr_expect_str_eq(tg_replay_note(t), want, "%s: the note", op->name);
        /* a constant (an input) changes too: set back to the positive side through c */
        tg_set(c, 0.52);
        cr_expect_eq(tg_replay(t), TG_OK, "%s: %s", op->name, tg_tape_error(t));
        cr_expect_not_null(tg_replay_note(t), "%s: constant moved the input back across 0",
                           op->name);
        cr_expect_eq(tg_value(in[0]), 0.5, "%s: tg_set on a constant: u = %.17g", op->name,
                     tg_value(in[0]));
        at[0] = 0.5;
        snprintf(want, sizeof want, "%s 'a2[2]': branch changed (input %.6g -> %.6g)", op->name,
                 after, op->branch(at));
        cr_expect_str_eq(tg_replay_note(t), want, "%s: the note after the constant moved",
                         op->name);
        expect_ok(t);
        tg_tape_free(t);
        exercised++;
    }
    cr_expect_gt(nbranch, 0, "no op with a branch kernel in the registry");
    cr_expect_eq(exercised, nbranch, "%d of %d ops with a branch kernel exercised", exercised,
                 nbranch);
}

/* clamp has three pieces, named -1, 0 and 1 by its branch quantity, so a replay that jumps
 * from below lo to above hi in one step is a change of sign too; maximum's quantity is a - b,
 * so leaving a tie is one as well. */
Test(sweep, replay_notes_clamp_jumping_over_its_bounds_and_maximum_leaving_a_tie)
{
    tg_tape *t = new_tape();
    tg_var x = tg_param(t, -5.0), c = tg_clamp(x, -1.0, 1.0);
    tg_label(c, "c");
    tg_set(x, 5.0);
    cr_expect_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_value(c), 1.0);
    cr_assert_not_null(tg_replay_note(t), "below lo to above hi: no note");
    cr_expect_str_eq(tg_replay_note(t), "clamp 'c': branch changed (input -1 -> 1)");
    tg_set(x, 0.5); /* inside */
    cr_expect_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_str_eq(tg_replay_note(t), "clamp 'c': branch changed (input 1 -> 0)");
    tg_set(x, 0.75); /* still inside */
    cr_expect_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_null(tg_replay_note(t), "inside to inside: %s", tg_replay_note(t));

    tg_tape_reset(t);
    tg_var a = tg_param(t, 2.0), b = tg_param(t, 2.0), m = tg_maximum(a, b);
    tg_label(m, "m");
    cr_assert_eq(tg_backward(m), TG_OK, "%s", tg_tape_error(t));
    cr_expect(tg_gradient(a) == 0.5 && tg_gradient(b) == 0.5, "tie: %g, %g", tg_gradient(a),
              tg_gradient(b));
    tg_set(a, 2.5);
    cr_expect_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_str_eq(tg_replay_note(t), "maximum 'm': branch changed (input 0 -> 0.5)");
    cr_assert_eq(tg_backward(m), TG_OK, "%s", tg_tape_error(t));
    cr_expect(tg_gradient(a) == 1.0 && tg_gradient(b) == 0.0, "a wins: %g, %g",
              tg_gradient(a), tg_gradient(b));
    tg_tape_free(t);
}

/* Every kinked op on a tensor operand [1, 3] (other operands 0.01 each): moving element 1 to
 * -4 crosses a branch op's kink at element 1 and moves a choose op's pick to element 0. The
 * attributes are the first of none, {0}, {0, 0} the op accepts (max: axis 0, keepdims 0). */
Test(sweep, replay_flip_on_tensors_names_the_node_and_element_for_each_kinked_op)
{
    static const int zeros[2] = {0, 0};
    const tg_op_def *ops[64];
    int n = kinked_ops(ops, 64), exercised = 0, sh[1] = {2};
    const double start[2] = {1.0, 3.0}, same[2] = {1.5, 4.0}, moved[2] = {1.5, -4.0};
    const double others[2] = {0.01, 0.01};
    for (int i = 0; i < n; i++) {
        const tg_op_def *op = ops[i];
        tg_tape *t = new_tape();
        tg_var in[TG_MAX_ARITY], y = {0};
        int na;
        for (na = 0; na < 3; na++) {
            tg_tape_reset(t);
            in[0] = tg_tensor_param(t, 1, sh, start);
            for (int k = 1; k < op->arity; k++) in[k] = tg_tensor_const(t, 1, sh, others);
            y = tg_apply_attr(op, op->arity, in, na, zeros);
            if (tg_tape_status(t) == TG_OK) break;
        }
        cr_assert_lt(na, 3, "%s: no attributes of none, {0}, {0, 0} accepted on a [2] operand "
                     "(last: %s)", op->name, tg_tape_error(t));
        tg_label(y, "m");
        tg_tensor_set(in[0], same);
        cr_expect_eq(tg_replay(t), TG_OK, "%s: [1, 3] -> [1.5, 4] is on the same side",
                     op->name);
        cr_expect_null(tg_replay_note(t), "%s: a note without a flip: %s", op->name,
                       tg_replay_note(t));
        tg_tensor_set(in[0], moved);
        cr_expect_eq(tg_replay(t), TG_OK, "%s: %s", op->name, tg_tape_error(t));
        char want[160];
        if (op->choose) {
            snprintf(want, sizeof want, "%s 'm': element 0: choice changed (", op->name);
        } else {
            double was[TG_MAX_ARITY] = {same[1], 0.01, 0.01, 0.01};
            double now[TG_MAX_ARITY] = {moved[1], 0.01, 0.01, 0.01};
            snprintf(want, sizeof want, "%s 'm': element 1: branch changed (input %.6g -> %.6g)",
                     op->name, op->branch(was), op->branch(now));
        }
        const char *note = tg_replay_note(t);
        cr_assert_not_null(note, "%s: no note", op->name);
        if (op->choose)
            cr_expect(strncmp(note, want, strlen(want)) == 0, "%s: the note is \"%s\", expected "
                      "it to start \"%s\"", op->name, note, want);
        else
            cr_expect_str_eq(note, want, "%s: the note", op->name);
        expect_ok(t);
        tg_tape_free(t);
        exercised++;
    }
    cr_expect_gt(n, 0, "no kinked op in the registry");
    cr_expect_eq(exercised, n, "%d of %d kinked ops exercised", exercised, n);
}

Test(sweep, replay_note_gives_the_input_before_and_after)
{
    /* tapegrad.h: tg_replay_note names the node "with its input before and after, e.g.
     * relu 'a2[2]': branch changed (input 0.31 -> -0.02)" */
    tg_tape *t = new_tape();
    tg_var p = tg_param(t, 0.31), k = tg_relu(p);
    tg_label(k, "a2[2]");
    tg_set(p, -0.02);
    cr_assert_eq(tg_replay(t), TG_OK);
    const char *note = tg_replay_note(t);
    cr_assert_not_null(note);
    cr_expect_not_null(strstr(note, "0.31"), "the input before the flip (0.31) is missing: %s",
                       note);
    cr_expect_not_null(strstr(note, "-0.02"), "the input after the flip (-0.02) is missing: %s",
                       note);
    tg_tape_free(t);
}

Test(sweep, tg_set_on_constants_changes_inputs_and_targets)
{
    /* E = (w x - y)^2: dE/dw = 2 (w x - y) x */
    tg_tape *t = new_tape();
    tg_var x = tg_const(t, 1.0), y = tg_const(t, 0.0), w = tg_param(t, 0.5);
    tg_var d = tg_sub(tg_mul(w, x), y), e = tg_mul(d, d);
    const double xs[] = {2.0, -1.0, 0.25}, ys[] = {1.0, 3.0, -2.0};
    for (int i = 0; i < 3; i++) {
        tg_set(x, xs[i]);
        tg_set(y, ys[i]);
        cr_assert_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
        cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
        double r = 0.5 * xs[i] - ys[i];
        EXPECT_NEAR(tg_value(e), r * r, "E at x = %g, y = %g", xs[i], ys[i]);
        EXPECT_NEAR(tg_gradient(w), 2 * r * xs[i], "dE/dw at x = %g, y = %g", xs[i], ys[i]);
        cr_expect_eq(tg_gradient(x), 0.0, "dE/dx of a constant input: %.17g", tg_gradient(x));
    }
    expect_ok(t);
    tg_tape_free(t);
}

Test(sweep, sweeps_after_replay_use_the_new_point)
{
    tg_tape *t = new_tape();
    tg_var p = tg_param(t, 1.0), e = tg_mul(p, p);
    double one = 1.0;
    cr_assert_eq(tg_backward(e), TG_OK);
    cr_assert_eq(tg_jvp(t, 1, &p, &one), TG_OK);
    tg_set(p, 3.0);
    cr_assert_eq(tg_replay(t), TG_OK);
    /* the old gradient (2) belongs to the old point; after a new sweep it is 6 */
    cr_assert_eq(tg_backward(e), TG_OK);
    EXPECT_NEAR(tg_gradient(p), 6.0, "dE/dp after replay to p = %g", 3.0);
    cr_assert_eq(tg_jvp(t, 1, &p, &one), TG_OK);
    EXPECT_NEAR(tg_tangent(e), 6.0, "tangent after replay to p = %g", 3.0);
    tg_tape_free(t);
}
