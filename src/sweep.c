/* sweep.c - the numeric sweeps over the tape: reverse (adjoints), forward (tangents) and
 * replay (values and partials at new leaf values). One loop each, with the tensor nodes'
 * path beside it; ops are reached only through their descriptors. See LICENSE. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* ---- tensor nodes: the sweeps' general path ---- */

/* The kernel context of tensor node i: operands, output, attributes. */
int tg_node_ctx(const tg_tape *t, uint32_t i, tg_op_ctx *c, uint32_t *idx)
{
    const tg_node *nd = &t->nodes[i];
    const tg_tensor *tt = tg_node_tensor(t, nd);
    memset(c, 0, sizeof *c);
    c->n = tg_node_inputs(t, nd, idx);
    for (int j = 0; j < c->n; j++) c->in[j] = tg_node_view(t, idx[j]);
    c->out = tg_tensor_view(t, tt);
    c->attr = tt->attr;
    c->nattr = tt->nattr;
    return c->n;
}

/* The arenas are not cleared here: a region is zeroed when something first flows into it
 * (slot), so a sweep touches only the gradients it computes. */
static int grad_ready(tg_tape *t)
{
    return t->data_n > t->grad_cap &&
                   tg_grow_big(t, (void **)&t->grad, &t->grad_cap, t->data_n, sizeof *t->grad)
               ? -1
               : 0;
}

static int tan_ready(tg_tape *t)
{
    return t->data_n > t->tdat_cap &&
                   tg_grow_big(t, (void **)&t->tdat, &t->tdat_cap, t->data_n, sizeof *t->tdat)
               ? -1
               : 0;
}

/* Where node j's gradient (base t->grad, flags t->adj) or tangent (t->tdat, t->tan) goes: a
 * scalar's own slot in flags, or a tensor's region of base, zeroed the first time it is
 * reached in a sweep (its flag then set) -- unless fresh is given: then the region is left
 * as it is and *fresh set to 1, for a caller that writes every element before reading. */
static double *slot(tg_tape *t, uint32_t j, double *base, double *flags, int *fresh)
{
    const tg_node *nd = &t->nodes[j];
    if (!tg_node_is_tensor(nd)) return &flags[j];
    const tg_tensor *tt = tg_node_tensor(t, nd);
    if (flags[j] == 0.0) { /* first reached in this sweep: clear it, or let it be written */
        if (fresh) *fresh = 1;
        else memset(base + tt->off, 0, tt->n * sizeof *base);
        flags[j] = 1.0;
    }
    return base + tt->off;
}

/* An active elementwise node's kept partials, or NULL when its op's are not kept. */
static double *ew_kept(const tg_tape *t, uint32_t i)
{
    const size_t poff = tg_node_tensor(t, &t->nodes[i])->poff;
    return poff == TG_NONE_OFF ? NULL : t->tpart + poff;
}

/* Replay of tensor node i: its values (and kept partials) again, its kinks compared (k: its
 * kink entry, or NULL). */
static void tensor_forward(tg_tape *t, uint32_t i, const tg_kink *k)
{
    tg_op_ctx c;
    uint32_t idx[TG_MAX_ARITY];
    tg_node_ctx(t, i, &c, idx);
    const tg_op_def *op = t->nodes[i].op;
    if (op->infer)
        op->forward(&c);
    else
        tg_ew_forward(op, &c, ew_kept(t, i));
    if (k) {
        const double *now = tg_kinks_now(t, op, &c);
        if (!now) return;
        tg_kinks_keep(t, k, now, c.out.n, 1);
    }
    if (t->check_nan) tg_report_tensor(t, op, &c, i);
}

