/* sweep.c - the numeric sweeps over the tape: reverse (adjoints), forward (tangents) and
 * replay (values and partials at new leaf values). One loop each; ops are reached only
 * through their descriptors. See LICENSE. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* ---- reverse sweep ---- */

/* Anomaly mode's report for the reverse sweep: node i's partial j turned a finite adjoint
 * into NaN or Inf. */
static int backward_anomaly(tg_tape *t, uint32_t i, int j, double p)
{
    char nm[64];
    t->adj_n = 0;
    return tg_fail(t, TG_ERR_DOMAIN, "%s: backward: dy/dx%d is %g at node %s",
                   t->nodes[i].op->name, j + 1, p, tg_node_name(t, i, nm, sizeof nm));
}

/* A binary node's two partials, in whichever of the three forms its op keeps them, picked
 * without a branch; a unary node's one. (tg_node_partials_get is the general form.) */
static inline void binary_partials(const tg_node *nodes, const double *part, const tg_node *nd,
                                   uint32_t i, uint32_t ia, uint32_t ib, double *p0, double *p1)
{
    const tg_op_def *op = nd->op;
    const int swap = op->partials == TG_PARTIALS_SWAP;
    const double *q = op->partials == TG_PARTIALS_KEPT ? &part[2 * (size_t)i] : op->dconst;
    const double va = nodes[ia].v, vb = nodes[ib].v;
    *p0 = swap ? vb : q[0];
    *p1 = swap ? va : q[1];
}

static inline double unary_partial(const double *part, const tg_node *nd, uint32_t i)
{
    return nd->op->partials == TG_PARTIALS_KEPT ? part[2 * (size_t)i] : nd->op->dconst[0];
}

/* The reverse loop over nodes n-1 .. 0, adjoints seeded. check (anomaly mode) is a
 * constant in each of the two copies the compiler makes, so the common one tests nothing.
 * Node i is the last node to contribute to node i-1 (every consumer of i-1 comes after it),
 * and most nodes consume the node just before them, so that share is carried to the next
 * iteration in a register rather than stored and loaded back at once. Inputs' adjoints are
 * added to whether or not the input is active: an inactive node's adjoint is never read
 * (tg_gradient answers 0 for it) and never passed on. */
static TG_ALWAYS_INLINE int reverse(tg_tape *t, uint32_t n, const int check)
{
    const tg_node *nodes = t->nodes;
    const double *part = t->part;
    double *adj = t->adj;
    double carry = 0.0;
    for (uint32_t i = n; i-- > 0;) {
        const tg_node *nd = &nodes[i];
        const double gy = adj[i] + carry;
        const uint32_t a = nd->in[0], b = nd->in[1], prev = i - 1;
        const unsigned kind = b >> TG_KIND_SHIFT;
        carry = 0.0;
        adj[i] = gy;
        /* a zero adjoint passes nothing back, so 0 * Inf never reaches an input */
        if (!(a & TG_ACTIVE)) continue;
        if (gy == 0.0) continue;
        const uint32_t ia = a & TG_INDEX, ib = b & TG_IN1;
        if (kind == TG_BINARY) {
            double p0, p1;
            binary_partials(nodes, part, nd, i, ia, ib, &p0, &p1);
            if (!check || (isfinite(gy * p0) && isfinite(gy * p1))) {
                if (ib == prev) carry += gy * p1;
                else adj[ib] += gy * p1;
                if (ia == prev) carry += gy * p0;
                else adj[ia] += gy * p0;
                continue;
            }
        } else if (kind == TG_UNARY) {
            const double p0 = unary_partial(part, nd, i);
            if (!check || isfinite(gy * p0)) {
                if (ia == prev) carry += gy * p0;
                else adj[ia] += gy * p0;
                continue;
            }
        } else if (kind == TG_LEAF) {
            continue;
        } else if (a & TG_TENSOR) {
            tg_tensor_vjp(t, i);
            continue;
        }
        /* more operands, or a non-finite contribution in anomaly mode */
        uint32_t idx[TG_MAX_ARITY];
        double p[TG_MAX_ARITY];
        int k = tg_node_inputs(t, nd, idx);
        tg_node_partials_get(t, nd, i, p);
        for (int j = 0; j < k; j++) {
            double g = gy * p[j];
            if (check && !isfinite(g) && isfinite(gy) && (nodes[idx[j]].in[0] & TG_ACTIVE))
                return backward_anomaly(t, i, j, p[j]);
            if (idx[j] == prev) carry += g;
            else adj[idx[j]] += g;
        }
    }
    return TG_OK;
}

/* The reverse sweep from out, seeded with 1 (a one-element out) or with seed[] (out's
 * shape). */
