/* sweep.c - the numeric sweeps over the tape: reverse (adjoints), forward (tangents) and
 * replay (values at new leaf values). One loop each; ops are reached only through their
 * descriptors' kernels. See LICENSE. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Gather the input values of an op node into x[] and their indices into idx[]. */
static inline int gather(const tg_tape *t, const tg_node *nd, uint32_t *idx, double *x)
{
    int k = tg_node_inputs(t, nd, idx);
    for (int j = 0; j < k; j++) x[j] = t->nodes[idx[j]].v;
    return k;
}

/* ---- reverse sweep ---- */

int tg_backward(tg_var out)
{
    if (!tg_resolve(out, "tg_backward")) return out.tape ? (int)out.tape->status : TG_ERR_ARG;
    tg_tape *t = out.tape;
    if (t->status) return t->status;
    uint32_t n = out.index + 1;
    if (tg_grow(t, (void **)&t->adj, &t->adj_cap, n, sizeof *t->adj)) return t->status;
    tg_node *nodes = t->nodes;
    double *adj = t->adj;
    memset(adj, 0, (size_t)n * sizeof *adj);
    adj[out.index] = 1.0;
    t->adj_n = n;
    for (uint32_t i = n; i-- > 0;) {
        const tg_node *nd = &nodes[i];
        double gy = adj[i];
        /* inactive nodes and leaves pass nothing back; a zero adjoint passes nothing either,
         * so 0 * Inf never reaches an input */
        if (gy == 0.0 || !(nd->in[0] & TG_ACTIVE) || nd->op == &tg_leaf_param) continue;
        uint32_t idx[TG_MAX_ARITY];
        double x[TG_MAX_ARITY], p[TG_MAX_ARITY];
        int k = gather(t, nd, idx, x);
        nd->op->partials(x, nd->v, p);
        for (int j = 0; j < k; j++) {
            if (!(nodes[idx[j]].in[0] & TG_ACTIVE)) continue;
            double g = gy * p[j];
            if (t->check_nan && !isfinite(g) && isfinite(gy)) {
                char nm[64];
                tg_fail(t, TG_ERR_DOMAIN, "%s: backward: dy/dx%d is %g at node %s (x%d = %.17g)",
                        nd->op->name, j + 1, p[j], tg_node_name(t, i, nm, sizeof nm), j + 1, x[j]);
                t->adj_n = 0;
                return t->status;
            }
            adj[idx[j]] += g;
        }
    }
    return TG_OK;
}

double tg_gradient(tg_var v)
{
    const tg_node *nd = tg_resolve(v, "tg_gradient");
    if (!nd || v.index >= v.tape->adj_n || !(nd->in[0] & TG_ACTIVE)) return 0.0;
    return v.tape->adj[v.index];
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
    double *tan = t->tan;
    memset(tan, 0, (size_t)t->n * sizeof *tan);
    for (int k = 0; k < n; k++) {
        const tg_node *nd = tg_resolve(leaves[k], "tg_jvp");
        if (!nd) return t->status;
        if (leaves[k].tape != t || !tg_node_is_leaf(nd))
            return tg_fail(t, TG_ERR_ARG, "tg_jvp: seed %d is not a leaf of this tape", k + 1);
        tan[leaves[k].index] += dx[k];
    }
    for (uint32_t i = 0; i < t->n; i++) {
        const tg_node *nd = &t->nodes[i];
        if (tg_node_is_leaf(nd)) continue;
        uint32_t idx[TG_MAX_ARITY];
        double x[TG_MAX_ARITY], p[TG_MAX_ARITY], dy = 0.0;
        int k = gather(t, nd, idx, x), moving = 0;
        for (int j = 0; j < k; j++) moving |= tan[idx[j]] != 0.0;
        if (!moving) continue; /* as in reverse: no 0 * Inf from a fixed input */
        nd->op->partials(x, nd->v, p);
        for (int j = 0; j < k; j++)
            if (tan[idx[j]] != 0.0) dy += p[j] * tan[idx[j]];
        tan[i] = dy;
    }
    t->tan_n = t->n;
    return TG_OK;
}

double tg_tangent(tg_var v)
{
    const tg_node *nd = tg_resolve(v, "tg_tangent");
    return nd && v.index < v.tape->tan_n ? v.tape->tan[v.index] : 0.0;
}

/* ---- replay ---- */

int tg_replay(tg_tape *t)
{
    if (!t) return TG_ERR_ARG;
    if (t->status) return t->status;
    int flipped = 0;
    uint32_t k = 0;
    t->note[0] = '\0';
    t->adj_n = t->tan_n = 0; /* last sweeps' results belong to the old point */
    for (uint32_t i = 0; i < t->n; i++) {
        tg_node *nd = &t->nodes[i];
        if (tg_node_is_leaf(nd)) continue;
        uint32_t idx[TG_MAX_ARITY];
        double x[TG_MAX_ARITY];
        int n = gather(t, nd, idx, x);
        nd->v = nd->op->eval(x);
        if (t->check_nan && !isfinite(nd->v)) {
            tg_report_nonfinite(t, nd->op, n, x, nd->v, i);
            if (t->status) return t->status;
        }
        if (k < t->nkinks && t->kinks[k].node == i) {
            double s = nd->op->branch(x);
            int32_t sign = (s > 0) - (s < 0);
            if (sign != t->kinks[k].sign && !flipped) {
                char nm[64];
                snprintf(t->note, sizeof t->note, "%s %s: branch changed (sign of its branch "
                         "quantity %+d -> %+d, now %.6g)", nd->op->name,
                         tg_node_name(t, i, nm, sizeof nm), t->kinks[k].sign, sign, s);
                flipped = 1;
            }
            t->kinks[k++].sign = sign;
        }
    }
    return flipped ? TG_FLIP : TG_OK;
}

const char *tg_replay_note(const tg_tape *t)
{
    return t && t->note[0] ? t->note : NULL;
}
