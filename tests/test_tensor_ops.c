/* test_tensor_ops.c - the registry walker for tensors, and the tensor ops' named tests.
 * Every registered op is applied to tensor operands: elementwise ops (an eval kernel) at fixed
 * shapes including broadcast pairs and a scalar operand; tensor-only ops (an infer kernel) at
 * candidate shapes and attribute tuples their infer accepts, found generically (with
 * integer-valued constant operands where real values are refused, as labels are), at least 3
 * operand shapes each. Each output is reduced to a scalar with random weights, sum(y * w), and
 * checked three ways: reverse mode against central differences (tg_check_grad, every element),
 * forward against reverse (<jvp(u), v> = <u, vjp(v)> with a random seed v), and tg_diff's
 * recorded rules against the numeric reverse sweep; and all of them on one tape, compiled
 * (tg_compile), against the interpreter bit for bit, element by element. An op that accepts no real operand at all
 * (one_hot: labels only) is checked at integer operands instead: the same integers as
 * parameters get zero from all three sweeps (finite differences do not apply: a perturbed
 * label is no label), and a replay with new integers equals a fresh recording. Registration
 * is enough to get tested; run with --verbose to see what each op was exercised at.
 * Named tests: cross-entropy against its composition and (softmax - onehot)/N, losses at
 * logits of +-1e4, softmax rows, max's arg-max rule, slice and pad, mse, bce_with_logits,
 * second derivatives through the new ops' rules, and the exact message of every bad-input
 * error. See LICENSE. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <stdarg.h>
#include <stdio.h>

#include "helpers.h"

#define MAXN 512        /* elements per operand or output in any configuration */
#define MAX_CONFIGS 10  /* configurations checked per op */
#define MAX_FOUND 256   /* accepted configurations kept while searching */
#define MAX_PER_SHAPE 3 /* of them with the same operand shapes */
#define MAX_PER_ATTR 3  /* of them with the same attributes */
#define MIN_SHAPES 3    /* distinct operand shapes each op must be exercised at */
#define MAX_SHOWN 6     /* failures shown per op */
#define SAME_RTOL 1e-12 /* forward vs reverse, tg_diff vs backward: the same sums reordered */

/* ---- configurations ---- */

typedef struct shape {
    int rank, d[TG_MAX_RANK];
} shape;

typedef struct attrs {
    int n, a[TG_MAX_ATTR];
} attrs;

typedef struct config {
    int n;                  /* operands */
    shape in[TG_MAX_ARITY]; /* rank 0: a scalar node */
    attrs at;
    unsigned ints;          /* bit j: operand j holds integers {0, 1} and is a constant */
    unsigned int_params;    /* bit j: operand j holds integers {0, 1} and is a parameter */
    int positive;           /* values drawn positive (the op's domain needs it: log, sqrt) */
    int signs;              /* else, base-3 digit j: operand j's values of random sign (0),
                             * positive (1) or negative (2) (clamp: lo < 0 < hi) */
} config;

/* Shapes for elementwise ops: operand j of tuple i is ew_tuples[i][j]; broadcast pairs
 * ([3,4] + [4], [2,1,3] + [4,3]) and a scalar with a tensor. Tuples whose first `arity`
 * operands hold no tensor are skipped. */
static const shape ew_tuples[][TG_MAX_ARITY] = {
    {{2, {2, 3}}, {2, {2, 3}}, {2, {2, 3}}, {2, {2, 3}}},
    {{2, {3, 4}}, {1, {4}}, {2, {3, 1}}, {1, {1}}},
    {{3, {2, 1, 3}}, {2, {4, 3}}, {3, {2, 4, 1}}, {1, {3}}},
    {{0, {0}}, {2, {3, 4}}, {1, {4}}, {0, {0}}},
    {{4, {2, 1, 2, 3}}, {1, {3}}, {0, {0}}, {4, {1, 2, 1, 3}}},
};

/* Candidates for tensor-only ops: every operand tuple over these shapes is tried with every
 * attribute tuple below; the op's infer decides. */
static const shape cand_shapes[] = {
    {1, {3}},    {2, {2, 3}},    {2, {3, 2}}, {3, {2, 3, 4}}, {3, {2, 2, 3}},
    {2, {3, 3}}, {2, {4, 3}},    {1, {4}},    {2, {1, 3}},    {0, {0}},
    {1, {1}},    {3, {2, 3, 2}}, {2, {2, 4}},
};

static const attrs cand_attrs[] = {
    {0, {0}},          {1, {0}},          {1, {1}},           {1, {-1}},
    {2, {0, 0}},       {2, {1, 1}},       {2, {-1, 0}},       {2, {0, 1}},
    {2, {2, 0}},       {3, {0, 0, 2}},    {3, {1, 1, 3}},     {3, {-1, 1, 3}},
    {3, {0, 1, 2}},    {3, {2, 0, 1}},    {3, {1, 0, -1}},    {4, {0, 1, 3, 4}},
    {4, {-1, 0, 2, 5}}, {4, {1, 1, 4, 6}}, {2, {3, 2}},        {2, {2, 3}},
    {1, {6}},          {2, {4, 6}},       {3, {4, 3, 2}},     {2, {6, 2}},
};

#define NCAND_SHAPES ((int)(sizeof cand_shapes / sizeof cand_shapes[0]))
#define NCAND_ATTRS ((int)(sizeof cand_attrs / sizeof cand_attrs[0]))

static size_t numel(const shape *s)
{
    size_t n = 1;
    for (int d = 0; d < s->rank; d++) n *= (size_t)s->d[d];
    return n;
}

static int same_shapes(const config *a, const config *b)
{
    for (int j = 0; j < a->n; j++) {
        if (a->in[j].rank != b->in[j].rank) return 0;
        for (int d = 0; d < a->in[j].rank; d++)
            if (a->in[j].d[d] != b->in[j].d[d]) return 0;
    }
    return 1;
}

static int same_attrs(const config *a, const config *b)
{
    if (a->at.n != b->at.n) return 0;
    for (int k = 0; k < a->at.n; k++)
        if (a->at.a[k] != b->at.a[k]) return 0;
    return 1;
}

/* "[2,3]" */
static const char *fmt_shape(const shape *s, char *buf, size_t size)
{
    tg_view v = {NULL, s->rank, {0}, 1};
    memcpy(v.shape, s->d, sizeof v.shape);
    return tg_view_shape(&v, buf, size);
}

/* "cross_entropy(x1 [2,3], x2 [2] integer constant) attr {0,1}" */
static void describe(const tg_op_def *op, const config *c, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "%s(", op->name);
    for (int j = 0; j < c->n && len < size; j++) {
        char sh[48];
        len += (size_t)snprintf(buf + len, size - len, "%sx%d %s%s", j ? ", " : "", j + 1,
                                fmt_shape(&c->in[j], sh, sizeof sh),
                                c->ints >> j & 1 ? " integer constant" : "");
    }
    if (len < size) len += (size_t)snprintf(buf + len, size - len, ")");
    for (int k = 0; k < c->at.n && len < size; k++)
        len += (size_t)snprintf(buf + len, size - len, "%s%d%s", k ? "," : " attr {", c->at.a[k],
                                k + 1 == c->at.n ? "}" : "");
    if (c->positive && len < size) snprintf(buf + len, size - len, " (positive values)");
    for (int j = 0, s = c->signs; c->signs && j < c->n && len < size; j++, s /= 3)
        len += (size_t)snprintf(buf + len, size - len, "%s%c%s", j ? "" : " (signs ",
                                "r+-"[s % 3], j + 1 == c->n ? ")" : "");
}

/* A seed from the configuration itself, so a search and the check draw the same values. */
static uint64_t config_seed(const tg_op_def *op, const config *c)
{
    uint64_t h = th_seed(op->name, 7);
    for (int j = 0; j < c->n; j++) {
        h = (h ^ (uint64_t)c->in[j].rank) * 1099511628211ull;
        for (int d = 0; d < c->in[j].rank; d++)
            h = (h ^ (uint64_t)c->in[j].d[d]) * 1099511628211ull;
    }
    for (int k = 0; k < c->at.n; k++) h = (h ^ (uint64_t)(c->at.a[k] + 100)) * 1099511628211ull;
    /* integer operands draw the same values as constants or as parameters */
    return h ^ (c->ints | c->int_params) ^ (uint64_t)c->positive << 8 ^ (uint64_t)c->signs << 9;
}

/* Operand j's values for configuration c, drawn from r: integers in {0, 1}, or magnitudes
 * 0.25..2 of random sign, unless c->positive or c->signs (digit j) says which. */
static void operand_values(th_rng *r, const config *c, int j, double *v)
{
    size_t n = numel(&c->in[j]);
    int is_int = (c->ints | c->int_params) >> j & 1, signs = c->signs;
    for (int k = 0; k < j; k++) signs /= 3;
    int sign = c->positive ? 1 : signs % 3;
    cr_assert_leq(n, MAXN, "configuration too large");
    for (size_t e = 0; e < n; e++) {
        if (is_int) {
            v[e] = (double)(th_next(r) % 2);
        } else {
            double mag = th_uniform(r, 0.25, 2.0);
            v[e] = sign == 1 || (sign == 0 && th_next(r) % 2) ? mag : -mag;
        }
    }
}

/* Record c's operands on t and apply op: parameters, or constants where c->ints says, with
 * operand_values. params receives the parameters (*np of them). Returns y (an error handle
 * when the op refuses). */
static tg_var record(tg_tape *t, const tg_op_def *op, const config *c, tg_var *in,
                     tg_var *params, int *np)
{
    th_rng r = th_rng_new(config_seed(op, c));
    double v[MAXN];
    *np = 0;
    for (int j = 0; j < c->n; j++) {
        int is_const = c->ints >> j & 1;
        operand_values(&r, c, j, v);
        if (c->in[j].rank == 0)
            in[j] = is_const ? tg_const(t, v[0]) : tg_param(t, v[0]);
        else
            in[j] = is_const ? tg_tensor_const(t, c->in[j].rank, c->in[j].d, v)
                             : tg_tensor_param(t, c->in[j].rank, c->in[j].d, v);
        if (!is_const) params[(*np)++] = in[j];
    }
    return tg_apply_attr(op, c->n, in, c->at.n, c->at.n ? c->at.a : NULL);
}

