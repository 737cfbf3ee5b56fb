/* mlp_bench.c - issue 3, "Speed" (a): one SGD training step of a 64-64-10 tanh MLP with
 * softmax cross-entropy on a batch of 32 (8x8-digit-sized inputs: random pixels in
 * {0, 1/16, .., 1}, random labels 0..9):
 *   Z1 = X W1 + b1, H = tanh(Z1), Z2 = H W2 + b2, L = mean_b (logsumexp(Z2[b]) - Z2[b][y_b])
 *   then every parameter p <- p - lr dL/dp.
 * Variants:
 *   hand        the backward pass coded by hand on cblas_dgemm (5 products, as below)
 *   record      tapegrad as a user writes it: tg_tape_reset, record the graph with the batch
 *               and the weights borrowed (tg_tensor_const_ref / tg_tensor_param_ref: no
 *               copy) and tg_cross_entropy(Z2, labels), tg_backward, update the weights
 *   replay      the graph recorded once, the labels a node (tg_cross_entropy_var: the int
 *               labels given to tg_cross_entropy are copied at record time), the weights
 *               borrowed: tg_tensor_set the batch and its labels, tg_replay, tg_backward
 *               (the update in place is what the replay reads)
 *   record-unfused  as record, with the loss written from primitives (exp, sum_axis, log)
 * Target: record <= 1.3x hand. Verified before timing (the loss of every step and the
 * parameters after every step, 20 steps from the same start); repetitions interleaved; medians
 * with min-max; allocations counted in the timed loops, by the tapes' allocator hook and
 * process-wide (OpenBLAS's small-matrix dgemm kernels malloc a buffer per call for some
 * shapes, so the hand-coded step allocates too: a tapegrad variant is charged only for what
 * it allocates beyond the hand-coded step). Every variant runs in one process on one OpenBLAS:
 * OPENBLAS_NUM_THREADS sets the thread count for all of them (printed).
 *
 *   mlp_bench [-s STEPS] [-r REPS] [-v] [--only hand|record|replay|record-unfused]
 *
 * Results: docs/benchmarks.md. See LICENSE. */
#include <cblas.h>

#include "bench.h"
#include "mlp_model.h"

#define NBATCH 16 /* distinct batches, cycled */

typedef struct data {
    double X[NBATCH][BATCH * NIN];
    double onehot[NBATCH][BATCH * NOUT];
    double yd[NBATCH][BATCH]; /* the labels as doubles, for the replay's labels node */
    int y[NBATCH][BATCH];
} data;

static const int shT[2] = {BATCH, NOUT}; /* the one-hot targets of the unfused loss */

/* The loss from primitives: mean_b (log sum_k e^Z2[b][k] - sum_k onehot[b][k] Z2[b][k]).
 * Without the max subtracted: fine for this benchmark's logits (|Z2| < 10). */
static tg_var ce_unfused(tg_tape *tp, tg_var Z2, tg_var T)
{
    tg_var lse = tg_log(tg_sum_axis(tg_exp(Z2), 1, 0));
    return tg_mul(tg_sub(tg_sum(lse), tg_sum(tg_mul(T, Z2))), tg_const(tp, 1.0 / BATCH));
}

static NOINLINE double step_record_unfused(tg_tape *tp, params *p, const double *X,
                                           const double *T, int *bad)
{
    net n;
    tg_tape_reset(tp);
    n.X = tg_tensor_const_ref(tp, 2, shX, X);
    record_layers(tp, &n, p);
    n.T = tg_tensor_const_ref(tp, 2, shT, T);
    n.L = ce_unfused(tp, n.Z2, n.T);
    *bad |= tg_backward(n.L);
    sgd(p, &n);
    return tg_value(n.L);
}

/* ---- harness ---- */

enum { HAND, RECORD, REPLAY, UNFUSED, NVAR };
static const char *const var_name[NVAR] = {"hand", "record", "replay", "record-unfused"};
static const char *const var_long[NVAR] = {
    "hand-coded on cblas_dgemm", "tapegrad re-record", "tapegrad replay",
    "tapegrad re-record, CE from primitives"};

