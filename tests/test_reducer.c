/* test_reducer.c - chunked and data-parallel training through tg_reducer, with threads as
 * the workers: one chunk trains bit for bit as no reducer; two and three workers end with
 * every weight bit for bit that of one process with the same chunks (and the same on every
 * worker), whatever the order of the sum's additions; a failure on one worker stops every
 * worker at the same batch; bad reducers have exact messages. See LICENSE. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tapegrad_nn.h"
#include "tapegrad_op.h"

#define MAX_WORKERS 4

/* ---- the workers: one thread each, a barrier, buffers shown to each other ---- */

typedef struct team {
    int size;
    pthread_barrier_t bar;
    double *slot[MAX_WORKERS]; /* each worker's buffer during a sum or a broadcast */
} team;

typedef struct worker {
    team *tm;
    int rank;
    double *acc; /* the sum, before it replaces the worker's buffer */
    size_t cap;
    long sums;   /* calls of sum */
    size_t sum_n; /* the length of the last one */
    int backwards; /* the sum adds the workers' buffers from the last rank down */
    /* what the thread runs and leaves */
    int chunks;  /* -1: no reducer; else tg_reducer.chunks */
    const char *act_expr; /* NULL: relu */
    tg_train_opts o;
    int epochs;
    uint64_t model_seed;
    tg_dataset train;
    tg_mlp m;
    tg_status st;
    int epochs_done;
    double last_loss;
    char error[TG_NN_ERRSIZE];
} worker;

/* Every worker's buffer added in rank order (or the reverse), the same on every worker. */
static tg_status team_sum(void *ud, double *buf, size_t n)
{
    worker *w = ud;
    team *t = w->tm;
    if (w->cap < n) {
        free(w->acc);
        w->acc = malloc(n * sizeof *w->acc);
        if (!w->acc) return TG_ERR_NOMEM; /* (the other workers would wait: not in a test) */
        w->cap = n;
    }
    t->slot[w->rank] = buf;
    pthread_barrier_wait(&t->bar);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < t->size; k++) s += t->slot[w->backwards ? t->size - 1 - k : k][i];
        w->acc[i] = s;
    }
    pthread_barrier_wait(&t->bar); /* every worker has read every buffer */
    memcpy(buf, w->acc, n * sizeof *buf);
    w->sums++;
    w->sum_n = n;
    return TG_OK;
}

static tg_status team_broadcast(void *ud, double *buf, size_t n)
{
    worker *w = ud;
    team *t = w->tm;
    t->slot[w->rank] = buf;
    pthread_barrier_wait(&t->bar);
    if (w->rank) memcpy(buf, t->slot[0], n * sizeof *buf);
    pthread_barrier_wait(&t->bar);
    return TG_OK;
}

/* The spirals of `tapegrad train` (500 points, 20% held out, standardised). */
static void spirals(tg_dataset *train)
{
    tg_dataset all, test;
    cr_assert_eq(tg_data_spirals(&all, 500, 1), TG_OK);
    cr_assert_eq(tg_data_split(&all, 0.2, 1, train, &test), TG_OK);
    tg_data_standardize(train, &test);
    tg_data_free(&all);
    tg_data_free(&test);
}

static tg_train_opts opts(tg_opt_kind opt, int batch)
{
    tg_train_opts o;
    memset(&o, 0, sizeof o);
    o.loss = TG_LOSS_CROSS_ENTROPY;
    o.opt = opt;
    o.batch = batch;
    o.seed = 1;
    return o;
}

/* Make w's model and trainer, join the team (none: alone, in chunks unless w->chunks is -1),
 * train w->epochs. Nothing here asserts: a thread leaves its outcome in w for the test. */
