/* nn.c - training on the tape: activations (an op or an expression), dense layers, the MLP,
 * losses by name, SGD/momentum/Adam (state outside the tape: an update is a loop over
 * arrays), the trainer and evaluation.
 *
 * The trainer records one step graph per batch size -- X (const) -> MLP (weights as tensor
 * params) -> loss against a target constant T -- and then REPLAYS it for every batch. X and
 * T are borrowed from the trainer's batch buffers and the weights from the layers' arrays
 * (tg_tensor_*_ref), so filling the buffers and the optimizer's update in place are all a
 * replay needs: nothing is copied into the tape; tg_replay recomputes, tg_backward sweeps.
 * Classification targets are one-hot constants and cross entropy is built from tg_log_softmax, not tg_cross_entropy: the fused op copies its integer
 * labels into a constant of its own at recording time and hands out no handle to it, so a
 * replayed step could not change the labels. The one-hot form costs an [N,C] multiply and sum
 * more per step and makes the whole step replayable. A dataset whose size is not a multiple
 * of the batch has a second, smaller step graph for the last batch (two tapes, each recorded
 * once). opts.rerecord = 1 records every batch afresh instead (for comparison).
 * With a reducer (tg_trainer_set_reducer) a batch is swept in chunks, each on a graph of its
 * own size, and the chunks' gradients are added along a fixed tree, the workers' subtrees
 * exchanged through the caller's hook: the result depends on the chunks, not on the workers.
 * See LICENSE. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tapegrad_expr.h"
#include "tapegrad_nn.h"
#include "tapegrad_op.h"

/* ---- activation ---- */

static tg_var refuse_name(void *ud, tg_tape *t, const char *name)
{
    (void)ud;
    (void)t;
    (void)name;
    tg_var none = {NULL, TG_NONE, 0};
    return none;
}

tg_var tg_activation_apply(const tg_activation *a, tg_var z)
{
    if (a->op) {
        /* a non-elementwise op fails here with the op's own message (tg_mlp_init refuses it) */
        return a->op->eval ? tg_apply1(a->op, z) : tg_apply(a->op, 1, &z);
    }
    if (!a->expr) return tg_apply1(&tg_op_tanh, z);
    tg_names *names = tg_names_new();
    if (!names) return tg_tensor_fill(z.tape, -1, NULL, 0.0); /* records TG_ERR_ARG */
    const char *var = a->var ? a->var : "x";
    tg_var y = z;
    if (tg_names_set(names, var, z) == TG_OK) {
        tg_parse_opts po;
        memset(&po, 0, sizeof po);
        po.registry = a->registry;
        po.defs = a->defs;
        po.bind = refuse_name;
        tg_parse_error pe;
        y = tg_parse(z.tape, a->expr, names, &po, &pe);
    }
    tg_names_free(names);
    return y;
}

/* g(x) is not finite: the report names the op that made it and its input, from anomaly mode
 * on a scalar tape that records g at x alone. */
static tg_status not_finite(const tg_activation *a, double x, tg_activation_report *rep)
{
    rep->worst_x = x;
    tg_tape *t = tg_tape_new();
    if (!t) {
        snprintf(rep->error, sizeof rep->error, "out of memory");
        return TG_ERR_NOMEM;
    }
    tg_tape_check_nan(t, 1);
    double gx = tg_value(tg_activation_apply(a, tg_param(t, x)));
    if (tg_tape_status(t) == TG_ERR_DOMAIN)
        snprintf(rep->error, sizeof rep->error, "not finite at x = %.17g, outside its domain: %s",
                 x, tg_tape_error(t));
    else /* only the tensor path gives a non-finite value (not expected of an elementwise g) */
        snprintf(rep->error, sizeof rep->error, "not finite at x = %.17g, outside its domain "
                 "(g(x) = %g)", x, gx);
    tg_tape_free(t);
    return TG_ERR_DOMAIN;
}

tg_status tg_activation_check(const tg_activation *a, double lo, double hi, int npts,
                              tg_activation_report *rep)
{
    if (!rep) return TG_ERR_ARG;
    memset(rep, 0, sizeof *rep);
    if (npts < 2 || !(lo < hi)) {
        snprintf(rep->error, sizeof rep->error, "the check needs at least 2 points and lo < hi");
        return TG_ERR_ARG;
    }
    tg_tape *t = tg_tape_new();
    if (!t) {
        snprintf(rep->error, sizeof rep->error, "out of memory");
        return TG_ERR_NOMEM;
    }
    /* Each point on its own tape: the finite differences of one g(x) keep their digits, where
     * those of a sum of npts values would lose them to the sum's size (exp(4x) over [-4, 4]:
     * a sum of 1e7 hides a change of 1e-7 in one term). */
    tg_status st = TG_OK;
    size_t failed = 0;
    for (int i = 0; i < npts; i++) {
        const double x = lo + (hi - lo) * i / (npts - 1);
        tg_tape_reset(t);
        tg_var p = tg_param(t, x), g = tg_activation_apply(a, p);
        if ((st = tg_tape_status(t)) != TG_OK) break;
        if (!isfinite(tg_value(g))) { /* outside g's domain: no derivative there to compare */
            tg_tape_free(t);
            memset(&rep->worst, 0, sizeof rep->worst);
            return not_finite(a, x, rep);
        }
        tg_check_result res;
        tg_check_report cr;
        if ((st = tg_check_grad(g, 1, &p, NULL, &res, &cr)) != TG_OK) break;
        failed += cr.failed != 0;
        /* the worst point: a failing one before any other, then the larger relative error */
        const int worse = i == 0 || (cr.failed != 0) > !rep->worst.pass ||
                          ((cr.failed != 0) == !rep->worst.pass &&
                           res.rel_err > rep->worst.rel_err);
        if (worse) {
            rep->worst = res;
            rep->worst.elem = (size_t)i;
            rep->worst_x = x;
        }
    }
    if (st != TG_OK) {
        snprintf(rep->error, sizeof rep->error, "%s",
                 tg_tape_error(t) ? tg_tape_error(t) : tg_status_str(st));
        memset(&rep->worst, 0, sizeof rep->worst);
        rep->worst_x = 0;
    } else {
        rep->worst.checked = (size_t)npts;
        rep->worst.failed = failed;
        rep->agree = failed == 0;
    }
    tg_tape_free(t);
    return st;
}

