/* test_derivations.c - hand back-propagation checked step by step on random networks that are
 * not in the repository: every correct delta dE/dSTEP agrees, and each typical slip written
 * into one step's delta is caught and named first in reverse-sweep order, by tg_check_formula
 * and by `tapegrad check --adjoint --json`. Seeded; TG_DERIVATIONS=N (default 300) and
 * TG_DERIVATIONS_SEED=S run another set. See LICENSE. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "json.h"
#include "run.h"
#include "tapegrad.h"
#include "tapegrad_expr.h"

/* The generator. A network has the article's layers and names: layer 1 the inputs x1.., then 1-4
 * hidden layers of 1-4 units and an output layer of 1-2 (targets t, or t1 and t2); wij[l] weighs
 * unit i of layer l into unit j of layer l+1, bj[l] is a bias (per layer, or none), zj[l] = sum_i
 * wij[l-1]*ai[l-1] (+ bj[l]) and aj[l] = g(zj[l]), g drawn per layer from ten activations whose
 * derivative is written from z or a (leaky_relu the one kink: a point lands on it with probability
 * 0; relu is left out, as its zero slope would hide slips at random); E is one of four losses
 * summed over the outputs. Leaves are drawn from [-2, 2]; at most one layer is exp or a square
 * (two in a row overflow at most points). The program lists the steps unit by unit or layer by
 * layer (another reverse-sweep order), on lines or after ';'.
 *
 * The hand deltas follow the recurrence from E down: dE/daj[L] from the loss, dE/dzj[l] =
 * dE/daj[l]*g'(zj[l]) (cross-entropy on a sigmoid: aj[L] - t directly), dE/daj[l] = sum_k
 * wjk[l]*dE/dzk[l+1]; a delta cannot name another delta, so each is expanded in leaves and step
 * names, and g' is written in one of the forms people use (a*(1 - a) or sigmoid(z)*...).
 *
 * The slips: g' dropped, the sign flipped (an output's as t - a), a weight swapped for a neighbour
 * in its layer, a neighbouring unit's delta, the next layer's delta copied down. One slip per kind
 * and derivation goes into a random step, and the later deltas are written from it or from the
 * right one. The slipped step must be caught and be the first wrong step in the order the reverse
 * sweep reaches them (the latest node first; an a before its z where an identity layer makes them
 * one node), and every delta not made from it must agree. A slip that can change nothing here (the
 * g' of an identity layer, a neighbour in a one-unit layer, another weight in a one-weight layer)
 * is skipped and counted; one that agrees is compared with the right delta at points of our own,
 * to tell a slip that vanishes on this network from one the checker missed. The first 20
 * derivations and their slips go through the command too, the adjoints in a shuffled order: its
 * JSON must say what the library says. */

#define MAXL 6                               /* layers: the inputs, 1-4 hidden, the output */
#define MAXW 4                               /* units in a layer */
#define MAXSTEPS (2 * (MAXL - 1) * MAXW + 1) /* z and a of every unit, and E */
#define MAXLEAVES 128                        /* inputs, weights, biases, targets */
#define NAMESZ 32                            /* a name, "w12[3]" */
#define SAMPLES 24      /* points per check: a slip shows at almost every point */
#define LO (-2.0)       /* where every leaf is drawn, inputs, weights, biases and targets */
#define HI 2.0
#define CLI_DERIVATIONS 20
#define MAX_REPORTS 8   /* failures described in full; the rest are counted */

/* ---- text ---- */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (!b->p || b->n + (size_t)k + 1 > b->cap) {
        b->cap = 2 * (b->n + (size_t)k + 1);
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p, "out of memory");
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

static char *copy(const char *s)
{
    buf b = {0};
    put(&b, "%s", s);
    return b.p;
}

/* Whether s is one factor as it stands: a name, a number, a call or a parenthesis. */
static int factor(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_[].");
    if (s[n] == '\0') return 1;
    if (s[n] != '(') return 0;
    int depth = 0;
    for (const char *p = s + n; *p; p++) {
        depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        if (depth == 0) return p[1] == '\0';
    }
    return 0;
}

/* s as a factor of a product: in parentheses unless it is one already. */
static void put_factor(buf *b, const char *s) { put(b, factor(s) ? "%s" : "(%s)", s); }

/* tpl with '@' replaced by z, '#' by a and '$' by t (malloc'd). */
static char *subst(const char *tpl, const char *z, const char *a, const char *t)
{
    buf b = {0};
    put(&b, "%s", "");
    for (const char *p = tpl; *p; p++)
        put(&b, "%s", *p == '@' ? z : *p == '#' ? a : *p == '$' ? t : (char[2]){*p, 0});
    return b.p;
}

/* ---- networks ---- */

typedef struct act {
    const char *name;
    const char *g;  /* a = g(z), '@' standing for z */
    int grows;      /* faster than linear: one such layer at most, or every point overflows */
    const char *dg[4]; /* g'(z) as a factor, in z ('@') or a ('#'), written the ways people
                        * write it (one is picked per unit); none: g' = 1, nothing written */
} act;

static const act acts[] = {
    {"sigmoid", "sigmoid(@)", 0, {"#*(1 - #)", "sigmoid(@)*(1 - sigmoid(@))"}},
    {"tanh", "tanh(@)", 0, {"(1 - #^2)", "(1 - #*#)", "(1 - tanh(@)^2)"}},
    {"softplus", "softplus(@)", 0, {"sigmoid(@)", "1/(1 + exp(-@))"}},
    {"sin", "sin(@)", 0, {"cos(@)"}},
    {"exp", "exp(@)", 1, {"#", "exp(@)"}},
    {"square", "@^2", 1, {"2*@", "(@ + @)"}},
    {"identity", "@", 0, {NULL}},
    {"leaky_relu", "leaky_relu(@, 0.1)", 0,
     {"where(step(@), 1, 0.1)", "where(@ > 0, 1, 0.1)", "(step(@) + 0.1*(1 - step(@)))"}},
    {"silu", "silu(@)", 0,
     {"sigmoid(@)*(1 + @*(1 - sigmoid(@)))", "(# + sigmoid(@)*(1 - #))"}},
    {"gelu", "gelu(@)", 0, {"(normcdf(@) + @*normpdf(@))"}},
};
#define NACTS ((int)(sizeof acts / sizeof acts[0]))
#define SIGMOID 0
#define LEAKY_RELU 7 /* the one kinked op */

