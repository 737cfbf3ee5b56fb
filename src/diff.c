/* diff.c - tg_diff: a reverse sweep that records the derivative as new nodes, by calling each
 * op's vjp_graph rule, so derivatives can be evaluated, replayed and differentiated again.
 * See LICENSE. */
#include <string.h>

#include "internal.h"

/* c brought to the shape of node `to`. An op whose operands broadcast hands back a
 * contribution of the output's shape, so the stretched axes are summed away (leading extra
 * axes, and axes where `to` has size 1); a rule that answers with a smaller constant (step's
 * scalar 0) is first broadcast up to `to`'s shape. */
static tg_var sum_to(tg_var c, tg_var to)
{
    int cs[TG_MAX_RANK], ts[TG_MAX_RANK];
    int cr = tg_shape(c, cs), tr = tg_shape(to, ts);
    if (cr < 0 || tr < 0 || (cr == tr && !memcmp(cs, ts, (size_t)cr * sizeof *cs))) return c;
    tg_view v[2] = {{NULL, cr, {0}, 1}, {NULL, tr, {0}, 1}}, b;
    memcpy(v[0].shape, cs, sizeof cs);
    memcpy(v[1].shape, ts, sizeof ts);
    if (tg_broadcast(v, 2, &b) == 0 && (b.rank != cr || memcmp(b.shape, cs, (size_t)cr * sizeof *cs))) {
        c = tg_add(c, tg_tensor_fill(to.tape, tr, ts, 0.0));
        cr = tg_shape(c, cs);
    }
    for (int d = cr - 1; d >= 0; d--) {
        int k = d - (cr - tr); /* the matching axis of `to`, if any */
        if (k < 0 || (ts[k] == 1 && cs[d] != 1)) c = tg_sum_axis(c, d, 1);
    }
    return tg_reshape(c, tr, ts);
}

/* Input j's share of node nd's adjoint gy: gy * dy/dx[j]. A rule forms that product with
 * ordinary ops, so where gy is 0 and the partial NaN or infinite (a branch masked off:
 * where's unchosen sqrt(x) at x <= 0) it would be NaN, and so every derivative taken from
 * it. The numeric sweeps pass nothing on from a zero factor; to keep that at every order, an
 * elementwise op's rule is asked for the partial alone (gy = one: rules are linear in gy)
 * and the product is recorded as mul0 (0 when a factor is 0, mul's derivatives). Where the
 * descriptor states the partials they are used as they are: constants (add, sub: the rule's
 * product with a finite constant is exact) and the other operand (mul). */
static tg_var share(const tg_op_def *op, const tg_var *x, tg_var y, tg_var gy, int j,
                    tg_var one, uint32_t fresh)
{
    if (op->infer || op->partials == TG_PARTIALS_CONST || gy.index == one.index)
        return op->vjp_graph(x, y, gy, j);
    tg_var p = op->partials == TG_PARTIALS_SWAP ? x[1 - j] : op->vjp_graph(x, y, one, j);
    if (p.index == one.index) return gy;
    const tg_tape *t = gy.tape; /* a zero constant the rule made (step's) needs no product */
    if (p.index != TG_NONE && p.index >= fresh && tg_node_is_leaf(&t->nodes[p.index]) &&
        t->nodes[p.index].v == 0.0)
        return p;
    return tg_mul0(gy, p);
}

/* Check out (a one-element active-or-not node) and every wrt (active nodes of its tape). */
static int diff_args(tg_var out, int n, const tg_var *wrt, const tg_var *d)
{
    if (!tg_resolve(out, "tg_diff")) return out.tape ? out.tape->status : TG_ERR_ARG;
    tg_tape *t = out.tape;
    if (n < 1 || !wrt || !d)
        return tg_fail(t, TG_ERR_ARG, "tg_diff: %d wrt nodes, wrt %s, results %s", n,
                       wrt ? "given" : "NULL", d ? "given" : "NULL");
    if (tg_node_numel(t, out.index) != 1) {
        char nm[64], sh[48];
        tg_view w = tg_node_view(t, out.index);
        return tg_fail(t, TG_ERR_SHAPE, "tg_diff: out %s is a tensor of shape %s, not a scalar",
                       tg_node_name(t, out.index, nm, sizeof nm),
                       tg_view_shape(&w, sh, sizeof sh));
    }
    for (int k = 0; k < n; k++) {
        if (!tg_resolve_on(t, wrt[k], "tg_diff", "wrt")) return t->status;
        if (!(t->nodes[wrt[k].index].in[0] & TG_ACTIVE)) {
            char nm[64];
            return tg_fail(t, TG_ERR_ARG, "tg_diff: wrt %s depends on no parameter (a "
                           "constant), so nothing is differentiated with respect to it",
                           tg_node_name(t, wrt[k].index, nm, sizeof nm));
        }
    }
    return TG_OK;
}