const char *tg_activation_report_error(const tg_activation_report *rep)
{
    if (!rep) return "report is NULL";
    return rep->error[0] ? rep->error : NULL;
}

/* ---- dense layer, MLP ---- */

tg_status tg_dense_init(tg_dense *l, int in, int out, tg_init init, uint64_t *rng)
{
    memset(l, 0, sizeof *l);
    if (in < 1 || out < 1) return TG_ERR_ARG;
    l->W = malloc((size_t)in * out * sizeof *l->W);
    l->b = calloc((size_t)out, sizeof *l->b);
    if (!l->W || !l->b) {
        tg_dense_fini(l);
        return TG_ERR_NOMEM;
    }
    l->in = in;
    l->out = out;
    double r = sqrt(6.0 / (in + out)), sd = sqrt(2.0 / in);
    for (size_t e = 0; e < (size_t)in * out; e++)
        l->W[e] = init == TG_INIT_HE ? sd * tg_rng_normal(rng)
                                     : r * (2.0 * tg_rng_uniform(rng) - 1.0);
    return TG_OK;
}

void tg_dense_fini(tg_dense *l)
{
    if (!l) return;
    free(l->W);
    free(l->b);
    l->W = l->b = NULL;
}

/* params: 0 constants, 1 parameters (copied), 2 parameters borrowed from l's arrays */
static tg_var dense_record(tg_dense *l, tg_tape *t, tg_var x, int params)
{
    int shW[2] = {l->in, l->out}, shb[1] = {l->out};
    if (params == 2) {
        l->vW = tg_tensor_param_ref(t, 2, shW, l->W);
        l->vb = tg_tensor_param_ref(t, 1, shb, l->b);
    } else {
        l->vW = params ? tg_tensor_param(t, 2, shW, l->W) : tg_tensor_const(t, 2, shW, l->W);
        l->vb = params ? tg_tensor_param(t, 1, shb, l->b) : tg_tensor_const(t, 1, shb, l->b);
    }
    return tg_add(tg_matmul(x, l->vW), l->vb); /* b broadcasts over the rows */
}

tg_var tg_dense_apply(tg_dense *l, tg_tape *t, tg_var x) { return dense_record(l, t, x, 1); }

tg_status tg_mlp_init(tg_mlp *m, int nwidths, const int *widths, const tg_activation *act,
                      uint64_t seed)
{
    memset(m, 0, sizeof *m);
    if (nwidths < 2 || !widths) {
        snprintf(m->error, sizeof m->error,
                 "an MLP needs at least two widths (inputs and outputs), got %d", nwidths);
        return TG_ERR_ARG;
    }
    for (int i = 0; i < nwidths; i++)
        if (widths[i] < 1) {
            snprintf(m->error, sizeof m->error, "layer width %d is %d (must be at least 1)",
                     i + 1, widths[i]);
            return TG_ERR_ARG;
        }
    if (act) m->act = *act;
    if (m->act.op && (!m->act.op->eval || m->act.op->arity != 1)) {
        snprintf(m->error, sizeof m->error, "'%s' is not an elementwise function of one input",
                 m->act.op->name);
        return TG_ERR_ARG;
    }
    int he = m->act.op && (strcmp(m->act.op->name, "relu") == 0 ||
                           strcmp(m->act.op->name, "leaky_relu") == 0);
    m->layer = calloc((size_t)nwidths - 1, sizeof *m->layer);
    if (!m->layer) {
        snprintf(m->error, sizeof m->error, "out of memory");
        return TG_ERR_NOMEM;
    }
    m->nlayers = nwidths - 1;
    for (int i = 0; i < m->nlayers; i++) {
        /* the output layer gives logits: Xavier there whatever the activation */
        tg_init init = he && i < m->nlayers - 1 ? TG_INIT_HE : TG_INIT_XAVIER;
        if (tg_dense_init(&m->layer[i], widths[i], widths[i + 1], init, &seed) != TG_OK) {
            tg_mlp_fini(m);
            snprintf(m->error, sizeof m->error, "out of memory");
            return TG_ERR_NOMEM;
        }
    }
    return TG_OK;
}

void tg_mlp_fini(tg_mlp *m)
{
    if (!m) return;
    for (int i = 0; i < m->nlayers; i++) tg_dense_fini(&m->layer[i]);
    free(m->layer);
    m->layer = NULL;
    m->nlayers = 0;
}

const char *tg_mlp_error(const tg_mlp *m)
{
    if (!m) return "model is NULL";
    return m->error[0] ? m->error : NULL;
}

tg_var tg_mlp_forward(tg_mlp *m, tg_tape *t, tg_var x, int params)
{
    for (int i = 0; i < m->nlayers; i++) {
        x = dense_record(&m->layer[i], t, x, params);
        if (i < m->nlayers - 1) x = tg_activation_apply(&m->act, x);
    }
    return x;
}

/* ---- losses ---- */

