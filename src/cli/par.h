/* par.h - the command on several processes. Built with `make MPI=1` (TG_MPI defined), these
 * are src/cli/mpi.c's: every command runs between MPI_Init and MPI_Finalize, only rank 0
 * prints, `train` shares each batch's chunks among the ranks and `compare` spreads its runs
 * over them. Without MPI they are the inline stand-ins below: one process, rank 0 of 1, and
 * nothing to agree on. See LICENSE. */
#ifndef TG_CLI_PAR_H
#define TG_CLI_PAR_H

#include "cli.h"
#include "train.h"

/* compare's runs, done ahead by their ranks (mpi.c); NULL without MPI or on one rank. */
typedef struct cli_par_jobs cli_par_jobs;

#ifdef TG_MPI

/* Run a subcommand on every rank: MPI_Init, ranks above 0 silenced (standard output to
 * /dev/null, standard error to a file of their own, read back when their failure must be
 * told), run(argc, argv), a last agreement on the exit status unless one already failed,
 * MPI_Finalize. Returns the status every rank agreed on. */
int cli_par_main(cli_run_fn *run, int argc, char **argv);
/* This process's rank (0 prints). */
int cli_par_rank(void);
/* Every rank says whether it failed (rc != 0); collective. Returns 0 when none did. Else the
 * status of the lowest rank that failed, whose message rank 0 prints when it is not its own
 * ("tapegrad: rank R of P: ..."); after that no collective call is made (the ranks are then
 * on their way out at different places in the code). */
int cli_par_agree(int rc);
/* train's reducer: after an agreement that every rank got this far, r gets this rank, the
 * ranks, r->chunks (0: TG_CHUNKS, the same on any number of ranks, one included) and the sum
 * (MPI_Allreduce) and broadcast (MPI_Bcast). 0, or the agreed failure's status. */
int cli_par_reducer(tg_reducer *r);
/* compare: agree on rc first (the status so far), then, on several ranks, train job
 * j = k * seeds + s (acts[k], seed c->seed + s) on rank j % P, each run's standard error kept,
 * and give every rank every run. 0 and *jobs (NULL on one rank), or the agreed status. */
int cli_par_jobs_run(cli_par_jobs **jobs, int rc, const char *cmd, const train_cfg *c,
                     const train_data *d, const train_act *acts, int nact, int seeds,
                     int curve_acc);
/* Run j's outcome: what train_run gave on its rank (standard error replayed here; its
 * progress was not shown), or, with jobs NULL, train_run itself with progress. */
int cli_par_job(cli_par_jobs *jobs, int j, const char *cmd, const train_cfg *c,
                const train_data *d, const train_act *a, uint64_t seed, int progress,
                int curve_acc, train_curve *out);
void cli_par_jobs_free(cli_par_jobs *jobs);

#else

static inline int cli_par_main(cli_run_fn *run, int argc, char **argv)
{
    return run(argc, argv);
}
static inline int cli_par_rank(void) { return 0; }
static inline int cli_par_agree(int rc) { return rc; }
static inline int cli_par_reducer(tg_reducer *r)
{
    (void)r; /* one process: the chunks of --chunks, if any */
    return 0;
}
static inline int cli_par_jobs_run(cli_par_jobs **jobs, int rc, const char *cmd,
                                   const train_cfg *c, const train_data *d,
                                   const train_act *acts, int nact, int seeds, int curve_acc)
{
    (void)cmd, (void)c, (void)d, (void)acts, (void)nact, (void)seeds, (void)curve_acc;
    *jobs = NULL;
    return rc;
}
static inline int cli_par_job(cli_par_jobs *jobs, int j, const char *cmd, const train_cfg *c,
                              const train_data *d, const train_act *a, uint64_t seed,
                              int progress, int curve_acc, train_curve *out)
{
    (void)jobs, (void)j;
    return train_run(cmd, c, d, a, seed, progress, curve_acc, out);
}
static inline void cli_par_jobs_free(cli_par_jobs *jobs) { (void)jobs; }

#endif
#endif
