/* fuzz_tape.c - libFuzzer target for the tape API: the input bytes are a program of builder
 * calls over scalars and tensors of random shapes (leaves, every op, labels, tg_set, replay,
 * tg_diff, resets that leave stale handles behind), then backward, jvp, replay and a gradient
 * check. Invariants asserted (abort() on violation, so libFuzzer keeps the input):
 *   - nothing crashes, ASan/UBSan stay quiet, the tape's allocations are all freed;
 *   - a builder returns an error handle only with the sticky error set (status and message),
 *     and once set, nothing more is recorded;
 *   - replay after tg_set gives the values of a fresh recording at the new leaf values;
 *   - backward twice gives the same gradients; reverse and forward mode agree where finite;
 *   - on a tame, smooth program (moderate values, no kink within the step) the gradient check
 *     passes against finite differences.
 * Built by `make fuzz-tape` (tests/ci.mk); seed corpus tests/fuzz/corpus_tape. See LICENSE. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad.h"
#include "tapegrad_op.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POOL 16
#define MAXLEAF 32
#define MAXEL 64 /* elements per tensor at most */

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_tape: invariant failed: %s (line %d): ", #cond, __LINE__);   \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fprintf(stderr, "\n");                                                            \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

static int trace; /* FUZZ_TAPE_TRACE=1: print each step (to reproduce a finding by hand) */

typedef struct reader {
    const uint8_t *p;
    size_t n, i;
} reader;

static int more(const reader *r) { return r->i < r->n; }
static unsigned byte(reader *r) { return r->i < r->n ? r->p[r->i++] : 0; }

/* Leaf values: mostly moderate, sometimes hostile. pass 1 shifts every value (the point the
 * replay moves to); the same byte gives the same kind of value in both passes. */
static double value(unsigned b, int pass)
{
    static const double hostile[] = {0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300, 710.0, -745.0,
                                     INFINITY, -INFINITY, 4.9e-324, 1e-12};
    double v;
    if (b >= 244) v = hostile[(b - 244) % 12];
    else v = ((double)b - 122.0) / 32.0; /* [-3.8, 3.8] in steps of 1/32 */
    if (pass && isfinite(v) && fabs(v) < 1e3) v = v * 0.75 + 0.3;
    return v;
}

typedef struct leaf {
    tg_var v;
    int param, borrowed; /* borrowed: made by tg_tensor_*_ref on vals */
    size_t n;
    uint8_t bytes[MAXEL];
    double vals[MAXEL];
} leaf;

typedef struct machine {
    tg_tape *t;
    tg_var pool[POOL];
    int npool;
    leaf leaves[MAXLEAF];
    int nleaves;
    int pass;
    int tame; /* every leaf value moderate, no reset, no hostile op */
    int resets;
} machine;

static void push(machine *m, tg_var v)
{
    m->pool[m->npool % POOL] = v;
    m->npool++;
}

static tg_var pick(machine *m, reader *r)
{
    if (m->npool == 0) return tg_const(m->t, 1.0);
    int k = m->npool < POOL ? m->npool : POOL;
    return m->pool[byte(r) % (unsigned)k];
}

/* Every builder's result: an error handle only with the error set, and after an error nothing
 * more is recorded. */
static tg_var checked(machine *m, tg_var v, size_t size_before, tg_status before)
{
    tg_status s = tg_tape_status(m->t);
    if (v.index == TG_NONE && v.tape == m->t)
        CHECK(s != TG_OK, "an error handle with no error on the tape");
    if (s != TG_OK) {
        const char *msg = tg_tape_error(m->t);
        CHECK(msg && *msg, "status %d without a message", s);
    }
    if (before != TG_OK) {
        CHECK(v.index == TG_NONE, "a node recorded on a tape with an error");
        CHECK(tg_tape_size(m->t) == size_before, "the tape grew after an error");
        CHECK(tg_tape_status(m->t) == before, "the sticky error changed");
    }
    return v;
}

