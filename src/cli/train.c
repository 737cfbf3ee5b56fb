/* train.c - `tapegrad train`: an MLP on a data set (generated, the scikit-learn digits, or a
 * CSV file), with the activation's derivative checked before training, progress on stderr, the
 * final train/test accuracy, a loss curve through gnuplot and --json. Also the pieces
 * `tapegrad compare` shares (train.h). The maths is the library's (tapegrad_nn.h).
 * See LICENSE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "par.h"
#include "tapegrad_op.h"
#include "train.h"

#define CMD "train"

const char train_cfg_help[] =
    "  --data NAME|FILE   spirals (default), moons, xor, curve (regression), digits (the\n"
    "                     scikit-learn digits, from python3-sklearn) or a CSV file: numbers,\n"
    "                     the last column the label (integers: classes, at most 10000; else\n"
    "                     a regression; which and why is printed), a header line allowed;\n"
    "                     20% of the rows (seeded) are held out for testing; features are\n"
    "                     standardised\n"
    "  --points N         rows of a generated set (default 500)\n"
    "  --layers W,W,...   widths from inputs to outputs (default: features,32,32,classes)\n"
    "  --loss NAME|EXPR   cross_entropy (default), mse (default for regression),\n"
    "                     bce_with_logits, or an expression in an output y and its target t\n"
    "                     (one-hot for classes), averaged over every output: '(y - t)^2'\n"
    "  --opt NAME         adam (default), momentum or sgd\n"
    "  --lr ETA           learning rate (default 0.01 for adam, 0.1 otherwise)\n"
    "  --epochs N         passes over the training rows (default 200)\n"
    "  --batch N          rows per step (default 32)\n"
    "  --seed N           data, split, weights and shuffle (default 1)\n"
    "  --def 'f(x) = E'   define a function the activation may call (repeatable)\n"
    "  --chunks N         sweep each batch in N chunks, their gradients added along a\n"
    "                     tree fixed by N, as a data-parallel run does on any number of\n"
    "                     MPI ranks (default: whole batches; train built with MPI=1: 8)\n"
    "  --quiet            no progress on standard error\n";

static const char usage[] =
    "usage: tapegrad train [--data spirals|moons|xor|curve|digits|FILE.csv] [--layers 2,32,32,2]\n"
    "                      [--activation NAME|EXPR] [--def 'f(x) = ...'] [--loss NAME]\n"
    "                      [--opt sgd|momentum|adam] [--lr ETA] [--epochs N] [--batch N]\n"
    "                      [--seed N] [--chunks N] [--plot curve.png] [--weights FILE]\n"
    "                      [--json] [--quiet]\n"
    "\n"
    "Trains a multilayer perceptron and prints the final train and test accuracy. The\n"
    "activation's derivative is checked first (reverse mode vs forward mode vs finite\n"
    "differences at 81 points in [-4, 4]); training is refused (exit 1) if they disagree, or\n"
    "if the activation itself is not finite at one of the points (outside its domain).\n"
    "The training step is recorded on a tape once and replayed for every mini-batch.\n"
    "\n"
    "  --activation A     an op (relu, the default; tanh, sigmoid, gelu, silu, ...), an\n"
    "                     expression in x ('x*sigmoid(1.702*x)') or a --def's name\n"
    "%s"
    "  --plot FILE.png    loss and accuracy per epoch, drawn by gnuplot (FILE.csv beside it;\n"
    "                     without gnuplot only the CSV)\n"
    "  --weights FILE     write every weight after training: a line per array (W1 b1 W2\n"
    "                     ...), its name, its shape and its values (%%.17g)\n"
    "  --json             print {\"train_accuracy\": a, \"test_accuracy\": b, \"final_loss\": l,\n"
    "                     \"epochs\": n, \"seconds\": s} (s: time spent in training epochs)\n"
    "\n"
    "Progress goes to stderr: on a terminal, once the run has lasted a second, one line\n"
    "redrawn in place (epoch, loss, train accuracy, time spent and to go), cleared at the\n"
    "end; otherwise a line every tenth of the run. --quiet: none.\n"
    "Built with MPI=1, 'mpirun -np N tapegrad train ...' trains data-parallel: each batch's\n"
    "chunks are shared among the ranks, with the numbers of one process (docs/scaling.md).\n"
    "\n"
    "examples:\n"
    "  tapegrad train\n"
    "  tapegrad train --data digits --layers 64,64,10 --epochs 20\n"
    "  tapegrad train --activation 'x*sigmoid(1.702*x)' --plot curve.png\n";

/* ---- shared options ---- */