static const char *const loss_names[] = {"mse", "cross_entropy", "bce_with_logits"};

tg_status tg_loss_from_name(const char *name, tg_loss *out)
{
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, loss_names[i]) == 0) {
            *out = (tg_loss)i;
            return TG_OK;
        }
    return TG_ERR_ARG;
}

const char *tg_loss_name(tg_loss l) { return (unsigned)l < 3 ? loss_names[l] : "?"; }

tg_var tg_loss_apply(tg_loss l, tg_var out, tg_var target)
{
    switch (l) {
    case TG_LOSS_MSE:
        return tg_mse(out, target);
    case TG_LOSS_BCE_WITH_LOGITS:
        return tg_bce_with_logits(out, target);
    case TG_LOSS_CROSS_ENTROPY:
    default: {
        int sh[4], r = tg_shape(out, sh);
        double n = r == 2 ? sh[0] : 1;
        tg_var s = tg_sum(tg_mul(target, tg_log_softmax(out)));
        return tg_mul(s, tg_const(out.tape, -1.0 / n));
    }
    }
}

static tg_var refuse_name(void *ud, tg_tape *t, const char *name);

tg_var tg_loss_expr(const char *expr, const struct tg_defs *defs, tg_var out, tg_var target)
{
    tg_names *names = tg_names_new();
    if (!names) return tg_tensor_fill(out.tape, -1, NULL, 0.0); /* records TG_ERR_ARG */
    tg_var e = out;
    if (tg_names_set(names, "y", out) == TG_OK && tg_names_set(names, "t", target) == TG_OK) {
        tg_parse_opts po;
        memset(&po, 0, sizeof po);
        po.defs = defs;
        po.bind = refuse_name;
        tg_parse_error pe;
        e = tg_mean(tg_parse(out.tape, expr, names, &po, &pe));
    }
    tg_names_free(names);
    return e;
}

static tg_var record_loss(const tg_train_opts *o, tg_var out, tg_var target)
{
    return o->loss_expr ? tg_loss_expr(o->loss_expr, o->loss_defs, out, target)
                        : tg_loss_apply(o->loss, out, target);
}

/* ---- optimizers ---- */

static const char *const opt_names[] = {"sgd", "momentum", "adam"};

tg_status tg_opt_from_name(const char *name, tg_opt_kind *out)
{
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, opt_names[i]) == 0) {
            *out = (tg_opt_kind)i;
            return TG_OK;
        }
    return TG_ERR_ARG;
}

tg_status tg_optimizer_init(tg_optimizer *o, tg_opt_kind kind, double lr, int n,
                            const size_t *size)
{
    memset(o, 0, sizeof *o);
    if (!(isfinite(lr) && lr > 0) || n < 0 || (unsigned)kind > TG_OPT_ADAM) return TG_ERR_ARG;
    o->kind = kind;
    o->lr = lr;
    o->momentum = 0.9;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->n = n;
    o->size = calloc((size_t)n + 1, sizeof *o->size);
    o->m = calloc((size_t)n + 1, sizeof *o->m);
    o->v = calloc((size_t)n + 1, sizeof *o->v);
    if (!o->size || !o->m || !o->v) goto nomem;
    for (int k = 0; k < n; k++) {
        o->size[k] = size[k];
        if (kind != TG_OPT_SGD && !(o->m[k] = calloc(size[k], sizeof(double)))) goto nomem;
        if (kind == TG_OPT_ADAM && !(o->v[k] = calloc(size[k], sizeof(double)))) goto nomem;
    }
    return TG_OK;
nomem:
    tg_optimizer_fini(o);
    return TG_ERR_NOMEM;
}

void tg_optimizer_fini(tg_optimizer *o)
{
    if (!o) return;
    for (int k = 0; k < o->n; k++) {
        if (o->m) free(o->m[k]);
        if (o->v) free(o->v[k]);
    }
    free(o->m);
    free(o->v);
    free(o->size);
    memset(o, 0, sizeof *o);
}

void tg_optimizer_step(tg_optimizer *o, double *const *p, const double *const *g)
{
    o->steps++;
    double lr = o->lr, mu = o->momentum, b1 = o->beta1, b2 = o->beta2;
    double c1 = 1.0 - pow(b1, (double)o->steps), c2 = 1.0 - pow(b2, (double)o->steps);
    for (int k = 0; k < o->n; k++) {
        double *x = p[k], *m = o->m[k], *v = o->v[k];
        const double *gx = g[k];
        size_t n = o->size[k];
        if (!gx) continue;
        switch (o->kind) {
        case TG_OPT_SGD:
            for (size_t i = 0; i < n; i++) x[i] -= lr * gx[i];
            break;
        case TG_OPT_MOMENTUM: /* v <- mu v + g; x <- x - lr v */
            for (size_t i = 0; i < n; i++) {
                m[i] = mu * m[i] + gx[i];
                x[i] -= lr * m[i];
            }
            break;
        case TG_OPT_ADAM: /* bias-corrected moments (Kingma & Ba) */
            for (size_t i = 0; i < n; i++) {
                m[i] = b1 * m[i] + (1 - b1) * gx[i];
                v[i] = b2 * v[i] + (1 - b2) * gx[i] * gx[i];
                x[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + o->eps);
            }
            break;
        }
    }
}

/* ---- the trainer ---- */

typedef struct step {
    tg_tape *t;
    int n;          /* rows this graph was recorded for (0: not yet) */
    tg_var X, T, L;
    tg_var *P;      /* the parameters' handles: W0, b0, W1, b1, ... */
} step;