static void tensor_vjp(tg_tape *t, uint32_t i)
{
    tg_op_ctx c;
    uint32_t idx[TG_MAX_ARITY];
    int n = tg_node_ctx(t, i, &c, idx);
    const tg_op_def *op = t->nodes[i].op;
    c.gy = t->grad + tg_node_tensor(t, &t->nodes[i])->off;
    int fresh[TG_MAX_ARITY] = {0};
    for (int j = 0; j < n; j++) {
        const tg_node *in = &t->nodes[idx[j]];
        if (!(in->in[0] & TG_ACTIVE)) continue;
        /* an elementwise vjp writes each element of a tensor operand of the output's size
         * once, so if it reaches that operand first the region need not be zeroed */
        int whole = !op->infer && tg_node_is_tensor(in) && tg_node_tensor(t, in)->n == c.out.n;
        c.gin[j] = slot(t, idx[j], t->grad, t->adj, whole ? &fresh[j] : NULL);
    }
    if (op->infer)
        op->vjp(&c);
    else /* an active elementwise node: its partials kept, or had from its operands */
        tg_ew_vjp(op, &c, ew_kept(t, i), fresh);
}

static tg_status tensor_jvp(tg_tape *t, uint32_t i)
{
    tg_op_ctx c;
    uint32_t idx[TG_MAX_ARITY];
    int n = tg_node_ctx(t, i, &c, idx), moving = 0;
    const tg_op_def *op = t->nodes[i].op;
    for (int j = 0; j < n; j++) {
        if (t->tan[idx[j]] == 0.0) continue; /* a scalar at rest, or a tensor not reached */
        c.din[j] = tg_node_is_tensor(&t->nodes[idx[j]])
                       ? t->tdat + tg_node_tensor(t, &t->nodes[idx[j]])->off
                       : &t->tan[idx[j]];
        moving = 1;
    }
    if (!moving) return TG_OK;
    if (op->infer && !op->jvp)
        return tg_fail(t, TG_ERR_UNSUPPORTED, "%s: no jvp kernel (forward mode is unsupported "
                       "for this op)", op->name);
    c.dy = slot(t, i, t->tdat, t->tan, NULL);
    if (op->infer)
        op->jvp(&c);
    else
        tg_ew_jvp(op, &c, ew_kept(t, i));
    return TG_OK;
}

/* For compiled code (compile.c), which runs a tensor node the way the sweeps do. */
void tg_tensor_node_forward(tg_tape *t, uint32_t i) { tensor_forward(t, i, NULL); }

void tg_tensor_node_vjp(tg_tape *t, uint32_t i)
{
    if (t->adj[i] != 0.0) tensor_vjp(t, i); /* reached: an active node's flag */
}

void tg_kink_recheck(tg_tape *t, const tg_kink *k)
{
    const tg_node *nd = &t->nodes[k->node];
    uint32_t idx[TG_MAX_ARITY];
    if (tg_node_is_tensor(nd)) {
        tg_op_ctx c;
        tg_node_ctx(t, k->node, &c, idx);
        const double *now = tg_kinks_now(t, nd->op, &c);
        if (now) tg_kinks_keep(t, k, now, c.out.n, 1);
        return;
    }
    double x[TG_MAX_ARITY];
    int m = tg_node_inputs(t, nd, idx);
    for (int j = 0; j < m; j++) x[j] = t->nodes[idx[j]].v;
    const double s = nd->op->branch(x);
    tg_kinks_keep(t, k, &s, 1, 1);
}

/* ---- reverse sweep ---- */

/* Anomaly mode's report for the reverse sweep: node i's partial j turned a finite adjoint
 * into NaN or Inf. */
static tg_status backward_anomaly(tg_tape *t, uint32_t i, int j, double p)
{
    char nm[64];
    t->adj_n = 0;
    return tg_fail(t, TG_ERR_DOMAIN, "%s: backward: dy/dx%d is %g at node %s",
                   t->nodes[i].op->name, j + 1, p, tg_node_name(t, i, nm, sizeof nm));
}

/* Pass g back to node j: into its adjoint, or into carry when it is node i-1 (prev). */
static inline void pass_back(double *adj, double *carry, uint32_t j, uint32_t prev, double g)
{
    if (j == prev)
        *carry += g;
    else
        adj[j] += g;
}