/* Every operand integer constants: an op with no real operand (one_hot). */
static unsigned all_ints(const config *c) { return (1u << c->n) - 1; }

/* Whether op records without error on c's operands and gives finite values, with a parameter
 * to differentiate unless every operand is integer. */
static int accepts(tg_tape *scratch, const tg_op_def *op, const config *c)
{
    tg_var in[TG_MAX_ARITY], p[TG_MAX_ARITY];
    int np;
    tg_tape_reset(scratch);
    tg_var y = record(scratch, op, c, in, p, &np);
    if (tg_tape_status(scratch) != TG_OK || (np == 0 && c->ints != all_ints(c))) return 0;
    const double *x = tg_data(y);
    for (size_t e = 0; e < tg_numel(y); e++)
        if (!isfinite(x[e])) return 0;
    return 1;
}

/* The elementwise configurations of op (every tuple holding a tensor). */
static int elementwise_configs(tg_tape *scratch, const tg_op_def *op, config *out)
{
    int m = 0;
    for (size_t i = 0; i < sizeof ew_tuples / sizeof ew_tuples[0]; i++) {
        config c = {.n = op->arity};
        int tensors = 0;
        for (int j = 0; j < op->arity; j++) {
            c.in[j] = ew_tuples[i][j];
            tensors += c.in[j].rank > 0;
        }
        if (!tensors) continue;
        if (!accepts(scratch, op, &c)) c.positive = 1; /* outside the domain: log, sqrt, pow */
        /* operands refused unless each has values of one sign (clamp: lo < 0 < hi) */
        int patterns = 1;
        for (int j = 0; j < op->arity; j++) patterns *= 3;
        for (int s = 1; s < patterns && !accepts(scratch, op, &c); s++)
            c.positive = 0, c.signs = s;
        cr_expect(accepts(scratch, op, &c), "%s: no finite value at shape tuple %zu", op->name, i);
        out[m++] = c;
    }
    return m;
}

/* The candidate configurations op's infer accepts, appended to found[0..m) (up to MAX_FOUND,
 * no repeats; at most MAX_PER_SHAPE with the same operand shapes and, when cap, MAX_PER_ATTR
 * with the same attributes, so that both vary): all operands real parameters first; where
 * that is refused, each operand in turn as integer constants, then all of them. Returns the
 * new m. */
static int search_pass(tg_tape *scratch, const tg_op_def *op, config *found, int m, int cap)
{
    int n = op->arity, idx[TG_MAX_ARITY] = {0}, per_attr[NCAND_ATTRS] = {0};
    for (;;) {
        int here = 0;
        for (int a = 0; a < NCAND_ATTRS && m < MAX_FOUND && here < MAX_PER_SHAPE; a++) {
            if (cap && per_attr[a] == MAX_PER_ATTR) continue;
            config c = {.n = n, .at = cand_attrs[a]};
            for (int j = 0; j < n; j++) c.in[j] = cand_shapes[idx[j]];
            int ok = accepts(scratch, op, &c), seen = 0;
            for (int j = 0; j < n && !ok; j++) {
                c.ints = 1u << j;
                ok = accepts(scratch, op, &c);
            }
            if (!ok && n > 1) { /* no real operand at all */
                c.ints = all_ints(&c);
                ok = accepts(scratch, op, &c);
            }
            for (int q = 0; q < m && ok && !seen; q++)
                seen = same_shapes(&c, &found[q]) && same_attrs(&c, &found[q]);
            if (ok) here++, per_attr[a]++;
            if (ok && !seen) found[m++] = c;
        }
        int j = n - 1; /* next operand tuple, odometer order */
        while (j >= 0 && ++idx[j] == NCAND_SHAPES) idx[j--] = 0;
        if (j < 0 || m >= MAX_FOUND) break;
    }
    return m;
}

/* First with the attribute cap (varied pairs), then without it (ops with few attribute
 * tuples, or none, still reach many shapes). */
static int search_configs(tg_tape *scratch, const tg_op_def *op, config *found)
{
    return search_pass(scratch, op, found, search_pass(scratch, op, found, 0, 1), 0);
}

/* Up to MAX_CONFIGS of the found ones, varied: first those new in both shapes and attributes,
 * then new shapes, then new attributes. */
static int pick_configs(const config *found, int m, config *out)
{
    int k = 0;
    char used[MAX_FOUND] = {0};
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < m && k < MAX_CONFIGS; i++) {
            if (used[i]) continue;
            int new_shape = 1, new_attr = 1;
            for (int q = 0; q < k; q++) {
                if (same_shapes(&found[i], &out[q])) new_shape = 0;
                if (same_attrs(&found[i], &out[q])) new_attr = 0;
            }
            if ((pass == 0 && new_shape && new_attr) || (pass == 1 && new_shape) ||
                (pass == 2 && new_attr)) {
                used[i] = 1;
                out[k++] = found[i];
            }
        }
    }
    return k;
}

/* How many distinct operand-shape tuples the configurations cover. */
static int distinct_shapes(const config *c, int m)
{
    int k = 0;
    for (int i = 0; i < m; i++) {
        int seen = 0;
        for (int q = 0; q < i && !seen; q++) seen = same_shapes(&c[i], &c[q]);
        k += !seen;
    }
    return k;
}

/* ---- checking one configuration ---- */

typedef struct walk_stats {
    int configs, elements, failures;
} walk_stats;

