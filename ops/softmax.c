/* softmax: y = e^(x - m) / sum_j e^(x_j - m) along the last axis, m = max_j x_j (each row of
 * length C = the last dimension is one distribution; a vector is one row).
 * dy_i/dx_j = y_i ([i == j] - y_j), so  gx = y * (gy - sum_j gy_j y_j)  and
 * dy = y * (dx - sum_j dx_j y_j), reusing the output y; nothing else is saved.
 * Stability: subtracting the row's max makes every exponent <= 0, so nothing overflows and
 * the largest term is exactly 1 (the sum is in [1, C]); logits of +-1e4 are fine.  A row with
 * a +Inf, or only -Inf entries, gives NaN (as NumPy and PyTorch); a -Inf entry alone gives 0.
 * Reverse rule as nodes: gx = y * (gy - sum_axis(gy * y, -1, keepdims)), reusing y.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

static void softmax_forward(tg_op_ctx *c)
{
    size_t C = (size_t)c->in[0].shape[c->in[0].rank - 1];
    for (size_t r = 0; r < c->out.n; r += C) {
        const double *x = c->in[0].x + r;
        double *y = c->out.x + r, m = x[0], s = 0.0;
        for (size_t j = 1; j < C; j++) m = fmax(m, x[j]);
        for (size_t j = 0; j < C; j++) s += y[j] = exp(x[j] - m);
        for (size_t j = 0; j < C; j++) y[j] /= s;
    }
}

/* out = y * (v - <v, y>) row by row; add accumulates (vjp) instead of writing (jvp). */
static void project(const tg_op_ctx *c, const double *v, double *out, int add)
{
    size_t C = (size_t)c->out.shape[c->out.rank - 1];
    for (size_t r = 0; r < c->out.n; r += C) {
        const double *y = c->out.x + r;
        double dot = 0.0;
        for (size_t j = 0; j < C; j++) dot += v[r + j] * y[j];
        for (size_t j = 0; j < C; j++) {
            double g = y[j] * (v[r + j] - dot);
            out[r + j] = add ? out[r + j] + g : g;
        }
    }
}

static void softmax_vjp(tg_op_ctx *c) { project(c, c->gy, c->gin[0], 1); }

static void softmax_jvp(tg_op_ctx *c) { project(c, c->din[0], c->dy, 0); }

static tg_var softmax_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)i;
    return tg_mul(y, tg_sub(gy, tg_sum_axis(tg_mul(gy, y), -1, 1)));
}

const tg_op_def tg_op_softmax = {.name = "softmax", .arity = 1,
                                 .math = "y = e^x / sum e^x (last axis); gx = y (gy - sum gy y)",
                                 .infer = tg_infer_last_axis, .forward = softmax_forward,
                                 .vjp = softmax_vjp, .jvp = softmax_jvp,
                                 .vjp_graph = softmax_vjp_graph};

tg_var tg_softmax(tg_var x) { return tg_apply(&tg_op_softmax, 1, &x); }