static int backward(tg_var out, const double *seed, const char *who)
{
    tg_tape *t = out.tape;
    if (!t || !tg_live(t, out)) {
        tg_resolve(out, who);
        return t ? (int)t->status : TG_ERR_ARG;
    }
    if (t->status) return t->status;
    const uint32_t n = out.index + 1;
    if (n > t->adj_cap && tg_grow(t, (void **)&t->adj, &t->adj_cap, n, sizeof *t->adj))
        return t->status;
    const tg_node *nodes = t->nodes;
    double *adj = t->adj;
    memset(adj, 0, (size_t)n * sizeof *adj);
    if (tg_node_is_tensor(&nodes[out.index])) {
        tg_view w = tg_node_view(t, out.index);
        if (!seed && w.n != 1) {
            char nm[64], sh[48];
            return tg_fail(t, TG_ERR_SHAPE, "%s: output %s is a tensor of shape %s, not a "
                           "scalar (reduce it with tg_sum or tg_mean, or seed it with "
                           "tg_backward_seed)", who, tg_node_name(t, out.index, nm, sizeof nm),
                           tg_view_shape(&w, sh, sizeof sh));
        }
        if (tg_tensor_grad_ready(t)) return t->status;
        double *g = t->grad + tg_node_tensor(t, &nodes[out.index])->off;
        for (size_t e = 0; e < w.n; e++) g[e] = seed ? seed[e] : 1.0;
        adj[out.index] = 1.0; /* a tensor's slot says "reached" */
    } else {
        if (t->ntens && tg_tensor_grad_ready(t)) return t->status;
        adj[out.index] = seed ? seed[0] : 1.0;
    }
    t->adj_n = n;
    return t->check_nan ? reverse(t, n, 1) : reverse(t, n, 0);
}

int tg_backward(tg_var out) { return backward(out, NULL, "tg_backward"); }

int tg_backward_seed(tg_var out, const double *seed)
{
    if (!seed) {
        if (out.tape) tg_fail(out.tape, TG_ERR_ARG, "tg_backward_seed: seed is NULL");
        return out.tape ? (int)out.tape->status : TG_ERR_ARG;
    }
    return backward(out, seed, "tg_backward_seed");
}

double tg_gradient(tg_var v)
{
    tg_tape *t = v.tape;
    if (t && tg_live(t, v) && v.index < t->adj_n && !tg_node_is_tensor(&t->nodes[v.index]))
        return t->nodes[v.index].in[0] & TG_ACTIVE ? t->adj[v.index] : 0.0;
    const tg_node *nd = tg_resolve(v, "tg_gradient");
    if (!nd || !tg_node_is_tensor(nd)) return 0.0;
    if (tg_node_numel(t, v.index) != 1) {
        char nm[64], sh[48];
        tg_view w = tg_node_view(t, v.index);
        tg_fail(t, TG_ERR_SHAPE, "tg_gradient: node %s is a tensor of shape %s, not a scalar "
                "(use tg_gradient_data)", tg_node_name(t, v.index, nm, sizeof nm),
                tg_view_shape(&w, sh, sizeof sh));
        return 0.0;
    }
    const double *g = tg_gradient_data(v);
    return g ? *g : 0.0;
}

/* ---- forward sweep ---- */

int tg_jvp(tg_tape *t, int n, const tg_var *leaves, const double *dx)
{
    if (!t) return TG_ERR_ARG;
    if (t->status) return t->status;
    if (n < 0 || (n > 0 && (!leaves || !dx)))
        return tg_fail(t, TG_ERR_ARG, "tg_jvp: %d seeds with leaves %s and dx %s", n,
                       leaves ? "given" : "NULL", dx ? "given" : "NULL");
    if (tg_grow(t, (void **)&t->tan, &t->tan_cap, t->n, sizeof *t->tan)) return t->status;
    if (t->ntens && tg_tensor_tan_ready(t)) return t->status;
    double *tan = t->tan;
    memset(tan, 0, (size_t)t->n * sizeof *tan);
    for (int k = 0; k < n; k++) {
        const tg_node *nd = tg_resolve_on(t, leaves[k], "tg_jvp", "a seed");
        if (!nd) return t->status;
        if (nd->op != &tg_leaf_param)
            return tg_fail(t, TG_ERR_ARG, "tg_jvp: seed %d is not a parameter of this tape",
                           k + 1);
        tg_view w = tg_node_view(t, leaves[k].index);
        if (tg_node_is_tensor(nd)) { /* a tensor takes numel values of dx */
            double *d = tg_tensor_slot(t, leaves[k].index, t->tdat, tan, NULL);
            for (size_t e = 0; e < w.n; e++) d[e] += dx[e];
        } else {
            tan[leaves[k].index] += dx[0];
        }
        dx += w.n;
    }
    /* as in reverse, a zero factor makes a zero term: a fixed input, or one whose partial is
     * 0 (a relu that is off), adds nothing, even times Inf */
    const tg_node *nodes = t->nodes;
    const double *part = t->part;
    for (uint32_t i = 0; i < t->n; i++) {
        const tg_node *nd = &nodes[i];
        const uint32_t a = nd->in[0], b = nd->in[1], kind = b >> TG_KIND_SHIFT;
        if (kind == TG_LEAF || !(a & TG_ACTIVE)) continue;
        const uint32_t ia = a & TG_INDEX, ib = b & TG_IN1;
        double dy = 0.0;
        if (kind == TG_BINARY) {
            double p0, p1;
            binary_partials(nodes, part, nd, i, ia, ib, &p0, &p1);
            if (tan[ia] != 0.0 && p0 != 0.0) dy += p0 * tan[ia];
            if (tan[ib] != 0.0 && p1 != 0.0) dy += p1 * tan[ib];
        } else if (kind == TG_UNARY) {
            const double p0 = unary_partial(part, nd, i);
            if (tan[ia] != 0.0 && p0 != 0.0) dy = p0 * tan[ia];
        } else if (a & TG_TENSOR) {
            int st = tg_tensor_jvp(t, i);
            if (st) return st;
            continue;
        } else {
            uint32_t idx[TG_MAX_ARITY];
            double p[TG_MAX_ARITY];
            int k = tg_node_inputs(t, nd, idx);
            tg_node_partials_get(t, nd, i, p);
            for (int j = 0; j < k; j++)
                if (tan[idx[j]] != 0.0 && p[j] != 0.0) dy += p[j] * tan[idx[j]];
        }
        tan[i] = dy;
    }
    t->tan_n = t->n;
    return TG_OK;
}

