/* test_article.c - the backpropagation article's 2-3-1 network: the reverse sweep's dE/dz at
 * the z nodes and dE/dw at the nine weights against the article's delta formulas, for
 * sigmoid, tanh, relu and leaky relu at many seeded points. The network is built twice (by
 * src/article.c and here with plain builders) and the formulas are written out again here,
 * independently of src/article.c. See LICENSE. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "tapegrad.h"
#include "tapegrad_article.h"
#include "tapegrad_op.h"

#define POINTS 200

/* ---- activations, written out by hand ---- */

enum act { SIGMOID, TANH, RELU, LEAKY };
static const char *const act_name[] = {"sigmoid", "tanh", "relu", "leaky_relu"};

/* A parameter of the parameterized tests: no pointers (they cross into Criterion's workers). */
typedef struct act_case {
    enum act g;
    double slope;
} act_case;

static double g_of(const act_case *c, double z)
{
    switch (c->g) {
    case SIGMOID: return 1.0 / (1.0 + exp(-z));
    case TANH: return tanh(z);
    case RELU: return z > 0 ? z : 0.0;
    case LEAKY: return z > 0 ? z : c->slope * z;
    }
    return NAN;
}

static double g_prime(const act_case *c, double z)
{
    switch (c->g) {
    case SIGMOID: return g_of(c, z) * (1.0 - g_of(c, z));
    case TANH: return 1.0 - tanh(z) * tanh(z);
    case RELU: return z > 0 ? 1.0 : 0.0;
    case LEAKY: return z > 0 ? 1.0 : c->slope;
    }
    return NAN;
}

static tg_var g_node(const act_case *c, tg_var z)
{
    switch (c->g) {
    case SIGMOID: return tg_sigmoid(z);
    case TANH: return tg_tanh(z);
    case RELU: return tg_relu(z);
    case LEAKY: return tg_leaky_relu(z, c->slope);
    }
    return z;
}

/* ---- random points (tests/helpers.h's generator, not the library's seeding) ---- */

static tg_article_point random_point(uint64_t seed)
{
    th_rng r = th_rng_new(th_seed("article", seed));
    tg_article_point p;
    for (int i = 0; i < 2; i++) p.x[i] = th_uniform(&r, -2, 2);
    p.t = th_uniform(&r, -0.5, 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) p.w1[i][j] = th_uniform(&r, -1.5, 1.5);
    for (int j = 0; j < 3; j++) p.w2[j] = th_uniform(&r, -1.5, 1.5);
    return p;
}

/* ---- the article on paper: forward pass and delta formulas in plain C ---- */

typedef struct hand {
    double z2[3], a2[3], z3, a3, E;
    double delta3, delta2[3], dw1[2][3], dw2[3];
} hand;

/* The article's derivation at p. delta_j[2] uses w2_delta for wj1[2]: p->w2 as the article
 * says, or other weights to show what its warning is about. */
static hand derive(const act_case *c, const tg_article_point *p, const double *w2_delta)
{
    hand h;
    h.z3 = 0;
    for (int j = 0; j < 3; j++) {
        h.z2[j] = p->w1[0][j] * p->x[0] + p->w1[1][j] * p->x[1]; /* z_j[2] */
        h.a2[j] = g_of(c, h.z2[j]);                                /* a_j[2] */
        h.z3 += p->w2[j] * h.a2[j];                                /* z1[3] */
    }
    h.a3 = g_of(c, h.z3);
    h.E = 0.5 * (h.a3 - p->t) * (h.a3 - p->t);

    h.delta3 = (h.a3 - p->t) * g_prime(c, h.z3); /* delta1[3] = (a1[3] - t) g'(z1[3]) */
    for (int j = 0; j < 3; j++) {
        h.dw2[j] = h.a2[j] * h.delta3;                                   /* dE/dwj1[2] */
        h.delta2[j] = h.delta3 * w2_delta[j] * g_prime(c, h.z2[j]);      /* deltaj[2] */
        for (int i = 0; i < 2; i++) h.dw1[i][j] = p->x[i] * h.delta2[j]; /* dE/dwij[1] */
    }
    return h;
}

/* ---- the article as a graph, built here with plain builders ---- */

typedef struct graph {
    tg_var x[2], t, w1[2][3], w2[3], z2[3], a2[3], z3, a3, E;
} graph;

static tg_var lab(tg_var v, const char *name)
{
    tg_label(v, name);
    return v;
}

