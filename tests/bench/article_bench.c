/* article_bench.c - the article's 2-3-1 network step timed the ways issue 2 ("Speed and
 * memory") and issue 14 (the tape compiler) ask: the hand-coded delta formulas in plain C
 * (three times: with the textbook sigmoid, with the sigmoid formula ops/sigmoid.c uses, and
 * the first behind the raw entry's interface, a call through a pointer with arrays in and
 * out), tapegrad re-recording the graph per sample (reset + record + backward), tapegrad
 * replaying one recorded tape (set + replay + backward), and the tape compiled (tg_compile):
 * through the tape (set + tg_compiled_run + tg_gradient) and through its raw entry point.
 * One sample = E and dE/dw for all nine weights at a new (x1, x2, t); the weights stay fixed.
 * Before anything is timed the variants are checked against each other (the compiled ones
 * against replay bit for bit). Last, tg_compile's latency, cold and from the cache.
 *
 * Memory: the tapes are created with tg_tape_new_with and a counting hook, and this file also
 * replaces malloc/calloc/realloc/free process-wide (forwarding to glibc's __libc_* entry
 * points), so an allocation that bypassed the hook is caught too. Both counts must be 0 in
 * the timed loops.
 *
 *   article_bench                          all four, 1e6 samples x 7 interleaved repetitions
 *   article_bench --only replay -n 100000  one variant, one pass (for callgrind / perf)
 *   valgrind --tool=callgrind --toggle-collect='loop_*' article_bench --only replay -n 100000
 *       instructions of the timed loop only; divide by n
 *
 * Results and how to read them: docs/benchmarks.md. See LICENSE. */
#include "bench.h"
#include "tapegrad.h"

typedef struct sample {
    double x1, x2, t;
} sample;

/* w1[i][j] = w(i+1)(j+1)[1] (input i to hidden j), w2[j] = w(j+1)1[2] (hidden j to output) */
typedef struct weights {
    double w1[2][3], w2[3];
} weights;

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static double uniform(double lo, double hi) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) * 0x1.0p-53;
}

/* ---- the hand-coded step: the article's delta formulas in plain C ---- */

/* g and g' two ways: the textbook formulas, and as ops/sigmoid.c evaluates them (g = 1/q,
 * q = 1 + e^-z, and g' = g (e^-z/q), which keeps its digits where a(1 - a) does not; 0 and 1
 * past |z| = 1022 ln 2). Both are timed: the first is what a person writes by hand. */
static inline double sig_textbook(double z, double *dg)
{
    const double a = 1.0 / (1.0 + exp(-z));
    *dg = a * (1.0 - a);
    return a;
}

static inline double sig_stable(double z, double *dg)
{
    const double e = exp(-z), q = 1.0 + e, a = 1.0 / q;
    if (fabs(z) > 0x1.6232bdd7abcd2p+9) {
        *dg = 0.0;
        return z < 0 ? 0.0 : 1.0;
    }
    *dg = a * (e / q);
    return a;
}

/* E and g[9] = dE/dw in the order w1[0][0..2], w1[1][0..2], w2[0..2]. stable picks g's
 * formula (a constant after inlining). */
static inline double hand_step(const weights *w, double x1, double x2, double t, double *g,
                               int stable)
{
#define sig(z, dg) (stable ? sig_stable(z, dg) : sig_textbook(z, dg))
    double z2[3], a2[3], g2[3], g3;
    for (int j = 0; j < 3; j++) {
        z2[j] = w->w1[0][j] * x1 + w->w1[1][j] * x2;
        a2[j] = sig(z2[j], &g2[j]);
    }
    double z3 = w->w2[0] * a2[0] + w->w2[1] * a2[1] + w->w2[2] * a2[2];
    double a3 = sig(z3, &g3);
    double d = a3 - t;
    double E = 0.5 * (d * d);
    double delta3 = d * g3;                                         /* (a1[3]-t) g'(z1[3]) */
    for (int j = 0; j < 3; j++) {
        g[6 + j] = delta3 * a2[j];                                  /* dE/dwj1[2] */
        double delta2 = delta3 * w->w2[j] * g2[j];                  /* deltaj[2] */
        g[j] = x1 * delta2;                                         /* dE/dw1j[1] */
        g[3 + j] = x2 * delta2;                                     /* dE/dw2j[1] */
    }
    return E;
}
#undef sig

