/* tapegrad_article.h - the classic backpropagation article's 2-3-1 network, recorded on a tape
 * with the article's names, and its hand-derived delta formulas computed in plain C, so the two
 * can be compared number by number (tapegrad article, docs/article.md). See LICENSE.
 *
 *   z_j[2] = w1j[1]*x1 + w2j[1]*x2,  a_j[2] = g(z_j[2])            j = 1..3
 *   z1[3]  = sum_j wj1[2]*a_j[2],    a1[3]  = g(z1[3]),   E = 1/2 (a1[3] - t)^2
 *   delta1[3] = (a1[3] - t) g'(z1[3]),       dE/dwj1[2] = a_j[2] delta1[3]
 *   deltaj[2] = delta1[3] wj1[2] g'(z_j[2]), dE/dwij[1] = x_i deltaj[2]
 */
#ifndef TAPEGRAD_ARTICLE_H
#define TAPEGRAD_ARTICLE_H

#include "tapegrad.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tg_op_def; /* tapegrad_op.h */

/* The seed tg_article_point_seed uses when the caller has no preference (the CLI's default). */
#define TG_ARTICLE_SEED 2024

/* Number of settable leaves (x1, x2, t and the nine weights) and of weights. */
#define TG_ARTICLE_NLEAVES 12
#define TG_ARTICLE_NWEIGHTS 9

/* A point of the network: inputs, target and weights, in the article's indexing:
 * w1[i][j] is w(i+1)(j+1)[1] (input i+1 to hidden unit j+1), w2[j] is w(j+1)1[2]. */
typedef struct tg_article_point {
    double x[2];
    double t;
    double w1[2][3];
    double w2[3];
} tg_article_point;

/* The network as recorded: handles to every named node. Every node on the tape carries a
 * label: the article's names (x1, x2, t, w11[1] .. w23[1], w11[2], w21[2], w31[2], z1[2] ..
 * z3[2], a1[2] .. a3[2], z1[3], a1[3], E) and descriptive ones for the products and sums
 * between them ("w11[1]*x1", "a1[3]-t", ...). */
typedef struct tg_article {
    tg_tape *tape;
    const struct tg_op_def *g; /* the activation */
    double slope;              /* its second operand when it takes one (leaky_relu) */
    tg_var x[2], t;            /* constants */
    tg_var w1[2][3], w2[3];    /* parameters */
    tg_var z2[3], a2[3];       /* hidden layer */
    tg_var z3, a3;             /* output unit */
    tg_var E;                  /* the error */
} tg_article;

/* Gradients of E in the article's layout: the nine dE/dw and the deltas dE/dz. */
typedef struct tg_article_grads {
    double w1[2][3];  /* dE/dw(i+1)(j+1)[1] */
    double w2[3];     /* dE/dw(j+1)1[2] */
    double delta3;    /* delta1[3] = dE/dz1[3] */
    double delta2[3]; /* delta(j+1)[2] = dE/dz(j+1)[2] */
} tg_article_grads;

/* One comparison of the reverse sweep with the article's formulas at the current values. */
typedef struct tg_article_report {
    double E;                 /* the error's value */
    tg_article_grads tape;    /* from tg_backward: dE/dw at the weights, dE/dz at the z nodes */
    tg_article_grads formula; /* the article's delta formulas (tg_article_formula) */
    tg_article_grads diff;    /* tape - formula, entry by entry */
    double max_abs_diff;      /* the largest |diff| */
} tg_article_report;

/* ---- activations ---- */

/* The i-th activation the article is run with ("sigmoid", "tanh", "relu", "leaky_relu"), or
 * NULL when i is out of range. */
TG_API const char *tg_article_activation_name(int i);
/* The registry's descriptor for one of those names, or NULL for any other name. */
TG_API const struct tg_op_def *tg_article_activation(const char *name);

/* ---- points ---- */

/* The i-th settable name in the article's order (x1, x2, t, w11[1], w12[1], w13[1], w21[1],
 * w22[1], w23[1], w11[2], w21[2], w31[2]), or NULL when i is out of range. */
