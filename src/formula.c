/* formula.c - tg_check_formula: a hand-written derivative against the tape's, at random
 * points, with central finite differences as a second opinion where they disagree most.
 * Points are drawn from a seeded splitmix64 (no global state). See LICENSE. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "workbench.h"

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(splitmix64(s) >> 11) * 0x1p-53);
}

/* The tape's derivative at the current point: reverse sweep (order 1) or the recorded
 * second derivative d2 (order 2, valid after the replay). */
static double tape_derivative(tg_var f, tg_var wrt, tg_var d2, int order)
{
    if (order == 2) return tg_value(d2);
    if (tg_backward(f) != TG_OK) return NAN;
    return tg_gradient(wrt);
}

/* f with x at v: a leaf is set and the tape replayed; another node (a step, for its adjoint)
 * takes v with the nodes it depends on unchanged, and only the nodes after it are replayed. */
static double value_at(tg_var f, tg_var x, double v, int *flip)
{
    tg_tape *t = f.tape;
    tg_node *nd = &t->nodes[x.index];
    if (tg_node_is_leaf(nd)) {
        tg_set(x, v);
        tg_replay(t);
    } else {
        nd->v = v;
        tg_replay_after(t, x.index);
    }
    if (tg_replay_note(t)) *flip = 1;
    return tg_value(f);
}

/* Central differences of f in x at x0, Richardson-extrapolated from steps h and h/2: the
 * first derivative (h = cbrt(eps)*scale) or the second (h = eps^(1/6)*scale, where the
 * O(h^4) truncation and the eps/h^2 rounding balance). x is left at x0 (not replayed). */
static double central(tg_var f, tg_var x, double x0, int order, int *flip)
{
    double scale = fmax(1.0, fabs(x0));
    volatile double up = x0 + (order == 1 ? cbrt(DBL_EPSILON) : pow(DBL_EPSILON, 1.0 / 6)) * scale;
    double h = up - x0, d[2];
    for (int k = 0; k < 2; k++, h /= 2) {
        double fp = value_at(f, x, x0 + h, flip), fm = value_at(f, x, x0 - h, flip);
        if (order == 1) d[k] = (fp - fm) / (2 * h);
        else d[k] = (fp - 2 * value_at(f, x, x0, flip) + fm) / (h * h);
    }
    f.tape->nodes[x.index].v = x0;
    return order == 1 ? (4 * d[1] - d[0]) / 3 : (16 * d[1] - d[0]) / 15;
}

/* The rounding allowance is not computed where the cone of f and hand holds more scalar
 * nodes than this: each point that needs it costs two replays a node. */
#define ALLOWANCE_NODES 2000

/* cone[i] = 1 for the scalar nodes up to last that f, hand or d2 are computed from (leaves
 * excepted: their values are the point, not roundings); returns how many, or -1 if that is
 * more than ALLOWANCE_NODES. */
static int mark_cone(const tg_tape *t, const uint32_t *outs, int nout, uint32_t last,
                     unsigned char *cone)
{
    memset(cone, 0, (size_t)last + 1);
    for (int k = 0; k < nout; k++) cone[outs[k]] = 2;
    int n = 0;
    for (uint32_t i = last + 1; i-- > 0;) {
        const tg_node *nd = &t->nodes[i];
        if (!cone[i] || tg_node_is_leaf(nd)) {
            cone[i] = 0;
            continue;
        }
        uint32_t idx[TG_MAX_ARITY];
        int m = tg_node_inputs(t, nd, idx);
        for (int j = 0; j < m; j++) cone[idx[j]] = 2;
        cone[i] = !tg_node_is_tensor(nd);
        if ((n += cone[i]) > ALLOWANCE_NODES) return -1;
    }
    return n;
}

/* How far rounding alone may move tape - hand (diff, as computed) at this point: each scalar
 * node of the cone moved by one ULP either way, which is what one rounding does, the tape's
 * derivative and the hand formula taken again, and the largest moves summed. A first-order
 * bound of both sides' rounding errors, through every cancellation after them:
 * in -log(1 - sigmoid(z)) at z = 30, 1 - sigmoid(z) is off by up to 1e-3 of its value, and
 * so is the derivative, and a hand formula right to the last digit must not be called wrong for it.
 * Anomaly mode is off meanwhile (a moved value may leave a domain: 1 - a at a = 1). The tape
 * is left as it was, but for its adjoints. */
static double rounding_allowance(tg_var f, tg_var wrt, tg_var d2, tg_var hand, int order,
                                 double diff, const unsigned char *cone, uint32_t last)
{
    tg_tape *t = f.tape;
    int check_nan = t->check_nan;
    tg_tape_check_nan(t, 0);
    double sum = 0;
    for (uint32_t i = 0; i <= last && !t->status; i++) {
        const double v = t->nodes[i].v;
        if (!cone[i] || v == 0 || !isfinite(v)) continue;
        double most = 0;
        for (int s = -1; s <= 1; s += 2) {
            t->nodes[i].v = nextafter(v, s * INFINITY);
            tg_replay_after(t, i);
            double moved = tape_derivative(f, wrt, d2, order) - tg_value(hand);
            most = fmax(most, fabs(moved - diff));
        }
        t->nodes[i].v = v;
        tg_replay_after(t, i);
        sum += most;
    }
    tg_tape_check_nan(t, check_nan);
    return isnan(sum) ? INFINITY : sum;
}

