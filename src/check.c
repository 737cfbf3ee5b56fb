/* check.c - the verifiers: tg_check_grad (reverse vs forward vs finite differences on the
 * recorded tape) and tg_check_adjoints (a hand derivation's deltas vs the reverse sweep).
 * See LICENSE. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

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

/* out's value with leaf p set to v (every other value as recorded). Sets *flip when the
 * replay crossed a kink. */
static double value_at(tg_var out, tg_var p, double v, int *flip)
{
    tg_set(p, v);
    if (tg_replay(out.tape) == TG_FLIP) *flip = 1;
    return tg_value(out);
}

/* Central differences at steps h and h/2, combined by Richardson extrapolation: the O(h^2)
 * error terms cancel, leaving O(h^4). */
static double central_fd(tg_var out, tg_var p, double p0, double h, int *flip)
{
    double d1 = (value_at(out, p, p0 + h, flip) - value_at(out, p, p0 - h, flip)) / (2 * h);
    double d2 = (value_at(out, p, p0 + h / 2, flip) - value_at(out, p, p0 - h / 2, flip)) / h;
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

int tg_check_grad(tg_var out, int n, const tg_var *params, const tg_check_opts *opts,
                  tg_check_result *results, tg_check_report *report)
{
    if (!tg_resolve(out, "tg_check_grad")) return out.tape ? (int)out.tape->status : TG_ERR_ARG;
    tg_tape *t = out.tape;
    if (n < 0 || (n > 0 && !params))
        return tg_fail(t, TG_ERR_ARG, "tg_check_grad: %d parameters, params %s", n,
                       params ? "given" : "NULL");
    for (int k = 0; k < n; k++)
        if (check_param(t, params[k], k) != TG_OK) return t->status;
    double rtol, atol;
    tolerances(opts, &rtol, &atol);
    tg_check_result *r = results ? results : (n ? tg_mem(t, NULL, 0, (size_t)n * sizeof *r) : NULL);
    if (n && !r) return tg_fail(t, TG_ERR_NOMEM, "tg_check_grad: out of memory");

    int st = tg_backward(out);
    for (int k = 0; k < n && st == TG_OK; k++) r[k].reverse = tg_gradient(params[k]);
    for (int k = 0; k < n && st == TG_OK; k++) {
        double one = 1.0;
        st = tg_jvp(t, 1, &params[k], &one);
        r[k].forward = tg_tangent(out);
    }
    int check_nan = t->check_nan; /* probing may leave a function's domain on purpose */
    t->check_nan = 0;
    for (int k = 0; k < n && st == TG_OK; k++) {
        double p0 = tg_value(params[k]);
        volatile double up = p0 + cbrt(DBL_EPSILON) * fmax(1.0, fabs(p0));
        double h = up - p0; /* a step the representation of p0 + h holds exactly */
        int flip = 0;
        r[k].step = h;
        r[k].fd = central_fd(out, params[k], p0, h, &flip);
        tg_set(params[k], p0);
        st = tg_replay(t) == TG_FLIP ? TG_OK : t->status;
        r[k].kink = flip;
        r[k].undefined = !flip && !isfinite(r[k].fd);
    }
    t->check_nan = check_nan;
    if (st == TG_OK) st = tg_backward(out); /* leave the gradients of the unperturbed point */

    tg_check_report rep = {.n = n, .worst = -1};
    for (int k = 0; k < n && st == TG_OK; k++) {
        double ae, re, ae2, re2;
        int ok = agree(r[k].reverse, r[k].forward, rtol, atol, &ae, &re);
        if (!r[k].kink && !r[k].undefined) {
            ok &= agree(r[k].reverse, r[k].fd, rtol, atol, &ae2, &re2);
            ae = fmax(ae, ae2);
            re = fmax(re, re2);
        }
        r[k].abs_err = ae;
        r[k].rel_err = re;
        r[k].pass = ok;
        rep.failed += !ok;
        rep.kinks += r[k].kink;
        rep.undefined += r[k].undefined;
        if (rep.worst < 0 || re > rep.worst_rel) rep.worst = k, rep.worst_rel = re;
        rep.worst_abs = fmax(rep.worst_abs, ae);
    }
    if (!results && r) tg_mem(t, r, (size_t)n * sizeof *r, 0);
    if (report) *report = rep;
    if (st != TG_OK) return st;
    return rep.failed ? 1 : 0;
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
        fprintf(f, "%-12s %14.6e %14.6e %14.6e %10.2e %10.2e  %s\n", name, r[k].reverse,
                r[k].forward, r[k].fd, r[k].abs_err, r[k].rel_err,
                r[k].kink        ? "non-differentiable point (a kink within the step)"
                : r[k].undefined ? "finite differences undefined here (domain edge)"
                : r[k].pass      ? "ok"
                                 : "FAIL");
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

int tg_check_adjoints(tg_var out, int n, const tg_var *nodes, const double *expected,
                      const tg_check_opts *opts, tg_adjoint_report *report)
{
    if (n > 0 && !expected && out.tape)
        return tg_fail(out.tape, TG_ERR_ARG, "tg_check_adjoints: expected is NULL");
    array_claims c = {expected};
    return tg_check_adjoints_fn(out, n, nodes, from_array, &c, opts, report);
}

int tg_check_adjoints_fn(tg_var out, int n, const tg_var *nodes, tg_adjoint_fn fn, void *ud,
                         const tg_check_opts *opts, tg_adjoint_report *report)
{
    if (!tg_resolve(out, "tg_check_adjoints")) return out.tape ? (int)out.tape->status : TG_ERR_ARG;
    tg_tape *t = out.tape;
    if (n < 0 || (n > 0 && (!nodes || !fn)))
        return tg_fail(t, TG_ERR_ARG, "tg_check_adjoints: %d claims with nodes %s and claims %s",
                       n, nodes ? "given" : "NULL", fn ? "given" : "NULL");
    for (int k = 0; k < n; k++) {
        char what[32];
        snprintf(what, sizeof what, "nodes[%d]", k);
        if (!tg_resolve_on(t, nodes[k], "tg_check_adjoints", what)) return t->status;
    }
    double rtol, atol;
    tolerances(opts, &rtol, &atol);
    int st = tg_backward(out);
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
    if (report) *report = rep;
    return rep.failed ? 1 : 0;
}
