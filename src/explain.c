/* explain.c - the chain rule made visible: every path from an output down to a node, each
 * edge's local partial (the partials the tape keeps beside its records), each path's product
 * and their sum beside the reverse sweep's gradient. In "named" mode the steps are the nodes
 * with NAME labels (the article's a1[3], z1[2]) and the nodes between two steps fold into one
 * factor, the derivative of one named node by the next with the other named nodes held
 * fixed. See LICENSE. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "workbench.h"

#define EDGES_PER_PATH 64 /* the paths may have max_paths * 64 edges in all (long chains) */

typedef struct edge {
    uint32_t to;  /* a step (index into steps) */
    double w;     /* d(from)/d(to) along the edges between them */
    int slots;    /* which operands of `from` (bit k: operand k+1), every-node mode */
} edge;

typedef struct graph {
    tg_tape *t;
    uint32_t lo, hi, m;     /* nodes lo..hi (wrt .. out), m of them */
    unsigned char *on;      /* node lo+k lies on a path from out down to wrt */
    int32_t *sid;           /* node lo+k's step index, or -1 */
    uint32_t *steps;        /* node of each step, in decreasing node order (out first) */
    uint32_t nsteps;
    uint32_t *first;        /* edges of step s: edges[first[s] .. first[s+1]) */
    edge *edges;
    uint32_t nedges, cap;
    double *acc;            /* scratch for named mode */
    unsigned char *seen;
} graph;

static void graph_free(graph *g)
{
    tg_tape *t = g->t;
    tg_mem(t, g->on, g->m, 0);
    tg_mem(t, g->sid, (size_t)g->m * sizeof *g->sid, 0);
    tg_mem(t, g->steps, (size_t)g->m * sizeof *g->steps, 0);
    tg_mem(t, g->first, ((size_t)g->m + 1) * sizeof *g->first, 0);
    tg_mem(t, g->edges, (size_t)g->cap * sizeof *g->edges, 0);
    tg_mem(t, g->acc, (size_t)g->m * sizeof *g->acc, 0);
    tg_mem(t, g->seen, g->m, 0);
}

static int add_edge(graph *g, uint32_t to, double w, int slot)
{
    /* the same pair twice (x*x): one factor, the sum */
    for (uint32_t e = g->first[g->nsteps]; e < g->nedges; e++) {
        if (g->edges[e].to == to) {
            g->edges[e].w += w;
            g->edges[e].slots |= slot;
            return 0;
        }
    }
    if (g->nedges == g->cap &&
        tg_grow(g->t, (void **)&g->edges, &g->cap, g->nedges + 1, sizeof *g->edges))
        return -1;
    g->edges[g->nedges++] = (edge){to, w, slot};
    return 0;
}

static int is_step(const graph *g, uint32_t node, int named)
{
    if (node == g->lo || node == g->hi || !named) return 1;
    tg_var v = {g->t, node, g->t->epoch};
    const char *label = tg_label_of(v);
    return label && wb_is_name(label, strlen(label));
}

/* Which nodes lie on a path, the steps, and the edges between steps. 0, 1 when a tensor
 * node is on a path, 2 when there is no path, or -1 (error set on the tape). */
