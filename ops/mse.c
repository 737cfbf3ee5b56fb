/* mse: y = (1/N) sum_e (p_e - t_e)^2, the mean squared error of predictions p against targets
 * t of the same shape (N elements; no broadcasting: p [N,1] against t [N] would silently
 * average N^2 differences).  dy/dp = 2 (p - t) / N,  dy/dt = -2 (p - t) / N (a target may be a
 * parameter).  jvp: dy = (2/N) sum_e (p_e - t_e)(dp_e - dt_e).  Nothing is saved.
 * A primitive, not mean((p - t)*(p - t)) composed: the composition computes the same numbers
 * (bit for bit), but as four nodes with two temporaries it took 10-13x as long to record and
 * sweep (n = 320: 8.5 us against 0.7 us; n = 1e6: 36 ms against 3.6 ms), more than the rest of
 * a small network's training step.
 * Reverse rule as nodes: gp = (p - t) * (2 gy / N), gt = (t - p) * (2 gy / N). See LICENSE. */
#include "tapegrad_op.h"

static void mse_forward(tg_op_ctx *c)
{
    const double *p = c->in[0].x, *t = c->in[1].x;
    double total = 0.0;
    for (size_t e = 0; e < c->in[0].n; e++) total += (p[e] - t[e]) * (p[e] - t[e]);
    c->out.x[0] = total / (double)c->in[0].n;
}

static void mse_vjp(tg_op_ctx *c)
{
    const double *p = c->in[0].x, *t = c->in[1].x;
    double g = 2.0 * c->gy[0] / (double)c->in[0].n;
    for (size_t e = 0; e < c->in[0].n; e++) {
        double d = g * (p[e] - t[e]);
        if (c->gin[0]) c->gin[0][e] += d;
        if (c->gin[1]) c->gin[1][e] -= d;
    }
}

static void mse_jvp(tg_op_ctx *c)
{
    const double *p = c->in[0].x, *t = c->in[1].x;
    double total = 0.0;
    for (size_t e = 0; e < c->in[0].n; e++) {
        double dd = (c->din[0] ? c->din[0][e] : 0.0) - (c->din[1] ? c->din[1][e] : 0.0);
        total += (p[e] - t[e]) * dd;
    }
    c->dy[0] = 2.0 * total / (double)c->in[0].n;
}

static tg_var mse_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    tg_var g = tg_mul(gy, tg_const_like(y, 2.0 / (double)tg_numel(x[0])));
    return tg_mul(i == 0 ? tg_sub(x[0], x[1]) : tg_sub(x[1], x[0]), g);
}

const tg_op_def tg_op_mse = {.name = "mse", .arity = 2,
                             .math = "y = mean (p - t)^2; gp = 2 (p - t) / N, gt = -gp",
                             .infer = tg_infer_same_shape_to_scalar, .forward = mse_forward,
                             .vjp = mse_vjp, .jvp = mse_jvp, .vjp_graph = mse_vjp_graph};

tg_var tg_mse(tg_var pred, tg_var target) { return tg_apply2(&tg_op_mse, pred, target); }
