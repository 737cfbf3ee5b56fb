/* sum: y = sum_e x[e], all elements to a scalar (rank 0); with attributes {axis, keepdims}
 * (tg_sum_axis) only along one axis.  dy/dx[e] = 1: the gradient is gy broadcast back over
 * the summed elements.  Reverse rule as nodes: gx = gy + zeros(shape of x) (an add that
 * broadcasts gy, with the summed axis restored first). See LICENSE. */
#include <string.h>

#include "tapegrad_op.h"

/* x as [outer, len, inner] around the summed axis; with no axis, all of x is one run. */
static tg_span span_of(const tg_op_ctx *c)
{
    tg_span all = {-1, 1, c->in[0].n, 1};
    return c->nattr ? tg_view_span(&c->in[0], c->attr[0]) : all;
}

static tg_status sum_infer(tg_op_ctx *c)
{
    if (c->nattr) return tg_infer_reduce_axis(c);
    c->out.rank = 0; /* every element: a scalar */
    return TG_OK;
}

static void sum_forward(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    memset(c->out.x, 0, c->out.n * sizeof *c->out.x);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t k = 0; k < s.len; k++)
            for (size_t i = 0; i < s.inner; i++)
                c->out.x[o * s.inner + i] += c->in[0].x[(o * s.len + k) * s.inner + i];
}

static void sum_vjp(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t k = 0; k < s.len; k++)
            for (size_t i = 0; i < s.inner; i++)
                c->gin[0][(o * s.len + k) * s.inner + i] += c->gy[o * s.inner + i];
}

static void sum_jvp(tg_op_ctx *c)
{
    tg_span s = span_of(c);
    memset(c->dy, 0, c->out.n * sizeof *c->dy);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t k = 0; k < s.len; k++)
            for (size_t i = 0; i < s.inner; i++)
                c->dy[o * s.inner + i] += c->din[0][(o * s.len + k) * s.inner + i];
}

/* gy spread back over x: restore the summed axis as size 1, then broadcast against a zero
 * tensor of x's shape. */
static tg_var sum_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    int shape[TG_MAX_RANK], attr[TG_MAX_ATTR], rank = tg_shape(x[0], shape);
    if (tg_attr(y, attr) == 2 && !attr[1] && rank > 0) {
        int keep[TG_MAX_RANK], axis = tg_axis(rank, attr[0]);
        for (int d = 0; d < rank; d++) keep[d] = d == axis ? 1 : shape[d];
        gy = tg_reshape(gy, rank, keep);
    }
    return tg_add(gy, tg_tensor_fill(y.tape, rank, shape, 0.0));
}

/* The whole sum is fused; a sum along an axis is not */
static int sum_fuse(const tg_op_ctx *c, size_t *base, size_t *stride)
{
    (void)base, (void)stride;
    return c->nattr ? TG_FUSE_NONE : TG_FUSE_SUM;
}

const tg_op_def tg_op_sum = {.name = "sum", .arity = 1,
                             .math = "y = sum x (all, or along an axis); dy/dx = 1",
                             .infer = sum_infer, .forward = sum_forward, .vjp = sum_vjp,
                             .jvp = sum_jvp, .vjp_graph = sum_vjp_graph,
                             .fuse = sum_fuse};

tg_var tg_sum(tg_var x) { return tg_apply(&tg_op_sum, 1, &x); }

tg_var tg_sum_axis(tg_var x, int axis, int keepdims)
{
    int attr[2] = {axis, keepdims != 0};
    return tg_apply_attr(&tg_op_sum, 1, &x, 2, attr);
}
