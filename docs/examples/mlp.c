/* mlp.c - a small multilayer perceptron trained with tapegrad: two interleaved spirals (two
 * classes, generated here from a fixed seed), a 2-32-32-2 tanh network, softmax
 * cross-entropy, plain minibatch SGD. Prints the loss every few epochs and the final training
 * accuracy; exits 1 if that accuracy is below 97% (`make test` runs this program).
 *
 *   H1 = tanh(X W1 + b1), H2 = tanh(H1 W2 + b2), Z = H2 W3 + b3,
 *   L  = mean over the batch of -log softmax(Z)[label]   (tg_cross_entropy)
 *   every parameter p <- p - lr dL/dp
 *
 * The graph is RECORDED AGAIN FOR EVERY BATCH (tg_tape_reset, then the builders), not
 * recorded once and replayed: tg_cross_entropy copies its integer labels into a constant
 * node of its own when it is recorded, and the caller gets no handle to that node, so a
 * replay could change the inputs (tg_tensor_set) but not the labels of a new batch.
 * Re-recording costs little here: 17 nodes per batch, against the thousands of element
 * operations inside them, and tg_tape_reset keeps the tape's memory, so after the first
 * batches the tape allocates nothing. (A one-hot target with tg_log_softmax could be
 * replayed instead.)
 * See LICENSE. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad.h"

#define PER_CLASS 200          /* points per spiral */
#define NPTS (2 * PER_CLASS)
#define H 32                   /* hidden units per layer */
#define BATCH 20               /* NPTS / BATCH batches per epoch */
#define EPOCHS 500
#define LR 0.1
#define SEED 20240601u

/* splitmix64: the state is the caller's */
static double uniform(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static double gaussian(uint64_t *s) /* Box-Muller */
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* Two spirals of 1.5 turns each, the second the first turned by pi, out to radius 3 (at
 * radius 1 the first layer's tanh units see too small a range and SGD sits for hundreds of
 * epochs on a plateau near 60%), with a little noise. */
static void spirals(double X[NPTS][2], int y[NPTS], uint64_t *s)
{
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < PER_CLASS; i++) {
            double t = 0.05 + 0.95 * i / (PER_CLASS - 1); /* 0.05 .. 1 along the arm */
            double a = 3.0 * 3.141592653589793 * t + c * 3.141592653589793;
            int k = c * PER_CLASS + i;
            X[k][0] = 3.0 * t * cos(a) + 0.05 * gaussian(s);
            X[k][1] = 3.0 * t * sin(a) + 0.05 * gaussian(s);
            y[k] = c;
        }
}

/* ---- the parameters, kept in the caller's arrays and copied onto the tape per batch ---- */

typedef struct layer {
    int in, out;
    double *W, *b; /* W is in x out, row-major; b has out entries */
} layer;

static int layer_init(layer *l, int in, int out, uint64_t *s)
{
    l->in = in;
    l->out = out;
    l->W = malloc((size_t)in * out * sizeof *l->W);
    l->b = calloc((size_t)out, sizeof *l->b);
    if (!l->W || !l->b) return -1;
    double r = sqrt(6.0 / (in + out)); /* Glorot uniform, a good start for tanh */
    for (int e = 0; e < in * out; e++) l->W[e] = r * (2.0 * uniform(s) - 1.0);
    return 0;
}

/* The layer's parameters on tape t; their handles in *W, *b; returns x W + b. */
static tg_var layer_apply(tg_tape *t, const layer *l, tg_var x, tg_var *W, tg_var *b)
{
    int shW[2] = {l->in, l->out}, shb[1] = {l->out};
    *W = tg_tensor_param(t, 2, shW, l->W);
    *b = tg_tensor_param(t, 1, shb, l->b);
    return tg_add(tg_matmul(x, *W), *b); /* [n,out] + [out]: b broadcasts over the rows */
}