static graph build_plain(tg_tape *tp, const act_case *c, const tg_article_point *p)
{
    graph n;
    char nm[32];
    n.x[0] = lab(tg_const(tp, p->x[0]), "x1");
    n.x[1] = lab(tg_const(tp, p->x[1]), "x2");
    n.t = lab(tg_const(tp, p->t), "t");
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            snprintf(nm, sizeof nm, "w%d%d[1]", i + 1, j + 1);
            n.w1[i][j] = lab(tg_param(tp, p->w1[i][j]), nm);
        }
    for (int j = 0; j < 3; j++) {
        snprintf(nm, sizeof nm, "w%d1[2]", j + 1);
        n.w2[j] = lab(tg_param(tp, p->w2[j]), nm);
    }
    /* z_j[2] = w1j[1]*x1 + w2j[1]*x2, a_j[2] = g(z_j[2]) */
    for (int j = 0; j < 3; j++) {
        snprintf(nm, sizeof nm, "z%d[2]", j + 1);
        n.z2[j] = lab(tg_add(tg_mul(n.w1[0][j], n.x[0]), tg_mul(n.w1[1][j], n.x[1])), nm);
        snprintf(nm, sizeof nm, "a%d[2]", j + 1);
        n.a2[j] = lab(g_node(c, n.z2[j]), nm);
    }
    /* z1[3] = sum_j wj1[2]*a_j[2], a1[3] = g(z1[3]) */
    tg_var s = tg_add(tg_add(tg_mul(n.w2[0], n.a2[0]), tg_mul(n.w2[1], n.a2[1])),
                      tg_mul(n.w2[2], n.a2[2]));
    n.z3 = lab(s, "z1[3]");
    n.a3 = lab(g_node(c, n.z3), "a1[3]");
    /* E = 1/2 (a1[3] - t)^2 */
    tg_var d = tg_sub(n.a3, n.t);
    n.E = lab(tg_mul(tg_const(tp, 0.5), tg_mul(d, d)), "E");
    return n;
}

/* ---- comparisons ---- */

static int close_to(double got, double want, double tol) { return th_close(got, want, tol, tol); }

#define EXPECT_CLOSE(got, want, tol, what, ...)                                               \
    cr_expect(close_to((got), (want), (tol)), "%s: " what ": got %.17g, expected %.17g",      \
              act_name[c->g], __VA_ARGS__, (double)(got), (double)(want))

static const char *const z_names[4] = {"z1[3]", "z1[2]", "z2[2]", "z3[2]"};

static void labelled_z(tg_tape *tp, tg_var z[4])
{
    for (int k = 0; k < 4; k++) {
        z[k] = tg_tape_find(tp, z_names[k]);
        cr_assert(z[k].index != TG_NONE, "no node labelled %s", z_names[k]);
    }
}

static act_case *cases_make(void)
{
    static act_case cases[] = {{SIGMOID, 0}, {TANH, 0}, {RELU, 0}, {LEAKY, 0.01}, {LEAKY, 0.3}};
    return cases;
}
#define NCASES 5

/* ---- the sweep agrees with the article ---- */

ParameterizedTestParameters(article, sweep_gives_the_articles_deltas_and_weight_gradients)
{
    return cr_make_param_array(act_case, cases_make(), NCASES);
}

ParameterizedTest(act_case *c, article, sweep_gives_the_articles_deltas_and_weight_gradients)
{
    const double tol = 1e-12;
    tg_tape *ta = tg_tape_new(), *tb = tg_tape_new();
    const tg_op_def *g = tg_article_activation(act_name[c->g]);
    cr_assert_not_null(g);
    for (uint64_t seed = 1; seed <= POINTS; seed++) {
        tg_article_point p = random_point(seed);
        hand h = derive(c, &p, p.w2);

        /* the library's network and the plain one */
        tg_tape_reset(ta);
        tg_tape_reset(tb);
        tg_article net;
        cr_assert_eq(tg_article_build(&net, ta, g, c->slope, &p), TG_OK, "%s",
                     tg_tape_error(ta));
        graph n = build_plain(tb, c, &p);
        cr_assert_null(tg_tape_error(tb), "%s", tg_tape_error(tb));
        cr_assert_eq(tg_backward(n.E), 0);
        tg_article_grads lib, lib_formula;
        cr_assert_eq(tg_article_tape_grads(&net, &lib), 0);
        tg_article_formula(&net, &lib_formula);

        EXPECT_CLOSE(tg_value(n.E), h.E, tol, "E at seed %llu", (unsigned long long)seed);
        EXPECT_CLOSE(tg_value(net.E), h.E, tol, "library E at seed %llu",
                     (unsigned long long)seed);
        EXPECT_CLOSE(tg_gradient(n.z3), h.delta3, tol, "dE/dz1[3] at seed %llu",
                     (unsigned long long)seed);
        EXPECT_CLOSE(lib.delta3, h.delta3, tol, "library dE/dz1[3] at seed %llu",
                     (unsigned long long)seed);
        EXPECT_CLOSE(lib_formula.delta3, h.delta3, tol, "library delta1[3] at seed %llu",
                     (unsigned long long)seed);
        for (int j = 0; j < 3; j++) {
            EXPECT_CLOSE(tg_gradient(n.z2[j]), h.delta2[j], tol, "dE/dz%d[2] at seed %llu",
                         j + 1, (unsigned long long)seed);
            EXPECT_CLOSE(lib.delta2[j], h.delta2[j], tol, "library dE/dz%d[2] at seed %llu",
                         j + 1, (unsigned long long)seed);
            EXPECT_CLOSE(lib_formula.delta2[j], h.delta2[j], tol,
                         "library delta%d[2] at seed %llu", j + 1, (unsigned long long)seed);
            EXPECT_CLOSE(tg_gradient(n.w2[j]), h.dw2[j], tol, "dE/dw%d1[2] at seed %llu",
                         j + 1, (unsigned long long)seed);
            EXPECT_CLOSE(lib.w2[j], h.dw2[j], tol, "library dE/dw%d1[2] at seed %llu", j + 1,
                         (unsigned long long)seed);
            EXPECT_CLOSE(lib_formula.w2[j], h.dw2[j], tol,
                         "library formula dE/dw%d1[2] at seed %llu", j + 1,
                         (unsigned long long)seed);
            for (int i = 0; i < 2; i++) {
                EXPECT_CLOSE(tg_gradient(n.w1[i][j]), h.dw1[i][j], tol,
                             "dE/dw%d%d[1] at seed %llu", i + 1, j + 1,
                             (unsigned long long)seed);
                EXPECT_CLOSE(lib.w1[i][j], h.dw1[i][j], tol, "library dE/dw%d%d[1] at seed %llu",
                             i + 1, j + 1, (unsigned long long)seed);
                EXPECT_CLOSE(lib_formula.w1[i][j], h.dw1[i][j], tol,
                             "library formula dE/dw%d%d[1] at seed %llu", i + 1, j + 1,
                             (unsigned long long)seed);
            }
        }

        /* the same deltas stated as claimed adjoints at the labelled nodes, on both tapes */
        double claims[4] = {h.delta3, h.delta2[0], h.delta2[1], h.delta2[2]};
        tg_check_opts o = {.rtol = 1e-10, .atol = 1e-12};
        tg_var z[4];
        tg_adjoint_report rep;
        tg_tape *tapes[2] = {ta, tb};
        for (int k = 0; k < 2; k++) {
            labelled_z(tapes[k], z);
            tg_var E = tg_tape_find(tapes[k], "E");
            tg_status rc = tg_check_adjoints(E, 4, z, claims, &o, &rep);
            cr_assert_eq(rc, TG_OK, "%s", tg_tape_error(E.tape));
            cr_expect_eq(rep.failed, 0, "%s seed %llu tape %d: %d claims disagree, first %s: claimed "
                         "%.17g, sweep %.17g", act_name[c->g], (unsigned long long)seed, k,
                         rep.failed, rep.first >= 0 ? z_names[rep.first] : "-", rep.expected,
                         rep.actual);
            cr_expect_eq(rep.first, -1);
        }
    }
    tg_tape_free(ta);
    tg_tape_free(tb);
}