/* One output's loss, with '#' its a and '$' its target. */
typedef struct loss {
    const char *name;
    const char *E;               /* the term of E */
    const char *da, *da_flipped; /* dE/da, and with the error's sign the wrong way round */
    const char *dz, *dz_flipped; /* dE/dz written directly (g' cancelled), or NULL: da*g' */
} loss;

static const loss losses[] = {
    {"squared error", "0.5*(# - $)^2", "(# - $)", "($ - #)", NULL, NULL},
    {"log-cosh", "log((exp(# - $) + exp($ - #))/2)", "tanh(# - $)", "tanh($ - #)", NULL, NULL},
    {"pseudo-Huber", "(sqrt(1 + (# - $)^2) - 1)", "(# - $)/sqrt(1 + (# - $)^2)",
     "($ - #)/sqrt(1 + (# - $)^2)", NULL, NULL},
    /* with a sigmoid output only: the article's (a - t) at z, g' cancelled */
    {"cross-entropy", "(-$*log(#) - (1 - $)*log(1 - #))", "(# - $)/(#*(1 - #))",
     "($ - #)/(#*(1 - #))", "(# - $)", "($ - #)"},
};
#define NLOSSES ((int)(sizeof losses / sizeof losses[0]))
#define XENT 3

/* Layer 1 is the inputs x1.., layers 2..nl-1 the hidden ones, nl the output; wij[l] is the
 * weight from unit i of layer l to unit j of layer l+1, bj[l] unit j's bias, zj[l] its
 * weighted input and aj[l] = g(zj[l]) its output (the article's names). */
typedef struct net {
    int nl;
    int width[MAXL + 1];
    int act[MAXL + 1];
    int bias[MAXL + 1];
    int loss;
    int layerwise;  /* a layer's z steps, then its a steps (else z and a unit by unit) */
    int semicolons; /* statements on one line, separated by ';' (else one a line) */
    uint64_t style; /* which of the ways to write g' each unit's deltas use */
} net;

static void net_draw(th_rng *r, net *n)
{
    memset(n, 0, sizeof *n);
    n->nl = 3 + (int)(th_next(r) % 4);
    n->width[1] = 1 + (int)(th_next(r) % 3);
    for (int l = 2; l < n->nl; l++) n->width[l] = 1 + (int)(th_next(r) % MAXW);
    n->width[n->nl] = th_next(r) % 4 == 0 ? 2 : 1;
    n->loss = (int)(th_next(r) % NLOSSES);
    int grown = 0;
    for (int l = 2; l <= n->nl; l++) {
        int a;
        do a = (int)(th_next(r) % NACTS);
        while (acts[a].grows && grown);
        grown |= acts[a].grows;
        n->act[l] = a;
        n->bias[l] = (int)(th_next(r) % 2);
    }
    if (n->loss == XENT) n->act[n->nl] = SIGMOID;
    n->layerwise = (int)(th_next(r) % 2);
    n->semicolons = th_next(r) % 4 == 0;
    n->style = th_next(r);
}

static void zname(char *s, int j, int l) { snprintf(s, NAMESZ, "z%d[%d]", j, l); }
static void aname(char *s, int j, int l) { snprintf(s, NAMESZ, "a%d[%d]", j, l); }

static void tname(const net *n, char *s, int j)
{
    if (n->width[n->nl] == 1) snprintf(s, NAMESZ, "t");
    else snprintf(s, NAMESZ, "t%d", j);
}

/* The network as a program, a comment first saying what it is. */
static char *net_program(const net *n, uint64_t seed, int index)
{
    buf b = {0};
    put(&b, "# derivation %d of seed %llu: ", index, (unsigned long long)seed);
    for (int l = 1; l <= n->nl; l++) put(&b, "%s%d", l > 1 ? "-" : "", n->width[l]);
    put(&b, " units;");
    for (int l = 2; l <= n->nl; l++)
        put(&b, " %s%s", acts[n->act[l]].name, n->bias[l] ? "+b" : "");
    put(&b, "; %s\n", losses[n->loss].name);
    const char *sep = n->semicolons ? "; " : "\n";
    for (int l = 2; l <= n->nl; l++)
        for (int pass = 0; pass < 1 + n->layerwise; pass++)
            for (int j = 1; j <= n->width[l]; j++) {
                char z[NAMESZ], a[NAMESZ];
                zname(z, j, l);
                aname(a, j, l);
                if (!n->layerwise || pass == 0) {
                    put(&b, "%s = ", z);
                    for (int i = 1; i <= n->width[l - 1]; i++) {
                        put(&b, "%sw%d%d[%d]*", i > 1 ? " + " : "", i, j, l - 1);
                        if (l == 2) put(&b, "x%d", i);
                        else put(&b, "a%d[%d]", i, l - 1);
                    }
                    if (n->bias[l]) put(&b, " + b%d[%d]", j, l);
                    put(&b, "%s", sep);
                }
                if (!n->layerwise || pass == 1) {
                    char *g = subst(acts[n->act[l]].g, z, a, "");
                    put(&b, "%s = %s%s", a, g, sep);
                    free(g);
                }
            }
    put(&b, "E = ");
    for (int j = 1; j <= n->width[n->nl]; j++) {
        char a[NAMESZ], t[NAMESZ];
        aname(a, j, n->nl);
        tname(n, t, j);
        char *e = subst(losses[n->loss].E, "", a, t);
        put(&b, "%s%s", j > 1 ? " + " : "", e);
        free(e);
    }
    put(&b, "\n");
    return b.p;
}

/* ---- the hand deltas, and the slips ---- */

enum { SLIP_NONE, SLIP_GPRIME, SLIP_SIGN, SLIP_WEIGHT, SLIP_NEIGHBOUR, SLIP_LAYER, NKINDS };
static const char *const kind_names[NKINDS] = {"none", "g' dropped", "sign", "weight index",
                                               "neighbour's delta", "next layer's delta"};

typedef struct slip {
    int kind;
    int l, j, a;   /* the step: zj[l] (a = 0) or aj[l] (a = 1) */
    int propagate; /* the deltas after it are written from the slipped one */
    int k, wi, wj; /* SLIP_WEIGHT: term k of the sum has w{wi}{wj}[l] for wjk[l] */
    int nb;        /* SLIP_NEIGHBOUR, SLIP_LAYER: the unit whose delta is written instead,
                    * in the same layer or in the next one */
} slip;

