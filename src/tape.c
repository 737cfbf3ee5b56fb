/* tape.c - the tape's lifecycle, recording nodes (tg_apply), leaves and handle checks.
 * The tape is a Wengert list: records in the order they were computed. See LICENSE. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- memory: every byte goes through the tape's hook ---- */

static void *default_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
}

void *tg_mem(tg_tape *t, void *p, size_t osize, size_t nsize)
{
    return t->alloc(t->ud, p, osize, nsize);
}

/* Make room for need elements of size elem in *p (capacity *cap), doubling. 0 on success;
 * on failure sets TG_ERR_NOMEM and leaves *p as it was. */
int tg_grow_big(tg_tape *t, void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap *= 2;
    void *q = ncap <= SIZE_MAX / elem ? tg_mem(t, *p, *cap * elem, ncap * elem) : NULL;
    if (!q) {
        tg_fail(t, TG_ERR_NOMEM, "tape: out of memory growing to %zu entries of %zu bytes", ncap,
                elem);
        return -1;
    }
    *p = q;
    *cap = ncap;
    return 0;
}

/* The same for the node-indexed arrays, whose capacity is a uint32_t. */
int tg_grow(tg_tape *t, void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return 0;
    if (need > TG_MAX_NODES) {
        tg_fail(t, TG_ERR_NOMEM, "tape: more than %u entries", (unsigned)TG_MAX_NODES);
        return -1;
    }
    size_t c = *cap; /* doubling stays below 2 * TG_MAX_NODES, which a uint32_t holds */
    if (tg_grow_big(t, p, &c, need, elem)) return -1;
    *cap = (uint32_t)c;
    return 0;
}

/* ---- lifecycle ---- */

