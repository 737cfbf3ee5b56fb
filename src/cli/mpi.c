/* mpi.c - the command on MPI ranks (built only by `make MPI=1`; par.h says what each call
 * does). Every rank runs the same command on the same arguments; rank 0 alone prints. The
 * ranks agree on failure at every point where one of them may fail alone (before the first
 * collective call of train's trainer and of compare's exchange, and at the end), so that a
 * rank that fails never leaves the others waiting; inside training the trainer's sum carries
 * the ranks' statuses (tapegrad_nn.h). See LICENSE. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "par.h"

#define MSG_SIZE 1024

/* What the command knows of MPI's process-wide state (MPI_COMM_WORLD), kept once here. */
static struct {
    int rank, size;
    int agreed;   /* an agreement found a failure: no collective call after it */
    int agreed_rc;
    int log;      /* ranks above 0: the descriptor of the file their standard error goes to */
    struct sums {
        long calls;
        double seconds;
        int chunks;
    } sums;       /* train's gradient sums */
} par = {.log = -1};

/* ---- ranks above 0 print nothing ---- */

/* Standard output to /dev/null, standard error to an unnamed file (read by last_message). */
static void silence(void)
{
    FILE *log = tmpfile();
    if (!freopen("/dev/null", "w", stdout)) fclose(stdout);
    if (log && dup2(fileno(log), STDERR_FILENO) >= 0) par.log = fileno(log);
    else if (!freopen("/dev/null", "w", stderr)) fclose(stderr);
}

/* What the file open as fd holds (malloc'd, '\0'-terminated), or NULL when it is empty or
 * cannot be read. Read with pread, leaving the offset to whoever writes there. */
static char *read_all(int fd)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) return NULL;
    size_t n = (size_t)st.st_size;
    char *text = malloc(n + 1);
    if (!text) return NULL;
    ssize_t got = pread(fd, text, n, 0);
    text[got > 0 ? (size_t)got : 0] = '\0';
    return text;
}

/* The last "tapegrad: ..." line this rank wrote to standard error (without its newline), or
 * "" when there is none. */
static void last_message(char *msg, size_t size)
{
    msg[0] = '\0';
    fflush(stderr);
    char *text = read_all(par.log);
    if (!text) return;
    const char *last = NULL;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (strncmp(line, "tapegrad: ", 10) == 0) last = line;
        line = nl ? nl + 1 : NULL;
    }
    if (last) snprintf(msg, size, "%s", last);
    free(text);
}

/* ---- every command ---- */

int cli_par_rank(void) { return par.rank; }

int cli_par_agree(int rc)
{
    if (par.agreed) return par.agreed_rc;
    if (par.size < 2) return rc;
    int mine = rc ? par.rank : par.size, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == par.size) return 0;
    struct {
        int rc;
        char msg[MSG_SIZE];
    } told = {rc, ""};
    if (par.rank == first && first != 0) last_message(told.msg, sizeof told.msg);
    MPI_Bcast(&told, (int)sizeof told, MPI_BYTE, first, MPI_COMM_WORLD);
    if (par.rank == 0 && first != 0) { /* rank 0 printed its own failure when it had one */
        if (told.msg[0])
            fprintf(stderr, "tapegrad: rank %d of %d: %s\n", first, par.size, told.msg + 10);
        else
            fprintf(stderr, "tapegrad: rank %d of %d failed (exit status %d)\n", first,
                    par.size, told.rc);
    }
    par.agreed = 1;
    par.agreed_rc = told.rc;
    return told.rc;
}

int cli_par_main(cli_run_fn *run, int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &par.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &par.size);
    if (par.rank > 0) silence();
    int rc = cli_par_agree(run(argc, argv));
    if (rc == 0 && par.rank == 0 && par.size > 1 && par.sums.calls > 0)
        fprintf(stderr, "data-parallel: %d ranks, %d chunks per batch; %ld gradient sums "
                        "(MPI_Allreduce) took %.3f s, %.1f us each\n", par.size,
                par.sums.chunks, par.sums.calls, par.sums.seconds,
                1e6 * par.sums.seconds / (double)par.sums.calls);
    fflush(stdout);
    fflush(stderr);
    MPI_Finalize();
    return rc;
}

