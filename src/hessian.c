/* hessian.c - second order from the two sweeps: Hessian-vector products forward over reverse
 * (the gradient recorded once as nodes by tg_diff_many, then one forward sweep along v), and
 * the dense Hessian as one such sweep per parameter element. See LICENSE. */
#include "internal.h"

/* The gradient of out w.r.t. params recorded as nodes: g[k] for params[k]. */
typedef struct grad_nodes {
    tg_tape *t;
    int n;
    tg_var *g, small[16];
} grad_nodes;

static int grad_begin(grad_nodes *gn, tg_var out, int n, const tg_var *params, const char *who)
{
    tg_tape *t = gn->t = out.tape;
    gn->n = n;
    gn->g = gn->small;
    if (!t) return TG_ERR_ARG;
    if (n < 1 || !params)
        return tg_fail(t, TG_ERR_ARG, "%s: %d parameters, params %s", who, n,
                       params ? "given" : "NULL");
    for (int k = 0; k < n; k++) {
        const tg_node *nd = tg_resolve_on(t, params[k], who, "a parameter");
        if (!nd) return t->status;
        if (nd->op != &tg_leaf_param) {
            char nm[64];
            return tg_fail(t, TG_ERR_ARG, "%s: params[%d] (node %s) is not a parameter", who, k,
                           tg_node_name(t, params[k].index, nm, sizeof nm));
        }
    }
    if (n > 16 && !(gn->g = tg_mem(t, NULL, 0, (size_t)n * sizeof *gn->g))) {
        gn->g = gn->small;
        return tg_fail(t, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    return tg_diff_many(out, n, params, gn->g);
}

static void grad_end(grad_nodes *gn)
{
    if (gn->g != gn->small) tg_mem(gn->t, gn->g, (size_t)gn->n * sizeof *gn->g, 0);
}

/* After a tg_jvp: the tangents of the gradient nodes, flattened into hv. */
static void read_tangents(const grad_nodes *gn, double *hv)
{
    for (int k = 0; k < gn->n; k++) {
        size_t m = tg_numel(gn->g[k]);
        const double *d = tg_tangent_data(gn->g[k]);
        for (size_t e = 0; e < m; e++) *hv++ = d ? d[e] : 0.0;
    }
}

tg_status tg_hvp(tg_var out, int n, const tg_var *params, const double *v, size_t len, double *hv)
{
    grad_nodes gn;
    int st = grad_begin(&gn, out, n, params, "tg_hvp");
    if (st == TG_OK && (!v || !hv)) st = tg_fail(gn.t, TG_ERR_ARG, "tg_hvp: %s is NULL", v ? "hv" : "v");
    size_t total = 0;
    for (int k = 0; k < n && st == TG_OK; k++) total += tg_numel(params[k]);
    if (st == TG_OK && len != total)
        st = tg_fail(gn.t, TG_ERR_SHAPE, "tg_hvp: v has %zu values, the parameters %zu elements",
                     len, total);
    if (st == TG_OK) st = tg_jvp(gn.t, n, params, v);
    if (st == TG_OK) read_tangents(&gn, hv);
    grad_end(&gn);
    return st;
}

tg_status tg_hessian(tg_var out, int n, const tg_var *params, double *h)
{
    grad_nodes gn;
    int st = grad_begin(&gn, out, n, params, "tg_hessian");
    if (st == TG_OK && !h) st = tg_fail(gn.t, TG_ERR_ARG, "tg_hessian: h is NULL");
    size_t total = 0;
    for (int k = 0; k < n && st == TG_OK; k++) total += tg_numel(params[k]);
    /* one forward sweep per element: column j of H is the gradient's tangent along e_j */
    double *e = st == TG_OK ? tg_mem(gn.t, NULL, 0, 2 * total * sizeof *e) : NULL, *col = NULL;
    if (e)
        col = e + total;
    else if (st == TG_OK)
        st = tg_fail(gn.t, TG_ERR_NOMEM, "tg_hessian: out of memory");
    for (size_t j = 0; j < total && st == TG_OK; j++) {
        for (size_t i = 0; i < total; i++) e[i] = i == j;
        st = tg_jvp(gn.t, n, params, e);
        if (st != TG_OK) break;
        read_tangents(&gn, col);
        for (size_t i = 0; i < total; i++) h[i * total + j] = col[i];
    }
    if (e) tg_mem(gn.t, e, 2 * total * sizeof *e, 0);
    grad_end(&gn);
    return st;
}