/* ---- re-record and replay: the same graph on a tape ---- */

typedef struct net {
    tg_var w1[2][3], w2[3];
    tg_var x1, x2, t, E;
} net;

/* Record the article's graph: 9 params, x1, x2, t and 0.5 as constants, 21 ops. */
static inline net record_net(tg_tape *tp, const weights *w, double x1, double x2, double t)
{
    net n;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) n.w1[i][j] = tg_param(tp, w->w1[i][j]);
    for (int j = 0; j < 3; j++) n.w2[j] = tg_param(tp, w->w2[j]);
    n.x1 = tg_const(tp, x1);
    n.x2 = tg_const(tp, x2);
    n.t = tg_const(tp, t);
    tg_var half = tg_const(tp, 0.5);
    tg_var a2[3];
    for (int j = 0; j < 3; j++)
        a2[j] = tg_sigmoid(tg_add(tg_mul(n.w1[0][j], n.x1), tg_mul(n.w1[1][j], n.x2)));
    tg_var z3 = tg_add(tg_add(tg_mul(n.w2[0], a2[0]), tg_mul(n.w2[1], a2[1])),
                       tg_mul(n.w2[2], a2[2]));
    tg_var d = tg_sub(tg_sigmoid(z3), n.t);
    n.E = tg_mul(half, tg_mul(d, d));
    return n;
}

static inline void read_grads(const net *n, double *g)
{
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) g[3 * i + j] = tg_gradient(n->w1[i][j]);
    for (int j = 0; j < 3; j++) g[6 + j] = tg_gradient(n->w2[j]);
}

/* Re-record: reset, record, sweep, read. */
static inline double record_step(tg_tape *tp, const weights *w, const sample *s, double *g,
                                 int *bad)
{
    tg_tape_reset(tp);
    net n = record_net(tp, w, s->x1, s->x2, s->t);
    *bad |= tg_backward(n.E);
    read_grads(&n, g);
    return tg_value(n.E);
}

/* Replay: set the three leaves, replay, sweep, read. */
static inline double replay_step(tg_tape *tp, const net *n, const sample *s, double *g, int *bad)
{
    tg_set(n->x1, s->x1);
    tg_set(n->x2, s->x2);
    tg_set(n->t, s->t);
    *bad |= tg_replay(tp);
    *bad |= tg_backward(n->E);
    read_grads(n, g);
    return tg_value(n->E);
}

/* Compiled (tg_compile): set the three leaves, run the module on the tape, read. */
static inline double compiled_step(tg_compiled *c, const net *n, const sample *s, double *g,
                                   int *bad)
{
    tg_set(n->x1, s->x1);
    tg_set(n->x2, s->x2);
    tg_set(n->t, s->t);
    *bad |= tg_compiled_run(c);
    read_grads(n, g);
    return tg_value(n->E);
}

/* The raw entry point: the inputs in an array (the weights stay where they were put), the
 * gradient out of one. at[] are x1's, x2's and t's positions, wat[] the weights'. */
typedef struct raw_ctx {
    tg_compiled_fn fn;
    double in[16], grad[16];
    int at[3], wat[9];
} raw_ctx;

static inline double raw_step(raw_ctx *r, const sample *s, double *g)
{
    r->in[r->at[0]] = s->x1;
    r->in[r->at[1]] = s->x2;
    r->in[r->at[2]] = s->t;
    double E = r->fn(r->in, r->grad);
    for (int k = 0; k < 9; k++) g[k] = r->grad[r->wat[k]];
    return E;
}

/* The hand-coded step (textbook g) behind the raw entry's interface: in[] = the nine weights,
 * x1, x2, t; grad[] = the nine dE/dw; called through a pointer the compiler cannot see
 * through, as a loaded module is, so the two differ only in the code they run. */
