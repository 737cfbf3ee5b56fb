/* test_gradcheck.c - the registry walker: every registered op, at seeded random points, alone
 * and composed with other ops, is checked four ways: reverse mode against Richardson central
 * differences (tg_check_grad), forward against reverse (<jvp(u), v> = <u, vjp(v)>), tg_diff's
 * vjp_graph rules against the numeric reverse sweep, and second derivatives (tg_diff twice)
 * against central differences of the first derivative. Registration is enough to get tested.
 * Also: the documented kink values, and closed-form derivatives of the activations.
 * See LICENSE. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <stdarg.h>
#include <stdio.h>

#include "helpers.h"

#define NPOINTS 120       /* random points per op and per mode */
#define MAX_DRAWS 64      /* draws per point before giving up on finding the op's domain */
#define MIN_COMPARED 0.80 /* fraction of points that must really be compared */
#define MAX_SHOWN 8       /* failures shown per op; the rest are counted */

/* forward vs reverse, and tg_diff vs tg_backward: the same partials, summed in another order */
#define SAME_RTOL 1e-12
/* second derivatives against central differences of the first (Richardson, step 1e-4) */
#define D2_STEP 1e-4
#define D2_RTOL 1e-6

/* ---- reporting ---- */

#ifdef __GNUC__
__attribute__((format(printf, 3, 4)))
#endif
static void walk_fail(const th_walk_opts *o, th_walk_stats *st, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!o->quiet && st->failures < MAX_SHOWN) cr_expect(0, "%s", buf);
    st->failures++;
}

/* "pow(x1 = 0.5, x2 = -1.25) composite" */
static void describe(const tg_op_def *op, const double *x, int composite, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "%s(", op->name);
    for (int k = 0; k < op->arity && len < size; k++)
        len += (size_t)snprintf(buf + len, size - len, "%sx%d = %.17g", k ? ", " : "", k + 1, x[k]);
    if (len < size)
        snprintf(buf + len, size - len, ")%s", composite ? " applied to inner functions" : "");
}

/* ---- the inputs: the parameters themselves, or smooth functions of them ---- */

/* Inner function k of parameter p, so the chain rule runs through other ops:
 * u0 = sin p + 0.3 p,  u1 = cos p + 0.5 p,  u2 = tanh(p) * p + 0.25,  u3 = e^(0.3 p) - 0.5. */
static tg_var inner(tg_var p, int k)
{
    switch (k % 4) {
    case 0: return tg_add(tg_sin(p), tg_mul(tg_const_like(p, 0.3), p));
    case 1: return tg_add(tg_cos(p), tg_mul(tg_const_like(p, 0.5), p));
    case 2: return tg_add(tg_mul(tg_tanh(p), p), tg_const_like(p, 0.25));
    default: return tg_sub(tg_exp(tg_mul(tg_const_like(p, 0.3), p)), tg_const_like(p, 0.5));
    }
}

/* A stream of numbers determined by the point, for the dot-product test's u and v. */
static th_rng point_rng(const double *x, int n, int composite)
{
    uint64_t h = 0x243f6a8885a308d3ull + (uint64_t)composite;
    for (int k = 0; k < n; k++) {
        uint64_t b;
        memcpy(&b, &x[k], sizeof b);
        h = (h ^ b) * 0x100000001b3ull;
    }
    return th_rng_new(h);
}

/* d(value of f)/d(leaf p) by central differences on the recorded tape, Richardson-extrapolated
 * from steps h, h/2 and h/4: *out is the estimate from h/2 and h/4, *err its distance from the
 * estimate from h and h/2 (a bound on its truncation error, which shrinks 16-fold per halving).
 * Returns 0 when a replay crossed a kink or a value was not finite (nothing to compare). */
static int fd_of_node(tg_tape *t, tg_var f, tg_var p, double p0, double *out, double *err)
{
    double h = D2_STEP * fmax(1.0, fabs(p0)), v[6];
    const double at[6] = {p0 + h, p0 - h, p0 + h / 2, p0 - h / 2, p0 + h / 4, p0 - h / 4};
    int ok = 1;
    for (int i = 0; i < 6; i++) {
        tg_set(p, at[i]);
        int rc = tg_replay(t);
        if (rc != TG_OK || tg_replay_note(t)) ok = 0; /* an error, or a kink inside the step */
        v[i] = tg_value(f);
        if (!isfinite(v[i])) ok = 0;
    }
    tg_set(p, p0);
    tg_replay(t);
    double d1 = (v[0] - v[1]) / (2 * h), d2 = (v[2] - v[3]) / h, d4 = (v[4] - v[5]) * 2 / h;
    double r1 = (4 * d2 - d1) / 3, r2 = (4 * d4 - d2) / 3;
    *out = r2;
    *err = fabs(r1 - r2);
    return ok;
}

