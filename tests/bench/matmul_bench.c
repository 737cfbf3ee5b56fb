/* matmul_bench.c - issue 3, "Speed" (b): one N x N matrix product forward and backward
 * (default N = 512). With Y = A B and an output gradient G (dL/dY):
 *   bare BLAS      three cblas_dgemm calls: Y = A B, dA = G B^T, dB = A^T G
 *   tg replay      the tape recorded once (A, B borrowed tensor parameters,
 *                  tg_tensor_param_ref: no copy; Y = tg_matmul(A, B));
 *                  per step: tg_replay + tg_backward_seed(Y, G), gradients read in place
 *   tg re-record   per step: tg_tape_reset, two tg_tensor_param_ref (A and B borrowed),
 *                  tg_matmul, tg_backward_seed(Y, G)
 * Target: tapegrad within 10% of bare BLAS. Every variant is checked against bare BLAS
 * before anything is timed; repetitions are interleaved (order rotated each time); medians
 * with min-max; ratios as the median of per-repetition ratios; allocations are counted in
 * the timed loops. All variants run in one process on one OpenBLAS, so they use the same
 * thread count: set OPENBLAS_NUM_THREADS to choose it (printed).
 *
 *   matmul_bench [-N 512] [-k STEPS] [-r REPS] [-v] [--only blas|replay|record]
 *
 * Results: docs/benchmarks.md. See LICENSE. */
#include <cblas.h>

#include "bench.h"
#include "tapegrad.h"

enum { BLAS, REPLAY, RECORD, NVAR };
static const char *const var_name[NVAR] = {"blas", "replay", "record"};
static const char *const var_long[NVAR] = {"bare BLAS: 3 cblas_dgemm", "tapegrad replay",
                                           "tapegrad re-record"};

typedef struct problem {
    int n;
    double *A, *B, *G; /* inputs and the output gradient */
    double *Y, *dA, *dB; /* bare BLAS's results */
} problem;

/* ---- the three variants (noinline, so callgrind/perf can single them out) ---- */

static NOINLINE void step_blas(problem *p)
{
    int n = p->n;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, p->A, n, p->B, n, 0.0,
                p->Y, n); /* Y = A B */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, p->G, n, p->B, n, 0.0,
                p->dA, n); /* dA = G B^T */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, n, 1.0, p->A, n, p->G, n, 0.0,
                p->dB, n); /* dB = A^T G */
}

typedef struct tnet {
    tg_tape *tp;
    tg_var A, B, Y;
    bench_hook hook; /* the tape's allocator hook */
} tnet;

static void record(tnet *t, const problem *p)
{
    int shape[2] = {p->n, p->n};
    t->A = tg_tensor_param_ref(t->tp, 2, shape, p->A); /* borrowed: no copy */
    t->B = tg_tensor_param_ref(t->tp, 2, shape, p->B);
    t->Y = tg_matmul(t->A, t->B);
}

/* One step's results, read where the tape keeps them. */
typedef struct out {
    const double *Y, *dA, *dB;
} out;

static NOINLINE out step_replay(tnet *t, const problem *p, int *bad)
{
    *bad |= tg_replay(t->tp);
    *bad |= tg_backward_seed(t->Y, p->G);
    out o = {tg_data(t->Y), tg_gradient_data(t->A), tg_gradient_data(t->B)};
    return o;
}

static NOINLINE out step_record(tnet *t, const problem *p, int *bad)
{
    tg_tape_reset(t->tp);
    record(t, p);
    *bad |= tg_backward_seed(t->Y, p->G);
    out o = {tg_data(t->Y), tg_gradient_data(t->A), tg_gradient_data(t->B)};
    return o;
}

/* A cheap checksum of a step's results: a few entries of each matrix (every entry was
 * verified before timing; this only keeps the work observable). */
static double probe(const double *Y, const double *dA, const double *dB, int n)
{
    size_t last = (size_t)n * (size_t)n - 1;
    return Y[0] + Y[last] + dA[1] + dA[last / 2] + dB[2] + dB[last - 1];
}

/* ---- harness ---- */

static void die(const char *what, tg_tape *tp)
{
    fprintf(stderr, "matmul_bench: %s: %s\n", what,
            tp && tg_tape_error(tp) ? tg_tape_error(tp) : "failed");
    exit(1);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: matmul_bench [-N SIZE] [-k STEPS] [-r REPS] [-v]\n"
               "                    [--only blas|replay|record]\n"
               "  -N SIZE         the matrices are SIZE x SIZE (default 512)\n"
               "  -k STEPS        steps per variant per repetition (default 5)\n"
               "  -r REPS         interleaved repetitions (default 11, at most %d)\n"
               "  -v              also print every repetition's time\n"
               "  --only VARIANT  one repetition of one variant (for perf/callgrind)\n"
               "OPENBLAS_NUM_THREADS sets the BLAS thread count (the same for every variant).\n"
               "exit status: 0 done, 1 verification failed or an allocation in a timed loop, "
               "2 bad arguments\n", BENCH_MAX_REPS);
}