/* The claim callback: the article's deltas from the node values, but with the classic slip of
 * forgetting g'(z1[3]) in delta1[3] (the hidden deltas then carry the slip on). */
typedef struct slip {
    act_case c;
    tg_var w2[3];
} slip;

static double slipped_claim(void *ud, int k, const tg_var *z)
{
    const slip *s = ud;
    tg_var a3 = tg_tape_find(z[0].tape, "a1[3]"), t = tg_tape_find(z[0].tape, "t");
    double delta3 = tg_value(a3) - tg_value(t); /* should be (a1[3] - t) * g'(z1[3]) */
    if (k == 3) return delta3;
    return delta3 * tg_value(s->w2[k]) * g_prime(&s->c, tg_value(z[k]));
}

ParameterizedTestParameters(article, forgotten_output_g_prime_is_localised_at_z1_3)
{
    return cr_make_param_array(act_case, cases_make(), NCASES);
}

ParameterizedTest(act_case *c, article, forgotten_output_g_prime_is_localised_at_z1_3)
{
    tg_tape *tp = tg_tape_new();
    const tg_op_def *g = tg_article_activation(act_name[c->g]);
    int checked = 0;
    for (uint64_t seed = 1; seed <= POINTS; seed++) {
        tg_article_point p = random_point(seed);
        tg_tape_reset(tp);
        tg_article net;
        cr_assert_eq(tg_article_build(&net, tp, g, c->slope, &p), TG_OK);
        /* where g'(z1[3]) = 1 (relu's active side) forgetting it is no mistake at all */
        if (g_prime(c, tg_value(net.z3)) == 1.0 || tg_value(net.a3) == tg_value(net.t)) continue;
        checked++;
        /* nodes listed hidden layer first, so "first" must come from sweep order, not from
         * the order of the list */
        tg_var z[4] = {net.z2[0], net.z2[1], net.z2[2], net.z3};
        slip s = {*c, {net.w2[0], net.w2[1], net.w2[2]}};
        tg_adjoint_report rep;
        tg_status rc = tg_check_adjoints_fn(net.E, 4, z, slipped_claim, &s, NULL, &rep);
        cr_assert_eq(rc, TG_OK, "%s", tg_tape_error(tp));
        cr_assert_gt(rep.failed, 0, "%s seed %llu: the slip went unnoticed", act_name[c->g],
                     (unsigned long long)seed);
        cr_assert_eq(rep.first, 3, "%s seed %llu: first diverging node is %s, not z1[3]",
                     act_name[c->g], (unsigned long long)seed,
                     rep.first >= 0 ? tg_label_of(z[rep.first]) : "none");
        cr_assert_str_eq(tg_label_of(z[rep.first]), "z1[3]");
        cr_assert_float_eq(rep.actual, tg_gradient(net.z3), 0.0);
        cr_assert_float_eq(rep.expected, tg_value(net.a3) - tg_value(net.t), 0.0);

        /* with g'(z1[3]) put back, every claim holds */
        double right[4];
        for (int k = 0; k < 4; k++) right[k] = slipped_claim(&s, k, z) * g_prime(c, tg_value(net.z3));
        cr_assert_eq(tg_check_adjoints(net.E, 4, z, right, NULL, &rep), TG_OK);
        cr_assert_eq(rep.failed, 0,
                     "%s seed %llu: corrected claims still disagree at %s", act_name[c->g],
                     (unsigned long long)seed, rep.first >= 0 ? tg_label_of(z[rep.first]) : "-");
    }
    cr_assert_gt(checked, POINTS / 4, "%s: only %d usable points", act_name[c->g], checked);
    tg_tape_free(tp);
}