#ifdef __GNUC__
__attribute__((format(printf, 2, 3)))
#endif
static void walk_fail(walk_stats *st, const char *fmt, ...)
{
    char buf[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (st->failures < MAX_SHOWN) cr_expect(0, "%s", buf);
    st->failures++;
}

static void fill_random(th_rng *r, double *x, size_t n)
{
    for (size_t e = 0; e < n; e++) x[e] = th_uniform(r, -1.0, 1.0);
}

/* A constant of v's shape holding x. */
static tg_var const_like_shape(tg_var v, const double *x)
{
    int sh[TG_MAX_RANK], rank = tg_shape(v, sh);
    return rank > 0 ? tg_tensor_const(v.tape, rank, sh, x) : tg_const(v.tape, x[0]);
}

/* Whether v's values (NULL: none) are all 0. */
static int all_zero(const double *v, size_t n)
{
    for (size_t e = 0; v && e < n; e++)
        if (v[e] != 0.0) return 0;
    return 1;
}

/* An op whose operands are all integer (c->ints == all_ints): nothing real to differentiate.
 * (a) The same integers as parameters: the value is the same, bit for bit, and the numeric
 * reverse sweep, the forward sweep and tg_diff's recorded rule all give zero (the value is
 * piecewise constant; finite differences would step off the integers). (b) New integers
 * (each operand's values reversed) set on the constants and replayed give what a fresh
 * recording gives, bit for bit. */
static void check_discrete(const tg_op_def *op, const config *c, const char *at, walk_stats *st)
{
    tg_tape *t = tg_tape_new(), *u = tg_tape_new();
    cr_assert(t && u);
    tg_var in[TG_MAX_ARITY], pin[TG_MAX_ARITY], p[TG_MAX_ARITY], dummy[TG_MAX_ARITY];
    int np, nd;
    tg_var y = record(t, op, c, in, dummy, &nd);
    config cp = *c;
    cp.int_params = cp.ints, cp.ints = 0;
    tg_var yp = record(u, op, &cp, pin, p, &np);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s: recording failed: %s", at, tg_tape_error(t));
    cr_assert_eq(tg_tape_status(u), TG_OK, "%s: recording with integer parameters failed: %s",
                 at, tg_tape_error(u));
    size_t ny = tg_numel(y), total = 0;
    cr_assert_leq(ny, MAXN, "%s: output too large", at);
    st->configs++;
    if (memcmp(tg_data(y), tg_data(yp), ny * sizeof(double)))
        walk_fail(st, "%s: the value differs with the integers as parameters", at);

    /* (a) zero from every sweep */
    th_rng r = th_rng_new(config_seed(op, c) ^ 0xabcdefull);
    double w[MAXN], u_dir[TG_MAX_ARITY * MAXN];
    fill_random(&r, w, ny);
    for (int k = 0; k < np; k++) total += tg_numel(p[k]);
    fill_random(&r, u_dir, total);
    tg_var L = tg_sum(tg_mul(yp, const_like_shape(yp, w)));
    cr_assert_eq(tg_backward(L), TG_OK, "%s: tg_backward: %s", at, tg_tape_error(u));
    for (int k = 0; k < np; k++) {
        st->elements += (int)tg_numel(p[k]);
        if (!all_zero(tg_gradient_data(p[k]), tg_numel(p[k])))
            walk_fail(st, "%s: reverse mode gives integer operand %d a nonzero gradient", at,
                      k + 1);
    }
    cr_assert_eq(tg_jvp(u, np, p, u_dir), TG_OK, "%s: tg_jvp: %s", at, tg_tape_error(u));
    if (!all_zero(tg_tangent_data(yp), ny))
        walk_fail(st, "%s: forward mode gives the output a nonzero tangent", at);
    for (int k = 0; k < np; k++) {
        tg_var d = tg_diff(L, p[k]);
        if (tg_tape_status(u) != TG_OK) {
            walk_fail(st, "%s: tg_diff wrt operand %d failed: %s", at, k + 1, tg_tape_error(u));
            break;
        }
        if (tg_numel(d) != tg_numel(p[k]) || !all_zero(tg_data(d), tg_numel(d)))
            walk_fail(st, "%s: tg_diff gives integer operand %d a nonzero gradient", at, k + 1);
    }

    /* (b) replay with new integers against a fresh recording of them */
    tg_tape_reset(u);
    tg_var fresh[TG_MAX_ARITY];
    th_rng rv = th_rng_new(config_seed(op, c));
    for (int j = 0; j < c->n; j++) {
        double v[MAXN], rev[MAXN];
        size_t n = numel(&c->in[j]);
        operand_values(&rv, c, j, v);
        for (size_t e = 0; e < n; e++) rev[e] = v[n - 1 - e];
        if (c->in[j].rank > 0) tg_tensor_set(in[j], rev);
        else tg_set(in[j], rev[0]);
        fresh[j] = c->in[j].rank > 0 ? tg_tensor_const(u, c->in[j].rank, c->in[j].d, rev)
                                     : tg_const(u, rev[0]);
    }
    tg_var yf = tg_apply_attr(op, c->n, fresh, c->at.n, c->at.n ? c->at.a : NULL);
    cr_assert_eq(tg_replay(t), TG_OK, "%s: replay: %s", at, tg_tape_error(t));
    cr_assert_eq(tg_tape_status(u), TG_OK, "%s: recording the new integers failed: %s", at,
                 tg_tape_error(u));
    if (memcmp(tg_data(y), tg_data(yf), ny * sizeof(double)))
        walk_fail(st, "%s: a replay with new integers differs from a fresh recording", at);
    tg_tape_free(u);
    tg_tape_free(t);
}

static void check_config(const tg_op_def *op, const config *c, walk_stats *st)
{
    char at[320];
    describe(op, c, at, sizeof at);
    if (c->ints == all_ints(c)) {
        check_discrete(op, c, at, st);
        return;
    }
    tg_tape *t = tg_tape_new();
    cr_assert_not_null(t);
    tg_var in[TG_MAX_ARITY], p[TG_MAX_ARITY];
    int np;
    tg_var y = record(t, op, c, in, p, &np);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s: recording failed: %s", at, tg_tape_error(t));
    size_t ny = tg_numel(y), total = 0;
    cr_assert_leq(ny, MAXN, "%s: output too large", at);
    th_rng r = th_rng_new(config_seed(op, c) ^ 0xabcdefull);
    double w[MAXN], v[MAXN], u[TG_MAX_ARITY * MAXN], g[TG_MAX_ARITY][MAXN];
    fill_random(&r, w, ny);
    tg_var L = tg_sum(tg_mul(y, const_like_shape(y, w)));
    st->configs++;

    /* (a) reverse mode against central differences and forward mode, every element */
    tg_check_result res[TG_MAX_ARITY];
    tg_check_report rep;
    tg_status rc = tg_check_grad(L, np, p, NULL, res, &rep);
    cr_assert_eq(rc, TG_OK, "%s: tg_check_grad could not run: %d %s", at, rc,
                  tg_tape_error(t) ? tg_tape_error(t) : "");
    for (int k = 0; k < np; k++) {
        st->elements += (int)res[k].checked;
        if (!res[k].pass || res[k].kink || res[k].undefined)
            walk_fail(st, "%s: d/dx (parameter %d) element %zu: reverse %.17g, forward %.17g, "
                      "finite differences %.17g (rel err %.3g)%s%s; %zu of %zu elements failed",
                      at, k + 1, res[k].elem, res[k].reverse, res[k].forward, res[k].fd,
                      res[k].rel_err, res[k].kink ? " [kink]" : "",
                      res[k].undefined ? " [undefined]" : "", res[k].failed, res[k].checked);
    }

    /* (b) dot-product test with a random direction u and a random seed v on y */
    for (int k = 0; k < np; k++) total += tg_numel(p[k]);
    fill_random(&r, u, total);
    fill_random(&r, v, ny);
    cr_assert_eq(tg_jvp(t, np, p, u), TG_OK, "%s: tg_jvp: %s", at, tg_tape_error(t));
    const double *dy = tg_tangent_data(y);
    double lhs = 0, rhs = 0, scale = 0;
    for (size_t e = 0; e < ny && dy; e++) lhs += dy[e] * v[e], scale += fabs(dy[e] * v[e]);
    cr_assert_eq(tg_backward_seed(y, v), TG_OK, "%s: tg_backward_seed: %s", at, tg_tape_error(t));
    for (int k = 0, off = 0; k < np; k++) {
        const double *gk = tg_gradient_data(p[k]);
        for (size_t e = 0; e < tg_numel(p[k]) && gk; e++)
            rhs += u[off + e] * gk[e], scale += fabs(u[off + e] * gk[e]);
        off += (int)tg_numel(p[k]);
    }
    if (!th_close(lhs, rhs, SAME_RTOL, 1e-13 * (1.0 + scale)))
        walk_fail(st, "%s: dot-product test: <jvp(u), v> = %.17g but <u, vjp(v)> = %.17g", at,
                  lhs, rhs);

    /* (c) tg_diff (vjp_graph) against the numeric reverse sweep of L */
    cr_assert_eq(tg_backward(L), TG_OK, "%s: tg_backward: %s", at, tg_tape_error(t));
    for (int k = 0; k < np; k++) { /* copied: recording below invalidates the pointers */
        const double *gk = tg_gradient_data(p[k]);
        for (size_t e = 0; e < tg_numel(p[k]); e++) g[k][e] = gk ? gk[e] : 0.0;
    }
    for (int k = 0; k < np; k++) {
        tg_var d = tg_diff(L, p[k]);
        if (tg_tape_status(t) != TG_OK) {
            walk_fail(st, "%s: tg_diff wrt parameter %d failed: %s", at, k + 1, tg_tape_error(t));
            break;
        }
        int ds[TG_MAX_RANK], ps[TG_MAX_RANK], dr = tg_shape(d, ds), pr = tg_shape(p[k], ps);
        if (dr != pr || memcmp(ds, ps, (size_t)pr * sizeof *ps)) {
            walk_fail(st, "%s: tg_diff wrt parameter %d has rank %d, the parameter rank %d", at,
                      k + 1, dr, pr);
            continue;
        }
        const double *dv = tg_data(d);
        double gmax = 0;
        for (size_t e = 0; e < tg_numel(p[k]); e++) gmax = fmax(gmax, fabs(g[k][e]));
        for (size_t e = 0; e < tg_numel(p[k]); e++) {
            if (th_close(dv[e], g[k][e], SAME_RTOL, 1e-13 * (1.0 + gmax))) continue;
            walk_fail(st, "%s: d/dx (parameter %d) element %zu: tg_diff gives %.17g, tg_backward "
                      "%.17g", at, k + 1, e, dv[e], g[k][e]);
            break;
        }
    }
    tg_tape_free(t);
}

/* ---- the walker: one test per registered op ---- */

/* (d) compiled: every configuration of the op on one tape, L = the sum of the sum(y * w) of
 * each, compiled (tg_compile) and run at the recorded values and at two more, each node's
 * values and gradient, element by element, against replay + backward of the same recording on
 * a second tape. params receives the parameters (*np, at most max). */
static tg_var record_configs(tg_tape *t, const tg_op_def *op, const config *cfg, int m,
                             tg_var *params, int *np, int max)
{
    tg_var L = {0};
    *np = 0;
    for (int i = 0; i < m; i++) {
        tg_var in[TG_MAX_ARITY], p[TG_MAX_ARITY];
        int k;
        tg_var y = record(t, op, &cfg[i], in, p, &k);
        for (int j = 0; j < k && *np < max; j++) params[(*np)++] = p[j];
        th_rng r = th_rng_new(config_seed(op, &cfg[i]) ^ 0xc0de);
        double w[MAXN];
        fill_random(&r, w, tg_numel(y));
        tg_var term = tg_sum(tg_mul(y, const_like_shape(y, w)));
        L = i ? tg_add(L, term) : term;
    }
    return L;
}

static void check_compiled(const tg_op_def *op, const config *cfg, int m)
{
    tg_tape *a = tg_tape_new(), *b = tg_tape_new();
    tg_var pa[4 * MAX_CONFIGS], pb[4 * MAX_CONFIGS];
    int na, nb;
    tg_var La = record_configs(a, op, cfg, m, pa, &na, 4 * MAX_CONFIGS);
    tg_var Lb = record_configs(b, op, cfg, m, pb, &nb, 4 * MAX_CONFIGS);
    cr_assert_eq(tg_tape_status(a), TG_OK, "%s: %s", op->name, tg_tape_error(a));
    tg_compile_opts o = {.cache_dir = ""};
    tg_compiled *c = tg_compile(La, &o);
    cr_assert_not_null(c, "%s: tg_compile: %s", op->name, tg_tape_error(a));
    for (int point = 0; point < 3; point++) {
        for (int k = 0; point && k < na; k++) { /* the same new values on both tapes */
            double v[MAXN];
            const double *x = tg_data(pa[k]);
            size_t n = tg_numel(pa[k]);
            for (size_t e = 0; e < n; e++) v[e] = x[e] * (1 + 0.0625 * point) + 0.03125;
            if (n == 1) { /* a scalar parameter, or a tensor of one element */
                tg_set(pa[k], v[0]);
                tg_set(pb[k], v[0]);
            } else {
                tg_tensor_set(pa[k], v);
                tg_tensor_set(pb[k], v);
            }
        }
        cr_assert_eq(tg_compiled_run(c), TG_OK, "%s: %s", op->name, tg_tape_error(a));
        cr_assert_eq(tg_replay(b), TG_OK, "%s: %s", op->name, tg_tape_error(b));
        cr_assert_eq(tg_backward(Lb), TG_OK);
        char what[96];
        snprintf(what, sizeof what, "%s compiled, %d configurations, point %d", op->name, m,
                 point);
        th_expect_same_tensors(a, b, La, what);
    }
    tg_compiled_free(c);
    tg_tape_free(a);
    tg_tape_free(b);
}

typedef struct op_name {
    char name[48];
} op_name;

ParameterizedTestParameters(tensor_ops, every_registered_op_agrees_three_ways_on_tensors)
{
    tg_registry *r = tg_registry_new();
    int n = tg_registry_count(r);
    op_name *names = cr_malloc((size_t)(n > 0 ? n : 1) * sizeof *names);
    for (int i = 0; i < n; i++)
        snprintf(names[i].name, sizeof names[0].name, "%s", tg_registry_at(r, i)->name);
    tg_registry_free(r);
    return cr_make_param_array(op_name, names, (size_t)n, NULL);
}

ParameterizedTest(op_name *param, tensor_ops, every_registered_op_agrees_three_ways_on_tensors)
{
    tg_registry *r = tg_registry_new();
    cr_assert_not_null(r);
    const tg_op_def *op = tg_registry_find(r, param->name);
    cr_assert_not_null(op, "op '%s' listed by the registry is not found by name", param->name);
    tg_tape *scratch = tg_tape_new();
    config found[MAX_FOUND];
    config cfg[MAX_CONFIGS];
    int m, nfound = 0;
    if (op->infer) {
        nfound = search_configs(scratch, op, found);
        m = pick_configs(found, nfound, cfg);
    } else {
        m = elementwise_configs(scratch, op, cfg);
    }
    tg_tape_free(scratch);
    walk_stats st = {0};
    for (int i = 0; i < m; i++) check_config(op, &cfg[i], &st);
    if (system("cc --version >/dev/null 2>&1") == 0) check_compiled(op, cfg, m);
    else cr_log_info("%s: not compiled (no C compiler)", op->name);
    int shapes = distinct_shapes(cfg, m);
    cr_log_info("%-16s %s: %d configurations at %d operand shapes (%d accepted by infer), "
                "%d elements checked, %d failures", op->name,
                op->infer ? "tensor-only" : "elementwise", m, shapes, nfound, st.elements,
                st.failures);
    cr_expect_geq(shapes, MIN_SHAPES, "%s is exercised at only %d operand shapes (need %d): "
                  "its infer accepted %d of the candidate configurations", op->name, shapes,
                  MIN_SHAPES, nfound);
    cr_expect_eq(st.failures, 0, "%s: %d checks failed (the first %d are shown above)", op->name,
                 st.failures, MAX_SHOWN);
    tg_registry_free(r);
}

/* ---- cross-entropy, softmax, log-softmax ---- */

/* softmax of row z[0..C-1] into p (max subtracted) */
static void ref_softmax(const double *z, int C, double *p)
{
    double m = z[0], s = 0;
    for (int j = 1; j < C; j++) m = fmax(m, z[j]);
    for (int j = 0; j < C; j++) s += p[j] = exp(z[j] - m);
    for (int j = 0; j < C; j++) p[j] /= s;
}

Test(tensor_ops, cross_entropy_is_minus_mean_log_softmax_at_the_label_with_gradient_p_minus_onehot)
{
    static const double scales[] = {0.5, 3.0, 30.0};
    static const int shapes[][2] = {{4, 5}, {1, 6}, {7, 3}};
    th_rng r = th_rng_new(2024);
    for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
        for (size_t hi = 0; hi < sizeof shapes / sizeof shapes[0]; hi++) {
            int N = shapes[hi][0], C = shapes[hi][1], rank = N == 1 ? 1 : 2;
            int dims[2] = {N, C}, labels[8];
            double z[64], hot[64] = {0}, want[64];
            const int *zdims = rank == 1 ? &dims[1] : dims;
            for (int k = 0; k < N * C; k++) z[k] = scales[si] * th_uniform(&r, -1.0, 1.0);
            for (int n = 0; n < N; n++) {
                labels[n] = (int)(th_next(&r) % (uint64_t)C);
                hot[n * C + labels[n]] = 1.0;
                ref_softmax(z + n * C, C, want + n * C);
                for (int j = 0; j < C; j++)
                    want[n * C + j] = (want[n * C + j] - hot[n * C + j]) / N;
            }
            tg_tape *t = tg_tape_new();
            tg_var x = tg_tensor_param(t, rank, zdims, z);
            tg_var fused = tg_cross_entropy(x, labels);
            /* -mean(log_softmax(z)[label]): the one-hot picks each row's label */
            tg_var picked = tg_sum(tg_mul(tg_log_softmax(x), tg_tensor_const(t, rank, zdims, hot)));
            tg_var comp = tg_mul(picked, tg_const(t, -1.0 / N));
            cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
            cr_expect(th_close(tg_value(fused), tg_value(comp), 1e-13, 1e-15),
                      "N=%d C=%d scale %g: cross_entropy %.17g, composition %.17g", N, C,
                      scales[si], tg_value(fused), tg_value(comp));
            double gc[64];
            cr_assert_eq(tg_backward(comp), TG_OK);
            memcpy(gc, tg_gradient_data(x), (size_t)(N * C) * sizeof *gc);
            cr_assert_eq(tg_backward(fused), TG_OK);
            const double *g = tg_gradient_data(x);
            for (int k = 0; k < N * C; k++) {
                cr_expect(th_close(g[k], want[k], 1e-13, 1e-16),
                          "N=%d C=%d scale %g: dL/dz[%d] = %.17g, (softmax - onehot)/N = %.17g", N,
                          C, scales[si], k, g[k], want[k]);
                cr_expect(th_close(g[k], gc[k], 1e-12, 1e-15),
                          "N=%d C=%d scale %g: dL/dz[%d] = %.17g, the composition's %.17g", N, C,
                          scales[si], k, g[k], gc[k]);
            }
            tg_check_report rep;
            cr_assert_eq(tg_check_grad(fused, 1, &x, NULL, NULL, &rep), TG_OK);
            cr_expect_eq(rep.failed, 0,
                         "N=%d C=%d scale %g: gradient check failed (worst rel err %g)", N, C,
                         scales[si], rep.worst_rel);
            tg_tape_free(t);
        }
    }
}