static void *work(void *ud)
{
    worker *w = ud;
    int widths[4] = {2, 16, 16, 2};
    tg_activation act = {0};
    if (w->act_expr) act.expr = w->act_expr;
    else act.op = &tg_op_relu;
    tg_trainer *tr = NULL;
    w->st = tg_mlp_init(&w->m, 4, widths, &act, w->model_seed);
    if (w->st == TG_OK) w->st = tg_trainer_new(&tr, &w->m, &w->train, &w->o);
    if (w->st == TG_OK && w->tm) {
        tg_reducer r = {.rank = w->rank, .size = w->tm->size, .chunks = w->chunks,
                        .sum = team_sum, .broadcast = team_broadcast, .ud = w};
        w->st = tg_trainer_set_reducer(tr, &r);
    } else if (w->st == TG_OK && w->chunks >= 0) {
        tg_reducer r = {.rank = 0, .size = 1, .chunks = w->chunks};
        w->st = tg_trainer_set_reducer(tr, &r);
    }
    for (int e = 0; e < w->epochs && w->st == TG_OK; e++) {
        tg_epoch_stats es;
        w->st = tg_trainer_epoch(tr, &es);
        if (w->st == TG_OK) {
            w->epochs_done = es.epoch;
            w->last_loss = es.loss;
        }
    }
    snprintf(w->error, sizeof w->error, "%s", tg_trainer_error(tr) ? tg_trainer_error(tr) : "");
    tg_trainer_free(tr);
    return NULL;
}

/* Train size workers (0: one process, with proto's chunks) with the options in proto. */
static void run_team(worker *ws, int size, const worker *proto)
{
    team tm = {.size = size};
    int n = size ? size : 1;
    if (size) cr_assert_eq(pthread_barrier_init(&tm.bar, NULL, (unsigned)size), 0);
    pthread_t th[MAX_WORKERS];
    for (int r = 0; r < n; r++) {
        ws[r] = *proto;
        ws[r].tm = size ? &tm : NULL;
        ws[r].rank = r;
        spirals(&ws[r].train);
        cr_assert_eq(pthread_create(&th[r], NULL, work, &ws[r]), 0);
    }
    for (int r = 0; r < n; r++) pthread_join(th[r], NULL);
    if (size) pthread_barrier_destroy(&tm.bar);
    for (int r = 0; r < n; r++) {
        ws[r].tm = NULL;
        free(ws[r].acc);
        ws[r].acc = NULL;
        tg_data_free(&ws[r].train);
    }
}

static void free_team(worker *ws, int n)
{
    for (int r = 0; r < n; r++) tg_mlp_fini(&ws[r].m);
}

/* The largest |a - b| / |b| over every weight of two models of one shape (|b| == 0: |a|). */
static double max_rel_diff(const tg_mlp *a, const tg_mlp *b)
{
    double worst = 0;
    for (int l = 0; l < a->nlayers; l++) {
        const tg_dense *x = &a->layer[l], *y = &b->layer[l];
        size_t nw = (size_t)x->in * x->out;
        for (size_t e = 0; e < nw + (size_t)x->out; e++) {
            double u = e < nw ? x->W[e] : x->b[e - nw], v = e < nw ? y->W[e] : y->b[e - nw];
            double d = fabs(u - v) / (v != 0 ? fabs(v) : 1.0);
            if (!(d <= worst)) worst = d; /* NaN wins */
        }
    }
    return worst;
}

static int same_bits(const tg_mlp *a, const tg_mlp *b)
{
    for (int l = 0; l < a->nlayers; l++) {
        const tg_dense *x = &a->layer[l], *y = &b->layer[l];
        if (memcmp(x->W, y->W, (size_t)x->in * x->out * sizeof(double)) ||
            memcmp(x->b, y->b, (size_t)x->out * sizeof(double)))
            return 0;
    }
    return 1;
}

/* ---- the tests ---- */

Test(reducer, one_chunk_trains_bit_for_bit_as_no_reducer)
{
    worker proto = {.o = opts(TG_OPT_ADAM, 32), .epochs = 5, .model_seed = 1, .chunks = -1};
    worker alone[1], one[1], team1[1];
    run_team(alone, 0, &proto);
    proto.chunks = 1;
    run_team(one, 0, &proto);
    run_team(team1, 1, &proto); /* one worker with hooks */
    cr_assert_eq(alone[0].st, TG_OK, "%s", alone[0].error);
    for (int k = 0; k < 2; k++) {
        worker *w = k ? team1 : one;
        cr_assert_eq(w->st, TG_OK, "%s", w->error);
        cr_assert(same_bits(&w->m, &alone[0].m), "weights differ by up to %.3g relative",
                  max_rel_diff(&w->m, &alone[0].m));
        cr_assert_eq(w->last_loss, alone[0].last_loss, "%.17g vs %.17g", w->last_loss,
                     alone[0].last_loss);
    }
    cr_assert_eq(team1[0].sums, 5 * 13, "one sum per batch: 400 rows are 13 batches of 32");
    free_team(alone, 1);
    free_team(one, 1);
    free_team(team1, 1);
}

