/* tapegrad_nn.h - training on the tape: seeded random numbers, dense layers, an MLP builder
 * (activation an op or an expression), losses by name, SGD/momentum/Adam with their state
 * outside the tape, mini-batches with a seeded shuffle, evaluation, and data sets (generated,
 * CSV). See LICENSE.
 *
 * Errors, one way throughout (docs/errors.md): every call that can fail returns a tg_status,
 * and its message is kept on the object the call fills, makes or works on, as a tape keeps
 * its error; no call takes a buffer for it. Read it with that object's getter, NULL when there
 * is no error: tg_data_error (a tg_dataset), tg_mlp_error (tg_mlp_init, tg_evaluate*),
 * tg_trainer_error, tg_activation_report_error. A trainer's failure sticks; the others hold
 * the outcome of the last call that filled or used them. Calls whose status says it all
 * (tg_loss_from_name, tg_opt_from_name, tg_dense_init, tg_optimizer_init: each status has one
 * documented cause) return the status alone. Builders that record on a tape (tg_mlp_forward,
 * tg_activation_apply, tg_loss_apply, ...) set the tape's sticky error, as every builder does. */
#ifndef TAPEGRAD_NN_H
#define TAPEGRAD_NN_H

#include "tapegrad.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Declared only: tapegrad_op.h defines an op, tapegrad_expr.h holds definitions. This
 * header needs neither in full, so a trainer includes only what it uses. */
struct tg_op_def;
struct tg_defs;
struct tg_registry;

/* The size of the message fields of this header's structs (a message is cut to one less):
 * room for a tape's whole message (anomaly mode's, with its op, node and inputs) and the
 * trainer's words around it. */
#define TG_NN_ERRSIZE 512

/* ---- random numbers: splitmix64, the state is the caller's (no global RNG) ---- */

TG_API uint64_t tg_rng_next(uint64_t *state);     /* 64 random bits */
TG_API double tg_rng_uniform(uint64_t *state);    /* uniform in [0, 1) */
TG_API double tg_rng_normal(uint64_t *state);     /* standard normal (Box-Muller) */

/* ---- data sets ----
 * n rows of d features (X, row-major) and one target per row (y). Classification: classes >= 2
 * and y[i] is the class index 0..classes-1 (stored as a double). Regression: classes == 0.
 * Every call below that fills a data set starts by emptying it; when it fails, the set stays
 * empty (nothing to free) and holds the message. */
typedef struct tg_dataset {
    int n, d, classes;
    double *X;
    double *y;
    char error[TG_NN_ERRSIZE]; /* read with tg_data_error */
    char task[TG_NN_ERRSIZE];  /* read with tg_data_task */
} tg_dataset;

/* The most classes tg_data_csv makes of integer labels: a larger label means a regression. */
#define TG_DATA_MAX_CLASSES 10000

/* Why the last call that filled ds failed, or NULL when it succeeded. */
TG_API const char *tg_data_error(const tg_dataset *ds);
/* Which task the call that filled ds chose, and why when it was read from labels: "regression"
 * (tg_data_curve), "classification into 2 classes" (the other generators), from a CSV file
 * "classification into 3 classes: every label is an integer, from 0 to 2", "regression: the
 * label on line 3, 0.1, is not an integer", "regression: every label is an integer, but the
 * largest, 2000000000 on line 2, would make 2000000001 classes (at most 10000)". tg_data_split
 * gives both parts the task of the whole. NULL for a set no call filled, or whose fill failed. */
TG_API const char *tg_data_task(const tg_dataset *ds);

/* Generated, all from seed (each returns TG_OK, or TG_ERR_NOMEM, or TG_ERR_ARG for n < 4:
 * "tg_data_spirals: n = 3 is too small (at least 4 points)"):
 * spirals: two interleaved spirals of 1.5 turns out to radius 3, noise 0.05 (2 features,
 *          2 classes, n points, half per class);
 * moons:   the two half-moons, noise 0.1;  xor: uniform in [-1,1]^2, label (x1 > 0) != (x2 > 0);
 * curve:   regression, x uniform in [-3,3], y = sin(x) + 0.3 x + noise 0.1 (1 feature). */