/* ---- train: the trainer's hooks ---- */

/* MPI counts in int: a longer buffer goes in pieces. */
#define PIECE (1 << 30)

static tg_status mpi_sum(void *ud, double *buf, size_t n)
{
    struct sums *s = ud;
    double t0 = MPI_Wtime();
    for (size_t at = 0; at < n; at += PIECE) {
        int m = n - at < PIECE ? (int)(n - at) : PIECE;
        if (MPI_Allreduce(MPI_IN_PLACE, buf + at, m, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD))
            return TG_ERR_ARG; /* not reached: MPI's errors are fatal by default */
    }
    s->seconds += MPI_Wtime() - t0;
    s->calls++;
    return TG_OK;
}

static tg_status mpi_broadcast(void *ud, double *buf, size_t n)
{
    (void)ud;
    for (size_t at = 0; at < n; at += PIECE) {
        int m = n - at < PIECE ? (int)(n - at) : PIECE;
        if (MPI_Bcast(buf + at, m, MPI_DOUBLE, 0, MPI_COMM_WORLD)) return TG_ERR_ARG;
    }
    return TG_OK;
}

int cli_par_reducer(tg_reducer *r)
{
    int rc = cli_par_agree(0); /* this rank got here; did every other? */
    if (rc) return rc;
    r->rank = par.rank;
    r->size = par.size;
    if (!r->chunks) r->chunks = TG_CHUNKS;
    if (par.size > 1) {
        r->sum = mpi_sum;
        r->broadcast = mpi_broadcast;
        r->ud = &par.sums;
    }
    par.sums.chunks = r->chunks;
    return 0;
}

/* ---- compare: the runs spread over the ranks ---- */

/* A run as doubles: its status, its result, the length of its standard error, and its
 * curves (epochs values each). */
enum { J_RC, J_EPOCHS, J_LOSS, J_TEST_LOSS, J_TRAIN_ACC, J_TEST_ACC, J_SECONDS, J_TEXT, J_N };

struct cli_par_jobs {
    int n, epochs;
    struct job {
        int rc;          /* -1: not run (its rank stopped at an earlier failure) */
        train_curve cv;
        char *text;      /* its standard error */
    } *job;
};

void cli_par_jobs_free(cli_par_jobs *jobs)
{
    if (!jobs) return;
    for (int j = 0; j < jobs->n; j++) {
        train_curve_free(&jobs->job[j].cv);
        free(jobs->job[j].text);
    }
    free(jobs->job);
    free(jobs);
}

/* Run one job with standard error going to a file of its own; jb->text gets what it wrote. */
static int run_captured(const char *cmd, const train_cfg *c, const train_data *d,
                        const train_act *a, uint64_t seed, int curve_acc, struct job *jb)
{
    fflush(stderr);
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);
    if (!f || saved < 0 || dup2(fileno(f), STDERR_FILENO) < 0) { /* run it as it is */
        if (f) fclose(f);
        if (saved >= 0) close(saved);
        return train_run(cmd, c, d, a, seed, 0, curve_acc, &jb->cv);
    }
    int rc = train_run(cmd, c, d, a, seed, 0, curve_acc, &jb->cv);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    jb->text = read_all(fileno(f));
    fclose(f);
    return rc;
}

/* Memory for what another rank sends: without it this rank could not take part in the
 * exchange, and the others would wait for it, so the job ends here. */
