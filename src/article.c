/* article.c - the backpropagation article's 2-3-1 network: recorded on a tape with the
 * article's names (or written as a program of named steps), and its hand-derived delta
 * formulas computed in plain C from the node values, so the generic reverse sweep and the
 * hand derivation can be compared number by number. docs/article.md maps each formula to the
 * function here and the test checking it. See LICENSE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tapegrad_article.h"

/* ---- activations ---- */

static const char *const activations[] = {"sigmoid", "tanh", "relu", "leaky_relu"};
#define NACT ((int)(sizeof activations / sizeof activations[0]))

const char *tg_article_activation_name(int i)
{
    return i >= 0 && i < NACT ? activations[i] : NULL;
}

const tg_op_def *tg_article_activation(const char *name)
{
    for (int i = 0; name && i < NACT; i++)
        if (strcmp(name, activations[i]) == 0) return tg_registry_find(NULL, name);
    return NULL;
}

/* g'(z) as the article writes it, from the node's input z and output a. The four article
 * activations are written out by hand, independently of the ops' partials, so the formula
 * column is a second derivation and not a copy of the sweep; the kink values follow the ops'
 * documented conventions (relu'(0) = 0, leaky_relu'(0) = slope). */
static double g_prime(const tg_op_def *g, double slope, double z, double a)
{
    if (g == &tg_op_sigmoid) return a * (1.0 - a);
    if (g == &tg_op_tanh) return 1.0 - a * a;
    if (g == &tg_op_relu) return z > 0 ? 1.0 : 0.0;
    if (g == &tg_op_leaky_relu) return z > 0 ? 1.0 : slope;
    double x[TG_MAX_ARITY] = {z, slope}, d[TG_MAX_ARITY] = {0.0};
    g->eval(x, d);
    return d[0];
}

/* ---- points ---- */

static const char *const leaf_names[TG_ARTICLE_NLEAVES] = {
    "x1", "x2", "t", "w11[1]", "w12[1]", "w13[1]", "w21[1]", "w22[1]", "w23[1]",
    "w11[2]", "w21[2]", "w31[2]"};

const char *tg_article_leaf_name(int i)
{
    return i >= 0 && i < TG_ARTICLE_NLEAVES ? leaf_names[i] : NULL;
}

/* The i-th leaf of a point, in leaf_names' order. */
static double *leaf_slot(tg_article_point *p, int i)
{
    if (i < 2) return &p->x[i];
    if (i == 2) return &p->t;
    if (i < 9) return &p->w1[(i - 3) / 3][(i - 3) % 3];
    return &p->w2[i - 9];
}

/* The i-th leaf node of a network, in the same order. */
static tg_var leaf_var(const tg_article *net, int i)
{
    if (i < 2) return net->x[i];
    if (i == 2) return net->t;
    if (i < 9) return net->w1[(i - 3) / 3][(i - 3) % 3];
    return net->w2[i - 9];
}

/* splitmix64 (Steele, Lea, Flood 2014): a full-period generator whose state is the caller's. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) from the top 53 bits. */
static double uniform(uint64_t *s) { return (double)(splitmix64(s) >> 11) * 0x1p-53; }

void tg_article_point_seed(tg_article_point *p, uint64_t seed)
{
    if (!p) return;
    uint64_t s = seed;
    for (int i = 0; i < TG_ARTICLE_NLEAVES; i++) {
        double u = uniform(&s);
        *leaf_slot(p, i) = i == 2 ? u : 2.0 * u - 1.0;
    }
}

tg_status tg_article_point_set(tg_article_point *p, const char *name, double v)
{
    for (int i = 0; p && name && i < TG_ARTICLE_NLEAVES; i++) {
        if (strcmp(name, leaf_names[i]) == 0) {
            *leaf_slot(p, i) = v;
            return TG_OK;
        }
    }
    return TG_ERR_ARG;
}

void tg_article_point_get(const tg_article *net, tg_article_point *p)
{
    if (!net || !p) return;
    for (int i = 0; i < TG_ARTICLE_NLEAVES; i++) *leaf_slot(p, i) = tg_value(leaf_var(net, i));
}

/* ---- the network on a tape ---- */

/* v, labelled name (built from a printf format); returns v. */
static tg_var named(tg_var v, const char *fmt, int a, int b)
{
    char name[48];
    snprintf(name, sizeof name, fmt, a, b);
    tg_label(v, name);
    return v;
}

static tg_var activate(const tg_article *net, tg_var z, tg_var slope)
{
    return net->g->arity == 2 ? tg_apply2(net->g, z, slope) : tg_apply1(net->g, z);
}