/* ---- the update rule ---- */

ParameterizedTestParameters(article, a_small_gradient_step_lowers_E)
{
    return cr_make_param_array(act_case, cases_make(), NCASES);
}

ParameterizedTest(act_case *c, article, a_small_gradient_step_lowers_E)
{
    const double eta = 1e-3;
    tg_tape *tp = tg_tape_new();
    const tg_op_def *g = tg_article_activation(act_name[c->g]);
    int lowered = 0, flips = 0;
    for (uint64_t seed = 1; seed <= POINTS; seed++) {
        tg_article_point p = random_point(seed);
        hand h = derive(c, &p, p.w2);
        double norm2 = 0;
        for (int j = 0; j < 3; j++) norm2 += h.dw2[j] * h.dw2[j] + h.dw1[0][j] * h.dw1[0][j] +
                                             h.dw1[1][j] * h.dw1[1][j];

        /* w <- w - eta*dE/dw by hand, every gradient from the old weights */
        tg_article_point q = p;
        for (int j = 0; j < 3; j++) {
            q.w2[j] -= eta * h.dw2[j];
            for (int i = 0; i < 2; i++) q.w1[i][j] -= eta * h.dw1[i][j];
        }
        hand after = derive(c, &q, q.w2);

        /* the same step by the library on one recorded tape (set + replay) */
        tg_tape_reset(tp);
        tg_article net;
        cr_assert_eq(tg_article_build(&net, tp, g, c->slope, &p), TG_OK);
        cr_assert_eq(tg_article_step(&net, eta), TG_OK, "%s", tg_tape_error(tp));
        cr_expect(close_to(tg_value(net.E), after.E, 1e-12), "%s seed %llu: replayed E %.17g, "
                  "by hand %.17g", act_name[c->g], (unsigned long long)seed, tg_value(net.E),
                  after.E);
        if (tg_replay_note(tp)) { /* a kink inside the step: first-order reasoning stops there */
            flips++;
            continue;
        }
        /* E drops by about eta*|grad|^2; below rounding of E it cannot be seen */
        cr_expect_leq(after.E, h.E, "%s seed %llu: E rose from %.17g to %.17g", act_name[c->g],
                      (unsigned long long)seed, h.E, after.E);
        if (eta * norm2 > 1e-12 * (1 + h.E)) {
            cr_expect_lt(after.E, h.E, "%s seed %llu: E %.17g not lowered (|grad|^2 = %g)",
                         act_name[c->g], (unsigned long long)seed, h.E, norm2);
            lowered++;
        }
    }
    cr_expect_lt(flips, POINTS / 20, "%s: %d kink crossings with eta = %g", act_name[c->g],
                 flips, eta);
    cr_expect_gt(lowered, POINTS / 3, "%s: E visibly lowered at only %d points", act_name[c->g],
                 lowered);
    tg_tape_free(tp);
}

/* The article's warning: compute deltaj[2] with wj1[2] as it was before the update. Using the
 * already updated wj1[2] gives dE/dwij[1] off by -eta*x_i*delta1[3]^2*a_j[2]*g'(z_j[2]): not the
 * gradient at the old point, nor at the new one. */
ParameterizedTestParameters(article, delta2_from_updated_w2_is_a_wrong_gradient)
{
    return cr_make_param_array(act_case, cases_make(), NCASES);
}