int main(int argc, char **argv)
{
    int n = 512, steps = 5, reps = 11, verbose = 0, only = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-N") && v) n = atoi(argv[++i]);
        else if (!strcmp(a, "-k") && v) steps = atoi(argv[++i]);
        else if (!strcmp(a, "-r") && v) reps = atoi(argv[++i]);
        else if (!strcmp(a, "-v")) verbose = 1;
        else if (!strcmp(a, "--only") && v) {
            for (int k = 0; k < NVAR; k++)
                if (!strcmp(v, var_name[k])) only = k;
            if (only < 0) {
                fprintf(stderr, "matmul_bench: unknown variant '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "matmul_bench: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (n < 2 || steps < 1 || reps < 1 || reps > BENCH_MAX_REPS) {
        usage(stderr);
        return 2;
    }
    if (only >= 0) reps = 1;
    if (!bench_interposer_live()) {
        fprintf(stderr, "matmul_bench: malloc interposition is not working\n");
        return 1;
    }

    problem p = {.n = n};
    size_t nn = (size_t)n * (size_t)n;
    double **bufs[6] = {&p.A, &p.B, &p.G, &p.Y, &p.dA, &p.dB};
    for (int k = 0; k < 6; k++)
        if (!(*bufs[k] = malloc(nn * sizeof(double)))) die("out of memory", NULL);
    uint64_t rng = 0x51ED270B27A1C0DEull;
    for (size_t e = 0; e < nn; e++) {
        p.A[e] = bench_uniform(&rng, -1, 1);
        p.B[e] = bench_uniform(&rng, -1, 1);
        p.G[e] = bench_uniform(&rng, -1, 1);
    }

    static tnet trep, trec;
    trep.tp = tg_tape_new_with(bench_hook_fn, &trep.hook);
    trec.tp = tg_tape_new_with(bench_hook_fn, &trec.hook);
    if (!trep.tp || !trec.tp) die("tg_tape_new_with failed", NULL);
    record(&trep, &p);
    if (tg_tape_status(trep.tp)) die("recording", trep.tp);

    /* ---- verify (and warm up): both tapegrad variants against bare BLAS, every entry ---- */
    const double tol = 1e-13;
    int bad = 0;
    double worst[NVAR] = {0};
    step_blas(&p);
    for (int v = REPLAY; v < NVAR; v++) {
        out o = v == REPLAY ? step_replay(&trep, &p, &bad) : step_record(&trec, &p, &bad);
        if (bad || !o.Y || !o.dA || !o.dB) die(var_long[v], v == REPLAY ? trep.tp : trec.tp);
        const double *got[3] = {o.Y, o.dA, o.dB}, *want[3] = {p.Y, p.dA, p.dB};
        static const char *const what[3] = {"Y", "dA", "dB"};
        for (int m = 0; m < 3; m++) {
            size_t at;
            double d = bench_max_rel(got[m], want[m], nn, &at);
            worst[v] = fmax(worst[v], d);
            if (d > tol) {
                fprintf(stderr, "matmul_bench: VERIFY FAILED: %s: %s[%zu] = %.17g, bare BLAS "
                        "%.17g (difference %.3g of the largest entry > %g)\n", var_long[v],
                        what[m], at, got[m][at], want[m][at], d, tol);
                return 1;
            }
        }
    }

    /* ---- timed: interleaved repetitions, order rotated ---- */
    double t_ns[NVAR][BENCH_MAX_REPS], sums[NVAR][BENCH_MAX_REPS];
    size_t allocs[NVAR] = {0}, frees[NVAR] = {0}, hooks[NVAR] = {0};
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < (only >= 0 ? 1 : NVAR); k++) {
            int v = only >= 0 ? only : (r + k) % NVAR;
            size_t a0 = bench_allocs, f0 = bench_frees;
            size_t h0 = trep.hook.allocs + trep.hook.frees + trec.hook.allocs + trec.hook.frees;
            double sum = 0, t0 = bench_now_ns();
            for (int s = 0; s < steps; s++) {
                if (v == BLAS) {
                    step_blas(&p);
                    sum += probe(p.Y, p.dA, p.dB, n);
                } else {
                    out o = v == REPLAY ? step_replay(&trep, &p, &bad)
                                        : step_record(&trec, &p, &bad);
                    sum += probe(o.Y, o.dA, o.dB, n);
                }
            }
            t_ns[v][r] = (bench_now_ns() - t0) / steps;
            sums[v][r] = sum;
            allocs[v] += bench_allocs - a0;
            frees[v] += bench_frees - f0;
            hooks[v] += trep.hook.allocs + trep.hook.frees + trec.hook.allocs + trec.hook.frees - h0;
        }
    if (bad) die("timed loop", tg_tape_status(trep.tp) ? trep.tp : trec.tp);

    int threads = openblas_get_num_threads();
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    double flop = 3.0 * 2.0 * (double)n * (double)n * (double)n;
    if (only >= 0) {
        printf("%s: %d x %d, %d steps, %.3f ms/step (%.1f GFLOP/s), BLAS threads %d, "
               "allocations: tape hook %zu, process-wide %zu\n", var_long[only], n, n, steps,
               t_ns[only][0] / 1e6, flop / t_ns[only][0], threads, hooks[only], allocs[only]);
        return hooks[only] ? 1 : 0;
    }

    printf("tapegrad matmul benchmark: Y = A B with A, B %d x %d, forward + backward "
           "(Y, dA = G B^T, dB = A^T G)\n", n, n);
    printf("BLAS: %s; %d thread%s for every variant (OPENBLAS_NUM_THREADS=%s)\n",
           openblas_get_config(), threads, threads == 1 ? "" : "s", env ? env : "unset");
    printf("%d steps per variant x %d repetitions, interleaved (order rotated each repetition)\n",
           steps, reps);
    printf("verify: Y, dA, dB of every tapegrad variant against bare BLAS, every entry "
           "(tolerance %g of the largest entry): OK; worst difference: replay %.3g, "
           "re-record %.3g\n\n", tol, worst[REPLAY], worst[RECORD]);

    printf("%-26s %12s %22s %10s\n", "variant", "median ms", "min - max ms", "GFLOP/s");
    double med[NVAR];
    for (int v = 0; v < NVAR; v++) {
        med[v] = bench_median(t_ns[v], reps);
        printf("%-26s %12.3f %10.3f - %-10.3f %10.1f\n", var_long[v], med[v] / 1e6,
               bench_min(t_ns[v], reps) / 1e6, bench_max(t_ns[v], reps) / 1e6, flop / med[v]);
    }
    if (verbose) {
        printf("\nper repetition (ms/step):\n");
        for (int r = 0; r < reps; r++) {
            printf("  rep %2d:", r + 1);
            for (int v = 0; v < NVAR; v++) printf("  %s %.3f", var_name[v], t_ns[v][r] / 1e6);
            printf("\n");
        }
    }
    for (int v = 0; v < NVAR; v++)
        for (int r = 0; r < reps; r++)
            if (bench_rel_diff(sums[v][r], sums[BLAS][0]) > 1e-12) {
                fprintf(stderr, "matmul_bench: checksum of %s rep %d (%.17g) differs from bare "
                        "BLAS (%.17g)\n", var_name[v], r + 1, sums[v][r], sums[BLAS][0]);
                return 1;
            }

    printf("\nratios (x bare BLAS)   ratio of medians   median of per-rep ratios (min - max)   "
           "target <= 1.10\n");
    for (int v = REPLAY; v < NVAR; v++) {
        double rr[BENCH_MAX_REPS];
        for (int r = 0; r < reps; r++) rr[r] = t_ns[v][r] / t_ns[BLAS][r];
        double mr = bench_median(rr, reps);
        printf("  %-20s %15.3f %17.3f (%.3f - %.3f)           %s\n", var_name[v],
               med[v] / med[BLAS], mr, bench_min(rr, reps), bench_max(rr, reps),
               mr <= 1.10 ? "MET" : "MISSED");
    }
    int leak = 0;
    printf("\nallocations during the timed loops (tape hook; process-wide malloc/calloc/realloc, "
           "free):\n");
    for (int v = 0; v < NVAR; v++) {
        char hook[24] = "-";
        if (v != BLAS) snprintf(hook, sizeof hook, "%zu", hooks[v]);
        printf("  %-8s %6s; %zu, %zu\n", var_name[v], hook, allocs[v], frees[v]);
        leak |= v != BLAS && (hooks[v] || allocs[v] > allocs[BLAS] || frees[v] > frees[BLAS]);
    }
    printf("tape: replay %zu nodes, sweep workspace %zu B; A and B borrowed (no copy per "
           "re-record step)\n", tg_tape_size(trep.tp), tg_tape_workspace_bytes(trep.tp));

    tg_tape_free(trep.tp);
    tg_tape_free(trec.tp);
    for (int k = 0; k < 6; k++) free(*bufs[k]);
    return leak ? 1 : 0;
}
