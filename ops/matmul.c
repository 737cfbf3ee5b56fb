/* matmul: y = a b.  a is [m,k] or a batch [B,m,k]; b is [k,n] or [B,k,n]; a batch on either
 * side is shared by the other (y is [B,m,n]).  dy = da b + a db; ga += gy b^T, gb += a^T gy
 * (summed over the batch when b is shared).  Every product is one cblas_dgemm call per
 * matrix of the batch, accumulating into the gradient (beta = 1).
 * Reverse rule as nodes: ga = matmul(gy, b^T), gb = matmul(a^T, gy). See LICENSE. */
#include <cblas.h>

#include "tapegrad_op.h"

/* The problem's sizes, and how far each operand moves between matrices of the batch (0 for
 * an operand the batch shares). */
typedef struct { int batch, m, k, n; size_t sa, sb, sy; } dims;

static dims dims_of(const tg_op_ctx *c)
{
    const tg_view *a = &c->in[0], *b = &c->in[1];
    dims d;
    d.m = a->shape[a->rank - 2];
    d.k = a->shape[a->rank - 1];
    d.n = b->shape[b->rank - 1];
    d.batch = a->rank == 3 ? a->shape[0] : b->rank == 3 ? b->shape[0] : 1;
    d.sa = a->rank == 3 ? (size_t)d.m * d.k : 0;
    d.sb = b->rank == 3 ? (size_t)d.k * d.n : 0;
    d.sy = (size_t)d.m * d.n;
    return d;
}

static tg_status matmul_infer(tg_op_ctx *c)
{
    const tg_view *a = &c->in[0], *b = &c->in[1];
    char sa[48], sb[48];
    if (a->rank < 2 || a->rank > 3 || b->rank < 2 || b->rank > 3) {
        snprintf(c->msg, c->msgsize, "operands must be matrices or batches of them (a is %s, b "
                 "is %s)", tg_view_shape(a, sa, sizeof sa), tg_view_shape(b, sb, sizeof sb));
        return TG_ERR_SHAPE;
    }
    if (a->shape[a->rank - 1] != b->shape[b->rank - 2] ||
        (a->rank == 3 && b->rank == 3 && a->shape[0] != b->shape[0])) {
        snprintf(c->msg, c->msgsize, "%s differ (a is %s, b is %s)",
                 a->shape[a->rank - 1] != b->shape[b->rank - 2] ? "inner dimensions"
                                                                 : "batch sizes",
                 tg_view_shape(a, sa, sizeof sa), tg_view_shape(b, sb, sizeof sb));
        return TG_ERR_SHAPE;
    }
    dims d = dims_of(c);
    c->out.rank = a->rank > b->rank ? a->rank : b->rank;
    c->out.shape[0] = d.batch;
    c->out.shape[c->out.rank - 2] = d.m;
    c->out.shape[c->out.rank - 1] = d.n;
    return TG_OK;
}

/* y (+)= op(a) op(b) for each matrix of the batch; op transposes when asked. */
static void gemm(const dims *d, int ta, int tb, int m, int n, int k, const double *a, size_t sa,
                 const double *b, size_t sb, double *y, size_t sy, double beta)
{
    for (int i = 0; i < d->batch; i++)
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, 1.0, a + i * sa, ta ? m : k, b + i * sb, tb ? k : n, beta,
                    y + i * sy, n);
}

static void matmul_forward(tg_op_ctx *c)
{
    dims d = dims_of(c);
    gemm(&d, 0, 0, d.m, d.n, d.k, c->in[0].x, d.sa, c->in[1].x, d.sb, c->out.x, d.sy, 0.0);
}

static void matmul_vjp(tg_op_ctx *c)
{
    dims d = dims_of(c);
    if (c->gin[0]) /* ga [m,k] += gy [m,n] b^T */
        gemm(&d, 0, 1, d.m, d.k, d.n, c->gy, d.sy, c->in[1].x, d.sb, c->gin[0], d.sa, 1.0);
    if (c->gin[1]) /* gb [k,n] += a^T gy */
        gemm(&d, 1, 0, d.k, d.n, d.m, c->in[0].x, d.sa, c->gy, d.sy, c->gin[1], d.sb, 1.0);
}

static void matmul_jvp(tg_op_ctx *c)
{
    dims d = dims_of(c);
    double beta = 0.0;
    if (c->din[0]) {
        gemm(&d, 0, 0, d.m, d.n, d.k, c->din[0], d.sa, c->in[1].x, d.sb, c->dy, d.sy, 0.0);
        beta = 1.0;
    }
    if (c->din[1])
        gemm(&d, 0, 0, d.m, d.n, d.k, c->in[0].x, d.sa, c->din[1], d.sb, c->dy, d.sy, beta);
}

static tg_var matmul_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y;
    return i == 0 ? tg_matmul(gy, tg_transpose(x[1])) : tg_matmul(tg_transpose(x[0]), gy);
}

const tg_op_def tg_op_matmul = {.name = "matmul", .arity = 2,
                                .math = "y = a b; ga = gy b^T, gb = a^T gy",
                                .infer = matmul_infer, .forward = matmul_forward,
                                .vjp = matmul_vjp, .jvp = matmul_jvp,
                                .vjp_graph = matmul_vjp_graph};

tg_var tg_matmul(tg_var a, tg_var b) { return tg_apply2(&tg_op_matmul, a, b); }
