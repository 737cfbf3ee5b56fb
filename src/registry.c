/* registry.c - op names to descriptors: the built-in list (alphabetical, read-only) and
 * registries users extend with their own ops (a uthash table keyed by name). See LICENSE. */
#include <stdio.h>
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

/* A registry allocates with plain malloc/free; out of memory is reported, never fatal. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_oom = 1)
#include <uthash.h>

typedef struct entry {
    const tg_op_def *op;
    UT_hash_handle hh;
} entry;

struct tg_registry {
    entry *table;
};

static int by_name(const entry *a, const entry *b) { return strcmp(a->op->name, b->op->name); }

static tg_status add(tg_registry *r, const tg_op_def *op)
{
    int hash_oom = 0;
    entry *e = malloc(sizeof *e);
    if (!e) return TG_ERR_NOMEM;
    e->op = op;
    HASH_ADD_KEYPTR(hh, r->table, op->name, strlen(op->name), e);
    if (hash_oom) {
        free(e);
        return TG_ERR_NOMEM;
    }
    HASH_SRT(hh, r->table, by_name);
    return TG_OK;
}

tg_registry *tg_registry_new(void)
{
    tg_registry *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    for (int i = 0; i < NBUILTINS; i++) {
        if (add(r, builtins[i]) != TG_OK) {
            tg_registry_free(r);
            return NULL;
        }
    }
    return r;
}

void tg_registry_free(tg_registry *r)
{
    if (!r) return;
    entry *e, *tmp;
    HASH_ITER(hh, r->table, e, tmp)
    {
        HASH_DEL(r->table, e);
        free(e);
    }
    free(r);
}

static int cmp_builtin(const void *key, const void *elt)
{
    return strcmp(key, (*(const tg_op_def *const *)elt)->name);
}

const tg_op_def *tg_registry_find(const tg_registry *r, const char *name)
{
    if (!name) return NULL;
    if (!r) {
        const tg_op_def *const *p =
            bsearch(name, builtins, NBUILTINS, sizeof builtins[0], cmp_builtin);
        return p ? *p : NULL;
    }
    entry *e = NULL;
    HASH_FIND_STR(r->table, name, e);
    return e ? e->op : NULL;
}

tg_status tg_op_validate(const tg_op_def *op, char *msg, size_t size)
{
    const char *why = !op ? "op is NULL"
                      : !op->name || !*op->name ? "op has no name"
                      : !op->eval && !(op->infer && op->forward && op->vjp)
                          ? "op has neither eval nor infer, forward and vjp"
                      : op->arity < 1 || op->arity > TG_MAX_ARITY ? "op's arity is outside 1..4"
                      : !(op->partials == TG_PARTIALS_KEPT || op->partials == TG_PARTIALS_CONST ||
                          (op->partials == TG_PARTIALS_SWAP && op->arity == 2))
                          ? "op's partials form is not KEPT, CONST or SWAP (two operands)"
                          : NULL;
    if (!why) return TG_OK;
    snprintf(msg, size, "%s", why);
    return TG_ERR_ARG;
}

tg_status tg_op_register(tg_registry *r, const tg_op_def *op)
{
    char why[160];
    if (!r || tg_op_validate(op, why, sizeof why)) return TG_ERR_ARG;
    if (tg_registry_find(r, op->name)) return TG_ERR_ARG;
    return add(r, op);
}

int tg_registry_count(const tg_registry *r)
{
    return r ? (int)HASH_COUNT(r->table) : NBUILTINS;
}

const tg_op_def *tg_registry_at(const tg_registry *r, int i)
{
    if (i < 0 || i >= tg_registry_count(r)) return NULL;
    if (!r) return builtins[i];
    const entry *e = r->table;
    while (i-- > 0) e = e->hh.next;
    return e->op;
}