static int build(graph *g, int named)
{
    tg_tape *t = g->t;
    uint32_t lo = g->lo, m = g->m, in[TG_MAX_ARITY];
    g->on = tg_mem(t, NULL, 0, m);
    g->sid = tg_mem(t, NULL, 0, (size_t)m * sizeof *g->sid);
    g->steps = tg_mem(t, NULL, 0, (size_t)m * sizeof *g->steps);
    g->first = tg_mem(t, NULL, 0, ((size_t)m + 1) * sizeof *g->first);
    if (!g->on || !g->sid || !g->steps || !g->first) {
        tg_fail(t, TG_ERR_NOMEM, "tg_explain: out of memory for %u nodes", m);
        return -1;
    }
    /* down: depends on wrt (forward); then on: also reached from out (backward) */
    memset(g->on, 0, m);
    g->on[0] = 1;
    for (uint32_t i = lo + 1; i <= g->hi; i++) {
        const tg_node *nd = &t->nodes[i];
        if (tg_node_is_leaf(nd) || !tg_node_active(nd)) continue;
        int n = tg_node_inputs(t, nd, in);
        for (int k = 0; k < n; k++)
            if (in[k] >= lo && g->on[in[k] - lo]) g->on[i - lo] = 1;
    }
    if (!g->on[m - 1]) return 2; /* out does not depend on wrt */
    for (uint32_t k = 0; k < m; k++) g->on[k] = g->on[k] ? 2 : 0; /* 2: down only */
    g->on[m - 1] = 3;
    for (uint32_t i = g->hi; i > lo; i--) {
        if (g->on[i - lo] != 3) continue;
        const tg_node *nd = &t->nodes[i];
        if (wb_is_tensor(nd)) return 1;
        int n = tg_node_inputs(t, nd, in);
        for (int k = 0; k < n; k++)
            if (in[k] >= lo && g->on[in[k] - lo]) g->on[in[k] - lo] = 3;
    }
    for (uint32_t k = 0; k < m; k++) g->on[k] = g->on[k] == 3;
    for (uint32_t i = g->hi + 1; i-- > lo;) {
        g->sid[i - lo] = -1;
        if (g->on[i - lo] && is_step(g, i, named)) {
            g->sid[i - lo] = (int32_t)g->nsteps;
            g->steps[g->nsteps++] = i;
        }
    }
    if (named) {
        g->acc = tg_mem(t, NULL, 0, (size_t)m * sizeof *g->acc);
        g->seen = tg_mem(t, NULL, 0, m);
        if (!g->acc || !g->seen) {
            tg_fail(t, TG_ERR_NOMEM, "tg_explain: out of memory for %u nodes", m);
            return -1;
        }
        memset(g->seen, 0, m);
    }
    uint32_t nsteps = g->nsteps;
    g->nsteps = 0;
    for (uint32_t s = 0; s < nsteps; s++, g->nsteps++) {
        uint32_t u = g->steps[s];
        g->first[s] = g->nedges;
        if (u == lo) continue;
        if (!named) {
            const tg_node *nd = &t->nodes[u];
            double p[TG_MAX_ARITY];
            tg_node_partials_get(t, nd, u, p);
            int n = tg_node_inputs(t, nd, in);
            for (int k = 0; k < n; k++)
                if (in[k] >= lo && g->on[in[k] - lo] &&
                    add_edge(g, (uint32_t)g->sid[in[k] - lo], p[k], 1 << k))
                    return -1;
            continue;
        }
        /* named: sweep from u down, stopping at steps */
        g->acc[u - lo] = 1.0;
        g->seen[u - lo] = 1;
        for (uint32_t i = u + 1; i-- > lo;) {
            if (!g->seen[i - lo]) continue;
            g->seen[i - lo] = 0;
            double a = g->acc[i - lo];
            if (i != u && g->sid[i - lo] >= 0) {
                if (add_edge(g, (uint32_t)g->sid[i - lo], a, 0)) return -1;
                continue;
            }
            const tg_node *nd = &t->nodes[i];
            if (tg_node_is_leaf(nd)) continue;
            double p[TG_MAX_ARITY];
            tg_node_partials_get(t, nd, i, p);
            int n = tg_node_inputs(t, nd, in);
            for (int k = 0; k < n; k++) {
                uint32_t j = in[k];
                if (j < lo || !g->on[j - lo]) continue;
                if (!g->seen[j - lo]) g->acc[j - lo] = 0.0;
                g->seen[j - lo] = 1;
                g->acc[j - lo] += a * p[k];
            }
        }
    }
    g->first[nsteps] = g->nedges;
    return 0;
}

/* Number of paths from out (step 0) to wrt (the last step), and their edges in all. */
static double count_paths(const graph *g, double *edges_total)
{
    double cnt_buf[64], len_buf[64];
    double *cnt = cnt_buf, *len = len_buf;
    size_t bytes = (size_t)g->nsteps * sizeof(double);
    if (g->nsteps > 64) {
        cnt = tg_mem(g->t, NULL, 0, bytes);
        len = cnt ? tg_mem(g->t, NULL, 0, bytes) : NULL;
        if (!len) {
            if (cnt) tg_mem(g->t, cnt, bytes, 0);
            return -1;
        }
    }
    for (uint32_t s = 0; s < g->nsteps; s++) cnt[s] = len[s] = 0.0;
    cnt[0] = 1.0;
    for (uint32_t s = 0; s < g->nsteps; s++)
        for (uint32_t e = g->first[s]; e < g->first[s + 1]; e++) {
            cnt[g->edges[e].to] += cnt[s];
            len[g->edges[e].to] += len[s] + cnt[s];
        }
    double n = cnt[g->nsteps - 1];
    *edges_total = len[g->nsteps - 1];
    if (cnt != cnt_buf) {
        tg_mem(g->t, cnt, bytes, 0);
        tg_mem(g->t, len, bytes, 0);
    }
    return n;
}