TG_API tg_status tg_data_spirals(tg_dataset *ds, int n, uint64_t seed);
TG_API tg_status tg_data_moons(tg_dataset *ds, int n, uint64_t seed);
TG_API tg_status tg_data_xor(tg_dataset *ds, int n, uint64_t seed);
TG_API tg_status tg_data_curve(tg_dataset *ds, int n, uint64_t seed);

/* Read a CSV file of numbers (each of any length): one row per line, the last column the
 * label, a first line that is not numeric taken as a header. Labels that are all integers
 * make a classification set (classes = max + 1, at least 2; a negative label is left for
 * tg_trainer_new to report as out of range) unless that is more than TG_DATA_MAX_CLASSES;
 * otherwise regression. tg_data_task says which, and why. Errors (TG_ERR_ARG, the message in
 * ds):
 *   "FILE: cannot open (REASON)", "FILE: no data rows",
 *   "FILE:LINE:COL: 'CELL' is not a number", "FILE:LINE:COL: NaN in the data",
 *   "FILE:LINE: 3 columns, expected 4 (as on line 1)", "FILE:LINE: only one column";
 * TG_ERR_NOMEM: "FILE: out of memory". */
TG_API tg_status tg_data_csv(tg_dataset *ds, const char *path);
/* The same from an open stream; name is used in messages. */
TG_API tg_status tg_data_csv_stream(tg_dataset *ds, FILE *f, const char *name);

/* Split ds into train and test (the last round(frac * n) of a seeded shuffle of the rows).
 * New arrays for both; ds is unchanged. On failure both are empty and hold the message:
 * TG_ERR_ARG when ds is NULL, has fewer than 2 rows or test_frac is not in (0, 1), or train
 * or test is NULL (then the other, if given, is empty and holds the message); TG_ERR_NOMEM. */
TG_API tg_status tg_data_split(const tg_dataset *ds, double test_frac, uint64_t seed,
                               tg_dataset *train, tg_dataset *test);
/* Scale every feature to mean 0, variance 1 using train's statistics (constant features are
 * only centred), applied to train and, when not NULL, test. A NULL or empty train has no
 * statistics: nothing changes. */
TG_API void tg_data_standardize(tg_dataset *train, tg_dataset *test);
TG_API void tg_data_free(tg_dataset *ds);

/* ---- activation: an op (elementwise: one with an eval kernel) or an expression in x ---- */

typedef struct tg_activation {
    const struct tg_op_def *op;      /* used when not NULL (e.g. &tg_op_tanh, tapegrad_op.h) */
    const char *expr;                /* else: an expression in `var`, e.g. "x*sigmoid(1.702*x)"
                                      * (both NULL: tanh) */
    const char *var;                 /* the variable's name; NULL: "x" */
    const struct tg_defs *defs;      /* definitions the expression may call (may be NULL) */
    const struct tg_registry *registry; /* where op names are found; NULL: the built-ins */
} tg_activation;

/* Apply the activation elementwise to z (any shape). An expression is parsed onto z's tape
 * with var bound to z (constants in it broadcast). Error handle on failure (tape error set). */
TG_API tg_var tg_activation_apply(const tg_activation *a, tg_var z);

/* What tg_activation_check found. */
typedef struct tg_activation_report {
    int agree;               /* 1: the three derivatives agree at every point (a kink is not
                              * a failure); 0: some point disagrees */
    double worst_x;          /* the worst point's x */
    tg_check_result worst;   /* its check result (worst.failed of worst.checked points failed) */
    char error[TG_NN_ERRSIZE]; /* read with tg_activation_report_error */
} tg_activation_report;

