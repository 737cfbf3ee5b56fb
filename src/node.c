/* node.c - nodes' values and shapes: tensor entries and their views, the leaves (scalar and
 * tensor, copied or borrowed), and reading and setting values. Above tape.c, below recording.
 * A tensor node's values live in the data arena (or, borrowed, in the caller's array); its
 * gradient and tangent live at the same offset in the grad and tdat arenas. See LICENSE. */
#include <math.h>
#include <string.h>

#include "internal.h"

#define MAX_NUMEL 0x7fffffffu

/* Leaves are recorded with these descriptors; they are not in the registry. */
const tg_op_def tg_leaf_param = {.name = "param", .arity = 0};
const tg_op_def tg_leaf_const = {.name = "const", .arity = 0};

/* ---- tensor entries and views ---- */

/* A tensor's values: the caller's array for a borrowed leaf, else its data arena region. */
tg_view tg_tensor_view(const tg_tape *t, const tg_tensor *tt)
{
    tg_view v = {tt->ref ? tt->ref : t->data + tt->off, tt->rank, {0}, tt->n};
    memcpy(v.shape, tt->shape, sizeof v.shape);
    return v;
}

tg_view tg_node_view(const tg_tape *t, uint32_t i)
{
    tg_node *nd = &t->nodes[i];
    if (tg_node_is_tensor(nd)) return tg_tensor_view(t, tg_node_tensor(t, nd));
    tg_view v = {&nd->v, 0, {0}, 1};
    return v;
}

size_t tg_node_numel(const tg_tape *t, uint32_t i)
{
    const tg_node *nd = &t->nodes[i];
    return tg_node_is_tensor(nd) ? tg_node_tensor(t, nd)->n : 1;
}

/* A new tg_tensor entry with room for its values; UINT32_MAX on failure (error set). */
uint32_t tg_tensor_new(tg_tape *t, const tg_view *shape, int nattr, const int *attr)
{
    if (tg_grow(t, (void **)&t->tens, &t->tens_cap, t->ntens + 1, sizeof *t->tens) ||
        tg_grow_big(t, (void **)&t->data, &t->data_cap, t->data_n + shape->n, sizeof *t->data))
        return UINT32_MAX;
    tg_tensor *tt = &t->tens[t->ntens];
    memset(tt, 0, sizeof *tt);
    tt->off = t->data_n;
    tt->poff = TG_NONE_OFF;
    tt->n = shape->n;
    tt->rank = shape->rank;
    memcpy(tt->shape, shape->shape, sizeof tt->shape);
    tt->nattr = nattr;
    if (nattr > 0) memcpy(tt->attr, attr, (size_t)nattr * sizeof *attr);
    t->data_n += shape->n;
    return t->ntens++;
}

/* ---- leaves ---- */

static tg_var record_leaf(tg_tape *t, const tg_op_def *kind, uint32_t act, double v)
{
    if (!t || t->status) return tg_err_var(t);
    const uint32_t in1 = (uint32_t)TG_LEAF << TG_KIND_SHIFT;
    if (t->n < t->room) return tg_node_put(&t->head, kind, act, in1, v);
    return tg_push(t, kind, act, in1, v);
}

tg_var tg_param(tg_tape *t, double v) { return record_leaf(t, &tg_leaf_param, TG_ACTIVE, v); }

tg_var tg_const(tg_tape *t, double v) { return record_leaf(t, &tg_leaf_const, 0, v); }

/* A tensor leaf with data copied in, or borrowed (borrow: the tape reads data in place), or
 * (data NULL) every element fill. */