typedef struct deltas {
    char *hand[MAXL + 1][MAXW + 1][2]; /* as written: [l][j][0] dE/dzj[l], [1] dE/daj[l] */
    int from_slip[MAXL + 1][MAXW + 1][2]; /* written from the slipped delta (not the slip) */
    char *right;                          /* the slipped step's correct delta */
} deltas;

static void deltas_free(deltas *d)
{
    for (int l = 0; l <= MAXL; l++)
        for (int j = 0; j <= MAXW; j++) free(d->hand[l][j][0]), free(d->hand[l][j][1]);
    free(d->right);
}

/* dE/daj[l] of a hidden unit: the sum over k of wjk[l]*dE/dzk[l+1]; term kw (if > 0) with the
 * weight w{wi}{wj}[l] instead. */
static char *delta_sum(const net *n, int l, int j, char *const *dz, int kw, int wi, int wj)
{
    buf b = {0};
    for (int k = 1; k <= n->width[l + 1]; k++)
    {
        put(&b, "%sw%d%d[%d]*", k > 1 ? " + " : "", k == kw ? wi : j, k == kw ? wj : k, l);
        put_factor(&b, dz[k]);
    }
    return b.p;
}

/* dE/daj[l] of an output unit, the error's sign flipped or not. */
static char *delta_out(const net *n, int j, int flip)
{
    char a[NAMESZ], t[NAMESZ];
    aname(a, j, n->nl);
    tname(n, t, j);
    return subst(flip ? losses[n->loss].da_flipped : losses[n->loss].da, "", a, t);
}

/* Whether dE/dzj[l] is written from dE/daj[l] (else the loss gives it directly). */
static int z_uses_a(const net *n, int l) { return l < n->nl || !losses[n->loss].dz; }

/* dE/dzj[l] = dE/daj[l]*g'(zj[l]) from da; the output's direct form when the loss has one
 * (flip: the error's sign the wrong way round); drop: g' left out. */
static char *delta_z(const net *n, int l, int j, const char *da, int flip, int drop)
{
    char z[NAMESZ], a[NAMESZ], t[NAMESZ];
    zname(z, j, l);
    aname(a, j, l);
    if (!z_uses_a(n, l)) {
        tname(n, t, j);
        return drop ? copy(da) : subst(flip ? losses[n->loss].dz_flipped : losses[n->loss].dz, z,
                                      a, t);
    }
    const char *const *ways = acts[n->act[l]].dg;
    int nways = 0;
    while (nways < 4 && ways[nways]) nways++;
    if (nways == 0 || drop) return copy(da);
    th_rng pick = th_rng_new(n->style ^ (uint64_t)(l * MAXW + j));
    const char *dg = ways[th_next(&pick) % (uint64_t)nways];
    char *g = subst(dg, z, a, "");
    buf b = {0};
    put_factor(&b, da);
    put(&b, "*%s", g);
    free(g);
    return b.p;
}

/* The slipped delta of s's step. ok: the correct deltas of its layer and kind; above: the
 * deltas dE/dz of the next layer as the recurrence uses them; da: dE/daj[l] as used; next:
 * the delta of the same kind of unit s->nb of the next layer (SLIP_LAYER). */
static char *slipped(const net *n, const slip *s, char *const *ok, char *const *above,
                     const char *da, const char *next)
{
    int out = s->l == n->nl;
    switch (s->kind) {
    case SLIP_GPRIME:
        return delta_z(n, s->l, s->j, da, 0, 1);
    case SLIP_SIGN:
        if (!out) {
            buf b = {0};
            put(&b, "-");
            put_factor(&b, ok[s->j]);
            return b.p;
        }
        if (s->a) return delta_out(n, s->j, 1);
        if (!z_uses_a(n, s->l)) return delta_z(n, s->l, s->j, "", 1, 0);
        char *flipped = delta_out(n, s->j, 1), *dz = delta_z(n, s->l, s->j, flipped, 0, 0);
        free(flipped);
        return dz;
    case SLIP_WEIGHT: {
        char *sum = delta_sum(n, s->l, s->j, above, s->k, s->wi, s->wj);
        if (s->a) return sum;
        char *z = delta_z(n, s->l, s->j, sum, 0, 0);
        free(sum);
        return z;
    }
    case SLIP_NEIGHBOUR:
        return copy(ok[s->nb]);
    case SLIP_LAYER: /* the recurrence not taken: the delta it starts from, copied down */
        return copy(next);
    }
    cr_assert_fail("slip kind %d", s->kind);
    return NULL;
}

/* Every step's delta by the recurrence, from the output down, with the slip s written into its
 * step (kind SLIP_NONE: none); with s->propagate the later deltas are written from it. */
static void deltas_write(const net *n, const slip *s, deltas *d)
{
    char *used[MAXL + 2][MAXW + 1][2] = {{{0}}}; /* what the recurrence goes on from */
    int taint[MAXL + 2][MAXW + 1][2] = {{{0}}};  /* used is not the correct delta */
    memset(d, 0, sizeof *d);
    for (int l = n->nl; l >= 2; l--) {
        char *above[MAXW + 1] = {0}; /* dE/dzk[l+1] as used */
        for (int k = 1; l < n->nl && k <= n->width[l + 1]; k++) above[k] = used[l + 1][k][0];
        for (int a = 1; a >= 0; a--) {
            char *ok[MAXW + 1] = {0};
            for (int j = 1; j <= n->width[l]; j++) {
                if (a) {
                    ok[j] = l == n->nl ? delta_out(n, j, 0) : delta_sum(n, l, j, above, 0, 0, 0);
                    for (int k = 1; l < n->nl && k <= n->width[l + 1]; k++)
                        d->from_slip[l][j][1] |= taint[l + 1][k][0];
                } else {
                    ok[j] = delta_z(n, l, j, used[l][j][1], 0, 0);
                    d->from_slip[l][j][0] = z_uses_a(n, l) && taint[l][j][1];
                }
            }
            for (int j = 1; j <= n->width[l]; j++) {
                int here = s->kind != SLIP_NONE && s->l == l && s->j == j && s->a == a;
                const char *next = here && s->kind == SLIP_LAYER ? used[l + 1][s->nb][a] : NULL;
                d->hand[l][j][a] = here ? slipped(n, s, ok, above, used[l][j][1], next)
                                        : copy(ok[j]);
                if (here) d->right = copy(ok[j]);
                taint[l][j][a] = d->from_slip[l][j][a] || (here && s->propagate);
                used[l][j][a] = copy(taint[l][j][a] ? d->hand[l][j][a] : ok[j]);
            }
            for (int j = 1; j <= n->width[l]; j++) free(ok[j]);
        }
    }
    for (int l = 0; l <= MAXL + 1; l++)
        for (int j = 0; j <= MAXW; j++) free(used[l][j][0]), free(used[l][j][1]);
}