Test(tensor_ops, losses_and_gradients_stay_finite_at_logits_of_1e4)
{
    tg_tape *t = tg_tape_new();
    int dims[2] = {2, 3}, labels[2] = {1, 2};
    double z[6] = {1e4, -1e4, 0, -1e4, 1e4, 1e4};
    tg_var x = tg_tensor_param(t, 2, dims, z);
    tg_var loss = tg_cross_entropy(x, labels);
    /* row 0: ln(e^1e4 + ...) - (-1e4) = 2e4; row 1: ln(2 e^1e4) - 1e4 = ln 2 */
    double want = (2e4 + log(2.0)) / 2;
    cr_expect(th_close(tg_value(loss), want, 1e-15, 0), "loss %.17g, expected %.17g",
              tg_value(loss), want);
    cr_assert_eq(tg_backward(loss), TG_OK, "%s", tg_tape_error(t));
    const double gwant[6] = {0.5, -0.5, 0, 0, 0.25, -0.25};
    const double *g = tg_gradient_data(x);
    for (int k = 0; k < 6; k++)
        cr_expect(th_close(g[k], gwant[k], 1e-15, 1e-300), "dL/dz[%d] = %.17g, expected %g", k,
                  g[k], gwant[k]);
    double dz[6] = {1, 2, 3, 4, 5, 6};
    cr_assert_eq(tg_jvp(t, 1, &x, dz), TG_OK);
    double tw = 0;
    for (int k = 0; k < 6; k++) tw += gwant[k] * dz[k];
    cr_expect(th_close(tg_tangent(loss), tw, 1e-15, 0), "tangent %.17g, expected %.17g",
              tg_tangent(loss), tw);
    tg_var d = tg_diff(loss, x);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    for (int k = 0; k < 6; k++)
        cr_expect(th_close(tg_data(d)[k], gwant[k], 1e-15, 1e-300), "tg_diff [%d] = %.17g", k,
                  tg_data(d)[k]);

    /* softmax and log_softmax of the same logits: finite, exact where representable */
    tg_var sm = tg_softmax(x), ls = tg_log_softmax(x);
    const double smwant[6] = {1, 0, 0, 0, 0.5, 0.5};
    const double lswant[6] = {0, -2e4, -1e4, -2e4 - log(2.0), -log(2.0), -log(2.0)};
    for (int k = 0; k < 6; k++) {
        cr_expect(th_close(tg_data(sm)[k], smwant[k], 1e-15, 1e-300), "softmax[%d] = %.17g", k,
                  tg_data(sm)[k]);
        cr_expect(th_close(tg_data(ls)[k], lswant[k], 1e-15, 0), "log_softmax[%d] = %.17g", k,
                  tg_data(ls)[k]);
    }
    /* the composition -log(softmax(z)[label]) does not survive: p = e^-2e4 underflows to 0 */
    tg_var naive = tg_neg(tg_log(tg_slice(tg_slice(sm, 0, 0, 1), 1, 1, 2)));
    cr_expect(isinf(tg_data(naive)[0]), "naive -log softmax = %g, expected +Inf",
              tg_data(naive)[0]);

    /* bce_with_logits at +-1e4: losses 0, 0, 1e4, 1e4, gradient (sigmoid(x) - t)/4 */
    int four = 4;
    double bx[4] = {1e4, -1e4, 1e4, -1e4}, bt[4] = {1, 0, 0, 1};
    tg_var b = tg_tensor_param(t, 1, &four, bx);
    tg_var bce = tg_bce_with_logits(b, tg_tensor_const(t, 1, &four, bt));
    cr_expect_eq(tg_value(bce), 5e3, "bce %.17g, expected 5000", tg_value(bce));
    cr_assert_eq(tg_backward(bce), TG_OK, "%s", tg_tape_error(t));
    const double bwant[4] = {0, 0, 0.25, -0.25};
    for (int k = 0; k < 4; k++)
        cr_expect(th_close(tg_gradient_data(b)[k], bwant[k], 1e-15, 1e-300),
                  "dbce/dx[%d] = %.17g, expected %g", k, tg_gradient_data(b)[k], bwant[k]);
    tg_tape_free(t);
}

Test(tensor_ops, cross_entropy_and_log_softmax_keep_the_digits_of_a_confident_right_answer)
{
    /* z = [40, 0, -3], label 0: the loss is log1p(r), r = e^-40 + e^-43 (about 4.4e-18, far
     * below the rounding of 1 + r), and the label's gradient is -r/(1 + r), not 1/(1+r) - 1 */
    tg_tape *t = tg_tape_new();
    int three = 3, label = 0;
    double z[3] = {40, 0, -3}, r = exp(-40.0) + exp(-43.0);
    tg_var x = tg_tensor_param(t, 1, &three, z), L = tg_cross_entropy(x, &label);
    tg_var ls = tg_log_softmax(x);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect(th_close(tg_value(L), log1p(r), 1e-15, 0), "loss %.17g, expected %.17g",
              tg_value(L), log1p(r));
    cr_expect(th_close(tg_data(ls)[0], -log1p(r), 1e-15, 0), "log_softmax[0] %.17g, expected "
              "%.17g", tg_data(ls)[0], -log1p(r));
    cr_assert_eq(tg_backward(L), TG_OK);
    const double want[3] = {-r / (1 + r), exp(-40.0) / (1 + r), exp(-43.0) / (1 + r)};
    for (int k = 0; k < 3; k++)
        cr_expect(th_close(tg_gradient_data(x)[k], want[k], 1e-15, 0), "dL/dz[%d] = %.17g, "
                  "expected %.17g", k, tg_gradient_data(x)[k], want[k]);
    tg_tape_free(t);
}

