/* tensor.c - tensor nodes: leaves and their data, recording ops on tensors, the elementwise
 * driver (any scalar op on tensors, with NumPy broadcasting) and the sweeps' tensor path.
 * A tensor node's values live in the data arena; its gradient and tangent live at the same
 * offset in the grad and tdat arenas. See LICENSE. */
#include <math.h>
#include <string.h>

#include "internal.h"

#define MAX_NUMEL 0x7fffffffu

/* ---- views ---- */

/* A tensor's values: the caller's array for a borrowed leaf, else its data arena region. */
static tg_view tensor_view(const tg_tape *t, const tg_tensor *tt)
{
    tg_view v = {tt->ref ? tt->ref : t->data + tt->off, tt->rank, {0}, tt->n};
    memcpy(v.shape, tt->shape, sizeof v.shape);
    return v;
}

tg_view tg_node_view(const tg_tape *t, uint32_t i)
{
    tg_node *nd = &t->nodes[i];
    if (tg_node_is_tensor(nd)) return tensor_view(t, tg_node_tensor(t, nd));
    tg_view v = {&nd->v, 0, {0}, 1};
    return v;
}

size_t tg_node_numel(const tg_tape *t, uint32_t i)
{
    const tg_node *nd = &t->nodes[i];
    return tg_node_is_tensor(nd) ? tg_node_tensor(t, nd)->n : 1;
}

/* The kernel context of tensor node i: operands, output, attributes. */
static int node_ctx(const tg_tape *t, uint32_t i, tg_op_ctx *c, uint32_t *idx)
{
    const tg_node *nd = &t->nodes[i];
    const tg_tensor *tt = tg_node_tensor(t, nd);
    memset(c, 0, sizeof *c);
    c->n = tg_node_inputs(t, nd, idx);
    for (int j = 0; j < c->n; j++) c->in[j] = tg_node_view(t, idx[j]);
    c->out = tensor_view(t, tt);
    c->attr = tt->attr;
    c->nattr = tt->nattr;
    return c->n;
}

/* ---- the elementwise driver ---- */

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

/* Values, and the partials into part (n per element) when part is not NULL. */
static void ew_forward(const tg_op_def *op, tg_op_ctx *c, double *part)
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

/* Whether the contribution v = g * d (an adjoint or tangent times a partial) is added:
 * always, unless it is the NaN of 0 * Inf (a zero one passes nothing on). v is tested
 * first: NaN is rare, so the common case costs one comparison. */
static inline int passes(double v, double g, double d)
{
    return v == v || (g != 0.0 && d != 0.0);
}

/* With the partials kept when the values were computed, no kernel is called. Gradients of
 * stretched operands are summed over the stretched dimensions by adding at the same offset;
 * a zero output gradient or a zero partial adds nothing (no 0 * Inf). */
/* Operand j's partials along the current row, element k at src[k * *step]: kept with the
 * node (row base p, n per element), the descriptor's constant, or the other operand's
 * values (mul: TG_PARTIALS_SWAP). */
static const double *ew_partials(const tg_op_def *op, const tg_op_ctx *c, const ew_iter *it,
                                 const double *p, int j, size_t *step)
{
    if (op->partials == TG_PARTIALS_CONST) {
        *step = 0;
        return &op->dconst[j];
    }
    if (op->partials == TG_PARTIALS_SWAP) {
        *step = it->step[1 - j];
        return c->in[1 - j].x + it->off[1 - j];
    }
    *step = (size_t)c->n;
    return p + j;
}

/* fresh[j]: operand j's gradient region is written, not added to (it has the output's size
 * and nothing has reached it yet: a pass over the whole output writes each element once). */
static void ew_vjp(const tg_op_def *op, tg_op_ctx *c, const double *part, const int *fresh)
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
                    g[k] = passes(v, gy[k], d[k * ds]) ? v : 0.0;
                }
                continue;
            }
            for (size_t k = 0; k < it.len; k++) {
                const double v = gy[k] * d[k * ds];
                if (passes(v, gy[k], d[k * ds])) g[k * s] += v;
            }
        }
    }
}

static void ew_jvp(const tg_op_def *op, tg_op_ctx *c, const double *part)
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
                if (passes(v, dx, dk)) sum += v;
            }
            dy[k] = sum;
        }
    }
}

/* A kinked elementwise op on a tensor keeps the sign of every element's branch quantity, as
 * the scalar tape keeps one per kinked node, so replay can report a change. Stores the new
 * signs; with compare, returns the first element whose sign changed (its quantity in *at),
 * else -1. */
