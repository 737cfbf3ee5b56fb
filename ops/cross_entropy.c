/* cross_entropy: y = (1/N) sum_n [ln sum_c e^(z_nc) - z_n,l_n], the mean negative log-likelihood
 * of integer class labels l_n in [0, C) under softmax(z_n), for logits z of shape [N,C] (or
 * [C]: one row).  The labels are the second operand, a vector of N integer values
 * (tg_cross_entropy copies the caller's int array into a constant; tg_cross_entropy_var takes
 * the caller's node); infer checks each one and names the first that is not an integer in
 * [0, C), its row and C.
 * dy/dz_nc = (p_nc - [c == l_n]) / N with p = softmax(z); the labels get no gradient.
 * jvp: dy = (1/N) sum_n (sum_c p_nc dz_nc - dz_n,l_n).  p is recomputed from z by vjp and jvp
 * (nothing is saved).
 * Fused for stability: each row is ln(1 + r) + (m - z_l) with m the row's (first) max and
 * r = sum of e^(z_c - m) over the other classes, so every exponent is <= 0 and the loss and
 * gradient are finite for logits of +-1e4 (the composition -log(softmax(z)[l]) gives Inf
 * once p_l underflows); and a confident right answer keeps its digits: its loss is log1p(r)
 * (not ln(1 + r) of a rounded sum, nor m + ln s - z_l, which cancels) and its gradient at the
 * label -r/(1 + r) (not p_l - 1, which rounds to 0).
 * A label changed after recording (tg_tensor_set + tg_replay) that is not a class makes the
 * loss and that row's gradient NaN, rather than reading outside the row.
 * Reverse rule as nodes: gz = (softmax(z) - onehot) * (gy / N), the one-hot built from the
 * labels node as step(0.5 - |iota - l|) so it follows the labels through replay; the labels'
 * contribution is zero. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

/* The class of row r, or -1 when the label there is not an integer in [0, C). */
static int label_of(const tg_view *l, size_t r, int C)
{
    double v = l->x[r];
    return v >= 0 && v < C && v == floor(v) ? (int)v : -1;
}

static tg_status cross_entropy_infer(tg_op_ctx *c)
{
    const tg_view *z = &c->in[0], *l = &c->in[1];
    char sz[48], sl[48];
    if (c->nattr != 0) {
        snprintf(c->msg, c->msgsize, "takes no attributes, got %d (logits are %s)", c->nattr,
                 tg_view_shape(z, sz, sizeof sz));
        return TG_ERR_ARG;
    }
    if (z->rank < 1 || z->rank > 2) {
        snprintf(c->msg, c->msgsize, "logits must be [N,C] or [C], got rank %d (logits are %s)",
                 z->rank, tg_view_shape(z, sz, sizeof sz));
        return TG_ERR_SHAPE;
    }
    int N = z->rank == 2 ? z->shape[0] : 1, C = z->shape[z->rank - 1];
    if (l->rank > 1 || l->n != (size_t)N) {
        snprintf(c->msg, c->msgsize, "%zu label%s for %d row%s of logits (logits are %s, labels "
                 "are %s)", l->n, l->n == 1 ? "" : "s", N, N == 1 ? "" : "s",
                 tg_view_shape(z, sz, sizeof sz), tg_view_shape(l, sl, sizeof sl));
        return TG_ERR_SHAPE;
    }
    for (size_t r = 0; r < (size_t)N; r++) {
        if (label_of(l, r, C) >= 0) continue;
        double v = l->x[r];
        snprintf(c->msg, c->msgsize, "label %.17g at row %zu is %s [0, C) with C = %d (logits "
                 "are %s)", v, r, v == floor(v) ? "out of range" : "not an integer in", C,
                 tg_view_shape(z, sz, sizeof sz));
        return TG_ERR_ARG;
    }
    c->out.rank = 0;
    return TG_OK;
}

/* A row's softmax without cancellation: z's first maximum m at index a, and the rest of the
 * partition sum r = sum_{j != a} e^(z_j - m), so that sum_j e^(z_j - m) = 1 + r. Rows of at
 * most CACHED classes also keep e^(z_j - m) in e (the caller's stack), so that residual
 * does not compute them again; longer rows recompute them (e is then NULL). */
#define CACHED 64
typedef struct { double m, r; size_t a; double *e; } row;

static row row_of(const double *z, size_t C, double *e)
{
    row w = {z[0], 0.0, 0, C <= CACHED ? e : NULL};
    for (size_t j = 1; j < C; j++)
        if (z[j] > w.m) w.m = z[j], w.a = j;
    for (size_t j = 0; j < C; j++) {
        if (j == w.a) continue;
        double v = exp(z[j] - w.m);
        if (w.e) w.e[j] = v;
        w.r += v;
    }
    return w;
}

/* dL_row/dz_j = p_j - [j == l]; for j == l == a this is -r / (1 + r), which keeps its digits
 * where 1/(1 + r) - 1 would round a confident right answer's gradient to 0. */