tg_status tg_diff_many(tg_var out, int n, const tg_var *wrt, tg_var *d)
{
    for (int k = 0; d && k < n; k++) d[k] = tg_err_var(out.tape); /* until it succeeds */
    int st = diff_args(out, n, wrt, d);
    if (st != TG_OK) return st;
    tg_tape *t = out.tape;
    /* g[i - lo] is the adjoint node of node i, for lo <= i <= out.index where lo is the
     * earliest wrt: nodes before it cannot depend on any wrt, so their adjoints are never
     * needed. */
    uint32_t lo = out.index;
    for (int k = 0; k < n; k++)
        if (wrt[k].index < lo) lo = wrt[k].index;
    uint32_t m = out.index - lo + 1;
    tg_var *g = tg_mem(t, NULL, 0, (size_t)m * sizeof *g);
    if (!g) return tg_fail(t, TG_ERR_NOMEM, "tg_diff: out of memory for %u adjoint handles", m);
    for (uint32_t k = 0; k < m; k++) g[k] = tg_err_var(t);
    const uint32_t fresh = t->n; /* nodes from here on are this sweep's */
    const int active = (t->nodes[out.index].in[0] & TG_ACTIVE) != 0;
    const tg_var one = active ? tg_const(t, 1.0) : tg_err_var(t);
    if (active) g[m - 1] = one;
    for (uint32_t i = out.index; i > lo && !t->status; i--) {
        const tg_node nd = t->nodes[i]; /* a copy: recording below may move the records */
        tg_var gy = g[i - lo];
        if (gy.index == TG_NONE || !(nd.in[0] & TG_ACTIVE) || tg_node_is_leaf(&nd)) continue;
        if (!nd.op->vjp_graph) {
            tg_fail(t, TG_ERR_UNSUPPORTED, "tg_diff: op '%s' has no vjp_graph rule", nd.op->name);
            break;
        }
        uint32_t idx[TG_MAX_ARITY];
        tg_var x[TG_MAX_ARITY], y = {t, i, t->epoch};
        int k = tg_node_inputs(t, &nd, idx);
        for (int j = 0; j < k; j++) x[j] = (tg_var){t, idx[j], t->epoch};
        for (int j = 0; j < k; j++) {
            if (idx[j] < lo || !(t->nodes[idx[j]].in[0] & TG_ACTIVE)) continue;
            tg_var c = sum_to(share(nd.op, x, y, gy, j, one, fresh), x[j]);
            tg_var *acc = &g[idx[j] - lo];
            *acc = acc->index == TG_NONE ? c : tg_add(*acc, c);
        }
    }
    /* a wrt the sweep never reached (or recorded after out) gets zeros of its shape */
    for (int k = 0; k < n && !t->status; k++) {
        int shape[TG_MAX_RANK], rank = tg_shape(wrt[k], shape);
        tg_var r = wrt[k].index <= out.index ? g[wrt[k].index - lo] : tg_err_var(t);
        d[k] = r.index != TG_NONE ? r : tg_tensor_fill(t, rank, shape, 0.0);
    }
    tg_mem(t, g, (size_t)m * sizeof *g, 0);
    if (t->status)
        for (int k = 0; k < n; k++) d[k] = tg_err_var(t);
    return t->status;
}

tg_var tg_diff(tg_var out, tg_var wrt)
{
    tg_var d;
    tg_diff_many(out, 1, &wrt, &d);
    return d;
}
