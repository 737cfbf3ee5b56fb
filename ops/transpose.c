/* transpose: y = x^T, the last two axes swapped (a matrix, or each matrix of a batch).
 * Linear: the gradient is gy transposed back.  A window of x for the fused loops (.fuse).
 * Reverse rule as nodes: gx = transpose(gy). See LICENSE. */
#include "tapegrad_op.h"

static tg_status transpose_infer(tg_op_ctx *c)
{
    const tg_view *x = &c->in[0];
    char sx[48];
    if (x->rank < 2) {
        snprintf(c->msg, c->msgsize, "needs rank 2 or more (it swaps the last two axes), got rank "
                 "%d (x is %s)", x->rank, tg_view_shape(x, sx, sizeof sx));
        return TG_ERR_SHAPE;
    }
    c->out.rank = x->rank;
    for (int d = 0; d < x->rank; d++) c->out.shape[d] = x->shape[d];
    c->out.shape[x->rank - 2] = x->shape[x->rank - 1];
    c->out.shape[x->rank - 1] = x->shape[x->rank - 2];
    return TG_OK;
}

/* dst[b][j][i] = (or +=) src[b][i][j] for each of the batch's m x n matrices: a copy, so
 * that -0 stays -0 */
static void swap(const tg_view *x, const double *src, double *dst, int add)
{
    size_t m = (size_t)x->shape[x->rank - 2], n = (size_t)x->shape[x->rank - 1];
    for (size_t b = 0; b < x->n / (m * n); b++, src += m * n, dst += m * n)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                dst[j * m + i] = add ? dst[j * m + i] + src[i * n + j] : src[i * n + j];
}

static void transpose_forward(tg_op_ctx *c) { swap(&c->in[0], c->in[0].x, c->out.x, 0); }

static void transpose_vjp(tg_op_ctx *c) { swap(&c->out, c->gy, c->gin[0], 1); }

static void transpose_jvp(tg_op_ctx *c) { swap(&c->in[0], c->din[0], c->dy, 0); }

/* y's element (..., j, i) is x's (..., i, j): a window with x's strides, the last two
 * swapped */
static int transpose_fuse(const tg_op_ctx *c, size_t *base, size_t *stride)
{
    const int r = c->in[0].rank;
    size_t st = 1;
    for (int d = r; d-- > 0; st *= (size_t)c->in[0].shape[d]) stride[d] = st;
    const size_t last = stride[r - 1];
    stride[r - 1] = stride[r - 2];
    stride[r - 2] = last;
    *base = 0;
    return TG_FUSE_WINDOW;
}

static tg_var transpose_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)y, (void)i;
    return tg_transpose(gy);
}

const tg_op_def tg_op_transpose = {.name = "transpose", .arity = 1,
                                   .math = "y = x^T (last two axes); gx = gy^T",
                                   .infer = transpose_infer, .forward = transpose_forward,
                                   .vjp = transpose_vjp, .jvp = transpose_jvp,
                                   .vjp_graph = transpose_vjp_graph,
                                   .fuse = transpose_fuse};

tg_var tg_transpose(tg_var x) { return tg_apply(&tg_op_transpose, 1, &x); }
