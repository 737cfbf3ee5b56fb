/* test_threads.c - thread safety: one tape per thread, no shared mutable state. Eight threads
 * each record and sweep their own article network (tg_article_build) many times, at points
 * and activations that cycle, and compare every gradient bit for bit with answers computed
 * single-threaded beforehand; the registry is shared read-only (built-ins and a user registry
 * filled before the threads start). The iteration count is TG_THREAD_ITERS per thread
 * (default 100000, the number: about 3 s on two cores; `make tsan` runs the same
 * under ThreadSanitizer, `make valgrind` fewer). See LICENSE. */
#include <pthread.h>
#include <stdio.h>

#include "helpers.h"

/* Criterion cannot start under ThreadSanitizer (its inheritable arena does not fit TSan's
 * memory layout), so `make tsan` builds this file alone with TG_THREADS_STANDALONE: the same
 * tests, run from a small main(). */
#ifdef TG_THREADS_STANDALONE
static int tt_failed;
#define Test(suite, name) static void suite##_##name(void)
#define TT_EXPECT(cond, ...)                                                                  \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
            tt_failed = 1;                                                                    \
        }                                                                                     \
    } while (0)
#define TT_ASSERT(cond, ...)                                                                  \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
            tt_failed = 1;                                                                    \
            return;                                                                           \
        }                                                                                     \
    } while (0)
#define TT_INFO(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#else
#include <criterion/criterion.h>
#include <criterion/logging.h>
#define TT_EXPECT(cond, ...) cr_expect(cond, __VA_ARGS__)
#define TT_ASSERT(cond, ...) cr_assert(cond, __VA_ARGS__)
#define TT_INFO(...) cr_log_info(__VA_ARGS__)
#endif

#define NTHREADS 8
#define NPOINTS 32
#define NACT 4
#define DEFAULT_ITERS 100000

typedef struct answer {
    tg_status replay_rc; /* tg_article_set_point from point 0's recording */
    int flipped;         /* it crossed a kink (tg_replay_note) */
    double E;
    tg_article_grads g;
} answer;

static answer want[NACT][NPOINTS];
static tg_article_point points[NPOINTS];
static tg_registry *shared_reg; /* read-only while the threads run */

static double ident_eval(const double *x, double *dydx)
{
    if (dydx) dydx[0] = 1.0;
    return x[0];
}
static const tg_op_def user_ident = {.name = "thread_ident", .arity = 1, .eval = ident_eval};

static long iters_from_env(long dflt)
{
    const char *s = getenv("TG_THREAD_ITERS");
    long n = s ? strtol(s, NULL, 10) : dflt;
    return n > 0 ? n : dflt;
}

/* Record the network for activation a at point k on t (reset first), sweep, fill *out. */
static int compute(tg_tape *t, int a, int k, answer *out)
{
    const tg_op_def *g = tg_article_activation(tg_article_activation_name(a));
    if (!g) return -1;
    tg_article net;
    tg_tape_reset(t);
    if (tg_article_build(&net, t, g, 0.01, &points[k]) != TG_OK) return -2;
    out->E = tg_value(net.E);
    if (tg_article_tape_grads(&net, &out->g) != 0) return -3;
    return 0;
}

/* Replay: record at point 0, move to point k with tg_set + tg_replay, sweep. */
static int compute_replayed(tg_tape *t, int a, int k, answer *out)
{
    const tg_op_def *g = tg_article_activation(tg_article_activation_name(a));
    tg_article net;
    tg_tape_reset(t);
    if (!g || tg_article_build(&net, t, g, 0.01, &points[0]) != TG_OK) return -2;
    out->replay_rc = tg_article_set_point(&net, &points[k]);
    out->flipped = tg_replay_note(t) != NULL;
    out->E = tg_value(net.E);
    if (tg_article_tape_grads(&net, &out->g) != 0) return -3;
    return 0;
}

static int same(const answer *x, const answer *y)
{
    return memcmp(&x->g, &y->g, sizeof x->g) == 0 && memcmp(&x->E, &y->E, sizeof x->E) == 0;
}

typedef struct worker {
    int id;
    long iters;
    long mismatches, errors, lookups_bad;
    char first[160];
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    tg_tape *t = tg_tape_new();
    if (!t) {
        w->errors++;
        return NULL;
    }
    for (long i = 0; i < w->iters; i++) {
        int a = (int)((i + w->id) % NACT), k = (int)((i * 7 + w->id * 3) % NPOINTS);
        /* the registry, read from every thread */
        const char *name = tg_article_activation_name(a);
        if (tg_registry_find(NULL, name) == NULL || tg_registry_find(shared_reg, name) == NULL ||
            tg_registry_find(shared_reg, "thread_ident") != &user_ident)
            w->lookups_bad++;
        answer got;
        memset(&got, 0, sizeof got);
        int replay = (i % 5) == 4;
        int rc = replay ? compute_replayed(t, a, k, &got) : compute(t, a, k, &got);
        if (rc) {
            if (!w->errors++)
                snprintf(w->first, sizeof w->first, "thread %d iter %ld: rc %d (%s)", w->id, i,
                         rc, tg_tape_error(t) ? tg_tape_error(t) : "no message");
            continue;
        }
        /* a replay that crossed a relu kink is noted (tg_replay_note); values and gradients
         * are still those of the new point, bit-identical to a recording there */
        if (!same(&got, &want[a][k])) {
            if (!w->mismatches++)
                snprintf(w->first, sizeof w->first, "thread %d iter %ld: %s at point %d%s: "
                         "E %.17g vs %.17g", w->id, i, name, k, replay ? " (replayed)" : "",
                         got.E, want[a][k].E);
        }
    }
    tg_tape_free(t);
    return NULL;
}