/* Adam, momentum and SGD on 2, 3 and 4 workers; the default 8 chunks, 3 and 5 (trees that
 * are not whole), 2 chunks (workers idle); a batch that 3 does not divide, a last batch
 * smaller than the others (400 rows), and a batch of 2 rows in 8 chunks (6 of them empty).
 * Momentum at lr 0.1 is the case where rounding grows most: whole batches and chunks part by
 * 1e-4 after 100 epochs (docs/scaling.md), and P workers still match one process exactly.
 * With 8 chunks the sum carries one slot per worker for 2 and 4 workers, 5 for 3 ([0,2),
 * [2,4) + [4,5), [5,6) + [6,8)). */
Test(reducer, workers_train_bit_for_bit_as_one_process_with_the_same_chunks)
{
    static const struct {
        tg_opt_kind opt;
        int batch, epochs, chunks;
    } cases[] = {{TG_OPT_ADAM, 32, 30, 0},     {TG_OPT_MOMENTUM, 32, 100, 0},
                 {TG_OPT_MOMENTUM, 25, 10, 3}, {TG_OPT_SGD, 32, 5, 2},
                 {TG_OPT_SGD, 2, 2, 8},        {TG_OPT_ADAM, 32, 5, 5}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        worker proto = {.o = opts(cases[c].opt, cases[c].batch), .epochs = cases[c].epochs,
                        .model_seed = 1, .chunks = cases[c].chunks};
        worker one[1], whole[1];
        run_team(one, 0, &proto);
        cr_assert_eq(one[0].st, TG_OK, "%s", one[0].error);
        proto.chunks = -1;
        run_team(whole, 0, &proto);
        proto.chunks = cases[c].chunks;
        cr_log_info("reducer: case %zu: chunks against whole batches: max relative weight "
                    "difference %.3g", c, max_rel_diff(&one[0].m, &whole[0].m));
        for (int p = 2; p <= MAX_WORKERS; p++) {
            worker ws[MAX_WORKERS];
            proto.backwards = p == 3; /* the sum's order does not matter */
            run_team(ws, p, &proto);
            for (int r = 0; r < p; r++) {
                cr_assert_eq(ws[r].st, TG_OK, "%d workers, worker %d: %s", p, r, ws[r].error);
                cr_assert(same_bits(&ws[r].m, &one[0].m), "case %zu, %d workers: worker %d's "
                          "weights differ from one process's by up to %.3g relative", c, p, r,
                          max_rel_diff(&ws[r].m, &one[0].m));
            }
            cr_assert_eq(ws[0].last_loss, one[0].last_loss, "case %zu, %d workers: epoch loss "
                         "%.17g vs %.17g", c, p, ws[0].last_loss, one[0].last_loss);
            /* 2-16-16-2: 354 weights, and a loss, per slot; 6 flags; a status per worker */
            size_t slots = p == 3 ? 5 : (size_t)p;
            if (cases[c].chunks == 0)
                cr_assert_eq(ws[0].sum_n, slots * 355 + 6 + (size_t)p, "%d workers: %zu",
                             p, ws[0].sum_n);
            free_team(ws, p);
        }
        free_team(one, 1);
        free_team(whole, 1);
    }
}

Test(reducer, broadcast_gives_every_worker_worker_0s_weights)
{
    worker proto = {.o = opts(TG_OPT_ADAM, 32), .epochs = 0, .model_seed = 7, .chunks = 0};
    worker ws[MAX_WORKERS];
    team tm = {.size = 2};
    cr_assert_eq(pthread_barrier_init(&tm.bar, NULL, 2), 0);
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        ws[r] = proto;
        ws[r].model_seed = 7 + (uint64_t)r; /* different weights before the broadcast */
        ws[r].tm = &tm;
        ws[r].rank = r;
        spirals(&ws[r].train);
        cr_assert_eq(pthread_create(&th[r], NULL, work, &ws[r]), 0);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&tm.bar);
    cr_assert_eq(ws[1].st, TG_OK, "%s", ws[1].error);
    cr_assert(same_bits(&ws[1].m, &ws[0].m));
    tg_mlp check;
    tg_activation relu = {.op = &tg_op_relu};
    int widths[4] = {2, 16, 16, 2};
    cr_assert_eq(tg_mlp_init(&check, 4, widths, &relu, 7), TG_OK);
    cr_assert(same_bits(&ws[1].m, &check), "worker 0's seed, not worker 1's");
    tg_mlp_fini(&check);
    for (int r = 0; r < 2; r++) {
        tg_data_free(&ws[r].train);
        free(ws[r].acc);
    }
    free_team(ws, 2);
}

