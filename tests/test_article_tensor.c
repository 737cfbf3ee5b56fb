/* test_article_tensor.c - the backpropagation article's 2-3-1 network in tensor form: W1 (2x3)
 * and W2 (3x1) are tensor parameters and a batch X (B x 2) with targets T (B x 1) goes through
 * in one graph,
 *   Z2 = X W1, A2 = g(Z2), Z3 = A2 W2, A3 = g(Z3), E = sum_b 1/2 (A3[b] - T[b])^2
 * (E is the SUM over the batch of the article's per-sample error, not the mean). Its gradients
 * are checked against the scalar graph (tg_article_build once per sample, gradients summed),
 * against the article's delta formulas summed over the batch (written out below), and against
 * tg_check_grad; for sigmoid and tanh. See LICENSE. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "tapegrad.h"
#include "tapegrad_article.h"

#define MAXB 16   /* largest batch drawn */
#define POINTS 60 /* random batches per activation */

enum act { SIGMOID, TANH, NACT };
static const char *const act_name[NACT] = {"sigmoid", "tanh"};

static double g_of(int g, double z) { return g == SIGMOID ? 1.0 / (1.0 + exp(-z)) : tanh(z); }

/* g'(z) from a = g(z), as the article writes it: sigmoid' = a(1-a), tanh' = 1-a^2 */
static double g_prime(int g, double a) { return g == SIGMOID ? a * (1.0 - a) : 1.0 - a * a; }

static tg_var g_node(int g, tg_var z) { return g == SIGMOID ? tg_sigmoid(z) : tg_tanh(z); }

/* ---- a batch: B samples of the article's network sharing one set of weights ---- */

typedef struct batch {
    int B;
    double X[MAXB][2], T[MAXB][1];
    double W1[2][3], W2[3][1]; /* W1[i][j] = w(i+1)(j+1)[1], W2[j][0] = w(j+1)1[2] */
} batch;

static batch random_batch(uint64_t seed, int B)
{
    th_rng r = th_rng_new(th_seed("article_tensor", seed));
    batch b;
    b.B = B;
    for (int s = 0; s < B; s++) {
        for (int i = 0; i < 2; i++) b.X[s][i] = th_uniform(&r, -2, 2);
        b.T[s][0] = th_uniform(&r, -0.5, 1);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) b.W1[i][j] = th_uniform(&r, -1.5, 1.5);
    for (int j = 0; j < 3; j++) b.W2[j][0] = th_uniform(&r, -1.5, 1.5);
    return b;
}

/* Sample s as the scalar article's point. */
static tg_article_point point_of(const batch *b, int s)
{
    tg_article_point p;
    p.x[0] = b->X[s][0];
    p.x[1] = b->X[s][1];
    p.t = b->T[s][0];
    memcpy(p.w1, b->W1, sizeof p.w1);
    for (int j = 0; j < 3; j++) p.w2[j] = b->W2[j][0];
    return p;
}

/* ---- the network as one tensor graph ---- */

typedef struct tnet {
    tg_var X, T, W1, W2, Z2, A2, Z3, A3, E;
} tnet;

static tg_var lab(tg_var v, const char *name)
{
    tg_label(v, name);
    return v;
}

static tnet build_tensor(tg_tape *tp, int g, const batch *b)
{
    tnet n;
    int sx[2] = {b->B, 2}, st[2] = {b->B, 1}, s1[2] = {2, 3}, s2[2] = {3, 1};
    n.X = lab(tg_tensor_const(tp, 2, sx, &b->X[0][0]), "X");
    n.T = lab(tg_tensor_const(tp, 2, st, &b->T[0][0]), "T");
    n.W1 = lab(tg_tensor_param(tp, 2, s1, &b->W1[0][0]), "W1");
    n.W2 = lab(tg_tensor_param(tp, 2, s2, &b->W2[0][0]), "W2");
    n.Z2 = lab(tg_matmul(n.X, n.W1), "Z2");  /* [B,3]: row b is (z1[2], z2[2], z3[2]) */
    n.A2 = lab(g_node(g, n.Z2), "A2");       /* [B,3] */
    n.Z3 = lab(tg_matmul(n.A2, n.W2), "Z3"); /* [B,1]: z1[3] of each sample */
    n.A3 = lab(g_node(g, n.Z3), "A3");       /* [B,1] */
    tg_var D = tg_sub(n.A3, n.T);            /* [B,1] */
    n.E = lab(tg_sum(tg_mul(tg_const(tp, 0.5), tg_mul(D, D))), "E"); /* scalar */
    return n;
}