static void new_leaf(machine *m, reader *r, int param, int tensor)
{
    if (m->nleaves >= MAXLEAF) { /* every leaf is tracked, so replay can move all of them */
        push(m, m->pool[(m->npool - 1) % POOL]);
        return;
    }
    int ndim = 0, shape[4] = {1, 1, 1, 1};
    size_t n = 1;
    if (tensor) {
        ndim = 1 + (int)(byte(r) % 3);
        for (int i = 0; i < ndim; i++) {
            shape[i] = 1 + (int)(byte(r) % 4);
            n *= (size_t)shape[i];
        }
    }
    leaf *L = &m->leaves[m->nleaves]; /* its vals stay put: a borrowed leaf reads them */
    memset(L, 0, sizeof *L);
    L->param = param;
    L->n = n;
    double *vals = L->vals;
    for (size_t i = 0; i < n; i++) {
        L->bytes[i] = (uint8_t)byte(r);
        vals[i] = value(L->bytes[i], m->pass);
        if (L->bytes[i] >= 244) m->tame = 0;
    }
    L->borrowed = tensor && (L->bytes[0] & 1);
    size_t sz = tg_tape_size(m->t);
    tg_status st = tg_tape_status(m->t);
    tg_var v;
    if (trace) fprintf(stderr, "  leaf %s %s%s n %zu first %.17g\n", param ? "param" : "const",
                       tensor ? "tensor" : "scalar", L->borrowed ? " borrowed" : "", n, vals[0]);
    if (!tensor) v = param ? tg_param(m->t, vals[0]) : tg_const(m->t, vals[0]);
    else if (L->borrowed) v = param ? tg_tensor_param_ref(m->t, ndim, shape, vals)
                                    : tg_tensor_const_ref(m->t, ndim, shape, vals);
    else v = param ? tg_tensor_param(m->t, ndim, shape, vals)
                   : tg_tensor_const(m->t, ndim, shape, vals);
    v = checked(m, v, sz, st);
    L->v = v;
    if (v.index != TG_NONE) m->nleaves++;
    push(m, v);
}

typedef tg_var (*u1)(tg_var);
typedef tg_var (*u2)(tg_var, tg_var);

static const u1 unary[] = {tg_neg,  tg_exp,      tg_log,  tg_sqrt,    tg_sin,      tg_cos,
                           tg_tanh, tg_sigmoid,  tg_relu, tg_softplus, tg_abs,     tg_silu,
                           tg_gelu, tg_normcdf,  tg_step, tg_sum,      tg_mean,    tg_softmax,
                           tg_log_softmax, tg_transpose, tg_normpdf};