typedef struct bench {
    const data *d;
    const params *init;
    params p[NVAR];
    scratch s;
    tg_tape *tape[NVAR];
    bench_hook hook[NVAR]; /* the tapes' allocator hooks */
    net rep;               /* the replay variant's recorded graph */
    int bad;
} bench;

/* Run steps [0, nsteps) of variant v from the initial parameters; the sum of the losses.
 * With trace, also every step's loss. */
static NOINLINE double run(bench *B, int v, int nsteps, double *trace)
{
    params *p = &B->p[v];
    double sum = 0;
    for (int s = 0; s < nsteps; s++) {
        int k = s % NBATCH;
        const double *X = B->d->X[k], *T = B->d->onehot[k];
        const int *y = B->d->y[k];
        double L;
        switch (v) {
        case HAND: L = step_hand(p, X, y, &B->s); break;
        case RECORD: L = step_record(B->tape[v], p, X, y, &B->bad); break;
        case REPLAY: L = step_replay(B->tape[v], &B->rep, p, X, B->d->yd[k], NULL, &B->bad); break;
        default: L = step_record_unfused(B->tape[v], p, X, T, &B->bad); break;
        }
        if (trace) trace[s] = L;
        sum += L;
    }
    return sum;
}

static void die(const char *what, tg_tape *tp)
{
    fprintf(stderr, "mlp_bench: %s: %s\n", what,
            tp && tg_tape_error(tp) ? tg_tape_error(tp) : "failed");
    exit(1);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mlp_bench [-s STEPS] [-r REPS] [-v]\n"
               "                 [--only hand|record|replay|record-unfused]\n"
               "  -s STEPS        training steps per variant per repetition (default 400)\n"
               "  -r REPS         interleaved repetitions (default 11, at most %d)\n"
               "  -v              also print every repetition's time\n"
               "  --only VARIANT  one repetition of one variant (for perf/callgrind)\n"
               "OPENBLAS_NUM_THREADS sets the BLAS thread count (the same for every variant).\n"
               "exit status: 0 done, 1 verification failed or an allocation in a timed loop, "
               "2 bad arguments\n", BENCH_MAX_REPS);
}

#define NVERIFY 20