/* A worker that waits for a sum that never comes would hang the test: after 30 s SIGALRM
 * ends it, and Criterion reports the signal. Not Criterion's .timeout: with --jobs 2, its
 * runner leaked a 48-byte block (which ASan reports) whenever these two tests ran with one
 * beside another timed test, as derivations' and accuracy's are. */
static void watchdog(void) { alarm(30); }

/* Worker 1's activation does not parse: its tape fails at the first batch, and every worker
 * stops there (none waits for a sum that never comes). */
Test(reducer, a_failure_on_one_worker_stops_every_worker_at_the_same_batch, .init = watchdog)
{
    worker ws[MAX_WORKERS];
    team tm = {.size = 3};
    cr_assert_eq(pthread_barrier_init(&tm.bar, NULL, 3), 0);
    pthread_t th[3];
    worker proto = {.o = opts(TG_OPT_ADAM, 32), .epochs = 3, .model_seed = 1, .chunks = 0};
    for (int r = 0; r < 3; r++) {
        ws[r] = proto;
        ws[r].tm = &tm;
        ws[r].rank = r;
        if (r == 1) ws[r].act_expr = "sigmod(x)";
        spirals(&ws[r].train);
        cr_assert_eq(pthread_create(&th[r], NULL, work, &ws[r]), 0);
    }
    for (int r = 0; r < 3; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&tm.bar);
    cr_assert_eq(ws[1].st, TG_ERR_PARSE, "%s", ws[1].error);
    cr_assert_str_eq(ws[1].error, "tg_parse: at column 1: unknown function 'sigmod' (did you "
                                  "mean 'sigmoid'?)");
    for (int r = 0; r < 3; r += 2) {
        cr_assert_eq(ws[r].st, TG_ERR_PARSE, "worker %d: %s", r, ws[r].error);
        cr_assert_str_eq(ws[r].error, "worker 1 of 3 failed (parse error)");
        cr_assert_eq(ws[r].sums, 1, "worker %d stopped after %ld sums", r, ws[r].sums);
    }
    cr_assert_eq(ws[1].sums, 1);
    for (int r = 0; r < 3; r++) {
        tg_data_free(&ws[r].train);
        free(ws[r].acc);
    }
    free_team(ws, 3);
}

/* A learning rate that blows up: every worker reports what one process reports. */
Test(reducer, a_divergence_is_reported_alike_by_every_worker, .init = watchdog)
{
    worker proto = {.o = opts(TG_OPT_SGD, 32), .epochs = 3, .model_seed = 1, .chunks = -1};
    proto.o.loss = TG_LOSS_MSE;
    proto.o.lr = 1000;
    worker alone[1], ws[MAX_WORKERS];
    run_team(alone, 0, &proto);
    cr_assert_eq(alone[0].st, TG_ERR_DOMAIN, "%s", alone[0].error);
    proto.chunks = 0;
    run_team(ws, 3, &proto);
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(ws[r].st, TG_ERR_DOMAIN, "worker %d: %s", r, ws[r].error);
        cr_assert_str_eq(ws[r].error, alone[0].error, "worker %d", r);
    }
    free_team(alone, 1);
    free_team(ws, 3);
}

static tg_status no_sum(void *ud, double *buf, size_t n)
{
    (void)ud;
    (void)buf;
    (void)n;
    return TG_OK;
}

static tg_status failing_broadcast(void *ud, double *buf, size_t n)
{
    (void)ud;
    (void)buf;
    (void)n;
    return TG_ERR_ARG;
}