double tg_tangent(tg_var v)
{
    const tg_node *nd = tg_resolve(v, "tg_tangent");
    if (!nd || v.index >= v.tape->tan_n) return 0.0;
    if (!tg_node_is_tensor(nd)) return v.tape->tan[v.index];
    const double *d = tg_node_numel(v.tape, v.index) == 1 ? tg_tangent_data(v) : NULL;
    return d ? *d : 0.0;
}

/* ---- replay ---- */

static int sign(double s) { return (s > 0) - (s < 0); }

/* A kinked node changed branch: keep the first such note for tg_replay_note. */
static void note_flip(tg_tape *t, uint32_t i, double was, double now)
{
    char nm[64];
    snprintf(t->note, sizeof t->note, "%s %s: branch changed (input %.6g -> %.6g)",
             t->nodes[i].op->name, tg_node_name(t, i, nm, sizeof nm), was, now);
}

/* The replay loop; check (anomaly mode) is a constant in each of its two copies. */
static TG_ALWAYS_INLINE int replay(tg_tape *t, const int check)
{
    tg_node *nodes = t->nodes;
    const uint32_t nn = t->n;
    uint32_t k = 0, next_kink = t->nkinks ? t->kinks[0].node : UINT32_MAX;
    double prev = 0.0; /* node i-1's value, kept in a register: most nodes consume it */
    for (uint32_t i = 0; i < nn; i++) {
        tg_node *nd = &nodes[i];
        const uint32_t a = nd->in[0], b = nd->in[1], kind = b >> TG_KIND_SHIFT;
        if (kind == TG_LEAF) {
            prev = nd->v;
            continue;
        }
        if (a & TG_TENSOR) { /* before reading inputs: its in[0] is an offset into ext */
            tg_tensor_forward(t, i);
            if (t->status) return t->status;
            continue;
        }
        uint32_t idx[TG_MAX_ARITY];
        double x[TG_MAX_ARITY];
        int n;
        if (kind == TG_NARY) { /* in[0] is an offset into ext, not a node */
            n = tg_node_inputs(t, nd, idx);
            for (int j = 0; j < n; j++) x[j] = nodes[idx[j]].v;
        } else {
            n = kind == TG_BINARY ? 2 : 1;
            idx[0] = a & TG_INDEX;
            x[0] = idx[0] == i - 1 ? prev : nodes[idx[0]].v;
            if (n == 2) {
                idx[1] = b & TG_IN1;
                x[1] = idx[1] == i - 1 ? prev : nodes[idx[1]].v;
            }
        }
        prev = nd->v = nd->op->eval(x, a & TG_ACTIVE ? tg_node_partials(t, nd, i) : NULL);
        if (check && !isfinite(prev)) {
            tg_report_nonfinite(t, nd->op, n, x, prev, i);
            if (t->status) return t->status;
        }
        if (i == next_kink) {
            double s = nd->op->branch(x);
            if (sign(s) != sign(t->kinks[k].s) && !t->note[0]) note_flip(t, i, t->kinks[k].s, s);
            t->kinks[k].s = s;
            next_kink = ++k < t->nkinks ? t->kinks[k].node : UINT32_MAX;
        }
    }
    return t->note[0] ? TG_FLIP : TG_OK;
}

int tg_replay(tg_tape *t)
{
    if (!t) return TG_ERR_ARG;
    if (t->status) return t->status;
    t->note[0] = '\0';
    t->adj_n = t->tan_n = 0; /* the last sweeps' results belong to the old point */
    return t->check_nan ? replay(t, 1) : replay(t, 0);
}

const char *tg_replay_note(const tg_tape *t)
{
    return t && t->note[0] ? t->note : NULL;
}