/* ---- the article's formulas, per sample, summed over the batch ----
 *   delta1[3]_b = (a1[3]_b - t_b) g'(z1[3]_b)
 *   deltaj[2]_b = delta1[3]_b wj1[2] g'(zj[2]_b)
 *   dE/dwj1[2]  = sum_b aj[2]_b delta1[3]_b      (in matrix form: A2^T Delta3)
 *   dE/dwij[1]  = sum_b x_i,b deltaj[2]_b         (in matrix form: X^T Delta2)
 * The per-sample deltas are also what the sweep leaves at the rows of Z3 and Z2: E is a sum
 * of per-sample errors and sample b's error depends on row b only, so dE/dZ2[b][j] is the
 * scalar network's deltaj[2] at sample b. */

typedef struct hand {
    double E;
    double delta3[MAXB], delta2[MAXB][3];
    double dW1[2][3], dW2[3];
} hand;

static hand derive(int g, const batch *b)
{
    hand h;
    memset(&h, 0, sizeof h);
    for (int s = 0; s < b->B; s++) {
        double z2[3], a2[3], z3 = 0;
        for (int j = 0; j < 3; j++) {
            z2[j] = b->W1[0][j] * b->X[s][0] + b->W1[1][j] * b->X[s][1];
            a2[j] = g_of(g, z2[j]);
            z3 += b->W2[j][0] * a2[j];
        }
        double a3 = g_of(g, z3), t = b->T[s][0];
        h.E += 0.5 * (a3 - t) * (a3 - t);
        h.delta3[s] = (a3 - t) * g_prime(g, a3);
        for (int j = 0; j < 3; j++) {
            h.delta2[s][j] = h.delta3[s] * b->W2[j][0] * g_prime(g, a2[j]);
            h.dW2[j] += a2[j] * h.delta3[s];
            for (int i = 0; i < 2; i++) h.dW1[i][j] += b->X[s][i] * h.delta2[s][j];
        }
    }
    return h;
}

/* ---- the scalar article, one graph per sample, summed ---- */

static tg_article_grads scalar_sum(tg_tape *tp, int g, const batch *b, double *E,
                                   tg_article_grads *per_sample)
{
    const tg_op_def *op = tg_article_activation(act_name[g]);
    cr_assert_not_null(op);
    tg_article_grads sum;
    memset(&sum, 0, sizeof sum);
    *E = 0;
    for (int s = 0; s < b->B; s++) {
        tg_article_point p = point_of(b, s);
        tg_article net;
        tg_tape_reset(tp);
        cr_assert_eq(tg_article_build(&net, tp, op, 0.0, &p), TG_OK, "%s", tg_tape_error(tp));
        tg_article_grads gs;
        cr_assert_eq(tg_article_tape_grads(&net, &gs), 0, "%s", tg_tape_error(tp));
        per_sample[s] = gs;
        *E += tg_value(net.E);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) sum.w1[i][j] += gs.w1[i][j];
        for (int j = 0; j < 3; j++) sum.w2[j] += gs.w2[j];
    }
    return sum;
}

/* ---- comparisons ---- */

/* Summation orders differ (BLAS against a loop), so agreement is to a few ulps of the terms,
 * not bit for bit. */
#define TOL 1e-12

#define EXPECT_CLOSE(got, want, what, ...)                                                    \
    cr_expect(th_close((got), (want), TOL, TOL), "%s, B = %d, seed %d: " what                 \
              ": got %.17g, expected %.17g",                                                  \
              act_name[g], b.B, seed, __VA_ARGS__, (double)(got), (double)(want))

static int batch_size(int seed) { return 1 + (seed * 7) % MAXB; } /* 1..16, every size */