/* ---- one point ---- */

int th_walk_point(const tg_op_def *op, const double *x, int composite, const th_walk_opts *o,
                  th_walk_stats *st)
{
    int n = op->arity;
    char at[256];
    describe(op, x, composite, at, sizeof at);
    tg_tape *t = tg_tape_new();
    cr_assert_not_null(t, "tg_tape_new failed");
    tg_var p[TG_MAX_ARITY], in[TG_MAX_ARITY], d[TG_MAX_ARITY];
    double operand[TG_MAX_ARITY];
    for (int k = 0; k < n; k++) {
        p[k] = tg_param(t, x[k]);
        in[k] = composite ? inner(p[k], k) : p[k];
        operand[k] = tg_value(in[k]);
    }
    if (!th_op_admits(op, operand)) { /* refused operands (clamp's lo > hi): outside the domain */
        tg_tape_free(t);
        return 0;
    }
    tg_var y = tg_apply(op, n, in);
    if (tg_tape_status(t) != TG_OK) {
        walk_fail(o, st, "%s: recording failed: %s", at, tg_tape_error(t));
        tg_tape_free(t);
        return 1;
    }
    if (!isfinite(tg_value(y))) { /* outside the op's domain: not a point of the function */
        tg_tape_free(t);
        return 0;
    }
    st->points++;

    /* (a) reverse mode against central differences (and forward mode) */
    tg_check_result res[TG_MAX_ARITY];
    tg_check_report rep;
    tg_status rc = tg_check_grad(y, n, p, NULL, res, &rep);
    if (rc != TG_OK) {
        walk_fail(o, st, "%s: tg_check_grad could not run: status %d, %s", at, rc,
                  tg_tape_error(t) ? tg_tape_error(t) : "(no message)");
        tg_tape_free(t);
        return 1;
    }
    int kink = 0, undef = 0;
    for (int k = 0; k < n; k++) {
        kink |= res[k].kink;
        undef |= res[k].undefined;
        if (!res[k].pass)
            walk_fail(o, st, "%s: dy/dx%d: reverse %.17g, forward %.17g, finite differences "
                      "%.17g%s (rel err %.3g)", at, k + 1, res[k].reverse, res[k].forward,
                      res[k].fd, res[k].kink ? " [kink]" : res[k].undefined ? " [undefined]" : "",
                      res[k].rel_err);
    }
    if (kink)
        st->kinks++;
    else if (undef)
        st->undefined++;
    else
        st->compared++;

    /* the numeric reverse sweep at the point (tg_check_grad restored every value) */
    double g[TG_MAX_ARITY];
    cr_assert_eq(tg_backward(y), TG_OK, "%s: tg_backward failed: %s", at, tg_tape_error(t));
    for (int k = 0; k < n; k++) g[k] = tg_gradient(p[k]);

    /* (b) dot-product test: <jvp(u), v> = <u, vjp(v)> */
    th_rng r = point_rng(x, n, composite);
    double u[TG_MAX_ARITY], v = th_uniform(&r, 0.5, 2.0), rhs = 0, scale = 0;
    for (int k = 0; k < n; k++) {
        u[k] = th_uniform(&r, -1.0, 1.0);
        rhs += u[k] * g[k];
        scale += fabs(u[k]) * (1.0 + fabs(g[k]));
    }
    rhs *= v;
    cr_assert_eq(tg_jvp(t, n, p, u), TG_OK, "%s: tg_jvp failed: %s", at, tg_tape_error(t));
    double lhs = tg_tangent(y) * v;
    if (!th_close(lhs, rhs, SAME_RTOL, 1e-12 * v * scale))
        walk_fail(o, st, "%s: dot-product test: <jvp(u), v> = %.17g but <u, vjp(v)> = %.17g "
                  "(v = %g)", at, lhs, rhs, v);

    /* (c) tg_diff (the vjp_graph rules) against tg_backward (the partials) */
    for (int k = 0; k < n; k++) {
        d[k] = tg_diff(y, p[k]);
        if (tg_tape_status(t) != TG_OK) {
            walk_fail(o, st, "%s: tg_diff wrt x%d failed: %s", at, k + 1, tg_tape_error(t));
            tg_tape_free(t);
            return 1;
        }
        double dv = tg_value(d[k]);
        if (!th_close(dv, g[k], SAME_RTOL, 1e-14 * (1.0 + fabs(g[k]))))
            walk_fail(o, st, "%s: dy/dx%d: tg_diff gives %.17g, tg_backward gives %.17g", at,
                      k + 1, dv, g[k]);
    }

    /* (d) second derivatives: tg_diff twice against differences of the first derivative */
    for (int k = 0; k < n && !kink && !undef; k++) {
        for (int j = 0; j < n; j++) {
            tg_var dd = tg_diff(d[k], p[j]);
            if (tg_tape_status(t) != TG_OK) {
                walk_fail(o, st, "%s: tg_diff(dy/dx%d, x%d) failed: %s", at, k + 1, j + 1,
                          tg_tape_error(t));
                tg_tape_free(t);
                return 1;
            }
            double want, fderr, got = tg_value(dd), d1 = tg_value(d[k]);
            /* skipped: a kink or the domain's edge within the step, or differences too
             * inaccurate to judge (a singularity close by, as pow's at a = 0) */
            if (!fd_of_node(t, d[k], p[j], x[j], &want, &fderr) ||
                fderr > 1e-4 * fmax(1.0, fabs(want))) {
                st->d2_skipped++;
                continue;
            }
            st->d2_compared++;
            /* rounding in the differences is about eps*|f'|/h: allow 1000 times that, plus
             * the differences' own truncation error estimate */
            double atol = 1e-9 * (1.0 + fabs(d1)) * fmax(1.0, fabs(x[j])) + fderr;
            if (!th_close(got, want, D2_RTOL, atol))
                walk_fail(o, st, "%s: d2y/dx%d dx%d: tg_diff twice gives %.17g, differences of "
                          "dy/dx%d give %.17g (+- %.3g)", at, j + 1, k + 1, got, k + 1, want,
                          fderr);
        }
    }
    tg_tape_free(t);
    return 1;
}