/* A random step for a slip of this kind, and the slip's details. Returns 1, or 0 when the slip
 * can change nothing on this network (*why says why). */
static int slip_draw(const net *n, th_rng *r, int kind, slip *s, const char **why)
{
    int steps[2 * MAXL * MAXW][3], m = 0;
    for (int l = 2; l <= n->nl; l++)
        for (int j = 1; j <= n->width[l]; j++)
            for (int a = 0; a < 2; a++) {
                if (kind == SLIP_GPRIME && a) continue;            /* a has no g' of its own */
                if ((kind == SLIP_WEIGHT || kind == SLIP_LAYER) && l == n->nl)
                    continue; /* no weight and no layer after the output */
                steps[m][0] = l, steps[m][1] = j, steps[m][2] = a, m++;
            }
    int p = (int)(th_next(r) % (uint64_t)m);
    *s = (slip){.kind = kind, .l = steps[p][0], .j = steps[p][1], .a = steps[p][2],
                .propagate = (int)(th_next(r) % 2)};
    *why = NULL;
    int l = s->l, j = s->j;
    switch (kind) {
    case SLIP_GPRIME:
        if (z_uses_a(n, l) && !acts[n->act[l]].dg[0]) *why = "g' is 1 (identity)";
        break;
    case SLIP_WEIGHT: {
        int cand[4][2], c = 0, k = 1 + (int)(th_next(r) % (uint64_t)n->width[l + 1]);
        const int dj[4] = {-1, 1, 0, 0}, dk[4] = {0, 0, -1, 1};
        for (int q = 0; q < 4; q++) {
            int wi = j + dj[q], wj = k + dk[q];
            if (wi >= 1 && wi <= n->width[l] && wj >= 1 && wj <= n->width[l + 1])
                cand[c][0] = wi, cand[c][1] = wj, c++;
        }
        if (c == 0) {
            *why = "the layer has one weight";
            break;
        }
        int q = (int)(th_next(r) % (uint64_t)c);
        s->k = k, s->wi = cand[q][0], s->wj = cand[q][1];
        break;
    }
    case SLIP_NEIGHBOUR:
        if (n->width[l] == 1) *why = "the layer has one unit";
        else if (j == 1) s->nb = 2;
        else if (j == n->width[l]) s->nb = j - 1;
        else s->nb = th_next(r) % 2 ? j + 1 : j - 1;
        break;
    case SLIP_LAYER:
        s->nb = j <= n->width[l + 1] ? j : n->width[l + 1];
        break;
    }
    return *why == NULL;
}

/* ---- checking every delta ---- */

typedef struct check {
    int l, j, a; /* the step zj[l] (a = 0) or aj[l] (a = 1); E: l = 0 */
    char name[NAMESZ];
    const char *text; /* the hand delta */
    tg_var node, hand;
    tg_formula_report r;
} check;

typedef struct verdicts {
    int n;
    check c[MAXSTEPS]; /* in the order the reverse sweep reaches them */
    int first;         /* the first that disagrees, or -1 */
    int slipped;       /* the slipped step's check, or -1 */
    double gap;        /* a slip that agrees: how far it is from the correct delta at points
                        * of our own (the largest |slip - right|/(atol + rtol*max)) */
} verdicts;

/* The largest |x - y|/(1e-8 + 1e-6*max(|x|, |y|)) at 200 points of a stream of our own. */
static double gap_at_own_points(tg_tape *t, tg_var x, tg_var y, int ndraw, const tg_var *draw,
                                uint64_t seed)
{
    th_rng r = th_rng_new(seed ^ 0x5eed);
    double worst = 0;
    for (int p = 0; p < 200; p++) {
        for (int k = 0; k < ndraw; k++) tg_set(draw[k], th_uniform(&r, LO, HI));
        cr_assert_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
        double a = tg_value(x), b = tg_value(y);
        if (isfinite(a) && isfinite(b))
            worst = fmax(worst, fabs(a - b) / (1e-8 + 1e-6 * fmax(fabs(a), fabs(b))));
    }
    return worst;
}

/* The program on t (reset first), its names in nm (emptied first): the output, and in draw
 * the leaves, in the order of the names. */
static tg_var record(tg_tape *t, tg_names **nm, const char *program, tg_var *draw, int *ndraw)
{
    tg_parse_error err;
    tg_tape_reset(t);
    tg_names_free(*nm);
    *nm = tg_names_new();
    tg_var E = tg_parse(t, program, *nm, NULL, &err);
    cr_assert_neq(E.index, TG_NONE, "line %d, column %d: %s\n%s", err.line, err.column,
                  err.message, program);
    *ndraw = 0;
    for (int i = 0; i < tg_names_count(*nm); i++)
        if (!tg_names_is_step(*nm, i)) {
            cr_assert_lt(*ndraw, MAXLEAVES);
            draw[(*ndraw)++] = tg_names_var(*nm, i);
        }
    return E;
}

/* The hand text on t, in the names of nm, which it must not add to. */
static tg_var hand(tg_tape *t, tg_names *nm, const char *what, const char *text)
{
    tg_parse_error err;
    int names = tg_names_count(nm);
    tg_var h = tg_parse(t, text, nm, NULL, &err);
    cr_assert_neq(h.index, TG_NONE, "%s: column %d: %s\n%s", what, err.column, err.message, text);
    cr_assert_eq(tg_names_count(nm), names, "%s names '%s', not in the program", what,
                 tg_names_name(nm, names));
    return h;
}

/* Check every step's hand delta (tg_check_formula, the points a function of seed), in the
 * order the reverse sweep reaches them: the latest node first; an a listed before its z, so
 * where they are one node (an identity layer: aj[l] = zj[l] is an alias) the a comes first, as
 * it does in a derivation. Each delta is checked on a tape of its own, the program and that
 * delta: replaying the others would only cost time (the CLI's single tape is tested below). */