/* Check the activation's derivative before training: at npts points evenly spaced in [lo, hi]
 * (npts >= 2), each recorded on its own (so that a steep g's finite differences keep their
 * digits), tg_check_grad compares reverse mode, forward mode and finite differences. TG_OK when the check ran: the verdict
 * (agree or not, and the worst point) is in *rep. Otherwise the status and, in rep, why the
 * check could not run: "the check needs at least 2 points and lo < hi" (TG_ERR_ARG), a parse
 * error, an op that is not elementwise, "out of memory"; TG_ERR_DOMAIN when g is not finite
 * at a point (outside its domain, where there is no derivative to compare): rep->worst_x is
 * the first such point, and the message names the op that made the NaN or Inf and its input,
 * as anomaly mode does: "not finite at x = -4, outside its domain: sqrt: result is nan at
 * node #1 (x1 = -4)". TG_ERR_ARG for a NULL rep. */
TG_API tg_status tg_activation_check(const tg_activation *a, double lo, double hi, int npts,
                                     tg_activation_report *rep);
/* Why the last tg_activation_check into rep failed, or NULL when it ran. */
TG_API const char *tg_activation_report_error(const tg_activation_report *rep);

/* ---- dense layers and the MLP ---- */

typedef enum tg_init { TG_INIT_XAVIER, TG_INIT_HE } tg_init;

/* y = x W + b, W [in,out], b [out]. The values live in the layer (the optimizer updates
 * them); each recording copies them onto the tape as tensor parameters vW, vb. */
typedef struct tg_dense {
    int in, out;
    double *W, *b;
    tg_var vW, vb;
} tg_dense;

/* W drawn from *rng: Xavier (Glorot) uniform +-sqrt(6/(in+out)), or He normal sqrt(2/in);
 * b = 0. TG_ERR_ARG for in or out < 1, TG_ERR_NOMEM. */
TG_API tg_status tg_dense_init(tg_dense *l, int in, int out, tg_init init, uint64_t *rng);
TG_API void tg_dense_fini(tg_dense *l);
/* Record x W + b on t (x [N,in]); sets l->vW, l->vb. */
TG_API tg_var tg_dense_apply(tg_dense *l, tg_tape *t, tg_var x);

/* A stack of dense layers widths[0] -> widths[1] -> ... -> widths[n-1], the activation
 * between them (not after the last: it gives logits / raw outputs). */
typedef struct tg_mlp {
    int nlayers;
    tg_dense *layer;
    tg_activation act;
    char error[TG_NN_ERRSIZE]; /* read with tg_mlp_error */
} tg_mlp;

/* He initialisation when act is relu-like (op relu or leaky_relu), else Xavier; weights drawn
 * from seed. act is copied (its strings and defs must outlive the MLP). TG_ERR_ARG for fewer
 * than 2 widths, a width < 1 or an op that is not elementwise ("an MLP needs at least two
 * widths (inputs and outputs), got 1", "layer width 2 is 0 (must be at least 1)", "'matmul'
 * is not an elementwise function of one input"), TG_ERR_NOMEM ("out of memory"); then m has
 * no layers (nothing to free) and holds the message. */
TG_API tg_status tg_mlp_init(tg_mlp *m, int nwidths, const int *widths, const tg_activation *act,
                             uint64_t seed);
TG_API void tg_mlp_fini(tg_mlp *m);
/* Why the last tg_mlp_init or tg_evaluate* on m failed, or NULL when it succeeded. */
TG_API const char *tg_mlp_error(const tg_mlp *m);
/* Record the network on t for the input node x [N, widths[0]]: the output [N, widths[n-1]].
 * The weights become tensor parameters (params = 1), constants (params = 0, evaluation), or
 * parameters borrowed from m's arrays (params = 2: no copy; they must outlive the recording,
 * and an update written into them in place is what the next tg_replay reads). */
TG_API tg_var tg_mlp_forward(tg_mlp *m, tg_tape *t, tg_var x, int params);

/* ---- losses ---- */

typedef enum tg_loss { TG_LOSS_MSE, TG_LOSS_CROSS_ENTROPY, TG_LOSS_BCE_WITH_LOGITS } tg_loss;

