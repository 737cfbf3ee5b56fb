/* test_oom.c - out of memory: an allocator that refuses the k-th allocation, for every k
 * through a realistic workload (the article's 2-3-1 network, labelled, swept every way). Each
 * failure must be reported as TG_ERR_NOMEM, crash nothing, leak nothing, and leave a tape that
 * works again after tg_tape_reset. See LICENSE. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>

#include "helpers.h"

#define NPARAMS 13
#define MAX_K 100000 /* a bound on the loop, far above the workload's allocation count */

/* What a workload run computed, for comparing a recovered run with a clean one. */
typedef struct outcome {
    int status;
    double e, grad[NPARAMS], d1, d2, tangent;
    tg_status check_st;
    int check_failed; /* the check's verdict: parameters that failed */
} outcome;

/* tg_parse's binder: the names u and v are two of the workload's nodes. */
static tg_var bind_uv(void *ud, tg_tape *t, const char *name)
{
    const tg_var *uv = ud;
    (void)t;
    return name[0] == 'u' ? uv[0] : uv[1];
}

/* The article's network: inputs x1, x2, target y; hidden z_j = w_j1 x1 + w_j2 x2 + b_j,
 * a_j = sigmoid(z_j); output z = sum_j v_j a_j + c, o = sigmoid(z); E = (o - y)^2 / 2, plus a
 * small relu term so the kink table is used, and a term written as an expression and parsed
 * (tg_parse: its private name table and the labels it sets come from the tape's allocator).
 * Every leaf and layer is labelled. Then backward, tg_diff twice, tg_check_grad (letting it
 * allocate its results) and tg_jvp. */
static outcome workload(tg_tape *t)
{
    outcome r;
    memset(&r, 0, sizeof r);
    char name[32];
    tg_var x1 = tg_const(t, 0.05), x2 = tg_const(t, 0.10), y = tg_const(t, 0.01);
    tg_label(x1, "x1");
    tg_label(x2, "x2");
    tg_label(y, "y");
    tg_var p[NPARAMS];
    int np = 0;
    tg_var a[3];
    for (int j = 0; j < 3; j++) {
        tg_var w1 = tg_param(t, 0.15 + 0.05 * j), w2 = tg_param(t, 0.20 - 0.03 * j);
        tg_var b = tg_param(t, 0.35);
        snprintf(name, sizeof name, "w%d1[1]", j + 1);
        tg_label(w1, name);
        snprintf(name, sizeof name, "w%d2[1]", j + 1);
        tg_label(w2, name);
        snprintf(name, sizeof name, "b%d[1]", j + 1);
        tg_label(b, name);
        p[np++] = w1;
        p[np++] = w2;
        p[np++] = b;
        tg_var z = tg_add(tg_add(tg_mul(w1, x1), tg_mul(w2, x2)), b);
        snprintf(name, sizeof name, "z%d[1]", j + 1);
        tg_label(z, name);
        a[j] = tg_sigmoid(z);
        snprintf(name, sizeof name, "a%d[1]", j + 1);
        tg_label(a[j], name);
    }
    tg_var z = tg_param(t, 0.60);
    tg_label(z, "b1[2]");
    p[np++] = z;
    for (int j = 0; j < 3; j++) {
        tg_var v = tg_param(t, 0.40 + 0.05 * j);
        snprintf(name, sizeof name, "w1%d[2]", j + 1);
        tg_label(v, name);
        p[np++] = v;
        z = tg_add(z, tg_mul(v, a[j]));
    }
    tg_label(z, "z1[2]");
    tg_var o = tg_sigmoid(z);
    tg_label(o, "a1[2]");
    tg_var d = tg_sub(o, y);
    tg_var uv[2] = {z, o};
    tg_parse_opts po = {.bind = bind_uv, .bind_ud = uv};
    tg_parse_error perr;
    tg_var parsed = tg_parse(t, "u*sigmoid(1.702*u) + log(1 + exp(v - 2))", NULL, &po, &perr);
    tg_var e = tg_add(tg_add(tg_mul(tg_const(t, 0.5), tg_mul(d, d)),
                             tg_mul(tg_const(t, 1e-3), tg_relu(z))),
                      tg_mul(tg_const(t, 1e-3), parsed));
    tg_label(e, "E");

    r.e = tg_value(e);
    if (tg_backward(e) == TG_OK)
        for (int k = 0; k < NPARAMS; k++) r.grad[k] = tg_gradient(p[k]);
    tg_var g = tg_diff(e, p[0]);
    tg_var h = tg_diff(g, p[9]);
    r.d1 = tg_value(g);
    r.d2 = tg_value(h);
    tg_check_report rep;
    r.check_st = tg_check_grad(e, NPARAMS, p, NULL, NULL, &rep);
    r.check_failed = r.check_st == TG_OK ? rep.failed : -1;
    double u[NPARAMS];
    for (int k = 0; k < NPARAMS; k++) u[k] = 1.0 / (k + 1);
    if (tg_jvp(t, NPARAMS, p, u) == TG_OK) r.tangent = tg_tangent(e);
    r.status = tg_tape_status(t);
    return r;
}

