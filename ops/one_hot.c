/* one_hot: y[n, c] = [l_n == c] for a vector of N class labels l (integer values held as
 * doubles) and C classes (attribute {classes}): [N] -> [N, C], row n all 0 but a 1 in column
 * l_n.  tg_one_hot(t, n, labels, classes) copies the caller's int labels into a constant, so
 * its result is a constant; applied to a labels node (tg_apply_attr) it follows new labels
 * through tg_tensor_set and tg_replay.  infer refuses a label that is not an integer in
 * [0, C) and names the first, by index; a label made invalid after recording gives its row
 * NaN rather than reading outside it.
 * dy/dl = 0: y is piecewise constant in the labels (which are counts, not quantities), so a
 * labels node that is a parameter gets a zero gradient and tangent, as cross_entropy's labels
 * do.  Reverse rule as nodes: zeros of the labels' shape. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

/* Whether v names one of C classes: an integer in [0, C). */
static int is_class(double v, int C) { return v >= 0 && v < C && v == floor(v); }

/* "labels[3] = 7 is not a class (0..4)": the one wording of a bad label, for infer and for
 * tg_one_hot's int labels. */
static void bad_label(char *msg, size_t size, size_t index, double v, int C)
{
    snprintf(msg, size, "labels[%zu] = %.17g is not a class (0..%d)", index, v, C - 1);
}

static tg_status one_hot_infer(tg_op_ctx *c)
{
    const tg_view *l = &c->in[0];
    char sl[48];
    if (c->nattr != 1) {
        snprintf(c->msg, c->msgsize, "takes attributes {classes}, got %d (labels are %s)",
                 c->nattr, tg_view_shape(l, sl, sizeof sl));
        return TG_ERR_ARG;
    }
    int C = c->attr[0];
    if (C < 1) {
        snprintf(c->msg, c->msgsize, "classes is %d (must be at least 1; labels are %s)", C,
                 tg_view_shape(l, sl, sizeof sl));
        return TG_ERR_ARG;
    }
    if (l->rank != 1) {
        snprintf(c->msg, c->msgsize, "labels must be a vector [N], got rank %d (labels are %s)",
                 l->rank, tg_view_shape(l, sl, sizeof sl));
        return TG_ERR_SHAPE;
    }
    for (size_t n = 0; n < l->n; n++) {
        if (is_class(l->x[n], C)) continue;
        bad_label(c->msg, c->msgsize, n, l->x[n], C);
        return TG_ERR_ARG;
    }
    c->out.rank = 2;
    c->out.shape[0] = l->shape[0];
    c->out.shape[1] = C;
    return TG_OK;
}

static void one_hot_forward(tg_op_ctx *c)
{
    size_t C = (size_t)c->out.shape[1];
    for (size_t n = 0; n < c->in[0].n; n++) {
        double l = c->in[0].x[n], *y = c->out.x + n * C;
        int ok = is_class(l, (int)C);
        for (size_t k = 0; k < C; k++) y[k] = ok ? (double)(k == (size_t)l) : NAN;
    }
}

static void one_hot_vjp(tg_op_ctx *c) { (void)c; /* the labels' gradient is zero */ }

static void one_hot_jvp(tg_op_ctx *c)
{
    for (size_t e = 0; e < c->out.n; e++) c->dy[e] = 0.0;
}

static tg_var one_hot_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)gy, (void)i;
    int shape[TG_MAX_RANK], rank = tg_shape(x[0], shape);
    return tg_tensor_fill(y.tape, rank, shape, 0.0);
}

const tg_op_def tg_op_one_hot = {.name = "one_hot", .arity = 1,
                                 .math = "y[n,c] = [labels[n] == c], [N] -> [N,C]; dy/dlabels = 0",
                                 .infer = one_hot_infer, .forward = one_hot_forward,
                                 .vjp = one_hot_vjp, .jvp = one_hot_jvp,
                                 .vjp_graph = one_hot_vjp_graph};

/* The arguments are checked here, under the builder's name as tg_tensor_const_ints checks
 * its own, so that nothing is recorded for a bad call; labels as infer would check them. */
tg_var tg_one_hot(tg_tape *t, int n, const int *labels, int classes)
{
    if (tg_tape_status(t) != TG_OK) /* no tape, or one in error: nothing to record or say */
        return tg_tape_fail(t, TG_ERR_ARG, "tg_one_hot: no tape");
    if (n < 1) return tg_tape_fail(t, TG_ERR_ARG, "tg_one_hot: n is %d (must be at least 1)", n);
    if (classes < 1)
        return tg_tape_fail(t, TG_ERR_ARG, "tg_one_hot: classes is %d (must be at least 1)",
                            classes);
    if (!labels) return tg_tape_fail(t, TG_ERR_ARG, "tg_one_hot: labels is NULL");
    for (int k = 0; k < n; k++) {
        if (is_class(labels[k], classes)) continue;
        char msg[96];
        bad_label(msg, sizeof msg, (size_t)k, labels[k], classes);
        return tg_tape_fail(t, TG_ERR_ARG, "tg_one_hot: %s", msg);
    }
    tg_var l = tg_tensor_const_ints(t, 1, &n, labels);
    return tg_apply_attr(&tg_op_one_hot, 1, &l, 1, &classes);
}
