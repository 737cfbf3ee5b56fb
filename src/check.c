/* check.c - the verifiers: tg_check_grad (reverse vs forward vs finite differences on the
 * recorded tape) and tg_check_adjoints (a hand derivation's deltas vs the reverse sweep).
 * See LICENSE. */
#include <float.h>
#include <math.h>

#include "internal.h"

static void tolerances(const tg_check_opts *o, double *rtol, double *atol)
{
    *rtol = o && o->rtol > 0 ? o->rtol : 1e-6;
    *atol = o && o->atol > 0 ? o->atol : 1e-8;
}

/* |a - b| and its relative size; 1 when within atol + rtol*max(|a|, |b|). */
static int agree(double a, double b, double rtol, double atol, double *abs_err, double *rel_err)
{
    if (a == b) { /* equal, infinities included */
        *abs_err = *rel_err = 0.0;
        return 1;
    }
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    *abs_err = d;
    *rel_err = m > 0 ? d / m : (d > 0 ? INFINITY : 0.0);
    if (isnan(d)) *abs_err = *rel_err = INFINITY;
    return d <= atol + rtol * m;
}

/* out's value with element x of a parameter set to v (every other value as recorded).
 * Sets *flip when the replay crossed a kink. */
static double value_at(tg_var out, double *x, double v, int *flip)
{
    *x = v;
    tg_replay(out.tape);
    if (tg_replay_note(out.tape)) *flip = 1;
    return tg_value(out);
}

/* Central differences at steps h and h/2, combined by Richardson extrapolation: the O(h^2)
 * error terms cancel, leaving O(h^4). */
static double central_fd(tg_var out, double *x, double x0, double h, int *flip)
{
    double d1 = (value_at(out, x, x0 + h, flip) - value_at(out, x, x0 - h, flip)) / (2 * h);
    double d2 = (value_at(out, x, x0 + h / 2, flip) - value_at(out, x, x0 - h / 2, flip)) / h;
    return (4 * d2 - d1) / 3;
}

static int check_param(tg_tape *t, tg_var p, int k)
{
    char what[32], nm[64];
    snprintf(what, sizeof what, "params[%d]", k);
    const tg_node *nd = tg_resolve_on(t, p, "tg_check_grad", what);
    if (!nd) return t->status;
    if (nd->op != &tg_leaf_param)
        return tg_fail(t, TG_ERR_ARG, "tg_check_grad: %s (node %s) is not a parameter", what,
                       tg_node_name(t, p.index, nm, sizeof nm));
    return TG_OK;
}

/* The three answers for element e of parameter p, compared. dx is numel(p) zeros, used as
 * the forward-mode seed. */
static tg_status check_element(tg_var out, tg_var p, size_t e, double reverse, double *dx, double rtol,
                         double atol, tg_check_result *r)
{
    tg_tape *t = out.tape;
    dx[e] = 1.0;
    tg_status st = tg_jvp(t, 1, &p, dx);
    dx[e] = 0.0;
    const double *tan = tg_tangent_data(out);
    r->reverse = reverse;
    r->forward = tan ? *tan : 0.0;
    r->elem = e;
    double *x = tg_node_view(t, p.index).x + e, x0 = *x;
    volatile double up = x0 + cbrt(DBL_EPSILON) * fmax(1.0, fabs(x0));
    r->step = up - x0; /* a step the representation of x0 + h holds exactly */
    r->kink = 0;
    r->fd = NAN; /* when the forward sweep failed (out of memory) */
    if (st == TG_OK) r->fd = central_fd(out, x, x0, r->step, &r->kink);
    *x = x0;
    if (st == TG_OK) st = tg_replay(t);
    r->undefined = !r->kink && !isfinite(r->fd);
    double ae, re, ae2, re2;
    int ok = agree(r->reverse, r->forward, rtol, atol, &ae, &re);
    if (!r->kink && !r->undefined) {
        ok &= agree(r->reverse, r->fd, rtol, atol, &ae2, &re2);
        ae = fmax(ae, ae2);
        re = fmax(re, re2);
    }
    r->abs_err = ae;
    r->rel_err = re;
    r->pass = ok;
    return st;
}