static void expect_same(const void *got_, const void *want_, size_t k)
{
    const outcome *got = got_, *want = want_;
    cr_expect_eq(got->status, TG_OK, "k = %zu: the recovered run failed: status %d", k,
                 got->status);
    cr_expect_eq(got->e, want->e, "k = %zu: E %.17g, clean run %.17g", k, got->e, want->e);
    for (int i = 0; i < NPARAMS; i++)
        cr_expect_eq(got->grad[i], want->grad[i], "k = %zu: dE/dp%d %.17g, clean run %.17g", k,
                     i, got->grad[i], want->grad[i]);
    cr_expect_eq(got->d1, want->d1, "k = %zu: tg_diff %.17g, clean run %.17g", k, got->d1,
                 want->d1);
    cr_expect_eq(got->d2, want->d2, "k = %zu: tg_diff twice %.17g, clean run %.17g", k, got->d2,
                 want->d2);
    cr_expect_eq(got->check_st, want->check_st, "k = %zu: tg_check_grad %d, clean run %d", k,
                 got->check_st, want->check_st);
    cr_expect_eq(got->check_failed, want->check_failed, "k = %zu: %d failed, clean run %d", k,
                 got->check_failed, want->check_failed);
    cr_expect_eq(got->tangent, want->tangent, "k = %zu: jvp %.17g, clean run %.17g", k,
                 got->tangent, want->tangent);
}

/* A workload for the failure walk: run records and sweeps on t, its results into out (of
 * size bytes); same checks a recovered run's results against a clean run's. */
typedef struct walk {
    const char *name;
    void (*run)(tg_tape *t, void *out);
    void (*same)(const void *got, const void *want, size_t k);
    size_t size;
} walk;

/* Run w with allocation k refused (and, with after, every one from k on). Returns 1 when an
 * allocation was refused, 0 when the run needed fewer than k. */
static int run_failing_at(const walk *w, size_t k, int after, const void *clean)
{
    th_alloc a;
    memset(&a, 0, sizeof a);
    a.fail_at = k;
    a.fail_after = after;
    tg_tape *t = tg_tape_new_with(th_alloc_fn, &a);
    if (!t) {
        cr_expect_eq(k, 1, "%s: tg_tape_new_with returned NULL although allocation %zu failed, "
                     "not the tape's own", w->name, k);
        cr_expect_eq(a.live, 0, "%s, k = %zu: a failed tg_tape_new_with leaked %lld bytes",
                     w->name, k, a.live);
        return 1;
    }
    void *got = malloc(w->size); /* outside the tape's allocator */
    cr_assert_not_null(got);
    w->run(t, got);
    int failed = a.failures > 0;
    if (failed) {
        cr_expect_eq(tg_tape_status(t), TG_ERR_NOMEM, "%s, k = %zu%s: allocation refused, "
                     "status %d (%s)", w->name, k, after ? " and after" : "",
                     tg_tape_status(t), tg_tape_error(t) ? tg_tape_error(t) : "no message");
        const char *m = tg_tape_error(t);
        cr_expect(m && strstr(m, "out of memory"), "%s, k = %zu: message does not say out of "
                  "memory: %s", w->name, k, m ? m : "(none)");
        /* the allocator recovers; after a reset the tape works again */
        a.fail_at = 0;
        tg_tape_reset(t);
        w->run(t, got);
    }
    w->same(got, clean, k);
    free(got);
    tg_tape_free(t);
    cr_expect_eq(a.live, 0, "%s, k = %zu%s: %lld bytes leaked", w->name, k,
                 after ? " and after" : "", a.live);
    cr_expect_eq(a.allocated, a.freed, "%s, k = %zu: allocated %zu, freed %zu", w->name, k,
                 a.allocated, a.freed);
    cr_expect_eq(a.bad_osize, 0, "%s, k = %zu: %zu frees with a wrong old size", w->name, k,
                 a.bad_osize);
    return failed;
}

