/* mlp_model.h - the MLP training step that mlp_bench.c (issue 3) and peers/tg_peers.c (issue
 * 6, W3) both time: a 64-64-10 tanh network, softmax cross-entropy over a batch of 32, SGD
 * with lr 0.1. The step coded by hand on cblas_dgemm, and the same step with tapegrad:
 * re-recorded per batch, or recorded once and replayed. Static functions, for one program
 * each; the includer defines NOINLINE. See LICENSE. */
#ifndef TG_BENCH_MLP_MODEL_H
#define TG_BENCH_MLP_MODEL_H

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "tapegrad.h"

#define NIN 64
#define NH 64
#define NOUT 10
#define BATCH 32
#define LR 0.1

typedef struct params {
    double W1[NIN * NH], b1[NH], W2[NH * NOUT], b2[NOUT];
} params;

/* ---- hand-coded: forward, the backward pass by hand on cblas_dgemm, SGD ---- */

typedef struct scratch {
    double H[BATCH * NH], Z2[BATCH * NOUT], dZ2[BATCH * NOUT], dH[BATCH * NH];
    double dW1[NIN * NH], db1[NH], dW2[NH * NOUT], db2[NOUT];
} scratch;

static NOINLINE double step_hand(params *p, const double *X, const int *y, scratch *s)
{
    /* forward: H = tanh(X W1 + b1), Z2 = H W2 + b2 */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, NH, NIN, 1.0, X, NIN, p->W1,
                NH, 0.0, s->H, NH);
    for (int b = 0; b < BATCH; b++)
        for (int j = 0; j < NH; j++) s->H[b * NH + j] = tanh(s->H[b * NH + j] + p->b1[j]);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, NOUT, NH, 1.0, s->H, NH, p->W2,
                NOUT, 0.0, s->Z2, NOUT);
    /* loss and dL/dZ2 = (softmax(Z2) - onehot) / BATCH, row by row with the max subtracted */
    double loss = 0;
    for (int b = 0; b < BATCH; b++) {
        double *z = &s->Z2[b * NOUT], *dz = &s->dZ2[b * NOUT], m = -INFINITY, sum = 0;
        for (int k = 0; k < NOUT; k++) {
            z[k] += p->b2[k];
            m = z[k] > m ? z[k] : m;
        }
        for (int k = 0; k < NOUT; k++) sum += dz[k] = exp(z[k] - m);
        loss += m + log(sum) - z[y[b]];
        for (int k = 0; k < NOUT; k++) dz[k] = (dz[k] / sum - (k == y[b])) / BATCH;
    }
    /* backward: dW2 = H^T dZ2, db2 = colsum dZ2, dH = dZ2 W2^T, dZ1 = dH (1 - H^2),
     * dW1 = X^T dZ1, db1 = colsum dZ1 */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NH, NOUT, BATCH, 1.0, s->H, NH, s->dZ2,
                NOUT, 0.0, s->dW2, NOUT);
    memset(s->db2, 0, sizeof s->db2);
    for (int b = 0; b < BATCH; b++)
        for (int k = 0; k < NOUT; k++) s->db2[k] += s->dZ2[b * NOUT + k];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, NH, NOUT, 1.0, s->dZ2, NOUT,
                p->W2, NOUT, 0.0, s->dH, NH);
    memset(s->db1, 0, sizeof s->db1);
    for (int b = 0; b < BATCH; b++)
        for (int j = 0; j < NH; j++) {
            double h = s->H[b * NH + j], d = s->dH[b * NH + j] * (1.0 - h * h);
            s->dH[b * NH + j] = d; /* now dZ1 */
            s->db1[j] += d;
        }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NIN, NH, BATCH, 1.0, X, NIN, s->dH, NH,
                0.0, s->dW1, NH);
    /* SGD */
    for (int e = 0; e < NIN * NH; e++) p->W1[e] -= LR * s->dW1[e];
    for (int e = 0; e < NH; e++) p->b1[e] -= LR * s->db1[e];
    for (int e = 0; e < NH * NOUT; e++) p->W2[e] -= LR * s->dW2[e];
    for (int e = 0; e < NOUT; e++) p->b2[e] -= LR * s->db2[e];
    return loss / BATCH;
}