/* "mse", "cross_entropy", "bce_with_logits": TG_OK and *out; TG_ERR_ARG for another name or
 * NULL (*out unchanged; the status is the whole message). */
TG_API tg_status tg_loss_from_name(const char *name, tg_loss *out);
TG_API const char *tg_loss_name(tg_loss l);
/* The loss of out [N,K] against target [N,K], a scalar. For cross_entropy target is one-hot
 * (a constant, so a recorded step can be replayed on another batch's labels):
 * -sum(target * log_softmax(out)) / N. mse: mean (out - target)^2; bce_with_logits: the op. */
TG_API tg_var tg_loss_apply(tg_loss l, tg_var out, tg_var target);
/* A loss written as an expression of one output element y and its target t (one-hot for
 * classification), averaged over every element of out: mean(EXPR). "(y - t)^2" is mse;
 * "softplus(y) - y*t" is bce_with_logits. The expression may call ops and defs (may be NULL)
 * and use no other names. An error handle (tape error "tg_parse: ...") if it does not parse. */
TG_API tg_var tg_loss_expr(const char *expr, const struct tg_defs *defs, tg_var out,
                           tg_var target);

/* ---- optimizers: the state lives here, outside the tape ---- */

typedef enum tg_opt_kind { TG_OPT_SGD, TG_OPT_MOMENTUM, TG_OPT_ADAM } tg_opt_kind;

typedef struct tg_optimizer {
    tg_opt_kind kind;
    double lr;
    double momentum;        /* momentum: 0.9 */
    double beta1, beta2, eps; /* adam: 0.9, 0.999, 1e-8 */
    long steps;
    int n;                  /* parameter arrays */
    size_t *size;
    double **m, **v;        /* velocity / first moment, second moment */
} tg_optimizer;

/* "sgd", "momentum", "adam": TG_OK and *out; TG_ERR_ARG for another name or NULL (*out
 * unchanged). */
TG_API tg_status tg_opt_from_name(const char *name, tg_opt_kind *out);
/* For n parameter arrays of size[k] elements. TG_ERR_ARG (lr not finite and > 0, n < 0 or an
 * unknown kind), TG_ERR_NOMEM. */
TG_API tg_status tg_optimizer_init(tg_optimizer *o, tg_opt_kind kind, double lr, int n,
                                   const size_t *size);
TG_API void tg_optimizer_fini(tg_optimizer *o);
/* One update of every p[k] (size[k] values) from its gradient g[k] (NULL: no gradient, the
 * array is left alone). A plain loop. */
TG_API void tg_optimizer_step(tg_optimizer *o, double *const *p, const double *const *g);

/* ---- training ---- */

typedef struct tg_train_opts {
    tg_loss loss;
    const char *loss_expr;   /* not NULL: tg_loss_expr(loss_expr, loss_defs, ...) instead */
    const struct tg_defs *loss_defs;
    tg_opt_kind opt;
    double lr;       /* 0: 0.01 for adam, 0.1 otherwise */
    int epochs;      /* used by the caller's loop (tg_trainer_epoch runs one) */
    int batch;       /* 0: 32 */
    uint64_t seed;   /* the shuffle */
    int rerecord;    /* 1: record the step again for every batch instead of replaying it */
} tg_train_opts;

typedef struct tg_epoch_stats {
    int epoch;       /* 1-based */
    double loss;     /* mean training loss over the epoch's batches (before each update) */
    double seconds;  /* wall time of the epoch */
} tg_epoch_stats;

/* A training run: the step recorded once per batch size and replayed per batch (inputs,
 * one-hot or numeric targets and weights changed with tg_tensor_set), the optimizer, the
 * shuffle state. */
typedef struct tg_trainer tg_trainer;