/* ---- one op, one registry ---- */

void th_walk_op(const tg_op_def *op, const th_walk_opts *o, th_walk_stats *st)
{
    memset(st, 0, sizeof *st);
    cr_assert(op && op->arity >= 1 && op->arity <= TG_MAX_ARITY, "walker given a bad op");
    th_rng r = th_rng_new(th_seed(op->name, o->salt));
    int lost = 0;
    for (int mode = 0; mode < 2; mode++) {
        for (int i = 0; i < o->npoints; i++) {
            int found = 0;
            for (int draw = 0; draw < MAX_DRAWS && !found; draw++) {
                double x[TG_MAX_ARITY];
                for (int k = 0; k < op->arity; k++) x[k] = th_uniform(&r, -3.0, 3.0);
                found = th_walk_point(op, x, mode, o, st);
                st->redrawn += !found;
            }
            lost += !found;
        }
    }
    cr_log_info("%-10s %3d points: %3d compared with finite differences, %d at kinks, %d at "
                "domain edges, %d draws outside the domain; second derivatives %d compared, "
                "%d skipped; %d failures", op->name, st->points, st->compared, st->kinks,
                st->undefined, st->redrawn, st->d2_compared, st->d2_skipped, st->failures);
    if (o->quiet) return;
    cr_expect_eq(lost, 0, "%s: %d of %d points had no finite value in %d draws from [-3,3]",
                 op->name, lost, 2 * o->npoints, MAX_DRAWS);
    cr_expect(st->compared >= MIN_COMPARED * st->points,
              "%s: only %d of %d points were compared with finite differences (%d kinks, %d "
              "undefined); need %.0f%%", op->name, st->compared, st->points, st->kinks,
              st->undefined, 100 * MIN_COMPARED);
    cr_expect(st->d2_compared >= MIN_COMPARED * (st->d2_compared + st->d2_skipped),
              "%s: only %d of %d second derivatives were compared", op->name, st->d2_compared,
              st->d2_compared + st->d2_skipped);
    cr_expect_eq(st->failures, 0, "%s: %d checks failed (the first %d are shown above)",
                 op->name, st->failures, MAX_SHOWN);
}

int th_walk_registry(const tg_registry *r, const th_walk_opts *o, th_walk_stats *per_op)
{
    int n = tg_registry_count(r);
    for (int i = 0; i < n; i++) {
        const tg_op_def *op = tg_registry_at(r, i);
        cr_assert_not_null(op, "tg_registry_at(%d) is NULL with %d ops", i, n);
        if (!op->eval) continue; /* tensor-only ops: tests/test_tensor_ops.c walks them */
        th_walk_stats st;
        th_walk_op(op, o, &st);
        if (per_op) per_op[i] = st;
    }
    return n;
}

/* ---- the registry, one test per op ---- */

typedef struct op_name {
    char name[48];
} op_name;

ParameterizedTestParameters(gradcheck, every_registered_op_agrees_four_ways)
{
    tg_registry *r = tg_registry_new();
    int n = tg_registry_count(r);
    op_name *names = cr_malloc((size_t)(n > 0 ? n : 1) * sizeof *names);
    int m = 0; /* the scalar walker takes ops with an eval kernel; tensor-only ops are walked
                * by tests/test_tensor_ops.c */
    for (int i = 0; i < n; i++)
        if (tg_registry_at(r, i)->eval)
            snprintf(names[m++].name, sizeof names[0].name, "%s", tg_registry_at(r, i)->name);
    tg_registry_free(r);
    return cr_make_param_array(op_name, names, (size_t)m, NULL);
}