static void check_deltas(const net *n, const char *program, const deltas *d, const slip *s,
                         uint64_t seed, verdicts *v)
{
    tg_tape *t = tg_tape_new();
    tg_names *nm = NULL;
    tg_var draw[MAXLEAVES];
    int ndraw;
    tg_var E = record(t, &nm, program, draw, &ndraw);
    memset(v, 0, sizeof *v);
    v->c[v->n++] = (check){.l = 0, .name = "E", .text = "1", .node = E};
    for (int l = 2; l <= n->nl; l++)
        for (int j = 1; j <= n->width[l]; j++)
            for (int a = 1; a >= 0; a--) {
                check *c = &v->c[v->n++];
                c->l = l, c->j = j, c->a = a;
                (a ? aname : zname)(c->name, j, l);
                c->text = d->hand[l][j][a];
                c->node = tg_names_get(nm, c->name);
                cr_assert_neq(c->node.index, TG_NONE, "%s is not a step of\n%s", c->name, program);
            }
    for (int k = 1; k < v->n; k++) /* stable: the latest node first */
        for (int i = k; i > 0 && v->c[i - 1].node.index < v->c[i].node.index; i--) {
            check tmp = v->c[i];
            v->c[i] = v->c[i - 1];
            v->c[i - 1] = tmp;
        }
    tg_formula_opts o = {.lo = LO, .hi = HI, .samples = SAMPLES, .seed = seed};
    v->first = v->slipped = -1;
    for (int k = 0; k < v->n; k++) {
        check *c = &v->c[k];
        char what[32];
        snprintf(what, sizeof what, "dE/d%s", c->name);
        E = record(t, &nm, program, draw, &ndraw);
        c->node = c->l ? tg_names_get(nm, c->name) : E;
        c->hand = hand(t, nm, what, c->text);
        cr_assert_eq(tg_check_formula(E, c->node, 1, c->hand, ndraw, draw, &o, &c->r), TG_OK,
                     "%s: %s", what, tg_tape_error(t));
        if (!c->r.agree && v->first < 0) v->first = k;
        if (s->kind == SLIP_NONE || c->l != s->l || c->j != s->j || c->a != s->a) continue;
        v->slipped = k;
        if (c->r.agree) /* is the slip the right delta in disguise? */
            v->gap = gap_at_own_points(t, hand(t, nm, "the right delta", d->right), c->hand,
                                       ndraw, draw, seed);
    }
    tg_names_free(nm);
    tg_tape_free(t);
}

/* ---- the second opinion ---- */

/* What the finite differences at a check's worst point side with, read as the command reads
 * them (its tolerances: 1e-5 relative, 1e-7 absolute). */
enum { FD_TAPE, FD_BOTH, FD_HAND, FD_NEITHER, FD_KINK, FD_NONE, NFD };

static int opinion(const tg_formula_report *r)
{
    double fd = r->fd;
    int t = fabs(fd - r->tape) <= 1e-7 + 1e-5 * fmax(fabs(fd), fabs(r->tape));
    int h = fabs(fd - r->hand) <= 1e-7 + 1e-5 * fmax(fabs(fd), fabs(r->hand));
    if (!isfinite(fd)) return FD_NONE;
    if (r->fd_kink && !(t ^ h)) return FD_KINK;
    return t && h ? FD_BOTH : t ? FD_TAPE : h ? FD_HAND : FD_NEITHER;
}

/* Whether a kinked op lies after c's step on its way to E: only then can the finite
 * differences, which move the step's value alone, cross a kink. */
static int kink_after(const net *n, const check *c)
{
    for (int l = c->l ? c->l : n->nl + 1; l <= n->nl; l++)
        if (n->act[l] == LEAKY_RELU && (l > c->l || !c->a)) return 1;
    return 0;
}

/* ---- the derivations ---- */

typedef struct config {
    int count;     /* derivations */
    uint64_t seed; /* of the whole set */
} config;

static config config_read(void)
{
    config c = {300, 20240612};
    const char *count = getenv("TG_DERIVATIONS"), *seed = getenv("TG_DERIVATIONS_SEED");
    if (count && *count) c.count = atoi(count);
    if (seed && *seed) c.seed = strtoull(seed, NULL, 10);
    cr_assert_gt(c.count, 0, "TG_DERIVATIONS='%s': a number of derivations", count);
    return c;
}

/* Derivation i of the set: its network, its program and the checker's seed; r goes on to
 * draw its slips. */
typedef struct derivation {
    int index;
    net n;
    char *program;
    uint64_t seed;
    th_rng r;
} derivation;

static void derivation_make(const config *cf, int i, derivation *dv)
{
    th_rng mix = th_rng_new(cf->seed + (uint64_t)i);
    dv->index = i;
    dv->r = th_rng_new(th_next(&mix));
    net_draw(&dv->r, &dv->n);
    dv->program = net_program(&dv->n, cf->seed, i);
    dv->seed = th_next(&dv->r);
}

/* A check's worst point, for a failure's message. */
static void describe(buf *b, const check *c)
{
    put(b, "  dE/d%s = %s\n  %s at %d of %d points (%d skipped); worst: tape %.17g, hand %.17g, "
        "finite differences %.17g%s\n", c->name, c->text, c->r.agree ? "agrees" : "DISAGREES",
        c->r.agree ? c->r.compared : c->r.failed, c->r.compared, c->r.skipped, c->r.tape,
        c->r.hand, c->r.fd, c->r.fd_kink ? " (across a kink)" : "");
}

