/* matmul: y = a b.  a is [m,k] or a batch [B,m,k]; b is [k,n] or [B,k,n]; a batch on either
 * side is shared by the other (y is [B,m,n]).  dy = da b + a db; ga += gy b^T, gb += a^T gy
 * (summed over the batch when b is shared).  Every product is one cblas_dgemm call per
 * matrix of the batch, accumulating into the gradient (beta = 1), run from the description
 * compiled code writes out (.gemm).
 * Reverse rule as nodes: ga = matmul(gy, b^T), gb = matmul(a^T, gy). See LICENSE. */
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

/* Every step but jvp is one product per matrix of the batch: the forward y = a b, the vjp
 * ga [m,k] += gy [m,n] b^T and gb [k,n] += a^T gy, accumulating into the gradient. */
static int matmul_gemm(const tg_op_ctx *c, int step, tg_gemm *g)
{
    const dims d = dims_of(c);
    switch (step) {
    case -1: /* y [m,n] = a [m,k] b [k,n] */
        *g = (tg_gemm){.batch = d.batch, .m = d.m, .n = d.n, .k = d.k, .a = TG_GEMM_X0,
                       .b = TG_GEMM_X1, .y = TG_GEMM_OUT, .sa = d.sa, .sb = d.sb, .sy = d.sy};
        return 1;
    case 0: /* ga [m,k] += gy [m,n] b^T */
        *g = (tg_gemm){.batch = d.batch, .tb = 1, .m = d.m, .n = d.k, .k = d.n,
                       .a = TG_GEMM_GY, .b = TG_GEMM_X1, .y = TG_GEMM_G0, .sa = d.sy,
                       .sb = d.sb, .sy = d.sa, .beta = 1.0};
        return 1;
    case 1: /* gb [k,n] += a^T gy */
        *g = (tg_gemm){.batch = d.batch, .ta = 1, .m = d.k, .n = d.n, .k = d.m,
                       .a = TG_GEMM_X0, .b = TG_GEMM_GY, .y = TG_GEMM_G1, .sa = d.sa,
                       .sb = d.sy, .sy = d.sb, .beta = 1.0};
        return 1;
    default: return 0;
    }
}

static void matmul_forward(tg_op_ctx *c)
{
    tg_gemm g;
    matmul_gemm(c, -1, &g);
    tg_gemm_run(c, &g);
}

static void matmul_vjp(tg_op_ctx *c)
{
    tg_gemm g;
    for (int j = 0; j < 2; j++)
        if (c->gin[j] && matmul_gemm(c, j, &g)) tg_gemm_run(c, &g);
}

static void matmul_jvp(tg_op_ctx *c)
{
    tg_gemm g; /* dy = da b + a db: the forward's product once per moving operand */
    matmul_gemm(c, -1, &g);
    for (int j = 0; j < 2; j++) {
        if (!c->din[j]) continue;
        tg_op_ctx t = *c;
        t.in[j].x = (double *)c->din[j];
        t.out.x = c->dy;
        tg_gemm_run(&t, &g);
        g.beta = 1.0;
    }
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
                                .vjp_graph = matmul_vjp_graph, .gemm = matmul_gemm};

tg_var tg_matmul(tg_var a, tg_var b) { return tg_apply2(&tg_op_matmul, a, b); }
