/* train.h - what `tapegrad train` and `tapegrad compare` share (defined in train.c): the
 * data/model/optimizer options, loading the data set, building the activation, one training
 * run with its per-epoch curve, and drawing curves with gnuplot. See LICENSE. */
#ifndef TG_CLI_TRAIN_H
#define TG_CLI_TRAIN_H

#include "cli.h"
#include "tapegrad_nn.h"

#define TRAIN_MAX_LAYERS 16
#define TRAIN_MAX_DEFS 32

/* The subcommands (also to be declared in cli.h). */
cli_run_fn cli_train, cli_compare;

/* The options both commands take. */
typedef struct train_cfg {
    const char *data;            /* spirals, moons, xor, curve, digits or FILE.csv */
    int points;                  /* generated sets: rows */
    int widths[TRAIN_MAX_LAYERS + 1], nwidths; /* 0: from the data */
    const char *loss, *opt;
    double lr;                   /* 0: the optimizer's default */
    int epochs, batch;
    uint64_t seed;
    const char *defs[TRAIN_MAX_DEFS];
    int ndefs;
    int quiet;                   /* --quiet: no progress. The one switch: a data-parallel
                                  * (MPI) run sets it on every rank but 0 */
    int chunks;                  /* --chunks: 0 whole batches (an MPI build's train: 8) */
    int parallel;                /* train: each batch's chunks shared among MPI ranks */
    const char *weights;         /* train --weights FILE: every weight written there */
} train_cfg;

void train_cfg_defaults(train_cfg *c);
/* If argv[*i] is one of the shared options, read it: 1 (used), 0 (not ours), -1 (error,
 * printed). */
int train_cfg_option(const char *cmd, train_cfg *c, int argc, char **argv, int *i);
/* The shared options' help text. */
extern const char train_cfg_help[];

/* The loaded data: train and test (20% held out, seeded), standardised with train's
 * statistics. 0, or 2 after cli_fail. */
typedef struct train_data {
    tg_dataset train, test;
    const char *name;
} train_data;
int train_data_load(const char *cmd, const train_cfg *c, train_data *d);
void train_data_free(train_data *d);

/* An activation from NAME (a registry op) or an expression in x, with c's --def's. */
typedef struct train_act {
    tg_activation a;
    tg_defs *defs;
    const char *text;
} train_act;
/* 0, or 2 after cli_fail (a --def that does not parse). */
int train_act_make(const char *cmd, const train_cfg *c, const char *text, train_act *a);
void train_act_free(train_act *a);
/* The check before training (tg_activation_check on [-4, 4]): 0 passed; 1 refused, because
 * the derivatives disagree (the reason gives the worst point) or the activation is not
 * finite somewhere (outside its domain: the reason names the op and its input); 2 bad
 * activation (printed). The reason goes to why (size bytes) when it is not NULL, else it is
 * printed as "tapegrad: CMD: --activation 'A': REASON; not training". */
int train_act_check(const char *cmd, const train_act *a, char *why, size_t size);

/* What one run ends with. Accuracies are NaN for a regression set. */
typedef struct train_result {
    int epochs;                  /* completed */
    double final_loss, test_loss, train_accuracy, test_accuracy, seconds;
} train_result;

/* One run: its result and its per-epoch curve, or why it has none. */
typedef struct train_curve {
    train_result r;
    double *loss, *train_acc, *test_acc;
    char error[TG_NN_ERRSIZE + 64]; /* train_run's failure, "" when it succeeded */
} train_curve;

/* r as the members of a JSON object, the ones `train --json` prints: "train_accuracy": a,
 * "test_accuracy": b, "final_loss": l, "epochs": n, "seconds": s (no braces: compare adds
 * members of its own around them). */
void train_json_result(FILE *f, const train_result *r);

/* How a run shows its progress on standard error: 0 not at all (c->quiet); 2 when standard
 * error is a terminal, one line redrawn in place (train_run); else `lines` (train: 1, a
 * plain line every tenth of the run; compare: 0, its own line per run). */
int train_progress(const train_cfg *c, int lines);

/* Train a fresh MLP (weights from seed) for c->epochs. progress: 0 none, 1 plain lines,
 * 2 the terminal's line (after a second: the epoch, loss, train accuracy, time spent and to
 * go; cleared at the end). Each epoch's test accuracy is evaluated when curve_acc is set.
 * 0; 1 the run failed (divergence, a NaN traced to its op, with the epoch); 2 the model does
 * not fit the data (bad input, the same for every run) or out of memory. Nothing is printed:
 * the message is in out->error. */
int train_run(const char *cmd, const train_cfg *c, const train_data *d, const train_act *a,
              uint64_t seed, int progress, int curve_acc, train_curve *out);
void train_curve_free(train_curve *cv);

/* What --plot FILE may end in (for cli_output_path). */
extern const char *const train_plot_exts[];
/* The gnuplot "set terminal" line for out by its extension (.svg: svg, else pngcairo). */
const char *train_gp_terminal(const char *out);
/* Write csv (one line per epoch of columns given) and draw png with the gnuplot script;
 * without gnuplot say so and keep the CSV. 0, or 2 after cli_fail. */
int train_gnuplot(const char *cmd, const char *png, const char *csv, const char *script);

#endif