tg_tape *tg_tape_new_with(tg_alloc_fn fn, void *ud)
{
    if (!fn) return NULL;
    tg_tape *t = fn(ud, NULL, 0, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->alloc = fn;
    t->ud = ud;
    t->epoch = 1;
    tg_labels_init(t);
    return t;
}

tg_tape *tg_tape_new(void) { return tg_tape_new_with(default_alloc, NULL); }

void tg_tape_free(tg_tape *t)
{
    if (!t) return;
    tg_labels_clear(t);
    tg_mem(t, t->nodes, (size_t)t->cap * sizeof *t->nodes, 0);
    tg_mem(t, t->part, (size_t)t->part_cap * 2 * sizeof *t->part, 0);
    tg_mem(t, t->ext, (size_t)t->ext_cap * sizeof *t->ext, 0);
    tg_mem(t, t->pext, (size_t)t->pext_cap * sizeof *t->pext, 0);
    tg_mem(t, t->kinks, (size_t)t->kink_cap * sizeof *t->kinks, 0);
    tg_mem(t, t->adj, (size_t)t->adj_cap * sizeof *t->adj, 0);
    tg_mem(t, t->tan, (size_t)t->tan_cap * sizeof *t->tan, 0);
    tg_mem(t, t->tens, (size_t)t->tens_cap * sizeof *t->tens, 0);
    tg_mem(t, t->data, t->data_cap * sizeof *t->data, 0);
    tg_mem(t, t->grad, t->grad_cap * sizeof *t->grad, 0);
    tg_mem(t, t->tdat, t->tdat_cap * sizeof *t->tdat, 0);
    tg_mem(t, t->scratch, t->scratch_cap * sizeof *t->scratch, 0);
    tg_mem(t, t->ksign, t->ksign_cap * sizeof *t->ksign, 0);
    tg_mem(t, t->kwork, t->kwork_cap * sizeof *t->kwork, 0);
    tg_mem(t, t->tpart, t->tpart_cap * sizeof *t->tpart, 0);
    tg_mem(t, t, sizeof *t, 0);
}

void tg_tape_reset(tg_tape *t)
{
    if (!t) return;
    t->n = t->next = t->nkinks = t->adj_n = t->tan_n = t->ntens = 0;
    t->data_n = t->ksign_n = t->tpart_n = 0;
    t->epoch++;
    t->status = TG_OK;
    tg_set_room(t);
    t->msg[0] = t->note[0] = '\0';
}

size_t tg_tape_size(const tg_tape *t) { return t ? t->n : 0; }

size_t tg_tape_bytes(const tg_tape *t)
{
    if (!t) return 0;
    return (size_t)t->n * sizeof(tg_node) + (size_t)t->next * sizeof(uint32_t) +
           (size_t)t->nkinks * sizeof(tg_kink) + (size_t)t->ntens * sizeof(tg_tensor) +
           t->data_n * sizeof(double) + t->ksign_n;
}

size_t tg_tape_workspace_bytes(const tg_tape *t)
{
    if (!t) return 0;
    size_t tensors = (t->adj_n ? t->data_n : 0) + (t->tan_n ? t->data_n : 0);
    return (size_t)t->n * 2 * sizeof(double) + (size_t)t->next * sizeof(double) +
           ((size_t)t->adj_n + t->tan_n + tensors + t->tpart_n) * sizeof(double);
}

void tg_tape_check_nan(tg_tape *t, int on)
{
    if (!t) return;
    t->check_nan = on != 0;
    tg_set_room(t);
}

/* ---- errors ---- */

tg_status tg_fail(tg_tape *t, tg_status s, const char *fmt, ...)
{
    if (!t || t->status != TG_OK) return t ? t->status : s;
    t->status = s;
    t->room = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    return s;
}

const char *tg_tape_error(const tg_tape *t)
{
    if (!t) return "tape is NULL";
    return t->status != TG_OK ? t->msg : NULL;
}

tg_status tg_tape_status(const tg_tape *t) { return t ? t->status : TG_ERR_ARG; }

tg_var tg_err_var(tg_tape *t)
{
    tg_var v = {t, TG_NONE, t ? t->epoch : 0};
    return v;
}


/* Why a handle is not live, as the sticky error. who names the caller, k > 0 the operand;
 * for k = 0 the subject is "the handle" (the caller's only one). */
static tg_status bad_var(tg_var v, const char *who, int k)
{
    tg_tape *t = v.tape;
    char arg[24] = " the handle";
    if (k > 0) snprintf(arg, sizeof arg, " operand %d", k);
    if (v.epoch != t->epoch)
        return tg_fail(t, TG_ERR_STALE, "%s:%s is stale (recorded before tg_tape_reset)", who,
                       arg);
    if (v.index == TG_NONE)
        return t->status ? t->status
                         : tg_fail(t, TG_ERR_ARG, "%s:%s is not a node (a failed builder or lookup)",
                                   who, arg);
    return tg_fail(t, TG_ERR_ARG, "%s:%s is not a node of this tape (index %u of %u)", who, arg,
                   v.index, t->n);
}

tg_node *tg_resolve(tg_var v, const char *who)
{
    if (!v.tape) return NULL;
    if (!tg_live(v.tape, v)) {
        bad_var(v, who, 0);
        return NULL;
    }
    return &v.tape->nodes[v.index];
}

tg_node *tg_resolve_on(tg_tape *t, tg_var v, const char *who, const char *what)
{
    if (v.tape != t) {
        tg_fail(t, TG_ERR_TAPE, "%s: %s is from %s", who, what,
                v.tape ? "another tape" : "no tape (NULL)");
        return NULL;
    }
    return tg_resolve(v, who);
}

/* ---- recording ---- */

void tg_set_room(tg_tape *t)
{
    t->room = t->status || t->check_nan ? 0 : t->cap < t->part_cap ? t->cap : t->part_cap;
}

/* Make room for one more node (and its partials). */
int tg_reserve(tg_tape *t)
{
    if (t->n < t->cap && t->n < t->part_cap) return 0;
    if (tg_grow(t, (void **)&t->nodes, &t->cap, t->n + 1, sizeof *t->nodes) ||
        tg_grow(t, (void **)&t->part, &t->part_cap, t->n + 1, 2 * sizeof *t->part))
        return -1;
    tg_set_room(t);
    return 0;
}

tg_var tg_push(tg_tape *t, const tg_op_def *op, uint32_t in0, uint32_t in1, double y)
{
    if (tg_reserve(t)) return tg_err_var(t);
    tg_node *nd = &t->nodes[t->n];
    nd->op = op;
    nd->in[0] = in0;
    nd->in[1] = in1;
    nd->v = y;
    tg_var r = {t, t->n++, t->epoch};
    return r;
}

static tg_var record_leaf(tg_tape *t, const tg_op_def *kind, uint32_t act, double v)
{
    if (!t || t->status) return tg_err_var(t);
    if (t->n < t->room) {
        tg_node *nd = &t->nodes[t->n];
        *nd = (tg_node){kind, {act, (uint32_t)TG_LEAF << TG_KIND_SHIFT}, v};
        return (tg_var){t, t->n++, t->epoch};
    }
    return tg_push(t, kind, act, (uint32_t)TG_LEAF << TG_KIND_SHIFT, v);
}

tg_var tg_param(tg_tape *t, double v) { return record_leaf(t, &tg_leaf_param, TG_ACTIVE, v); }

tg_var tg_const(tg_tape *t, double v) { return record_leaf(t, &tg_leaf_const, 0, v); }

/* A tensor node where one number is wanted: its value slot if it holds one element, else
 * NULL with the error set. */
static double *one_value(tg_var v, const char *who)
{
    tg_node *nd = tg_resolve(v, who);
    if (!nd) return NULL;
    if (!tg_node_is_tensor(nd)) return &nd->v;
    tg_view w = tg_node_view(v.tape, v.index);
    if (w.n == 1) return w.x;
    char nm[64], sh[48];
    tg_fail(v.tape, TG_ERR_SHAPE, "%s: node %s is a tensor of shape %s, not a scalar (use %s)",
            who, tg_node_name(v.tape, v.index, nm, sizeof nm), tg_view_shape(&w, sh, sizeof sh),
            strcmp(who, "tg_set") ? "tg_data" : "tg_tensor_set");
    return NULL;
}

void tg_set(tg_var leaf, double v)
{
    tg_node *nd = tg_resolve(leaf, "tg_set");
    if (nd && nd->op == &tg_leaf_const && !tg_node_is_tensor(nd)) { /* an input changes */
        nd->v = v;
        return;
    }
    if (!nd) return;
    if (!tg_node_is_leaf(nd)) {
        char nm[64];
        tg_fail(leaf.tape, TG_ERR_ARG, "tg_set: node %s is a %s, not a leaf (only tg_param and "
                "tg_const nodes can be set)", tg_node_name(leaf.tape, leaf.index, nm, sizeof nm),
                nd->op->name);
        return;
    }
    if (tg_refuse_borrowed(leaf.tape, leaf.index, "tg_set")) return;
    double *x = one_value(leaf, "tg_set");
    if (x) *x = v;
}

double tg_value(tg_var v)
{
    if (v.tape && tg_live(v.tape, v) && !tg_node_is_tensor(&v.tape->nodes[v.index]))
        return v.tape->nodes[v.index].v;
    const double *x = one_value(v, "tg_value");
    return x ? *x : NAN;
}

/* Anomaly mode: name the op, the node and its inputs when a finite input gave NaN/Inf. */
void tg_report_nonfinite(tg_tape *t, const tg_op_def *op, int n, const double *x, double y,
                         uint32_t node)
{
    char in[160] = "", nm[64];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) return; /* propagated, not produced here */
        len += (size_t)snprintf(in + len, sizeof in - len, "%sx%d = %.17g", i ? ", " : "", i + 1,
                                x[i]);
        if (len >= sizeof in) break;
    }
    tg_fail(t, TG_ERR_DOMAIN, "%s: result is %g at node %s (%s)", op->name, y,
            tg_node_name(t, node, nm, sizeof nm), in);
}