static const int unary_tame[] = {1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const u2 binary[] = {tg_add, tg_sub, tg_mul, tg_div, tg_pow, tg_matmul, tg_mse,
                            tg_bce_with_logits};
static const int binary_tame[] = {1, 1, 1, 0, 0, 1, 1, 1};

#define N(a) (sizeof a / sizeof a[0])

static void step(machine *m, reader *r)
{
    unsigned op = byte(r) % 16;
    if (trace) fprintf(stderr, "pass %d step op %u at byte %zu\n", m->pass, op, r->i - 1);
    size_t sz = tg_tape_size(m->t);
    tg_status st = tg_tape_status(m->t);
    tg_var a, b, v = {0};
    int axis, keep;
    switch (op) {
    case 0: new_leaf(m, r, 1, 0); return;
    case 1: new_leaf(m, r, 0, 0); return;
    case 2: new_leaf(m, r, 1, 1); return;
    case 3: new_leaf(m, r, 0, 1); return;
    case 4:
    case 5: {
        unsigned k = byte(r) % N(unary);
        if (trace) fprintf(stderr, "  unary #%u\n", k);
        if (!unary_tame[k]) m->tame = 0;
        v = unary[k](pick(m, r));
        break;
    }
    case 6:
    case 7: {
        unsigned k = byte(r) % N(binary);
        if (trace) fprintf(stderr, "  binary #%u\n", k);
        if (!binary_tame[k]) m->tame = 0;
        a = pick(m, r);
        b = pick(m, r);
        v = binary[k](a, b);
        break;
    }
    case 8:
        a = pick(m, r);
        axis = (int)(byte(r) % 9) - 4;
        keep = (int)(byte(r) & 1);
        switch (byte(r) % 3) {
        case 0: v = tg_sum_axis(a, axis, keep); break;
        case 1: v = tg_mean_axis(a, axis, keep); break;
        default: /* a tie in the max is a kink tg_check_grad does not flag (reported) */
            m->tame = 0;
            v = tg_max_axis(a, axis, keep);
            break;
        }
        break;
    case 9: {
        a = pick(m, r);
        axis = (int)(byte(r) % 9) - 4;
        int start = (int)(byte(r) % 9) - 4, stop = (int)(byte(r) % 9) - 4;
        v = tg_slice(a, axis, start, stop);
        break;
    }
    case 10: {
        a = pick(m, r);
        int nd = (int)(byte(r) % 5), shape[4];
        size_t n = tg_numel(a);
        if (byte(r) & 1) { /* a shape that fits: numel, or [1, numel], ... */
            for (int i = 0; i < 4; i++) shape[i] = 1;
            if (nd == 0 && n != 1) nd = 1;
            if (nd > 0) shape[nd - 1] = (int)(n ? n : 1);
        } else {
            for (int i = 0; i < 4; i++) shape[i] = 1 + (int)(byte(r) % 4);
        }
        v = tg_reshape(a, nd, shape);
        break;
    }
    case 11: {
        a = pick(m, r);
        int shape[4];
        int rank = tg_shape(a, shape);
        int nrow = rank >= 2 ? (int)(tg_numel(a) / (size_t)shape[rank - 1]) : 1;
        int labels[MAXEL];
        int c = rank >= 1 ? shape[rank - 1] : 1;
        for (int i = 0; i < nrow && i < MAXEL; i++) labels[i] = (int)(byte(r) % (unsigned)(c + 1));
        if (nrow > MAXEL) return; /* not reached: tensors are at most MAXEL elements */
        v = tg_cross_entropy(a, labels);
        break;
    }
    case 12: /* a condition crossing 0 is a jump tg_check_grad does not flag (reported) */
        m->tame = 0;
        a = pick(m, r);
        b = pick(m, r);
        v = tg_where(pick(m, r), a, b);
        break;
    case 13: {
        a = pick(m, r);
        v = tg_leaky_relu(a, value(byte(r), 0) / 4);
        break;
    }
    case 14: { /* tg_diff of a scalar with respect to a parameter leaf */
        a = pick(m, r);
        if (m->nleaves == 0) return;
        leaf *L = &m->leaves[byte(r) % (unsigned)m->nleaves];
        if (tg_numel(a) != 1 || L->n != 1 || tg_tape_size(m->t) > 4000) return;
        v = tg_diff(a, L->v);
        break;
    }
    default: { /* label, anomaly mode, or (rarely) reset */
        unsigned k = byte(r);
        if (k < 200) {
            char name[16];
            snprintf(name, sizeof name, "n%u", k % 24);
            tg_label(pick(m, r), name); /* duplicate names are errors, not crashes */
            checked(m, (tg_var){NULL, TG_NONE, 0}, sz, st);
        } else if (k < 250) {
            tg_tape_check_nan(m->t, k & 1);
        } else {
            tg_tape_reset(m->t);
            m->nleaves = 0;
            m->tame = 0;
            m->resets++;
            /* the pool keeps stale handles: using them must be an error, never a crash */
        }
        return;
    }
    }
    v = checked(m, v, sz, st);
    if (trace) {
        const double *d = v.index != TG_NONE ? tg_data(v) : NULL;
        fprintf(stderr, "  -> node %u numel %zu first %.17g status %d %s\n", v.index,
                tg_numel(v), d ? d[0] : NAN, tg_tape_status(m->t),
                tg_tape_error(m->t) ? tg_tape_error(m->t) : "");
    }
    if (v.index != TG_NONE) {
        size_t n = tg_numel(v);
        const double *d = tg_data(v);
        CHECK(n >= 1 && n <= (size_t)1 << 20 && d != NULL, "a node with %zu elements", n);
    }
    push(m, v);
}

static void run(machine *m, const uint8_t *data, size_t size, int pass)
{
    memset(m, 0, sizeof *m);
    m->t = tg_tape_new();
    m->pass = pass;
    m->tame = 1;
    reader r = {data, size, 0};
    if (byte(&r) & 1) tg_tape_check_nan(m->t, 1);
    for (int steps = 0; more(&r) && steps < 64; steps++) step(m, &r);
}

/* The output: the last live node, summed if it is a tensor. */
static tg_var output(machine *m)
{
    for (int k = m->npool - 1; k >= 0 && k >= m->npool - POOL; k--) {
        tg_var v = m->pool[k % POOL];
        if (v.index == TG_NONE) continue;
        return tg_numel(v) == 1 ? (tg_shape(v, NULL) == 0 ? v : tg_sum(v)) : tg_sum(v);
    }
    return tg_const(m->t, 0.0);
}

static int same_value(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (a == b) return 1;
    return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

static int all_moderate(const machine *m)
{
    for (int k = 0; k < m->npool && k < POOL; k++) {
        tg_var v = m->pool[k];
        if (v.index == TG_NONE) continue;
        const double *d = tg_data(v);
        size_t n = tg_numel(v);
        for (size_t i = 0; d && i < n; i++)
            if (!(fabs(d[i]) < 1e4)) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    trace = getenv("FUZZ_TAPE_TRACE") != NULL;
    machine A, B;
    run(&A, data, size, 0);
    tg_var out = output(&A);
    if (tg_tape_status(A.t) != TG_OK) {
        /* every call on an errored tape is refused cleanly */
        CHECK(tg_backward(out) != TG_OK, "backward on an errored tape succeeded");
        CHECK(tg_replay(A.t) != TG_OK, "replay on an errored tape succeeded");
        tg_tape_reset(A.t);
        CHECK(tg_tape_status(A.t) == TG_OK && tg_tape_error(A.t) == NULL, "reset kept the error");
        tg_var p = tg_param(A.t, 2.0);
        CHECK(tg_backward(tg_mul(p, p)) == TG_OK && tg_gradient(p) == 4.0, "tape unusable after reset");
        tg_tape_free(A.t);
        return 0;
    }

    /* backward twice: the same gradients */
    int rc = tg_backward(out);
    double g1[MAXLEAF] = {0};
    if (rc == TG_OK) {
        for (int k = 0; k < A.nleaves; k++) g1[k] = tg_gradient_data(A.leaves[k].v)
                                                      ? tg_gradient_data(A.leaves[k].v)[0] : 0;
        CHECK(tg_backward(out) == TG_OK, "second backward failed: %s", tg_tape_error(A.t));
        for (int k = 0; k < A.nleaves; k++) {
            const double *g = tg_gradient_data(A.leaves[k].v);
            CHECK(same_value(g ? g[0] : 0, g1[k]), "backward twice: leaf %d %.17g vs %.17g", k,
                  g ? g[0] : 0, g1[k]);
        }
    } else {
        CHECK((int)tg_tape_status(A.t) == rc, "backward returned %d, tape status %d", rc,
              tg_tape_status(A.t));
    }

    /* the gradient check (reverse vs forward vs finite differences), on parameters */
    if (rc == TG_OK && A.resets == 0) {
        tg_var params[MAXLEAF];
        int np = 0;
        for (int k = 0; k < A.nleaves; k++)
            if (A.leaves[k].param) params[np++] = A.leaves[k].v;
        double before = tg_value(out);
        if (np > 0 && tg_tape_size(A.t) < 3000) {
            tg_check_opts o = {.max_elems = 4, .rtol = 1e-5, .atol = 1e-7};
            tg_check_result res[MAXLEAF];
            tg_check_report rep;
            tg_status crc = tg_check_grad(out, np, params, &o, res, &rep);
            CHECK(crc == TG_OK || crc == tg_tape_status(A.t), "tg_check_grad returned %d, "
                  "status %d", crc, tg_tape_status(A.t));
            if (crc == TG_OK) {
                CHECK(same_value(tg_value(out), before), "tg_check_grad did not restore values");
                /* (only on tame programs: with subnormal or huge operands the two modes
                 * cancel differently, e.g. a 1e82 tangent through softmax's sum-to-one) */
                for (int k = 0; k < np && A.tame && all_moderate(&A); k++) {
                    double rv = res[k].reverse, fw = res[k].forward;
                    if (isfinite(rv) && isfinite(fw) && fabs(rv) < 1e6 && fabs(fw) < 1e6)
                        CHECK(fabs(rv - fw) <= 1e-9 * (1 + fmax(fabs(rv), fabs(fw))),
                              "reverse %.17g and forward %.17g disagree (param %d)", rv, fw, k);
                }
                if (A.tame && all_moderate(&A) && isfinite(before) && fabs(before) < 1e4)
                    for (int k = 0; k < np; k++)
                        if (!res[k].kink && !res[k].undefined && isfinite(res[k].reverse) &&
                            isfinite(res[k].fd) && fabs(res[k].reverse) < 1e4)
                            CHECK(fabs(res[k].reverse - res[k].fd) <=
                                      1e-3 * (1 + fabs(res[k].reverse)),
                                  "smooth and tame, yet reverse %.17g vs finite differences "
                                  "%.17g (param %d, element %zu, step %g)",
                                  res[k].reverse, res[k].fd, k, res[k].elem, res[k].step);
            }
        }
    }

    /* replay at a new point == a fresh recording there */
    if (tg_tape_status(A.t) == TG_OK && A.resets == 0) {
        for (int k = 0; k < A.nleaves; k++) {
            leaf *L = &A.leaves[k];
            double vals[MAXEL];
            for (size_t i = 0; i < L->n; i++) vals[i] = value(L->bytes[i], 1);
            if (L->borrowed) memcpy(L->vals, vals, L->n * sizeof *vals); /* read in place */
            else if (tg_shape(L->v, NULL) == 0) tg_set(L->v, vals[0]);
            else tg_tensor_set(L->v, vals);
        }
        tg_status prc = tg_replay(A.t);
        CHECK(prc == tg_tape_status(A.t), "replay returned %d, status %d", prc,
              tg_tape_status(A.t));
        run(&B, data, size, 1);
        tg_var outB = output(&B);
        if (prc == TG_OK && tg_tape_status(B.t) == TG_OK &&
            B.npool == A.npool) {
            CHECK(same_value(tg_value(out), tg_value(outB)),
                  "replayed output %.17g, recorded at the new point %.17g", tg_value(out),
                  tg_value(outB));
            for (int k = 0; k < A.npool && k < POOL; k++) {
                tg_var va = A.pool[k], vb = B.pool[k];
                if (va.index == TG_NONE || vb.index == TG_NONE) continue;
                size_t n = tg_numel(va);
                CHECK(n == tg_numel(vb), "pool %d: %zu vs %zu elements", k, n, tg_numel(vb));
                const double *da = tg_data(va), *db = tg_data(vb);
                for (size_t i = 0; i < n; i++)
                    CHECK(same_value(da[i], db[i]), "pool %d[%zu]: replayed %.17g, recorded "
                          "%.17g", k, i, da[i], db[i]);
            }
        }
        tg_tape_free(B.t);
    }
    tg_tape_free(A.t);
    return 0;
}