static NOINLINE double hand_entry(const double *in, double *grad)
{
    const weights w = {{{in[0], in[1], in[2]}, {in[3], in[4], in[5]}}, {in[6], in[7], in[8]}};
    return hand_step(&w, in[9], in[10], in[11], grad, 0);
}

static inline double hand_call_step(tg_compiled_fn const volatile *fn, double *in,
                                    const sample *s, double *g)
{
    in[9] = s->x1;
    in[10] = s->x2;
    in[11] = s->t;
    return (*fn)(in, g);
}

static inline double sum9(const double *g)
{
    return g[0] + g[1] + g[2] + g[3] + g[4] + g[5] + g[6] + g[7] + g[8];
}

/* ---- the timed loops (noinline: callgrind's --toggle-collect='loop_*' counts only these).
 * Each returns a checksum of E and the nine gradients over all samples, printed by the caller,
 * so no variant's work can be optimised away. ---- */

static NOINLINE double loop_hand(const weights *w, const sample *s, size_t ns)
{
    double sum = 0, g[9];
    for (size_t i = 0; i < ns; i++)
        sum += hand_step(w, s[i].x1, s[i].x2, s[i].t, g, 0) + sum9(g);
    return sum;
}

static NOINLINE double loop_hand_stable(const weights *w, const sample *s, size_t ns)
{
    double sum = 0, g[9];
    for (size_t i = 0; i < ns; i++)
        sum += hand_step(w, s[i].x1, s[i].x2, s[i].t, g, 1) + sum9(g);
    return sum;
}

static NOINLINE double loop_record(tg_tape *tp, const weights *w, const sample *s, size_t ns,
                                   int *bad)
{
    double sum = 0, g[9];
    for (size_t i = 0; i < ns; i++) sum += record_step(tp, w, &s[i], g, bad) + sum9(g);
    return sum;
}

static NOINLINE double loop_replay(tg_tape *tp, const net *n, const sample *s, size_t ns,
                                   int *bad)
{
    double sum = 0, g[9];
    for (size_t i = 0; i < ns; i++) sum += replay_step(tp, n, &s[i], g, bad) + sum9(g);
    return sum;
}

static NOINLINE double loop_compiled(tg_compiled *c, const net *n, const sample *s, size_t ns,
                                     int *bad)
{
    double sum = 0, g[9];
    for (size_t i = 0; i < ns; i++) sum += compiled_step(c, n, &s[i], g, bad) + sum9(g);
    return sum;
}

static NOINLINE double loop_hand_call(const weights *w, const sample *s, size_t ns)
{
    static tg_compiled_fn const volatile fn = hand_entry;
    double sum = 0, g[9], in[12];
    memcpy(in, w, 9 * sizeof *in); /* w1 row by row, then w2: the entry's order */
    for (size_t i = 0; i < ns; i++) sum += hand_call_step(&fn, in, &s[i], g) + sum9(g);
    return sum;
}

static NOINLINE double loop_raw(raw_ctx *r, const sample *s, size_t ns)
{
    double sum = 0, g[9];
    for (size_t i = 0; i < ns; i++) sum += raw_step(r, &s[i], g) + sum9(g);
    return sum;
}

/* Diagnostics for the profile, not timed by default (--only fwd / --only bwd): the replay
 * variant's two halves. fwd = tg_set x3 + tg_replay; bwd = tg_backward + 9 tg_gradient at
 * the point the tape holds. */
static NOINLINE double loop_fwd(tg_tape *tp, const net *n, const sample *s, size_t ns, int *bad)
{
    double sum = 0;
    for (size_t i = 0; i < ns; i++) {
        tg_set(n->x1, s[i].x1);
        tg_set(n->x2, s[i].x2);
        tg_set(n->t, s[i].t);
        *bad |= tg_replay(tp);
        sum += tg_value(n->E);
    }
    return sum;
}