/* The reverse loop over nodes n-1 .. 0, adjoints seeded. check (anomaly mode) is a
 * constant in each of the two copies the compiler makes, so the common one tests nothing.
 * Node i is the last node to contribute to node i-1 (every consumer of i-1 comes after it),
 * and most nodes consume the node just before them, so that share is carried to the next
 * iteration in a register rather than stored and loaded back at once. Inputs' adjoints are
 * added to whether or not the input is active: an inactive node's adjoint is never read
 * (tg_gradient answers 0 for it) and never passed on. */
TG_ALWAYS_INLINE tg_status reverse(tg_tape *t, uint32_t n, const int check)
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
        if (kind == TG_BINARY) {
            const uint32_t in[2] = {a & TG_INDEX, b & TG_INDEX};
            const double *kept = &part[2 * (size_t)i];
            const double p0 = tg_node_partial(nodes, nd->op, kept, 0, in);
            const double p1 = tg_node_partial(nodes, nd->op, kept, 1, in);
            if (!check || (isfinite(gy * p0) && isfinite(gy * p1))) {
                pass_back(adj, &carry, in[1], prev, gy * p1);
                pass_back(adj, &carry, in[0], prev, gy * p0);
                continue;
            }
        } else if (kind == TG_UNARY) {
            const uint32_t in[2] = {a & TG_INDEX, 0};
            const double p0 = tg_node_partial(nodes, nd->op, &part[2 * (size_t)i], 0, in);
            if (!check || isfinite(gy * p0)) {
                pass_back(adj, &carry, in[0], prev, gy * p0);
                continue;
            }
        } else if (kind == TG_LEAF) {
            continue;
        } else if (a & TG_TENSOR) {
            tensor_vjp(t, i);
            continue;
        }
        /* more operands, or a non-finite contribution in anomaly mode */
        uint32_t idx[TG_MAX_ARITY];
        int k = tg_node_inputs(t, nd, idx);
        const double *kept_n = tg_node_kept(t, nd, i);
        for (int j = 0; j < k; j++) {
            const double p = tg_node_partial(nodes, nd->op, kept_n, j, idx), g = gy * p;
            if (check && !isfinite(g) && isfinite(gy) && (nodes[idx[j]].in[0] & TG_ACTIVE))
                return backward_anomaly(t, i, j, p);
            pass_back(adj, &carry, idx[j], prev, g);
        }
    }
    return TG_OK;
}

/* The reverse sweep's start: adjoints 0 up to out (tensor regions marked unreached), out's
 * seeded with 1 (a one-element out) or with seed[] (out's shape). */
tg_status tg_begin_reverse(tg_tape *t, tg_var out, const double *seed, const char *who)
{
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
                           "scalar (reduce it with tg_sum or tg_mean, or seed it with %s_seed)",
                           who, tg_node_name(t, out.index, nm, sizeof nm),
                           tg_view_shape(&w, sh, sizeof sh), who);
        }
        if (grad_ready(t)) return t->status;
        double *g = t->grad + tg_node_tensor(t, &nodes[out.index])->off;
        for (size_t e = 0; e < w.n; e++) g[e] = seed ? seed[e] : 1.0;
        adj[out.index] = 1.0; /* a tensor's slot says "reached" */
    } else {
        if (t->ntens && grad_ready(t)) return t->status;
        adj[out.index] = seed ? seed[0] : 1.0;
    }
    t->adj_n = n;
    return TG_OK;
}

/* The reverse sweep from out (see tg_begin_reverse). */
static tg_status backward(tg_var out, const double *seed, const char *who)
{
    tg_tape *t = out.tape;
    if (!t || !tg_live(t, out)) {
        tg_resolve(out, who);
        return t ? t->status : TG_ERR_ARG;
    }
    if (t->status) return t->status;
    if (tg_begin_reverse(t, out, seed, who)) return t->status;
    const uint32_t n = out.index + 1;
    return t->check_nan ? reverse(t, n, 1) : reverse(t, n, 0);
}

tg_status tg_backward(tg_var out) { return backward(out, NULL, "tg_backward"); }

tg_status tg_backward_seed(tg_var out, const double *seed)
{
    if (!seed) {
        if (out.tape) tg_fail(out.tape, TG_ERR_ARG, "tg_backward_seed: seed is NULL");
        return out.tape ? out.tape->status : TG_ERR_ARG;
    }
    return backward(out, seed, "tg_backward_seed");
}