/* ---- printing ---- */

static const char *step_name(const graph *g, uint32_t s, const char *out_name, char *buf,
                             size_t size)
{
    uint32_t node = g->steps[s];
    tg_var v = {g->t, node, g->t->epoch};
    if (node == g->hi && !tg_label_of(v)) {
        snprintf(buf, size, "%s", out_name);
        return buf;
    }
    return wb_describe(g->t, node, buf, size);
}

/* "dE" / "d(x*y)": the differential of a name. */
static void dname(char *buf, size_t size, const char *name)
{
    if (wb_is_name(name, strlen(name))) snprintf(buf, size, "d%s", name);
    else snprintf(buf, size, "d(%s)", name);
}

static void print_path(FILE *f, const graph *g, const uint32_t *path, const uint32_t *via,
                       int len, int k, double npaths, int named, const char *out_name,
                       double *sum)
{
    char a[64], b[64], da[72], db[72], factor[160], note[64];
    fprintf(f, "path %d of %.15g:", k, npaths);
    for (int i = 0; i < len; i++)
        fprintf(f, "%s%s", i ? " -> " : "  ", step_name(g, path[i], out_name, a, sizeof a));
    fputc('\n', f);
    double prod = 1.0;
    for (int i = 0; i + 1 < len; i++) {
        const edge *e = &g->edges[via[i]];
        dname(da, sizeof da, step_name(g, path[i], out_name, a, sizeof a));
        dname(db, sizeof db, step_name(g, path[i + 1], out_name, b, sizeof b));
        snprintf(factor, sizeof factor, "%s/%s", da, db);
        note[0] = '\0';
        if (!named) {
            const tg_op_def *op = g->t->nodes[g->steps[path[i]]].op;
            if (op->arity == 1) snprintf(note, sizeof note, "(%s)", op->name);
            else if (e->slots == 3) snprintf(note, sizeof note, "(%s, operands 1 and 2)", op->name);
            else {
                int slot = 0;
                while (slot < TG_MAX_ARITY && !(e->slots >> slot & 1)) slot++;
                snprintf(note, sizeof note, "(%s, operand %d)", op->name, slot + 1);
            }
        }
        if (note[0]) fprintf(f, "  %s %-34s = %-24.15g %s\n", i ? "*" : " ", factor, e->w, note);
        else fprintf(f, "  %s %-34s = %.15g\n", i ? "*" : " ", factor, e->w);
        prod *= e->w;
    }
    fprintf(f, "  = %-34s = %.15g\n", "product", prod);
    *sum += prod;
}

static int explain_args(tg_var out, tg_var wrt)
{
    if (!tg_resolve(out, "tg_explain")) return out.tape ? (int)out.tape->status : TG_ERR_ARG;
    if (!tg_resolve_on(out.tape, wrt, "tg_explain", "wrt")) return out.tape->status;
    if (out.tape->status) return out.tape->status;
    return TG_OK;
}

static int graph_make(graph *g, tg_var out, tg_var wrt, int named)
{
    memset(g, 0, sizeof *g);
    g->t = out.tape;
    g->lo = wrt.index;
    g->hi = out.index;
    g->m = out.index - wrt.index + 1;
    return build(g, named);
}

double tg_explain_paths(tg_var out, tg_var wrt, const tg_explain_opts *opts)
{
    if (explain_args(out, wrt) != TG_OK) return -1;
    if (wrt.index > out.index) return 0;
    graph g;
    int r = graph_make(&g, out, wrt, opts && opts->named);
    double edges, n = r == 0 ? count_paths(&g, &edges) : r == 2 ? 0 : -1;
    graph_free(&g);
    return n;
}