/* Which elements of a parameter of n elements to check: all, or max of them drawn with a
 * seeded xorshift (repeats possible). */
static size_t pick(size_t n, size_t k, int max, uint64_t *rng)
{
    if (max <= 0 || n <= (size_t)max) return k;
    *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
    return (size_t)(*rng % n);
}

tg_status tg_check_grad(tg_var out, int n, const tg_var *params, const tg_check_opts *opts,
                        tg_check_result *results, tg_check_report *report)
{
    if (!tg_resolve(out, "tg_check_grad")) return out.tape ? out.tape->status : TG_ERR_ARG;
    tg_tape *t = out.tape;
    if (n < 0 || (n > 0 && !params) || !report)
        return tg_fail(t, TG_ERR_ARG, "tg_check_grad: %d parameters, params %s, report %s", n,
                       params ? "given" : "NULL", report ? "given" : "NULL");
    size_t most = 1;
    for (int k = 0; k < n; k++) {
        if (check_param(t, params[k], k) != TG_OK) return t->status;
        most = fmax(most, tg_node_numel(t, params[k].index));
    }
    double rtol, atol;
    tolerances(opts, &rtol, &atol);
    int max = opts ? opts->max_elems : 0;
    uint64_t rng = (opts && opts->seed ? opts->seed : 0x9e3779b97f4a7c15u) | 1;
    /* scratch: every parameter's reverse gradient (a later sweep overwrites it), and a
     * forward-mode seed */
    size_t total = 0;
    for (int k = 0; k < n; k++) total += tg_node_numel(t, params[k].index);
    if (tg_grow_big(t, (void **)&t->scratch, &t->scratch_cap, total + most, sizeof *t->scratch))
        return t->status;
    double *rev = t->scratch, *dx = rev + total;
    for (size_t e = 0; e < most; e++) dx[e] = 0.0;

    tg_status st = tg_backward(out);
    for (int k = 0, at = 0; k < n && st == TG_OK; k++) {
        size_t m = tg_node_numel(t, params[k].index);
        const double *g = tg_gradient_data(params[k]);
        for (size_t e = 0; e < m; e++) rev[at + e] = g ? g[e] : 0.0;
        at += (int)m;
    }
    int check_nan = t->check_nan; /* probing may leave a function's domain on purpose */
    tg_tape_check_nan(t, 0);
    tg_check_report rep = {.n = n, .worst = -1};
    for (int k = 0, at = 0; k < n && st == TG_OK; k++) {
        size_t m = tg_node_numel(t, params[k].index);
        size_t count = max > 0 && m > (size_t)max ? (size_t)max : m;
        tg_check_result worst = {.pass = 1}, r;
        int failed = 0, kinks = 0, undefined = 0;
        for (size_t j = 0; j < count && st == TG_OK; j++) {
            size_t e = pick(m, j, max, &rng);
            st = check_element(out, params[k], e, rev[at + e], dx, rtol, atol, &r);
            failed += !r.pass;
            kinks += r.kink;
            undefined += r.undefined;
            /* the worst element: a failure before a pass, then the larger relative error */
            if (j == 0 || (!r.pass && worst.pass) ||
                (r.pass == worst.pass && r.rel_err > worst.rel_err))
                worst = r;
        }
        worst.checked = count;
        worst.failed = failed;
        worst.kink = worst.kink || (kinks && !failed);
        worst.undefined = worst.undefined || (undefined && !failed);
        if (results) results[k] = worst;
        rep.failed += failed > 0;
        rep.kinks += kinks > 0;
        rep.undefined += undefined > 0;
        if (rep.worst < 0 || worst.rel_err > rep.worst_rel) rep.worst = k, rep.worst_rel = worst.rel_err;
        rep.worst_abs = fmax(rep.worst_abs, worst.abs_err);
        at += (int)m;
    }
    tg_tape_check_nan(t, check_nan);
    if (st == TG_OK) st = tg_backward(out); /* leave the gradients of the unperturbed point */
    *report = rep;
    return st;
}