double tg_gradient(tg_var v)
{
    tg_tape *t = v.tape;
    if (t && tg_live(t, v) && v.index < t->adj_n && !tg_node_is_tensor(&t->nodes[v.index]))
        return t->nodes[v.index].in[0] & TG_ACTIVE ? t->adj[v.index] : 0.0;
    const tg_node *nd = tg_resolve(v, "tg_gradient"); /* a handle that is no live node */
    /* a tensor of several elements is read (0), not an error: reading breaks no tape */
    if (!nd || !tg_node_is_tensor(nd) || tg_node_numel(t, v.index) != 1) return 0.0;
    const double *g = tg_gradient_data(v);
    return g ? *g : 0.0;
}

/* Whether the last sweep reached node i: an active node recorded before it, and for a
 * tensor its flag slot set (a scalar's slot is its value, which may well be 0). */
static int reached(const tg_node *nd, uint32_t i, uint32_t n, const double *flag)
{
    return (nd->in[0] & TG_ACTIVE) && i < n && (!tg_node_is_tensor(nd) || flag[i] != 0.0);
}

const double *tg_gradient_data(tg_var v)
{
    const tg_node *nd = tg_resolve(v, "tg_gradient_data");
    tg_tape *t = v.tape;
    if (!nd || !reached(nd, v.index, t->adj_n, t->adj)) return NULL;
    return tg_node_is_tensor(nd) ? t->grad + tg_node_tensor(t, nd)->off : &t->adj[v.index];
}

const double *tg_tangent_data(tg_var v)
{
    const tg_node *nd = tg_resolve(v, "tg_tangent_data");
    tg_tape *t = v.tape;
    if (!nd || !reached(nd, v.index, t->tan_n, t->tan)) return NULL;
    return tg_node_is_tensor(nd) ? t->tdat + tg_node_tensor(t, nd)->off : &t->tan[v.index];
}

/* ---- forward sweep ---- */

/* Add the term p * dx of a tangent (as in reverse, a zero factor makes no term: a fixed
 * input, or one whose partial is 0, a relu that is off, adds nothing, even times Inf). */
static inline void tangent_term(double *dy, double p, double dx)
{
    const double v = p * dx;
    if (tg_passes(v, p, dx)) *dy += v;
}