static double residual(const double *z, const row *w, size_t j, int l)
{
    double s = 1.0 + w->r;
    if (j == w->a) return (int)j == l ? -w->r / s : 1.0 / s;
    return (w->e ? w->e[j] : exp(z[j] - w->m)) / s - ((int)j == l);
}

static void cross_entropy_forward(tg_op_ctx *c)
{
    size_t C = (size_t)c->in[0].shape[c->in[0].rank - 1], N = c->in[0].n / C;
    double total = 0.0;
    for (size_t r = 0; r < N; r++) {
        const double *z = c->in[0].x + r * C;
        int l = label_of(&c->in[1], r, (int)C);
        row w = row_of(z, C, NULL);
        /* ln sum e^z - z_l = ln(1 + r) + (m - z_l): exact 0 + log1p(r) at the arg-max */
        total += l < 0 ? NAN : log1p(w.r) + (w.m - z[l]);
    }
    c->out.x[0] = total / (double)N;
}

static void cross_entropy_vjp(tg_op_ctx *c)
{
    if (!c->gin[0]) return; /* the labels' gradient is zero */
    size_t C = (size_t)c->in[0].shape[c->in[0].rank - 1], N = c->in[0].n / C;
    double g = c->gy[0] / (double)N;
    for (size_t r = 0; r < N; r++) {
        const double *z = c->in[0].x + r * C;
        double *gz = c->gin[0] + r * C;
        int l = label_of(&c->in[1], r, (int)C);
        double e[CACHED];
        row w = row_of(z, C, e);
        for (size_t j = 0; j < C; j++) gz[j] += l < 0 ? NAN : g * residual(z, &w, j, l);
    }
}

static void cross_entropy_jvp(tg_op_ctx *c)
{
    size_t C = (size_t)c->in[0].shape[c->in[0].rank - 1], N = c->in[0].n / C;
    double total = 0.0;
    for (size_t r = 0; r < N && c->din[0]; r++) {
        const double *z = c->in[0].x + r * C, *dz = c->din[0] + r * C;
        int l = label_of(&c->in[1], r, (int)C);
        double e[CACHED];
        row w = row_of(z, C, e);
        for (size_t j = 0; j < C; j++) total += residual(z, &w, j, l) * dz[j];
        if (l < 0) total = NAN;
    }
    c->dy[0] = total / (double)N;
}

static tg_var cross_entropy_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    int shape[TG_MAX_RANK], rank = tg_shape(x[i], shape);
    if (i == 1) return tg_tensor_fill(y.tape, rank, shape, 0.0);
    int C = shape[rank - 1], N = rank == 2 ? shape[0] : 1, col[2] = {N, 1};
    tg_var lab = tg_reshape(x[1], rank, col); /* [N,1] against iota [C]; [1] for one row */
    tg_var dist = tg_abs(tg_sub(tg_tensor_arange(y.tape, C), lab));
    tg_var onehot = tg_step(tg_sub(tg_const_like(y, 0.5), dist));
    return tg_mul(tg_sub(tg_softmax(x[0]), onehot), tg_mul(gy, tg_const_like(y, 1.0 / N)));
}

const tg_op_def tg_op_cross_entropy = {.name = "cross_entropy", .arity = 2,
                                       .math = "y = mean_n (ln sum_c e^z_nc - z_n,label_n); "
                                               "gz = (softmax(z) - onehot) / N",
                                       .infer = cross_entropy_infer,
                                       .forward = cross_entropy_forward,
                                       .vjp = cross_entropy_vjp, .jvp = cross_entropy_jvp,
                                       .vjp_graph = cross_entropy_vjp_graph};

/* The labels are the caller's node, so a replay reads new ones; infer checks them when the
 * node is recorded (a label made invalid later gives its row NaN). */
tg_var tg_cross_entropy_var(tg_var logits, tg_var labels)
{
    return tg_apply2(&tg_op_cross_entropy, logits, labels);
}

/* The labels become a constant vector [N] (N = rows of logits; [1] for one row). A logits
 * rank infer rejects gets a placeholder, so that error is infer's and labels is not read. */
tg_var tg_cross_entropy(tg_var logits, const int *labels)
{
    tg_view z;
    if (tg_operand(logits, "cross_entropy", 1, &z) != TG_OK) /* reported, or passed on */
        return tg_apply2(&tg_op_cross_entropy, logits, logits);
    char sz[48];
    if (!labels)
        return tg_tape_fail(logits.tape, TG_ERR_ARG,
                            "cross_entropy: labels is NULL (logits are %s)",
                            tg_view_shape(&z, sz, sizeof sz));
    int ok = z.rank == 1 || z.rank == 2, n = z.rank == 2 ? z.shape[0] : 1, zero = 0;
    return tg_apply2(&tg_op_cross_entropy, logits,
                     tg_tensor_const_ints(logits.tape, 1, &n, ok ? labels : &zero));
}