static long ew_kinks(const tg_op_def *op, tg_op_ctx *c, int32_t *sign, int compare,
                     double *at)
{
    ew_iter it;
    double x[TG_MAX_ARITY];
    long first = -1;
    ew_init(&it, c);
    for (size_t r = 0; r < it.rows; r++, ew_next_row(&it)) {
        for (size_t k = 0; k < it.len; k++) {
            for (int j = 0; j < c->n; j++) x[j] = *ew_at(c->in[j].x, &it, j, k);
            double s = op->branch(x);
            int32_t now = (s > 0) - (s < 0), *was = &sign[r * it.len + k];
            if (compare && now != *was && first < 0) {
                first = (long)(r * it.len + k);
                *at = s;
            }
            *was = now;
        }
    }
    return first;
}

/* ---- recording ---- */

/* A new tg_tensor entry with room for its values; UINT32_MAX on failure (error set). */
static uint32_t new_tensor(tg_tape *t, const tg_view *shape, int nattr, const int *attr)
{
    if (tg_grow(t, (void **)&t->tens, &t->tens_cap, t->ntens + 1, sizeof *t->tens) ||
        tg_grow_big(t, (void **)&t->data, &t->data_cap, t->data_n + shape->n, sizeof *t->data))
        return UINT32_MAX;
    tg_tensor *tt = &t->tens[t->ntens];
    memset(tt, 0, sizeof *tt);
    tt->off = t->data_n;
    tt->koff = tt->poff = TG_NONE_OFF;
    tt->n = shape->n;
    tt->rank = shape->rank;
    memcpy(tt->shape, shape->shape, sizeof tt->shape);
    tt->nattr = nattr;
    if (nattr > 0) memcpy(tt->attr, attr, (size_t)nattr * sizeof *attr);
    t->data_n += shape->n;
    return t->ntens++;
}

/* Anomaly mode for a tensor result: name the op and the first non-finite element. */
static void check_tensor(tg_tape *t, const tg_op_def *op, const tg_view *out, uint32_t node)
{
    for (size_t e = 0; e < out->n; e++) {
        if (isfinite(out->x[e])) continue;
        char nm[64], sh[48];
        tg_fail(t, TG_ERR_DOMAIN, "%s: result is %g at element %zu of node %s (shape %s)",
                op->name, out->x[e], e, tg_node_name(t, node, nm, sizeof nm),
                tg_view_shape(out, sh, sizeof sh));
        return;
    }
}

/* Why the operands' shapes do not broadcast, as "shapes [3,4] and [5,4] do not broadcast". */
static void broadcast_msg(const tg_op_ctx *c, char *msg, size_t size)
{
    size_t len = (size_t)snprintf(msg, size, "shapes");
    for (int j = 0; j < c->n && len < size; j++) {
        char sh[48];
        len += (size_t)snprintf(msg + len, size - len, "%s %s", j == 0 ? "" : j + 1 == c->n ? " and" : ",",
                                tg_view_shape(&c->in[j], sh, sizeof sh));
    }
    if (len < size) snprintf(msg + len, size - len, " do not broadcast");
}