ParameterizedTest(op_name *param, gradcheck, every_registered_op_agrees_four_ways)
{
    tg_registry *r = tg_registry_new();
    cr_assert_not_null(r, "tg_registry_new failed");
    const tg_op_def *op = tg_registry_find(r, param->name);
    cr_assert_not_null(op, "op '%s' listed by the registry is not found by name", param->name);
    th_walk_opts o = {.npoints = NPOINTS, .salt = 1};
    th_walk_stats st;
    th_walk_op(op, &o, &st);
    tg_registry_free(r);
}

Test(gradcheck, walker_sees_every_op_of_the_registry)
{
    tg_registry *r = tg_registry_new();
    cr_assert_not_null(r);
    int n = tg_registry_count(r);
    cr_expect_gt(n, 0, "the registry is empty: the walker would check nothing");
    cr_expect_eq(n, tg_registry_count(NULL), "registry object has %d ops, the built-ins %d", n,
                 tg_registry_count(NULL));
    for (int i = 0; i < n; i++) {
        const tg_op_def *op = tg_registry_at(r, i);
        cr_assert_not_null(op, "tg_registry_at(%d) is NULL", i);
        cr_expect(op->arity >= 1 && op->arity <= TG_MAX_ARITY, "%s: arity %d", op->name,
                  op->arity);
        cr_expect(op->eval || (op->infer && op->forward && op->vjp),
                  "%s: neither an eval kernel nor tensor kernels", op->name);
        cr_expect_not_null(op->vjp_graph, "%s: no vjp_graph: tg_diff cannot go through it",
                           op->name);
    }
    cr_expect_null(tg_registry_at(r, n), "tg_registry_at(count) is not NULL");
    tg_registry_free(r);
}

/* ---- row kernels ---- */

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Every built-in elementwise op has a row kernel, and it gives exactly what eval gives, per
 * element, values and partials, for contiguous and stretched operands and with part NULL. */
Test(gradcheck, every_row_kernel_equals_its_eval_bit_for_bit)
{
    enum { LEN = 67 };
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 1e-300, 40.0, -40.0, 800.0, -800.0};
    th_rng rng = th_rng_new(77);
    int checked = 0;
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (!op->eval || op->infer) continue;
        cr_assert_not_null(op->eval_row, "%s: elementwise built-in without a row kernel",
                           op->name);
        const int n = op->arity;
        for (int trial = 0; trial < 40; trial++) {
            double in[TG_MAX_ARITY][LEN], y[LEN], part[LEN * TG_MAX_ARITY], y2[LEN];
            const double *x[TG_MAX_ARITY];
            size_t step[TG_MAX_ARITY];
            for (int j = 0; j < n; j++) {
                step[j] = (size_t)(th_next(&rng) % 3 != 0); /* a third of them stretched */
                for (int k = 0; k < LEN; k++)
                    in[j][k] = th_next(&rng) % 5 == 0
                                   ? special[th_next(&rng) % (sizeof special / sizeof *special)]
                                   : th_uniform(&rng, -4.0, 4.0);
                x[j] = in[j];
            }
            op->eval_row(LEN, x, step, y, part);
            op->eval_row(LEN, x, step, y2, NULL);
            for (int k = 0; k < LEN; k++) {
                double v[TG_MAX_ARITY], d[TG_MAX_ARITY];
                for (int j = 0; j < n; j++) v[j] = x[j][(size_t)k * step[j]];
                double want = op->eval(v, d);
                cr_assert(same_double(y[k], want) && same_double(y2[k], want),
                          "%s: element %d: row kernel %.17g (%.17g without partials), eval "
                          "%.17g", op->name, k, y[k], y2[k], want);
                for (int j = 0; j < n; j++)
                    cr_assert(same_double(part[k * n + j], d[j]),
                              "%s: element %d: row kernel dy/dx%d = %.17g, eval %.17g",
                              op->name, k, j + 1, part[k * n + j], d[j]);
            }
        }
        checked++;
    }
    cr_expect_geq(checked, 20, "only %d elementwise ops checked", checked);
}

/* Ops whose partials the tape does not keep (TG_PARTIALS_CONST, TG_PARTIALS_SWAP) say so
 * truthfully: eval's partials equal the ones the sweeps use instead, bit for bit. */