void train_cfg_defaults(train_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->data = "spirals";
    c->points = 500;
    c->opt = "adam";
    c->epochs = 200;
    c->batch = 32;
    c->seed = 1;
}

static int parse_layers(const char *cmd, const char *s, train_cfg *c)
{
    const char *p = s;
    c->nwidths = 0;
    for (;;) {
        char *end;
        long w = strtol(p, &end, 10);
        if (end == p || w < 1 || w > 100000 || c->nwidths > TRAIN_MAX_LAYERS ||
            (*end != ',' && *end != '\0'))
            return cli_fail(cmd, "--layers: '%s' is not a list of 2 to %d widths from 1 "
                                 "(as in 2,32,32,2)", s, TRAIN_MAX_LAYERS + 1), -1;
        c->widths[c->nwidths++] = (int)w;
        if (*end == '\0') break;
        p = end + 1;
    }
    if (c->nwidths < 2)
        return cli_fail(cmd, "--layers: '%s' needs at least an input and an output width", s),
               -1;
    return 0;
}

static int is_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return 0;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

int train_cfg_option(const char *cmd, train_cfg *c, int argc, char **argv, int *i)
{
    const char *v;
    int r;
    uint64_t n;
    if (strcmp(argv[*i], "--quiet") == 0) return c->quiet = 1;
    if ((r = cli_option(cmd, argc, argv, i, "--data", &v)) != 0) return r < 0 ? -1 : (c->data = v, 1);
    if ((r = cli_option(cmd, argc, argv, i, "--loss", &v)) != 0) {
        tg_loss l;
        if (r < 0) return -1;
        if (tg_loss_from_name(v, &l) != TG_OK && is_name(v))
            return cli_fail(cmd, "--loss: unknown loss '%s' (mse, cross_entropy, "
                                 "bce_with_logits, or an expression in y and t)", v), -1;
        c->loss = v;
        return 1;
    }
    if ((r = cli_option(cmd, argc, argv, i, "--opt", &v)) != 0) {
        tg_opt_kind k;
        if (r < 0) return -1;
        if (tg_opt_from_name(v, &k) != TG_OK)
            return cli_fail(cmd, "--opt: unknown optimizer '%s' (sgd, momentum, adam)", v), -1;
        c->opt = v;
        return 1;
    }
    if ((r = cli_option(cmd, argc, argv, i, "--layers", &v)) != 0)
        return r < 0 || parse_layers(cmd, v, c) ? -1 : 1;
    if ((r = cli_option(cmd, argc, argv, i, "--lr", &v)) != 0) {
        if (r < 0 || cli_number(cmd, "--lr", v, &c->lr)) return -1;
        if (!(c->lr > 0)) return cli_fail(cmd, "--lr: must be positive (got %s)", v), -1;
        return 1;
    }
    if ((r = cli_option(cmd, argc, argv, i, "--def", &v)) != 0) {
        if (r < 0) return -1;
        if (c->ndefs == TRAIN_MAX_DEFS)
            return cli_fail(cmd, "--def: at most %d definitions", TRAIN_MAX_DEFS), -1;
        c->defs[c->ndefs++] = v;
        return 1;
    }
    static const struct {
        const char *name;
        uint64_t min, max;
    } counts[] = {{"--epochs", 1, 1000000}, {"--batch", 1, 1000000}, {"--points", 4, 10000000},
                  {"--seed", 0, UINT64_MAX}, {"--chunks", 1, 1000000}};
    for (int k = 0; k < 5; k++) {
        if ((r = cli_option(cmd, argc, argv, i, counts[k].name, &v)) == 0) continue;
        if (r < 0 || cli_count(cmd, counts[k].name, v, counts[k].min, counts[k].max, &n))
            return -1;
        if (k == 0) c->epochs = (int)n;
        else if (k == 1) c->batch = (int)n;
        else if (k == 2) c->points = (int)n;
        else if (k == 3) c->seed = n;
        else c->chunks = (int)n;
        return 1;
    }
    return 0;
}

/* ---- data ---- */

