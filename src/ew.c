/* ew.c - the elementwise driver: any scalar op (one with an eval kernel) run over tensor
 * operands with NumPy broadcasting, for values and partials, reverse and forward mode,
 * kinks and operand checks. It sees only kernel contexts (tg_op_ctx), never the tape.
 * See LICENSE. */
#include <string.h>

#include "internal.h"

/* Walks the output as rows of len elements (the last axis, or the whole output when no
 * operand is stretched). Inside a row operand j moves by step[j] (1, or 0 where it is
 * stretched); between rows, off[j] (operand j's offset at the row's start) moves over the
 * outer axes by stride[j][d]. */
typedef struct ew_iter {
    int n, outer; /* operands; outer axes */
    size_t rows, len;
    size_t step[TG_MAX_ARITY], off[TG_MAX_ARITY];
    int shape[TG_MAX_RANK], idx[TG_MAX_RANK];
    size_t stride[TG_MAX_ARITY][TG_MAX_RANK];
} ew_iter;

static void ew_init(ew_iter *it, const tg_op_ctx *c)
{
    memset(it, 0, sizeof *it);
    it->n = c->n;
    int simple = 1, rank = c->out.rank;
    for (int j = 0; j < c->n; j++) simple &= c->in[j].n == c->out.n || c->in[j].n == 1;
    if (simple || rank == 0) { /* one row: full-size operands step by 1, single ones by 0 */
        it->rows = 1;
        it->len = c->out.n;
        for (int j = 0; j < c->n; j++) it->step[j] = c->in[j].n == c->out.n && c->out.n > 1;
        return;
    }
    for (int j = 0; j < c->n; j++) {
        size_t s = 1;
        for (int d = c->in[j].rank - 1; d >= 0; d--) {
            int od = d + rank - c->in[j].rank;
            it->stride[j][od] = c->in[j].shape[d] == 1 ? 0 : s;
            s *= (size_t)c->in[j].shape[d];
        }
        it->step[j] = it->stride[j][rank - 1];
    }
    it->outer = rank - 1;
    memcpy(it->shape, c->out.shape, sizeof it->shape);
    it->len = (size_t)c->out.shape[rank - 1];
    it->rows = c->out.n / it->len;
}

static void ew_next_row(ew_iter *it)
{
    for (int d = it->outer - 1; d >= 0; d--) {
        for (int j = 0; j < it->n; j++) it->off[j] += it->stride[j][d];
        if (++it->idx[d] < it->shape[d]) return;
        for (int j = 0; j < it->n; j++) it->off[j] -= it->stride[j][d] * (size_t)it->shape[d];
        it->idx[d] = 0;
    }
}

/* Operand j's element at position k of the current row. */
static inline double *ew_at(double *base, const ew_iter *it, int j, size_t k)
{
    return base + it->off[j] + k * it->step[j];
}

size_t tg_ew_offset(const tg_op_ctx *c, int j, size_t e)
{
    const tg_view *in = &c->in[j];
    if (in->n == c->out.n) return e; /* the output's shape (broadcasting adds no element) */
    size_t off = 0, stride = 1;
    for (int d = in->rank - 1, od = c->out.rank - 1; d >= 0; d--, od--) {
        size_t below = 1; /* elements of the output's axes after od */
        for (int k = od + 1; k < c->out.rank; k++) below *= (size_t)c->out.shape[k];
        size_t idx = e / below % (size_t)c->out.shape[od];
        if (in->shape[d] != 1) off += idx * stride;
        stride *= (size_t)in->shape[d];
    }
    return off;
}

void tg_ew_forward(const tg_op_def *op, tg_op_ctx *c, double *part)
{
    ew_iter it;
    double x[TG_MAX_ARITY];
    const int n = c->n;
    ew_init(&it, c);
    for (size_t r = 0; r < it.rows; r++, ew_next_row(&it)) {
        double *y = c->out.x + r * it.len, *p = part ? part + r * it.len * (size_t)n : NULL;
        if (op->eval_row) {
            const double *row[TG_MAX_ARITY];
            for (int j = 0; j < n; j++) row[j] = c->in[j].x + it.off[j];
            op->eval_row(it.len, row, it.step, y, p);
            continue;
        }
        if (n == 1 && it.step[0] == 1) { /* unary on contiguous data: no gather */
            const double *a = c->in[0].x + it.off[0];
            for (size_t k = 0; k < it.len; k++) y[k] = op->eval(a + k, p ? p + k : NULL);
            continue;
        }
        for (size_t k = 0; k < it.len; k++) {
            for (int j = 0; j < n; j++) x[j] = *ew_at(c->in[j].x, &it, j, k);
            y[k] = op->eval(x, p ? p + k * (size_t)n : NULL);
        }
    }
}