static void layer_sgd(layer *l, tg_var W, tg_var b, double lr)
{
    const double *gW = tg_gradient_data(W), *gb = tg_gradient_data(b);
    for (int e = 0; e < l->in * l->out; e++) l->W[e] -= lr * gW[e];
    for (int e = 0; e < l->out; e++) l->b[e] -= lr * gb[e];
}

typedef struct mlp {
    layer l[3];
    tg_var W[3], b[3];
} mlp;

/* Record the network on n rows of x (n x 2): the logits, n x 2. */
static tg_var forward(tg_tape *t, mlp *m, int n, const double *x)
{
    int shX[2] = {n, 2};
    tg_var h = tg_tensor_const(t, 2, shX, x);
    h = tg_tanh(layer_apply(t, &m->l[0], h, &m->W[0], &m->b[0]));
    h = tg_tanh(layer_apply(t, &m->l[1], h, &m->W[1], &m->b[1]));
    return layer_apply(t, &m->l[2], h, &m->W[2], &m->b[2]);
}

/* Fraction of the n points whose larger logit is their label. */
static double accuracy(tg_tape *t, mlp *m, int n, const double *x, const int *y)
{
    tg_tape_reset(t);
    const double *z = tg_data(forward(t, m, n, x));
    if (!z) return -1;
    int right = 0;
    for (int i = 0; i < n; i++) right += (z[2 * i + 1] > z[2 * i]) == (y[i] == 1);
    return (double)right / n;
}

int main(void)
{
    static double X[NPTS][2], xb[BATCH][2];
    static int y[NPTS], yb[BATCH], order[NPTS];
    uint64_t s = SEED;
    spirals(X, y, &s);

    mlp m;
    if (layer_init(&m.l[0], 2, H, &s) || layer_init(&m.l[1], H, H, &s) ||
        layer_init(&m.l[2], H, 2, &s)) {
        fprintf(stderr, "mlp: out of memory\n");
        return 1;
    }
    tg_tape *t = tg_tape_new();
    if (!t) return 1;
    for (int i = 0; i < NPTS; i++) order[i] = i;

    printf("two spirals, %d points; 2-%d-%d-2 tanh MLP; softmax cross-entropy; SGD, lr %g, "
           "batch %d\n", NPTS, H, H, LR, BATCH);
    for (int epoch = 1; epoch <= EPOCHS; epoch++) {
        for (int i = NPTS - 1; i > 0; i--) { /* shuffle (Fisher-Yates) */
            int j = (int)(uniform(&s) * (i + 1)), k = order[i];
            order[i] = order[j];
            order[j] = k;
        }
        double loss = 0;
        for (int b0 = 0; b0 < NPTS; b0 += BATCH) {
            for (int i = 0; i < BATCH; i++) {
                memcpy(xb[i], X[order[b0 + i]], sizeof xb[i]);
                yb[i] = y[order[b0 + i]];
            }
            tg_tape_reset(t); /* record this batch's graph; the memory is kept */
            tg_var L = tg_cross_entropy(forward(t, &m, BATCH, &xb[0][0]), yb);
            if (tg_backward(L) != 0) {
                fprintf(stderr, "mlp: %s\n", tg_tape_error(t));
                return 1;
            }
            loss += tg_value(L) * BATCH / NPTS;
            for (int k = 0; k < 3; k++) layer_sgd(&m.l[k], m.W[k], m.b[k], LR);
        }
        if (epoch % 50 == 0 || epoch == 1)
            printf("epoch %4d  loss %.4f  accuracy %5.1f%%\n", epoch, loss,
                   100 * accuracy(t, &m, NPTS, &X[0][0], y));
    }
    double acc = accuracy(t, &m, NPTS, &X[0][0], y);
    printf("final training accuracy: %.1f%% (%d of %d points)\n", 100 * acc,
           (int)lround(acc * NPTS), NPTS);
    tg_tape_free(t);
    for (int k = 0; k < 3; k++) {
        free(m.l[k].W);
        free(m.l[k].b);
    }
    if (acc < 0.97) {
        fprintf(stderr, "mlp: training accuracy %.1f%% is below 97%%\n", 100 * acc);
        return 1;
    }
    return 0;
}
