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
    if (t->nodes[out.index].in[0] & TG_ACTIVE) g[m - 1] = tg_const(t, 1.0);
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
            tg_var c = sum_to(nd.op->vjp_graph(x, y, gy, j), x[j]);
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