Test(derivations, every_correct_delta_agrees, .timeout = 600)
{
    config cf = config_read();
    long checks = 0, compared = 0, skipped = 0, sparse = 0, wrong = 0, fd[NFD] = {0};
    long stale = 0; /* kinks said to be crossed where none can be */
    for (int i = 0; i < cf.count; i++) {
        derivation dv;
        derivation_make(&cf, i, &dv);
        deltas d;
        slip none = {.kind = SLIP_NONE};
        deltas_write(&dv.n, &none, &d);
        verdicts v;
        check_deltas(&dv.n, dv.program, &d, &none, dv.seed, &v);
        for (int k = 0; k < v.n; k++) {
            const check *c = &v.c[k];
            checks++;
            compared += c->r.compared;
            skipped += c->r.skipped;
            sparse += c->r.compared < SAMPLES / 2;
            fd[opinion(&c->r)]++;
            stale += c->r.fd_kink && !kink_after(&dv.n, c);
            if (c->r.agree) continue;
            if (wrong++ < MAX_REPORTS) {
                buf b = {0};
                describe(&b, c);
                cr_log_error("a correct delta judged wrong, derivation %d (seed %llu):\n%s%s", i,
                             (unsigned long long)cf.seed, dv.program, b.p);
                free(b.p);
            }
        }
        deltas_free(&d);
        free(dv.program);
    }
    cr_log_info("derivations: %d networks (seed %llu), %ld correct deltas checked at %ld points "
                "(%ld skipped: not finite there); %ld judged wrong", cf.count,
                (unsigned long long)cf.seed, checks, compared, skipped, wrong);
    cr_log_info("derivations: at the worst point of a correct delta the finite differences side "
                "with the tape and the hand %ld times, the tape alone %ld, the hand alone %ld, "
                "neither %ld; a kink %ld (%ld where none is after the step), not finite %ld",
                fd[FD_BOTH], fd[FD_TAPE], fd[FD_HAND], fd[FD_NEITHER], fd[FD_KINK], stale,
                fd[FD_NONE]);
    cr_expect_eq(wrong, 0, "%ld of %ld correct deltas judged wrong (the first %d above)", wrong,
                 checks, MAX_REPORTS);
    cr_expect_eq(stale, 0, "%ld finite differences said to cross a kink where none is after the "
                 "step", stale);
    cr_expect_leq(sparse, checks / 100, "%ld of %ld checks compared fewer than %d points", sparse,
                  checks, SAMPLES / 2);
}

/* ---- the slips ---- */

typedef struct slip_counts {
    int drawn, invisible, attempted, caught, attributed, vanished, missed, misattributed;
    int propagated, later_wrong; /* slips written into later deltas, and those later deltas wrong */
    int broken;                  /* deltas not made from the slip that disagree */
    int fd[NFD];                 /* the second opinion at a caught slip's worst point */
    const char *why[8];          /* reasons for invisible slips, and how often */
    int why_count[8];
} slip_counts;

static void count_why(slip_counts *k, const char *why)
{
    int i = 0;
    while (i < 8 && k->why[i] && strcmp(k->why[i], why) != 0) i++;
    cr_assert_lt(i, 8);
    k->why[i] = why;
    k->why_count[i]++;
}

static void slip_text(buf *b, const slip *s)
{
    char name[NAMESZ];
    (s->a ? aname : zname)(name, s->j, s->l);
    put(b, "%s at %s", kind_names[s->kind], name);
    if (s->kind == SLIP_WEIGHT)
        put(b, " (w%d%d[%d] for w%d%d[%d])", s->wi, s->wj, s->l, s->j, s->k, s->l);
    if (s->kind == SLIP_NEIGHBOUR) put(b, " (unit %d's)", s->nb);
    if (s->kind == SLIP_LAYER) put(b, " (unit %d's of layer %d)", s->nb, s->l + 1);
    put(b, ", %s", s->propagate ? "written into the later deltas" : "the later deltas right");
}

Test(derivations, each_slip_is_the_first_wrong_step, .timeout = 600)
{
    config cf = config_read();
    slip_counts k[NKINDS] = {{0}};
    int reports = 0;
    for (int i = 0; i < cf.count; i++) {
        derivation dv;
        derivation_make(&cf, i, &dv);
        for (int kind = 1; kind < NKINDS; kind++) {
            slip s;
            const char *why;
            slip_counts *kc = &k[kind];
            kc->drawn++;
            if (!slip_draw(&dv.n, &dv.r, kind, &s, &why)) {
                kc->invisible++;
                count_why(kc, why);
                continue;
            }
            deltas d;
            deltas_write(&dv.n, &s, &d);
            verdicts v;
            check_deltas(&dv.n, dv.program, &d, &s, dv.seed, &v);
            cr_assert_geq(v.slipped, 0);
            const check *sc = &v.c[v.slipped];
            kc->attempted++;
            int fail = 0;
            if (!sc->r.agree) kc->caught++, kc->fd[opinion(&sc->r)]++;
            else if (v.gap <= 1) kc->vanished++; /* equal to the right delta at every point */
            else kc->missed++, fail = 1;
            if (v.first == v.slipped) kc->attributed++;
            else if (!sc->r.agree || v.gap > 1) kc->misattributed++, fail = 1;
            kc->propagated += s.propagate;
            for (int j = 0; j < v.n; j++) {
                const check *c = &v.c[j];
                if (j == v.slipped) continue;
                if (c->l && d.from_slip[c->l][c->j][c->a]) kc->later_wrong += !c->r.agree;
                else if (!c->r.agree) kc->broken++, fail = 1;
            }
            if (fail && reports++ < MAX_REPORTS) {
                buf b = {0};
                slip_text(&b, &s);
                put(&b, "; the first wrong step: %s\n%s", v.first < 0 ? "none" : v.c[v.first].name,
                    dv.program);
                for (int j = 0; j < v.n; j++) describe(&b, &v.c[j]);
                if (sc->r.agree) put(&b, "  the right delta: %s\n", d.right);
                cr_log_error("derivation %d (seed %llu), %s", i, (unsigned long long)cf.seed, b.p);
                free(b.p);
            }
            deltas_free(&d);
        }
        free(dv.program);
    }
    int attempted = 0, drawn = 0, failures = 0;
    for (int kind = 1; kind < NKINDS; kind++) {
        const slip_counts *kc = &k[kind];
        buf b = {0};
        put(&b, "%s", "");
        for (int w = 0; w < 8 && kc->why[w]; w++)
            put(&b, "%s%d %s", w ? ", " : "; skipped: ", kc->why_count[w], kc->why[w]);
        cr_log_info("slip %-18s drawn %5d, attempted %5d: caught %5d and named first %5d; "
                    "equal to the right delta everywhere %d; %d written into later deltas "
                    "(%d of those wrong too)%s", kind_names[kind], kc->drawn, kc->attempted,
                    kc->caught, kc->attributed, kc->vanished, kc->propagated, kc->later_wrong, b.p);
        free(b.p);
        cr_log_info("slip %-18s the finite differences at its worst point side with the tape %d "
                    "(both %d, the hand %d, neither %d, a kink %d, not finite %d)",
                    kind_names[kind], kc->fd[FD_TAPE], kc->fd[FD_BOTH], kc->fd[FD_HAND],
                    kc->fd[FD_NEITHER], kc->fd[FD_KINK], kc->fd[FD_NONE]);
        cr_expect_eq(kc->missed, 0, "%s: %d slips missed", kind_names[kind], kc->missed);
        cr_expect_eq(kc->misattributed, 0, "%s: %d slips named at another step", kind_names[kind],
                     kc->misattributed);
        cr_expect_eq(kc->broken, 0, "%s: %d correct deltas judged wrong beside a slip",
                     kind_names[kind], kc->broken);
        cr_expect_geq(kc->attempted, kc->drawn / 2, "%s: only %d of %d slips attempted",
                      kind_names[kind], kc->attempted, kc->drawn);
        attempted += kc->attempted;
        drawn += kc->drawn;
        failures += kc->missed + kc->misattributed + kc->broken;
    }
    cr_log_info("slips: %d derivations, %d slips drawn, %d attempted, %d failures", cf.count,
                drawn, attempted, failures);
    cr_expect_geq(attempted, drawn * 4 / 5, "only %d of %d slips attempted", attempted, drawn);
}

