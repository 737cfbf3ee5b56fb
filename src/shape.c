/* shape.c - shapes: NumPy broadcasting, axes, the ready-made infers of the op contract, and
 * formatting shapes for messages. See LICENSE. */
#include <stdio.h>

#include "internal.h"

const char *tg_view_shape(const tg_view *v, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < v->rank && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%d", d ? "," : "", v->shape[d]);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}

/* Shapes are aligned from the right; a dimension of size 1 (or a missing one) stretches to
 * the other operands' size. */
int tg_broadcast(const tg_view *in, int n, tg_view *out)
{
    int rank = 0;
    for (int j = 0; j < n; j++)
        if (in[j].rank > rank) rank = in[j].rank;
    out->rank = rank;
    out->n = 1;
    for (int d = 0; d < rank; d++) {
        int size = 1;
        for (int j = 0; j < n; j++) {
            int k = d - (rank - in[j].rank);
            int s = k >= 0 ? in[j].shape[k] : 1;
            if (s == 1 || s == size) continue;
            if (size != 1) return -1;
            size = s;
        }
        out->shape[d] = size;
        out->n *= (size_t)size;
    }
    return 0;
}

int tg_axis(int rank, int axis)
{
    if (axis < -rank || axis >= rank) return -1;
    return axis < 0 ? axis + rank : axis;
}

tg_span tg_view_span(const tg_view *x, int axis)
{
    tg_span s = {tg_axis(x->rank, axis), 1, x->n, 1};
    if (s.axis < 0) return s;
    s.len = (size_t)x->shape[s.axis];
    for (int d = 0; d < s.axis; d++) s.outer *= (size_t)x->shape[d];
    for (int d = s.axis + 1; d < x->rank; d++) s.inner *= (size_t)x->shape[d];
    return s;
}

tg_status tg_infer_last_axis(tg_op_ctx *c)
{
    const tg_view *x = &c->in[0];
    char sx[48];
    if (c->nattr != 0) {
        snprintf(c->msg, c->msgsize, "takes no attributes, got %d (x is %s)", c->nattr,
                 tg_view_shape(x, sx, sizeof sx));
        return TG_ERR_ARG;
    }
    if (x->rank < 1) {
        snprintf(c->msg, c->msgsize, "needs rank 1 or more (it runs along the last axis), got "
                 "rank 0 (x is %s)", tg_view_shape(x, sx, sizeof sx));
        return TG_ERR_SHAPE;
    }
    c->out.rank = x->rank;
    for (int d = 0; d < x->rank; d++) c->out.shape[d] = x->shape[d];
    return TG_OK;
}