Test(tensor_ops, softmax_rows_sum_to_one)
{
    static const int shapes[][3] = {{1, 7, 0}, {2, 3, 5}, {3, 2, 3}};
    static const double scales[] = {1.0, 50.0, 1e3};
    th_rng r = th_rng_new(77);
    for (size_t hi = 0; hi < sizeof shapes / sizeof shapes[0]; hi++) {
        int rank = shapes[hi][0];
        int dims[3] = {shapes[hi][1], shapes[hi][2], 4};
        if (rank == 1) dims[0] = shapes[hi][1];
        for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
            tg_tape *t = tg_tape_new();
            double x[64];
            size_t n = 1;
            for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
            for (size_t e = 0; e < n; e++) x[e] = scales[si] * th_uniform(&r, -1.0, 1.0);
            tg_var v = tg_tensor_const(t, rank, dims, x), y = tg_softmax(v), ly = tg_log_softmax(v);
            cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
            const double *p = tg_data(y), *lp = tg_data(ly);
            size_t C = (size_t)dims[rank - 1];
            for (size_t row = 0; row < n; row += C) {
                double s = 0;
                for (size_t j = 0; j < C; j++) {
                    cr_expect(p[row + j] >= 0 && p[row + j] <= 1, "softmax = %g outside [0,1]",
                              p[row + j]);
                    cr_expect(th_close(exp(lp[row + j]), p[row + j], 1e-13, 1e-300),
                              "exp(log_softmax) %.17g vs softmax %.17g", exp(lp[row + j]),
                              p[row + j]);
                    s += p[row + j];
                }
                cr_expect(fabs(s - 1.0) <= 4 * C * 2.2e-16, "rank %d, scale %g: row at %zu sums "
                          "to 1 + %.3g", rank, scales[si], row, s - 1.0);
            }
            tg_tape_free(t);
        }
    }
}

/* ---- max, slice ---- */

Test(tensor_ops, max_gradient_goes_to_the_first_arg_max)
{
    tg_tape *t = tg_tape_new();
    int dims[2] = {2, 4};
    double x[8] = {1, 3, 3, 2, 5, 0, 5, 5};
    tg_var p = tg_tensor_param(t, 2, dims, x), y = tg_max_axis(p, 1, 0);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    int ys[4];
    cr_expect_eq(tg_shape(y, ys), 1);
    cr_expect_eq(ys[0], 2);
    cr_expect(tg_data(y)[0] == 3 && tg_data(y)[1] == 5, "max = [%g, %g]", tg_data(y)[0],
              tg_data(y)[1]);
    const double seed[2] = {2, -1}, want[8] = {0, 2, 0, 0, -1, 0, 0, 0};
    cr_assert_eq(tg_backward_seed(y, seed), TG_OK);
    for (int k = 0; k < 8; k++)
        cr_expect_eq(tg_gradient_data(p)[k], want[k], "backward: gx[%d] = %g, expected %g", k,
                     tg_gradient_data(p)[k], want[k]);
    const double dx[8] = {10, 20, 30, 40, 50, 60, 70, 80};
    cr_assert_eq(tg_jvp(t, 1, &p, dx), TG_OK);
    cr_expect(tg_tangent_data(y)[0] == 20 && tg_tangent_data(y)[1] == 50,
              "jvp: dy = [%g, %g], expected the first arg-maxes' [20, 50]",
              tg_tangent_data(y)[0], tg_tangent_data(y)[1]);
    /* the recorded rule breaks ties the same way */
    tg_var L = tg_sum(tg_mul(y, tg_tensor_const(t, 1, &dims[0], seed)));
    tg_var d = tg_diff(L, p);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    for (int k = 0; k < 8; k++)
        cr_expect_eq(tg_data(d)[k], want[k], "tg_diff: gx[%d] = %g, expected %g", k,
                     tg_data(d)[k], want[k]);
    /* along axis 0 with keepdims: [1,4], each column's first maximum */
    tg_var y0 = tg_max_axis(p, 0, 1);
    cr_expect_eq(tg_shape(y0, ys), 2);
    cr_expect(ys[0] == 1 && ys[1] == 4, "shape [%d,%d]", ys[0], ys[1]);
    cr_assert_eq(tg_backward(tg_sum(y0)), TG_OK);
    const double want0[8] = {0, 1, 0, 0, 1, 0, 1, 1};
    for (int k = 0; k < 8; k++)
        cr_expect_eq(tg_gradient_data(p)[k], want0[k], "axis 0: gx[%d] = %g, expected %g", k,
                     tg_gradient_data(p)[k], want0[k]);
    /* a NaN is the maximum, as in NumPy */
    double xn[3] = {1, NAN, 2};
    int three = 3;
    tg_var yn = tg_max_axis(tg_tensor_const(t, 1, &three, xn), 0, 0);
    cr_expect(isnan(tg_value(yn)), "max of [1, nan, 2] = %g", tg_value(yn));
    tg_tape_free(t);
}

Test(tensor_ops, slice_differences_and_the_pad_form_move_windows_exactly)
{
    tg_tape *t = tg_tape_new();
    int five = 5;
    double x[5] = {1, 4, 9, 16, 25};
    tg_var p = tg_tensor_param(t, 1, &five, x);
    /* x[1:] - x[:-1], the vectorised first difference */
    tg_var d = tg_sub(tg_slice(p, 0, 1, 5), tg_slice(p, 0, 0, -1));
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    cr_assert_eq(tg_numel(d), 4);
    for (int k = 0; k < 4; k++)
        cr_expect_eq(tg_data(d)[k], x[k + 1] - x[k], "d[%d] = %g", k, tg_data(d)[k]);
    /* sum(d^2): dL/dx_k = 2 d_{k-1} - 2 d_k (missing terms are 0) */
    tg_var L = tg_sum(tg_mul(d, d));
    cr_assert_eq(tg_backward(L), TG_OK);
    for (int k = 0; k < 5; k++) {
        double want = (k > 0 ? 2 * (x[k] - x[k - 1]) : 0) - (k < 4 ? 2 * (x[k + 1] - x[k]) : 0);
        cr_expect_eq(tg_gradient_data(p)[k], want, "dL/dx[%d] = %g, expected %g", k,
                     tg_gradient_data(p)[k], want);
    }
    /* the pad form: {axis, start, stop, len} puts x at [start, stop) of zeros */
    int pad[4] = {0, 2, -1, 8};
    tg_var y = tg_apply_attr(&tg_op_slice, 1, &p, 4, pad);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    const double want[8] = {0, 0, 1, 4, 9, 16, 25, 0};
    cr_assert_eq(tg_numel(y), 8);
    for (int k = 0; k < 8; k++)
        cr_expect_eq(tg_data(y)[k], want[k], "pad[%d] = %g", k, tg_data(y)[k]);
    /* a middle axis of a rank-3 tensor */
    int dims[3] = {2, 3, 2};
    double z[12];
    for (int k = 0; k < 12; k++) z[k] = k;
    tg_var s = tg_slice(tg_tensor_const(t, 3, dims, z), 1, -2, 3);
    int sh[4];
    cr_expect_eq(tg_shape(s, sh), 3);
    cr_expect(sh[0] == 2 && sh[1] == 2 && sh[2] == 2, "shape [%d,%d,%d]", sh[0], sh[1], sh[2]);
    const double swant[8] = {2, 3, 4, 5, 8, 9, 10, 11};
    for (int k = 0; k < 8; k++)
        cr_expect_eq(tg_data(s)[k], swant[k], "s[%d] = %g", k, tg_data(s)[k]);
    tg_tape_free(t);
}

/* ---- mse, bce_with_logits ---- */