/* Walk k = 1, 2, ... until a run completes; returns how many failure points there were. */
static size_t walk_all(const walk *w, int after, const void *clean)
{
    size_t k = 1;
    while (k < MAX_K && run_failing_at(w, k, after, clean)) k++;
    cr_expect_lt(k, MAX_K, "%s: the workload never completed", w->name);
    cr_expect_gt(k, 10, "%s: only %zu allocations: the hook is bypassed?", w->name, k - 1);
    cr_log_info("oom: %zu failure points exercised in the %s workload (%s)", k - 1, w->name,
                after ? "every allocation refused from the k-th on" : "one refused allocation "
                "each");
    return k - 1;
}

static void article_run(tg_tape *t, void *out) { *(outcome *)out = workload(t); }
static const walk article_walk = {"article", article_run, expect_same, sizeof(outcome)};

static outcome clean_run(void)
{
    tg_tape *t = tg_tape_new();
    cr_assert_not_null(t);
    outcome r = workload(t);
    cr_assert_eq(r.status, TG_OK, "the workload fails without any injected failure: %s",
                 tg_tape_error(t));
    cr_assert_eq(r.check_st, TG_OK, "the workload's gradient check cannot run");
    cr_assert_eq(r.check_failed, 0, "the workload's gradient check fails");
    cr_assert_eq(tg_tape_size(t) >= 40, 1, "the workload records only %zu nodes",
                 tg_tape_size(t));
    tg_tape_free(t);
    return r;
}

Test(oom, each_failed_allocation_is_reported_and_recoverable)
{
    outcome clean = clean_run();
    walk_all(&article_walk, 0, &clean);
}

Test(oom, an_allocator_that_stays_exhausted_is_survived)
{
    outcome clean = clean_run();
    walk_all(&article_walk, 1, &clean);
}

Test(oom, tape_new_with_a_failing_first_allocation_returns_null)
{
    th_alloc a;
    memset(&a, 0, sizeof a);
    a.fail_at = 1;
    tg_tape *t = tg_tape_new_with(th_alloc_fn, &a);
    cr_expect_null(t, "tg_tape_new_with gave a tape although its allocation failed");
    cr_expect_eq(a.failures, 1);
    cr_expect_eq(a.live, 0);
    tg_tape_free(t);
}

/* ---- a tensor workload: tensors of several shapes, matmul, softmax, cross entropy, slices,
 * reductions, backward, tg_jvp, replay, tg_diff_many and a dense tg_hessian ---- */

#define TNP 3 /* parameters: W [3,2], b [2], s (scalar) */
#define TNE 9 /* their elements */

typedef struct toutcome {
    int status;
    double loss, grad[TNE], tangent, hess[TNE * TNE], dmany[TNP];
    int replay_rc, diff_rc, hess_rc;
} toutcome;