/* The path of scikit-learn's digits.csv.gz from dpkg's file list (malloc'd), or NULL. */
static char *digits_path(void)
{
    FILE *p = popen("dpkg -L python3-sklearn 2>/dev/null", "r");
    if (!p) return NULL;
    char line[4096], *found = NULL;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        if (!found && cli_ends_with(line, "/datasets/data/digits.csv.gz") &&
            !strchr(line, '\''))
            found = strdup(line);
    }
    pclose(p);
    return found;
}

static int load_digits(const char *cmd, tg_dataset *ds)
{
    char *path = digits_path();
    if (!path)
        return cli_fail(cmd, "--data digits needs scikit-learn's data files: install "
                             "python3-sklearn (apt-get install -y python3-sklearn)");
    char command[4200];
    snprintf(command, sizeof command, "gzip -dc '%s'", path);
    FILE *p = popen(command, "r");
    if (!p) {
        cli_fail(cmd, "cannot run gzip to read %s", path);
        free(path);
        return 2;
    }
    tg_status st = tg_data_csv_stream(ds, p, "digits.csv.gz");
    int zs = pclose(p);
    if (st == TG_OK && zs != 0) {
        tg_data_free(ds);
        cli_fail(cmd, "gzip -dc %s failed (status %d)", path, zs);
        free(path);
        return 2;
    }
    free(path);
    return st ? cli_fail(cmd, "%s", tg_data_error(ds)) : 0;
}

int train_data_load(const char *cmd, const train_cfg *c, train_data *d)
{
    memset(d, 0, sizeof *d);
    tg_dataset all;
    tg_status st;
    const char *s = c->data;
    int file = 0; /* the task was read from the labels of the user's file */
    d->name = s;
    if (strcmp(s, "spirals") == 0) st = tg_data_spirals(&all, c->points, c->seed);
    else if (strcmp(s, "moons") == 0) st = tg_data_moons(&all, c->points, c->seed);
    else if (strcmp(s, "xor") == 0) st = tg_data_xor(&all, c->points, c->seed);
    else if (strcmp(s, "curve") == 0) st = tg_data_curve(&all, c->points, c->seed);
    else if (strcmp(s, "digits") == 0) {
        int rc = load_digits(cmd, &all);
        if (rc) return rc;
        st = TG_OK;
    } else if (cli_ends_with(s, ".csv") || access(s, R_OK) == 0) {
        if (tg_data_csv(&all, s) != TG_OK) return cli_fail(cmd, "%s", tg_data_error(&all));
        st = TG_OK;
        file = 1;
    } else
        return cli_fail(cmd, "--data: unknown data set '%s' (spirals, moons, xor, curve, "
                             "digits, or a FILE.csv)", s);
    if (st) return cli_fail(cmd, "cannot make the data set: %s", tg_data_error(&all));
    for (int i = 0; all.classes >= 2 && i < all.n; i++)
        if (all.y[i] < 0) { /* before the split shuffles the rows: the file's row number */
            cli_fail(cmd, "%s: data row %d: label %g is out of range (labels are 0, 1, ...)", s,
                     i + 1, all.y[i]);
            tg_data_free(&all);
            return 2;
        }
    if (all.n < 5) {
        tg_data_free(&all);
        return cli_fail(cmd, "%s: %d rows are too few to hold 20%% out for testing", s, all.n);
    }
    if (file) fprintf(stderr, "%s: %s\n", s, tg_data_task(&all));
    st = tg_data_split(&all, 0.2, c->seed, &d->train, &d->test);
    tg_data_free(&all);
    if (st) return cli_fail(cmd, "%s", tg_data_error(&d->train));
    tg_data_standardize(&d->train, &d->test);
    return 0;
}

void train_data_free(train_data *d)
{
    tg_data_free(&d->train);
    tg_data_free(&d->test);
}

/* ---- activation ---- */

