/* softmax: y = e^(x - m) / sum_k e^(x_k - m) along one axis, m = max_k x_k: every run of x
 * along the axis is one distribution. No attribute (tg_softmax): the last axis; {axis}
 * (tg_softmax_axis), a negative axis counting from the end. One kernel serves both, over
 * the runs tg_view_span gives (stride 1 for the last axis).
 * dy_i/dx_j = y_i ([i == j] - y_j), so  gx = y * (gy - sum_j gy_j y_j)  and
 * dy = y * (dx - sum_j dx_j y_j) along the axis, reusing the output y; nothing is saved.
 * Stability: subtracting the run's max makes every exponent <= 0, so nothing overflows and
 * the largest term is exactly 1 (the sum is in [1, len]); logits of +-1e308 are fine (a
 * difference that overflows to -Inf gives e^-Inf = 0, as the exact value rounds to).  A run
 * with a NaN or a +Inf, or only -Inf entries, gives NaN (as NumPy and PyTorch); a -Inf entry
 * alone gives 0.
 * Reverse rule as nodes: gx = y * (gy - sum_axis(gy * y, axis, keepdims)), reusing y.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

/* x as [outer, len, inner] around the op's axis: the last one when it has no attribute. */
static tg_span span_of(const tg_op_ctx *c)
{
    return tg_view_span(&c->in[0], c->nattr ? c->attr[0] : -1);
}

static void softmax_forward(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++) {
            size_t base = o * s.len * s.inner + i, step = s.inner;
            const double *x = c->in[0].x + base;
            double *y = c->out.x + base, m = x[0], sum = 0.0;
            for (size_t k = 1; k < s.len; k++) m = fmax(m, x[k * step]);
            for (size_t k = 0; k < s.len; k++) sum += y[k * step] = exp(x[k * step] - m);
            for (size_t k = 0; k < s.len; k++) y[k * step] /= sum;
        }
}

/* out = y * (v - <v, y>) run by run; add accumulates (vjp) instead of writing (jvp). */
static void project(const tg_op_ctx *c, const double *v, double *out, int add)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++) {
            size_t base = o * s.len * s.inner + i, step = s.inner;
            const double *y = c->out.x + base, *w = v + base;
            double dot = 0.0, *z = out + base;
            for (size_t k = 0; k < s.len; k++) dot += w[k * step] * y[k * step];
            for (size_t k = 0; k < s.len; k++) {
                double g = y[k * step] * (w[k * step] - dot);
                z[k * step] = add ? z[k * step] + g : g;
            }
        }
}

static void softmax_vjp(tg_op_ctx *c) { project(c, c->gy, c->gin[0], 1); }

static void softmax_jvp(tg_op_ctx *c) { project(c, c->din[0], c->dy, 0); }

static tg_var softmax_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)i;
    int attr[TG_MAX_ATTR], axis = tg_attr(y, attr) == 1 ? attr[0] : -1;
    return tg_mul(y, tg_sub(gy, tg_sum_axis(tg_mul(gy, y), axis, 1)));
}

const tg_op_def tg_op_softmax = {.name = "softmax", .arity = 1,
                                 .math = "y = e^x / sum e^x along an axis (the last by default); "
                                         "gx = y (gy - sum gy y)",
                                 .infer = tg_infer_along_axis, .forward = softmax_forward,
                                 .vjp = softmax_vjp, .jvp = softmax_jvp,
                                 .vjp_graph = softmax_vjp_graph};

tg_var tg_softmax(tg_var x) { return tg_apply(&tg_op_softmax, 1, &x); }

tg_var tg_softmax_axis(tg_var x, int axis)
{
    return tg_apply_attr(&tg_op_softmax, 1, &x, 1, &axis);
}