ParameterizedTest(act_case *c, article, delta2_from_updated_w2_is_a_wrong_gradient)
{
    const double eta = 0.5;
    tg_tape *tp = tg_tape_new();
    const tg_op_def *g = tg_article_activation(act_name[c->g]);
    int shown = 0;
    for (uint64_t seed = 1; seed <= POINTS; seed++) {
        tg_article_point p = random_point(seed);
        tg_tape_reset(tp);
        tg_article net;
        cr_assert_eq(tg_article_build(&net, tp, g, c->slope, &p), TG_OK);
        tg_article_grads tape;
        cr_assert_eq(tg_article_tape_grads(&net, &tape), 0);

        hand right = derive(c, &p, p.w2);
        double w2_new[3];
        for (int j = 0; j < 3; j++) w2_new[j] = p.w2[j] - eta * right.dw2[j];
        hand wrong = derive(c, &p, w2_new);

        /* the gradient at the new weights w1, w2_new: what the mix is not either */
        tg_article_point mixed = p;
        memcpy(mixed.w2, w2_new, sizeof w2_new);
        hand at_new = derive(c, &mixed, mixed.w2);

        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                double err = -eta * p.x[i] * right.delta3 * right.delta3 * right.a2[j] *
                             g_prime(c, right.z2[j]);
                EXPECT_CLOSE(right.dw1[i][j], tape.w1[i][j], 1e-12, "old w: dE/dw%d%d[1] seed %llu",
                             i + 1, j + 1, (unsigned long long)seed);
                EXPECT_CLOSE(wrong.dw1[i][j] - tape.w1[i][j], err, 1e-9,
                             "new w: error of dE/dw%d%d[1] seed %llu", i + 1, j + 1,
                             (unsigned long long)seed);
                if (fabs(err) > 1e-6 * (1 + fabs(tape.w1[i][j]))) {
                    shown++;
                    cr_expect(!close_to(wrong.dw1[i][j], tape.w1[i][j], 1e-8));
                    /* (with leaky relu's small slope on the output side the two nearly meet:
                     * delta1[3] then hardly moves with w2) */
                    double gap = fabs(wrong.dw1[i][j] - at_new.dw1[i][j]);
                    if (c->g == SIGMOID || c->g == TANH)
                        cr_expect_gt(gap, 1e-6 * fabs(at_new.dw1[i][j]),
                                     "%s seed %llu: the mix equals the gradient at the new point",
                                     act_name[c->g], (unsigned long long)seed);
                }
            }
        }
    }
    cr_expect_gt(shown, POINTS, "%s: the stale-weight error showed at only %d entries",
                 act_name[c->g], shown);
    tg_tape_free(tp);
}

/* At x1 = x2 = 0 every z is exactly 0: the kinks. The article's g'(0) must be the ops'
 * documented one-sided values (relu'(0) = 0, leaky_relu'(0) = slope) for the formulas and the
 * sweep to agree there. */
Test(article, deltas_at_the_kink_use_the_ops_conventions)
{
    static const act_case kinked[] = {{RELU, 0}, {LEAKY, 0.01}, {LEAKY, 0.3}};
    tg_tape *tp = tg_tape_new();
    for (int k = 0; k < 3; k++) {
        const act_case *c = &kinked[k];
        tg_article_point p = random_point(3);
        p.x[0] = p.x[1] = 0;
        p.t = 0.5;
        tg_tape_reset(tp);
        tg_article net;
        cr_assert_eq(tg_article_build(&net, tp, tg_article_activation(act_name[c->g]), c->slope,
                                      &p), TG_OK);
        cr_assert_eq(tg_value(net.z3), 0.0);
        hand h = derive(c, &p, p.w2);
        tg_article_report r;
        cr_assert_eq(tg_article_evaluate(&net, &r), 0);
        cr_expect_eq(h.delta3, -0.5 * (c->g == RELU ? 0.0 : c->slope));
        EXPECT_CLOSE(r.tape.delta3, h.delta3, 0.0, "dE/dz1[3] at %s", "the kink");
        EXPECT_CLOSE(r.formula.delta3, h.delta3, 0.0, "delta1[3] at %s", "the kink");
        for (int j = 0; j < 3; j++) {
            EXPECT_CLOSE(r.tape.delta2[j], h.delta2[j], 0.0, "dE/dz%d[2] at the kink", j + 1);
            EXPECT_CLOSE(r.formula.delta2[j], h.delta2[j], 0.0, "delta%d[2] at the kink", j + 1);
        }
        cr_expect_eq(r.max_abs_diff, 0.0);
    }
    tg_tape_free(tp);
}

/* ---- finite differences ---- */

ParameterizedTestParameters(article, gradient_check_passes_on_all_nine_weights)
{
    static act_case smooth[] = {{SIGMOID, 0}, {TANH, 0}};
    return cr_make_param_array(act_case, smooth, 2);
}

ParameterizedTest(act_case *c, article, gradient_check_passes_on_all_nine_weights)
{
    tg_tape *tp = tg_tape_new();
    const tg_op_def *g = tg_article_activation(act_name[c->g]);
    for (uint64_t seed = 1; seed <= 50; seed++) {
        tg_article_point p = random_point(seed);
        tg_tape_reset(tp);
        tg_article net;
        cr_assert_eq(tg_article_build(&net, tp, g, 0, &p), TG_OK);
        tg_var w[9] = {net.w1[0][0], net.w1[0][1], net.w1[0][2], net.w1[1][0], net.w1[1][1],
                       net.w1[1][2], net.w2[0],    net.w2[1],    net.w2[2]};
        tg_check_result r[9];
        tg_check_report rep;
        cr_assert_eq(tg_check_grad(net.E, 9, w, NULL, r, &rep), TG_OK, "%s", tg_tape_error(tp));
        cr_expect_eq(rep.failed, 0, "%s seed %llu: %d of 9 weights failed, worst %s (rel %g)",
                     act_name[c->g], (unsigned long long)seed, rep.failed,
                     rep.worst >= 0 ? tg_label_of(w[rep.worst]) : "-", rep.worst_rel);
        cr_expect_eq(rep.n, 9);
        cr_expect_eq(rep.kinks + rep.undefined, 0);
        /* the check restored the point it probed around */
        for (int k = 0; k < 9; k++) cr_expect(r[k].pass);
        cr_expect_eq(tg_value(net.w1[0][0]), p.w1[0][0]);
    }
    tg_tape_free(tp);
}