int train_act_make(const char *cmd, const train_cfg *c, const char *text, train_act *a)
{
    memset(a, 0, sizeof *a);
    a->text = text;
    const tg_op_def *op = tg_registry_find(NULL, text);
    if (op && !(op->eval && op->arity == 1))
        return cli_fail(cmd, "--activation: '%s' is not an elementwise function of one input "
                             "(try relu, tanh, sigmoid, gelu, silu, or an expression in x)",
                        text);
    if (op && c->ndefs == 0) {
        a->a.op = op;
        return 0;
    }
    a->defs = tg_defs_new();
    if (!a->defs) return cli_fail(cmd, "out of memory");
    for (int k = 0; k < c->ndefs; k++) {
        tg_parse_error pe;
        if (tg_defs_add(a->defs, c->defs[k], NULL, &pe) != TG_OK)
            return cli_fail(cmd, "--def '%s': at column %d: %s", c->defs[k], pe.column,
                            pe.message);
    }
    if (op) {
        a->a.op = op;
        return 0;
    }
    a->a.defs = a->defs;
    a->a.expr = text;
    if (is_name(text)) /* a definition's name: call it on x */
        for (int k = 0; k < tg_defs_count(a->defs); k++)
            if (strcmp(tg_defs_name(a->defs, k), text) == 0) {
                size_t n = strlen(text) + 4;
                char *call = malloc(n);
                if (!call) return cli_fail(cmd, "out of memory");
                snprintf(call, n, "%s(x)", text);
                a->a.expr = call;
            }
    return 0;
}

void train_act_free(train_act *a)
{
    if (a->a.expr && a->a.expr != a->text) free((char *)a->a.expr);
    tg_defs_free(a->defs);
    memset(a, 0, sizeof *a);
}

int train_act_check(const char *cmd, const train_act *a, char *why, size_t size)
{
    tg_activation_report rep;
    char buf[TG_NN_ERRSIZE + 64];
    tg_status st = tg_activation_check(&a->a, -4.0, 4.0, 81, &rep);
    if (st != TG_OK && st != TG_ERR_DOMAIN)
        return cli_fail(cmd, "--activation '%s': %s", a->text, tg_activation_report_error(&rep));
    if (st == TG_OK && rep.agree) return 0;
    const tg_check_result *r = &rep.worst;
    if (!why) {
        why = buf;
        size = sizeof buf;
    }
    if (st == TG_ERR_DOMAIN) /* the value itself is NaN or Inf there: nothing to differentiate */
        snprintf(why, size, "%s", tg_activation_report_error(&rep));
    else
        snprintf(why, size, "its derivative is wrong: at x = %.17g reverse mode gives %.10g, "
                 "forward mode %.10g, finite differences %.10g (relative error %.2e; %zu of %zu "
                 "points disagree)", rep.worst_x, r->reverse, r->forward, r->fd, r->rel_err,
                 r->failed, r->checked);
    if (why == buf) cli_fail(cmd, "--activation '%s': %s; not training", a->text, why);
    return 1;
}

/* ---- one run ---- */

void train_curve_free(train_curve *cv)
{
    free(cv->loss);
    free(cv->train_acc);
    free(cv->test_acc);
    memset(cv, 0, sizeof *cv);
}

/* ---- progress on a terminal ---- */

/* One line on standard error, redrawn over itself with \r: nothing until the run has lasted a
 * second (a shorter one shows nothing), then at most ten times a second; cut to the
 * terminal's width, so that \r always returns to its start; cleared when the run ends. */
typedef struct meter {
    double t0, drawn; /* when the run started; the last drawing */
    int width;        /* characters on the line now, 0 when it is empty */
} meter;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int meter_due(const meter *mt, double t)
{
    return t - mt->t0 >= 1.0 && t - mt->drawn >= 0.1;
}

/* Seconds as m:ss. */
static void minutes(char *buf, size_t size, double s)
{
    long n = lround(s);
    snprintf(buf, size, "%ld:%02ld", n / 60, n % 60);
}