Test(tensor_ops, mse_is_the_mean_squared_difference_with_gradient_2d_over_n)
{
    tg_tape *t = tg_tape_new();
    int dims[2] = {2, 3};
    double a[6] = {1, -2, 3.5, 0, 7, -1}, b[6] = {0.5, -2, 1, 2, 6, 1};
    tg_var p = tg_tensor_param(t, 2, dims, a), q = tg_tensor_param(t, 2, dims, b);
    tg_var L = tg_mse(p, q);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    double want = 0;
    for (int k = 0; k < 6; k++) want += (a[k] - b[k]) * (a[k] - b[k]) / 6;
    cr_expect(th_close(tg_value(L), want, 1e-15, 0), "mse %.17g, expected %.17g", tg_value(L),
              want);
    cr_assert_eq(tg_backward(L), TG_OK);
    for (int k = 0; k < 6; k++) {
        cr_expect(th_close(tg_gradient_data(p)[k], 2 * (a[k] - b[k]) / 6, 1e-15, 0),
                  "dmse/dpred[%d] = %.17g", k, tg_gradient_data(p)[k]);
        cr_expect(th_close(tg_gradient_data(q)[k], -2 * (a[k] - b[k]) / 6, 1e-15, 0),
                  "dmse/dtarget[%d] = %.17g", k, tg_gradient_data(q)[k]);
    }
    tg_var pq[2] = {p, q};
    tg_check_report rep;
    cr_assert_eq(tg_check_grad(L, 2, pq, NULL, NULL, &rep), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(rep.failed, 0, "gradient check failed");
    tg_tape_free(t);
}

Test(tensor_ops, bce_with_logits_matches_the_textbook_formula_and_keeps_tiny_losses)
{
    tg_tape *t = tg_tape_new();
    int n = 6;
    double x[6] = {-3, -0.5, 0, 0.25, 2, 5}, y[6] = {0, 1, 1, 0, 1, 0.3};
    tg_var p = tg_tensor_param(t, 1, &n, x), q = tg_tensor_param(t, 1, &n, y);
    tg_var L = tg_bce_with_logits(p, q);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    double want = 0;
    for (int k = 0; k < 6; k++) {
        double s = 1 / (1 + exp(-x[k]));
        want -= (y[k] * log(s) + (1 - y[k]) * log(1 - s)) / 6;
    }
    cr_expect(th_close(tg_value(L), want, 1e-14, 0), "bce %.17g, textbook %.17g", tg_value(L),
              want);
    cr_assert_eq(tg_backward(L), TG_OK);
    for (int k = 0; k < 6; k++) {
        double s = 1 / (1 + exp(-x[k]));
        cr_expect(th_close(tg_gradient_data(p)[k], (s - y[k]) / 6, 1e-14, 1e-17),
                  "dbce/dx[%d] = %.17g, expected %.17g", k, tg_gradient_data(p)[k], (s - y[k]) / 6);
        cr_expect(th_close(tg_gradient_data(q)[k], -x[k] / 6, 1e-15, 0), "dbce/dt[%d] = %.17g", k,
                  tg_gradient_data(q)[k]);
    }
    tg_var pq[2] = {p, q};
    tg_check_report rep;
    cr_assert_eq(tg_check_grad(L, 2, pq, NULL, NULL, &rep), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(rep.failed, 0, "gradient check failed");
    /* a confident right answer: loss ln(1 + e^-40) and gradient -sigmoid(-40), both about
     * 4.2e-18, to full relative precision (softplus(x) - x t would give exactly 0) */
    tg_var x40 = tg_param(t, 40.0), l40 = tg_bce_with_logits(x40, tg_const(t, 1.0));
    cr_expect(th_close(tg_value(l40), log1p(exp(-40.0)), 1e-15, 0), "loss at x = 40, t = 1: %.17g",
              tg_value(l40));
    cr_assert_eq(tg_backward(l40), TG_OK);
    double s40 = exp(-40.0) / (1 + exp(-40.0));
    cr_expect(th_close(tg_gradient(x40), -s40, 1e-15, 0), "gradient at x = 40, t = 1: %.17g, "
              "expected %.17g", tg_gradient(x40), -s40);
    tg_tape_free(t);
}

/* ---- second derivatives through the new ops' recorded rules ---- */

/* Hessian-vector products H v of L = sum(op(x) * w) through tg_diff twice, against central
 * differences (Richardson) of the recorded gradient g = tg_diff(L, x) along v, replayed. */
static tg_var hv_case(int which, tg_var x, tg_tape *t, const char **name)
{
    static const int labels[3] = {2, 0, 3}, dims[2] = {3, 4}, pad[4] = {1, 1, 4, 5};
    static const char *const names[] = {"softmax", "log_softmax", "cross_entropy",
                                        "bce_with_logits", "slice", "slice (pad form)", "max",
                                        "mse", "softmax axis 0", "log_softmax axis -2",
                                        "logsumexp axis 0", "logsumexp axis -1 keepdims"};
    *name = names[which];
    tg_var s;
    switch (which) {
    case 0: return tg_softmax(x);
    case 1: return tg_log_softmax(x);
    case 2: return tg_cross_entropy(x, labels);
    case 3: return tg_bce_with_logits(x, tg_tensor_fill(t, 2, dims, 0.25));
    case 4: s = tg_slice(x, 1, 1, 3); return tg_mul(s, s);
    case 5: s = tg_slice(x, 1, 1, 4); s = tg_apply_attr(&tg_op_slice, 1, &s, 4, pad);
        return tg_mul(s, s);
    case 6: s = tg_max_axis(x, 1, 0); return tg_mul(s, s);
    case 7: return tg_mse(tg_tanh(x), tg_tensor_fill(t, 2, dims, 0.5));
    case 8: return tg_softmax_axis(x, 0);
    case 9: return tg_log_softmax_axis(x, -2);
    case 10: return tg_logsumexp(x, 0, 0);
    default: return tg_logsumexp(x, -1, 1);
    }
}

#define HV_CASES 12

Test(tensor_ops, recorded_rules_differentiate_again)
{
    for (int which = 0; which < HV_CASES; which++) {
        tg_tape *t = tg_tape_new();
        th_rng r = th_rng_new(5150 + (uint64_t)which);
        int dims[2] = {3, 4};
        double x0[12], w[64], v[12], xs[12];
        for (int k = 0; k < 12; k++) x0[k] = th_uniform(&r, -2, 2), v[k] = th_uniform(&r, -1, 1);
        tg_var x = tg_tensor_param(t, 2, dims, x0);
        const char *name;
        tg_var y = hv_case(which, x, t, &name);
        cr_assert_leq(tg_numel(y), 64);
        fill_random(&r, w, tg_numel(y));
        tg_var L = tg_sum(tg_mul(y, const_like_shape(y, w)));
        tg_var g = tg_diff(L, x);
        tg_var hv = tg_diff(tg_sum(tg_mul(g, tg_tensor_const(t, 2, dims, v))), x);
        if (tg_tape_status(t) != TG_OK) {
            cr_expect(0, "%s: tg_diff twice failed: %s", name, tg_tape_error(t));
            tg_tape_free(t);
            continue;
        }
        double got[12], at[4][12], h = 1e-4;
        memcpy(got, tg_data(hv), sizeof got);
        const double steps[4] = {h, -h, h / 2, -h / 2};
        for (int s = 0; s < 4; s++) {
            for (int k = 0; k < 12; k++) xs[k] = x0[k] + steps[s] * v[k];
            tg_tensor_set(x, xs);
            cr_assert_eq(tg_replay(t), TG_OK, "%s: replay: %s", name, tg_tape_error(t));
            memcpy(at[s], tg_data(g), sizeof at[s]);
        }
        tg_tensor_set(x, x0);
        tg_replay(t);
        for (int k = 0; k < 12; k++) {
            double d1 = (at[0][k] - at[1][k]) / (2 * h), d2 = (at[2][k] - at[3][k]) / h;
            double fd = (4 * d2 - d1) / 3;
            cr_expect(th_close(got[k], fd, 1e-6, 1e-8), "%s: (H v)[%d]: tg_diff twice %.17g, "
                      "differences of the recorded gradient %.17g", name, k, got[k], fd);
        }
        tg_tape_free(t);
    }
}

/* ---- bad input: exact messages, sticky ---- */

/* Record case k's misuse on t, where x is a [3,4] parameter, z a [3,5] one, s a scalar. */
static tg_var bad_build(int k, tg_tape *t, tg_var x, tg_var z, tg_var s)
{
    static const int in_range[3] = {0, 4, 1}, too_big[3] = {0, 4, 5}, negative[3] = {-1, 0, 0};
    static const double half[3] = {0, 1.5, 2}, four[4] = {0, 1, 2, 3};
    int three = 3, fourn = 4, attr2[2] = {0, 1}, keep2[2] = {0, 2}, pad[4] = {0, 0, 2, 5};
    int cube[3] = {2, 3, 4}, col[2] = {4, 1}, tall[2] = {3, 1}, wide[2] = {5, 4};
    int guess[2] = {-1, 4}; /* NumPy's "infer this dimension", which reshape does not do */
    static const int seven[5] = {0, 4, 1, 7, 9};
    static const double classes_ok[3] = {0, 4, 1};
    int five = 5, zero = 0;
    tg_var in[2];
    in[0] = tg_tensor_const(t, 1, &three, half); /* one_hot's labels: 1.5 is not a class */
    in[1] = tg_tensor_const(t, 1, &three, classes_ok);
    switch (k) {
    case 0: return tg_slice(x, 2, 0, 1);
    case 1: return tg_slice(x, 1, 1, 7);
    case 2: return tg_slice(x, 0, 2, 2);
    case 3: return tg_slice(x, 0, -5, 2);
    case 4: return tg_apply_attr(&tg_op_slice, 1, &x, 2, attr2);
    case 5: return tg_apply_attr(&tg_op_slice, 1, &x, 4, pad);
    case 6: return tg_max_axis(x, -3, 0);
    case 7: return tg_max_axis(s, 0, 1);
    case 8: return tg_apply_attr(&tg_op_max, 1, &x, 2, keep2);
    case 9: return tg_softmax(s);
    case 10: return tg_log_softmax(s);
    case 11: return tg_apply_attr(&tg_op_softmax, 1, &x, 2, attr2);
    case 12: return tg_cross_entropy(tg_tensor_fill(t, 3, cube, 0.0), in_range);
    case 13: return tg_cross_entropy(z, too_big);
    case 14: return tg_cross_entropy(z, negative);
    case 15:
        in[0] = z, in[1] = tg_tensor_const(t, 1, &three, half);
        return tg_apply(&tg_op_cross_entropy, 2, in);
    case 16:
        in[0] = z, in[1] = tg_tensor_const(t, 1, &fourn, four);
        return tg_apply(&tg_op_cross_entropy, 2, in);
    case 17: return tg_cross_entropy(z, NULL);
    case 18: return tg_mse(tg_tensor_fill(t, 2, col, 1.0), tg_tensor_fill(t, 1, &fourn, 1.0));
    case 19:
        return tg_bce_with_logits(tg_tensor_fill(t, 1, &three, 1.0),
                                  tg_tensor_fill(t, 2, tall, 1.0));
    case 20: return tg_add(x, tg_tensor_fill(t, 2, wide, 1.0));
    case 21: return tg_matmul(x, tg_tensor_fill(t, 1, &fourn, 1.0));
    case 22: return tg_matmul(x, z);
    case 23: return tg_apply_attr(&tg_op_sum, 1, &x, 1, attr2);
    case 24: return tg_sum_axis(x, 2, 1);
    case 25: return tg_transpose(tg_tensor_fill(t, 1, &three, 1.0));
    case 26: return tg_reshape(x, 2, guess);
    case 27: return tg_softmax_axis(x, 2);
    case 28: return tg_log_softmax_axis(x, -3);
    case 29: return tg_softmax_axis(s, 0);
    case 30: return tg_apply_attr(&tg_op_log_softmax, 1, &x, 2, attr2);
    case 31: return tg_logsumexp(x, 2, 0);
    case 32: return tg_logsumexp(x, -3, 1);
    case 33: return tg_logsumexp(s, -1, 0);
    case 34: return tg_apply_attr(&tg_op_logsumexp, 1, &x, 2, keep2);
    case 35: return tg_apply_attr(&tg_op_logsumexp, 1, &x, 1, attr2);
    case 36: return tg_one_hot(t, 5, seven, 5);
    case 37: return tg_one_hot(t, 3, negative, 5);
    case 38: return tg_one_hot(t, 0, in_range, 5);
    case 39: return tg_one_hot(t, 3, in_range, 0);
    case 40: return tg_one_hot(t, 3, NULL, 5);
    case 41: return tg_apply_attr(&tg_op_one_hot, 1, &in[0], 1, &five);
    case 42: return tg_apply_attr(&tg_op_one_hot, 1, &x, 1, &five);
    case 43: return tg_apply_attr(&tg_op_one_hot, 1, &s, 1, &five);
    case 44: return tg_apply_attr(&tg_op_one_hot, 1, &in[1], 0, NULL);
    case 45: return tg_apply_attr(&tg_op_one_hot, 1, &in[1], 1, &zero);
    default: return tg_tensor_param(t, 2, wide, NULL);
    }
}

Test(tensor_ops, bad_shapes_attributes_and_labels_set_the_sticky_error_with_exact_messages)
{
    static const struct {
        tg_status status;
        const char *message;
    } cases[] = {
        {TG_ERR_ARG, "slice: axis 2 is out of range for rank 2 (x is [3,4])"},
        {TG_ERR_ARG, "slice: range [1, 7) is outside axis 1 of length 4 (x is [3,4])"},
        {TG_ERR_ARG, "slice: range [2, 2) is empty on axis 0 of length 3 (x is [3,4])"},
        {TG_ERR_ARG, "slice: range [-5, 2) is outside axis 0 of length 3 (x is [3,4])"},
        {TG_ERR_ARG, "slice: takes attributes {axis, start, stop} (or {axis, start, stop, len} "
                     "to pad), got 2 (x is [3,4])"},
        {TG_ERR_SHAPE, "slice: range [0, 2) holds 2 elements but axis 0 of x has 3 (x is [3,4], "
                       "pad length 5)"},
        {TG_ERR_ARG, "max: axis -3 is out of range for rank 2 (x is [3,4])"},
        {TG_ERR_ARG, "max: axis 0 is out of range for rank 0 (x is [])"},
        {TG_ERR_ARG, "max: keepdims is 2, not 0 or 1 (x is [3,4])"},
        {TG_ERR_SHAPE, "softmax: needs rank 1 or more (it runs along the last axis), got rank 0 "
                       "(x is [])"},
        {TG_ERR_SHAPE, "log_softmax: needs rank 1 or more (it runs along the last axis), got "
                       "rank 0 (x is [])"},
        {TG_ERR_ARG, "softmax: takes attributes {axis} (or none, for the last axis), got 2 "
                     "(x is [3,4])"},
        {TG_ERR_SHAPE, "cross_entropy: logits must be [N,C] or [C], got rank 3 (logits are "
                       "[2,3,4])"},
        {TG_ERR_ARG, "cross_entropy: label 5 at row 2 is out of range [0, C) with C = 5 (logits "
                     "are [3,5])"},
        {TG_ERR_ARG, "cross_entropy: label -1 at row 0 is out of range [0, C) with C = 5 (logits "
                     "are [3,5])"},
        {TG_ERR_ARG, "cross_entropy: label 1.5 at row 1 is not an integer in [0, C) with C = 5 "
                     "(logits are [3,5])"},
        {TG_ERR_SHAPE, "cross_entropy: 4 labels for 3 rows of logits (logits are [3,5], labels "
                       "are [4])"},
        {TG_ERR_ARG, "cross_entropy: labels is NULL (logits are [3,5])"},
        {TG_ERR_SHAPE, "mse: shapes differ (x1 is [4,1], x2 is [4])"},
        {TG_ERR_SHAPE, "bce_with_logits: shapes differ (x1 is [3], x2 is [3,1])"},
        {TG_ERR_SHAPE, "add: shapes [3,4] and [5,4] do not broadcast"},
        {TG_ERR_SHAPE, "matmul: operands must be matrices or batches of them (a is [3,4], b is "
                       "[4])"},
        {TG_ERR_SHAPE, "matmul: inner dimensions differ (a is [3,4], b is [3,5])"},
        {TG_ERR_ARG, "sum: takes attributes {axis, keepdims}, got 1 (x is [3,4])"},
        {TG_ERR_ARG, "sum: axis 2 is out of range for rank 2 (x is [3,4])"},
        {TG_ERR_SHAPE, "transpose: needs rank 2 or more (it swaps the last two axes), got rank 1 "
                       "(x is [3])"},
        {TG_ERR_SHAPE, "reshape: dimension 0 of the new shape [-1,4] is less than 1 (x is [3,4])"},
        {TG_ERR_ARG, "softmax: axis 2 is out of range for rank 2 (x is [3,4])"},
        {TG_ERR_ARG, "log_softmax: axis -3 is out of range for rank 2 (x is [3,4])"},
        {TG_ERR_ARG, "softmax: axis 0 is out of range for rank 0 (x is [])"},
        {TG_ERR_ARG, "log_softmax: takes attributes {axis} (or none, for the last axis), got 2 "
                     "(x is [3,4])"},
        {TG_ERR_ARG, "logsumexp: axis 2 is out of range for rank 2 (x is [3,4])"},
        {TG_ERR_ARG, "logsumexp: axis -3 is out of range for rank 2 (x is [3,4])"},
        {TG_ERR_ARG, "logsumexp: axis -1 is out of range for rank 0 (x is [])"},
        {TG_ERR_ARG, "logsumexp: keepdims is 2, not 0 or 1 (x is [3,4])"},
        {TG_ERR_ARG, "logsumexp: takes attributes {axis, keepdims}, got 1 (x is [3,4])"},
        {TG_ERR_ARG, "tg_one_hot: labels[3] = 7 is not a class (0..4)"},
        {TG_ERR_ARG, "tg_one_hot: labels[0] = -1 is not a class (0..4)"},
        {TG_ERR_ARG, "tg_one_hot: n is 0 (must be at least 1)"},
        {TG_ERR_ARG, "tg_one_hot: classes is 0 (must be at least 1)"},
        {TG_ERR_ARG, "tg_one_hot: labels is NULL"},
        {TG_ERR_ARG, "one_hot: labels[1] = 1.5 is not a class (0..4)"},
        {TG_ERR_SHAPE, "one_hot: labels must be a vector [N], got rank 2 (labels are [3,4])"},
        {TG_ERR_SHAPE, "one_hot: labels must be a vector [N], got rank 0 (labels are [])"},
        {TG_ERR_ARG, "one_hot: takes attributes {classes}, got 0 (labels are [3])"},
        {TG_ERR_ARG, "one_hot: classes is 0 (must be at least 1; labels are [3])"},
        {TG_ERR_ARG, "tg_tensor_param: data is NULL"},
    };
    double zeros[15] = {0};
    int xd[2] = {3, 4}, zd[2] = {3, 5};
    tg_tape *t = tg_tape_new();
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        tg_tape_reset(t);
        tg_var x = tg_tensor_param(t, 2, xd, zeros), z = tg_tensor_param(t, 2, zd, zeros);
        tg_var s = tg_param(t, 1.0);
        size_t before = tg_tape_size(t);
        tg_var y = bad_build(k, t, x, z, s);
        const char *msg = tg_tape_error(t);
        cr_expect_eq(y.index, TG_NONE, "case %d: the builder returned a node, not an error handle",
                     k);
        cr_expect_eq(tg_tape_status(t), cases[k].status, "case %d: status %d (%s), expected %d", k,
                     tg_tape_status(t), tg_status_str(tg_tape_status(t)), cases[k].status);
        cr_expect_str_eq(msg ? msg : "(none)", cases[k].message, "case %d: message", k);
        /* sticky: later builders return an error handle, record nothing, keep the message */
        size_t after = tg_tape_size(t);
        tg_var later = tg_softmax(tg_add(x, x));
        cr_expect_eq(later.index, TG_NONE, "case %d: a later builder recorded a node", k);
        cr_expect_eq(tg_tape_size(t), after, "case %d: the tape grew after the error", k);
        cr_expect_str_eq(tg_tape_error(t) ? tg_tape_error(t) : "(none)", cases[k].message,
                         "case %d: the message changed after a later builder", k);
        cr_expect_geq(after, before, "case %d", k);
    }

    /* a stale logits handle is reported under cross_entropy's name */
    tg_tape_reset(t);
    tg_var old = tg_tensor_param(t, 2, zd, zeros);
    tg_tape_reset(t);
    static const int labels[3] = {0, 1, 2};
    cr_expect_eq(tg_cross_entropy(old, labels).index, TG_NONE);
    cr_expect_eq(tg_tape_status(t), TG_ERR_STALE);
    cr_expect_str_eq(tg_tape_error(t), "cross_entropy: operand 1 is stale (recorded before "
                     "tg_tape_reset)");

    /* a tensor where backward needs a scalar output */
    tg_tape_reset(t);
    tg_var x = tg_tensor_param(t, 2, xd, zeros), y = tg_softmax(x);
    char want[200];
    snprintf(want, sizeof want, "tg_backward: output #%u is a tensor of shape [3,4], not a "
             "scalar (reduce it with tg_sum or tg_mean, or seed it with tg_backward_seed)",
             y.index);
    cr_expect_eq(tg_backward(y), TG_ERR_SHAPE);
    cr_expect_str_eq(tg_tape_error(t) ? tg_tape_error(t) : "(none)", want);
    tg_tape_free(t);
}

/* where(x > 0, log(x), 0): the side not chosen passes nothing back, so the gradient at x = 0
 * is 0, not 0 * Inf = NaN (the trap PyTorch and JAX users keep falling into). */
Test(tensor_ops, where_masks_the_nan_of_the_side_not_chosen)
{
    tg_tape *t = tg_tape_new();
    int sh[1] = {3};
    double xd[3] = {0.0, 1.0, 2.0};
    tg_var x = tg_tensor_param(t, 1, sh, xd);
    tg_var y = tg_sum(tg_where(tg_step(x), tg_log(x), tg_tensor_fill(t, 1, sh, 0.0)));
    cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
    const double *g = tg_gradient_data(x);
    double want[3] = {0.0, 1.0, 0.5};
    for (int i = 0; i < 3; i++)
        cr_expect_eq(g[i], want[i], "where(x > 0, log x, 0): d/dx at x = %g is %g, want %g",
                     xd[i], g[i], want[i]);
    tg_var s = tg_param(t, 0.0); /* the same on a scalar */
    cr_assert_eq(tg_backward(tg_where(tg_step(s), tg_log(s), tg_const(t, 0.0))), TG_OK);
    cr_expect_eq(tg_gradient(s), 0.0, "scalar: d/dx at 0 is %g", tg_gradient(s));
    tg_tape_free(t);
}

/* A tie in max is a kink: the gradient check says so instead of calling the gradient wrong,
 * and replay reports a changed arg-max (the tape keeps max's choices, as it keeps kinks). */
Test(tensor_ops, max_tie_is_a_kink_and_a_changed_argmax_is_reported)
{
    tg_tape *t = tg_tape_new();
    int sh[1] = {2};
    double tie[2] = {-2.25, -2.25}, apart[2] = {1.0, 3.0}, swapped[2] = {3.0, 1.0};
    tg_var x = tg_tensor_param(t, 1, sh, tie);
    tg_var y = tg_max_axis(x, 0, 0);
    tg_label(y, "m");
    tg_check_result r;
    tg_check_report rep;
    cr_expect_eq(tg_check_grad(y, 1, &x, NULL, &r, &rep), 0, "%s", tg_tape_error(t) ? tg_tape_error(t) : "");
    cr_expect_eq(rep.kinks, 1, "a tie of max should be a non-differentiable point");
    tg_tensor_set(x, apart);
    tg_replay(t);
    tg_tensor_set(x, swapped);
    cr_expect_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_str_eq(tg_replay_note(t), "max 'm': element 0: choice changed (1 -> 0)",
                     "the arg-max moved from element 1 to 0");
    tg_tensor_set(x, swapped);
    cr_expect_eq(tg_replay(t), TG_OK);
    cr_expect_null(tg_replay_note(t), "the same point again: no change, yet %s",
                   tg_replay_note(t));
    tg_tape_free(t);
}

/* ---- borrowed leaves: tg_tensor_param_ref / tg_tensor_const_ref ---- */

/* L = sum(W * X): dL/dW = X. With W and X borrowed: no copy, the same answers as copied
 * leaves, new values reach a replay through the caller's arrays, tg_check_grad works and
 * leaves W as it was, and tg_tensor_set is refused with a message naming the leaf. */
Test(tensor_ops, borrowed_leaves_read_the_callers_arrays_in_place)
{
    double W[6] = {1, -2, 3, 0.5, -1.5, 2}, X[6] = {0.25, 4, -1, 2, 3, -0.5};
    const double W0[6] = {1, -2, 3, 0.5, -1.5, 2};
    int sh[2] = {2, 3};
    tg_tape *t = tg_tape_new();
    tg_var w = tg_tensor_param_ref(t, 2, sh, W), x = tg_tensor_const_ref(t, 2, sh, X);
    tg_label(w, "W");
    tg_var L = tg_sum(tg_mul(w, x));
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_data(w), W, "tg_data of a borrowed leaf is not the caller's array");
    cr_assert_eq(tg_backward(L), TG_OK);
    const double *g = tg_gradient_data(w);
    cr_assert_not_null(g);
    for (int e = 0; e < 6; e++)
        cr_expect_eq(g[e], X[e], "dL/dW[%d] = %g, want %g", e, g[e], X[e]);
    cr_expect_null(tg_gradient_data(x), "a borrowed constant got a gradient");

    /* new values: written into the arrays, then a replay */
    double want = 0.0;
    for (int e = 0; e < 6; e++) {
        W[e] += 0.5 * e;
        X[e] = -X[e];
        want += W[e] * X[e];
    }
    cr_assert_eq(tg_replay(t), TG_OK);
    cr_expect_eq(tg_value(L), want, "after replay L = %.17g, want %.17g", tg_value(L), want);
    cr_assert_eq(tg_backward(L), TG_OK);
    for (int e = 0; e < 6; e++) cr_expect_eq(tg_gradient_data(w)[e], X[e]);

    /* the gradient check perturbs W in place and restores it */
    double before[6];
    memcpy(before, W, sizeof W);
    tg_check_report rep;
    cr_expect_eq(tg_check_grad(L, 1, &w, NULL, NULL, &rep), 0, "%d failed", rep.failed);
    cr_expect_arr_eq(W, before, sizeof W, "tg_check_grad left W changed");

    /* tg_tensor_set is refused: the values live in the caller's array */
    tg_tensor_set(w, W0);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_set: leaf 'W' borrows the caller's array (made "
                    "by tg_tensor_param_ref): write new values into that array instead");
    cr_expect_arr_eq(W, before, sizeof W, "a refused tg_tensor_set changed W");
    tg_tape_free(t);
}

