/* registry.c - op names to descriptors: the built-in list (alphabetical, read-only) and
 * registries users extend with their own ops (a name table for lookups, an array in name
 * order for walking). See LICENSE. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The built-in ops. Adding an op: its file in ops/, one line here, one in tapegrad.h. */
static const tg_op_def *const builtins[] = {
    &tg_op_abs,
    &tg_op_add,
    &tg_op_bce_with_logits,
    &tg_op_cos,
    &tg_op_cross_entropy,
    &tg_op_div,
    &tg_op_exp,
    &tg_op_gelu,
    &tg_op_leaky_relu,
    &tg_op_log,
    &tg_op_log_softmax,
    &tg_op_matmul,
    &tg_op_max,
    &tg_op_mse,
    &tg_op_mul,
    &tg_op_neg,
    &tg_op_normcdf,
    &tg_op_normpdf,
    &tg_op_pow,
    &tg_op_relu,
    &tg_op_reshape,
    &tg_op_sigmoid,
    &tg_op_silu,
    &tg_op_sin,
    &tg_op_slice,
    &tg_op_softmax,
    &tg_op_softplus,
    &tg_op_sqrt,
    &tg_op_step,
    &tg_op_sub,
    &tg_op_sum,
    &tg_op_tanh,
    &tg_op_transpose,
    &tg_op_where,
};
#define NBUILTINS ((int)(sizeof builtins / sizeof builtins[0]))

/* ---- registries ---- */

/* The table's records are descriptor pointers; ops[] holds them again in name order. */
struct tg_registry {
    tg_table table;
    const tg_op_def **ops;
    int n, cap;
};

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

static void *mem(tg_registry *r, void *p, size_t osize, size_t nsize)
{
    return r->table.alloc(r->table.ud, p, osize, nsize);
}

static tg_status add_name(tg_registry *r, const tg_op_def *op)
{
    void *rec;
    tg_status st = tg_table_add(&r->table, op->name, strlen(op->name), &rec);
    if (st == TG_OK) *(const tg_op_def **)rec = op;
    return st;
}

tg_registry *tg_registry_new_with(tg_alloc_fn fn, void *ud)
{
    if (!fn) return NULL;
    tg_registry *r = fn(ud, NULL, 0, sizeof *r);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    tg_table_init(&r->table, sizeof(const tg_op_def *), fn, ud);
    /* the built-ins are already in name order: one copy, no insertions */
    r->ops = mem(r, NULL, 0, sizeof builtins);
    if (!r->ops) {
        tg_registry_free(r);
        return NULL;
    }
    memcpy(r->ops, builtins, sizeof builtins);
    r->n = r->cap = NBUILTINS;
    for (int i = 0; i < NBUILTINS; i++) {
        if (add_name(r, builtins[i]) != TG_OK) {
            tg_registry_free(r);
            return NULL;
        }
    }
    return r;
}

tg_registry *tg_registry_new(void) { return tg_registry_new_with(default_alloc, NULL); }

void tg_registry_free(tg_registry *r)
{
    if (!r) return;
    tg_table tb = r->table;
    mem(r, r->ops, (size_t)r->cap * sizeof *r->ops, 0);
    tg_table_clear(&tb);
    tb.alloc(tb.ud, r, sizeof *r, 0);
}

static int cmp_builtin(const void *key, const void *elt)
{
    return strcmp(key, (*(const tg_op_def *const *)elt)->name);
}

static const tg_op_def *find_builtin(const char *name)
{
    const tg_op_def *const *p = bsearch(name, builtins, NBUILTINS, sizeof builtins[0], cmp_builtin);
    return p ? *p : NULL;
}

const tg_op_def *tg_registry_find(const tg_registry *r, const char *name)
{
    if (!name) return NULL;
    if (!r) return find_builtin(name);
    const tg_op_def *const *rec = tg_table_find(&r->table, name, strlen(name));
    return rec ? *rec : NULL;
}

/* The first position in r->ops whose name is not below name. */
static int lower(const tg_registry *r, const char *name)
{
    int lo = 0, hi = r->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(r->ops[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

tg_status tg_op_register(tg_registry *r, const tg_op_def *op)
{
    if (!r || !op || !op->name || !*op->name ||
        (!op->eval && !(op->infer && op->forward && op->vjp)) ||
        op->arity < 1 || op->arity > TG_MAX_ARITY || !tg_op_form_ok(op))
        return TG_ERR_ARG;
    if (tg_registry_find(r, op->name)) return TG_ERR_ARG;
    if (r->n == r->cap) {
        if (r->cap > INT_MAX / 2) return TG_ERR_NOMEM;
        int ncap = 2 * r->cap;
        void *q = mem(r, r->ops, (size_t)r->cap * sizeof *r->ops, (size_t)ncap * sizeof *r->ops);
        if (!q) return TG_ERR_NOMEM;
        r->ops = q;
        r->cap = ncap;
    }
    if (add_name(r, op) != TG_OK) return TG_ERR_NOMEM;
    int k = lower(r, op->name);
    memmove(&r->ops[k + 1], &r->ops[k], (size_t)(r->n - k) * sizeof *r->ops);
    r->ops[k] = op;
    r->n++;
    return TG_OK;
}

int tg_registry_count(const tg_registry *r) { return r ? r->n : NBUILTINS; }

const tg_op_def *tg_registry_at(const tg_registry *r, int i)
{
    if (i < 0 || i >= tg_registry_count(r)) return NULL;
    return r ? r->ops[i] : builtins[i];
}