static NOINLINE double loop_bwd(const net *n, size_t ns, int *bad)
{
    double sum = 0, g[9];
    for (size_t i = 0; i < ns; i++) {
        *bad |= tg_backward(n->E);
        read_grads(n, g);
        sum += sum9(g);
    }
    return sum;
}

/* ---- harness ---- */

enum { HAND, HAND_STABLE, HAND_CALL, REPLAY, RECORD, COMPILED, RAW, NVAR, FWD = NVAR, BWD,
       NALL };
static const char *const var_name[NALL] = {"hand", "hand-stable", "hand-call", "replay",
                                           "record", "compiled", "raw", "fwd", "bwd"};
static const char *const var_long[NALL] = {"hand-coded, textbook g", "hand-coded, tapegrad's g",
                                           "hand-coded, called as raw",
                                           "tapegrad replay", "tapegrad re-record",
                                           "compiled, via the tape", "compiled, raw entry",
                                           "replay, forward half (3 tg_set + tg_replay)",
                                           "replay, reverse half (tg_backward + 9 tg_gradient)"};

static void die_tape(const char *what, tg_tape *tp)
{
    fprintf(stderr, "article_bench: %s: %s\n", what,
            tg_tape_error(tp) ? tg_tape_error(tp) : "a sweep returned an error");
    exit(1);
}

/* How long tg_compile takes on the article's tape: cold (no cache: write, cc, load) and
 * from a warm cache (write the source, hash it, check and load the file). Medians of n. */
static void compile_latency(const weights *w, const sample *s0, int n)
{
    char dir[] = "/tmp/tapegrad-bench-XXXXXX";
    if (!mkdtemp(dir)) return;
    double t[2][BENCH_MAX_REPS];
    for (int kind = 0; kind < 2; kind++) {
        tg_compile_opts o = {.cache_dir = kind ? dir : ""};
        for (int r = -kind; r < n; r++) { /* a first compile fills the cache */
            tg_tape *tp = tg_tape_new();
            net m = record_net(tp, w, s0->x1, s0->x2, s0->t);
            double t0 = bench_now_ns();
            tg_compiled *c = tg_compile(m.E, &o);
            double t1 = bench_now_ns();
            if (!c) die_tape("tg_compile", tp);
            if (r >= 0) t[kind][r] = (t1 - t0) / 1e6;
            tg_compiled_free(c);
            tg_tape_free(tp);
        }
    }
    printf("\ncompile latency for the article's tape (ms, median of %d, min - max):\n"
           "  cold, cc -O2 (no cache)   %8.2f  (%.2f - %.2f)   target <= 200: %s\n"
           "  from the cache            %8.3f  (%.3f - %.3f)   target <= 2: %s\n", n,
           bench_median(t[0], n), bench_min(t[0], n), bench_max(t[0], n),
           bench_median(t[0], n) <= 200 ? "MET" : "MISSED", bench_median(t[1], n),
           bench_min(t[1], n), bench_max(t[1], n), bench_median(t[1], n) <= 2 ? "MET" : "MISSED");
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "article_bench: could not remove %s\n", dir);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: article_bench [-n SAMPLES] [-r REPS] [-v] [--verify N]\n"
               "                     [--only VARIANT]\n"
               "  -n, --samples N  samples per timed pass (default 1000000)\n"
               "  -r, --reps R     interleaved repetitions (default 7, at most %d)\n"
               "  -v, --verbose    also print every repetition's time\n"
               "  --only VARIANT   one pass of one variant (for callgrind/perf), no ratios;\n"
               "                   fwd and bwd time the two halves of replay\n"
               "  --verify N       samples compared before timing (default 1000)\n"
               "exit status: 0 done, 1 verification failed or an allocation in a timed loop, "
               "2 bad arguments\n", BENCH_MAX_REPS);
}

static const char *const grad_name[10] = {"dE/dw11[1]", "dE/dw12[1]", "dE/dw13[1]",
                                          "dE/dw21[1]", "dE/dw22[1]", "dE/dw23[1]",
                                          "dE/dw11[2]", "dE/dw21[2]", "dE/dw31[2]", "E"};