/* ---- the library's article API ---- */

Test(article, every_node_is_labelled_with_the_articles_names)
{
    static const char *const names[] = {
        "x1", "x2", "t", "w11[1]", "w12[1]", "w13[1]", "w21[1]", "w22[1]", "w23[1]", "w11[2]",
        "w21[2]", "w31[2]", "z1[2]", "z2[2]", "z3[2]", "a1[2]", "a2[2]", "a3[2]", "z1[3]",
        "a1[3]", "E"};
    tg_tape *tp = tg_tape_new();
    tg_article_point p;
    tg_article_point_seed(&p, TG_ARTICLE_SEED);
    tg_article net;
    cr_assert_eq(tg_article_build(&net, tp, tg_article_activation("leaky_relu"), 0.1, &p), TG_OK);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        cr_expect_neq(tg_tape_find(tp, names[k]).index, TG_NONE, "no node %s", names[k]);
    cr_expect_eq(tg_tape_find(tp, "z1[3]").index, net.z3.index);
    cr_expect_eq(tg_tape_find(tp, "a2[2]").index, net.a2[1].index);
    cr_expect_eq(tg_tape_find(tp, "w23[1]").index, net.w1[1][2].index);
    cr_expect_eq(tg_tape_find(tp, "w31[2]").index, net.w2[2].index);
    cr_expect_eq(tg_tape_find(tp, "E").index, net.E.index);
    for (uint32_t i = 0; i < tg_tape_size(tp); i++) {
        tg_var v = {tp, i, net.E.epoch};
        cr_expect_not_null(tg_label_of(v), "node #%u has no label", i);
    }
    cr_expect_null(tg_tape_error(tp));
    tg_tape_free(tp);
}

Test(article, activations_come_from_the_registry)
{
    cr_expect_eq(tg_article_activation("sigmoid"), &tg_op_sigmoid);
    cr_expect_eq(tg_article_activation("tanh"), &tg_op_tanh);
    cr_expect_eq(tg_article_activation("relu"), &tg_op_relu);
    cr_expect_eq(tg_article_activation("leaky_relu"), &tg_op_leaky_relu);
    cr_expect_null(tg_article_activation("exp"));
    cr_expect_null(tg_article_activation("sigmoid "));
    cr_expect_null(tg_article_activation(NULL));
    for (int i = 0; i < 4; i++) cr_expect_str_eq(tg_article_activation_name(i), act_name[i]);
    cr_expect_null(tg_article_activation_name(4));
    cr_expect_null(tg_article_activation_name(-1));
}

/* Any other activation from the registry works too; the formula column then takes g' from the
 * descriptor's partials, so the comparison checks the deltas' chain of products. */
Test(article, other_registry_activations_follow_the_same_formulas)
{
    static const char *const names[] = {"softplus", "silu", "gelu", "sin"};
    tg_tape *tp = tg_tape_new();
    for (int k = 0; k < 4; k++) {
        const tg_op_def *g = tg_registry_find(NULL, names[k]);
        cr_assert_not_null(g, "%s", names[k]);
        for (uint64_t seed = 1; seed <= 20; seed++) {
            tg_article_point p = random_point(seed);
            tg_tape_reset(tp);
            tg_article net;
            cr_assert_eq(tg_article_build(&net, tp, g, 0, &p), TG_OK, "%s", tg_tape_error(tp));
            tg_article_report r;
            cr_assert_eq(tg_article_evaluate(&net, &r), 0);
            cr_expect_leq(r.max_abs_diff, 1e-14 * (1 + fabs(r.tape.delta3)), "%s seed %llu: %g",
                          names[k], (unsigned long long)seed, r.max_abs_diff);
        }
    }
    tg_tape_free(tp);
}

