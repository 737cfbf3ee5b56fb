/* tg_peers.c - issue 6: the hand-written C and the tapegrad side of the peer comparison.
 * One process runs one implementation of one workload, once; tests/bench/peers.py runs the
 * processes (interleaved with ADOL-C's and PyTorch's), compares what they computed and
 * collects the times and each process's peak RSS.
 *
 *   tg_peers DATADIR W IMPL verify OUTFILE     write the results (raw doubles) for comparison
 *   tg_peers DATADIR W IMPL time [N [REPEAT]]  one timed pass after a warm-up; prints
 *                                              "key value" lines (W2: REPEAT passes, the
 *                                              median of all but the first reported)
 *
 *   W1 (the article's 2-3-1 step)   IMPL hand | tg-record | tg-replay | tg-compiled | tg-raw
 *   W2 (chained Rosenbrock)         IMPL hand | tg-scalar | tg-tensor | tg-compiled | tg-raw
 *   W3 (64-64-10 MLP, 20 epochs)    IMPL hand | tg-record | tg-replay | tg-compiled
 *   W4 (512x512 matmul backward)    IMPL hand | tg-replay | tg-record | tg-compiled
 *   (N: W1 samples, 1e6; W2 n, 1e6; W4 steps)
 * tg-compiled runs the replay tape through tg_compile's module (tg_compiled_run); tg-raw,
 * its raw entry point (W1: tg_compiled_raw; W2: the fused tg_compiled_raw_tensors, on x and
 * the gradient's array themselves). Both are compiled once, before anything is timed (the module comes
 * from the cache after the first run).
 *
 * Times are this process's CPU time (TG_PEERS_CLOCK=wall: CLOCK_MONOTONIC); the last line
 * printed is the peak RSS (VmHWM).
 *
 * Inputs come from DATADIR (raw little-endian float64 / int32 files written by peers.py),
 * so every implementation, C, C++ or Python, starts from the same numbers. See LICENSE. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tapegrad.h"

#define NOINLINE __attribute__((noinline, noclone))

#include "../mlp_model.h"

static const char *datadir;

static void die(const char *msg, const tg_tape *t)
{
    fprintf(stderr, "tg_peers: %s%s%s\n", msg, t && tg_tape_error(t) ? ": " : "",
            t && tg_tape_error(t) ? tg_tape_error(t) : "");
    exit(1);
}

static void *load(const char *name, size_t *bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", datadir, name);
    FILE *f = fopen(path, "rb");
    if (!f) die(path, NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)n + 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) die("read failed", NULL);
    fclose(f);
    if (bytes) *bytes = (size_t)n;
    return p;
}

static void save(const char *path, const double *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f)) die(path, NULL);
}

/* The clock: this process's CPU time (CLOCK_PROCESS_CPUTIME_ID) unless TG_PEERS_CLOCK=wall.
 * The VM is shared with other sessions: with the load above the 2 cores, wall-clock times
 * measured a process that got 20 % of a core; CPU time is what the process itself spent. */
static clockid_t clk = CLOCK_PROCESS_CPUTIME_ID;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* peak resident set of this process so far, from /proc/self/status (VmHWM, KiB) */
static long vmhwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) v = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return v;
}

/* ====================================================================== W1 */

typedef struct weights {
    double w1[2][3], w2[3];
} weights;

static inline double sig(double z) { return 1.0 / (1.0 + exp(-z)); }

/* The article's delta formulas (article_bench.c's hand_step, textbook g). */
static inline double w1_hand(const weights *w, const double *s, double *g)
{
    double x1 = s[0], x2 = s[1], t = s[2], z2[3], a2[3];
    for (int j = 0; j < 3; j++) {
        z2[j] = w->w1[0][j] * x1 + w->w1[1][j] * x2;
        a2[j] = sig(z2[j]);
    }
    double z3 = w->w2[0] * a2[0] + w->w2[1] * a2[1] + w->w2[2] * a2[2];
    double a3 = sig(z3), d = a3 - t, E = 0.5 * (d * d);
    double delta3 = d * (a3 * (1.0 - a3));
    for (int j = 0; j < 3; j++) {
        g[6 + j] = delta3 * a2[j];
        double delta2 = delta3 * w->w2[j] * (a2[j] * (1.0 - a2[j]));
        g[j] = x1 * delta2;
        g[3 + j] = x2 * delta2;
    }
    return E;
}