Test(gradcheck, partials_not_kept_are_what_eval_gives)
{
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 1e-300, 1e300, INFINITY, -INFINITY};
    th_rng rng = th_rng_new(78);
    int checked = 0;
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (op->partials == TG_PARTIALS_KEPT) continue;
        cr_assert(op->eval && !op->infer, "%s: partials form on an op without eval", op->name);
        cr_assert(op->partials != TG_PARTIALS_SWAP || op->arity == 2, "%s: swap on arity %d",
                  op->name, op->arity);
        for (int trial = 0; trial < 500; trial++) {
            double x[TG_MAX_ARITY], d[TG_MAX_ARITY], want[TG_MAX_ARITY];
            for (int j = 0; j < op->arity; j++)
                x[j] = trial < 64 ? special[(trial >> (3 * j)) % 8] : th_uniform(&rng, -5, 5);
            op->eval(x, d);
            for (int j = 0; j < op->arity; j++)
                want[j] = op->partials == TG_PARTIALS_SWAP ? x[1 - j] : op->dconst[j];
            for (int j = 0; j < op->arity; j++)
                cr_assert(same_double(d[j], want[j]), "%s at (%g, %g): eval's dy/dx%d = %.17g, "
                          "the sweeps use %.17g", op->name, x[0], op->arity > 1 ? x[1] : 0.0,
                          j + 1, d[j], want[j]);
        }
        checked++;
    }
    cr_expect_geq(checked, 4, "only %d ops with partials not kept (add, sub, mul, neg)",
                  checked);
}

/* ---- kinks ---- */

/* Every kinked op's documented derivatives at a point on its kink (docs/ops.md): the point x
 * and dy/dx[k] there for every operand. on_zero: the kink is operand 1 = 0 whatever the
 * others are, so the walker's inner functions (inner 0 is 0 at 0) keep it a kink. A built-in
 * with a branch rule and no row here fails kinked_ops_take_the_documented_value_at_the_kink. */
static const struct kink_case {
    const char *op;
    double x[TG_MAX_ARITY], want[TG_MAX_ARITY];
    int on_zero;
} kink_cases[] = {
    {"relu", {0}, {0}, 1},
    {"abs", {0}, {0}, 1},
    {"leaky_relu", {0, 0.1}, {0.1, 0}, 1}, /* dy/dslope = min(x, 0) */
    {"leaky_relu", {0, -0.3}, {-0.3, 0}, 1},
    {"step", {0}, {0}, 1},
    {"sign", {0}, {0}, 1},
    {"maximum", {0.25, 0.25}, {0.5, 0.5}, 0}, /* a tie: half each */
    {"maximum", {-2, -2}, {0.5, 0.5}, 0},
    {"minimum", {0.25, 0.25}, {0.5, 0.5}, 0},
    {"minimum", {3, 3}, {0.5, 0.5}, 0},
    {"clamp", {-1, -1, 2}, {1, 0, 0}, 0}, /* x = lo: x gets the gradient */
    {"clamp", {2, -1, 2}, {1, 0, 0}, 0},  /* x = hi */
    {"clamp", {0.5, 0.5, 0.5}, {1, 0, 0}, 0},
    {"lt", {0.25, 0.25}, {0, 0}, 0}, /* the comparisons: a jump where a = b, derivative 0 */
    {"le", {0.25, 0.25}, {0, 0}, 0},
    {"gt", {-1, -1}, {0, 0}, 0},
    {"ge", {-1, -1}, {0, 0}, 0},
};
#define NKINK_CASES (sizeof kink_cases / sizeof kink_cases[0])

/* The first pinned point of op, or NULL. */
static const struct kink_case *kink_case_of(const tg_op_def *op)
{
    for (size_t k = 0; k < NKINK_CASES; k++)
        if (strcmp(kink_cases[k].op, op->name) == 0) return &kink_cases[k];
    return NULL;
}

/* y = op(x), every operand a parameter; per operand k the gradient, the tangent for the seed
 * e_k and the value of tg_diff(y, x_k). */
static void kink_derivs(const tg_op_def *op, const double *x, double *grad, double *tan,
                        double *diff)
{
    tg_tape *t = tg_tape_new();
    tg_var p[TG_MAX_ARITY];
    for (int k = 0; k < op->arity; k++) p[k] = tg_param(t, x[k]);
    tg_var y = tg_apply(op, op->arity, p);
    cr_assert_eq(tg_backward(y), TG_OK, "%s: %s", op->name, tg_tape_error(t));
    for (int k = 0; k < op->arity; k++) grad[k] = tg_gradient(p[k]);
    for (int k = 0; k < op->arity; k++) {
        double one = 1.0;
        cr_assert_eq(tg_jvp(t, 1, &p[k], &one), TG_OK, "%s: %s", op->name, tg_tape_error(t));
        tan[k] = tg_tangent(y);
        diff[k] = tg_value(tg_diff(y, p[k]));
    }
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s: %s", op->name, tg_tape_error(t));
    tg_tape_free(t);
}

