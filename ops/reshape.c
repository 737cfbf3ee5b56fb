/* reshape: y = x with a new shape of the same element count (the attributes are the new
 * dimensions; row-major order is unchanged, so the data is copied as it is).  Linear:
 * gx = gy reshaped back.  Reverse rule as nodes: gx = reshape(gy, shape of x). See LICENSE. */
#include <string.h>

#include "tapegrad_op.h"

static tg_status reshape_infer(tg_op_ctx *c)
{
    size_t n = 1;
    char sy[48], sx[48];
    c->out.rank = c->nattr;
    for (int d = 0; d < c->nattr; d++) c->out.shape[d] = c->attr[d];
    for (int d = 0; d < c->nattr; d++) {
        if (c->attr[d] < 1) {
            snprintf(c->msg, c->msgsize, "dimension %d of the new shape %s is less than 1 (x is "
                     "%s)", d, tg_view_shape(&c->out, sy, sizeof sy),
                     tg_view_shape(&c->in[0], sx, sizeof sx));
            return TG_ERR_SHAPE;
        }
        n *= (size_t)c->attr[d];
    }
    if (n != c->in[0].n) {
        snprintf(c->msg, c->msgsize, "%zu elements cannot take shape %s (x is %s)", c->in[0].n,
                 tg_view_shape(&c->out, sy, sizeof sy), tg_view_shape(&c->in[0], sx, sizeof sx));
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

static void reshape_forward(tg_op_ctx *c)
{
    memcpy(c->out.x, c->in[0].x, c->out.n * sizeof *c->out.x);
}

static void reshape_vjp(tg_op_ctx *c)
{
    for (size_t e = 0; e < c->out.n; e++) c->gin[0][e] += c->gy[e];
}

static void reshape_jvp(tg_op_ctx *c) { memcpy(c->dy, c->din[0], c->out.n * sizeof *c->dy); }

static tg_var reshape_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    int shape[TG_MAX_RANK];
    return tg_reshape(gy, tg_shape(x[0], shape), shape);
}

/* y's element (o_0, ...) is x's element at o's row-major offset in y's shape */
static int reshape_fuse(const tg_op_ctx *c, size_t *base, size_t *stride)
{
    size_t st = 1;
    for (int d = c->out.rank; d-- > 0; st *= (size_t)c->out.shape[d]) stride[d] = st;
    *base = 0;
    return TG_FUSE_WINDOW;
}

const tg_op_def tg_op_reshape = {.name = "reshape", .arity = 1,
                                 .math = "y = x in a new shape (same elements); gx = gy reshaped",
                                 .infer = reshape_infer, .forward = reshape_forward,
                                 .vjp = reshape_vjp, .jvp = reshape_jvp,
                                 .vjp_graph = reshape_vjp_graph, .fuse = reshape_fuse};

tg_var tg_reshape(tg_var x, int ndim, const int *shape)
{
    return tg_apply_attr(&tg_op_reshape, 1, &x, ndim, shape);
}