Test(article, points_are_seeded_reproducibly_and_set_by_name)
{
    tg_article_point a, b;
    tg_article_point_seed(&a, 7);
    tg_article_point_seed(&b, 7);
    cr_expect_eq(memcmp(&a, &b, sizeof a), 0);
    tg_article_point_seed(&b, 8);
    cr_expect_neq(memcmp(&a, &b, sizeof a), 0);
    cr_expect(a.t >= 0 && a.t < 1);
    for (int i = 0; i < 2; i++) cr_expect(a.x[i] >= -1 && a.x[i] < 1);
    for (int j = 0; j < 3; j++) cr_expect(a.w2[j] >= -1 && a.w2[j] < 1);

    cr_expect_eq(tg_article_point_set(&a, "w23[1]", 4.5), TG_OK);
    cr_expect_eq(a.w1[1][2], 4.5);
    cr_expect_eq(tg_article_point_set(&a, "w31[2]", -2), TG_OK);
    cr_expect_eq(a.w2[2], -2);
    cr_expect_eq(tg_article_point_set(&a, "t", 0.25), TG_OK);
    cr_expect_eq(a.t, 0.25);
    b = a;
    cr_expect_eq(tg_article_point_set(&a, "w33[1]", 1), TG_ERR_ARG);
    cr_expect_eq(tg_article_point_set(&a, "w11", 1), TG_ERR_ARG);
    cr_expect_eq(memcmp(&a, &b, sizeof a), 0);
    cr_expect_str_eq(tg_article_leaf_name(0), "x1");
    cr_expect_str_eq(tg_article_leaf_name(11), "w31[2]");
    cr_expect_null(tg_article_leaf_name(TG_ARTICLE_NLEAVES));
}

Test(article, replaying_a_new_point_equals_recording_it)
{
    const act_case cc = {TANH, 0}, *c = &cc;
    tg_tape *ta = tg_tape_new(), *tb = tg_tape_new();
    tg_article_point p = random_point(1), q = random_point(2), back;
    tg_article a, b;
    cr_assert_eq(tg_article_build(&a, ta, &tg_op_tanh, 0, &p), TG_OK);
    cr_assert_eq(tg_article_set_point(&a, &q), TG_OK);
    cr_assert_eq(tg_article_build(&b, tb, &tg_op_tanh, 0, &q), TG_OK);
    tg_article_report ra, rb;
    cr_assert_eq(tg_article_evaluate(&a, &ra), 0);
    cr_assert_eq(tg_article_evaluate(&b, &rb), 0);
    cr_expect_eq(ra.E, rb.E);
    cr_expect_eq(memcmp(&ra.tape, &rb.tape, sizeof ra.tape), 0);
    cr_expect_leq(ra.max_abs_diff, 1e-15);
    tg_article_point_get(&a, &back);
    cr_expect_eq(memcmp(&back, &q, sizeof q), 0);
    EXPECT_CLOSE(ra.E, derive(c, &q, q.w2).E, 1e-12, "E at %s", "q");
    tg_tape_free(ta);
    tg_tape_free(tb);
}

Test(article, relu_steps_report_the_flipped_node)
{
    /* z1[2] = w11[1]*x1 + w21[1]*x2 = 0.05 > 0 and a1[3] = 0.05 > t = 0, so dE/dw11[1] =
     * x1*delta1[2] = 0.05: a step with rate 2 takes w11[1] to -0.05 and z1[2] below 0. The
     * replay must say so, naming the relu node a1[2]. */
    tg_article_point p = {{1, 0}, 0, {{0.05, -1, -1}, {0, 0, 0}}, {1, 0, 0}};
    tg_tape *tp = tg_tape_new();
    tg_article net;
    cr_assert_eq(tg_article_build(&net, tp, &tg_op_relu, 0, &p), TG_OK);
    tg_article_grads gr;
    cr_assert_eq(tg_article_tape_grads(&net, &gr), 0);
    cr_assert_float_eq(gr.w1[0][0], 0.05, 1e-15);
    cr_assert_eq(tg_article_step(&net, 2.0), TG_OK);
    cr_expect_lt(tg_value(net.z2[0]), 0);
    const char *note = tg_replay_note(tp);
    cr_assert_not_null(note);
    cr_expect(strstr(note, "a1[2]") != NULL, "note: %s", note);
    tg_tape_free(tp);
}

Test(article, bad_arguments_are_reported_on_the_tape)
{
    tg_tape *tp = tg_tape_new();
    tg_article net;
    tg_article_point p;
    tg_article_point_seed(&p, 1);
    cr_expect_eq(tg_article_build(&net, NULL, &tg_op_tanh, 0, &p), TG_ERR_ARG);
    cr_expect_eq(tg_article_build(&net, tp, NULL, 0, &p), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(tp), "tg_article_build: the activation is NULL");
    tg_tape_reset(tp);
    cr_expect_eq(tg_article_build(&net, tp, &tg_op_tanh, 0, NULL), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(tp), "tg_article_build: the point is NULL");
    tg_tape_free(tp);
}

Test(article, program_refuses_bad_arguments)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_expect_eq(tg_article_program(NULL, &tg_op_sigmoid, 0), TG_ERR_ARG);
    cr_expect_eq(tg_article_program(f, NULL, 0), TG_ERR_ARG);
    cr_expect_eq(tg_article_program(f, &tg_op_where, 0), TG_ERR_ARG); /* three operands */
    cr_expect_eq(ftell(f), 0, "nothing is written when refused");
    cr_expect_eq(tg_article_program(f, &tg_op_tanh, 0), TG_OK);
    cr_expect_gt(ftell(f), 0);
    fclose(f);
}

/* ---- the program (tg_article_program) is the network (tg_article_build) ---- */