tg_status tg_article_build(tg_article *net, tg_tape *t, const tg_op_def *g, double slope,
                           const tg_article_point *p)
{
    if (!t) return TG_ERR_ARG;
    if (!net || !g || !p)
        return tg_fail(t, TG_ERR_ARG, "tg_article_build: %s is NULL",
                       !net ? "net" : !g ? "the activation" : "the point");
    if (g->arity != 1 && g->arity != 2)
        return tg_fail(t, TG_ERR_ARG, "tg_article_build: activation %s takes %d operands (it "
                       "must take 1, or 2 with the slope second)", g->name, g->arity);
    memset(net, 0, sizeof *net);
    net->tape = t;
    net->g = g;
    net->slope = slope;

    /* leaves: inputs and target are constants, the nine weights parameters */
    for (int i = 0; i < 2; i++) net->x[i] = named(tg_const(t, p->x[i]), "x%d", i + 1, 0);
    net->t = named(tg_const(t, p->t), "t", 0, 0);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            net->w1[i][j] = named(tg_param(t, p->w1[i][j]), "w%d%d[1]", i + 1, j + 1);
    for (int j = 0; j < 3; j++) net->w2[j] = named(tg_param(t, p->w2[j]), "w%d1[2]", j + 1, 0);
    tg_var s = {0}; /* the slope operand, shared by the four activations that take one */
    if (g->arity == 2) s = named(tg_const(t, slope), "slope", 0, 0);

    /* hidden layer: z_j[2] = w1j[1]*x1 + w2j[1]*x2, a_j[2] = g(z_j[2]) */
    for (int j = 0; j < 3; j++) {
        tg_var p1 = named(tg_mul(net->w1[0][j], net->x[0]), "w1%d[1]*x1", j + 1, 0);
        tg_var p2 = named(tg_mul(net->w1[1][j], net->x[1]), "w2%d[1]*x2", j + 1, 0);
        net->z2[j] = named(tg_add(p1, p2), "z%d[2]", j + 1, 0);
        net->a2[j] = named(activate(net, net->z2[j], s), "a%d[2]", j + 1, 0);
    }

    /* output unit: z1[3] = sum_j wj1[2]*a_j[2], a1[3] = g(z1[3]) */
    tg_var term[3];
    for (int j = 0; j < 3; j++)
        term[j] = named(tg_mul(net->w2[j], net->a2[j]), "w%d1[2]*a%d[2]", j + 1, j + 1);
    tg_var sum12 = named(tg_add(term[0], term[1]), "w11[2]*a1[2]+w21[2]*a2[2]", 0, 0);
    net->z3 = named(tg_add(sum12, term[2]), "z1[3]", 0, 0);
    net->a3 = named(activate(net, net->z3, s), "a1[3]", 0, 0);

    /* E = 1/2 (a1[3] - t)^2 */
    tg_var err = named(tg_sub(net->a3, net->t), "a1[3]-t", 0, 0);
    tg_var sq = named(tg_mul(err, err), "(a1[3]-t)^2", 0, 0);
    net->E = named(tg_mul(named(tg_const(t, 0.5), "1/2", 0, 0), sq), "E", 0, 0);
    return tg_tape_status(t);
}

/* ---- the network as a program ---- */

/* The program text mirrors tg_article_build step for step: the same names, the same order,
 * the same sums in the same order (so the parsed program records the same numbers); E's
 * square is written ^2, as the article writes it, where the builder multiplies a1[3]-t by
 * itself. tests/test_article.c parses the text and compares it with the builder's network. */

/* The shortest %g form of v that reads back as v (0.01, not 0.01000000000000000021). */
static void shortest(char *buf, size_t size, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* g applied to the step called arg, as the program calls it: "sigmoid(z1[2])", or
 * "leaky_relu(z1[2], 0.01)" for an activation taking the slope second. */
static void call(char *buf, size_t size, const tg_op_def *g, const char *slope, const char *arg)
{
    if (g->arity == 2) snprintf(buf, size, "%s(%s, %s)", g->name, arg, slope);
    else snprintf(buf, size, "%s(%s)", g->name, arg);
}

tg_status tg_article_program(FILE *f, const tg_op_def *g, double slope)
{
    if (!f || !g || (g->arity != 1 && g->arity != 2)) return TG_ERR_ARG;
    char s[32] = "", a[96];
    if (g->arity == 2) shortest(s, sizeof s, slope);

    fprintf(f, "# The backpropagation article's 2-3-1 network as a program of named steps,\n"
               "# written by tapegrad article --program; here g = %s%s%s.\n"
               "# Layer 1 is the inputs x1, x2, layer 2 the three hidden units, layer 3 the\n"
               "# output unit; t is the target. wij[l] is the weight from unit i of layer l to\n"
               "# unit j of layer l+1; zj[l] is the weighted input of unit j of layer l and\n"
               "# aj[l] = g(zj[l]) its output. No biases. x1, x2, t and the nine weights are\n"
               "# leaves (--at gives them values); the last step, E, is the output.\n"
               "# The article's delta of a unit is dE/dz there, the adjoint of its z step:\n"
               "#   delta1[3] = (a1[3] - t)*g'(z1[3])     deltaj[2] = delta1[3]*wj1[2]*g'(zj[2])\n",
            g->name, g->arity == 2 ? " with slope " : "", s);

    fputs("\n# hidden layer, j = 1, 2, 3: zj[2] = w1j[1]*x1 + w2j[1]*x2, aj[2] = g(zj[2])\n", f);
    for (int j = 1; j <= 3; j++) {
        char z[16];
        snprintf(z, sizeof z, "z%d[2]", j);
        call(a, sizeof a, g, s, z);
        fprintf(f, "%s = w1%d[1]*x1 + w2%d[1]*x2\na%d[2] = %s\n", z, j, j, j, a);
    }

    call(a, sizeof a, g, s, "z1[3]");
    fprintf(f, "\n# output unit: z1[3] = sum over j of wj1[2]*aj[2], a1[3] = g(z1[3])\n"
               "z1[3] = w11[2]*a1[2] + w21[2]*a2[2] + w31[2]*a3[2]\n"
               "a1[3] = %s\n"
               "\n# the error\n"
               "E = 0.5*(a1[3] - t)^2\n", a);
    return ferror(f) ? TG_ERR_ARG : TG_OK;
}

tg_status tg_article_set_point(tg_article *net, const tg_article_point *p)
{
    if (!net || !net->tape) return TG_ERR_ARG;
    if (!p) return tg_fail(net->tape, TG_ERR_ARG, "tg_article_set_point: the point is NULL");
    tg_article_point q = *p;
    for (int i = 0; i < TG_ARTICLE_NLEAVES; i++) tg_set(leaf_var(net, i), *leaf_slot(&q, i));
    return tg_replay(net->tape);
}

/* ---- the two derivations ---- */

tg_status tg_article_tape_grads(tg_article *net, tg_article_grads *out)
{
    if (!net || !net->tape) return TG_ERR_ARG;
    int st = tg_backward(net->E);
    if (st != TG_OK) return st;
    if (!out) return TG_OK;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) out->w1[i][j] = tg_gradient(net->w1[i][j]);
    for (int j = 0; j < 3; j++) {
        out->w2[j] = tg_gradient(net->w2[j]);
        out->delta2[j] = tg_gradient(net->z2[j]);
    }
    out->delta3 = tg_gradient(net->z3);
    return TG_OK;
}

