/* bce_with_logits: y = (1/N) sum_e [max(x,0) - x t + ln(1 + e^-|x|)], the mean binary
 * cross-entropy -[t ln s + (1-t) ln(1-s)] of targets t under s = sigmoid(x), written in the
 * logits x (any shape; target the same shape; N elements).  Targets are usually 0 or 1
 * (soft targets in [0,1] are fine; they are not checked).
 * dy/dx = (sigmoid(x) - t) / N,  dy/dt = -x / N (a target may be a parameter).
 * A primitive, not softplus(x) - x t composed, for accuracy: max(x,0) - x t is exact when
 * t is 0 or 1, so a confident right answer (x = 40, t = 1) keeps its loss ln(1 + e^-40) =
 * 4.2e-18 to full relative precision where the composition rounds it to 0; likewise the
 * gradient is evaluated as (1 - t) - sigmoid(-x) for x >= 0 (and sigmoid(x) - t below), which
 * gives -4.2e-18 there instead of 0.  No exponent is positive: finite for logits of +-1e4.
 * One node instead of five.  Nothing is saved.
 * Reverse rule as nodes: gx = (sigmoid(x) - t) * (gy / N), gt = -x * (gy / N). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

/* sigmoid(x) - t without cancellation against t = 1 for large x */
static double residual(double x, double t)
{
    if (x >= 0) {
        double e = exp(-x);
        return (1.0 - t) - e / (1.0 + e);
    }
    double e = exp(x);
    return e / (1.0 + e) - t;
}

static void bce_with_logits_forward(tg_op_ctx *c)
{
    const double *x = c->in[0].x, *t = c->in[1].x;
    double total = 0.0;
    for (size_t e = 0; e < c->in[0].n; e++)
        total += (fmax(x[e], 0.0) - x[e] * t[e]) + log1p(exp(-fabs(x[e])));
    c->out.x[0] = total / (double)c->in[0].n;
}

static void bce_with_logits_vjp(tg_op_ctx *c)
{
    const double *x = c->in[0].x, *t = c->in[1].x;
    double g = c->gy[0] / (double)c->in[0].n;
    for (size_t e = 0; e < c->in[0].n; e++) {
        if (c->gin[0]) c->gin[0][e] += g * residual(x[e], t[e]);
        if (c->gin[1]) c->gin[1][e] -= g * x[e];
    }
}

static void bce_with_logits_jvp(tg_op_ctx *c)
{
    const double *x = c->in[0].x, *t = c->in[1].x;
    double total = 0.0;
    for (size_t e = 0; e < c->in[0].n; e++) {
        if (c->din[0]) total += residual(x[e], t[e]) * c->din[0][e];
        if (c->din[1]) total -= x[e] * c->din[1][e];
    }
    c->dy[0] = total / (double)c->in[0].n;
}

static tg_var bce_with_logits_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    double n = (double)tg_numel(x[0]);
    tg_var g = tg_mul(gy, tg_const_like(y, 1.0 / n));
    return i == 0 ? tg_mul(tg_sub(tg_sigmoid(x[0]), x[1]), g) : tg_mul(tg_neg(x[0]), g);
}

const tg_op_def tg_op_bce_with_logits = {.name = "bce_with_logits", .arity = 2,
                                         .math = "y = mean(max(x,0) - x t + ln(1 + e^-|x|)); "
                                                 "gx = (sigmoid(x) - t) / N, gt = -x / N",
                                         .infer = tg_infer_same_shape_to_scalar,
                                         .forward = bce_with_logits_forward,
                                         .vjp = bce_with_logits_vjp, .jvp = bce_with_logits_jvp,
                                         .vjp_graph = bce_with_logits_vjp_graph};

tg_var tg_bce_with_logits(tg_var logits, tg_var target)
{
    return tg_apply2(&tg_op_bce_with_logits, logits, target);
}