/* Make a trainer of m on train. *tr is set even when this fails, so that the trainer can
 * hold the message (as sqlite3_open does): read tg_trainer_error(*tr), then tg_trainer_free it
 * either way. *tr is NULL only when the trainer itself could not be allocated (TG_ERR_NOMEM;
 * tg_trainer_error(NULL) is "out of memory"). Checks the data against the model (TG_ERR_ARG):
 * "the data has D features but the first layer takes W", "the data has C classes (labels
 * 0..C-1) but the last layer has K outputs", "label out of range (row R: Y; classes 0..C-1)",
 * "NaN in the data (row R, column C)", "the data is a regression: use the loss mse, not NAME",
 * "the learning rate must be a positive number (got LR)"; a loss expression that does not
 * parse is TG_ERR_PARSE, "loss 'EXPR': tg_parse: ...". m must outlive the trainer. */
TG_API tg_status tg_trainer_new(tg_trainer **tr, tg_mlp *m, const tg_dataset *train,
                                const tg_train_opts *opts);
TG_API void tg_trainer_free(tg_trainer *tr);
/* The message of the trainer's failure, or NULL while it has none. A failure sticks, as a
 * tape's does: a trainer that failed (in tg_trainer_new or an epoch) keeps its status and
 * message, and every later tg_trainer_epoch returns them without training. */
TG_API const char *tg_trainer_error(const tg_trainer *tr);
/* One epoch over the training set: shuffle, then every mini-batch (the last may be smaller).
 * Returns TG_OK; TG_ERR_DOMAIN with the message "training diverged at epoch E (loss L; try a
 * learning rate below LR)" when a batch loss is infinite or the epoch's loss exceeds 1e3
 * times the first epoch's (and 1e3 in value). A batch loss that is NaN is traced to where it
 * starts (the batch replayed in anomaly mode, tg_tape_check_nan): TG_ERR_DOMAIN with "training
 * stopped at epoch E: the loss is nan; the first NaN or Inf comes from log: result is nan at
 * element 1 of node #17 (shape [32,2]; x1 = -2.1571094216888254)" (the op, the element and
 * its input there), and " (if the loss was growing, try a learning rate below LR)" after it
 * once an update has been made; the divergence message when anomaly mode finds no origin (and
 * for batches swept in chunks, whose loss is a sum over several tapes). Another status with
 * the tape's message. st may be NULL. With a reducer (tg_trainer_set_reducer) the batches are
 * shared among the workers, and two more messages are possible: "worker R of P failed
 * (STATUS)" (another worker's tape failed at the same batch) and "the gradient sum failed at
 * epoch E (STATUS)" (sum's status). */
TG_API tg_status tg_trainer_epoch(tg_trainer *tr, tg_epoch_stats *st);
/* The optimizer (to change lr between epochs); NULL for a NULL trainer. */
TG_API tg_optimizer *tg_trainer_optimizer(tg_trainer *tr);

/* ---- data-parallel training: chunks, and the caller's reduction hook ----
 * P workers (processes: MPI ranks, say) each make a trainer of the same model on the same data
 * with the same options and seed, and give it a tg_reducer. The library knows nothing of how
 * the workers talk: sum and broadcast are the caller's (the command binds them to MPI).
 *
 * With a reducer, every batch of n rows is cut into C chunks (chunk c: the rows
 * [c*n/C, (c+1)*n/C), integer division; empty when n < C), each swept on its own, seeded with
 * its share of the batch (its rows / n), so that the chunks' gradients add up to the gradient
 * of the batch's mean loss. They are added up along a fixed binary tree over the chunks (node
 * [lo, hi) = [lo, mid) + [mid, hi), mid = lo + (hi - lo)/2). Worker r of P takes the chunks
 * [r*C/P, (r+1)*C/P) (none when C < P), adds up each largest node inside that range (one
 * when P is a power of 2 no larger than C; a few otherwise) and puts it in a slot of one
 * buffer that is its alone, zeros in the others' slots. The buffer is
 *     one slot per such node (every gradient, W1, b1, W2, b2, ... row-major as in the layers,
 *     then the node's loss times its rows); one flag per array (a sweep reached it); one
 *     status per worker (its tape's tg_status)
 * and sum adds the workers' buffers. Every entry is nonzero on one worker at most, so the sum
 * is exact in any order; every worker then evaluates the tree from the slots and applies the
 * update. The result depends on C, never on P: one process with the same chunks (size 1, no
 * hooks) trains bit for bit as P workers do (on one kind of CPU and BLAS: BLAS rounds a
 * product's rows differently with their place in its blocks, so rows are never swept but in
 * their chunk). It differs from whole batches (no reducer) by rounding, which training may
 * amplify (docs/scaling.md).
 *
 * A failure on any worker is in the summed statuses, so every worker stops at the same batch
 * (none is left waiting in sum): the failed one with its tape's message, the others with
 * "worker R of P failed (STATUS)". A loss that is not finite in any chunk makes the sum's
 * loss not finite, and every worker reports the divergence as one process would. */