Test(tensor_ops, borrowed_leaves_check_their_arguments_like_copied_ones)
{
    int sh[2] = {2, 3}, bad[2] = {2, 0};
    double W[6] = {0};
    tg_tape *t = tg_tape_new();
    tg_tensor_param_ref(t, 2, sh, NULL);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_param_ref: data is NULL");
    tg_tape_reset(t);
    tg_tensor_const_ref(t, 2, sh, NULL); /* unlike tg_tensor_const's NULL: no fill here */
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_const_ref: data is NULL");
    tg_tape_reset(t);
    tg_tensor_const_ref(t, 0, sh, W);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_const_ref: rank 0 is outside 1..4");
    tg_tape_reset(t);
    int one = 1;
    tg_var k = tg_tensor_const_ref(t, 1, &one, W);
    tg_label(k, "k");
    tg_set(k, 5.0); /* would write into the caller's array */
    th_expect_error(t, TG_ERR_ARG, "tg_set: leaf 'k' borrows the caller's array (made by "
                    "tg_tensor_const_ref): write new values into that array instead");
    cr_expect_eq(W[0], 0.0, "tg_set wrote %g into the caller's array", W[0]);
    tg_tape_reset(t);
    tg_tensor_const_ref(t, 2, bad, W);
    th_expect_error(t, TG_ERR_SHAPE,
                    "tg_tensor_const_ref: dimension 1 is 0 (must be at least 1)");
    tg_tape_reset(t);
    tg_tensor_const_ref(t, 5, sh, W);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_const_ref: rank 5 is outside 1..4");
    tg_tape_free(t);
}