/* Operand j's partials along the current row (kept ones from row base p, n per element). */
static const double *ew_partials(const tg_op_def *op, const tg_op_ctx *c, const ew_iter *it,
                                 const double *p, int j, size_t *step)
{
    const int o = op->partials == TG_PARTIALS_SWAP ? 1 - j : j; /* whose values they are */
    return tg_partials_at(op, j, p, (size_t)c->n, c->in[o].x + it->off[o], it->step[o], step);
}

void tg_ew_vjp(const tg_op_def *op, tg_op_ctx *c, const double *part, const int *fresh)
{
    ew_iter it;
    const int n = c->n;
    ew_init(&it, c);
    for (size_t r = 0; r < it.rows; r++, ew_next_row(&it)) {
        const double *gy = c->gy + r * it.len, *p = part ? part + r * it.len * (size_t)n : NULL;
        for (int j = 0; j < n; j++) {
            if (!c->gin[j]) continue;
            double *g = ew_at(c->gin[j], &it, j, 0);
            size_t ds;
            const double *d = ew_partials(op, c, &it, p, j, &ds);
            const size_t s = it.step[j]; /* 0: stretched, summed into one element */
            if (fresh[j]) {
                for (size_t k = 0; k < it.len; k++) {
                    const double v = gy[k] * d[k * ds];
                    g[k] = tg_passes(v, gy[k], d[k * ds]) ? v : 0.0;
                }
                continue;
            }
            for (size_t k = 0; k < it.len; k++) {
                const double v = gy[k] * d[k * ds];
                if (tg_passes(v, gy[k], d[k * ds])) g[k * s] += v;
            }
        }
    }
}

void tg_ew_jvp(const tg_op_def *op, tg_op_ctx *c, const double *part)
{
    ew_iter it;
    const int n = c->n;
    ew_init(&it, c);
    for (size_t r = 0; r < it.rows; r++, ew_next_row(&it)) {
        double *dy = c->dy + r * it.len;
        const double *p = part ? part + r * it.len * (size_t)n : NULL, *d[TG_MAX_ARITY];
        size_t ds[TG_MAX_ARITY];
        for (int j = 0; j < n; j++) d[j] = ew_partials(op, c, &it, p, j, &ds[j]);
        for (size_t k = 0; k < it.len; k++) {
            double sum = 0.0;
            for (int j = 0; j < n; j++) {
                double dx = c->din[j] ? *ew_at((double *)c->din[j], &it, j, k) : 0.0;
                double dk = d[j][k * ds[j]], v = dk * dx;
                if (tg_passes(v, dx, dk)) sum += v;
            }
            dy[k] = sum;
        }
    }
}

/* Each element's operands x[0..n-1], in order: op's branch quantity into s (check NULL), or
 * op's check until one refuses (its element in *elem). */
static tg_status ew_each(const tg_op_def *op, const tg_op_ctx *c, double *s, size_t *elem)
{
    ew_iter it;
    double x[TG_MAX_ARITY];
    ew_init(&it, c);
    for (size_t r = 0, e = 0; r < it.rows; r++, ew_next_row(&it))
        for (size_t k = 0; k < it.len; k++, e++) {
            for (int j = 0; j < c->n; j++) x[j] = *ew_at(c->in[j].x, &it, j, k);
            if (s) {
                s[e] = op->branch(x);
            } else {
                tg_status st = op->check(x, c->msg, c->msgsize);
                if (st != TG_OK) return *elem = e, st;
            }
        }
    return TG_OK;
}

void tg_ew_branch(const tg_op_def *op, const tg_op_ctx *c, double *s) { ew_each(op, c, s, NULL); }

tg_status tg_ew_check(const tg_op_def *op, const tg_op_ctx *c, size_t *elem)
{
    return ew_each(op, c, NULL, elem);
}