tg_status tg_check_formula(tg_var f, tg_var wrt, int order, tg_var hand, int ndraw,
                           const tg_var *draw,
                     const tg_formula_opts *o, tg_formula_report *rep)
{
    if (!tg_resolve(f, "tg_check_formula")) return f.tape ? (int)f.tape->status : TG_ERR_ARG;
    tg_tape *t = f.tape;
    if (t->status) return t->status;
    const tg_node *w = tg_resolve_on(t, wrt, "tg_check_formula", "wrt");
    if (!w || !tg_resolve_on(t, hand, "tg_check_formula", "hand")) return t->status;
    if (order != 1 && order != 2)
        return tg_fail(t, TG_ERR_ARG, "tg_check_formula: order %d (1 or 2)", order);
    if (w->op != &tg_leaf_param && (order == 2 || tg_node_is_leaf(w) || tg_node_is_tensor(w) ||
                                    wrt.index > f.index))
        return tg_fail(t, TG_ERR_ARG, "tg_check_formula: wrt (node #%u) is not a parameter%s",
                       wrt.index, order == 2 ? "" : " or a scalar node recorded before f");
    if (ndraw < 0 || (ndraw > 0 && !draw))
        return tg_fail(t, TG_ERR_ARG, "tg_check_formula: %d leaves to draw, draw is NULL", ndraw);
    if (!rep) return tg_fail(t, TG_ERR_ARG, "tg_check_formula: rep is NULL");
    for (int k = 0; k < ndraw; k++) {
        const tg_node *nd = tg_resolve_on(t, draw[k], "tg_check_formula", "a drawn leaf");
        if (!nd) return t->status;
        if (!tg_node_is_leaf(nd))
            return tg_fail(t, TG_ERR_ARG, "tg_check_formula: draw[%d] is not a leaf", k);
    }
    double lo = -3, hi = 3, rtol = 1e-6, atol = 1e-8;
    int samples = 200;
    uint64_t seed = 0;
    if (o) {
        if (o->lo != 0 || o->hi != 0) lo = o->lo, hi = o->hi;
        if (o->samples > 0) samples = o->samples;
        if (o->rtol > 0) rtol = o->rtol;
        if (o->atol > 0) atol = o->atol;
        seed = o->seed;
    }
    if (ndraw == 0) samples = 1;
    tg_var d2 = {0};
    if (order == 2) {
        d2 = tg_diff(tg_diff(f, wrt), wrt);
        if (t->status) return t->status;
    }
    tg_formula_report r = {0};
    const uint32_t outs[3] = {f.index, hand.index, d2.index};
    uint32_t last = hand.index > f.index ? hand.index : f.index;
    if (order == 2 && d2.index > last) last = d2.index;
    unsigned char *cone = tg_mem(t, NULL, 0, (size_t)last + 1);
    if (!cone) return tg_fail(t, TG_ERR_NOMEM, "tg_check_formula: out of memory");
    const int allow = mark_cone(t, outs, order == 2 ? 3 : 2, last, cone) >= 0;
    double worst = -1, at[64];
    double *best = ndraw <= 64 ? at : tg_mem(t, NULL, 0, (size_t)ndraw * sizeof *best);
    if (!best) {
        tg_mem(t, cone, (size_t)last + 1, 0);
        return tg_fail(t, TG_ERR_NOMEM, "tg_check_formula: out of memory");
    }
    for (int s = 0; s < samples; s++) {
        for (int k = 0; k < ndraw; k++) tg_set(draw[k], uniform(&seed, lo, hi));
        if (tg_replay(t) != TG_OK) break;
        double a = tape_derivative(f, wrt, d2, order), b = tg_value(hand);
        if (t->status) break;
        r.points++;
        if (!isfinite(a) || !isfinite(b) || !isfinite(tg_value(f))) {
            r.skipped++;
            continue;
        }
        r.compared++;
        double d = fabs(a - b), m = fmax(fabs(a), fabs(b)), tol = atol + rtol * m, more = 0;
        if (d > tol && allow) { /* the second chance: the rounding allowance, 4 ULP a node */
            more = 4 * rounding_allowance(f, wrt, d2, hand, order, a - b, cone, last);
            if (more >= m) { /* rounding could make either side what it is: no digit */
                r.compared--, r.skipped++, r.no_digits++;
                continue;
            }
            r.within_rounding += d <= tol + more;
            tol += more;
        }
        double excess = d / tol;
        if (excess > 1) r.failed++;
        if (excess > worst) {
            worst = excess;
            r.tape = a;
            r.hand = b;
            r.abs_err = d;
            r.rel_err = m > 0 ? d / m : 0;
            r.rounding = more;
            for (int k = 0; k < ndraw; k++) best[k] = tg_value(draw[k]);
        }
    }
    if (!t->status && r.compared > 0) { /* back to the worst point: the second opinion there */
        for (int k = 0; k < ndraw; k++) tg_set(draw[k], best[k]);
        int check_nan = t->check_nan; /* the steps may leave the domain on purpose */
        tg_tape_check_nan(t, 0);
        tg_replay(t); /* wrt's value (a step's) and its inputs' at that point */
        r.fd = central(f, wrt, tg_value(wrt), order, &r.fd_kink);
        tg_tape_check_nan(t, check_nan);
        if (tg_replay(t) == TG_OK) tape_derivative(f, wrt, d2, order);
    }
    if (best != at) tg_mem(t, best, (size_t)ndraw * sizeof *best, 0);
    tg_mem(t, cone, (size_t)last + 1, 0);
    r.agree = r.failed == 0 && r.compared > r.within_rounding; /* one point decides outright */
    *rep = r;
    return t->status;
}