/* tg_cross_entropy_var: the labels as a node. The same loss and gradient as the int form;
 * a replay after tg_tensor_set of the labels (and the logits) equals a fresh recording; a bad
 * label is refused at recording with the op's message. */
Test(tensor_ops, cross_entropy_with_labels_as_a_node_replays_new_labels)
{
    static const double z0[6] = {0.5, -1.0, 2.0, 0.0, 3.0, -2.0}, z1[6] = {1, 2, 3, -1, 0, 4};
    static const int y0[2] = {2, 1}, y1[2] = {0, 2};
    const double l0[2] = {2, 1}, l1[2] = {0, 2}, bad[2] = {3, 0};
    int sh[2] = {2, 3}, two = 2;
    tg_tape *t = tg_tape_new(), *u = tg_tape_new();
    tg_var Z = tg_tensor_param(t, 2, sh, z0), Y = tg_tensor_const(t, 1, &two, l0);
    tg_var L = tg_cross_entropy_var(Z, Y);
    cr_assert_eq(tg_backward(L), TG_OK, "%s", tg_tape_error(t));
    for (int pass = 0; pass < 2; pass++) {
        tg_tape_reset(u);
        tg_var Zu = tg_tensor_param(u, 2, sh, pass ? z1 : z0);
        tg_var Lu = tg_cross_entropy(Zu, pass ? y1 : y0);
        cr_assert_eq(tg_backward(Lu), TG_OK);
        cr_expect_eq(tg_value(L), tg_value(Lu), "pass %d: loss %.17g, int labels %.17g", pass,
                     tg_value(L), tg_value(Lu));
        for (int e = 0; e < 6; e++)
            cr_expect_eq(tg_gradient_data(Z)[e], tg_gradient_data(Zu)[e], "pass %d, dL/dz[%d]",
                         pass, e);
        if (pass) break;
        tg_tensor_set(Z, z1);
        tg_tensor_set(Y, l1);
        cr_assert_eq(tg_replay(t), TG_OK);
        cr_assert_eq(tg_backward(L), TG_OK);
    }
    /* a label made invalid before a replay: the loss and that row's whole gradient are NaN,
     * the other row's stay finite */
    tg_tensor_set(Y, bad);
    cr_assert_eq(tg_replay(t), TG_OK);
    cr_assert_eq(tg_backward(L), TG_OK);
    cr_expect(isnan(tg_value(L)), "loss %g with label 3 of 3 classes", tg_value(L));
    for (int e = 0; e < 6; e++)
        cr_expect(e < 3 ? isnan(tg_gradient_data(Z)[e]) : isfinite(tg_gradient_data(Z)[e]),
                  "dL/dz[%d] = %g", e, tg_gradient_data(Z)[e]);
    tg_tape_reset(t);
    tg_cross_entropy_var(tg_tensor_param(t, 2, sh, z0), tg_tensor_const(t, 1, &two, bad));
    th_expect_error(t, TG_ERR_ARG, "cross_entropy: label 3 at row 0 is out of range [0, C) "
                    "with C = 3 (logits are [2,3])");
    tg_tape_free(u);
    tg_tape_free(t);
}