static toutcome tensor_workload(tg_tape *t)
{
    toutcome r;
    memset(&r, 0, sizeof r);
    const int xs[2] = {4, 3}, ws[2] = {3, 2}, bs[1] = {2};
    const double x[12] = {0.1, -0.2, 0.3, 0.4, 0.5, -0.6, -0.7, 0.8, 0.9, 1.0, -1.1, 0.2};
    const double w[6] = {0.5, -0.1, 0.2, 0.3, -0.4, 0.6}, b[2] = {0.05, -0.05};
    const int labels[4] = {0, 1, 1, 0};
    tg_var X = tg_tensor_const(t, 2, xs, x), W = tg_tensor_param(t, 2, ws, w);
    tg_var B = tg_tensor_param(t, 1, bs, b), s = tg_param(t, 0.7);
    tg_label(W, "W");
    tg_var h = tg_tanh(tg_add(tg_matmul(X, W), B));            /* [4,2] */
    tg_var ce = tg_cross_entropy(tg_mul(h, s), labels);          /* scalar */
    tg_var top = tg_slice(tg_softmax(h), 0, 0, 2);               /* [2,2] */
    tg_var reg = tg_mean(tg_sum_axis(tg_mul(top, top), -1, 0));  /* scalar */
    tg_var wsq = tg_sum(tg_mul(tg_reshape(W, 1, (int[]){6}), tg_reshape(W, 1, (int[]){6})));
    tg_var loss = tg_add(tg_add(ce, reg), tg_mul(tg_const(t, 1e-2), tg_add(wsq, tg_relu(s))));
    tg_label(loss, "loss");
    r.loss = tg_value(loss);
    if (tg_backward(loss) == TG_OK) {
        const double *gw = tg_gradient_data(W), *gb = tg_gradient_data(B);
        for (int i = 0; i < 6; i++) r.grad[i] = gw ? gw[i] : NAN;
        for (int i = 0; i < 2; i++) r.grad[6 + i] = gb ? gb[i] : NAN;
        r.grad[8] = tg_gradient(s);
    }
    tg_var p[TNP] = {W, B, s};
    double u[TNE];
    for (int k = 0; k < TNE; k++) u[k] = 1.0 / (k + 2);
    if (tg_jvp(t, TNP, p, u) == TG_OK) r.tangent = tg_tangent(loss);
    tg_set(s, 0.75);
    r.replay_rc = tg_replay(t);
    /* tg_diff_many over the scalar parameter and two reductions of the tensor ones */
    tg_var d[TNP], wrt[TNP] = {s, s, s};
    r.diff_rc = tg_diff_many(loss, TNP, wrt, d);
    if (r.diff_rc == TG_OK)
        for (int k = 0; k < TNP; k++) r.dmany[k] = tg_value(d[k]);
    r.hess_rc = tg_hessian(loss, TNP, p, r.hess);
    r.status = tg_tape_status(t);
    return r;
}

static void texpect_same(const void *got_, const void *want_, size_t k)
{
    const toutcome *got = got_, *want = want_;
    cr_expect_eq(got->status, TG_OK, "k = %zu: the recovered run failed: %d", k, got->status);
    int same = got->loss == want->loss && got->tangent == want->tangent &&
               got->replay_rc == want->replay_rc && got->diff_rc == want->diff_rc &&
               got->hess_rc == want->hess_rc;
    for (int i = 0; i < TNE; i++) same = same && got->grad[i] == want->grad[i];
    for (int i = 0; i < TNE * TNE; i++) same = same && got->hess[i] == want->hess[i];
    for (int i = 0; i < TNP; i++) same = same && got->dmany[i] == want->dmany[i];
    cr_expect(same, "k = %zu: the recovered run differs from the clean one (loss %.17g vs "
              "%.17g)", k, got->loss, want->loss);
}

static void tensor_run(tg_tape *t, void *out) { *(toutcome *)out = tensor_workload(t); }
static const walk tensor_walk = {"tensor", tensor_run, texpect_same, sizeof(toutcome)};

static toutcome tensor_clean_run(void)
{
    tg_tape *t = tg_tape_new();
    cr_assert_not_null(t);
    toutcome r = tensor_workload(t);
    cr_assert_eq(r.status, TG_OK, "the tensor workload fails without any injected failure: %s",
                 tg_tape_error(t));
    cr_assert_eq(r.hess_rc, TG_OK);
    cr_assert_eq(r.diff_rc, TG_OK);
    tg_tape_free(t);
    return r;
}

Test(oom, tensor_workload_each_failed_allocation_is_reported_and_recoverable)
{
    toutcome clean = tensor_clean_run();
    walk_all(&tensor_walk, 0, &clean);
}

Test(oom, tensor_workload_an_allocator_that_stays_exhausted_is_survived)
{
    toutcome clean = tensor_clean_run();
    walk_all(&tensor_walk, 1, &clean);
}

/* ---- the op registry: tg_registry_new_with, then user ops registered at the front, in the
 * middle and at the end of the name order, enough of them that the name table grows its
 * buckets; every allocation refused in turn ---- */

#define NREG 300

typedef struct reg_ops {
    tg_op_def op[NREG];
    char name[NREG][8];
} reg_ops;

static double reg_eval(const double *x, double *d)
{
    if (d) d[0] = 1.0;
    return x[0];
}