tg_status tg_explain(FILE *f, tg_var out, tg_var wrt, const tg_explain_opts *opts)
{
    int st = explain_args(out, wrt);
    if (st != TG_OK) return st;
    if (!f) return TG_ERR_ARG;
    tg_tape *t = out.tape;
    int named = opts && opts->named, max = opts && opts->max_paths > 0 ? opts->max_paths : 64;
    const char *out_name = opts && opts->out_name ? opts->out_name : "f";
    char on[64], wn[64], don[72], dwn[72];
    if ((st = tg_backward(out)) != TG_OK) return st;
    double grad = tg_gradient(wrt);
    {
        tg_var ov = out;
        if (tg_label_of(ov)) out_name = tg_label_of(ov);
        wb_describe(t, wrt.index, wn, sizeof wn);
        snprintf(on, sizeof on, "%s", out_name);
        dname(don, sizeof don, on);
        dname(dwn, sizeof dwn, wn);
    }
    if (wrt.index > out.index || wrt.index == out.index) {
        if (wrt.index == out.index)
            fprintf(f, "%s/%s = 1: the output is the node itself\n", don, dwn);
        else
            fprintf(f, "%s does not depend on %s (no path): %s/%s = 0\n", on, wn, don, dwn);
        return TG_OK;
    }
    graph g;
    int r = graph_make(&g, out, wrt, named);
    if (r < 0) {
        graph_free(&g);
        return t->status;
    }
    if (r > 0) {
        fprintf(f, "%s/%s = %.15g: a tensor node lies on the way; the explainer shows scalar "
                "graphs only\n", don, dwn, grad);
        graph_free(&g);
        return TG_ERR_ARG;
    }
    double edges = 0, npaths = r == 2 ? 0 : count_paths(&g, &edges);
    if (npaths < 0) {
        graph_free(&g);
        return tg_fail(t, TG_ERR_NOMEM, "tg_explain: out of memory");
    }
    if (npaths == 0) {
        fprintf(f, "%s does not depend on %s (no path): %s/%s = %.15g\n", on, wn, don, dwn, grad);
        graph_free(&g);
        return TG_OK;
    }
    double max_edges = (double)EDGES_PER_PATH * (max > 64 ? max : 64);
    if (npaths > max || edges > max_edges) {
        if (npaths > max)
            fprintf(f, "%s/%s = %.15g has %.15g paths from %s down to %s, more than the limit "
                    "of %d: not listing them (raise the limit to see them)\n",
                    don, dwn, grad, npaths, on, wn, max);
        else
            fprintf(f, "%s/%s = %.15g: the %.15g path%s from %s down to %s have %.15g edges in "
                    "all, more than %.15g: not listing them\n", don, dwn, grad, npaths,
                    npaths == 1 ? "" : "s", on, wn, edges, max_edges);
        graph_free(&g);
        return TG_ERR_ARG;
    }
    fprintf(f, "the chain rule for %s/%s: %.15g path%s from %s down to %s; each factor is a "
            "local partial derivative%s at the current values\n\n", don, dwn, npaths,
            npaths == 1 ? "" : "s", on, wn,
            named ? " (nodes between two named ones folded into one factor)" : "");
    /* depth-first over the steps, with an explicit stack: path[] of steps, via[] of edges */
    size_t bytes = (size_t)g.nsteps * sizeof(uint32_t);
    uint32_t *path = tg_mem(t, NULL, 0, bytes), *via = path ? tg_mem(t, NULL, 0, bytes) : NULL;
    if (!via) {
        if (path) tg_mem(t, path, bytes, 0);
        graph_free(&g);
        return tg_fail(t, TG_ERR_NOMEM, "tg_explain: out of memory");
    }
    int len = 1, k = 0;
    double sum = 0.0;
    path[0] = 0;
    via[0] = g.first[0];
    while (len > 0) {
        uint32_t s = path[len - 1];
        if (s == g.nsteps - 1) {
            print_path(f, &g, path, via, len, ++k, npaths, named, on, &sum);
            fputc('\n', f);
            len--;
            if (len > 0) via[len - 1]++;
            continue;
        }
        if (via[len - 1] >= g.first[s + 1]) {
            len--;
            if (len > 0) via[len - 1]++;
            continue;
        }
        uint32_t to = g.edges[via[len - 1]].to;
        path[len] = to;
        via[len] = g.first[to];
        len++;
    }
    fprintf(f, "sum of the %d path product%s = %.15g\n", k, k == 1 ? "" : "s", sum);
    double d = fabs(sum - grad);
    if (!tg_node_active(&t->nodes[wrt.index]))
        fprintf(f, "%s is a constant: the reverse sweep does not differentiate by it (%s/%s = "
                "0); the sum is the derivative it would have as a parameter\n", wn, don, dwn);
    else if (d <= 1e-12 * fmax(1.0, fabs(grad)))
        fprintf(f, "%s/%s from the reverse sweep = %.15g (the same)\n", don, dwn, grad);
    else
        fprintf(f, "%s/%s from the reverse sweep = %.15g (differs by %.3g: rounding)\n", don,
                dwn, grad, d);
    tg_mem(t, path, bytes, 0);
    tg_mem(t, via, bytes, 0);
    graph_free(&g);
    return ferror(f) ? TG_ERR_ARG : TG_OK;
}