static void meter_draw(meter *mt, int epoch, int epochs, double loss, double acc, double t)
{
    char spent[24], left[24], line[160];
    minutes(spent, sizeof spent, t - mt->t0);
    minutes(left, sizeof left, (t - mt->t0) / epoch * (epochs - epoch));
    char acc_text[24] = "";
    if (!isnan(acc)) snprintf(acc_text, sizeof acc_text, "  train %.1f%%", 100 * acc);
    int n = snprintf(line, sizeof line, "  epoch %d/%d  loss %.4g%s  %s elapsed, %s to go", epoch,
                     epochs, loss, acc_text, spent, left);
    struct winsize ws;
    int cols = ioctl(fileno(stderr), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col : 80;
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    if (n > cols - 1) n = cols - 1;
    fprintf(stderr, "\r%.*s%*s", n, line, mt->width > n ? mt->width - n : 0, "");
    fflush(stderr);
    mt->width = n;
    mt->drawn = t;
}

static void meter_clear(meter *mt)
{
    if (!mt->width) return;
    fprintf(stderr, "\r%*s\r", mt->width, "");
    fflush(stderr);
    mt->width = 0;
}

int train_progress(const train_cfg *c, int lines)
{
    return c->quiet ? 0 : isatty(fileno(stderr)) ? 2 : lines;
}

/* out->error = the message, a then b; returns st. */
static int run_fail(train_curve *out, int st, const char *a, const char *b)
{
    snprintf(out->error, sizeof out->error, "%s%s", a, b);
    return st;
}

/* --weights FILE: one line per array, W1 b1 W2 b2 ..., its name, its shape and its values
 * (row-major, %.17g: read back, they are the same doubles). 0, or 2 after cli_fail. */
static int write_weights(const char *cmd, const char *path, const tg_mlp *m)
{
    FILE *f = fopen(path, "w");
    if (!f) return cli_fail(cmd, "--weights: cannot write %s", path);
    for (int l = 0; l < m->nlayers; l++) {
        const tg_dense *ly = &m->layer[l];
        fprintf(f, "W%d %dx%d", l + 1, ly->in, ly->out);
        for (size_t e = 0; e < (size_t)ly->in * ly->out; e++) fprintf(f, " %.17g", ly->W[e]);
        fprintf(f, "\nb%d %d", l + 1, ly->out);
        for (int e = 0; e < ly->out; e++) fprintf(f, " %.17g", ly->b[e]);
        fputc('\n', f);
    }
    return fclose(f) == 0 ? 0 : cli_fail(cmd, "--weights: cannot write %s", path);
}

int train_run(const char *cmd, const train_cfg *c, const train_data *d, const train_act *a,
              uint64_t seed, int progress, int curve_acc, train_curve *out)
{
    (void)cmd;
    memset(out, 0, sizeof *out);
    const tg_dataset *tr = &d->train;
    int K = tr->classes >= 2 ? tr->classes : 1;
    int w[TRAIN_MAX_LAYERS + 1], nw = c->nwidths;
    if (nw) memcpy(w, c->widths, (size_t)nw * sizeof *w);
    else {
        w[0] = tr->d;
        w[1] = w[2] = 32;
        w[3] = K;
        nw = 4;
    }
    tg_train_opts o;
    memset(&o, 0, sizeof o);
    if (c->loss && tg_loss_from_name(c->loss, &o.loss) != TG_OK) { /* an expression in y, t */
        o.loss_expr = c->loss;
        o.loss_defs = a->defs;
    } else if (!c->loss)
        o.loss = tr->classes >= 2 ? TG_LOSS_CROSS_ENTROPY : TG_LOSS_MSE;
    tg_opt_from_name(c->opt, &o.opt);
    o.lr = c->lr;
    o.batch = c->batch;
    o.seed = seed;
    tg_mlp m;
    tg_trainer *t = NULL;
    if (tg_mlp_init(&m, nw, w, &a->a, seed) != TG_OK)
        return run_fail(out, 2, tg_mlp_error(&m), "");
    if (tg_trainer_new(&t, &m, tr, &o) != TG_OK) {
        const char *err = tg_trainer_error(t);
        int r = run_fail(out, 2, err,
                         strstr(err, "features") || strstr(err, "outputs") ? " (see --layers)"
                                                                             : "");
        tg_trainer_free(t); /* after the message: it lives on the trainer */
        tg_mlp_fini(&m);
        return r;
    }
    out->loss = calloc((size_t)c->epochs, sizeof(double));
    out->train_acc = calloc((size_t)c->epochs, sizeof(double));
    out->test_acc = calloc((size_t)c->epochs, sizeof(double));
    int rc = 0;
    if (!out->loss || !out->train_acc || !out->test_acc) {
        rc = run_fail(out, 2, "out of memory", "");
        goto done;
    }
    tg_reducer red = {.size = 1, .chunks = c->chunks}; /* --chunks, on MPI ranks for train */
    if (c->parallel && (rc = cli_par_reducer(&red)) != 0) goto done;
    if (red.chunks && tg_trainer_set_reducer(t, &red) != TG_OK) {
        rc = cli_fail(cmd, "%s", tg_trainer_error(t));
        goto done;
    }
    int every = c->epochs >= 10 ? c->epochs / 10 : 1;
    meter mt = {now(), 0, 0};
    for (int e = 1; e <= c->epochs; e++) {
        tg_epoch_stats st;
        if (tg_trainer_epoch(t, &st) != TG_OK) {
            meter_clear(&mt);
            rc = run_fail(out, 1, tg_trainer_error(t), "");
            goto done;
        }
        out->r.seconds += st.seconds;
        out->loss[e - 1] = st.loss;
        out->r.epochs = e;
        double at = progress == 2 ? now() : 0;
        int draw = progress == 2 && meter_due(&mt, at);
        int show = progress == 1 && (e % every == 0 || e == 1);
        double tra = NAN, tea = NAN;
        if (draw || show || curve_acc) tg_evaluate_opts(&m, tr, &o, &tra, NULL);
        if (show || curve_acc) tg_evaluate_opts(&m, &d->test, &o, &tea, NULL);
        out->train_acc[e - 1] = tra;
        out->test_acc[e - 1] = tea;
        if (draw)
            meter_draw(&mt, e, c->epochs, st.loss, tra, at);
        else if (show && isnan(tra))
            fprintf(stderr, "epoch %d/%d  loss %.6g\n", e, c->epochs, st.loss);
        else if (show)
            fprintf(stderr, "epoch %d/%d  loss %.6g  train %.1f%%  test %.1f%%\n", e, c->epochs,
                    st.loss, 100 * tra, 100 * tea);
    }
    meter_clear(&mt);
    if (tg_evaluate_opts(&m, tr, &o, &out->r.train_accuracy, &out->r.final_loss) ||
        tg_evaluate_opts(&m, &d->test, &o, &out->r.test_accuracy, &out->r.test_loss))
        rc = run_fail(out, 1, "evaluation failed: ", tg_mlp_error(&m));
    if (rc == 0 && c->weights && cli_par_rank() == 0) rc = write_weights(cmd, c->weights, &m);
done:
    tg_trainer_free(t);
    tg_mlp_fini(&m);
    return rc;
}

void train_json_result(FILE *f, const train_result *r)
{
    const struct {
        const char *key;
        double v;
    } m[] = {{"train_accuracy", r->train_accuracy}, {"test_accuracy", r->test_accuracy},
             {"final_loss", r->final_loss}, {"epochs", r->epochs}, {"seconds", r->seconds}};
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        fprintf(f, "%s\"%s\": ", k ? ", " : "", m[k].key);
        cli_json_num(f, m[k].v);
    }
}

