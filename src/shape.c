/* shape.c - shapes: NumPy broadcasting, axes, the ready-made infers of the op contract, and
 * formatting shapes for messages. See LICENSE. */
#include <stdio.h>
#include <string.h>

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

/* ---- ready-made infers ---- */

/* Room for operands(): TG_MAX_ARITY of "x1 is " and a shape of TG_MAX_RANK 10-digit sizes. */
#define OPERANDS_SIZE (TG_MAX_ARITY * 64)

/* The operands for a message: "x is [3,4]", or "x1 is [4,1], x2 is [4]" when there are
 * several (x1 first, as "operand 1" in other messages). */
static const char *operands(const tg_op_ctx *c, char *buf, size_t size)
{
    char sh[48];
    if (c->n == 1) {
        snprintf(buf, size, "x is %s", tg_view_shape(&c->in[0], sh, sizeof sh));
        return buf;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int j = 0; j < c->n && len < size; j++)
        len += (size_t)snprintf(buf + len, size - len, "%sx%d is %s", j ? ", " : "", j + 1,
                                tg_view_shape(&c->in[j], sh, sizeof sh));
    return buf;
}

/* An infer that takes no attributes, given some. */
static tg_status no_attributes(tg_op_ctx *c)
{
    char ops[OPERANDS_SIZE];
    snprintf(c->msg, c->msgsize, "takes no attributes, got %d (%s)", c->nattr,
             operands(c, ops, sizeof ops));
    return TG_ERR_ARG;
}

/* An axis attribute that names no axis of x: the one message for every op's axis. */
static tg_status bad_axis(tg_op_ctx *c, int axis)
{
    char ops[OPERANDS_SIZE];
    snprintf(c->msg, c->msgsize, "axis %d is out of range for rank %d (%s)", axis, c->in[0].rank,
             operands(c, ops, sizeof ops));
    return TG_ERR_ARG;
}

static tg_status same_shape(tg_op_ctx *c)
{
    const tg_view *x = &c->in[0];
    c->out.rank = x->rank;
    for (int d = 0; d < x->rank; d++) c->out.shape[d] = x->shape[d];
    return TG_OK;
}

tg_status tg_infer_last_axis(tg_op_ctx *c)
{
    char ops[OPERANDS_SIZE];
    if (c->nattr != 0) return no_attributes(c);
    if (c->in[0].rank < 1) {
        snprintf(c->msg, c->msgsize, "needs rank 1 or more (it runs along the last axis), got "
                 "rank 0 (%s)", operands(c, ops, sizeof ops));
        return TG_ERR_SHAPE;
    }
    return same_shape(c);
}

tg_status tg_infer_along_axis(tg_op_ctx *c)
{
    char ops[OPERANDS_SIZE];
    if (c->nattr == 0) return tg_infer_last_axis(c);
    if (c->nattr != 1) {
        snprintf(c->msg, c->msgsize, "takes attributes {axis} (or none, for the last axis), got "
                 "%d (%s)", c->nattr, operands(c, ops, sizeof ops));
        return TG_ERR_ARG;
    }
    if (tg_axis(c->in[0].rank, c->attr[0]) < 0) return bad_axis(c, c->attr[0]);
    return same_shape(c);
}

tg_status tg_infer_same_shape_to_scalar(tg_op_ctx *c)
{
    const tg_view *x = &c->in[0];
    if (c->nattr != 0) return no_attributes(c);
    for (int j = 1; j < c->n; j++) {
        const tg_view *v = &c->in[j];
        if (v->rank == x->rank && !memcmp(v->shape, x->shape, (size_t)x->rank * sizeof *x->shape))
            continue;
        char ops[OPERANDS_SIZE];
        snprintf(c->msg, c->msgsize, "shapes differ (%s)", operands(c, ops, sizeof ops));
        return TG_ERR_SHAPE;
    }
    c->out.rank = 0;
    return TG_OK;
}

tg_status tg_infer_reduce_axis(tg_op_ctx *c)
{
    const tg_view *x = &c->in[0];
    char ops[OPERANDS_SIZE];
    if (c->nattr != 2) {
        snprintf(c->msg, c->msgsize, "takes attributes {axis, keepdims}, got %d (%s)", c->nattr,
                 operands(c, ops, sizeof ops));
        return TG_ERR_ARG;
    }
    int axis = tg_axis(x->rank, c->attr[0]), keep = c->attr[1];
    if (axis < 0) return bad_axis(c, c->attr[0]);
    if (keep != 0 && keep != 1) {
        snprintf(c->msg, c->msgsize, "keepdims is %d, not 0 or 1 (%s)", keep,
                 operands(c, ops, sizeof ops));
        return TG_ERR_ARG;
    }
    c->out.rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != axis) c->out.shape[c->out.rank++] = x->shape[d];
        else if (keep) c->out.shape[c->out.rank++] = 1;
    }
    return TG_OK;
}
