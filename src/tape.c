/* tape.c - the bottom layer: a tape's memory (every byte through its hook), lifecycle,
 * sticky error, handle checks and appending node records. The tape is a Wengert list:
 * records in the order they were computed. See LICENSE. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "internal.h"

/* ---- memory: every byte goes through the tape's hook ---- */

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
    tg_table_init(&t->labels, sizeof(tg_label_entry), fn, ud);
    return t;
}

tg_tape *tg_tape_new(void) { return tg_tape_new_with(tg_default_alloc, NULL); }

void tg_tape_free(tg_tape *t)
{
    if (!t) return;
    tg_table_clear(&t->labels);
    tg_mem(t, t->by_node, (size_t)t->labels_cap * sizeof *t->by_node, 0);
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
    tg_mem(t, t->kval, t->kval_cap * sizeof *t->kval, 0);
    tg_mem(t, t->kwork, t->kwork_cap * sizeof *t->kwork, 0);
    tg_mem(t, t->tpart, t->tpart_cap * sizeof *t->tpart, 0);
    tg_mem(t, t, sizeof *t, 0);
}

void tg_tape_reset(tg_tape *t)
{
    if (!t) return;
    t->n = t->next = t->nkinks = t->adj_n = t->tan_n = t->ntens = 0;
    t->data_n = t->kval_n = t->tpart_n = 0;
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
           (t->data_n + t->kval_n) * sizeof(double);
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

static tg_status vfail(tg_tape *t, tg_status s, const char *fmt, va_list ap)
{
    if (!t || t->status != TG_OK) return t ? t->status : s;
    t->status = s;
    t->room = 0;
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    return s;
}

tg_status tg_fail(tg_tape *t, tg_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s = vfail(t, s, fmt, ap);
    va_end(ap);
    return s;
}

tg_var tg_tape_fail(tg_tape *t, tg_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(t, s == TG_OK ? TG_ERR_ARG : s, fmt, ap);
    va_end(ap);
    return tg_err_var(t);
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

tg_node *tg_resolve_arg(tg_var v, const char *who, int k)
{
    if (!v.tape) return NULL;
    if (!tg_live(v.tape, v)) {
        bad_var(v, who, k);
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

/* ---- appending records ---- */

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
    return tg_node_put(&t->head, op, in0, in1, y);
}