Test(gradcheck, kinked_ops_take_the_documented_value_at_the_kink)
{
    for (size_t i = 0; i < NKINK_CASES; i++) {
        const struct kink_case *c = &kink_cases[i];
        const tg_op_def *op = tg_registry_find(NULL, c->op);
        cr_assert_not_null(op, "op %s is not registered", c->op);
        cr_expect_not_null(op->branch, "%s is pinned here but has no branch rule", c->op);
        char at[256];
        describe(op, c->x, 0, at, sizeof at);
        double g[TG_MAX_ARITY], tn[TG_MAX_ARITY], df[TG_MAX_ARITY];
        kink_derivs(op, c->x, g, tn, df);
        for (int k = 0; k < op->arity; k++) {
            cr_expect_eq(g[k], c->want[k], "%s: dy/dx%d: tg_backward gives %.17g, expected %g",
                         at, k + 1, g[k], c->want[k]);
            cr_expect_eq(tn[k], c->want[k], "%s: dy/dx%d: tg_jvp gives %.17g, expected %g", at,
                         k + 1, tn[k], c->want[k]);
            cr_expect_eq(df[k], c->want[k], "%s: dy/dx%d: tg_diff gives %.17g, expected %g", at,
                         k + 1, df[k], c->want[k]);
        }
    }
    /* every built-in with a branch rule has its documented value pinned here: a new kinked op
     * fails this test until its row is added above */
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (op->branch)
            cr_expect_not_null(kink_case_of(op), "%s has a branch rule but no pinned value at "
                               "its kink in this test", op->name);
    }
}

Test(gradcheck, check_grad_reports_a_kink_not_a_failure)
{
    tg_registry *r = tg_registry_new();
    int nkinked = 0;
    for (int i = 0; i < tg_registry_count(r); i++) {
        const tg_op_def *op = tg_registry_at(r, i);
        const struct kink_case *c = op->branch ? kink_case_of(op) : NULL;
        if (!c) continue; /* a kinked op without a pinned point fails the test above */
        nkinked++;
        const double at[] = {0.0, 1e-12, -1e-12}; /* moves operand 1 off the kink */
        for (size_t j = 0; j < sizeof at / sizeof at[0]; j++) {
            tg_tape *t = tg_tape_new();
            tg_var p[TG_MAX_ARITY];
            for (int k = 0; k < op->arity; k++) p[k] = tg_param(t, c->x[k] + (k ? 0 : at[j]));
            tg_var y = tg_apply(op, op->arity, p);
            tg_check_result res[TG_MAX_ARITY];
            tg_check_report rep;
            tg_status rc = tg_check_grad(y, 1, p, NULL, res, &rep);
            cr_assert_eq(rc, TG_OK, "%s", tg_tape_error(t));
            cr_expect_eq(rep.failed, 0, "%s at x1 = kink%+g: %d failed (kink %d, reverse "
                         "%.17g, forward %.17g, fd %.17g)", op->name, at[j], rep.failed,
                         res[0].kink, res[0].reverse, res[0].forward, res[0].fd);
            cr_expect_eq(res[0].kink, 1, "%s at x1 = kink%+g: kink = %d, expected 1 (fd %.17g)",
                         op->name, at[j], res[0].kink, res[0].fd);
            cr_expect_eq(res[0].pass, 1, "%s at x1 = kink%+g: a kink counted as a failure",
                         op->name, at[j]);
            cr_expect_eq(rep.kinks, 1, "%s at x1 = kink%+g: report.kinks = %d", op->name, at[j],
                         rep.kinks);
            cr_expect_eq(tg_value(p[0]), c->x[0] + at[j], "%s: the parameter was not restored",
                         op->name);
            tg_tape_free(t);
        }
    }
    cr_expect_geq(nkinked, 8, "expected relu, abs, leaky_relu, step, sign, maximum, minimum and "
                  "clamp to have a branch rule, found %d kinked ops", nkinked);
    tg_registry_free(r);
}

Test(gradcheck, walker_skips_and_counts_points_on_a_kink)
{
    tg_registry *r = tg_registry_new();
    th_walk_opts o = {.npoints = 1};
    for (int i = 0; i < tg_registry_count(r); i++) {
        const tg_op_def *op = tg_registry_at(r, i);
        const struct kink_case *c = op->branch ? kink_case_of(op) : NULL;
        if (!c) continue;
        cr_assert_eq(op->branch(c->x), 0.0, "%s: branch quantity at its pinned kink is %g",
                     op->name, op->branch(c->x));
        /* composite: inner function 0 is sin p + 0.3 p, which is 0 at p = 0 too; a kink that
         * depends on the other operands (a tie) is not one of the inner functions' values */
        for (int mode = 0; mode < (c->on_zero ? 2 : 1); mode++) {
            double x[TG_MAX_ARITY] = {0.0, 0.25, 0.25, 0.25};
            if (!c->on_zero) memcpy(x, c->x, sizeof x);
            th_walk_stats st = {0};
            int visited = th_walk_point(op, x, mode, &o, &st);
            cr_expect_eq(visited, 1, "%s: the kink point was treated as outside the domain",
                         op->name);
            cr_expect_eq(st.kinks, 1, "%s (mode %d): kinks = %d, expected 1", op->name, mode,
                         st.kinks);
            cr_expect_eq(st.compared, 0, "%s (mode %d): a point on the kink was compared",
                         op->name, mode);
            cr_expect_eq(st.failures, 0, "%s (mode %d): %d failures at the kink", op->name,
                         mode, st.failures);
        }
    }
    tg_registry_free(r);
}