TG_API const char *tg_article_leaf_name(int i);
/* A reproducible pseudo-random point from seed (no global state): x1, x2 and the nine weights
 * uniform in [-1, 1), t uniform in [0, 1) (inside the range of sigmoid and tanh). */
TG_API void tg_article_point_seed(tg_article_point *p, uint64_t seed);
/* Set the entry called name (one of tg_article_leaf_name's). Returns TG_OK, or TG_ERR_ARG
 * for an unknown name (p unchanged). */
TG_API tg_status tg_article_point_set(tg_article_point *p, const char *name, double v);
/* The current values of the network's leaves (after tg_article_step, the updated weights). */
TG_API void tg_article_point_get(const tg_article *net, tg_article_point *p);

/* ---- the network on a tape ---- */

/* Record the network at point p on tape t (appended to what t holds) with activation g: a
 * registry descriptor of arity 1, or of arity 2 taking slope as its second operand
 * (leaky_relu). Fills *net. Returns TG_OK or the tape's status (TG_ERR_ARG for a NULL
 * argument or an activation of another arity, with the tape's message saying which). */
TG_API tg_status tg_article_build(tg_article *net, tg_tape *t, const struct tg_op_def *g,
                                  double slope, const tg_article_point *p);
/* Write the network as a program of the expression language (docs/cli.md) to f: the named
 * steps z1[2], a1[2], z2[2], a2[2], z3[2], a3[2], z1[3], a1[3] and E (the output), in the order
 * and with the sums tg_article_build records, after comments on the article's notation. The
 * leaves x1, x2, t and the nine weights have no values in it. g is called by its registry
 * name, with slope as its second operand when it takes two ("leaky_relu(z1[2], 0.01)"); E's
 * square is written ^2 (pow, where tg_article_build multiplies a1[3]-t by itself: the same
 * numbers to rounding). docs/examples/article.tg is the text for sigmoid. Returns TG_OK, or
 * TG_ERR_ARG when f or g is NULL, g takes other than 1 or 2 operands, or writing failed. */
TG_API tg_status tg_article_program(FILE *f, const struct tg_op_def *g, double slope);
/* Move the network to point p without re-recording: tg_set every leaf, then tg_replay.
 * Returns tg_replay's answer (TG_OK; tg_replay_note names a node that crossed a kink). */
TG_API tg_status tg_article_set_point(tg_article *net, const tg_article_point *p);

/* The reverse sweep's answer: tg_backward(E), then dE/dw at the nine weights and dE/dz at the
 * four z nodes. Returns 0 or tg_backward's error status. */
TG_API tg_status tg_article_tape_grads(tg_article *net, tg_article_grads *out);
/* The article's hand formulas, in plain C from the node values z, a, x, t and w (no sweep):
 * delta1[3] = (a1[3] - t) g'(z1[3]), dE/dwj1[2] = a_j[2] delta1[3],
 * deltaj[2] = delta1[3] wj1[2] g'(z_j[2]), dE/dwij[1] = x_i deltaj[2].
 * g' is written out by hand for the article's four activations (sigmoid' = a(1-a),
 * tanh' = 1-a^2, relu' = [z > 0], leaky_relu' = z > 0 ? 1 : slope, the ops' kink
 * conventions); any other activation's g' is its descriptor's partial dy/dx[0]. */
TG_API void tg_article_formula(const tg_article *net, tg_article_grads *out);
/* Both of the above and their differences. Returns 0 or tg_backward's error status. */
TG_API tg_status tg_article_evaluate(tg_article *net, tg_article_report *rep);
/* One gradient-descent step w <- w - lr*dE/dw on all nine weights at once (every gradient is
 * taken at the old weights, as the article warns), with the gradients from the reverse sweep,
 * then tg_replay. Returns tg_replay's answer (TG_OK, or an error status; tg_replay_note names
 * a node that crossed a kink). */
TG_API tg_status tg_article_step(tg_article *net, double lr);

#ifdef __cplusplus
}
#endif
#endif