/* ---- the same through the command ---- */

/* What `check --json` said, read back with the strict parser (tests/json.c): the verdict, the
 * first wrong step and each check in the order printed. */
typedef struct cli_verdicts {
    int status; /* the exit status */
    int agree;
    char first[NAMESZ]; /* "" for null */
    int n;
    struct {
        char name[NAMESZ];
        int agree, points, skipped, failed;
        double tape, hand, fd; /* at the worst point; NaN for null */
    } c[MAXSTEPS];
} cli_verdicts;

/* j's member key, of kind k (a number may also be null: not finite). */
static const json *member(const json *j, const char *key, json_kind k, const char *out)
{
    const json *m = json_get(j, key);
    cr_assert_not_null(m, "no \"%s\" in %s", key, out);
    cr_assert(m->kind == k || (k == JSON_NUMBER && m->kind == JSON_NULL),
              "\"%s\" is a %s, not a %s, in %s", key, json_kind_name(m->kind), json_kind_name(k),
              out);
    return m;
}

static double number(const json *j, const char *key, const char *out)
{
    const json *m = member(j, key, JSON_NUMBER, out);
    return m->kind == JSON_NULL ? NAN : m->number;
}

static void name_of(char *dst, const json *j, const char *out)
{
    cr_assert(j->len < NAMESZ, "a name of %zu bytes in %s", j->len, out);
    memcpy(dst, j->text, j->len + 1);
}

/* `tapegrad check --file PROGRAM --json --adjoint STEP=HAND ...` on the deltas d, with the
 * library's options; the adjoints in a shuffled order of units (a before z in each unit, and
 * E=1 somewhere), as a reader might paste them: the command sorts them itself. Its JSON is
 * read into cv; *out (malloc'd) is what it printed, for messages. */
static void cli_check_deltas(const net *n, const char *program, const deltas *d, uint64_t seed,
                             th_rng *r, cli_verdicts *cv, char **out)
{
    char path[] = "/tmp/tg-derivations-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp failed");
    cr_assert_eq(write(fd, program, strlen(program)), (ssize_t)strlen(program));
    close(fd);
    char seedarg[32], samples[16], range[32];
    snprintf(seedarg, sizeof seedarg, "%llu", (unsigned long long)seed);
    snprintf(samples, sizeof samples, "%d", SAMPLES);
    snprintf(range, sizeof range, "%g:%g", LO, HI);
    const char *args[16 + 2 * MAXSTEPS];
    int argc = 0;
    const char *fixed[] = {"check", "--file", path, "--json", "--samples", samples,
                           "--range", range, "--seed", seedarg};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) args[argc++] = fixed[i];
    int units[MAXL * MAXW + 1][2], m = 0; /* (l, j); l = 0: E */
    units[m][0] = 0, units[m][1] = 0, m++;
    for (int l = 2; l <= n->nl; l++)
        for (int j = 1; j <= n->width[l]; j++) units[m][0] = l, units[m][1] = j, m++;
    for (int i = m - 1; i > 0; i--) { /* Fisher-Yates */
        int q = (int)(th_next(r) % (uint64_t)(i + 1)), l = units[i][0], j = units[i][1];
        units[i][0] = units[q][0], units[i][1] = units[q][1];
        units[q][0] = l, units[q][1] = j;
    }
    char *specs[MAXSTEPS];
    int nspecs = 0;
    for (int u = 0; u < m; u++)
        for (int a = 1; a >= (units[u][0] ? 0 : 1); a--) {
            buf b = {0};
            char name[NAMESZ];
            if (units[u][0] == 0) put(&b, "E=1");
            else {
                (a ? aname : zname)(name, units[u][1], units[u][0]);
                put(&b, "%s=%s", name, d->hand[units[u][0]][units[u][1]][a]);
            }
            cr_assert_lt(b.n, 100000, "an argument of %zu bytes", b.n);
            specs[nspecs++] = b.p;
            args[argc++] = "--adjoint";
            args[argc++] = b.p;
        }
    args[argc] = NULL;
    th_run run;
    th_run_tapegrad(&run, args);
    unlink(path);
    for (int i = 0; i < nspecs; i++) free(specs[i]);
    cr_assert_str_empty(run.err, "tapegrad check wrote to stderr:\n%s", run.err);
    char err[256];
    json *j = json_parse(run.out, run.out_len, err, sizeof err);
    cr_assert_not_null(j, "check --json: %s\n%s", err, run.out);
    memset(cv, 0, sizeof *cv);
    cv->status = run.status;
    cv->agree = member(j, "agree", JSON_BOOL, run.out)->boolean;
    const json *first = json_get(j, "first_wrong");
    cr_assert(first && (first->kind == JSON_NULL || first->kind == JSON_STRING),
              "first_wrong is not a name or null in %s", run.out);
    if (first->kind == JSON_STRING) name_of(cv->first, first, run.out);
    const json *checks = member(j, "checks", JSON_ARRAY, run.out);
    cr_assert_leq(checks->n, MAXSTEPS);
    for (int k = 0; k < checks->n; k++) {
        const json *c = json_at(checks, k), *worst = member(c, "worst", JSON_OBJECT, run.out);
        name_of(cv->c[k].name, member(c, "name", JSON_STRING, run.out), run.out);
        cv->c[k].agree = member(c, "agree", JSON_BOOL, run.out)->boolean;
        cv->c[k].points = (int)number(c, "points", run.out);
        cv->c[k].skipped = (int)number(c, "skipped", run.out);
        cv->c[k].failed = (int)number(c, "failed", run.out);
        cv->c[k].tape = number(worst, "tape", run.out);
        cv->c[k].hand = number(worst, "hand", run.out);
        cv->c[k].fd = number(worst, "fd", run.out);
    }
    cv->n = checks->n;
    json_free(j);
    *out = run.out;
    run.out = NULL;
    th_run_free(&run);
}