int main(int argc, char **argv)
{
    size_t ns = 1000000, nverify = 1000;
    int reps = 7, only = -1, verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-n") || !strcmp(a, "--samples")) && v) {
            ns = strtoull(v, NULL, 10);
            i++;
        } else if ((!strcmp(a, "-r") || !strcmp(a, "--reps")) && v) {
            reps = atoi(v);
            i++;
        } else if (!strcmp(a, "--verify") && v) {
            nverify = strtoull(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--only") && v) {
            for (int k = 0; k < NALL; k++)
                if (!strcmp(v, var_name[k])) only = k;
            if (only < 0) {
                fprintf(stderr, "article_bench: unknown variant '%s'\n", v);
                usage(stderr);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "article_bench: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (ns < 1 || reps < 1 || reps > BENCH_MAX_REPS || nverify < 1) {
        fprintf(stderr, "article_bench: need samples >= 1, 1 <= reps <= %d, verify >= 1\n",
                BENCH_MAX_REPS);
        return 2;
    }
    if (only >= 0) reps = 1;

    /* The interposer must be live, or "0 allocations" below would prove nothing. */
    if (!bench_interposer_live()) {
        fprintf(stderr, "article_bench: malloc interposition is not working\n");
        return 1;
    }

    /* weights in [-1, 1]; inputs in [-2, 2]; targets in [0, 1] */
    weights w;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) w.w1[i][j] = uniform(-1, 1);
    for (int j = 0; j < 3; j++) w.w2[j] = uniform(-1, 1);
    size_t nsamp = ns > nverify ? ns : nverify;
    sample *s = malloc(nsamp * sizeof *s);
    if (!s) {
        fprintf(stderr, "article_bench: out of memory for %zu samples\n", nsamp);
        return 1;
    }
    for (size_t i = 0; i < nsamp; i++) {
        s[i].x1 = uniform(-2, 2);
        s[i].x2 = uniform(-2, 2);
        s[i].t = uniform(0, 1);
    }

    bench_hook hs_rec = {0}, hs_rep = {0};
    tg_tape *trec = tg_tape_new_with(bench_hook_fn, &hs_rec);
    tg_tape *trep = tg_tape_new_with(bench_hook_fn, &hs_rep);
    if (!trec || !trep) {
        fprintf(stderr, "article_bench: tg_tape_new_with failed\n");
        return 1;
    }
    net nrep = record_net(trep, &w, s[0].x1, s[0].x2, s[0].t);
    if (tg_tape_status(trep)) die_tape("recording the replay tape", trep);
    /* the compiled variants: their own tape, compiled once (the cache is not what is timed) */
    bench_hook hs_comp = {0};
    tg_tape *tcomp = tg_tape_new_with(bench_hook_fn, &hs_comp);
    net ncomp = record_net(tcomp, &w, s[0].x1, s[0].x2, s[0].t);
    tg_compiled *comp = tg_compile(ncomp.E, NULL);
    if (!comp) die_tape("tg_compile", tcomp);
    raw_ctx raw = {.fn = tg_compiled_raw(comp)};
    tg_var leaves[16];
    int nin = tg_compiled_inputs(comp, leaves, 16);
    for (int k = 0; k < nin && k < 16; k++) {
        raw.in[k] = tg_value(leaves[k]);
        const uint32_t i = leaves[k].index;
        if (i == ncomp.x1.index) raw.at[0] = k;
        if (i == ncomp.x2.index) raw.at[1] = k;
        if (i == ncomp.t.index) raw.at[2] = k;
        for (int j = 0; j < 9; j++)
            if (i == (j < 6 ? ncomp.w1[j / 3][j % 3] : ncomp.w2[j - 6]).index) raw.wat[j] = k;
    }

    /* ---- verify (this is also the warm-up): re-record and replay against the hand-coded
     * step with the same g formula, relative 1e-12; the textbook g against tapegrad's g,
     * relative 1e-12 or absolute 1e-15 (the two g differ in the last bit, and E, all
     * gradients carry the factor a1[3]-t, which cancels when the output is near t) ---- */
    const double tol = 1e-12, atol_textbook = 1e-15;
    double worst[NVAR] = {0};
    for (size_t i = 0; i < nverify; i++) {
        double g[NVAR][10];
        int bad = 0;
        g[HAND][9] = hand_step(&w, s[i].x1, s[i].x2, s[i].t, g[HAND], 0);
        g[HAND_STABLE][9] = hand_step(&w, s[i].x1, s[i].x2, s[i].t, g[HAND_STABLE], 1);
        double hin[12];
        memcpy(hin, &w, 9 * sizeof *hin);
        hin[9] = s[i].x1, hin[10] = s[i].x2, hin[11] = s[i].t;
        g[HAND_CALL][9] = hand_entry(hin, g[HAND_CALL]);
        g[RECORD][9] = record_step(trec, &w, &s[i], g[RECORD], &bad);
        if (bad) die_tape("re-record", trec);
        g[REPLAY][9] = replay_step(trep, &nrep, &s[i], g[REPLAY], &bad);
        if (bad) die_tape("replay", trep);
        g[COMPILED][9] = compiled_step(comp, &ncomp, &s[i], g[COMPILED], &bad);
        if (bad) die_tape("compiled", tcomp);
        g[RAW][9] = raw_step(&raw, &s[i], g[RAW]);
        for (int k = 0; k < 10; k++) /* the compiled code is the interpreter, bit for bit */
            if (memcmp(&g[COMPILED][k], &g[REPLAY][k], sizeof(double)) ||
                memcmp(&g[RAW][k], &g[REPLAY][k], sizeof(double))) {
                fprintf(stderr, "article_bench: VERIFY FAILED at sample %zu: %s compiled %.17g, "
                        "raw %.17g, replay %.17g (not the same bits)\n", i, grad_name[k],
                        g[COMPILED][k], g[RAW][k], g[REPLAY][k]);
                return 1;
            }
        for (int v = 0; v < NVAR; v++) {
            if (v == HAND_STABLE) continue;
            for (int k = 0; k < 10; k++) {
                double ref = g[HAND_STABLE][k], x = g[v][k], d = bench_rel_diff(ref, x);
                worst[v] = fmax(worst[v], d);
                if (d <= tol || ((v == HAND || v == HAND_CALL) && fabs(ref - x) <= atol_textbook))
                    continue;
                fprintf(stderr,
                        "article_bench: VERIFY FAILED at sample %zu (x1=%.17g x2=%.17g t=%.17g): "
                        "%s: %s %.17g, hand-coded (tapegrad's g) %.17g, rel diff %.3g > %g\n",
                        i, s[i].x1, s[i].x2, s[i].t, grad_name[k], var_long[v], x, ref, d, tol);
                return 1;
            }
        }
    }

    size_t nodes = tg_tape_size(trep), bytes = tg_tape_bytes(trep);
    size_t work = tg_tape_workspace_bytes(trep); /* partials + the last sweep's adjoints */
    /* marginal cost of an op node: the same graph's 13 leaves alone, on a scratch tape */
    tg_tape *tleaf = tg_tape_new();
    for (int k = 0; k < 13; k++) tg_const(tleaf, 1.0);
    size_t leaf_nodes = tg_tape_size(tleaf), leaf_bytes = tg_tape_bytes(tleaf);
    tg_tape_free(tleaf);
    size_t op_nodes = nodes - leaf_nodes;

    /* ---- timed passes: repetitions interleaved, the order rotated each repetition ---- */
    double t_ns[NALL][BENCH_MAX_REPS], sums[NALL][BENCH_MAX_REPS];
    size_t hook_calls[NALL] = {0}, proc_calls[NALL] = {0}, proc_free_calls[NALL] = {0};
    int bad = 0;
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < (only >= 0 ? 1 : NVAR); k++) {
            int v = only >= 0 ? only : (r + k) % NVAR;
            size_t h0 = hs_rec.allocs + hs_rec.frees + hs_rep.allocs + hs_rep.frees +
                        hs_comp.allocs + hs_comp.frees;
            size_t p0 = bench_allocs, f0 = bench_frees;
            double t0 = bench_now_ns(), sum = 0;
            switch (v) {
            case HAND: sum = loop_hand(&w, s, ns); break;
            case HAND_STABLE: sum = loop_hand_stable(&w, s, ns); break;
            case REPLAY: sum = loop_replay(trep, &nrep, s, ns, &bad); break;
            case RECORD: sum = loop_record(trec, &w, s, ns, &bad); break;
            case COMPILED: sum = loop_compiled(comp, &ncomp, s, ns, &bad); break;
            case RAW: sum = loop_raw(&raw, s, ns); break;
            case HAND_CALL: sum = loop_hand_call(&w, s, ns); break;
            case FWD: sum = loop_fwd(trep, &nrep, s, ns, &bad); break;
            default: sum = loop_bwd(&nrep, ns, &bad); break;
            }
            double t1 = bench_now_ns();
            proc_calls[v] += bench_allocs - p0;
            proc_free_calls[v] += bench_frees - f0;
            hook_calls[v] += hs_rec.allocs + hs_rec.frees + hs_rep.allocs + hs_rep.frees +
                             hs_comp.allocs + hs_comp.frees - h0;
            t_ns[v][r] = (t1 - t0) / (double)ns;
            sums[v][r] = sum;
        }
    }
    if (bad || tg_tape_status(trec) || tg_tape_status(trep))
        die_tape("timed loop", tg_tape_status(trec) ? trec : trep);

    if (only >= 0) {
        printf("%s: %zu samples, %.2f ns/sample, checksum %.17g\n", var_long[only], ns,
               t_ns[only][0], sums[only][0]);
        printf("allocations in the loop: hook %zu, process-wide malloc/calloc/realloc %zu, "
               "free %zu\n", hook_calls[only], proc_calls[only], proc_free_calls[only]);
        int leak = hook_calls[only] || proc_calls[only] || proc_free_calls[only];
        tg_compiled_free(comp);
        tg_tape_free(tcomp);
        tg_tape_free(trec);
        tg_tape_free(trep);
        free(s);
        return leak ? 1 : 0;
    }

    printf("tapegrad article benchmark: 2-3-1 sigmoid network, E and 9 dE/dw per sample\n");
    printf("%zu samples x %d repetitions, interleaved (order rotated each repetition)\n", ns,
           reps);
    printf("verify (%zu samples, E and 9 gradients, rel tol %g): OK; worst rel diff against the "
           "hand-coded step with tapegrad's g:\n  re-record %.3g, replay %.3g, hand-coded with "
           "textbook g %.3g\n\n", nverify, tol, worst[RECORD], worst[REPLAY], worst[HAND]);

    printf("%-26s %10s %20s %20s\n", "variant", "median ns", "min - max ns", "checksum");
    double med[NVAR];
    for (int v = 0; v < NVAR; v++) {
        med[v] = bench_median(t_ns[v], reps);
        printf("%-26s %10.2f %9.2f - %-9.2f %20.14g\n", var_long[v], med[v],
               bench_min(t_ns[v], reps), bench_max(t_ns[v], reps), sums[v][0]);
    }
    if (verbose) {
        printf("\nper repetition (ns/sample):\n");
        for (int r = 0; r < reps; r++) {
            printf("  rep %d:", r + 1);
            for (int v = 0; v < NVAR; v++) printf("  %s %.2f", var_name[v], t_ns[v][r]);
            printf("\n");
        }
    }
    /* every repetition of every variant computed the same numbers */
    for (int v = 0; v < NVAR; v++)
        for (int r = 0; r < reps; r++)
            if (bench_rel_diff(sums[v][r], sums[HAND_STABLE][0]) > 1e-9) {
                fprintf(stderr, "article_bench: checksum of %s rep %d (%.17g) differs from "
                        "hand-stable (%.17g)\n", var_name[v], r + 1, sums[v][r],
                        sums[HAND_STABLE][0]);
                return 1;
            }

    static const double target[NVAR] = {0, 0, 0, 3.0, 6.0, 2.0, 1.2};
    printf("\nratios (x the hand-coded time)  ratio of medians  median of per-rep ratios "
           "(min - max)\n");
    int met[NVAR] = {0};
    for (int base = HAND; base <= HAND_CALL; base++)
        for (int v = base == HAND_CALL ? COMPILED : REPLAY; v < NVAR; v++) {
            double rr[BENCH_MAX_REPS];
            for (int r = 0; r < reps; r++) rr[r] = t_ns[v][r] / t_ns[base][r];
            double mr = bench_median(rr, reps);
            char label[64];
            snprintf(label, sizeof label, "%s / %s", var_name[v], var_name[base]);
            printf("  %-30s %15.2f %14.2f (%.2f - %.2f)\n", label, med[v] / med[base], mr,
                   bench_min(rr, reps), bench_max(rr, reps));
            if (base == HAND) met[v] = mr <= target[v];
        }
    printf("targets (against the textbook hand-coded step, median of per-rep ratios):\n");
    for (int v = REPLAY; v < NVAR; v++) {
        double rr[BENCH_MAX_REPS];
        for (int r = 0; r < reps; r++) rr[r] = t_ns[v][r] / t_ns[HAND][r];
        double mr = bench_median(rr, reps);
        printf("  %-10s <= %.1fx: %s (%.2fx = %.2f times the allowed ratio)\n", var_name[v],
               target[v], met[v] ? "MET" : "MISSED", mr, mr / target[v]);
    }
    double rr[BENCH_MAX_REPS]; /* the same code behind the same call: what compiling costs */
    for (int r = 0; r < reps; r++) rr[r] = t_ns[RAW][r] / t_ns[HAND_CALL][r];
    printf("  %-10s <= %.1fx against the hand-coded step called as the raw entry is: %s "
           "(%.2fx)\n", var_name[RAW], target[RAW],
           bench_median(rr, reps) <= target[RAW] ? "MET" : "MISSED", bench_median(rr, reps));

    printf("\nallocations during the timed loops (all %d repetitions, after warm-up):\n", reps);
    int leak = 0;
    for (int v = 0; v < NVAR; v++) {
        printf("  %-12s hook %zu, process-wide malloc/calloc/realloc %zu, free %zu\n",
               var_name[v], hook_calls[v], proc_calls[v], proc_free_calls[v]);
        leak |= hook_calls[v] || proc_calls[v] || proc_free_calls[v];
    }
    printf("  hook calls while setting up: re-record tape %zu, replay tape %zu; the process-wide "
           "counter is live (%zu calls so far)\n", hs_rec.allocs, hs_rep.allocs, bench_allocs);
    printf("  zero allocations per sample in steady state: %s\n", leak ? "NO" : "yes");

    printf("\ntape: %zu nodes (%zu leaves, %zu ops), tg_tape_bytes %zu = %.1f B/node; "
           "%.1f B per op node (target <= 24)\n",
           nodes, leaf_nodes, op_nodes, bytes, (double)bytes / (double)nodes,
           (double)(bytes - leaf_bytes) / (double)op_nodes);
    printf("  leaves charged to the ops: %.1f B/op\n", (double)bytes / (double)op_nodes);
    printf("  sweep workspace (tg_tape_workspace_bytes: partials kept per node + adjoints of the "
           "last backward): %zu B = %.1f B/node\n", work, (double)work / (double)nodes);
    printf("  everything the replay tape holds (capacity of every buffer and the tape struct, "
           "from the hook): %zu B\n", hs_rep.live);

    compile_latency(&w, &s[0], reps);

    tg_compiled_free(comp);
    tg_tape_free(tcomp);
    tg_tape_free(trec);
    tg_tape_free(trep);
    free(s);
    return leak ? 1 : 0;
}
