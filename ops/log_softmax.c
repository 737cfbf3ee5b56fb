/* log_softmax: y = x - m - ln sum_j e^(x_j - m) along the last axis, m = max_j x_j (the log of
 * softmax, one row per last-axis vector).  dy_i/dx_j = [i == j] - p_j with p = softmax(x) =
 * e^y, so  gx = gy - p * sum_j gy_j  and  dy = dx - sum_j p_j dx_j, with p recomputed from
 * the output y; nothing else is saved.
 * Stability: a primitive rather than log(softmax(x)) because that composition underflows:
 * softmax of a logit 800 below the max is 0 and its log -Inf, while here y = (x - m) - ln s
 * stays accurate: every exponent is <= 0, and ln s = log1p(r) with r the sum over the
 * entries other than the (first) max, so a dominant entry's y = -log1p(r) keeps its digits
 * even when r is below the rounding of 1 + r; logits of +-1e4 are fine.  A NaN anywhere in
 * a row makes the row NaN; a row with +Inf, or only -Inf entries, gives NaN.
 * Reverse rule as nodes: gx = gy - exp(y) * sum_axis(gy, -1, keepdims), reusing y.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

static void log_softmax_forward(tg_op_ctx *c)
{
    size_t C = (size_t)c->in[0].shape[c->in[0].rank - 1];
    for (size_t r = 0; r < c->out.n; r += C) {
        const double *x = c->in[0].x + r;
        double *y = c->out.x + r, m = x[0], rest = 0.0;
        size_t a = 0;
        for (size_t j = 1; j < C; j++)
            if (x[j] > m) m = x[j], a = j;
        for (size_t j = 0; j < C; j++)
            if (j != a) rest += exp(x[j] - m);
        double ls = log1p(rest); /* ln s, s = 1 + rest: the max's e^0 kept out of the sum */
        for (size_t j = 0; j < C; j++) y[j] = (x[j] - m) - ls;
    }
}

/* gx += gy - p * sum(gy) row by row, p = e^y */
static void log_softmax_vjp(tg_op_ctx *c)
{
    size_t C = (size_t)c->out.shape[c->out.rank - 1];
    for (size_t r = 0; r < c->out.n; r += C) {
        const double *y = c->out.x + r, *gy = c->gy + r;
        double s = 0.0;
        for (size_t j = 0; j < C; j++) s += gy[j];
        for (size_t j = 0; j < C; j++) c->gin[0][r + j] += gy[j] - exp(y[j]) * s;
    }
}

/* dy = dx - <p, dx> row by row */
static void log_softmax_jvp(tg_op_ctx *c)
{
    size_t C = (size_t)c->out.shape[c->out.rank - 1];
    for (size_t r = 0; r < c->out.n; r += C) {
        const double *y = c->out.x + r, *dx = c->din[0] + r;
        double s = 0.0;
        for (size_t j = 0; j < C; j++) s += exp(y[j]) * dx[j];
        for (size_t j = 0; j < C; j++) c->dy[r + j] = dx[j] - s;
    }
}

static tg_var log_softmax_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)i;
    return tg_sub(gy, tg_mul(tg_exp(y), tg_sum_axis(gy, -1, 1)));
}

const tg_op_def tg_op_log_softmax = {.name = "log_softmax", .arity = 1,
                                     .math = "y = x - ln sum e^x (last axis); "
                                             "gx = gy - softmax(x) sum gy",
                                     .infer = tg_infer_last_axis,
                                     .forward = log_softmax_forward, .vjp = log_softmax_vjp,
                                     .jvp = log_softmax_jvp, .vjp_graph = log_softmax_vjp_graph};

tg_var tg_log_softmax(tg_var x) { return tg_apply(&tg_op_log_softmax, 1, &x); }