Test(article_tensor, batch_gradients_equal_the_scalar_graphs_summed)
{
    tg_tape *tt = tg_tape_new(), *ts = tg_tape_new();
    for (int g = 0; g < NACT; g++)
        for (int seed = 1; seed <= POINTS; seed++) {
            batch b = random_batch((uint64_t)seed + 1000u * (uint64_t)g, batch_size(seed));
            tg_tape_reset(tt);
            tnet n = build_tensor(tt, g, &b);
            cr_assert_null(tg_tape_error(tt), "%s", tg_tape_error(tt));
            cr_assert_eq(tg_backward(n.E), 0, "%s", tg_tape_error(tt));
            const double *dW1 = tg_gradient_data(n.W1), *dW2 = tg_gradient_data(n.W2);
            const double *dZ2 = tg_gradient_data(n.Z2), *dZ3 = tg_gradient_data(n.Z3);
            cr_assert(dW1 && dW2 && dZ2 && dZ3, "the sweep did not reach W1, W2, Z2 or Z3");

            double E;
            tg_article_grads per[MAXB];
            tg_article_grads sum = scalar_sum(ts, g, &b, &E, per);
            EXPECT_CLOSE(tg_value(n.E), E, "E = sum of the samples' E%s", "");
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    EXPECT_CLOSE(dW1[3 * i + j], sum.w1[i][j], "dE/dW1[%d][%d] (w%d%d[1])", i,
                                 j, i + 1, j + 1);
            for (int j = 0; j < 3; j++)
                EXPECT_CLOSE(dW2[j], sum.w2[j], "dE/dW2[%d][0] (w%d1[2])", j, j + 1);
            /* row s of dE/dZ3 and dE/dZ2: sample s's deltas on its own scalar graph */
            for (int s = 0; s < b.B; s++) {
                EXPECT_CLOSE(dZ3[s], per[s].delta3, "dE/dZ3[%d] (delta1[3] of sample %d)", s, s);
                for (int j = 0; j < 3; j++)
                    EXPECT_CLOSE(dZ2[3 * s + j], per[s].delta2[j],
                                 "dE/dZ2[%d][%d] (delta%d[2] of sample %d)", s, j, j + 1, s);
            }
        }
    tg_tape_free(tt);
    tg_tape_free(ts);
}

Test(article_tensor, batch_gradients_equal_the_delta_formulas_summed)
{
    tg_tape *tt = tg_tape_new();
    for (int g = 0; g < NACT; g++)
        for (int seed = 1; seed <= POINTS; seed++) {
            batch b = random_batch((uint64_t)seed + 5000u * (uint64_t)g, batch_size(seed));
            hand h = derive(g, &b);
            tg_tape_reset(tt);
            tnet n = build_tensor(tt, g, &b);
            cr_assert_eq(tg_backward(n.E), 0, "%s", tg_tape_error(tt));
            const double *dW1 = tg_gradient_data(n.W1), *dW2 = tg_gradient_data(n.W2);
            const double *dZ2 = tg_gradient_data(n.Z2), *dZ3 = tg_gradient_data(n.Z3);
            cr_assert(dW1 && dW2 && dZ2 && dZ3);
            EXPECT_CLOSE(tg_value(n.E), h.E, "E%s", "");
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    EXPECT_CLOSE(dW1[3 * i + j], h.dW1[i][j],
                                 "dE/dw%d%d[1] = sum_b x%d,b delta%d[2]_b", i + 1, j + 1, i + 1,
                                 j + 1);
            for (int j = 0; j < 3; j++)
                EXPECT_CLOSE(dW2[j], h.dW2[j], "dE/dw%d1[2] = sum_b a%d[2]_b delta1[3]_b",
                             j + 1, j + 1);
            for (int s = 0; s < b.B; s++) {
                EXPECT_CLOSE(dZ3[s], h.delta3[s], "dE/dZ3[%d] = delta1[3] of sample %d", s, s);
                for (int j = 0; j < 3; j++)
                    EXPECT_CLOSE(dZ2[3 * s + j], h.delta2[s][j],
                                 "dE/dZ2[%d][%d] = delta%d[2] of sample %d", s, j, j + 1, s);
            }
        }
    tg_tape_free(tt);
}