static tg_var tensor_leaf(tg_tape *t, const tg_op_def *kind, uint32_t act, int ndim,
                          const int *shape, const double *data, int borrow, double fill,
                          const char *who)
{
    if (!t || t->status) return tg_err_var(t);
    tg_view v = {NULL, ndim, {0}, 1};
    int min_rank = kind == &tg_leaf_const && !data && !borrow ? 0 : 1; /* 0: tg_tensor_fill */
    if (ndim < min_rank || ndim > TG_MAX_RANK) {
        tg_fail(t, TG_ERR_ARG, "%s: rank %d is outside %d..%d", who, ndim, min_rank,
                TG_MAX_RANK);
        return tg_err_var(t);
    }
    if ((!shape && ndim > 0) || (!data && min_rank)) {
        tg_fail(t, TG_ERR_ARG, "%s: %s is NULL", who, shape || !ndim ? "data" : "shape");
        return tg_err_var(t);
    }
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1) {
            tg_fail(t, TG_ERR_SHAPE, "%s: dimension %d is %d (must be at least 1)", who, d,
                    shape[d]);
            return tg_err_var(t);
        }
        v.shape[d] = shape[d];
        v.n *= (size_t)shape[d];
        if (v.n > MAX_NUMEL) {
            tg_fail(t, TG_ERR_ARG, "%s: more than 2^31-1 elements requested", who);
            return tg_err_var(t);
        }
    }
    uint32_t ti = tg_tensor_new(t, &v, 0, NULL);
    if (ti == UINT32_MAX || tg_reserve(t)) return tg_err_var(t);
    double *x = t->data + t->tens[ti].off;
    if (borrow) /* the kernels only read a leaf; tg_check writes and restores a param */
        t->tens[ti].ref = (double *)data;
    else if (data)
        memcpy(x, data, v.n * sizeof *data);
    else
        for (size_t e = 0; e < v.n; e++) x[e] = fill;
    return tg_push(t, kind, act | TG_TENSOR, (uint32_t)TG_LEAF << TG_KIND_SHIFT, (double)ti);
}

tg_var tg_tensor_param(tg_tape *t, int ndim, const int *shape, const double *data)
{
    return tensor_leaf(t, &tg_leaf_param, TG_ACTIVE, ndim, shape, data, 0, 0,
                       "tg_tensor_param");
}

tg_var tg_tensor_const(tg_tape *t, int ndim, const int *shape, const double *data)
{
    return tensor_leaf(t, &tg_leaf_const, 0, ndim, shape, data, 0, 0, "tg_tensor_const");
}

tg_var tg_tensor_param_ref(tg_tape *t, int ndim, const int *shape, double *data)
{
    return tensor_leaf(t, &tg_leaf_param, TG_ACTIVE, ndim, shape, data, 1, 0,
                       "tg_tensor_param_ref");
}

tg_var tg_tensor_const_ref(tg_tape *t, int ndim, const int *shape, const double *data)
{
    return tensor_leaf(t, &tg_leaf_const, 0, ndim, shape, data, 1, 0, "tg_tensor_const_ref");
}

tg_var tg_tensor_fill(tg_tape *t, int ndim, const int *shape, double v)
{
    return tensor_leaf(t, &tg_leaf_const, 0, ndim, shape, NULL, 0, v, "tg_tensor_fill");
}

/* ---- reading and setting values ---- */

/* A constant whose element k is src[k] (or k, for iota). */
static tg_var int_leaf(tg_tape *t, int ndim, const int *shape, const int *src, int iota,
                       const char *who)
{
    if (t && !t->status && !src && !iota) {
        tg_fail(t, TG_ERR_ARG, "%s: data is NULL", who);
        return tg_err_var(t);
    }
    tg_var v = tensor_leaf(t, &tg_leaf_const, 0, ndim, shape, NULL, 0, 0.0, who);
    if (v.index == TG_NONE) return v;
    tg_view w = tg_node_view(t, v.index);
    for (size_t k = 0; k < w.n; k++) w.x[k] = iota ? (double)k : src[k];
    return v;
}

tg_var tg_tensor_const_ints(tg_tape *t, int ndim, const int *shape, const int *data)
{
    return int_leaf(t, ndim, shape, data, 0, "tg_tensor_const_ints");
}

tg_var tg_tensor_arange(tg_tape *t, int n)
{
    return int_leaf(t, 1, &n, NULL, 1, "tg_tensor_arange");
}

int tg_attr(tg_var y, int *attr)
{
    const tg_node *nd = tg_resolve(y, "tg_attr");
    if (!nd) return -1;
    if (!tg_node_is_tensor(nd)) return 0;
    const tg_tensor *tt = tg_node_tensor(y.tape, nd);
    if (attr) memcpy(attr, tt->attr, (size_t)tt->nattr * sizeof *attr);
    return tt->nattr;
}

