/* log_softmax: y = x - m - ln sum_k e^(x_k - m) along one axis, m = max_k x_k (the log of
 * softmax, one distribution per run of x along the axis). No attribute (tg_log_softmax): the
 * last axis; {axis} (tg_log_softmax_axis), a negative axis counting from the end; one kernel
 * over the runs tg_view_span gives.  dy_i/dx_j = [i == j] - p_j with p = softmax(x) = e^y,
 * so  gx = gy - p * sum_j gy_j  and  dy = dx - sum_j p_j dx_j, with p recomputed from the
 * output y; nothing else is saved.
 * Stability: a primitive rather than log(softmax(x)) because that composition underflows:
 * softmax of a logit 800 below the max is 0 and its log -Inf, while here y = (x - m) - ln s
 * stays accurate: every exponent is <= 0, and ln s = log1p(r) with r the sum over the
 * entries other than the (first) max, so a dominant entry's y = -log1p(r) keeps its digits
 * even when r is below the rounding of 1 + r; logits of +-1e308 are fine (x - m may round,
 * or overflow to -Inf, only where y is that far below 0 anyway).  A NaN anywhere in a run
 * makes the run NaN; a run with +Inf, or only -Inf entries, gives NaN.
 * Reverse rule as nodes: gx = gy - exp(y) * sum_axis(gy, axis, keepdims), reusing y.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

/* x as [outer, len, inner] around the op's axis: the last one when it has no attribute. */
static tg_span span_of(const tg_op_ctx *c)
{
    return tg_view_span(&c->in[0], c->nattr ? c->attr[0] : -1);
}

static void log_softmax_forward(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++) {
            size_t base = o * s.len * s.inner + i, step = s.inner, a = 0;
            const double *x = c->in[0].x + base;
            double *y = c->out.x + base, m = x[0], rest = 0.0;
            for (size_t k = 1; k < s.len; k++)
                if (x[k * step] > m) m = x[k * step], a = k;
            for (size_t k = 0; k < s.len; k++)
                if (k != a) rest += exp(x[k * step] - m);
            double ls = log1p(rest); /* ln s, s = 1 + rest: the max's e^0 kept out of the sum */
            for (size_t k = 0; k < s.len; k++) y[k * step] = (x[k * step] - m) - ls;
        }
}

/* gx += gy - p * sum(gy) run by run, p = e^y */
static void log_softmax_vjp(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++) {
            size_t base = o * s.len * s.inner + i, step = s.inner;
            const double *y = c->out.x + base, *gy = c->gy + base;
            double *gx = c->gin[0] + base, sum = 0.0;
            for (size_t k = 0; k < s.len; k++) sum += gy[k * step];
            for (size_t k = 0; k < s.len; k++)
                gx[k * step] += gy[k * step] - exp(y[k * step]) * sum;
        }
}

/* dy = dx - <p, dx> run by run */
static void log_softmax_jvp(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++) {
            size_t base = o * s.len * s.inner + i, step = s.inner;
            const double *y = c->out.x + base, *dx = c->din[0] + base;
            double *dy = c->dy + base, dot = 0.0;
            for (size_t k = 0; k < s.len; k++) dot += exp(y[k * step]) * dx[k * step];
            for (size_t k = 0; k < s.len; k++) dy[k * step] = dx[k * step] - dot;
        }
}

static tg_var log_softmax_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)i;
    int attr[TG_MAX_ATTR], axis = tg_attr(y, attr) == 1 ? attr[0] : -1;
    return tg_sub(gy, tg_mul(tg_exp(y), tg_sum_axis(gy, axis, 1)));
}

const tg_op_def tg_op_log_softmax = {.name = "log_softmax", .arity = 1,
                                     .math = "y = x - ln sum e^x along an axis (the last by "
                                             "default); gx = gy - softmax(x) sum gy",
                                     .infer = tg_infer_along_axis,
                                     .forward = log_softmax_forward, .vjp = log_softmax_vjp,
                                     .jvp = log_softmax_jvp, .vjp_graph = log_softmax_vjp_graph};

tg_var tg_log_softmax(tg_var x) { return tg_apply(&tg_op_log_softmax, 1, &x); }

tg_var tg_log_softmax_axis(tg_var x, int axis)
{
    return tg_apply_attr(&tg_op_log_softmax, 1, &x, 1, &axis);
}