void tg_check_print(FILE *f, int n, const tg_var *params, const tg_check_result *r,
                    const tg_check_report *rep)
{
    fprintf(f, "%-12s %14s %14s %14s %10s %10s  %s\n", "parameter", "reverse", "forward",
            "finite diff", "abs err", "rel err", "verdict");
    for (int k = 0; k < n; k++) {
        const char *name = tg_label_of(params[k]);
        char buf[32];
        if (!name) snprintf(buf, sizeof buf, "#%u", params[k].index), name = buf;
        char at[40] = "";
        if (r[k].checked > 1 || r[k].elem > 0)
            snprintf(at, sizeof at, "[%zu] (%zu checked, %zu failed)", r[k].elem, r[k].checked,
                     r[k].failed);
        fprintf(f, "%-12s %14.6e %14.6e %14.6e %10.2e %10.2e  %s%s%s\n", name, r[k].reverse,
                r[k].forward, r[k].fd, r[k].abs_err, r[k].rel_err,
                r[k].kink        ? "non-differentiable point (a kink within the step)"
                : r[k].undefined ? "finite differences undefined here (domain edge)"
                : r[k].pass      ? "ok"
                                 : "FAIL",
                *at ? "  worst element " : "", at);
    }
    if (rep)
        fprintf(f, "%d checked, %d failed, %d at kinks, %d undefined; worst rel err %.2e (abs "
                "%.2e)\n", rep->n, rep->failed, rep->kinks, rep->undefined, rep->worst_rel,
                rep->worst_abs);
}

/* ---- hand-derived adjoints ---- */

typedef struct {
    const double *expected;
} array_claims;

static double from_array(void *ud, int k, const tg_var *nodes)
{
    (void)nodes;
    return ((array_claims *)ud)->expected[k];
}

tg_status tg_check_adjoints(tg_var out, int n, const tg_var *nodes, const double *expected,
                            const tg_check_opts *opts, tg_adjoint_report *report)
{
    if (n > 0 && !expected && out.tape)
        return tg_fail(out.tape, TG_ERR_ARG, "tg_check_adjoints: expected is NULL");
    array_claims c = {expected};
    return tg_check_adjoints_fn(out, n, nodes, from_array, &c, opts, report);
}

tg_status tg_check_adjoints_fn(tg_var out, int n, const tg_var *nodes, tg_adjoint_fn fn,
                               void *ud, const tg_check_opts *opts, tg_adjoint_report *report)
{
    if (!tg_resolve(out, "tg_check_adjoints")) return out.tape ? out.tape->status : TG_ERR_ARG;
    tg_tape *t = out.tape;
    if (n < 0 || (n > 0 && (!nodes || !fn)) || !report)
        return tg_fail(t, TG_ERR_ARG, "tg_check_adjoints: %d claims with nodes %s, claims %s "
                       "and report %s", n, nodes ? "given" : "NULL", fn ? "given" : "NULL",
                       report ? "given" : "NULL");
    for (int k = 0; k < n; k++) {
        char what[32];
        snprintf(what, sizeof what, "nodes[%d]", k);
        if (!tg_resolve_on(t, nodes[k], "tg_check_adjoints", what)) return t->status;
    }
    double rtol, atol;
    tolerances(opts, &rtol, &atol);
    tg_status st = tg_backward(out);
    if (st != TG_OK) return st;
    tg_adjoint_report rep = {.n = n, .first = -1};
    for (int k = 0; k < n; k++) {
        double want = fn(ud, k, nodes), got = tg_gradient(nodes[k]), ae, re;
        if (agree(got, want, rtol, atol, &ae, &re)) continue;
        rep.failed++;
        /* the reverse sweep meets later nodes first: the latest failing node is where a
         * derivation worked backwards into its first mistake */
        if (rep.first < 0 || nodes[k].index > nodes[rep.first].index) {
            rep.first = k;
            rep.expected = want;
            rep.actual = got;
        }
    }
    *report = rep;
    return TG_OK;
}