/* "aa003" before every built-in, "mm006" among them, "zz009" after them; not in name order */
static reg_ops *reg_ops_new(void)
{
    reg_ops *o = calloc(1, sizeof *o);
    cr_assert_not_null(o);
    for (int i = 0; i < NREG; i++) {
        int j = (i * 7 + 3) % NREG;
        char c = "amz"[j % 3];
        snprintf(o->name[i], sizeof o->name[i], "%c%c%03d", c, c, j);
        o->op[i] = (tg_op_def){.name = o->name[i], .arity = 1, .eval = reg_eval};
    }
    return o;
}

/* Whether r holds the built-ins and ops[0 .. n) in name order, each found by its name. */
static int registry_intact(const tg_registry *r, const reg_ops *o, int n)
{
    int ok = tg_registry_count(r) == tg_registry_count(NULL) + n;
    for (int i = 0; ok && i < tg_registry_count(r); i++) {
        const tg_op_def *op = tg_registry_at(r, i);
        ok = tg_registry_find(r, op->name) == op &&
             (i == 0 || strcmp(tg_registry_at(r, i - 1)->name, op->name) < 0);
    }
    for (int i = 0; ok && i < n; i++) ok = tg_registry_find(r, o->name[i]) == &o->op[i];
    return ok;
}

/* Build the registry with allocation k refused (and, with after, every one from k on); a
 * registration refused for want of memory must change nothing and succeed once the allocator
 * recovers. Returns 1 when an allocation was refused. */
static int registry_failing_at(const reg_ops *o, size_t k, int after)
{
    th_alloc a;
    memset(&a, 0, sizeof a);
    a.fail_at = k;
    a.fail_after = after;
    tg_registry *r = tg_registry_new_with(th_alloc_fn, &a);
    if (!r) {
        cr_expect_gt(a.failures, 0, "k = %zu: tg_registry_new_with returned NULL with no "
                     "allocation refused", k);
    } else {
        int refused = -1, changed = 0, retried = TG_OK;
        char want[64], said[200] = "";
        for (int i = 0; i < NREG; i++) {
            tg_status st = tg_op_register(r, &o->op[i]);
            if (st == TG_OK) continue;
            refused = i;
            changed = st != TG_ERR_NOMEM || !registry_intact(r, o, i);
            snprintf(want, sizeof want, "tg_op_register: out of memory adding op '%s'",
                     o->name[i]);
            snprintf(said, sizeof said, "%s", tg_registry_error(r) ? tg_registry_error(r) : "");
            a.fail_at = 0;
            retried = tg_op_register(r, &o->op[i]);
        }
        cr_expect(!changed, "k = %zu%s: op %d refused with a status other than TG_ERR_NOMEM "
                  "or the registry changed", k, after ? " and after" : "", refused);
        if (refused >= 0)
            cr_expect_str_eq(said, want, "k = %zu: the refusal said \"%s\"", k, said);
        cr_expect_eq(retried, TG_OK, "k = %zu: op %d was refused again once memory was back",
                     k, refused);
        cr_expect_null(tg_registry_error(r), "k = %zu: a message after the last registration "
                       "succeeded: %s", k, tg_registry_error(r));
        cr_expect(registry_intact(r, o, NREG), "k = %zu%s: the registry lost an op or its "
                  "name order", k, after ? " and after" : "");
        tg_registry_free(r);
    }
    cr_expect_eq(a.live, 0, "registry, k = %zu%s: %lld bytes leaked", k,
                 after ? " and after" : "", a.live);
    cr_expect_eq(a.bad_osize, 0, "registry, k = %zu: %zu frees with a wrong old size", k,
                 a.bad_osize);
    return a.failures > 0;
}

static void registry_walk(int after)
{
    reg_ops *o = reg_ops_new();
    size_t k = 1;
    while (k < MAX_K && registry_failing_at(o, k, after)) k++;
    cr_expect_lt(k, MAX_K, "the registry never completed");
    cr_expect_gt(k, (size_t)NREG, "only %zu allocations for %d ops: the hook is bypassed?",
                 k - 1, NREG);
    cr_log_info("oom: %zu failure points exercised in the registry (%s)", k - 1,
                after ? "every allocation refused from the k-th on" : "one refused allocation "
                "each");
    free(o);
}

Test(oom, registry_each_failed_allocation_is_reported_and_recoverable) { registry_walk(0); }

Test(oom, registry_an_allocator_that_stays_exhausted_is_survived) { registry_walk(1); }

Test(oom, registry_new_with_needs_an_allocator)
{
    cr_expect_null(tg_registry_new_with(NULL, NULL));
}