tg_var tg_apply_tensor(tg_tape *t, const tg_op_def *op, int n, const uint32_t *idx, uint32_t act,
                       int nattr, const int *attr)
{
    char msg[200] = "";
    tg_op_ctx c = {.n = n, .attr = attr, .nattr = nattr, .msg = msg, .msgsize = sizeof msg};
    for (int j = 0; j < n; j++) c.in[j] = tg_node_view(t, idx[j]);
    tg_status st = TG_OK;
    if (op->infer) {
        st = op->infer(&c);
    } else if (tg_broadcast(c.in, n, &c.out)) {
        broadcast_msg(&c, msg, sizeof msg);
        st = TG_ERR_SHAPE;
    }
    if (st != TG_OK) {
        tg_fail(t, st, "%s: %s", op->name, msg[0] ? msg : tg_status_str(st));
        return tg_err_var(t);
    }
    c.out.n = 1;
    for (int d = 0; d < c.out.rank; d++) {
        c.out.n *= (size_t)c.out.shape[d];
        if (c.out.n > MAX_NUMEL) {
            tg_fail(t, TG_ERR_ARG, "%s: the result would have more than 2^31-1 elements", op->name);
            return tg_err_var(t);
        }
    }
    uint32_t ti = new_tensor(t, &c.out, nattr, attr), off = t->next;
    /* an active elementwise node keeps its partials, as a scalar node does, so its reverse
     * and forward sweeps call no kernel */
    int elementwise = !op->infer, kinked = act && ((elementwise && op->branch) || op->choose);
    size_t np = elementwise && act && op->partials == TG_PARTIALS_KEPT ? c.out.n * (size_t)n : 0;
    if (ti == UINT32_MAX || tg_reserve(t) ||
        tg_grow(t, (void **)&t->ext, &t->ext_cap, t->next + (uint32_t)n, sizeof *t->ext) ||
        (kinked && tg_grow_big(t, (void **)&t->ksign, &t->ksign_cap, t->ksign_n + c.out.n,
                               sizeof *t->ksign)) ||
        (np && tg_grow_big(t, (void **)&t->tpart, &t->tpart_cap, t->tpart_n + np,
                           sizeof *t->tpart)))
        return tg_err_var(t);
    if (kinked) {
        t->tens[ti].koff = t->ksign_n;
        t->ksign_n += c.out.n;
    }
    if (np) {
        t->tens[ti].poff = t->tpart_n;
        t->tpart_n += np;
    }
    memcpy(t->ext + off, idx, (size_t)n * sizeof *idx);
    t->next += (uint32_t)n;
    /* the arenas may have moved: take the views again */
    for (int j = 0; j < n; j++) c.in[j] = tg_node_view(t, idx[j]);
    c.out = tensor_view(t, &t->tens[ti]);
    if (op->infer)
        op->forward(&c);
    else
        ew_forward(op, &c, np ? t->tpart + t->tens[ti].poff : NULL);
    if (kinked && op->choose)
        op->choose(&c, t->ksign + t->tens[ti].koff);
    else if (kinked)
        ew_kinks(op, &c, t->ksign + t->tens[ti].koff, 0, NULL);
    if (t->check_nan) {
        check_tensor(t, op, &c.out, t->n);
        if (t->status) return tg_err_var(t);
    }
    return tg_push(t, op, off | act | TG_TENSOR, (uint32_t)TG_NARY << TG_KIND_SHIFT, (double)ti);
}

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
    uint32_t ti = new_tensor(t, &v, 0, NULL);
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

int tg_attr(tg_var y, int *attr)
{
    const tg_node *nd = tg_resolve(y, "tg_attr");
    if (!nd) return -1;
    if (!tg_node_is_tensor(nd)) return 0;
    const tg_tensor *tt = tg_node_tensor(y.tape, nd);
    if (attr) memcpy(attr, tt->attr, (size_t)tt->nattr * sizeof *attr);
    return tt->nattr;
}

/* ---- access ---- */

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

/* Whether the last sweep reached node i: an active node recorded before it, and for a
 * tensor its flag slot set (a scalar's slot is its value, which may well be 0). */
static int reached(const tg_node *nd, uint32_t i, uint32_t n, const double *flag)
{
    return (nd->in[0] & TG_ACTIVE) && i < n && (!tg_node_is_tensor(nd) || flag[i] != 0.0);
}

const double *tg_gradient_data(tg_var v)
{
    const tg_node *nd = tg_resolve(v, "tg_gradient_data");
    tg_tape *t = v.tape;
    if (!nd || !reached(nd, v.index, t->adj_n, t->adj)) return NULL;
    return tg_node_is_tensor(nd) ? t->grad + tg_node_tensor(t, nd)->off : &t->adj[v.index];
}

