/* slice: y = x[..., start:stop, ...], the contiguous range [start, stop) along one axis
 * (attributes {axis, start, stop}; negative values count from the end, as in Python, so
 * slice(x, 0, 1, n) - slice(x, 0, 0, -1) is x[1:] - x[:-1]).  Linear: dy/dx selects, so
 * gx[start:stop] += gy and the rest of x gets nothing; nothing is saved.
 * Its adjoint, pad, is the same op with a fourth attribute: {axis, start, stop, len} makes y
 * of length len on axis, zero outside [start, stop) and x inside (x's axis length must be
 * stop - start).  Reverse rules as nodes: slice's is that pad of gy, pad's is the slice of
 * gy; both exact (copies, no arithmetic) and O(n), so derivatives through a slice can be
 * differentiated again.  Range errors are reported, never clamped. See LICENSE. */
#include <string.h>

#include "tapegrad_op.h"

/* The long tensor (x for a slice, y for a pad) viewed as [outer, len, inner], and the window
 * [start, start + m) of its axis that the short one fills. */
typedef struct { int axis, start, m, len, pad; size_t outer, inner; } span;

/* Normalised attributes against the long side's shape; 0, or -1 when the range is outside the
 * axis, -2 when it is empty. */
static int span_of(const tg_op_ctx *c, const tg_view *x, span *s)
{
    const int *a = c->attr;
    tg_span at = tg_view_span(x, a[0]);
    int len = c->nattr == 4 ? a[3] : (int)at.len;
    int start = a[1] < 0 ? a[1] + len : a[1], stop = a[2] < 0 ? a[2] + len : a[2];
    *s = (span){.axis = at.axis, .len = len, .pad = c->nattr == 4, .outer = at.outer,
                .inner = at.inner};
    if (at.axis < 0 || start < 0 || stop > len) return -1; /* outside */
    if (start >= stop) return -2;                           /* empty */
    s->start = start;
    s->m = stop - start;
    return 0;
}

static tg_status slice_infer(tg_op_ctx *c)
{
    const tg_view *x = &c->in[0];
    char sx[48];
    span s;
    if (c->nattr != 3 && c->nattr != 4) {
        snprintf(c->msg, c->msgsize, "takes attributes {axis, start, stop} (or {axis, start, "
                 "stop, len} to pad), got %d (x is %s)", c->nattr, tg_view_shape(x, sx, sizeof sx));
        return TG_ERR_ARG;
    }
    const int *a = c->attr;
    if (tg_axis(x->rank, a[0]) < 0) {
        snprintf(c->msg, c->msgsize, "axis %d is out of range for rank %d (x is %s)", a[0],
                 x->rank, tg_view_shape(x, sx, sizeof sx));
        return TG_ERR_ARG;
    }
    if (c->nattr == 4 && a[3] < 1) {
        snprintf(c->msg, c->msgsize, "pad length %d is less than 1 (x is %s)", a[3],
                 tg_view_shape(x, sx, sizeof sx));
        return TG_ERR_ARG;
    }
    int bad = span_of(c, x, &s);
    if (bad) {
        snprintf(c->msg, c->msgsize, "range [%d, %d) is %s axis %d of length %d (x is %s)", a[1],
                 a[2], bad == -2 ? "empty on" : "outside", s.axis, s.len,
                 tg_view_shape(x, sx, sizeof sx));
        return TG_ERR_ARG;
    }
    if (s.pad && x->shape[s.axis] != s.m) {
        snprintf(c->msg, c->msgsize, "range [%d, %d) holds %d elements but axis %d of x has %d "
                 "(x is %s, pad length %d)", a[1], a[2], s.m, s.axis, x->shape[s.axis],
                 tg_view_shape(x, sx, sizeof sx), s.len);
        return TG_ERR_SHAPE;
    }
    c->out.rank = x->rank;
    memcpy(c->out.shape, x->shape, sizeof c->out.shape);
    c->out.shape[s.axis] = s.pad ? s.len : s.m;
    return TG_OK;
}

/* Copy between the short side (m along the axis) and the window of the long side: dst is
 * the long side when dst_long (a pad, or slice's vjp), else src is; add accumulates. */
static void window(const span *s, double *dst, const double *src, int dst_long, int add)
{
    size_t block = (size_t)s->m * s->inner;
    for (size_t o = 0; o < s->outer; o++) {
        size_t lo = (o * (size_t)s->len + (size_t)s->start) * s->inner, sh = o * block;
        double *d = dst + (dst_long ? lo : sh);
        const double *r = src + (dst_long ? sh : lo);
        if (add)
            for (size_t e = 0; e < block; e++) d[e] += r[e];
        else
            memcpy(d, r, block * sizeof *d);
    }
}

/* The window of the op's long side: x for a slice, y for a pad. */
static span span_at(const tg_op_ctx *c)
{
    span s;
    span_of(c, c->nattr == 4 ? &c->out : &c->in[0], &s);
    return s;
}

/* y (or dy) from x (or dx): a slice reads the window, a pad zeroes y and writes it. */
static void apply(const tg_op_ctx *c, const double *x, double *y)
{
    span s = span_at(c);
    if (s.pad) memset(y, 0, c->out.n * sizeof *y);
    window(&s, y, x, s.pad, 0);
}

static void slice_forward(tg_op_ctx *c) { apply(c, c->in[0].x, c->out.x); }

/* a slice adds gy into gx's window; a pad adds gy's window into gx */
static void slice_vjp(tg_op_ctx *c)
{
    span s = span_at(c);
    window(&s, c->gin[0], c->gy, !s.pad, 1);
}

static void slice_jvp(tg_op_ctx *c) { apply(c, c->din[0], c->dy); }

static tg_var slice_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    int attr[TG_MAX_ATTR], shape[TG_MAX_RANK], nattr = tg_attr(y, attr);
    int rank = tg_shape(x[0], shape), axis = tg_axis(rank, attr[0]);
    if (nattr == 4) return tg_apply_attr(&tg_op_slice, 1, &gy, 3, attr); /* pad -> slice */
    attr[3] = shape[axis]; /* slice -> pad back to x's length */
    return tg_apply_attr(&tg_op_slice, 1, &gy, 4, attr);
}

/* A slice is a window of x: y's element (o_0, ...) is x's at start along the axis plus o in
 * x's row-major strides. The pad form is not (it writes zeros). */
static int slice_fuse(const tg_op_ctx *c, size_t *base, size_t *stride)
{
    span s;
    if (c->nattr != 3 || span_of(c, &c->in[0], &s)) return TG_FUSE_NONE;
    size_t st = 1;
    for (int d = c->in[0].rank; d-- > 0; st *= (size_t)c->in[0].shape[d]) stride[d] = st;
    *base = (size_t)s.start * stride[s.axis];
    return TG_FUSE_WINDOW;
}

const tg_op_def tg_op_slice = {.name = "slice", .arity = 1,
                               .math = "y = x[start:stop] along an axis; gx[start:stop] = gy, "
                                       "0 elsewhere",
                               .infer = slice_infer, .forward = slice_forward, .vjp = slice_vjp,
                               .jvp = slice_jvp, .vjp_graph = slice_vjp_graph,
                               .fuse = slice_fuse};

tg_var tg_slice(tg_var x, int axis, int start, int stop)
{
    int attr[3] = {axis, start, stop};
    return tg_apply_attr(&tg_op_slice, 1, &x, 3, attr);
}