Test(gradcheck, domain_edge_is_undefined_not_a_failure)
{
    /* tapegrad.h: undefined = 1 when "a perturbation left the function's domain (fd is NaN or
     * Inf, as for sqrt at 1e-9): fd is not compared"; reverse and forward still are */
    const double at[] = {1e-9, 1e-300, 0.0};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        tg_tape *t = tg_tape_new();
        tg_var p = tg_param(t, at[i]), y = tg_sqrt(p);
        tg_check_result res;
        tg_check_report rep;
        tg_status rc = tg_check_grad(y, 1, &p, NULL, &res, &rep);
        cr_expect_eq(res.undefined, 1, "sqrt at %g: undefined = %d (fd %.17g)", at[i],
                     res.undefined, res.fd);
        cr_expect_eq(res.reverse, res.forward, "sqrt at %g: reverse %.17g, forward %.17g", at[i],
                     res.reverse, res.forward);
        cr_assert_eq(rc, TG_OK, "%s", tg_tape_error(t));
        cr_expect_eq(rep.failed, 0, "sqrt at %g: %d failed with reverse = forward = %.17g and "
                     "fd undefined", at[i], rep.failed, res.reverse);
        cr_expect_eq(rep.failed, 0, "sqrt at %g: %d failed", at[i], rep.failed);
        tg_tape_free(t);
    }
}

Test(gradcheck, check_grad_restores_values_gradients_and_branches)
{
    tg_tape *t = tg_tape_new();
    tg_var p[2] = {tg_param(t, 1e-7), tg_param(t, 0.8)};
    tg_var y = tg_mul(tg_relu(p[0]), tg_exp(p[1]));
    tg_var e = tg_add(y, tg_mul(p[1], p[1]));
    cr_assert_eq(tg_backward(e), TG_OK);
    double v = tg_value(e), g0 = tg_gradient(p[0]), g1 = tg_gradient(p[1]);
    tg_check_result res[2];
    tg_check_report rep;
    cr_expect_eq(tg_check_grad(e, 2, p, NULL, res, &rep), 0, "rc with a kink at p1");
    cr_expect_eq(res[0].kink, 1, "p1 = 1e-7 is within a step of relu's kink");
    cr_expect_eq(rep.kinks, 1);
    cr_expect_eq(tg_value(p[0]), 1e-7);
    cr_expect_eq(tg_value(e), v, "value after the check %.17g, before %.17g", tg_value(e), v);
    cr_expect_eq(tg_gradient(p[0]), g0, "gradient after the check %.17g, before %.17g",
                 tg_gradient(p[0]), g0);
    cr_expect_eq(tg_gradient(p[1]), g1, "gradient after the check %.17g, before %.17g",
                 tg_gradient(p[1]), g1);
    cr_expect_eq(tg_replay(t), TG_OK, "the branch signs were not restored: %s",
                 tg_replay_note(t) ? tg_replay_note(t) : "");
    tg_tape_free(t);
}

/* At special inputs (0, -0, +-1, 0.5, -2 in every combination) finite differences mean little,
 * but the three routes to a derivative must still agree: the partials (tg_backward), forward
 * mode (tg_jvp) and the recorded rule (tg_diff). A convention taken in one ("dy/db := 0 where
 * y = 0") must be taken in all. NaN agrees with NaN (a derivative that does not exist). */