const double *tg_tangent_data(tg_var v)
{
    const tg_node *nd = tg_resolve(v, "tg_tangent_data");
    tg_tape *t = v.tape;
    if (!nd || !reached(nd, v.index, t->tan_n, t->tan)) return NULL;
    return tg_node_is_tensor(nd) ? t->tdat + tg_node_tensor(t, nd)->off : &t->tan[v.index];
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

/* ---- the sweeps' tensor path ---- */

/* The arenas are not cleared here: a region is zeroed when something first flows into it
 * (slot), so a sweep touches only the gradients it computes. */
int tg_tensor_grad_ready(tg_tape *t)
{
    return t->data_n > t->grad_cap &&
                   tg_grow_big(t, (void **)&t->grad, &t->grad_cap, t->data_n, sizeof *t->grad)
               ? -1
               : 0;
}

int tg_tensor_tan_ready(tg_tape *t)
{
    return t->data_n > t->tdat_cap &&
                   tg_grow_big(t, (void **)&t->tdat, &t->tdat_cap, t->data_n, sizeof *t->tdat)
               ? -1
               : 0;
}

void tg_tensor_forward(tg_tape *t, uint32_t i)
{
    tg_op_ctx c;
    uint32_t idx[TG_MAX_ARITY];
    node_ctx(t, i, &c, idx);
    const tg_op_def *op = t->nodes[i].op;
    const tg_tensor *tt = tg_node_tensor(t, &t->nodes[i]);
    if (op->infer)
        op->forward(&c);
    else
        ew_forward(op, &c, tt->poff == TG_NONE_OFF ? NULL : t->tpart + tt->poff);
    size_t koff = tt->koff;
    double s = 0;
    long e = -1;
    if (koff != TG_NONE_OFF && op->choose) { /* compare the new choices with the kept ones */
        if (tg_grow_big(t, (void **)&t->kwork, &t->kwork_cap, c.out.n, sizeof *t->kwork)) return;
        int32_t *now = t->kwork, *kept = t->ksign + koff;
        op->choose(&c, now);
        for (size_t k = 0; k < c.out.n; k++) {
            if (now[k] != kept[k] && e < 0) e = (long)k, s = now[k];
            kept[k] = now[k];
        }
    } else if (koff != TG_NONE_OFF) {
        e = ew_kinks(op, &c, t->ksign + koff, 1, &s);
    }
    if (e >= 0 && !t->note[0]) {
        char nm[64];
        snprintf(t->note, sizeof t->note, "%s %s: element %ld changed %s (now %.6g)", op->name,
                 tg_node_name(t, i, nm, sizeof nm), e, op->choose ? "its choice" : "branch", s);
    }
    if (t->check_nan) check_tensor(t, op, &c.out, i);
}

double *tg_tensor_slot(tg_tape *t, uint32_t j, double *base, double *flags, int *fresh)
{
    const tg_node *nd = &t->nodes[j];
    if (!tg_node_is_tensor(nd)) return &flags[j];
    const tg_tensor *tt = tg_node_tensor(t, nd);
    if (flags[j] == 0.0) { /* first reached in this sweep: clear it, or let it be written */
        if (fresh) *fresh = 1;
        else memset(base + tt->off, 0, tt->n * sizeof *base);
        flags[j] = 1.0;
    }
    return base + tt->off;
}

/* An active elementwise node's kept partials, or NULL when its op's are not kept. */
static const double *ew_kept(const tg_tape *t, uint32_t i)
{
    size_t poff = tg_node_tensor(t, &t->nodes[i])->poff;
    return poff == TG_NONE_OFF ? NULL : t->tpart + poff;
}

int tg_tensor_vjp(tg_tape *t, uint32_t i)
{
    tg_op_ctx c;
    uint32_t idx[TG_MAX_ARITY];
    int n = node_ctx(t, i, &c, idx);
    const tg_op_def *op = t->nodes[i].op;
    c.gy = t->grad + tg_node_tensor(t, &t->nodes[i])->off;
    int fresh[TG_MAX_ARITY] = {0};
    for (int j = 0; j < n; j++) {
        const tg_node *in = &t->nodes[idx[j]];
        if (!(in->in[0] & TG_ACTIVE)) continue;
        /* an elementwise vjp writes each element of a tensor operand of the output's size
         * once, so if it reaches that operand first the region need not be zeroed */
        int whole = !op->infer && tg_node_is_tensor(in) && tg_node_tensor(t, in)->n == c.out.n;
        c.gin[j] = tg_tensor_slot(t, idx[j], t->grad, t->adj, whole ? &fresh[j] : NULL);
    }
    if (op->infer)
        op->vjp(&c);
    else /* an active elementwise node: its partials kept, or had from its operands */
        ew_vjp(op, &c, ew_kept(t, i), fresh);
    return TG_OK;
}

int tg_tensor_jvp(tg_tape *t, uint32_t i)
{
    tg_op_ctx c;
    uint32_t idx[TG_MAX_ARITY];
    int n = node_ctx(t, i, &c, idx), moving = 0;
    const tg_op_def *op = t->nodes[i].op;
    for (int j = 0; j < n; j++) {
        if (t->tan[idx[j]] == 0.0) continue; /* a scalar at rest, or a tensor not reached */
        c.din[j] = tg_node_is_tensor(&t->nodes[idx[j]])
                       ? t->tdat + tg_node_tensor(t, &t->nodes[idx[j]])->off
                       : &t->tan[idx[j]];
        moving = 1;
    }
    if (!moving) return TG_OK;
    if (op->infer && !op->jvp)
        return tg_fail(t, TG_ERR_UNSUPPORTED, "%s: no jvp kernel (forward mode is unsupported "
                       "for this op)", op->name);
    c.dy = tg_tensor_slot(t, i, t->tdat, t->tan, NULL);
    if (op->infer)
        op->jvp(&c);
    else
        ew_jvp(op, &c, ew_kept(t, i));
    return TG_OK;
}
