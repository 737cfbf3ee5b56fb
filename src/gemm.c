/* gemm.c - a product op's step as one cblas_dgemm per matrix of a batch (tg_gemm in
 * tapegrad_op.h): the op's kernels run it here, and the tape compiler writes the same calls
 * out from the same description. See LICENSE. */
#include <cblas.h>

#include "internal.h"

/* The context's array a role names. */
static double *array(tg_op_ctx *c, int role)
{
    switch (role) {
    case TG_GEMM_X0: return c->in[0].x;
    case TG_GEMM_X1: return c->in[1].x;
    case TG_GEMM_OUT: return c->out.x;
    case TG_GEMM_GY: return (double *)c->gy;
    case TG_GEMM_G0: return c->gin[0];
    default: return c->gin[1];
    }
}

void tg_gemm_run(tg_op_ctx *c, const tg_gemm *g)
{
    const double *a = array(c, g->a), *b = array(c, g->b);
    double *y = array(c, g->y);
    for (int q = 0; q < g->batch; q++)
        cblas_dgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                    g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0, a + q * g->sa,
                    g->ta ? g->m : g->k, b + q * g->sb, g->tb ? g->k : g->n, g->beta,
                    y + q * g->sy, g->n);
}

/* cblas_dgemm with CBLAS's enums as ints, for compiled code (compile.c's runtime table). */
void tg_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha, const double *a,
              int lda, const double *b, int ldb, double beta, double *c, int ldc)
{
    cblas_dgemm((enum CBLAS_ORDER)order, (enum CBLAS_TRANSPOSE)ta, (enum CBLAS_TRANSPOSE)tb, m,
                n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