Test(gradcheck, derivative_routes_agree_at_special_points)
{
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 0.5, -2.0};
    const int ns = (int)(sizeof special / sizeof special[0]);
    tg_registry *r = tg_registry_new();
    tg_tape *t = tg_tape_new();
    int compared = 0;
    for (int i = 0; i < tg_registry_count(r); i++) {
        const tg_op_def *op = tg_registry_at(r, i);
        if (!op->eval) continue; /* special points of tensor-only ops: test_tensor_ops.c */
        int n = op->arity, combos = 1;
        for (int k = 0; k < n; k++) combos *= ns;
        for (int c = 0; c < combos; c++) {
            double x[TG_MAX_ARITY];
            char at[256];
            for (int k = 0, q = c; k < n; k++, q /= ns) x[k] = special[q % ns];
            describe(op, x, 0, at, sizeof at);
            tg_tape_reset(t);
            tg_var p[TG_MAX_ARITY];
            for (int k = 0; k < n; k++) p[k] = tg_param(t, x[k]);
            tg_var y = tg_apply(op, n, p);
            if (!isfinite(tg_value(y))) continue; /* outside the domain */
            cr_assert_eq(tg_backward(y), TG_OK, "%s: %s", at, tg_tape_error(t));
            double g[TG_MAX_ARITY];
            for (int k = 0; k < n; k++) g[k] = tg_gradient(p[k]);
            for (int k = 0; k < n; k++) {
                double one = 1.0;
                cr_assert_eq(tg_jvp(t, 1, &p[k], &one), TG_OK, "%s: %s", at, tg_tape_error(t));
                double fwd = tg_tangent(y), dv = tg_value(tg_diff(y, p[k]));
                cr_assert_eq(tg_tape_status(t), TG_OK, "%s: %s", at, tg_tape_error(t));
                cr_expect(th_close(fwd, g[k], SAME_RTOL, 0), "%s: dy/dx%d: tg_jvp %.17g, "
                          "tg_backward %.17g", at, k + 1, fwd, g[k]);
                cr_expect(th_close(dv, g[k], SAME_RTOL, 0), "%s: dy/dx%d: tg_diff %.17g, "
                          "tg_backward %.17g", at, k + 1, dv, g[k]);
                compared++;
            }
        }
    }
    cr_log_info("special points: %d derivatives compared three ways", compared);
    cr_expect_gt(compared, 0);
    tg_tape_free(t);
    tg_registry_free(r);
}

/* ---- closed forms ---- */

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* g'(x) from tg_backward and g''(x) from tg_diff twice, for the builder g at x. */
static void derivs(tg_var (*g)(tg_var), double x, double *d1, double *d2)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, x), y = g(p);
    cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
    *d1 = tg_gradient(p);
    *d2 = tg_value(tg_diff(tg_diff(y, p), p));
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    tg_tape_free(t);
}

typedef double (*closed_fn)(double x);

static void expect_closed_form(const char *name, tg_var (*g)(tg_var), closed_fn want1,
                               closed_fn want2)
{
    for (double x = -4.0; x <= 4.0; x += 0.173) {
        double d1, d2;
        derivs(g, x, &d1, &d2);
        if (want1)
            cr_expect(th_close(d1, want1(x), 1e-12, 1e-15), "%s'(%.17g): tg_backward %.17g, "
                      "closed form %.17g", name, x, d1, want1(x));
        if (want2)
            cr_expect(th_close(d2, want2(x), 1e-12, 1e-15), "%s''(%.17g): tg_diff twice %.17g, "
                      "closed form %.17g", name, x, d2, want2(x));
    }
}

static double sigmoid_d1(double x) { return sigm(x) * (1 - sigm(x)); }
static double sigmoid_d2(double x) { return sigm(x) * (1 - sigm(x)) * (1 - 2 * sigm(x)); }
static double tanh_d1(double x) { return 1 - tanh(x) * tanh(x); }
static double tanh_d2(double x) { return -2 * tanh(x) * (1 - tanh(x) * tanh(x)); }
static double softplus_d2(double x) { return sigm(x) * (1 - sigm(x)); }
static double silu_d1(double x) { return sigm(x) * (1 + x * (1 - sigm(x))); }
static double gelu_d1(double x)
{
    return 0.5 * erfc(-x * INV_SQRT2) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
}

Test(gradcheck, sigmoid_derivative_is_s_times_one_minus_s)
{
    expect_closed_form("sigmoid", tg_sigmoid, sigmoid_d1, NULL);
}

Test(gradcheck, tanh_derivative_is_one_minus_t_squared)
{
    expect_closed_form("tanh", tg_tanh, tanh_d1, NULL);
}

Test(gradcheck, softplus_derivative_is_sigmoid)
{
    expect_closed_form("softplus", tg_softplus, sigm, NULL);
}

Test(gradcheck, silu_derivative_is_s_times_one_plus_x_times_one_minus_s)
{
    expect_closed_form("silu", tg_silu, silu_d1, NULL);
}

Test(gradcheck, gelu_derivative_is_Phi_plus_x_phi)
{
    expect_closed_form("gelu", tg_gelu, gelu_d1, NULL);
}

Test(gradcheck, sigmoid_second_derivative_is_s_one_minus_s_one_minus_2s)
{
    expect_closed_form("sigmoid", tg_sigmoid, NULL, sigmoid_d2);
}

Test(gradcheck, tanh_second_derivative_is_minus_2t_times_one_minus_t_squared)
{
    expect_closed_form("tanh", tg_tanh, NULL, tanh_d2);
}

Test(gradcheck, softplus_second_derivative_is_s_times_one_minus_s)
{
    expect_closed_form("softplus", tg_softplus, NULL, softplus_d2);
}