static void *need(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "tapegrad: out of memory receiving a run from another rank\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

/* Give every rank job j from its rank: its numbers, its curves, its standard error. buf
 * holds J_N + 3 * epochs doubles. */
static void share(cli_par_jobs *jobs, int j, double *buf)
{
    struct job *jb = &jobs->job[j];
    int owner = j % par.size, E = jobs->epochs;
    if (par.rank == owner) {
        const train_result *r = &jb->cv.r;
        double head[J_N] = {jb->rc, r->epochs, r->final_loss, r->test_loss, r->train_accuracy,
                            r->test_accuracy, r->seconds, jb->text ? strlen(jb->text) : 0};
        memcpy(buf, head, sizeof head);
        const double *curve[3] = {jb->cv.loss, jb->cv.train_acc, jb->cv.test_acc};
        for (int k = 0; k < 3; k++)
            for (int e = 0; e < E; e++) buf[J_N + k * E + e] = curve[k] ? curve[k][e] : 0.0;
    }
    MPI_Bcast(buf, J_N + 3 * E, MPI_DOUBLE, owner, MPI_COMM_WORLD);
    size_t len = (size_t)buf[J_TEXT];
    if (par.rank != owner) {
        jb->rc = (int)buf[J_RC];
        train_result *r = &jb->cv.r;
        r->epochs = (int)buf[J_EPOCHS];
        r->final_loss = buf[J_LOSS];
        r->test_loss = buf[J_TEST_LOSS];
        r->train_accuracy = buf[J_TRAIN_ACC];
        r->test_accuracy = buf[J_TEST_ACC];
        r->seconds = buf[J_SECONDS];
        double **curve[3] = {&jb->cv.loss, &jb->cv.train_acc, &jb->cv.test_acc};
        for (int k = 0; k < 3; k++) {
            *curve[k] = need((size_t)E * sizeof(double));
            memcpy(*curve[k], buf + J_N + k * E, (size_t)E * sizeof(double));
        }
        if (len) {
            jb->text = need(len + 1);
            jb->text[len] = '\0';
        }
    }
    if (len) MPI_Bcast(jb->text, (int)len, MPI_CHAR, owner, MPI_COMM_WORLD);
    MPI_Bcast(jb->cv.error, (int)sizeof jb->cv.error, MPI_CHAR, owner, MPI_COMM_WORLD);
}

int cli_par_jobs_run(cli_par_jobs **out, int rc, const char *cmd, const train_cfg *c,
                     const train_data *d, const train_act *acts, int nact, int seeds,
                     int curve_acc)
{
    *out = NULL;
    cli_par_jobs *jobs = NULL;
    double *buf = NULL;
    if (rc == 0 && par.size > 1) {
        jobs = calloc(1, sizeof *jobs);
        if (jobs) {
            jobs->n = nact * seeds;
            jobs->epochs = c->epochs;
            jobs->job = calloc((size_t)jobs->n, sizeof *jobs->job);
        }
        buf = malloc((J_N + 3 * (size_t)c->epochs) * sizeof *buf);
        if (!jobs || !jobs->job || !buf) rc = cli_fail(cmd, "out of memory");
    }
    if ((rc = cli_par_agree(rc)) != 0 || par.size < 2) {
        cli_par_jobs_free(jobs);
        free(buf);
        return rc;
    }
    int stop = 0; /* after bad input this rank's later runs are not needed */
    for (int j = par.rank; j < jobs->n; j += par.size) {
        struct job *jb = &jobs->job[j];
        jb->rc = -1;
        if (stop) continue;
        jb->rc = run_captured(cmd, c, d, &acts[j / seeds], c->seed + (uint64_t)(j % seeds),
                              curve_acc, jb);
        stop = jb->rc == 2; /* bad input: every run would fail alike (1: this run failed) */
    }
    for (int j = 0; j < jobs->n; j++) share(jobs, j, buf);
    free(buf);
    *out = jobs;
    return 0;
}

int cli_par_job(cli_par_jobs *jobs, int j, const char *cmd, const train_cfg *c,
                const train_data *d, const train_act *a, uint64_t seed, int progress,
                int curve_acc, train_curve *out)
{
    if (!jobs) return train_run(cmd, c, d, a, seed, progress, curve_acc, out);
    struct job *jb = &jobs->job[j];
    if (jb->text) fputs(jb->text, stderr);
    *out = jb->cv; /* handed over: the caller frees it */
    memset(&jb->cv, 0, sizeof jb->cv);
    return jb->rc < 0 ? cli_fail(cmd, "run %d was not made", j + 1) : jb->rc;
}