Test(threads, eight_threads_record_and_sweep_their_own_article_networks)
{
    shared_reg = tg_registry_new();
    TT_ASSERT(shared_reg != NULL, "tg_registry_new failed");
    TT_ASSERT(tg_op_register(shared_reg, &user_ident) == TG_OK, "registering a user op failed"); /* before the threads */
    for (int k = 0; k < NPOINTS; k++) tg_article_point_seed(&points[k], 1000 + (uint64_t)k);

    /* the single-threaded answers */
    tg_tape *t = tg_tape_new();
    for (int a = 0; a < NACT; a++)
        for (int k = 0; k < NPOINTS; k++) {
            TT_ASSERT(compute(t, a, k, &want[a][k]) == 0, "%s at point %d: %s",
                         tg_article_activation_name(a), k, tg_tape_error(t));
            answer r;
            memset(&r, 0, sizeof r);
            TT_ASSERT(compute_replayed(t, a, k, &r) == 0, "replayed %s at point %d: %s",
                      tg_article_activation_name(a), k, tg_tape_error(t));
            /* replay is exact where no kink flipped: check that here, so the threads can
             * compare replayed runs with recorded answers bit for bit */
            TT_ASSERT(r.replay_rc == TG_OK, "replay returned %d", r.replay_rc);
            TT_ASSERT(same(&r, &want[a][k]), "%s point %d: replayed gradients differ from "
                      "recorded ones%s", tg_article_activation_name(a), k,
                      r.flipped ? " (after a kink flipped)" : "");
        }
    tg_tape_free(t);

    long iters = iters_from_env(DEFAULT_ITERS);
    pthread_t th[NTHREADS];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].iters = iters;
        TT_ASSERT(pthread_create(&th[i], NULL, run, &w[i]) == 0, "pthread_create failed");
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    long total = 0;
    for (int i = 0; i < NTHREADS; i++) {
        TT_EXPECT(w[i].errors == 0, "thread %d: %ld errors; first: %s", i, w[i].errors,
                     w[i].first);
        TT_EXPECT(w[i].mismatches == 0, "thread %d: %ld answers differ from the single-"
                     "threaded ones; first: %s", i, w[i].mismatches, w[i].first);
        TT_EXPECT(w[i].lookups_bad == 0, "thread %d: %ld registry lookups failed", i,
                     w[i].lookups_bad);
        total += w[i].iters;
    }
    TT_INFO("threads: %d threads x %ld networks recorded and swept (%ld in all)", NTHREADS,
                iters, total);
    tg_registry_free(shared_reg);
    shared_reg = NULL;
}

/* Tensor tapes in parallel too: a small MLP step per iteration, one tape per thread. */
typedef struct tworker {
    int id;
    long iters;
    long bad;
    double want[6];
} tworker;

static int mlp(tg_tape *t, double *g)
{
    int sx[2] = {2, 3}, sw[2] = {3, 2};
    const double x[6] = {0.1, -0.2, 0.3, 0.4, 0.5, -0.6};
    const double w0[6] = {0.5, -0.1, 0.2, 0.3, -0.4, 0.6};
    const int lab[2] = {0, 1};
    tg_tape_reset(t);
    tg_var X = tg_tensor_const(t, 2, sx, x), W = tg_tensor_param(t, 2, sw, w0);
    tg_var L = tg_cross_entropy(tg_tanh(tg_matmul(X, W)), lab);
    if (tg_backward(L) != TG_OK) return -1;
    memcpy(g, tg_gradient_data(W), 6 * sizeof *g);
    return 0;
}

static void *trun(void *arg)
{
    tworker *w = arg;
    tg_tape *t = tg_tape_new();
    double g[6];
    for (long i = 0; i < w->iters; i++)
        if (mlp(t, g) || memcmp(g, w->want, sizeof g)) w->bad++;
    tg_tape_free(t);
    return NULL;
}

Test(threads, eight_threads_sweep_their_own_tensor_tapes)
{
    tg_tape *t = tg_tape_new();
    double want6[6];
    TT_ASSERT(mlp(t, want6) == 0, "%s", tg_tape_error(t));
    tg_tape_free(t);
    long iters = iters_from_env(DEFAULT_ITERS) / 10 + 1;
    pthread_t th[NTHREADS];
    tworker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].iters = iters;
        memcpy(w[i].want, want6, sizeof want6);
        TT_ASSERT(pthread_create(&th[i], NULL, trun, &w[i]) == 0, "pthread_create failed");
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        TT_EXPECT(w[i].bad == 0, "thread %d: %ld of %ld tensor sweeps differ", i, w[i].bad,
                     iters);
    }
}

#ifdef TG_THREADS_STANDALONE
int main(void)
{
    threads_eight_threads_record_and_sweep_their_own_article_networks();
    threads_eight_threads_sweep_their_own_tensor_tapes();
    fprintf(stderr, "threads: %s\n", tt_failed ? "FAILED" : "passed");
    return tt_failed;
}
#endif