/* The command's JSON says what the library said: the verdict, the first wrong step, each
 * check in the same order with the same verdict and the same worst point's numbers (the
 * same points are drawn: the same seed, range and leaves). */
static void cli_expect_same(const cli_verdicts *cv, const verdicts *v, const char *out,
                            const char *what)
{
    cr_expect_eq(cv->status, v->first < 0 ? 0 : 1, "%s: exit %d\n%s", what, cv->status, out);
    cr_expect_eq(cv->agree, v->first < 0, "%s: agree %d\n%s", what, cv->agree, out);
    cr_expect_str_eq(cv->first, v->first < 0 ? "" : v->c[v->first].name, "%s: first_wrong\n%s",
                     what, out);
    cr_assert_eq(cv->n, v->n, "%s: %d checks, the library %d\n%s", what, cv->n, v->n, out);
    for (int k = 0; k < v->n; k++) {
        const check *c = &v->c[k];
        cr_expect_str_eq(cv->c[k].name, c->name, "%s: check %d\n%s", what, k, out);
        cr_expect_eq(cv->c[k].agree, c->r.agree, "%s: %s's verdict\n%s", what, c->name, out);
        cr_expect_eq(cv->c[k].points, c->r.points, "%s: %s's points", what, c->name);
        cr_expect_eq(cv->c[k].skipped, c->r.skipped, "%s: %s's skipped points", what, c->name);
        cr_expect_eq(cv->c[k].failed, c->r.failed, "%s: %s's failed points", what, c->name);
        cr_expect(cv->c[k].tape == c->r.tape && cv->c[k].hand == c->r.hand &&
                      (cv->c[k].fd == c->r.fd || (isnan(cv->c[k].fd) && !isfinite(c->r.fd))),
                  "%s: %s at the worst point: the command %.17g, %.17g and %.17g, the library "
                  "%.17g, %.17g and %.17g", what, c->name, cv->c[k].tape, cv->c[k].hand,
                  cv->c[k].fd, c->r.tape, c->r.hand, c->r.fd);
    }
}

Test(derivations, the_command_names_the_same_first_wrong_step, .timeout = 600)
{
    th_tapegrad();
    config cf = config_read();
    int runs = 0, agreeing = 0, slips = 0, count = cf.count < CLI_DERIVATIONS ? cf.count
                                                                                : CLI_DERIVATIONS;
    for (int i = 0; i < count; i++) {
        derivation dv;
        derivation_make(&cf, i, &dv);
        th_rng shuffle = th_rng_new(dv.seed);
        for (int kind = 0; kind < NKINDS; kind++) {
            slip s = {.kind = SLIP_NONE};
            const char *why;
            if (kind != SLIP_NONE && !slip_draw(&dv.n, &dv.r, kind, &s, &why)) continue;
            deltas d;
            deltas_write(&dv.n, &s, &d);
            verdicts v;
            check_deltas(&dv.n, dv.program, &d, &s, dv.seed, &v);
            cli_verdicts cv;
            char *out, what[160];
            cli_check_deltas(&dv.n, dv.program, &d, dv.seed, &shuffle, &cv, &out);
            buf b = {0};
            put(&b, "derivation %d (seed %llu), ", i, (unsigned long long)cf.seed);
            if (kind == SLIP_NONE) put(&b, "the correct deltas");
            else slip_text(&b, &s);
            snprintf(what, sizeof what, "%s", b.p);
            free(b.p);
            cli_expect_same(&cv, &v, out, what);
            if (kind == SLIP_NONE) {
                cr_expect(cv.agree, "%s: %s", what, out);
                agreeing += cv.agree;
            } else {
                cr_expect_str_eq(cv.first, v.c[v.slipped].name, "%s: %s", what, out);
                slips += strcmp(cv.first, v.c[v.slipped].name) == 0;
            }
            runs++;
            free(out);
            deltas_free(&d);
        }
        free(dv.program);
    }
    cr_log_info("derivations through tapegrad check --adjoint --json: %d derivations, %d runs; "
                "%d right derivations agreed, %d slips named first", count, runs, agreeing, slips);
}

/* ---- a defect the derivations found, fixed ---- */

/* The finite differences of a step's delta move the step's value and replay only the nodes
 * after it, so with the one kinked op before the step none can be crossed: fd_kink must stay
 * 0. It was 1 whenever the leaky_relu changed branch between the last sampled point and the
 * worst one, as tg_replay_after kept the note of the replay back to the worst point (975 of
 * the 300 derivations' 4858 correct deltas flagged, 413 with no kink after the step; `tapegrad
 * check 'a = leaky_relu(x, 0.1); E = a^2' --adjoint 'a=2.00001*a' --samples 2 --seed 6` said
 * "a step crossed a kink here, so it is one-sided: no opinion" at x = 1.44). */
Test(derivations, finite_differences_after_the_last_kink_cross_none)
{
    int flagged = 0, seeds = 32;
    for (int seed = 1; seed <= seeds; seed++) {
        tg_tape *t = tg_tape_new();
        tg_names *n = tg_names_new();
        tg_var E = tg_parse(t, "a = leaky_relu(x, 0.1); E = a^2", n, NULL, NULL);
        tg_var a = tg_names_get(n, "a"), x = tg_names_get(n, "x");
        tg_var right = tg_parse(t, "2*a", n, NULL, NULL);
        tg_formula_opts o = {.samples = 2, .seed = (uint64_t)seed};
        tg_formula_report r;
        cr_assert_eq(tg_check_formula(E, a, 1, right, 1, &x, &o, &r), TG_OK, "%s",
                     tg_tape_error(t));
        cr_assert(r.agree);
        if (r.fd_kink) {
            flagged++;
            cr_log_error("seed %d: fd_kink at x = %.17g, a = %.17g (moving a crosses no kink)",
                         seed, tg_value(x), tg_value(a));
        }
        tg_names_free(n);
        tg_tape_free(t);
    }
    cr_expect_eq(flagged, 0, "%d of %d checks of dE/da say a finite-difference step crossed "
                 "a kink", flagged, seeds);
}
