/* max: y = max_k x[..., k, ...] along one axis (attributes {axis, keepdims}, as sum's; axis
 * < 0 counts from the end).  dy/dx[k] = 1 at the arg-max, 0 elsewhere: the whole gradient
 * goes to one element, the FIRST arg-max when several are equal (a valid subgradient, and
 * what a finite difference sees when only that element moves up).  A NaN in the range is
 * the arg-max (the first NaN): y is NaN, as in NumPy.  Nothing is saved; vjp and jvp find
 * the arg-max again from x.  Kink: where two entries tie, the derivative is one-sided; the
 * choose kernel names each output's arg-max, so tg_replay notes a changed one (tg_replay_note)
 * and the gradient check calls a tie a non-differentiable point.
 * Reverse rule as nodes: gx = first * gy, with the mask of the arg-max built from ops so it
 * follows replay: ties = 1 - step(y - x) marks every maximal entry, a prefix count c of ties
 * along the axis (log2(len) shift-and-add steps, shifts by slice and its pad form) keeps the
 * first, first = ties * step(1.5 - c).  step' = 0, so the mask is constant to tg_diff.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

/* x as [outer, len, inner] around the reduced axis. */
static tg_span span_of(const tg_op_ctx *c) { return tg_view_span(&c->in[0], c->attr[0]); }

/* The offset in x of the first arg-max of output element (o, i): the first NaN if any. */
static size_t argmax(const tg_span *s, const double *x, size_t o, size_t i)
{
    size_t base = o * s->len * s->inner + i, best = base;
    for (size_t k = 0; k < s->len; k++) {
        size_t e = base + k * s->inner;
        if (isnan(x[e])) return e;
        if (x[e] > x[best]) best = e;
    }
    return best;
}

static void max_forward(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++)
            c->out.x[o * s.inner + i] = c->in[0].x[argmax(&s, c->in[0].x, o, i)];
}

static void max_choose(const tg_op_ctx *c, double *choice)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++)
            choice[o * s.inner + i] = (double)argmax(&s, c->in[0].x, o, i);
}

static void max_vjp(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++)
            c->gin[0][argmax(&s, c->in[0].x, o, i)] += c->gy[o * s.inner + i];
}

static void max_jvp(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t i = 0; i < s.inner; i++)
            c->dy[o * s.inner + i] = c->din[0][argmax(&s, c->in[0].x, o, i)];
}

/* v moved forward by k along axis (length len): element j + k gets v[j], the first k get 0. */
static tg_var shift(tg_var v, int axis, int k, int len)
{
    int cut[3] = {axis, 0, len - k}, pad[4] = {axis, k, len, len};
    tg_var head = tg_apply_attr(&tg_op_slice, 1, &v, 3, cut);
    return tg_apply_attr(&tg_op_slice, 1, &head, 4, pad);
}

static tg_var max_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    int shape[TG_MAX_RANK], keep[TG_MAX_RANK], attr[TG_MAX_ATTR];
    int rank = tg_shape(x[0], shape);
    tg_attr(y, attr);
    int axis = tg_axis(rank, attr[0]), len = shape[axis];
    for (int d = 0; d < rank; d++) keep[d] = d == axis ? 1 : shape[d];
    tg_var one = tg_const_like(y, 1.0), yk = attr[1] ? y : tg_reshape(y, rank, keep);
    tg_var ties = tg_sub(one, tg_step(tg_sub(yk, x[0]))); /* 1 where x[k] == y */
    tg_var count = ties;                                  /* ties at or before k */
    for (int k = 1; k < len; k *= 2) count = tg_add(count, shift(count, axis, k, len));
    tg_var first = tg_mul(ties, tg_step(tg_sub(tg_const_like(y, 1.5), count)));
    return tg_mul(first, attr[1] ? gy : tg_reshape(gy, rank, keep));
}

const tg_op_def tg_op_max = {.name = "max", .arity = 1,
                             .math = "y = max x along an axis; dy/dx = 1 at the first arg-max, "
                                     "0 elsewhere",
                             .infer = tg_infer_reduce_axis, .forward = max_forward,
                             .vjp = max_vjp, .jvp = max_jvp, .choose = max_choose,
                             .vjp_graph = max_vjp_graph};

tg_var tg_max_axis(tg_var x, int axis, int keepdims)
{
    int attr[2] = {axis, keepdims != 0};
    return tg_apply_attr(&tg_op_max, 1, &x, 2, attr);
}