int main(int argc, char **argv)
{
    int steps = 400, reps = 11, verbose = 0, only = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-s") && v) steps = atoi(argv[++i]);
        else if (!strcmp(a, "-r") && v) reps = atoi(argv[++i]);
        else if (!strcmp(a, "-v")) verbose = 1;
        else if (!strcmp(a, "--only") && v) {
            for (int k = 0; k < NVAR; k++)
                if (!strcmp(v, var_name[k])) only = k;
            if (only < 0) {
                fprintf(stderr, "mlp_bench: unknown variant '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mlp_bench: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (steps < 1 || reps < 1 || reps > BENCH_MAX_REPS) {
        usage(stderr);
        return 2;
    }
    if (only >= 0) reps = 1;
    if (!bench_interposer_live()) {
        fprintf(stderr, "mlp_bench: malloc interposition is not working\n");
        return 1;
    }

    /* data: 8x8 "digits" with pixel values k/16, labels 0..9; weights U(-1/sqrt(fan_in), ..) */
    static data d;
    static params init;
    static bench B;
    uint64_t rng = 0xD1617A11CE5EEDull;
    for (int k = 0; k < NBATCH; k++)
        for (int b = 0; b < BATCH; b++) {
            for (int e = 0; e < NIN; e++)
                d.X[k][b * NIN + e] = floor(bench_uniform(&rng, 0, 17)) / 16.0;
            d.y[k][b] = (int)floor(bench_uniform(&rng, 0, NOUT));
            for (int c = 0; c < NOUT; c++) d.onehot[k][b * NOUT + c] = c == d.y[k][b];
            d.yd[k][b] = d.y[k][b];
        }
    for (int e = 0; e < NIN * NH; e++) init.W1[e] = bench_uniform(&rng, -1, 1) / sqrt(NIN);
    for (int e = 0; e < NH; e++) init.b1[e] = bench_uniform(&rng, -1, 1) / sqrt(NIN);
    for (int e = 0; e < NH * NOUT; e++) init.W2[e] = bench_uniform(&rng, -1, 1) / sqrt(NH);
    for (int e = 0; e < NOUT; e++) init.b2[e] = bench_uniform(&rng, -1, 1) / sqrt(NH);
    B.d = &d;
    B.init = &init;
    for (int v = 0; v < NVAR; v++) {
        B.p[v] = init;
        if (v != HAND && !(B.tape[v] = tg_tape_new_with(bench_hook_fn, &B.hook[v])))
            die("tg_tape_new_with failed", NULL);
    }
    record_replay(B.tape[REPLAY], &B.rep, &B.p[REPLAY], d.X[0], d.yd[0]);
    if (tg_tape_status(B.tape[REPLAY])) die("recording the replay tape", B.tape[REPLAY]);

    /* ---- verify (and warm up): NVERIFY steps of every variant from the same start; the
     * loss of every step and all parameters afterwards against the hand-coded step ---- */
    const double tol = 1e-12;
    double trace[NVAR][NVERIFY], worst_loss[NVAR] = {0}, worst_par[NVAR] = {0};
    for (int v = 0; v < NVAR; v++) {
        B.p[v] = init;
        run(&B, v, NVERIFY, trace[v]);
        if (B.bad) die(var_long[v], B.tape[v]);
    }
    for (int v = RECORD; v < NVAR; v++) {
        for (int s = 0; s < NVERIFY; s++) {
            double dl = bench_rel_diff(trace[v][s], trace[HAND][s]);
            worst_loss[v] = fmax(worst_loss[v], dl);
            if (!(dl <= tol)) {
                fprintf(stderr, "mlp_bench: VERIFY FAILED: %s: loss at step %d is %.17g, "
                        "hand-coded %.17g\n", var_long[v], s, trace[v][s], trace[HAND][s]);
                return 1;
            }
        }
        const double *got = (const double *)&B.p[v], *want = (const double *)&B.p[HAND];
        size_t np = sizeof(params) / sizeof(double), at;
        worst_par[v] = bench_max_rel(got, want, np, &at);
        if (!(worst_par[v] <= tol)) {
            fprintf(stderr, "mlp_bench: VERIFY FAILED: %s: parameter %zu after %d steps is "
                    "%.17g, hand-coded %.17g\n", var_long[v], at, NVERIFY, got[at], want[at]);
            return 1;
        }
    }

    /* ---- timed: interleaved repetitions, order rotated; each pass starts from init ---- */
    double t_ns[NVAR][BENCH_MAX_REPS], sums[NVAR][BENCH_MAX_REPS];
    size_t allocs[NVAR] = {0}, frees[NVAR] = {0}, hooks[NVAR] = {0};
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < (only >= 0 ? 1 : NVAR); k++) {
            int v = only >= 0 ? only : (r + k) % NVAR;
            B.p[v] = init;
            size_t a0 = bench_allocs, f0 = bench_frees, h0 = B.hook[v].allocs + B.hook[v].frees;
            double t0 = bench_now_ns();
            sums[v][r] = run(&B, v, steps, NULL);
            t_ns[v][r] = (bench_now_ns() - t0) / steps;
            allocs[v] += bench_allocs - a0;
            frees[v] += bench_frees - f0;
            hooks[v] += B.hook[v].allocs + B.hook[v].frees - h0;
        }
    if (B.bad) die("timed loop", NULL);

    int threads = openblas_get_num_threads();
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    if (only >= 0) {
        printf("%s: %d steps, %.2f us/step, BLAS threads %d, allocations: tape hook %zu, "
               "process-wide %zu; checksum %.17g\n", var_long[only], steps, t_ns[only][0] / 1e3,
               threads, hooks[only], allocs[only], sums[only][0]);
        return hooks[only] ? 1 : 0;
    }

    printf("tapegrad MLP training-step benchmark: 64-64-10 tanh MLP, softmax cross-entropy, "
           "batch 32, SGD (lr %g)\n", LR);
    printf("BLAS: %s; %d thread%s for every variant (OPENBLAS_NUM_THREADS=%s)\n",
           openblas_get_config(), threads, threads == 1 ? "" : "s", env ? env : "unset");
    printf("%d steps (%d batches cycled) per variant x %d repetitions, interleaved (order "
           "rotated each repetition)\n", steps, NBATCH, reps);
    printf("verify (%d steps from the same start: every loss, and all %zu parameters after): "
           "OK; worst relative difference from the hand-coded step:\n", NVERIFY,
           sizeof(params) / sizeof(double));
    for (int v = RECORD; v < NVAR; v++)
        printf("  %-40s loss %.3g, parameters %.3g\n", var_long[v], worst_loss[v],
               worst_par[v]);

    printf("\n%-40s %10s %20s %18s\n", "variant", "median us", "min - max us", "checksum");
    double med[NVAR];
    for (int v = 0; v < NVAR; v++) {
        med[v] = bench_median(t_ns[v], reps);
        printf("%-40s %10.2f %9.2f - %-9.2f %18.12g\n", var_long[v], med[v] / 1e3,
               bench_min(t_ns[v], reps) / 1e3, bench_max(t_ns[v], reps) / 1e3, sums[v][0]);
    }
    if (verbose) {
        printf("\nper repetition (us/step):\n");
        for (int r = 0; r < reps; r++) {
            printf("  rep %2d:", r + 1);
            for (int v = 0; v < NVAR; v++) printf("  %s %.2f", var_name[v], t_ns[v][r] / 1e3);
            printf("\n");
        }
    }
    for (int v = 0; v < NVAR; v++)
        for (int r = 0; r < reps; r++)
            if (bench_rel_diff(sums[v][r], sums[HAND][0]) > 1e-9) {
                fprintf(stderr, "mlp_bench: checksum of %s rep %d (%.17g) differs from hand "
                        "(%.17g)\n", var_name[v], r + 1, sums[v][r], sums[HAND][0]);
                return 1;
            }

    printf("\nratios (x hand)        ratio of medians   median of per-rep ratios (min - max)\n");
    double ratio[NVAR];
    for (int v = RECORD; v < NVAR; v++) {
        double rr[BENCH_MAX_REPS];
        for (int r = 0; r < reps; r++) rr[r] = t_ns[v][r] / t_ns[HAND][r];
        ratio[v] = bench_median(rr, reps);
        printf("  %-20s %15.3f %17.3f (%.3f - %.3f)\n", var_name[v], med[v] / med[HAND],
               ratio[v], bench_min(rr, reps), bench_max(rr, reps));
    }
    printf("target: re-record (the user's code, fused tg_cross_entropy) <= 1.30x hand: %s "
           "(%.2fx)\n", ratio[RECORD] <= 1.30 ? "MET" : "MISSED", ratio[RECORD]);

    int leak = 0;
    size_t nsteps = (size_t)steps * (size_t)reps;
    printf("\nallocations during the timed loops (%zu steps per variant):\n", nsteps);
    printf("  %-16s %12s   %s\n", "", "tape hook", "process-wide malloc/calloc/realloc, free");
    for (int v = 0; v < NVAR; v++) {
        char hook[24] = "-";
        if (v != HAND) snprintf(hook, sizeof hook, "%zu", hooks[v]);
        printf("  %-16s %12s   %zu, %zu (%.2f per step)\n", var_name[v], hook, allocs[v],
               frees[v], (double)allocs[v] / (double)nsteps);
        leak |= v != HAND && (hooks[v] || allocs[v] > allocs[HAND] || frees[v] > frees[HAND]);
    }
    printf("  tapegrad's own allocations in steady state: %s (tape hooks 0, and no process-wide "
           "call beyond the hand-coded step's, which are OpenBLAS's)\n", leak ? "NOT ZERO" : "0");
    printf("tapes: re-record %zu nodes, replay %zu nodes, re-record CE from primitives %zu "
           "nodes\n", tg_tape_size(B.tape[RECORD]), tg_tape_size(B.tape[REPLAY]),
           tg_tape_size(B.tape[UNFUSED]));
    for (int v = RECORD; v < NVAR; v++) tg_tape_free(B.tape[v]);
    return leak ? 1 : 0;
}