typedef struct net1 {
    tg_var w1[2][3], w2[3], x1, x2, t, E;
} net1;

/* article_bench.c's record_net: 9 params, 4 constants, 21 ops */
static inline net1 w1_record(tg_tape *tp, const weights *w, const double *s)
{
    net1 n;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) n.w1[i][j] = tg_param(tp, w->w1[i][j]);
    for (int j = 0; j < 3; j++) n.w2[j] = tg_param(tp, w->w2[j]);
    n.x1 = tg_const(tp, s[0]);
    n.x2 = tg_const(tp, s[1]);
    n.t = tg_const(tp, s[2]);
    tg_var half = tg_const(tp, 0.5), a2[3];
    for (int j = 0; j < 3; j++)
        a2[j] = tg_sigmoid(tg_add(tg_mul(n.w1[0][j], n.x1), tg_mul(n.w1[1][j], n.x2)));
    tg_var z3 = tg_add(tg_add(tg_mul(n.w2[0], a2[0]), tg_mul(n.w2[1], a2[1])),
                       tg_mul(n.w2[2], a2[2]));
    tg_var d = tg_sub(tg_sigmoid(z3), n.t);
    n.E = tg_mul(half, tg_mul(d, d));
    return n;
}

static inline void w1_grads(const net1 *n, double *g)
{
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) g[3 * i + j] = tg_gradient(n->w1[i][j]);
    for (int j = 0; j < 3; j++) g[6 + j] = tg_gradient(n->w2[j]);
}

enum { HAND, RECORD, REPLAY, COMPILED, RAW };

static tg_compiled *compile_or_die(tg_var out, const char *what)
{
    tg_compiled *c = tg_compile(out, NULL);
    if (!c) die(what, out.tape);
    return c;
}