/* The program's text for activation g, malloc'd. */
static char *program_text(const tg_op_def *g, double slope)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(tg_article_program(f, g, slope), TG_OK);
    long n = ftell(f);
    char *text = malloc((size_t)n + 1);
    rewind(f);
    cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The leaves of a point by name, as tg_parse meets them: x1, x2 and t constants, the nine
 * weights parameters, as tg_article_build makes them; any other name is refused. */
typedef struct leaves {
    const tg_article_point *p;
    int met[TG_ARTICLE_NLEAVES];
} leaves;

static tg_var bind_leaf(void *ud, tg_tape *t, const char *name)
{
    leaves *l = ud;
    const double v[TG_ARTICLE_NLEAVES] = {
        l->p->x[0],     l->p->x[1],     l->p->t,        l->p->w1[0][0], l->p->w1[0][1],
        l->p->w1[0][2], l->p->w1[1][0], l->p->w1[1][1], l->p->w1[1][2], l->p->w2[0],
        l->p->w2[1],    l->p->w2[2]};
    for (int i = 0; i < TG_ARTICLE_NLEAVES; i++) {
        if (strcmp(name, tg_article_leaf_name(i)) != 0) continue;
        l->met[i]++;
        return i < 3 ? tg_const(t, v[i]) : tg_param(t, v[i]);
    }
    tg_var none = {.tape = t, .index = TG_NONE};
    return none;
}

ParameterizedTestParameters(article, program_records_the_same_network)
{
    return cr_make_param_array(act_case, cases_make(), NCASES);
}

/* At the article command's default point and at random ones: E, dE/dw for the nine weights
 * and the value and dE/dNAME of every named step (z and a of each unit) of the parsed program
 * equal the library's network's, bit for bit. Only E may differ, in the last place: the
 * program squares with ^2 (pow), the network multiplies a1[3]-t by itself. The adjoint of
 * a1[3]-t is the same either way (1/2*(2*e) = 1/2*e + 1/2*e exactly), so nothing below it
 * differs. */
ParameterizedTest(act_case *c, article, program_records_the_same_network)
{
    const double tol = 0.0, tol_E = 1e-15;
    const tg_op_def *g = tg_article_activation(act_name[c->g]);
    cr_assert_not_null(g);
    char *text = program_text(g, c->slope);
    tg_tape *ta = tg_tape_new(), *tb = tg_tape_new();
    static const char *const steps[] = {"z1[2]", "a1[2]", "z2[2]", "a2[2]", "z3[2]",
                                        "a3[2]", "z1[3]", "a1[3]"};
    for (uint64_t k = 0; k <= POINTS; k++) {
        tg_article_point p;
        if (k == 0) tg_article_point_seed(&p, TG_ARTICLE_SEED); /* `tapegrad article`'s */
        else if (k % 2) tg_article_point_seed(&p, k);
        else p = random_point(k);

        tg_tape_reset(ta);
        tg_article net;
        cr_assert_eq(tg_article_build(&net, ta, g, c->slope, &p), TG_OK, "%s", tg_tape_error(ta));
        cr_assert_eq(tg_backward(net.E), TG_OK);
        const tg_var named[] = {net.z2[0], net.a2[0], net.z2[1], net.a2[1], net.z2[2],
                                net.a2[2], net.z3,    net.a3};

        tg_tape_reset(tb);
        leaves l = {.p = &p};
        tg_parse_opts o = {.bind = bind_leaf, .bind_ud = &l};
        tg_parse_error err;
        tg_var E = tg_parse(tb, text, NULL, &o, &err);
        cr_assert(E.index != TG_NONE, "%s: the program does not parse: column %d: %s",
                  act_name[c->g], err.column, err.message);
        for (int i = 0; i < TG_ARTICLE_NLEAVES; i++)
            cr_assert_eq(l.met[i], 1, "%s: leaf %s met %d times", act_name[c->g],
                         tg_article_leaf_name(i), l.met[i]);
        cr_assert_eq(tg_backward(E), TG_OK, "%s", tg_tape_error(tb));

        EXPECT_CLOSE(tg_value(E), tg_value(net.E), tol_E, "point %d: E", (int)k);
        for (int i = 3; i < TG_ARTICLE_NLEAVES; i++) {
            const char *w = tg_article_leaf_name(i);
            EXPECT_CLOSE(tg_gradient(tg_tape_find(tb, w)), tg_gradient(tg_tape_find(ta, w)),
                         tol, "point %d: dE/d%s", (int)k, w);
        }
        for (int s = 0; s < 8; s++) {
            tg_var v = tg_tape_find(tb, steps[s]);
            cr_assert(v.index != TG_NONE, "%s: no node labelled %s", act_name[c->g], steps[s]);
            cr_assert_str_eq(tg_label_of(named[s]), steps[s]);
            EXPECT_CLOSE(tg_value(v), tg_value(named[s]), tol, "point %d: %s", (int)k,
                         steps[s]);
            EXPECT_CLOSE(tg_gradient(v), tg_gradient(named[s]), tol, "point %d: dE/d%s",
                         (int)k, steps[s]);
        }
        cr_expect_str_eq(tg_label_of(E), "E");
    }
    tg_tape_free(ta);
    tg_tape_free(tb);
    free(text);
}
