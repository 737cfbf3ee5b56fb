/* logsumexp: y = ln sum_k e^(x_k) along one axis (attributes {axis, keepdims}, as sum's and
 * max's; a negative axis counts from the end), evaluated as y = m + log1p(r), m the run's
 * first maximum and r = sum over the other entries of e^(x_k - m).  Every exponent is <= 0,
 * so nothing overflows: logits of +-1e308 give the correctly rounded result, and a dominant
 * entry keeps the digits of an r below the rounding of 1 + r.  A primitive because the
 * composition max + log(sum(exp(x - max))) loses those digits and gives NaN at an infinite
 * max (Inf - Inf).
 * dy/dx_k = p_k = softmax(x)_k = e^(x_k - m) / (1 + r) (the max's: 1 / (1 + r)), so
 * gx = gy * p and dy = sum_k p_k dx_k; p is recomputed from x (nothing is saved), never as
 * e^(x - y), which keeps none of the digits of ln 2 when x and y are near 1e308.
 * Special runs: a -Inf entry adds 0 to the sum and has partial 0; a NaN anywhere makes y and
 * the run's partials NaN; a +Inf (and no NaN) gives y = +Inf; only -Inf entries give y = -Inf
 * (the log of an empty sum).  At +Inf and at all -Inf the partials are NaN: the limit of p
 * depends on the path (every distribution over the -Inf entries is one), and that is what
 * softmax gives there, so the numeric rule, the recorded one and their derivatives agree.
 * Reverse rule as nodes: gx = softmax_axis(x, axis) * gy (gy with the reduced axis restored
 * as 1), so second derivatives go through softmax's rule: d2y/dx dx = diag(p) - p p^T.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

/* x as [outer, len, inner] around the reduced axis. */
static tg_span span_of(const tg_op_ctx *c) { return tg_view_span(&c->in[0], c->attr[0]); }

/* One run along the axis: its first maximum m at index a, r = sum_{k != a} e^(x_k - m), and
 * y; regular is 0 for a run with a NaN or an infinite maximum (partials NaN). */
typedef struct lse {
    double m, r, y;
    size_t a;
    int regular;
} lse;

static lse scan(const double *x, size_t len, size_t step)
{
    lse s = {x[0], 0.0, 0.0, 0, 1};
    int nan = isnan(x[0]);
    for (size_t k = 1; k < len; k++) {
        double v = x[k * step];
        nan |= isnan(v);
        if (v > s.m) s.m = v, s.a = k;
    }
    if (nan || isinf(s.m)) { /* the sum is NaN, infinite, or (every entry -Inf) 0 */
        s.regular = 0;
        s.y = nan ? NAN : s.m;
        return s;
    }
    for (size_t k = 0; k < len; k++)
        if (k != s.a) s.r += exp(x[k * step] - s.m);
    s.y = s.m + log1p(s.r);
    return s;
}

/* dy/dx_k of the run x (entries step apart) scanned into s. */
static double partial(const lse *s, const double *x, size_t k, size_t step)
{
    if (!s->regular) return NAN;
    return (k == s->a ? 1.0 : exp(x[k * step] - s->m)) / (1.0 + s->r);
}

static void logsumexp_forward(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++)
            c->out.x[o * s.inner + i] = scan(c->in[0].x + o * s.len * s.inner + i, s.len,
                                             s.inner).y;
}

static void logsumexp_vjp(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++) {
            size_t base = o * s.len * s.inner + i;
            const double *x = c->in[0].x + base, gy = c->gy[o * s.inner + i];
            double *gx = c->gin[0] + base;
            lse run = scan(x, s.len, s.inner);
            for (size_t k = 0; k < s.len; k++) gx[k * s.inner] += gy * partial(&run, x, k, s.inner);
        }
}

static void logsumexp_jvp(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++) {
            size_t base = o * s.len * s.inner + i;
            const double *x = c->in[0].x + base, *dx = c->din[0] + base;
            lse run = scan(x, s.len, s.inner);
            double dy = 0.0;
            for (size_t k = 0; k < s.len; k++) dy += partial(&run, x, k, s.inner) * dx[k * s.inner];
            c->dy[o * s.inner + i] = dy;
        }
}

static tg_var logsumexp_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    int shape[TG_MAX_RANK], keep[TG_MAX_RANK], attr[TG_MAX_ATTR];
    int rank = tg_shape(x[0], shape);
    tg_attr(y, attr);
    int axis = tg_axis(rank, attr[0]);
    for (int d = 0; d < rank; d++) keep[d] = d == axis ? 1 : shape[d];
    return tg_mul(tg_softmax_axis(x[0], axis), attr[1] ? gy : tg_reshape(gy, rank, keep));
}

const tg_op_def tg_op_logsumexp = {.name = "logsumexp", .arity = 1,
                                   .math = "y = ln sum e^x along an axis; dy/dx = softmax(x)",
                                   .infer = tg_infer_reduce_axis, .forward = logsumexp_forward,
                                   .vjp = logsumexp_vjp, .jvp = logsumexp_jvp,
                                   .vjp_graph = logsumexp_vjp_graph};

tg_var tg_logsumexp(tg_var x, int axis, int keepdims)
{
    int attr[2] = {axis, keepdims != 0};
    return tg_apply_attr(&tg_op_logsumexp, 1, &x, 2, attr);
}