/* ---- gnuplot ---- */

const char *const train_plot_exts[] = {".png", ".svg", NULL};

const char *train_gp_terminal(const char *out)
{
    return cli_ends_with(out, ".svg") ? "set terminal svg size 900,520 dynamic noenhanced\n"
                                      : "set terminal pngcairo size 900,520 noenhanced\n";
}

int train_gnuplot(const char *cmd, const char *png, const char *csv, const char *script)
{
    char *gp = cli_replace_ext(png, ".gp");
    if (!gp) return cli_fail(cmd, "out of memory");
    FILE *f = fopen(gp, "w");
    if (!f || fputs(script, f) < 0 || fclose(f) != 0) {
        if (f) fclose(f);
        cli_fail(cmd, "cannot write %s", gp);
        free(gp);
        return 2;
    }
    const char *args[] = {"gnuplot", gp, NULL};
    int st = cli_run_program(args), rc = 0;
    if (st == -1)
        fprintf(stderr, "tapegrad: %s: gnuplot is not installed, so %s was not drawn; wrote %s "
                        "and %s (apt-get install -y gnuplot-nox, then 'gnuplot %s')\n",
                cmd, png, csv, gp, gp);
    else if (st != 0)
        rc = cli_fail(cmd, "gnuplot failed (status %d) drawing %s from %s", st, png, gp);
    else
        fprintf(stderr, "wrote %s (gnuplot), with the data in %s and the script in %s\n", png,
                csv, gp);
    free(gp);
    return rc;
}

/* s with ' and \ dropped, for a gnuplot single-quoted title. */
static void gp_text(char *buf, size_t size, const char *s)
{
    size_t n = 0;
    for (; *s && n + 1 < size; s++)
        if (*s != '\'' && *s != '\\' && *s != '"') buf[n++] = *s;
    buf[n] = '\0';
}