struct tg_trainer {
    tg_mlp *m;
    const tg_dataset *ds;
    tg_train_opts o;
    tg_optimizer opt;
    step s[2];      /* full batches, the smaller last batch */
    step cs[4];     /* with a reducer: the chunks' graphs, one per chunk size (at most 4) */
    int K;          /* outputs */
    int *order;
    double *xb, *tb;
    double **pv;    /* the parameter arrays, for the optimizer */
    const double **gv;
    uint64_t rng;
    int epoch;
    double first_loss;
    tg_reducer red;             /* red.size 0: no reducer, whole batches, alone */
    struct slot { int lo, hi, owner; } *slot; /* the tree's nodes the workers fill */
    int nslots;
    double *rbuf;               /* what red.sum adds up (the layout is in tapegrad_nn.h) */
    double *scratch;            /* partial sums, one per level of the tree, and the total */
    size_t ngrad, rlen;         /* gradients in a slot (then the loss), and rbuf's length */
    tg_status status;           /* the first failure; it sticks, as a tape's error does */
    char error[TG_NN_ERRSIZE];
};

/* Record the trainer's failure (the first one wins) and return its status. */
static tg_status trainer_fail(tg_trainer *tr, tg_status st, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static tg_status trainer_fail(tg_trainer *tr, tg_status st, const char *fmt, ...)
{
    if (tr->status) return tr->status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tr->error, sizeof tr->error, fmt, ap);
    va_end(ap);
    tr->status = st;
    return st;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* The target row for label/value y: one-hot over K, or the value itself (K == 1). */
static void target_row(double *row, int K, int classes, double y)
{
    if (K == 1) {
        row[0] = y;
        return;
    }
    (void)classes;
    for (int c = 0; c < K; c++) row[c] = c == (int)y;
}

tg_status tg_trainer_new(tg_trainer **out, tg_mlp *m, const tg_dataset *ds,
                         const tg_train_opts *opts)
{
    if (!out) return TG_ERR_ARG;
    /* made first, so that every failure after this one has a trainer to hold its message */
    tg_trainer *tr = *out = calloc(1, sizeof *tr);
    if (!tr) return TG_ERR_NOMEM;
    if (!m || !ds || !opts || m->nlayers < 1)
        return trainer_fail(tr, TG_ERR_ARG, "no model or no data");
    int W = m->layer[0].in, K = m->layer[m->nlayers - 1].out;
    if (ds->d != W)
        return trainer_fail(tr, TG_ERR_ARG,
                            "the data has %d features but the first layer takes %d", ds->d, W);
    if (ds->classes == 0 && K != 1)
        return trainer_fail(tr, TG_ERR_ARG,
                            "the data is a regression (one target per row) but the last layer "
                            "has %d outputs (use 1)", K);
    if (opts->loss_expr) { /* parse it once on scalars, to report a bad expression now */
        tg_tape *t = tg_tape_new();
        if (!t) return trainer_fail(tr, TG_ERR_NOMEM, "out of memory");
        tg_loss_expr(opts->loss_expr, opts->loss_defs, tg_param(t, 0.5), tg_const(t, 1.0));
        tg_status st = tg_tape_status(t);
        if (st) trainer_fail(tr, st, "loss '%s': %s", opts->loss_expr, tg_tape_error(t));
        tg_tape_free(t);
        if (st) return st;
    }
    if (ds->classes == 0 && opts->loss != TG_LOSS_MSE && !opts->loss_expr)
        return trainer_fail(tr, TG_ERR_ARG, "the data is a regression: use the loss mse, not %s",
                            tg_loss_name(opts->loss));
    if (ds->classes >= 2 && K != ds->classes && !(K == 1 && ds->classes == 2 &&
                                                   opts->loss != TG_LOSS_CROSS_ENTROPY))
        return trainer_fail(tr, TG_ERR_ARG,
                            "the data has %d classes (labels 0..%d) but the last layer has %d "
                            "outputs", ds->classes, ds->classes - 1, K);
    for (int i = 0; i < ds->n; i++) {
        for (int j = 0; j < ds->d; j++)
            if (!isfinite(ds->X[(size_t)i * ds->d + j]))
                return trainer_fail(tr, TG_ERR_ARG, "%s in the data (row %d, column %d)",
                                    isnan(ds->X[(size_t)i * ds->d + j]) ? "NaN" : "Inf", i + 1,
                                    j + 1);
        double y = ds->y[i];
        if (!isfinite(y))
            return trainer_fail(tr, TG_ERR_ARG, "%s in the data (row %d, the label)",
                                isnan(y) ? "NaN" : "Inf", i + 1);
        if (ds->classes >= 2 && (y < 0 || y >= ds->classes || y != floor(y)))
            return trainer_fail(tr, TG_ERR_ARG, "label out of range (row %d: %g; classes 0..%d)",
                                i + 1, y, ds->classes - 1);
    }
    tr->m = m;
    tr->ds = ds;
    tr->o = *opts;
    if (tr->o.batch <= 0) tr->o.batch = 32;
    if (tr->o.batch > ds->n) tr->o.batch = ds->n;
    if (tr->o.lr == 0) tr->o.lr = tr->o.opt == TG_OPT_ADAM ? 0.01 : 0.1;
    tr->K = K;
    tr->rng = opts->seed;
    int np = 2 * m->nlayers;
    size_t *size = calloc((size_t)np, sizeof *size);
    tr->order = malloc((size_t)ds->n * sizeof *tr->order);
    tr->xb = malloc((size_t)tr->o.batch * ds->d * sizeof *tr->xb);
    tr->tb = malloc((size_t)tr->o.batch * K * sizeof *tr->tb);
    tr->pv = calloc((size_t)np, sizeof *tr->pv);
    tr->gv = calloc((size_t)np, sizeof *tr->gv);
    if (!size || !tr->order || !tr->xb || !tr->tb || !tr->pv || !tr->gv) {
        free(size);
        return trainer_fail(tr, TG_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < ds->n; i++) tr->order[i] = i;
    for (int l = 0; l < m->nlayers; l++) {
        tr->pv[2 * l] = m->layer[l].W;
        tr->pv[2 * l + 1] = m->layer[l].b;
        size[2 * l] = (size_t)m->layer[l].in * m->layer[l].out;
        size[2 * l + 1] = (size_t)m->layer[l].out;
    }
    tg_status st = tg_optimizer_init(&tr->opt, tr->o.opt, tr->o.lr, np, size);
    free(size);
    if (st == TG_ERR_ARG)
        return trainer_fail(tr, st, "the learning rate must be a positive number (got %g)",
                            tr->o.lr);
    if (st) return trainer_fail(tr, st, "out of memory");
    for (int k = 0; k < 2; k++) {
        tr->s[k].t = tg_tape_new();
        tr->s[k].P = calloc((size_t)np, sizeof *tr->s[k].P);
        if (!tr->s[k].t || !tr->s[k].P) return trainer_fail(tr, TG_ERR_NOMEM, "out of memory");
    }
    return TG_OK;
}

const char *tg_trainer_error(const tg_trainer *tr)
{
    if (!tr) return "out of memory"; /* the one failure that leaves no trainer */
    return tr->status ? tr->error : NULL;
}

void tg_trainer_free(tg_trainer *tr)
{
    if (!tr) return;
    for (int k = 0; k < 2; k++) {
        tg_tape_free(tr->s[k].t);
        free(tr->s[k].P);
    }
    for (int k = 0; k < 4; k++) {
        tg_tape_free(tr->cs[k].t);
        free(tr->cs[k].P);
    }
    tg_optimizer_fini(&tr->opt);
    free(tr->order);
    free(tr->xb);
    free(tr->tb);
    free(tr->pv);
    free(tr->gv);
    free(tr->rbuf);
    free(tr->scratch);
    free(tr->slot);
    free(tr);
}

tg_optimizer *tg_trainer_optimizer(tg_trainer *tr) { return tr ? &tr->opt : NULL; }

/* Record the step graph for n rows on s->t (the current batch and weights). */
static void step_record(tg_trainer *tr, step *s, int n)
{
    tg_mlp *m = tr->m;
    int shX[2] = {n, tr->ds->d}, shT[2] = {n, tr->K};
    tg_tape_reset(s->t);
    s->X = tg_tensor_const_ref(s->t, 2, shX, tr->xb);
    tg_var out = tg_mlp_forward(m, s->t, s->X, 2);
    s->T = tg_tensor_const_ref(s->t, 2, shT, tr->tb);
    s->L = record_loss(&tr->o, out, s->T);
    for (int l = 0; l < m->nlayers; l++) {
        s->P[2 * l] = m->layer[l].vW;
        s->P[2 * l + 1] = m->layer[l].vb;
    }
    s->n = n;
}

/* Sweep step s for n rows (already in xb, tb), the reverse sweep seeded with *seed (NULL: 1):
 * the loss before the update, NaN on a tape error. */
static double step_sweep(tg_trainer *tr, step *s, int n, const double *seed)
{
    if (tr->o.rerecord || s->n != n) {
        step_record(tr, s, n);
    } else { /* the tape reads xb, tb and the weights where they are: nothing to copy in */
        if (tg_replay(s->t) != TG_OK) return NAN;
    }
    if ((seed ? tg_backward_seed(s->L, seed) : tg_backward(s->L)) != 0) return NAN;
    return tg_value(s->L);
}

/* One batch of n rows (already in xb, tb): the loss before the update, NaN on a tape error. */
static double step_run(tg_trainer *tr, int n)
{
    step *s = &tr->s[n == tr->o.batch ? 0 : 1];
    int np = 2 * tr->m->nlayers;
    double loss = step_sweep(tr, s, n, NULL);
    if (!isfinite(loss)) return loss;
    for (int k = 0; k < np; k++) tr->gv[k] = tg_gradient_data(s->P[k]);
    tg_optimizer_step(&tr->opt, tr->pv, tr->gv);
    return loss;
}

/* The divergence at the current epoch, with the loss that showed it. */
static tg_status diverged(tg_trainer *tr, double loss)
{
    char shown[32];
    snprintf(shown, sizeof shown, isnan(loss) ? "nan" : "%g", loss);
    return trainer_fail(tr, TG_ERR_DOMAIN,
                        "training diverged at epoch %d (loss %s; try a learning rate below %g)",
                        tr->epoch, shown, tr->opt.lr);
}

/* The loss of the batch on t (recorded or replayed for it; no update made) is not finite. An
 * Inf is an overflow: the steps were too large. A NaN may come from an op's domain (log or
 * sqrt of a negative number) as well, which no learning rate mends: t is replayed with
 * anomaly mode on, which stops at the first op whose result is NaN or Inf from finite inputs
 * and names it and its input. The learning rate is mentioned only once it has been used. */
static tg_status nonfinite_loss(tg_trainer *tr, tg_tape *t, double loss)
{
    if (isnan(loss)) {
        tg_tape_check_nan(t, 1);
        tg_status st = tg_replay(t);
        tg_tape_check_nan(t, 0);
        char hint[96] = "";
        if (tr->opt.steps > 0)
            snprintf(hint, sizeof hint, " (if the loss was growing, try a learning rate below "
                     "%g)", tr->opt.lr);
        if (st == TG_ERR_DOMAIN)
            return trainer_fail(tr, st, "training stopped at epoch %d: the loss is nan; the first "
                                "NaN or Inf comes from %s%s", tr->epoch, tg_tape_error(t), hint);
    }
    return diverged(tr, loss);
}

/* Copy rows order[first .. first+count) of the data into the batch buffers xb, tb. */
static void fill_batch(tg_trainer *tr, int first, int count)
{
    const tg_dataset *ds = tr->ds;
    int d = ds->d, K = tr->K;
    for (int i = 0; i < count; i++) {
        int r = tr->order[first + i];
        memcpy(tr->xb + (size_t)i * d, ds->X + (size_t)r * d, (size_t)d * sizeof(double));
        target_row(tr->tb + (size_t)i * K, K, ds->classes, ds->y[r]);
    }
}

/* ---- data-parallel training: chunks shared among workers ----
 * The chunks' gradients are added up along a fixed binary tree over the chunks: node [lo, hi)
 * is the sum of its halves [lo, mid) + [mid, hi), mid = lo + (hi - lo) / 2. A worker's chunks
 * [r*C/P, (r+1)*C/P) are a few whole subtrees (the largest nodes inside its range); it adds
 * each up alone and puts it in a slot of its own, and after the sum every worker evaluates
 * the tree from the slots. The tree does not depend on P, so neither does any rounding; and a
 * worker sends a few slots instead of one per chunk (one each when P is a power of 2 <= C). */

/* Append the largest nodes of the subtree [lo, hi) inside [a, b) to tr->slot, for owner. */
static void cover(tg_trainer *tr, int lo, int hi, int a, int b, int owner)
{
    if (hi <= a || lo >= b || hi <= lo) return;
    if (a <= lo && hi <= b) {
        struct slot sl = {lo, hi, owner};
        tr->slot[tr->nslots++] = sl;
        return;
    }
    int mid = lo + (hi - lo) / 2;
    cover(tr, lo, mid, a, b, owner);
    cover(tr, mid, hi, a, b, owner);
}

tg_status tg_trainer_set_reducer(tg_trainer *tr, const tg_reducer *r)
{
    if (!tr) return TG_ERR_NOMEM; /* the trainer could not be made */
    if (tr->status) return tr->status;
    if (!r)
        return trainer_fail(tr, TG_ERR_ARG, "tg_trainer_set_reducer: the reducer is NULL");
    if (r->size < 1 || r->rank < 0 || r->rank >= r->size)
        return trainer_fail(tr, TG_ERR_ARG, "tg_trainer_set_reducer: rank %d of size %d is out "
                                            "of range", r->rank, r->size);
    if (r->size > 1 && (!r->sum || !r->broadcast))
        return trainer_fail(tr, TG_ERR_ARG, "tg_trainer_set_reducer: %d workers need sum and "
                                            "broadcast", r->size);
    if (r->chunks < 0)
        return trainer_fail(tr, TG_ERR_ARG, "tg_trainer_set_reducer: chunks must be 0 (for "
                                            "%d) or more (got %d)", TG_CHUNKS, r->chunks);
    if (tr->red.size || tr->epoch)
        return trainer_fail(tr, TG_ERR_ARG, "tg_trainer_set_reducer: call it once, before the "
                                            "first epoch");
    int np = 2 * tr->m->nlayers, C = r->chunks ? r->chunks : TG_CHUNKS, levels = 1;
    while ((1 << (levels - 1)) < C && levels < 31) levels++;
    /* a node's range is cut in two at each level: a worker's range meets at most two nodes
     * per level that are not inside it, so its cover has at most 2 nodes per level */
    size_t maxslots = (size_t)r->size < (size_t)C ? (size_t)r->size * 2 * (size_t)levels
                                                  : (size_t)C;
    tr->slot = malloc(maxslots * sizeof *tr->slot);
    if (!tr->slot) return trainer_fail(tr, TG_ERR_NOMEM, "out of memory");
    for (int w = 0; w < r->size; w++)
        cover(tr, 0, C, (int)((long long)C * w / r->size), (int)((long long)C * (w + 1) / r->size),
              w);
    size_t ng = 0;
    for (int k = 0; k < np; k++) ng += tr->opt.size[k];
    tr->ngrad = ng;
    size_t n = (size_t)tr->nslots + (size_t)levels + 1;
    if (n > (SIZE_MAX / sizeof(double) - (size_t)np - (size_t)r->size) / (ng + 1))
        return trainer_fail(tr, TG_ERR_NOMEM, "out of memory");
    tr->rlen = (size_t)tr->nslots * (ng + 1) + (size_t)np + (size_t)r->size;
    tr->rbuf = malloc(tr->rlen * sizeof *tr->rbuf);
    tr->scratch = malloc(((size_t)levels + 1) * (ng + 1) * sizeof *tr->scratch);
    if (!tr->rbuf || !tr->scratch) return trainer_fail(tr, TG_ERR_NOMEM, "out of memory");
    for (int k = 0; k < 4; k++) {
        tr->cs[k].t = tg_tape_new();
        tr->cs[k].P = calloc((size_t)np, sizeof *tr->cs[k].P);
        if (!tr->cs[k].t || !tr->cs[k].P) return trainer_fail(tr, TG_ERR_NOMEM, "out of memory");
    }
    if (r->broadcast) { /* worker 0's weights for everyone, through rbuf */
        size_t at = 0;
        for (int k = 0; k < np; at += tr->opt.size[k++])
            memcpy(tr->rbuf + at, tr->pv[k], tr->opt.size[k] * sizeof(double));
        tg_status st = r->broadcast(r->ud, tr->rbuf, ng);
        if (st)
            return trainer_fail(tr, st, "tg_trainer_set_reducer: the broadcast failed (%s)",
                                tg_status_str(st));
        at = 0;
        for (int k = 0; k < np; at += tr->opt.size[k++])
            memcpy(tr->pv[k], tr->rbuf + at, tr->opt.size[k] * sizeof(double));
    }
    tr->red = *r;
    tr->red.chunks = C;
    return TG_OK;
}

/* The graph for a chunk of n rows: the one recorded for n, else a fresh one. A batch and the
 * last batch have chunks of at most two sizes each, hence four. */
static step *chunk_step(tg_trainer *tr, int n)
{
    for (int k = 0; k < 4; k++)
        if (tr->cs[k].n == n) return &tr->cs[k];
    for (int k = 0; k < 4; k++)
        if (tr->cs[k].n == 0) return &tr->cs[k];
    return &tr->cs[3]; /* not reached: recorded again for n */
}

/* What a batch's sweep passes down: the batch, the flags it sets, the tape that failed. */
typedef struct sweep_ctx {
    int b0, nb;
    double *reached;
    step *failed;
} sweep_ctx;

/* Chunk c of the batch swept into g (ngrad + 1 doubles: every gradient, then the chunk's
 * loss times its rows; zeros for an empty chunk). 0, or -1 on a tape error (x->failed). */
static int chunk_sweep(tg_trainer *tr, sweep_ctx *x, int c, double *g)
{
    int C = tr->red.chunks, np = 2 * tr->m->nlayers;
    int lo = (int)((long long)x->nb * c / C), hi = (int)((long long)x->nb * (c + 1) / C);
    memset(g, 0, (tr->ngrad + 1) * sizeof *g);
    if (hi == lo) return 0;
    /* seeded with the chunk's share of the batch: the chunks' gradients add up to the
     * gradient of the batch's mean loss */
    double share = (double)(hi - lo) / x->nb;
    step *s = chunk_step(tr, hi - lo);
    fill_batch(tr, x->b0 + lo, hi - lo);
    double l = step_sweep(tr, s, hi - lo, &share);
    if (tg_tape_error(s->t)) {
        x->failed = s;
        return -1;
    }
    g[tr->ngrad] = l * (hi - lo);
    size_t at = 0;
    for (int k = 0; k < np; at += tr->opt.size[k++]) {
        const double *gk = tg_gradient_data(s->P[k]);
        if (!gk) continue;
        memcpy(g + at, gk, tr->opt.size[k] * sizeof(double));
        x->reached[k] = 1;
    }
    return 0;
}

/* The slot holding node [lo, hi), or NULL when no worker filled it. */
static const double *slot_of(const tg_trainer *tr, int lo, int hi)
{
    for (int i = 0; i < tr->nslots; i++)
        if (tr->slot[i].lo == lo && tr->slot[i].hi == hi)
            return tr->rbuf + (size_t)i * (tr->ngrad + 1);
    return NULL;
}

/* Node [lo, hi) of the tree into out, scratch holding a partial sum per level below: by
 * sweeping its chunks (x not NULL: a subtree of this worker's), or from the slots (x NULL:
 * after the sum). 0, or -1 on a tape error. */
static int node_sum(tg_trainer *tr, sweep_ctx *x, int lo, int hi, double *out, double *scratch)
{
    size_t n = tr->ngrad + 1;
    const double *filled = x ? NULL : slot_of(tr, lo, hi);
    if (filled) {
        memcpy(out, filled, n * sizeof *out);
        return 0;
    }
    if (x && (long long)x->nb * lo / tr->red.chunks == (long long)x->nb * hi / tr->red.chunks) {
        memset(out, 0, n * sizeof *out); /* no rows in any of its chunks (more chunks than rows) */
        return 0;
    }
    if (hi - lo == 1) { /* a chunk (after the sum, every chunk is in some filled slot) */
        if (x) return chunk_sweep(tr, x, lo, out);
        memset(out, 0, n * sizeof *out);
        return 0;
    }
    int mid = lo + (hi - lo) / 2;
    if (node_sum(tr, x, lo, mid, out, scratch) || node_sum(tr, x, mid, hi, scratch, scratch + n))
        return -1;
    for (size_t i = 0; i < n; i++) out[i] += scratch[i];
    return 0;
}

/* One batch of nb rows (order[b0 .. b0+nb)) in red.chunks chunks, chunk c the rows
 * [nb*c/C, (c+1)*nb/C): this worker adds its subtrees up into their slots of rbuf (zeros in
 * the others'), red.sum adds the workers' buffers, and every worker evaluates the tree from
 * the slots and applies the update. Each slot is filled by one worker, so the sum is exact
 * whatever its order. *loss_sum is the batch's loss times nb. TG_OK, or the status after
 * trainer_fail (the same on every worker: read from the sum). */
static tg_status batch_chunked(tg_trainer *tr, int b0, int nb, double *loss_sum)
{
    const tg_reducer *r = &tr->red;
    int np = 2 * tr->m->nlayers;
    size_t n = tr->ngrad + 1;
    double *reached = tr->rbuf + (size_t)tr->nslots * n, *stat = reached + np;
    sweep_ctx x = {b0, nb, reached, NULL};
    memset(reached, 0, ((size_t)np + (size_t)r->size) * sizeof *reached);
    for (int i = 0; i < tr->nslots; i++) {
        double *g = tr->rbuf + (size_t)i * n;
        if (tr->slot[i].owner != r->rank || x.failed) memset(g, 0, n * sizeof *g);
        else if (node_sum(tr, &x, tr->slot[i].lo, tr->slot[i].hi, g, tr->scratch) != 0)
            stat[r->rank] = tg_tape_status(x.failed->t);
    }
    if (r->sum) {
        tg_status st = r->sum(r->ud, tr->rbuf, tr->rlen);
        if (st)
            return trainer_fail(tr, st, "the gradient sum failed at epoch %d (%s)", tr->epoch,
                                tg_status_str(st));
    }
    for (int w = 0; w < r->size; w++) {
        if (stat[w] == 0) continue;
        if (w == r->rank)
            return trainer_fail(tr, tg_tape_status(x.failed->t), "%s", tg_tape_error(x.failed->t));
        tg_status st = (tg_status)stat[w];
        return trainer_fail(tr, st, "worker %d of %d failed (%s)", w, r->size, tg_status_str(st));
    }
    double *sum = tr->scratch; /* the whole tree, its partial sums in the levels after it */
    node_sum(tr, NULL, 0, r->chunks, sum, sum + n);
    *loss_sum = sum[tr->ngrad];
    if (!isfinite(*loss_sum)) return diverged(tr, *loss_sum / nb);
    size_t at = 0;
    for (int k = 0; k < np; at += tr->opt.size[k++]) tr->gv[k] = reached[k] ? sum + at : NULL;
    tg_optimizer_step(&tr->opt, tr->pv, tr->gv);
    return TG_OK;
}

/* ---- epochs ---- */

tg_status tg_trainer_epoch(tg_trainer *tr, tg_epoch_stats *st)
{
    if (!tr) return TG_ERR_NOMEM;
    if (tr->status) return tr->status;
    const tg_dataset *ds = tr->ds;
    int n = ds->n, B = tr->o.batch;
    double t0 = now(), total = 0;
    tr->epoch++;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates from the trainer's own state */
        int j = (int)(tg_rng_uniform(&tr->rng) * (i + 1)), k = tr->order[i];
        tr->order[i] = tr->order[j];
        tr->order[j] = k;
    }
    for (int b0 = 0; b0 < n; b0 += B) {
        int nb = n - b0 < B ? n - b0 : B;
        if (tr->red.size) { /* in chunks, shared with the other workers if any */
            double sum = 0;
            tg_status bs = batch_chunked(tr, b0, nb, &sum);
            if (bs) return bs;
            total += sum;
            continue;
        }
        fill_batch(tr, b0, nb);
        double loss = step_run(tr, nb);
        tg_tape *t = tr->s[nb == B ? 0 : 1].t;
        if (tg_tape_error(t)) return trainer_fail(tr, tg_tape_status(t), "%s", tg_tape_error(t));
        if (!isfinite(loss)) return nonfinite_loss(tr, t, loss);
        total += loss * nb;
    }
    double mean = total / n;
    if (tr->epoch == 1) tr->first_loss = mean;
    if (mean > 1e3 && mean > 1e3 * tr->first_loss) return diverged(tr, mean);
    if (st) {
        st->epoch = tr->epoch;
        st->loss = mean;
        st->seconds = now() - t0;
    }
    return TG_OK;
}

/* ---- evaluation ---- */

tg_status tg_evaluate(tg_mlp *m, const tg_dataset *ds, tg_loss loss, double *acc,
                      double *mean_loss)
{
    tg_train_opts o;
    memset(&o, 0, sizeof o);
    o.loss = loss;
    return tg_evaluate_opts(m, ds, &o, acc, mean_loss);
}

tg_status tg_evaluate_opts(tg_mlp *m, const tg_dataset *ds, const tg_train_opts *opts,
                           double *acc, double *mean_loss)
{
    if (!m) return TG_ERR_ARG; /* no model to hold a message */
    m->error[0] = '\0';
    const char *why = m->nlayers < 1 ? "the model has no layers"
                      : !ds          ? "the data set is NULL"
                      : !opts        ? "opts is NULL"
                                     : NULL;
    if (why) {
        snprintf(m->error, sizeof m->error, "tg_evaluate: %s", why);
        return TG_ERR_ARG;
    }
    tg_loss loss = opts->loss;
    int n = ds->n, d = ds->d, K = m->layer[m->nlayers - 1].out;
    tg_tape *t = tg_tape_new();
    double *tb = malloc((size_t)n * K * sizeof *tb);
    if (!t || !tb) {
        tg_tape_free(t);
        free(tb);
        snprintf(m->error, sizeof m->error, "tg_evaluate: out of memory");
        return TG_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) target_row(tb + (size_t)i * K, K, ds->classes, ds->y[i]);
    int shX[2] = {n, d}, shT[2] = {n, K};
    tg_var out = tg_mlp_forward(m, t, tg_tensor_const_ref(t, 2, shX, ds->X), 0);
    tg_var L = record_loss(opts, out, tg_tensor_const_ref(t, 2, shT, tb));
    tg_status st = tg_tape_status(t);
    if (st) snprintf(m->error, sizeof m->error, "%s", tg_tape_error(t));
    if (st == TG_OK) {
        const double *z = tg_data(out);
        if (mean_loss) *mean_loss = tg_value(L);
        if (acc && ds->classes < 2) *acc = NAN;
        else if (acc) {
            int right = 0;
            for (int i = 0; i < n; i++) {
                const double *row = z + (size_t)i * K;
                int best = 0;
                if (K == 1)
                    best = row[0] > (loss == TG_LOSS_MSE && !opts->loss_expr ? 0.5 : 0.0);
                else
                    for (int c = 1; c < K; c++)
                        if (row[c] > row[best]) best = c;
                right += best == (int)ds->y[i];
            }
            *acc = (double)right / n;
        }
    }
    tg_tape_free(t);
    free(tb); /* after the tape: it borrowed tb */
    return st;
}