#define TG_CHUNKS 8 /* chunks per batch when tg_reducer.chunks is 0 */
typedef struct tg_reducer {
    int rank;   /* this worker, 0 .. size-1 */
    int size;   /* workers, P >= 1 */
    int chunks; /* C, the chunks per batch: 0 for TG_CHUNKS; more than P keeps them all busy */
    /* Replace buf[0..n) on every worker by the elementwise sum of every worker's buf (any
     * order: the sum is exact). TG_OK, or a status that stops the training on this worker.
     * May be NULL when size is 1. */
    tg_status (*sum)(void *ud, double *buf, size_t n);
    /* Replace buf[0..n) on every worker by worker 0's. TG_OK or a status. May be NULL when
     * size is 1. */
    tg_status (*broadcast)(void *ud, double *buf, size_t n);
    void *ud;   /* passed to sum and broadcast */
} tg_reducer;

/* Train tr in chunks, data-parallel when r->size > 1 (r is copied; r->ud must outlive the
 * trainer): tr's weights are replaced by worker 0's (through broadcast, so every worker starts
 * from the same model) and every later tg_trainer_epoch shares its batches as described
 * above. A collective call: every worker makes it once, after its tg_trainer_new succeeded,
 * before its first epoch. Without it a trainer sweeps whole batches, alone, as it always has.
 * Errors stick on the trainer (TG_ERR_ARG): "tg_trainer_set_reducer: the reducer is NULL",
 * "tg_trainer_set_reducer: rank R of size P is out of range",
 * "tg_trainer_set_reducer: P workers need sum and broadcast",
 * "tg_trainer_set_reducer: chunks must be 0 (for 8) or more (got C)",
 * "tg_trainer_set_reducer: call it once, before the first epoch"; TG_ERR_NOMEM "out of
 * memory"; broadcast's status with "tg_trainer_set_reducer: the broadcast failed (STATUS)".
 * A trainer that already failed returns its status and calls nothing. */
TG_API tg_status tg_trainer_set_reducer(tg_trainer *tr, const tg_reducer *r);

/* Mean loss and accuracy (classification: arg-max of the outputs, or output > 0 for a single
 * bce output; regression: acc = NaN) of m on ds, weights as constants (nothing is
 * differentiated). acc or loss may be NULL. TG_OK, or the status with its message left in m
 * (tg_mlp_error): the tape's (data that does not fit the model: "matmul: inner dimensions
 * differ ..."; a loss expression that does not parse), "tg_evaluate: the model has no layers",
 * "tg_evaluate: the data set is NULL", "tg_evaluate: opts is NULL" (TG_ERR_ARG),
 * "tg_evaluate: out of memory". A NULL m: TG_ERR_ARG (no message: nowhere to keep it). */
TG_API tg_status tg_evaluate(tg_mlp *m, const tg_dataset *ds, tg_loss loss, double *acc,
                             double *mean_loss);
/* The same with the loss of opts (loss_expr when set). */
TG_API tg_status tg_evaluate_opts(tg_mlp *m, const tg_dataset *ds, const tg_train_opts *opts,
                                  double *acc, double *mean_loss);

#ifdef __cplusplus
}
#endif
#endif