tg_var tg_apply(const tg_op_def *op, int n, const tg_var *in)
{
    return tg_apply_attr(op, n, in, 0, NULL);
}

tg_var tg_apply_attr(const tg_op_def *op, int n, const tg_var *in, int nattr, const int *attr)
{
    if (!in || n < 1 || !in[0].tape) return tg_err_var(NULL);
    tg_tape *t = in[0].tape;
    if (t->status) return tg_err_var(t);
    if (!op || (!op->eval && !(op->infer && op->forward && op->vjp))) {
        tg_fail(t, TG_ERR_ARG, "tg_apply: op is NULL or has no eval kernel");
        return tg_err_var(t);
    }
    if (!tg_op_form_ok(op)) {
        tg_fail(t, TG_ERR_ARG, "%s: partials form %d is not TG_PARTIALS_KEPT, _CONST or _SWAP "
                "(with two operands)", op->name, op->partials);
        return tg_err_var(t);
    }
    if (nattr < 0 || nattr > TG_MAX_ATTR || (nattr > 0 && !attr)) {
        tg_fail(t, TG_ERR_ARG, "%s: %d attributes%s (at most %d)", op->name, nattr,
                nattr > 0 && !attr ? " but attr is NULL" : "", TG_MAX_ATTR);
        return tg_err_var(t);
    }
    if (n != op->arity || n > TG_MAX_ARITY) {
        if (n == op->arity)
            tg_fail(t, TG_ERR_ARG, "%s: %d operands, more than TG_MAX_ARITY (%d)", op->name, n,
                    TG_MAX_ARITY);
        else
            tg_fail(t, TG_ERR_ARG, "%s: takes %d operand%s, got %d", op->name, op->arity,
                    op->arity == 1 ? "" : "s", n);
        return tg_err_var(t);
    }
    double x[TG_MAX_ARITY];
    uint32_t idx[TG_MAX_ARITY] = {0, 0}, act = 0, tensor = 0;
    for (int i = 0; i < n; i++) {
        if (in[i].tape != t) {
            tg_fail(t, TG_ERR_TAPE, "%s: operand %d is from %s", op->name, i + 1,
                    in[i].tape ? "another tape" : "no tape (NULL)");
            return tg_err_var(t);
        }
        if (!tg_live(t, in[i])) {
            bad_var(in[i], op->name, i + 1);
            return tg_err_var(t);
        }
        const tg_node *a = &t->nodes[in[i].index];
        idx[i] = in[i].index;
        x[i] = a->v;
        act |= a->in[0] & TG_ACTIVE;
        tensor |= a->in[0] & TG_TENSOR;
    }
    if (tensor || op->infer || nattr > 0) return tg_apply_tensor(t, op, n, idx, act, nattr, attr);
    if (tg_reserve(t)) return tg_err_var(t);
    uint32_t in0 = idx[0], in1 = idx[1];
    double *dydx = &t->part[2 * (size_t)t->n];
    if (n > 2) {
        uint32_t need = t->next + (uint32_t)n;
        if (tg_grow(t, (void **)&t->ext, &t->ext_cap, need, sizeof *t->ext) ||
            tg_grow(t, (void **)&t->pext, &t->pext_cap, need, sizeof *t->pext))
            return tg_err_var(t);
        memcpy(t->ext + t->next, idx, (size_t)n * sizeof *idx);
        dydx = t->pext + t->next;
        in0 = t->next;
        in1 = 0;
        t->next = need;
    }
    if (op->branch && act) {
        if (tg_grow(t, (void **)&t->kinks, &t->kink_cap, t->nkinks + 1, sizeof *t->kinks))
            return tg_err_var(t);
        t->kinks[t->nkinks].node = t->n;
        t->kinks[t->nkinks].s = op->branch(x);
        t->nkinks++;
    }
    /* inactive nodes are never swept, so they need no partials */
    double y = op->eval(x, act && op->partials == TG_PARTIALS_KEPT ? dydx : NULL);
    if (t->check_nan && !isfinite(y)) {
        tg_report_nonfinite(t, op, n, x, y, t->n);
        if (t->status) return tg_err_var(t);
    }
    return tg_push(t, op, in0 | act, in1 | tg_kind_of_arity(n) << TG_KIND_SHIFT, y);
}

/* tg_apply for one and two operands: the descriptor is checked here (a user's op), then the
 * builders' inline path (internal.h) runs with its kernel called through the pointer. */
static int op_ok(const tg_op_def *op, int n)
{
    return op && op->arity == n && op->eval && !op->infer && !op->branch && tg_op_form_ok(op);
}

tg_var tg_apply1(const tg_op_def *op, tg_var a)
{
    if (!op_ok(op, 1)) return tg_apply(op, 1, &a);
    return tg_record1(op, op->eval, a);
}

tg_var tg_apply_pair(const tg_op_def *op, tg_var a, tg_var b)
{
    tg_var in[2] = {a, b};
    return tg_apply(op, 2, in);
}

tg_var tg_apply2(const tg_op_def *op, tg_var a, tg_var b)
{
    if (!op_ok(op, 2)) return tg_apply_pair(op, a, b);
    return tg_record2(op, op->eval, a, b);
}

/* Leaves are recorded with these descriptors; they are not in the registry. */
const tg_op_def tg_leaf_param = {.name = "param", .arity = 0};
const tg_op_def tg_leaf_const = {.name = "const", .arity = 0};