int tg_shape(tg_var v, int shape[4])
{
    const tg_node *nd = tg_resolve(v, "tg_shape");
    if (!nd) return -1;
    tg_view w = tg_node_view(v.tape, v.index);
    if (shape) memcpy(shape, w.shape, sizeof w.shape);
    return w.rank;
}

size_t tg_numel(tg_var v)
{
    return tg_resolve(v, "tg_numel") ? tg_node_numel(v.tape, v.index) : 0;
}

const double *tg_data(tg_var v)
{
    return tg_resolve(v, "tg_data") ? tg_node_view(v.tape, v.index).x : NULL;
}

/* Where the one number of live node i is, or NULL when it holds several (a tensor). */
static double *one_value(const tg_tape *t, tg_node *nd, uint32_t i)
{
    if (!tg_node_is_tensor(nd)) return &nd->v;
    tg_view w = tg_node_view(t, i);
    return w.n == 1 ? w.x : NULL;
}

void tg_set(tg_var leaf, double v)
{
    tg_tape *t = leaf.tape;
    if (t && tg_live(t, leaf)) { /* the common case, a scalar leaf, without a call */
        tg_node *nd = &t->nodes[leaf.index];
        if (tg_node_is_leaf(nd) && !tg_node_is_tensor(nd)) {
            nd->v = v;
            return;
        }
    }
    tg_node *nd = tg_resolve(leaf, "tg_set");
    if (!nd) return;
    if (!tg_node_is_leaf(nd)) {
        char nm[64];
        tg_fail(leaf.tape, TG_ERR_ARG, "tg_set: node %s is a %s, not a leaf (only tg_param and "
                "tg_const nodes can be set)", tg_node_name(leaf.tape, leaf.index, nm, sizeof nm),
                nd->op->name);
        return;
    }
    if (tg_refuse_borrowed(leaf.tape, leaf.index, "tg_set")) return;
    double *x = one_value(leaf.tape, nd, leaf.index);
    if (x) {
        *x = v;
        return;
    }
    char nm[64], sh[48];
    tg_view w = tg_node_view(leaf.tape, leaf.index);
    tg_fail(leaf.tape, TG_ERR_SHAPE, "tg_set: node %s is a tensor of shape %s, not a scalar "
            "(use tg_tensor_set)", tg_node_name(leaf.tape, leaf.index, nm, sizeof nm),
            tg_view_shape(&w, sh, sizeof sh));
}

double tg_value(tg_var v)
{
    if (v.tape && tg_live(v.tape, v) && !tg_node_is_tensor(&v.tape->nodes[v.index]))
        return v.tape->nodes[v.index].v;
    tg_node *nd = tg_resolve(v, "tg_value"); /* a handle that is no live node: the error */
    const double *x = nd ? one_value(v.tape, nd, v.index) : NULL;
    return x ? *x : NAN; /* a tensor of several elements is read, not an error */
}

int tg_refuse_borrowed(tg_tape *t, uint32_t i, const char *who)
{
    const tg_node *nd = &t->nodes[i];
    if (!tg_node_is_tensor(nd) || !tg_node_tensor(t, nd)->ref) return 0;
    char nm[64];
    tg_fail(t, TG_ERR_ARG, "%s: leaf %s borrows the caller's array (made by tg_tensor_%s_ref): "
            "write new values into that array instead", who, tg_node_name(t, i, nm, sizeof nm),
            tg_node_active(nd) ? "param" : "const");
    return 1;
}

void tg_tensor_set(tg_var leaf, const double *data)
{
    tg_node *nd = tg_resolve(leaf, "tg_tensor_set");
    if (!nd) return;
    char nm[64];
    if (!data) {
        tg_fail(leaf.tape, TG_ERR_ARG, "tg_tensor_set: data is NULL");
        return;
    }
    if (!tg_node_is_leaf(nd)) {
        tg_fail(leaf.tape, TG_ERR_ARG, "tg_tensor_set: node %s is a %s, not a leaf",
                tg_node_name(leaf.tape, leaf.index, nm, sizeof nm), nd->op->name);
        return;
    }
    if (tg_refuse_borrowed(leaf.tape, leaf.index, "tg_tensor_set")) return;
    tg_view w = tg_node_view(leaf.tape, leaf.index);
    memcpy(w.x, data, w.n * sizeof *data);
}