/* n samples through impl; out (10 per sample) may be NULL; returns a checksum */
static NOINLINE double w1_run(int impl, tg_tape *tp, const weights *w, const double *S, size_t n,
                              double *out)
{
    double g[9], sum = 0, in[16], grad[16];
    int bad = 0, at[3] = {0}, wat[9] = {0};
    net1 rn;
    tg_compiled *c = NULL;
    if (impl >= REPLAY) {
        tg_tape_reset(tp);
        rn = w1_record(tp, w, S);
    }
    if (impl >= COMPILED) { /* the raw entry's inputs: where x1, x2, t and the weights go */
        c = compile_or_die(rn.E, "W1 tg_compile");
        tg_var lv[16];
        int nin = tg_compiled_inputs(c, lv, 16);
        for (int k = 0; k < nin && k < 16; k++) {
            in[k] = tg_value(lv[k]);
            const tg_var ins[3] = {rn.x1, rn.x2, rn.t};
            for (int j = 0; j < 3; j++) at[j] = lv[k].index == ins[j].index ? k : at[j];
            for (int j = 0; j < 9; j++)
                if (lv[k].index == (j < 6 ? rn.w1[j / 3][j % 3] : rn.w2[j - 6]).index) wat[j] = k;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const double *s = S + 3 * i;
        double E;
        if (impl == HAND) {
            E = w1_hand(w, s, g);
        } else if (impl == RECORD) {
            tg_tape_reset(tp);
            net1 m = w1_record(tp, w, s);
            bad |= tg_backward(m.E);
            w1_grads(&m, g);
            E = tg_value(m.E);
        } else if (impl == RAW) {
            for (int j = 0; j < 3; j++) in[at[j]] = s[j];
            E = tg_compiled_raw(c)(in, grad);
            for (int j = 0; j < 9; j++) g[j] = grad[wat[j]];
        } else {
            tg_set(rn.x1, s[0]);
            tg_set(rn.x2, s[1]);
            tg_set(rn.t, s[2]);
            if (impl == COMPILED) {
                bad |= tg_compiled_run(c);
            } else {
                bad |= tg_replay(tp);
                bad |= tg_backward(rn.E);
            }
            w1_grads(&rn, g);
            E = tg_value(rn.E);
        }
        sum += E + g[0] + g[1] + g[2] + g[3] + g[4] + g[5] + g[6] + g[7] + g[8];
        if (out) {
            out[10 * i] = E;
            memcpy(out + 10 * i + 1, g, sizeof g);
        }
    }
    if (bad) die("W1 sweep", tp);
    tg_compiled_free(c);
    return sum;
}

static int w1(int impl, int verify, const char *outfile, size_t n)
{
    size_t bytes;
    weights *w = load("w1_weights.bin", NULL);
    double *S = load("w1_samples.bin", &bytes);
    size_t avail = bytes / (3 * sizeof(double));
    if (verify) n = 1000;
    if (n > avail) n = avail;
    tg_tape *tp = tg_tape_new();
    if (!tp) die("tg_tape_new", NULL);
    if (verify) {
        double *out = malloc(10 * n * sizeof *out);
        w1_run(impl, tp, w, S, n, out);
        save(outfile, out, 10 * n);
        return 0;
    }
    w1_run(impl, tp, w, S, n < 20000 ? n : 20000, NULL); /* warm-up */
    double t0 = now_ns();
    double sum = w1_run(impl, tp, w, S, n, NULL);
    double t1 = now_ns();
    printf("unit sample\nn %zu\nns %.6g\nchecksum %.15g\n", n, (t1 - t0) / (double)n, sum);
    if (impl != HAND)
        printf("tape_nodes %zu\ntape_bytes %zu\n", tg_tape_size(tp), tg_tape_bytes(tp));
    printf("vmhwm_kib %ld\n", vmhwm_kib());
    tg_tape_free(tp);
    return 0;
}

/* ====================================================================== W2
 * chained Rosenbrock: f(x) = sum_{i=0}^{n-2} 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2 */

static NOINLINE double w2_hand(const double *x, size_t n, double *g)
{
    double f = 0;
    memset(g, 0, n * sizeof *g);
    for (size_t i = 0; i + 1 < n; i++) {
        double d = x[i + 1] - x[i] * x[i], e = 1.0 - x[i];
        f += 100.0 * (d * d) + e * e;
        g[i] += -400.0 * x[i] * d - 2.0 * e;
        g[i + 1] += 200.0 * d;
    }
    return f;
}

/* scalar tape: n params, 2 constants, 8 ops per term (the last term's add into f included,
 * the first term starts f) */
static NOINLINE tg_var w2_record_scalar(tg_tape *tp, const double *x, size_t n, tg_var *v)
{
    for (size_t i = 0; i < n; i++) v[i] = tg_param(tp, x[i]);
    tg_var c100 = tg_const(tp, 100.0), one = tg_const(tp, 1.0), f = {0};
    for (size_t i = 0; i + 1 < n; i++) {
        tg_var d = tg_sub(v[i + 1], tg_mul(v[i], v[i]));
        tg_var e = tg_sub(one, v[i]);
        tg_var term = tg_add(tg_mul(c100, tg_mul(d, d)), tg_mul(e, e));
        f = i ? tg_add(f, term) : term;
    }
    return f;
}

/* the same with tensor ops: x[1:] - x[:-1]^2 */
static NOINLINE tg_var w2_record_tensor(tg_tape *tp, double *x, size_t n, tg_var *xv)
{
    int shape[1] = {(int)n};
    *xv = tg_tensor_param_ref(tp, 1, shape, x); /* borrowed: no copy of x */
    tg_var a = tg_slice(*xv, 0, 1, (int)n), b = tg_slice(*xv, 0, 0, (int)n - 1);
    tg_var d = tg_sub(a, tg_mul(b, b));
    tg_var e = tg_sub(tg_const(tp, 1.0), b);
    return tg_sum(tg_add(tg_mul(tg_const(tp, 100.0), tg_mul(d, d)), tg_mul(e, e)));
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One gradient (repeat = 1), or repeat of them with the median of all but the first reported
 * (for the scaling plot: the first pass pays the page faults of a fresh tape). */
static int w2(int impl, int verify, const char *outfile, size_t n, int repeat)
{
    size_t bytes;
    double *x = load("w2_x.bin", &bytes);
    if (n == 0 || n > bytes / sizeof(double)) n = bytes / sizeof(double);
    if (repeat < 1 || verify) repeat = 1;
    double *g = malloc(n * sizeof *g);
    tg_var *v = impl == RECORD ? malloc(n * sizeof *v) : NULL;
    tg_tape *tp = tg_tape_new();
    double *ttot = malloc((size_t)repeat * 3 * sizeof *ttot), *trec = ttot + repeat,
           *tbwd = trec + repeat;
    if (!g || !tp || !ttot) die("out of memory", NULL);
    double f = 0;
    tg_var cout = {0}, cx = {0};
    tg_compiled *c = NULL;
    tg_compiled_tensor_fn fused = NULL; /* tg-raw: the fused entry, on x and g themselves */
    const double *in[3];
    double *grad[3], gconst[2];
    if (impl >= COMPILED) { /* recorded and compiled once; each pass is one tg_compiled_run */
        cout = w2_record_tensor(tp, x, n, &cx);
        c = compile_or_die(cout, "W2 tg_compile");
        tg_var leaf[3];
        if (impl == RAW && (!(fused = tg_compiled_raw_tensors(c)) ||
                            tg_compiled_inputs(c, leaf, 3) != 3))
            die("W2: no fused raw entry", NULL);
        for (int k = 0; impl == RAW && k < 3; k++) { /* x, then the constants 1 and 100 */
            in[k] = tg_data(leaf[k]);
            grad[k] = k ? &gconst[k - 1] : g;
        }
    }
    for (int r = 0; r < repeat; r++) {
        if (impl < COMPILED) tg_tape_reset(tp);
        double t0 = now_ns();
        trec[r] = tbwd[r] = 0;
        if (impl == RAW) {
            f = fused(in, grad);
        } else if (impl == COMPILED) {
            if (tg_compiled_run(c)) die("W2 tg_compiled_run", tp);
            f = tg_value(cout);
            const double *gd = tg_gradient_data(cx);
            if (!gd) die("W2 compiled gradient", tp);
            memcpy(g, gd, n * sizeof *g);
        } else if (impl == HAND) {
            f = w2_hand(x, n, g);
        } else {
            tg_var out, xv = {0};
            out = impl == RECORD ? w2_record_scalar(tp, x, n, v) : w2_record_tensor(tp, x, n, &xv);
            double t1 = now_ns();
            if (tg_backward(out)) die("W2 backward", tp);
            double t2 = now_ns();
            trec[r] = t1 - t0;
            tbwd[r] = t2 - t1;
            f = tg_value(out);
            if (impl == RECORD) {
                for (size_t i = 0; i < n; i++) g[i] = tg_gradient(v[i]);
            } else {
                const double *gd = tg_gradient_data(xv);
                if (!gd) die("W2 tensor gradient", tp);
                memcpy(g, gd, n * sizeof *g);
            }
        }
        ttot[r] = now_ns() - t0;
    }
    if (verify) {
        double *o = malloc((n + 1) * sizeof *o);
        o[0] = f;
        memcpy(o + 1, g, n * sizeof *g);
        save(outfile, o, n + 1);
        return 0;
    }
    int k = repeat > 1 ? 1 : 0;
    qsort(ttot + k, (size_t)(repeat - k), sizeof *ttot, dcmp);
    qsort(trec + k, (size_t)(repeat - k), sizeof *trec, dcmp);
    qsort(tbwd + k, (size_t)(repeat - k), sizeof *tbwd, dcmp);
    int m = k + (repeat - k) / 2;
    double sum = f;
    for (size_t i = 0; i < n; i++) sum += g[i];
    printf("unit gradient\nn %zu\nrepeat %d\nns %.6g\nchecksum %.15g\n", n, repeat, ttot[m], sum);
    tg_compiled_free(c);
    if (impl != HAND) {
        size_t nodes = tg_tape_size(tp), ops = impl == RECORD ? nodes - n - 2 : nodes;
        printf("record_ns %.6g\nbackward_ns %.6g\ntape_nodes %zu\nops %zu\ntape_bytes %zu\n"
               "workspace_bytes %zu\n",
               trec[m], tbwd[m], nodes, ops, tg_tape_bytes(tp), tg_tape_workspace_bytes(tp));
    }
    printf("vmhwm_kib %ld\n", vmhwm_kib());
    return 0;
}

/* ====================================================================== W3
 * 64-64-10 tanh MLP, softmax cross-entropy, SGD lr 0.1, batch 32, 20 epochs over the 1797
 * samples in order (56 batches per epoch, the last 5 samples dropped): mlp_bench's model and
 * steps, hand-written and tapegrad's (../mlp_model.h) */

#define EPOCHS 20
#define NPARAM (NIN * NH + NH + NH * NOUT + NOUT)

static int w3(int impl, int verify, const char *outfile)
{
    size_t bytes;
    double *X = load("w3_X.bin", &bytes);
    int nsamp = (int)(bytes / (NIN * sizeof(double)));
    int32_t *y32 = load("w3_y.bin", NULL);
    int *y = malloc((size_t)nsamp * sizeof *y);
    double *yd = malloc((size_t)nsamp * sizeof *yd); /* the labels node of the replay tape */
    for (int i = 0; i < nsamp; i++) yd[i] = y[i] = y32[i];
    params *init = load("w3_init.bin", NULL), p = *init;
    int nb = nsamp / BATCH, steps = nb * EPOCHS;
    double *losses = malloc((size_t)steps * sizeof *losses);
    scratch s;
    tg_tape *tp = tg_tape_new();
    net n;
    int bad = 0;
    tg_compiled *c = NULL;
    if (impl >= REPLAY) {
        record_replay(tp, &n, &p, X, yd);
        if (tg_tape_status(tp)) die("W3 recording", tp);
    }
    if (impl == COMPILED) c = compile_or_die(n.L, "W3 tg_compile");
    /* warm-up: 2 steps, then back to the initial weights (in place: the replay tape
     * borrows p's arrays) */
    for (int k = 0; k < 2; k++) {
        if (impl == HAND) step_hand(&p, X, y, &s);
        else if (impl == RECORD) step_record(tp, &p, X, y, &bad);
        else step_replay(tp, &n, &p, X, yd, c, &bad);
    }
    p = *init;
    double t0 = now_ns();
    for (int e = 0, k = 0; e < EPOCHS; e++)
        for (int b = 0; b < nb; b++, k++) {
            const double *Xb = X + (size_t)b * BATCH * NIN;
            const int *yb = y + b * BATCH;
            if (impl == HAND) losses[k] = step_hand(&p, Xb, yb, &s);
            else if (impl == RECORD) losses[k] = step_record(tp, &p, Xb, yb, &bad);
            else losses[k] = step_replay(tp, &n, &p, Xb, yd + (size_t)b * BATCH, c, &bad);
        }
    double t1 = now_ns();
    if (bad) die("W3 sweep", tp);
    tg_compiled_free(c);
    if (verify) {
        double *o = malloc(((size_t)steps + NPARAM) * sizeof *o);
        memcpy(o, losses, (size_t)steps * sizeof *o);
        memcpy(o + steps, &p, NPARAM * sizeof *o);
        save(outfile, o, (size_t)steps + NPARAM);
        return 0;
    }
    double sum = 0;
    for (int k = 0; k < steps; k++) sum += losses[k];
    printf("unit training run (%d steps)\nn %d\nns %.6g\nstep_ns %.6g\nfinal_loss %.10g\n"
           "checksum %.15g\nvmhwm_kib %ld\n",
           steps, steps, t1 - t0, (t1 - t0) / steps, losses[steps - 1], sum, vmhwm_kib());
    return 0;
}

/* ====================================================================== W4
 * Y = A B, seeded with G (L = sum(G .* Y)): dA = G B^T, dB = A^T G; 512 x 512 */

static int w4(int impl, int verify, const char *outfile, int steps)
{
    size_t bytes;
    double *ABG = load("w4_ABG.bin", &bytes);
    int N = (int)lround(sqrt((double)(bytes / sizeof(double) / 3)));
    size_t nn = (size_t)N * N;
    double *A = ABG, *B = ABG + nn, *G = ABG + 2 * nn;
    double *Y = malloc(nn * sizeof *Y), *dA = malloc(nn * sizeof *dA), *dB = malloc(nn * sizeof *dB);
    int shape[2] = {N, N}, bad = 0;
    tg_tape *tp = tg_tape_new();
    tg_var tA = {0}, tB = {0}, tY = {0};
    tg_compiled *c = NULL;
    if (impl == REPLAY || impl == COMPILED) {
        tA = tg_tensor_param_ref(tp, 2, shape, A);
        tB = tg_tensor_param_ref(tp, 2, shape, B);
        tY = tg_matmul(tA, tB);
    }
    if (impl == COMPILED) /* Y's module, seeded with G as replay is */
        c = compile_or_die(tY, "W4 tg_compile");
    if (steps < 1) steps = 10;
    if (verify) steps = 1;
    const double *oY = Y, *odA = dA, *odB = dB;
    double t0 = 0;
    for (int k = -1; k < steps; k++) { /* k = -1: warm-up */
        if (k == 0) t0 = now_ns();
        if (impl == HAND) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0, A, N, B, N, 0.0,
                        Y, N);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, N, 1.0, G, N, B, N, 0.0,
                        dA, N);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, N, 1.0, A, N, G, N, 0.0,
                        dB, N);
        } else {
            if (impl == RECORD) {
                tg_tape_reset(tp);
                tA = tg_tensor_param_ref(tp, 2, shape, A);
                tB = tg_tensor_param_ref(tp, 2, shape, B);
                tY = tg_matmul(tA, tB);
            } else if (impl == REPLAY) {
                bad |= tg_replay(tp);
            }
            if (impl == COMPILED) bad |= tg_compiled_run_seed(c, G);
            else bad |= tg_backward_seed(tY, G);
            oY = tg_data(tY);
            odA = tg_gradient_data(tA);
            odB = tg_gradient_data(tB);
        }
    }
    double t1 = now_ns();
    if (bad || (impl != HAND && (!oY || !odA || !odB))) die("W4", tp);
    tg_compiled_free(c);
    if (verify) {
        double *o = malloc(3 * nn * sizeof *o);
        memcpy(o, oY, nn * sizeof *o);
        memcpy(o + nn, odA, nn * sizeof *o);
        memcpy(o + 2 * nn, odB, nn * sizeof *o);
        save(outfile, o, 3 * nn);
        return 0;
    }
    double sum = 0;
    for (size_t i = 0; i < nn; i++) sum += oY[i] + odA[i] + odB[i];
    printf("unit step\nn %d\nns %.6g\nchecksum %.15g\nvmhwm_kib %ld\n", steps,
           (t1 - t0) / steps, sum, vmhwm_kib());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: tg_peers DATADIR W1|W2|W3|W4 IMPL verify OUT | time [N]\n");
        return 2;
    }
    datadir = argv[1];
    const char *ck = getenv("TG_PEERS_CLOCK");
    if (ck && !strcmp(ck, "wall")) clk = CLOCK_MONOTONIC;
    const char *w = argv[2], *is = argv[3];
    int verify = !strcmp(argv[4], "verify");
    if (verify && argc < 6) return 2;
    const char *outfile = verify ? argv[5] : NULL;
    size_t n = !verify && argc > 5 ? (size_t)strtod(argv[5], NULL) : 0;
    int impl = !strcmp(is, "hand") ? HAND
               : (!strcmp(is, "tg-record") || !strcmp(is, "tg-scalar")) ? RECORD
               : (!strcmp(is, "tg-replay") || !strcmp(is, "tg-tensor")) ? REPLAY
               : !strcmp(is, "tg-compiled")                             ? COMPILED
               : !strcmp(is, "tg-raw") && strchr("12", argv[2][1] ? argv[2][1] : 'x') ? RAW
                                                                        : -1;
    if (impl < 0) {
        fprintf(stderr, "tg_peers: unknown implementation %s\n", is);
        return 2;
    }
    if (!strcmp(w, "W1")) return w1(impl, verify, outfile, n ? n : 1000000);
    if (!strcmp(w, "W2")) return w2(impl, verify, outfile, n, argc > 6 ? atoi(argv[6]) : 1);
    if (!strcmp(w, "W3")) return w3(impl, verify, outfile);
    if (!strcmp(w, "W4")) return w4(impl, verify, outfile, (int)n);
    fprintf(stderr, "tg_peers: unknown workload %s\n", w);
    return 2;
}