static tg_status failing_sum(void *ud, double *buf, size_t n)
{
    (void)ud;
    (void)buf;
    (void)n;
    return TG_ERR_NOMEM;
}

/* Each refusal is sticky: the epoch after it returns the same status and message. */
Test(reducer, bad_reducers_have_exact_messages)
{
    static const struct {
        tg_reducer r;
        int null, epoch_first;
        tg_status st;
        const char *msg;
    } cases[] = {
        {{0}, 1, 0, TG_ERR_ARG, "tg_trainer_set_reducer: the reducer is NULL"},
        {{.size = 2, .sum = no_sum}, 0, 0, TG_ERR_ARG,
         "tg_trainer_set_reducer: 2 workers need sum and broadcast"},
        {{.rank = 2, .size = 2, .sum = no_sum, .broadcast = no_sum}, 0, 0, TG_ERR_ARG,
         "tg_trainer_set_reducer: rank 2 of size 2 is out of range"},
        {{.rank = 0, .size = 0}, 0, 0, TG_ERR_ARG,
         "tg_trainer_set_reducer: rank 0 of size 0 is out of range"},
        {{.size = 1, .chunks = -1}, 0, 0, TG_ERR_ARG,
         "tg_trainer_set_reducer: chunks must be 0 (for 8) or more (got -1)"},
        {{.size = 1}, 0, 1, TG_ERR_ARG,
         "tg_trainer_set_reducer: call it once, before the first epoch"},
        {{.size = 1, .sum = no_sum, .broadcast = failing_broadcast}, 0, 0, TG_ERR_ARG,
         "tg_trainer_set_reducer: the broadcast failed (bad argument)"},
    };
    tg_dataset train;
    spirals(&train);
    tg_activation relu = {.op = &tg_op_relu};
    int widths[3] = {2, 4, 2};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tg_mlp m;
        tg_trainer *tr;
        tg_train_opts o = opts(TG_OPT_SGD, 32);
        cr_assert_eq(tg_mlp_init(&m, 3, widths, &relu, 1), TG_OK);
        cr_assert_eq(tg_trainer_new(&tr, &m, &train, &o), TG_OK);
        if (cases[c].epoch_first) cr_assert_eq(tg_trainer_epoch(tr, NULL), TG_OK);
        cr_assert_eq(tg_trainer_set_reducer(tr, cases[c].null ? NULL : &cases[c].r),
                     cases[c].st, "case %zu", c);
        cr_assert_str_eq(tg_trainer_error(tr), cases[c].msg, "case %zu", c);
        cr_assert_eq(tg_trainer_epoch(tr, NULL), cases[c].st, "case %zu: sticky", c);
        cr_assert_str_eq(tg_trainer_error(tr), cases[c].msg, "case %zu", c);
        tg_trainer_free(tr);
        tg_mlp_fini(&m);
    }
    /* a second call, and a sum that fails */
    tg_mlp m;
    tg_trainer *tr;
    tg_train_opts o = opts(TG_OPT_SGD, 32);
    tg_reducer ok = {.size = 1, .sum = failing_sum, .broadcast = no_sum};
    cr_assert_eq(tg_mlp_init(&m, 3, widths, &relu, 1), TG_OK);
    cr_assert_eq(tg_trainer_new(&tr, &m, &train, &o), TG_OK);
    cr_assert_eq(tg_trainer_set_reducer(tr, &ok), TG_OK);
    cr_assert_eq(tg_trainer_set_reducer(tr, &ok), TG_ERR_ARG);
    cr_assert_str_eq(tg_trainer_error(tr),
                     "tg_trainer_set_reducer: call it once, before the first epoch");
    tg_trainer_free(tr);
    cr_assert_eq(tg_trainer_new(&tr, &m, &train, &o), TG_OK);
    cr_assert_eq(tg_trainer_set_reducer(tr, &ok), TG_OK);
    cr_assert_eq(tg_trainer_epoch(tr, NULL), TG_ERR_NOMEM);
    cr_assert_str_eq(tg_trainer_error(tr), "the gradient sum failed at epoch 1 (out of memory)");
    tg_trainer_free(tr);
    cr_assert_eq(tg_trainer_set_reducer(NULL, &ok), TG_ERR_NOMEM);
    tg_mlp_fini(&m);
    tg_data_free(&train);
}