void tg_article_formula(const tg_article *net, tg_article_grads *out)
{
    if (!net || !out) return;
    const tg_op_def *g = net->g;
    double x[2] = {tg_value(net->x[0]), tg_value(net->x[1])}, t = tg_value(net->t);
    double z3 = tg_value(net->z3), a3 = tg_value(net->a3);

    /* delta1[3] = (a1[3] - t) * g'(z1[3]) */
    out->delta3 = (a3 - t) * g_prime(g, net->slope, z3, a3);
    for (int j = 0; j < 3; j++) {
        double z = tg_value(net->z2[j]), a = tg_value(net->a2[j]);
        /* dE/dwj1[2] = a_j[2] * delta1[3] */
        out->w2[j] = a * out->delta3;
        /* deltaj[2] = delta1[3] * wj1[2] * g'(z_j[2]), with wj1[2] before any update */
        out->delta2[j] = out->delta3 * tg_value(net->w2[j]) * g_prime(g, net->slope, z, a);
        /* dE/dwij[1] = x_i * deltaj[2] */
        for (int i = 0; i < 2; i++) out->w1[i][j] = x[i] * out->delta2[j];
    }
}

/* d = a - b entry by entry; returns max |d|. */
static double grads_diff(const tg_article_grads *a, const tg_article_grads *b,
                         tg_article_grads *d)
{
    const double *pa = &a->w1[0][0], *pb = &b->w1[0][0];
    double *pd = &d->w1[0][0], m = 0.0;
    enum { N = sizeof(tg_article_grads) / sizeof(double) };
    _Static_assert(sizeof(tg_article_grads) == N * sizeof(double), "grads are plain doubles");
    for (int k = 0; k < N; k++) {
        pd[k] = pa[k] - pb[k];
        double e = fabs(pd[k]);
        if (!isnan(m) && (isnan(e) || e > m)) m = e; /* a NaN anywhere is the answer */
    }
    return m;
}

tg_status tg_article_evaluate(tg_article *net, tg_article_report *rep)
{
    if (!net || !net->tape) return TG_ERR_ARG;
    if (!rep) return tg_fail(net->tape, TG_ERR_ARG, "tg_article_evaluate: the report is NULL");
    memset(rep, 0, sizeof *rep);
    int st = tg_article_tape_grads(net, &rep->tape);
    if (st != TG_OK) return st;
    tg_article_formula(net, &rep->formula);
    rep->E = tg_value(net->E);
    rep->max_abs_diff = grads_diff(&rep->tape, &rep->formula, &rep->diff);
    return TG_OK;
}

tg_status tg_article_step(tg_article *net, double lr)
{
    tg_article_grads gr;
    int st = tg_article_tape_grads(net, &gr);
    if (st != TG_OK) return st;
    /* w <- w - lr*dE/dw for all nine, every gradient taken before any weight moved */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            tg_set(net->w1[i][j], tg_value(net->w1[i][j]) - lr * gr.w1[i][j]);
    for (int j = 0; j < 3; j++) tg_set(net->w2[j], tg_value(net->w2[j]) - lr * gr.w2[j]);
    return tg_replay(net->tape);
}