Test(article_tensor, gradient_check_passes_on_W1_and_W2)
{
    tg_tape *tt = tg_tape_new();
    for (int g = 0; g < NACT; g++)
        for (int seed = 1; seed <= 20; seed++) {
            batch b = random_batch((uint64_t)seed + 9000u * (uint64_t)g, batch_size(seed));
            tg_tape_reset(tt);
            tnet n = build_tensor(tt, g, &b);
            tg_var params[2] = {n.W1, n.W2};
            tg_check_result res[2];
            tg_check_report rep;
            tg_status rc = tg_check_grad(n.E, 2, params, NULL, res, &rep);
            cr_assert_eq(rc, TG_OK, "%s", tg_tape_error(n.E.tape));
            cr_expect_eq(rep.failed, 0, "%s, B = %d, seed %d: %d of 2 parameters fail; W1 element "
                         "%zu: reverse %.17g fd %.17g; W2 element %zu: reverse %.17g fd %.17g",
                         act_name[g], b.B, seed, rep.failed, res[0].elem, res[0].reverse,
                         res[0].fd, res[1].elem, res[1].reverse, res[1].fd);
            cr_expect_eq(res[0].checked, 6u);
            cr_expect_eq(res[1].checked, 3u);
            cr_expect_eq(rep.kinks + rep.undefined, 0);
        }
    tg_tape_free(tt);
}

/* Record once, then move to other batches (same size) with tg_tensor_set + tg_replay: the
 * values and gradients are those of a fresh recording at the new batch and weights. */
Test(article_tensor, replayed_batches_match_fresh_recordings)
{
    tg_tape *tr = tg_tape_new(), *tf = tg_tape_new();
    for (int g = 0; g < NACT; g++) {
        batch b0 = random_batch(77u + (uint64_t)g, 8);
        tnet r = build_tensor(tr, g, &b0);
        for (int seed = 1; seed <= 20; seed++) {
            batch b = random_batch((uint64_t)seed + 7000u * (uint64_t)g, 8);
            tg_tensor_set(r.X, &b.X[0][0]);
            tg_tensor_set(r.T, &b.T[0][0]);
            tg_tensor_set(r.W1, &b.W1[0][0]);
            tg_tensor_set(r.W2, &b.W2[0][0]);
            cr_assert_eq(tg_replay(tr), TG_OK, "%s", tg_tape_error(tr));
            cr_assert_eq(tg_backward(r.E), 0);
            tg_tape_reset(tf);
            tnet f = build_tensor(tf, g, &b);
            cr_assert_eq(tg_backward(f.E), 0);
            /* the same kernels on the same numbers: equal bit for bit */
            cr_expect_eq(tg_value(r.E), tg_value(f.E), "%s seed %d: E replayed %.17g, fresh "
                         "%.17g", act_name[g], seed, tg_value(r.E), tg_value(f.E));
            cr_expect_eq(memcmp(tg_gradient_data(r.W1), tg_gradient_data(f.W1), 6 * sizeof(double)),
                         0, "%s seed %d: dE/dW1 differs after replay", act_name[g], seed);
            cr_expect_eq(memcmp(tg_gradient_data(r.W2), tg_gradient_data(f.W2), 3 * sizeof(double)),
                         0, "%s seed %d: dE/dW2 differs after replay", act_name[g], seed);
        }
        tg_tape_reset(tr);
    }
    tg_tape_free(tr);
    tg_tape_free(tf);
}

/* The mean over the batch instead of the sum: every gradient divided by B. */
Test(article_tensor, mean_over_the_batch_is_the_sum_over_B)
{
    tg_tape *tp = tg_tape_new();
    batch b = random_batch(4242u, 12);
    int g = TANH;
    tnet n = build_tensor(tp, g, &b);
    tg_var D = tg_sub(n.A3, n.T);
    tg_var Em = tg_mean(tg_mul(tg_const(tp, 0.5), tg_mul(D, D)));
    cr_assert_eq(tg_backward(n.E), 0);
    double sum1[6], sum2[3];
    memcpy(sum1, tg_gradient_data(n.W1), sizeof sum1);
    memcpy(sum2, tg_gradient_data(n.W2), sizeof sum2);
    cr_assert_eq(tg_backward(Em), 0, "%s", tg_tape_error(tp));
    int seed = 4242;
    EXPECT_CLOSE(tg_value(Em), tg_value(n.E) / b.B, "mean E%s", "");
    for (int k = 0; k < 6; k++)
        EXPECT_CLOSE(tg_gradient_data(n.W1)[k], sum1[k] / b.B, "dEmean/dW1 element %d", k);
    for (int k = 0; k < 3; k++)
        EXPECT_CLOSE(tg_gradient_data(n.W2)[k], sum2[k] / b.B, "dEmean/dW2 element %d", k);
    tg_tape_free(tp);
}