/* ---- tapegrad ---- */

typedef struct net {
    tg_var X, T, W1, b1, W2, b2, Z2, L;
} net;

static const int shX[2] = {BATCH, NIN}, shL[1] = {BATCH}, shW1[2] = {NIN, NH},
                 shb1[1] = {NH}, shW2[2] = {NH, NOUT}, shb2[1] = {NOUT};

/* The layers, the same in every tapegrad variant, on the batch leaf n->X. The weights are
 * borrowed from p (no copy): sgd updates p in place, and a replay reads the new values. */
static void record_layers(tg_tape *tp, net *n, params *p)
{
    n->W1 = tg_tensor_param_ref(tp, 2, shW1, p->W1);
    n->b1 = tg_tensor_param_ref(tp, 1, shb1, p->b1);
    n->W2 = tg_tensor_param_ref(tp, 2, shW2, p->W2);
    n->b2 = tg_tensor_param_ref(tp, 1, shb2, p->b2);
    tg_var H = tg_tanh(tg_add(tg_matmul(n->X, n->W1), n->b1)); /* [32,64] */
    n->Z2 = tg_add(tg_matmul(H, n->W2), n->b2);                 /* [32,10] */
}

/* p <- p - lr dL/dp for the four parameters, from the last sweep. */
static void sgd(params *p, const net *n)
{
    const double *g;
    g = tg_gradient_data(n->W1);
    for (int e = 0; e < NIN * NH; e++) p->W1[e] -= LR * g[e];
    g = tg_gradient_data(n->b1);
    for (int e = 0; e < NH; e++) p->b1[e] -= LR * g[e];
    g = tg_gradient_data(n->W2);
    for (int e = 0; e < NH * NOUT; e++) p->W2[e] -= LR * g[e];
    g = tg_gradient_data(n->b2);
    for (int e = 0; e < NOUT; e++) p->b2[e] -= LR * g[e];
}

static NOINLINE double step_record(tg_tape *tp, params *p, const double *X, const int *y,
                                   int *bad)
{
    net n;
    tg_tape_reset(tp);
    n.X = tg_tensor_const_ref(tp, 2, shX, X); /* the batch, borrowed from the data set */
    record_layers(tp, &n, p);
    n.L = tg_cross_entropy(n.Z2, y);
    *bad |= tg_backward(n.L);
    sgd(p, &n);
    return tg_value(n.L);
}

/* Replay: the same fused loss with the labels as a node (tg_cross_entropy_var), recorded
 * once on the weights in p. The batch and its labels are copied in each step
 * (tg_tensor_set); the weights need nothing: the tape borrows p, which sgd updates. With c
 * (tg_compile of L) the step runs the compiled module instead of replay + backward. */
static void record_replay(tg_tape *tp, net *n, params *p, const double *X, const double *yd)
{
    n->X = tg_tensor_const(tp, 2, shX, X);
    record_layers(tp, n, p);
    n->T = tg_tensor_const(tp, 1, shL, yd);
    n->L = tg_cross_entropy_var(n->Z2, n->T);
}

static NOINLINE double step_replay(tg_tape *tp, const net *n, params *p, const double *X,
                                   const double *yd, tg_compiled *c, int *bad)
{
    tg_tensor_set(n->X, X);
    tg_tensor_set(n->T, yd);
    if (c) { /* the tape compiled (tg_compile): the same numbers */
        *bad |= tg_compiled_run(c);
    } else {
        *bad |= tg_replay(tp);
        *bad |= tg_backward(n->L);
    }
    sgd(p, n);
    return tg_value(n->L);
}

#endif