static int plot_curve(const char *png, const train_cfg *c, const train_data *d,
                      const train_act *a, const train_curve *cv)
{
    char *csv = cli_replace_ext(png, ".csv");
    if (!csv) return cli_fail(CMD, "out of memory");
    FILE *f = fopen(csv, "w");
    if (!f) {
        cli_fail(CMD, "cannot write %s", csv);
        free(csv);
        return 2;
    }
    fprintf(f, "epoch,loss,train_accuracy,test_accuracy\n");
    for (int e = 0; e < cv->r.epochs; e++)
        fprintf(f, "%d,%.10g,%.6g,%.6g\n", e + 1, cv->loss[e], cv->train_acc[e], cv->test_acc[e]);
    fclose(f);
    char title[256], script[2048];
    gp_text(title, sizeof title, a->text);
    int cls = d->train.classes >= 2;
    snprintf(script, sizeof script,
             "%sset output '%s'\nset datafile separator ','\n"
             "set title 'tapegrad train: %s, activation %s, %s, %d epochs'\n"
             "set xlabel 'epoch'\nset ylabel 'training loss'\nset logscale y\n"
             "set grid\nset key center right\n%s"
             "plot '%s' using 1:2 skip 1 with lines lw 2 title 'loss'%s\n",
             train_gp_terminal(png), png, d->name, title, c->opt, c->epochs,
             cls ? "set y2label 'accuracy'\nset y2range [0:1]\nset y2tics\n" : "", csv,
             cls ? ", '' using 1:3 skip 1 with lines axes x1y2 title 'train accuracy', "
                   "'' using 1:4 skip 1 with lines axes x1y2 title 'test accuracy'" : "");
    int rc = train_gnuplot(CMD, png, csv, script);
    free(csv);
    return rc;
}

/* ---- the command ---- */

int cli_train(int argc, char **argv)
{
    train_cfg c;
    train_cfg_defaults(&c);
    c.parallel = 1;
    const char *act_text = "relu", *plot = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf(usage, train_cfg_help);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        if ((r = train_cfg_option(CMD, &c, argc, argv, &i)) != 0) {
            if (r < 0) return 2;
            continue;
        }
        if ((r = cli_option(CMD, argc, argv, &i, "--activation", &v)) != 0) {
            if (r < 0) return 2;
            act_text = v;
            continue;
        }
        if ((r = cli_option(CMD, argc, argv, &i, "--plot", &v)) != 0) {
            if (r < 0) return 2;
            if (cli_output_path(CMD, "--plot", v, train_plot_exts)) return 2;
            plot = v;
            continue;
        }
        if ((r = cli_option(CMD, argc, argv, &i, "--weights", &v)) != 0) {
            if (r < 0) return 2;
            c.weights = v;
            continue;
        }
        return cli_fail(CMD, "unknown option '%s' (try 'tapegrad train --help')", argv[i]);
    }
    train_act a;
    int rc = train_act_make(CMD, &c, act_text, &a);
    if (rc == 0) rc = train_act_check(CMD, &a, NULL, 0);
    if (rc) {
        train_act_free(&a);
        return rc;
    }
    train_data d;
    if ((rc = train_data_load(CMD, &c, &d)) != 0) {
        train_act_free(&a);
        return rc;
    }
    train_curve cv;
    rc = train_run(CMD, &c, &d, &a, c.seed, train_progress(&c, 1), plot != NULL, &cv);
    if (rc && cv.error[0]) rc = cli_fail(CMD, "%s", cv.error); /* exit 2 for a failed run too */
    else if (rc) rc = 2; /* told already: another MPI rank failed, and rank 0 said so */
    if (rc == 0) {
        const train_result *r = &cv.r;
        if (json) {
            putchar('{');
            train_json_result(stdout, r);
            puts("}");
        } else if (d.train.classes >= 2) {
            printf("%s: %d training rows, %d test rows; activation %s\n", d.name, d.train.n,
                   d.test.n, a.text);
            printf("train accuracy %.2f%%  test accuracy %.2f%%  final loss %.6g  (%d epochs, "
                   "%.3f s)\n", 100 * r->train_accuracy, 100 * r->test_accuracy, r->final_loss,
                   r->epochs, r->seconds);
        } else {
            printf("%s: %d training rows, %d test rows; activation %s\n", d.name, d.train.n,
                   d.test.n, a.text);
            printf("training loss %.6g  test loss %.6g  (%d epochs, %.3f s)\n", r->final_loss,
                   r->test_loss, r->epochs, r->seconds);
        }
        if (plot && cli_par_rank() == 0) rc = plot_curve(plot, &c, &d, &a, &cv);
    }
    train_curve_free(&cv);
    train_data_free(&d);
    train_act_free(&a);
    return rc;
}