tg_status tg_jvp(tg_tape *t, int n, const tg_var *leaves, const double *dx)
{
    if (!t) return TG_ERR_ARG;
    if (t->status) return t->status;
    if (n < 0 || (n > 0 && (!leaves || !dx)))
        return tg_fail(t, TG_ERR_ARG, "tg_jvp: %d seeds with leaves %s and dx %s", n,
                       leaves ? "given" : "NULL", dx ? "given" : "NULL");
    if (tg_grow(t, (void **)&t->tan, &t->tan_cap, t->n, sizeof *t->tan)) return t->status;
    if (t->ntens && tan_ready(t)) return t->status;
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
            double *d = slot(t, leaves[k].index, t->tdat, tan, NULL);
            for (size_t e = 0; e < w.n; e++) d[e] += dx[e];
        } else {
            tan[leaves[k].index] += dx[0];
        }
        dx += w.n;
    }
    const tg_node *nodes = t->nodes;
    const double *part = t->part;
    for (uint32_t i = 0; i < t->n; i++) {
        const tg_node *nd = &nodes[i];
        const uint32_t a = nd->in[0], b = nd->in[1], kind = b >> TG_KIND_SHIFT;
        if (kind == TG_LEAF || !(a & TG_ACTIVE)) continue;
        const uint32_t in[2] = {a & TG_INDEX, b & TG_INDEX};
        const double *kept = &part[2 * (size_t)i]; /* for arity <= 2 */
        double dy = 0.0;
        if (kind == TG_BINARY) {
            tangent_term(&dy, tg_node_partial(nodes, nd->op, kept, 0, in), tan[in[0]]);
            tangent_term(&dy, tg_node_partial(nodes, nd->op, kept, 1, in), tan[in[1]]);
        } else if (kind == TG_UNARY) {
            tangent_term(&dy, tg_node_partial(nodes, nd->op, kept, 0, in), tan[in[0]]);
        } else if (a & TG_TENSOR) {
            tg_status st = tensor_jvp(t, i);
            if (st) return st;
            continue;
        } else {
            uint32_t idx[TG_MAX_ARITY];
            int k = tg_node_inputs(t, nd, idx);
            const double *kept_n = tg_node_kept(t, nd, i);
            for (int j = 0; j < k; j++)
                tangent_term(&dy, tg_node_partial(nodes, nd->op, kept_n, j, idx), tan[idx[j]]);
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

/* Replay node i (of nodes, the tape's array): its value (and kept partials) from its inputs'
 * values. prev is node i-1's
 * value, kept in a register by the caller (most nodes consume it); kink is the node's kink
 * entry, or NULL (a constant in the loop that walks the nodes between kinked ones, so that
 * loop carries no kink test). Returns TG_OK or the error status. */
TG_ALWAYS_INLINE tg_status replay_node(tg_tape *t, tg_node *nodes, uint32_t i, double *prev,
                                      const int check, const tg_kink *kink)
{
    tg_node *nd = &nodes[i];
    const uint32_t a = nd->in[0], b = nd->in[1], kind = b >> TG_KIND_SHIFT;
    if (kind == TG_LEAF) {
        *prev = nd->v;
        return TG_OK;
    }
    if (a & TG_TENSOR) { /* before reading inputs: its in[0] is an offset into ext */
        tensor_forward(t, i, kink);
        return t->status;
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
        x[0] = idx[0] == i - 1 ? *prev : nodes[idx[0]].v;
        if (n == 2) {
            idx[1] = b & TG_INDEX;
            x[1] = idx[1] == i - 1 ? *prev : nodes[idx[1]].v;
        }
    }
    *prev = nd->v = nd->op->eval(x, a & TG_ACTIVE ? tg_node_kept(t, nd, i) : NULL);
    if (check && !isfinite(*prev)) {
        tg_report_nonfinite(t, nd->op, n, x, *prev, i);
        if (t->status) return t->status;
    }
    if (kink) {
        const double s = nd->op->branch(x);
        tg_kinks_keep(t, kink, &s, 1, 1);
    }
    return TG_OK;
}

/* The replay loop from node `from` on, run between kinked nodes; check (anomaly mode) is a
 * constant in each of its copies. */
TG_ALWAYS_INLINE tg_status replay(tg_tape *t, const int check, const uint32_t from)
{
    tg_node *nodes = t->nodes; /* replay records nothing: the arrays stay where they are */
    const uint32_t nn = t->n;
    double prev = from > 0 ? nodes[from - 1].v : 0.0;
    uint32_t i = from, k = 0;
    while (k < t->nkinks && t->kinks[k].node < from) k++;
    for (;; k++) {
        const uint32_t stop = k < t->nkinks ? t->kinks[k].node : nn;
        for (; i < stop; i++)
            if (replay_node(t, nodes, i, &prev, check, NULL)) return t->status;
        if (i >= nn) return TG_OK;
        if (replay_node(t, nodes, i++, &prev, check, &t->kinks[k])) return t->status;
    }
}

tg_status tg_replay(tg_tape *t)
{
    if (!t) return TG_ERR_ARG;
    if (t->status) return t->status;
    t->note[0] = '\0';
    t->adj_n = t->tan_n = 0; /* the last sweeps' results belong to the old point */
    return t->check_nan ? replay(t, 1, 0) : replay(t, 0, 0);
}

tg_status tg_replay_after(tg_tape *t, uint32_t i)
{
    if (t->status) return t->status;
    t->note[0] = '\0'; /* this replay's flips only */
    t->adj_n = t->tan_n = 0;
    return replay(t, t->check_nan, i + 1);
}

const char *tg_replay_note(const tg_tape *t)
{
    return t && t->note[0] ? t->note : NULL;
}
