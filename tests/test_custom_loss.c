/* test_custom_loss.c - custom losses the user's way (docs/custom-loss.md): a loss written from
 * primitives, its gradient from the sweep, the gradient derived by hand, and both checked
 * against the library's fused op and tg_check_grad, at several shapes and logit scales.
 * Softmax cross-entropy, mean squared error, binary cross-entropy with logits, and Huber (not
 * shipped: built from abs, step and where). Also: the naive compositions overflow at large
 * logits, anomaly mode names the op that did it, the fused ops stay finite. See LICENSE. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "tapegrad.h"

#define MAXN 8
#define MAXC 10
#define MAXE (MAXN * MAXC)

/* ---- a problem: logits Z [N,C] (scale * N(0,1)) and labels ---- */

typedef struct problem {
    int N, C;
    double scale;
    double z[MAXE], onehot[MAXE];
    int y[MAXN];
} problem;

static double gauss(th_rng *r)
{
    double u = th_uniform(r, 0, 1), v = th_uniform(r, 0, 1);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

static problem make_problem(int N, int C, double scale, uint64_t seed)
{
    th_rng r = th_rng_new(th_seed("custom_loss", seed));
    problem p;
    memset(&p, 0, sizeof p);
    p.N = N;
    p.C = C;
    p.scale = scale;
    for (int i = 0; i < N * C; i++) p.z[i] = scale * gauss(&r);
    for (int n = 0; n < N; n++) {
        p.y[n] = (int)th_uniform(&r, 0, C);
        p.onehot[n * C + p.y[n]] = 1.0;
    }
    return p;
}

/* ---- step 1: the loss from primitives, L = -(1/N) sum_n log softmax(z_n)[y_n] ---- */

static tg_var ce_primitives(tg_var Z, tg_var Y, int N)
{
    tg_var E = tg_exp(Z);              /* [N,C] */
    tg_var S = tg_sum_axis(E, 1, 1);   /* [N,1] */
    tg_var logP = tg_log(tg_div(E, S)); /* [N,C] */
    return tg_mul(tg_const(Z.tape, -1.0 / N), tg_sum(tg_mul(Y, logP)));
}

/* The same with each row's max subtracted first (log-sum-exp), still from primitives. */
static tg_var ce_primitives_stable(tg_var Z, tg_var Y, int N)
{
    tg_var Zs = tg_sub(Z, tg_max_axis(Z, 1, 1));
    tg_var logP = tg_sub(Zs, tg_log(tg_sum_axis(tg_exp(Zs), 1, 1)));
    return tg_mul(tg_const(Z.tape, -1.0 / N), tg_sum(tg_mul(Y, logP)));
}

/* ---- step 2: by hand. L_n = log sum_c e^z_nc - z_n,y_n, so
 * dL/dz_nc = (softmax(z_n)_c - [c == y_n]) / N. Written with the row max m subtracted (the
 * derivation is unchanged: e^(z - m) / sum e^(z - m) = e^z / sum e^z). ---- */

static double ce_by_hand(const problem *p, double *g)
{
    double L = 0;
    for (int n = 0; n < p->N; n++) {
        const double *z = &p->z[n * p->C];
        double m = z[0], s = 0;
        for (int c = 1; c < p->C; c++) m = fmax(m, z[c]);
        for (int c = 0; c < p->C; c++) s += exp(z[c] - m);
        L += m + log(s) - z[p->y[n]];
        for (int c = 0; c < p->C; c++)
            g[n * p->C + c] = (exp(z[c] - m) / s - (c == p->y[n])) / p->N;
    }
    return L / p->N;
}

/* ---- checking ---- */

typedef struct built {
    tg_tape *t;
    tg_var Z, Y, L[3]; /* primitives, primitives with the max, fused */
} built;

static built build_ce(const problem *p)
{
    built b;
    int shape[2] = {p->N, p->C};
    b.t = tg_tape_new();
    b.Z = tg_tensor_param(b.t, 2, shape, p->z);
    b.Y = tg_tensor_const(b.t, 2, shape, p->onehot);
    b.L[0] = ce_primitives(b.Z, b.Y, p->N);
    b.L[1] = ce_primitives_stable(b.Z, b.Y, p->N);
    b.L[2] = tg_cross_entropy(b.Z, p->y);
    cr_assert_null(tg_tape_error(b.t), "%s", tg_tape_error(b.t));
    return b;
}

static const char *const ce_name[3] = {"primitives", "primitives with the max", "fused"};

/* The gradient of loss k w.r.t. Z, copied out. */
static void grad_of(const built *b, int k, double *g, int n)
{
    cr_assert_eq(tg_backward(b->L[k]), 0, "%s: %s", ce_name[k], tg_tape_error(b->t));
    const double *d = tg_gradient_data(b->Z);
    cr_assert_not_null(d);
    memcpy(g, d, (size_t)n * sizeof *g);
}

static const int shapes[][2] = {{1, 2}, {1, 5}, {3, 3}, {4, 2}, {8, 10}, {5, 7}};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* Gradients are O(1/N); agreement to a few ulps of the largest term. The hand formula and
 * the sweep take the same steps in a different order, so the error grows with the logits'
 * spread only through the softmax's rounding. */
static double grad_tol(const problem *p) { return 4e-16 * fmax(1.0, p->scale) * p->C; }

/* Losses: relative 1e-13, or absolute a few ulps of the terms (z - max, log of a sum >= 1):
 * a composition computes a tiny loss (a confident right answer) as log(1 + eps) or
 * -log(1 - eps) and keeps it only to absolute, not relative, precision. */
static int loss_close(double got, double want, const problem *p)
{
    return th_close(got, want, 1e-13, 4e-16 * (1.0 + p->scale) * p->C);
}

/* Logits of scale <= 10: the naive composition is valid there. Beyond, it fails not only by
 * overflow (e^z > DBL_MAX for z > 709.78) but also by underflow: when a row's logits spread
 * over more than ~745, the label's softmax rounds to 0 and log gives -Inf (scale 100 with 10
 * classes already does it for some rows). The max-subtracted composition has neither. */
Test(custom_loss, softmax_ce_from_primitives_gives_the_hand_gradient)
{
    const double scales[] = {0.01, 0.1, 1, 10};
    for (int s = 0; s < 4; s++)
        for (int k = 0; k < NSHAPES; k++)
            for (uint64_t seed = 1; seed <= 10; seed++) {
                problem p = make_problem(shapes[k][0], shapes[k][1], scales[s], seed);
                double hand[MAXE], g[MAXE];
                double Lh = ce_by_hand(&p, hand);
                built b = build_ce(&p);
                for (int v = 0; v < 2; v++) {
                    grad_of(&b, v, g, p.N * p.C);
                    cr_expect(loss_close(tg_value(b.L[v]), Lh, &p),
                              "%s, N=%d C=%d scale %g seed %llu: loss %.17g, by hand %.17g",
                              ce_name[v], p.N, p.C, p.scale, (unsigned long long)seed,
                              tg_value(b.L[v]), Lh);
                    for (int e = 0; e < p.N * p.C; e++)
                        cr_expect(fabs(g[e] - hand[e]) <= grad_tol(&p),
                                  "%s, N=%d C=%d scale %g seed %llu: dL/dZ[%d][%d] = %.17g, "
                                  "by hand %.17g", ce_name[v], p.N, p.C, p.scale,
                                  (unsigned long long)seed, e / p.C, e % p.C, g[e], hand[e]);
                }
                tg_tape_free(b.t);
            }
}

Test(custom_loss, fused_cross_entropy_equals_the_primitives_and_the_hand_gradient)
{
    const double scales[] = {0.01, 1, 10, 100, 1000, 1e4};
    for (int s = 0; s < 6; s++)
        for (int k = 0; k < NSHAPES; k++)
            for (uint64_t seed = 1; seed <= 10; seed++) {
                problem p = make_problem(shapes[k][0], shapes[k][1], scales[s], seed + 100);
                double hand[MAXE], g[MAXE], gp[MAXE];
                double Lh = ce_by_hand(&p, hand);
                built b = build_ce(&p);
                grad_of(&b, 2, g, p.N * p.C);
                cr_expect(loss_close(tg_value(b.L[2]), Lh, &p),
                          "N=%d C=%d scale %g seed %llu: fused loss %.17g, by hand %.17g", p.N,
                          p.C, p.scale, (unsigned long long)seed, tg_value(b.L[2]), Lh);
                for (int e = 0; e < p.N * p.C; e++)
                    cr_expect(isfinite(g[e]) && fabs(g[e] - hand[e]) <= grad_tol(&p),
                              "N=%d C=%d scale %g seed %llu: fused dL/dZ[%d][%d] = %.17g, by "
                              "hand %.17g", p.N, p.C, p.scale, (unsigned long long)seed,
                              e / p.C, e % p.C, g[e], hand[e]);
                /* where the naive composition is valid (see above), and at every scale for the
                 * max-subtracted one, the primitives agree with the fused op too */
                for (int v = p.scale <= 10 ? 0 : 1; v < 2; v++) {
                    grad_of(&b, v, gp, p.N * p.C);
                    cr_expect(loss_close(tg_value(b.L[v]), tg_value(b.L[2]), &p),
                              "%s N=%d C=%d scale %g: loss %.17g, fused %.17g", ce_name[v], p.N,
                              p.C, p.scale, tg_value(b.L[v]), tg_value(b.L[2]));
                    for (int e = 0; e < p.N * p.C; e++)
                        cr_expect(fabs(gp[e] - g[e]) <= grad_tol(&p),
                                  "%s N=%d C=%d scale %g: %.17g, fused %.17g", ce_name[v], p.N,
                                  p.C, p.scale, gp[e], g[e]);
                }
                tg_tape_free(b.t);
            }
}

Test(custom_loss, softmax_ce_passes_the_gradient_check)
{
    const double scales[] = {0.1, 1, 10, 100, 1e4};
    for (int s = 0; s < 5; s++)
        for (int k = 0; k < NSHAPES; k++)
            for (uint64_t seed = 1; seed <= 3; seed++) {
                problem p = make_problem(shapes[k][0], shapes[k][1], scales[s], seed + 200);
                built b = build_ce(&p);
                for (int v = p.scale <= 10 ? 0 : 1; v < 3; v++) {
                    tg_check_result r;
                    tg_check_report rep;
                    tg_status rc = tg_check_grad(b.L[v], 1, &b.Z, NULL, &r, &rep);
                    cr_assert_eq(rc, TG_OK, "%s", tg_tape_error(b.L[v].tape));
                    cr_expect_eq(rep.failed, 0, "%s, N=%d C=%d scale %g seed %llu: element %zu: "
                                 "reverse %.17g forward %.17g fd %.17g", ce_name[v], p.N, p.C,
                                 p.scale, (unsigned long long)seed, r.elem, r.reverse,
                                 r.forward, r.fd);
                    cr_expect_eq(r.checked, (size_t)(p.N * p.C));
                }
                tg_tape_free(b.t);
            }
}

/* The primitives' P and log P are tg_softmax and tg_log_softmax: same values, and the same
 * vector-Jacobian products for a random output gradient. */
Test(custom_loss, softmax_from_primitives_is_tg_softmax_and_tg_log_softmax)
{
    for (int k = 0; k < NSHAPES; k++) {
        problem p = make_problem(shapes[k][0], shapes[k][1], 3.0, 300 + (uint64_t)k);
        int shape[2] = {p.N, p.C}, n = p.N * p.C;
        th_rng r = th_rng_new(th_seed("custom_loss/seed", (uint64_t)k));
        double w[MAXE];
        for (int e = 0; e < n; e++) w[e] = th_uniform(&r, -1, 1);
        tg_tape *t = tg_tape_new();
        tg_var Z = tg_tensor_param(t, 2, shape, p.z);
        tg_var E = tg_exp(Z), P = tg_div(E, tg_sum_axis(E, 1, 1)), logP = tg_log(P);
        tg_var pairs[2][2] = {{P, tg_softmax(Z)}, {logP, tg_log_softmax(Z)}};
        for (int q = 0; q < 2; q++) {
            double g[2][MAXE];
            for (int v = 0; v < 2; v++) {
                cr_assert_eq(tg_backward_seed(pairs[q][v], w), 0, "%s", tg_tape_error(t));
                memcpy(g[v], tg_gradient_data(Z), (size_t)n * sizeof(double));
            }
            for (int e = 0; e < n; e++) {
                cr_expect(th_close(tg_data(pairs[q][0])[e], tg_data(pairs[q][1])[e], 1e-13,
                                   1e-16), "%s [%d,%d] element %d: primitives %.17g, op %.17g",
                          q ? "log_softmax" : "softmax", p.N, p.C, e, tg_data(pairs[q][0])[e],
                          tg_data(pairs[q][1])[e]);
                cr_expect(th_close(g[0][e], g[1][e], 1e-12, 1e-15),
                          "%s [%d,%d] vjp element %d: primitives %.17g, op %.17g",
                          q ? "log_softmax" : "softmax", p.N, p.C, e, g[0][e], g[1][e]);
            }
        }
        tg_tape_free(t);
    }
}

/* ---- where the primitives break ---- */

Test(custom_loss, unfused_softmax_ce_overflows_and_anomaly_mode_names_exp)
{
    double z[12] = {1000, 0, -1000, 5, 800, 1, 2, 3, 4, -2, 0, 710}, onehot[12] = {0};
    int y[4] = {0, 2, 1, 2}, shape[2] = {4, 3};
    for (int n = 0; n < 4; n++) onehot[n * 3 + y[n]] = 1;
    tg_tape *t = tg_tape_new();
    tg_var Z = tg_tensor_param(t, 2, shape, z);
    tg_var L = ce_primitives(Z, tg_tensor_const(t, 2, shape, onehot), 4);
    cr_expect(isnan(tg_value(L)), "the naive composition gives %g, not NaN", tg_value(L));
    cr_expect_null(tg_tape_error(t), "without anomaly mode nothing is reported");

    tg_tape_reset(t);
    tg_tape_check_nan(t, 1);
    Z = tg_tensor_param(t, 2, shape, z);
    L = ce_primitives(Z, tg_tensor_const(t, 2, shape, onehot), 4);
    cr_expect_eq(tg_tape_status(t), TG_ERR_DOMAIN);
    cr_expect_str_eq(tg_tape_error(t), "exp: result is inf at element 0 of node #2 (shape [4,3]; "
                     "x1 = 1000)");

    /* the fused op at the same logits, anomaly mode still on: finite and exact */
    tg_tape_reset(t);
    tg_tape_check_nan(t, 1);
    Z = tg_tensor_param(t, 2, shape, z);
    L = tg_cross_entropy(Z, y);
    cr_assert_eq(tg_backward(L), 0, "%s", tg_tape_error(t));
    problem p = {.N = 4, .C = 3, .scale = 1000};
    memcpy(p.z, z, sizeof z);
    memcpy(p.y, y, sizeof y);
    double hand[12];
    double Lh = ce_by_hand(&p, hand);
    cr_expect(th_close(tg_value(L), Lh, 1e-15, 0), "fused %.17g, by hand %.17g", tg_value(L), Lh);
    for (int e = 0; e < 12; e++)
        cr_expect(fabs(tg_gradient_data(Z)[e] - hand[e]) <= 1e-15, "element %d: %.17g vs %.17g",
                  e, tg_gradient_data(Z)[e], hand[e]);
    tg_tape_free(t);
}

Test(custom_loss, max_subtracted_composition_survives_logits_of_1e4)
{
    double z[6] = {1e4, -1e4, 0, -1e4, 1e4, 9999}, onehot[6] = {0, 1, 0, 0, 0, 1};
    int shape[2] = {2, 3};
    problem p = {.N = 2, .C = 3, .scale = 1e4, .y = {1, 2}};
    memcpy(p.z, z, sizeof z);
    double hand[6], Lh = ce_by_hand(&p, hand);
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var Z = tg_tensor_param(t, 2, shape, z);
    tg_var L = ce_primitives_stable(Z, tg_tensor_const(t, 2, shape, onehot), 2);
    cr_assert_eq(tg_backward(L), 0, "%s", tg_tape_error(t));
    cr_expect(th_close(tg_value(L), Lh, 1e-15, 0), "%.17g vs %.17g", tg_value(L), Lh);
    for (int e = 0; e < 6; e++)
        cr_expect(fabs(tg_gradient_data(Z)[e] - hand[e]) <= 1e-15, "element %d: %.17g vs %.17g",
                  e, tg_gradient_data(Z)[e], hand[e]);
    tg_tape_free(t);
}

/* ---- mean squared error: L = (1/M) sum (p - t)^2, dL/dp = 2 (p - t) / M ---- */

Test(custom_loss, mse_from_primitives_equals_tg_mse_and_the_hand_gradient)
{
    const int sizes[][2] = {{1, 1}, {5, 1}, {3, 4}, {8, 10}};
    for (int k = 0; k < 4; k++)
        for (uint64_t seed = 1; seed <= 10; seed++) {
            th_rng r = th_rng_new(th_seed("custom_loss/mse", seed * 10 + (uint64_t)k));
            int shape[2] = {sizes[k][0], sizes[k][1]}, M = shape[0] * shape[1];
            double p[MAXE], q[MAXE], hand[MAXE], Lh = 0;
            for (int e = 0; e < M; e++) {
                p[e] = 3 * gauss(&r);
                q[e] = gauss(&r);
                Lh += (p[e] - q[e]) * (p[e] - q[e]) / M;
                hand[e] = 2 * (p[e] - q[e]) / M;
            }
            tg_tape *t = tg_tape_new();
            tg_var P = tg_tensor_param(t, 2, shape, p), T = tg_tensor_const(t, 2, shape, q);
            tg_var D = tg_sub(P, T);
            tg_var L[2] = {tg_mean(tg_mul(D, D)), tg_mse(P, T)};
            for (int v = 0; v < 2; v++) {
                cr_assert_eq(tg_backward(L[v]), 0, "%s", tg_tape_error(t));
                cr_expect(th_close(tg_value(L[v]), Lh, 1e-14, 0), "%s [%d,%d]: %.17g vs %.17g",
                          v ? "tg_mse" : "primitives", shape[0], shape[1], tg_value(L[v]), Lh);
                for (int e = 0; e < M; e++)
                    cr_expect(th_close(tg_gradient_data(P)[e], hand[e], 1e-14, 1e-16),
                              "%s [%d,%d] element %d: %.17g vs %.17g",
                              v ? "tg_mse" : "primitives", shape[0], shape[1], e,
                              tg_gradient_data(P)[e], hand[e]);
                tg_check_report rep;
                cr_assert_eq(tg_check_grad(L[v], 1, &P, NULL, NULL, &rep), TG_OK);
                cr_expect_eq(rep.failed, 0);
            }
            tg_tape_free(t);
        }
}

/* ---- binary cross-entropy with logits: L = -(1/M) sum [t log s + (1-t) log(1-s)],
 * s = sigmoid(x); dL/dx = (s - t) / M ---- */

/* One statement per node, so the node numbers in anomaly messages are fixed (C leaves the
 * order of evaluating a call's arguments open). */
static tg_var bce_primitives(tg_var X, tg_var T)
{
    tg_var s = tg_sigmoid(X);                 /* node #2 when X, T are #0, #1 */
    tg_var one = tg_const(X.tape, 1.0);       /* #3 */
    tg_var log_s = tg_log(s);                 /* #4 */
    tg_var log_1ms = tg_log(tg_sub(one, s));  /* #5, #6 */
    tg_var a = tg_mul(T, log_s);
    tg_var b = tg_mul(tg_sub(one, T), log_1ms);
    return tg_neg(tg_mean(tg_add(a, b)));
}

static tg_var bce_softplus(tg_var X, tg_var T)
{
    return tg_mean(tg_sub(tg_softplus(X), tg_mul(X, T)));
}

/* The loss and gradient by hand, written stably: per element max(x,0) - x t + log1p(e^-|x|),
 * and s - t with s = sigmoid(x), as (1 - t) - sigmoid(-x) for x >= 0 so that s - t keeps its
 * digits when s rounds to 1. */
static double bce_by_hand(const double *x, const double *q, int M, double *g)
{
    double L = 0;
    for (int e = 0; e < M; e++) {
        double en = exp(-fabs(x[e]));
        L += fmax(x[e], 0) - x[e] * q[e] + log1p(en);
        g[e] = (x[e] >= 0 ? (1 - q[e]) - en / (1 + en) : en / (1 + en) - q[e]) / M;
    }
    return L / M;
}

Test(custom_loss, bce_from_primitives_equals_the_fused_op_and_the_hand_gradient)
{
    const double scales[] = {0.1, 1, 5};
    for (int s = 0; s < 3; s++)
        for (uint64_t seed = 1; seed <= 20; seed++) {
            enum { M = 12 };
            th_rng r = th_rng_new(th_seed("custom_loss/bce", seed * 10 + (uint64_t)s));
            double x[M], q[M], hand[M];
            for (int e = 0; e < M; e++) {
                x[e] = scales[s] * gauss(&r);
                q[e] = seed % 2 ? (double)(th_uniform(&r, 0, 1) < 0.5) : th_uniform(&r, 0, 1);
            }
            double Lh = bce_by_hand(x, q, M, hand);
            int shape[1] = {M};
            tg_tape *t = tg_tape_new();
            tg_var X = tg_tensor_param(t, 1, shape, x), T = tg_tensor_const(t, 1, shape, q);
            tg_var L[3] = {bce_primitives(X, T), bce_softplus(X, T), tg_bce_with_logits(X, T)};
            static const char *const nm[3] = {"primitives", "softplus(x) - x t", "fused"};
            for (int v = 0; v < 3; v++) {
                cr_assert_eq(tg_backward(L[v]), 0, "%s", tg_tape_error(t));
                cr_expect(th_close(tg_value(L[v]), Lh, 1e-13, 1e-16),
                          "%s scale %g seed %llu: %.17g vs %.17g", nm[v], scales[s],
                          (unsigned long long)seed, tg_value(L[v]), Lh);
                for (int e = 0; e < M; e++)
                    /* s - t cancels for soft targets: absolute accuracy eps / M. The
                     * primitives take log of 1 - s rounded, so their gradient is as far off
                     * as 1 - s is, eps/(1 - s) relative (sigmoid's partial is exact; the
                     * textbook s(1 - s) hid it by rounding 1 - s the same way) */
                    cr_expect(th_close(tg_gradient_data(X)[e], hand[e],
                                       1e-14 + (v == 0 ? 2.3e-16 * (1.0 + exp(fabs(x[e]))) : 0),
                                       2e-16 / M),
                              "%s scale %g seed %llu element %d: %.17g vs %.17g", nm[v],
                              scales[s], (unsigned long long)seed, e, tg_gradient_data(X)[e],
                              hand[e]);
                tg_check_result res;
                tg_check_report rep;
                cr_assert_eq(tg_check_grad(L[v], 1, &X, NULL, &res, &rep), TG_OK);
                cr_expect_eq(rep.failed, 0,
                             "%s scale %g seed %llu: element %zu reverse %.17g fd %.17g", nm[v],
                             scales[s], (unsigned long long)seed, res.elem, res.reverse, res.fd);
            }
            tg_tape_free(t);
        }
}

Test(custom_loss, naive_bce_gives_nan_on_confident_answers_and_the_fused_op_does_not)
{
    double x[4] = {40, -40, 1e4, -1e4}, q[4] = {1, 0, 1, 0}, hand[4];
    int shape[1] = {4};
    double Lh = bce_by_hand(x, q, 4, hand);
    tg_tape *t = tg_tape_new();
    tg_var X = tg_tensor_param(t, 1, shape, x), T = tg_tensor_const(t, 1, shape, q);
    cr_expect(isnan(tg_value(bce_primitives(X, T))), "0 * log(0) should have given NaN");

    tg_tape_reset(t);
    tg_tape_check_nan(t, 1);
    X = tg_tensor_param(t, 1, shape, x);
    T = tg_tensor_const(t, 1, shape, q);
    bce_primitives(X, T);
    cr_expect_eq(tg_tape_status(t), TG_ERR_DOMAIN);
    /* x = -1e4: sigmoid underflows to 0, log(s) is -Inf (x = 40 would hit log(1 - s) next) */
    cr_expect_str_eq(tg_tape_error(t), "log: result is -inf at element 3 of node #4 (shape [4]; "
                                       "x1 = 0)");

    tg_tape_reset(t);
    tg_tape_check_nan(t, 1);
    X = tg_tensor_param(t, 1, shape, x);
    T = tg_tensor_const(t, 1, shape, q);
    tg_var L = tg_bce_with_logits(X, T);
    cr_assert_eq(tg_backward(L), 0, "%s", tg_tape_error(t));
    /* the tiny loss ln(1 + e^-40) / 2 survives: relative accuracy, not just finiteness */
    cr_expect(th_close(tg_value(L), Lh, 1e-15, 0), "fused %.17g, by hand %.17g", tg_value(L), Lh);
    for (int e = 0; e < 4; e++)
        cr_expect(th_close(tg_gradient_data(X)[e], hand[e], 1e-15, 0),
                  "element %d: %.17g vs %.17g", e, tg_gradient_data(X)[e], hand[e]);
    tg_tape_free(t);
}

/* ---- Huber, not shipped: huber_d(r) = r^2/2 where |r| <= d, d (|r| - d/2) elsewhere ---- */

static tg_var huber(tg_var P, tg_var T, double d)
{
    tg_tape *t = P.tape;
    tg_var r = tg_sub(P, T), a = tg_abs(r);
    tg_var inside = tg_step(tg_sub(tg_const(t, d), a));
    tg_var quad = tg_mul(tg_const(t, 0.5), tg_mul(r, r));
    tg_var lin = tg_mul(tg_const(t, d), tg_sub(a, tg_const(t, d / 2)));
    return tg_mean(tg_where(inside, quad, lin));
}

Test(custom_loss, huber_from_abs_step_where_gives_the_hand_gradient_and_passes_the_check)
{
    const double deltas[] = {0.5, 1, 2};
    int compared = 0;
    for (int k = 0; k < 3; k++)
        for (uint64_t seed = 1; seed <= 20; seed++) {
            enum { M = 16 };
            const double d = deltas[k];
            th_rng rng = th_rng_new(th_seed("custom_loss/huber", seed * 10 + (uint64_t)k));
            double p[M], q[M], hand[M], Lh = 0;
            for (int e = 0; e < M; e++) {
                p[e] = 2 * gauss(&rng);
                q[e] = gauss(&rng);
                double r = p[e] - q[e];
                if (fabs(fabs(r) - d) < 1e-3) p[e] += 0.01; /* keep away from the seam */
                r = p[e] - q[e];
                Lh += (fabs(r) <= d ? 0.5 * r * r : d * (fabs(r) - d / 2)) / M;
                hand[e] = (fabs(r) < d ? r : d * (r > 0 ? 1 : -1)) / M;
                compared += fabs(r) > d;
            }
            int shape[1] = {M};
            tg_tape *t = tg_tape_new();
            tg_var P = tg_tensor_param(t, 1, shape, p), T = tg_tensor_const(t, 1, shape, q);
            tg_var L = huber(P, T, d);
            cr_assert_eq(tg_backward(L), 0, "%s", tg_tape_error(t));
            cr_expect(th_close(tg_value(L), Lh, 1e-14, 0), "delta %g seed %llu: %.17g vs %.17g",
                      d, (unsigned long long)seed, tg_value(L), Lh);
            for (int e = 0; e < M; e++)
                cr_expect(th_close(tg_gradient_data(P)[e], hand[e], 1e-15, 1e-17),
                          "delta %g seed %llu element %d (r = %g): %.17g vs %.17g", d,
                          (unsigned long long)seed, e, p[e] - q[e], tg_gradient_data(P)[e],
                          hand[e]);
            tg_check_result res;
            tg_check_report rep;
            cr_assert_eq(tg_check_grad(L, 1, &P, NULL, &res, &rep), TG_OK);
            cr_expect_eq(rep.failed, 0,
                         "delta %g seed %llu: element %zu reverse %.17g fd %.17g", d,
                         (unsigned long long)seed, res.elem, res.reverse, res.fd);
            cr_expect_eq(rep.kinks, 0);
            tg_tape_free(t);
        }
    cr_expect_gt(compared, 100, "too few residuals on the linear piece (%d)", compared);
}

/* On the seam |r| = d the function is differentiable (both pieces have value d^2/2 and slope
 * d sign r), but the selector step(d - |r|) switches within any finite-difference step: the
 * check reports a kink instead of comparing. step(0) = 0 picks the linear piece, whose slope
 * d sign(r) / M is the right one. */
Test(custom_loss, huber_on_the_seam_is_reported_as_a_kink_with_the_right_slope)
{
    double p[1] = {1.5}, q[1] = {0.5};
    int shape[1] = {1};
    tg_tape *t = tg_tape_new();
    tg_var P = tg_tensor_param(t, 1, shape, p), T = tg_tensor_const(t, 1, shape, q);
    tg_var L = huber(P, T, 1.0);
    cr_assert_eq(tg_backward(L), 0);
    cr_expect_eq(tg_gradient_data(P)[0], 1.0);
    tg_check_result res;
    tg_check_report rep;
    cr_assert_eq(tg_check_grad(L, 1, &P, NULL, &res, &rep), TG_OK);
    cr_expect_eq(rep.failed, 0);
    cr_expect_eq(rep.kinks, 1, "the seam was not reported as a kink (kinks %d, failed %d)",
                 rep.kinks, rep.failed);
    tg_tape_free(t);
}

/* A hinge loss, mean(relu(1 - y x)), with one sample exactly on the margin (y x = 1): relu
 * sits at its kink there, so tg_check_grad must report a kink, not a wrong derivative (the
 * sweep's relu'(0) = 0 is one side; the central difference sees 1/2 of the other), on a
 * tensor parameter as on a scalar one (tg_replay watches every element's branch). */
Test(custom_loss, hinge_on_the_margin_is_a_kink_not_a_wrong_gradient)
{
    double x[3] = {1.0, -0.5, 2.0}, y[3] = {1, 1, -1};
    int shape[1] = {3};
    tg_tape *t = tg_tape_new();
    tg_var X = tg_tensor_param(t, 1, shape, x), Y = tg_tensor_const(t, 1, shape, y);
    tg_var L = tg_mean(tg_relu(tg_sub(tg_const(t, 1.0), tg_mul(Y, X))));
    cr_assert_eq(tg_backward(L), 0);
    /* by hand: dL/dx_i = -y_i [1 - y_i x_i > 0] / 3, and relu'(0) = 0 on the margin */
    const double hand[3] = {0.0, -1.0 / 3, 1.0 / 3};
    for (int e = 0; e < 3; e++) cr_expect_eq(tg_gradient_data(X)[e], hand[e]);
    tg_check_result res;
    tg_check_report rep;
    cr_assert_eq(tg_check_grad(L, 1, &X, NULL, &res, &rep), TG_OK);
    cr_expect_eq(rep.failed, 0, "tg_check_grad reports a wrong gradient at the kink: element %zu "
                 "reverse %g, fd %g, kink flag %d", res.elem, res.reverse, res.fd, res.kink);
    cr_expect_eq(rep.kinks, 1, "kinks reported: %d", rep.kinks);
    tg_tape_free(t);
}
