/* registry.c - op names to descriptors: the built-in list (alphabetical, read-only),
 * registries users extend with their own ops (a name table for lookups, an array in name
 * order for walking), and the one check of a descriptor, tg_op_validate. See LICENSE. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The built-in ops. Adding an op: its file in ops/, one line here, one in tapegrad.h. */
static const tg_op_def *const builtins[] = {
    &tg_op_abs,
    &tg_op_add,
    &tg_op_atan,
    &tg_op_atan_d1,
    &tg_op_atan_d2,
    &tg_op_bce_with_logits,
    &tg_op_clamp,
    &tg_op_cos,
    &tg_op_cross_entropy,
    &tg_op_div,
    &tg_op_erf,
    &tg_op_erf_d1,
    &tg_op_erf_d2,
    &tg_op_exp,
    &tg_op_expm1,
    &tg_op_ge,
    &tg_op_gelu,
    &tg_op_gelu_d1,
    &tg_op_gelu_d2,
    &tg_op_gt,
    &tg_op_le,
    &tg_op_leaky_relu,
    &tg_op_log,
    &tg_op_log1p,
    &tg_op_log_softmax,
    &tg_op_logsumexp,
    &tg_op_lt,
    &tg_op_matmul,
    &tg_op_max,
    &tg_op_maximum,
    &tg_op_minimum,
    &tg_op_mse,
    &tg_op_mul,
    &tg_op_mul0,
    &tg_op_neg,
    &tg_op_normcdf,
    &tg_op_normpdf,
    &tg_op_normpdf_d1,
    &tg_op_normpdf_d2,
    &tg_op_one_hot,
    &tg_op_pow,
    &tg_op_pow_da,
    &tg_op_pow_dab,
    &tg_op_pow_db,
    &tg_op_relu,
    &tg_op_reshape,
    &tg_op_sigmoid,
    &tg_op_sigmoid_d1,
    &tg_op_sign,
    &tg_op_silu,
    &tg_op_silu_d1,
    &tg_op_silu_d2,
    &tg_op_sin,
    &tg_op_slice,
    &tg_op_softmax,
    &tg_op_softplus,
    &tg_op_sqrt,
    &tg_op_step,
    &tg_op_sub,
    &tg_op_sum,
    &tg_op_tan,
    &tg_op_tanh,
    &tg_op_tanh_d1,
    &tg_op_tanh_d2,
    &tg_op_transpose,
    &tg_op_where,
};
#define NBUILTINS ((int)(sizeof builtins / sizeof builtins[0]))

/* ---- checking a descriptor ---- */

tg_status tg_op_validate(const tg_op_def *op, char *msg, size_t size)
{
    char none[1];
    if (size == 0) { /* no room for a message: write it nowhere */
        msg = none;
        size = sizeof none;
    }
    if (!op) {
        snprintf(msg, size, "op is NULL");
        return TG_ERR_ARG;
    }
    if (!op->name || !*op->name) {
        snprintf(msg, size, "the op's name is %s", op->name ? "empty" : "NULL");
        return TG_ERR_ARG;
    }
    if (op->arity < 1 || op->arity > TG_MAX_ARITY) {
        snprintf(msg, size, "op '%.64s' has arity %d, outside 1..%d", op->name, op->arity,
                 TG_MAX_ARITY);
        return TG_ERR_ARG;
    }
    if (!op->eval && !(op->infer && op->forward && op->vjp)) {
        const char *kernel[3] = {"infer", "forward", "vjp"};
        const int has[3] = {op->infer != NULL, op->forward != NULL, op->vjp != NULL};
        char missing[32] = "";
        for (int i = 0; i < 3; i++) {
            if (has[i]) continue;
            if (missing[0]) strcat(missing, ", ");
            strcat(missing, kernel[i]);
        }
        snprintf(msg, size, "op '%.64s' has no eval and no %s (it needs eval, or infer, forward "
                 "and vjp)", op->name, missing);
        return TG_ERR_ARG;
    }
    if (op->partials != TG_PARTIALS_KEPT && op->partials != TG_PARTIALS_CONST &&
        op->partials != TG_PARTIALS_SWAP) {
        snprintf(msg, size, "op '%.64s' has partials form %d, not TG_PARTIALS_KEPT, _CONST or "
                 "_SWAP", op->name, op->partials);
        return TG_ERR_ARG;
    }
    if (op->partials == TG_PARTIALS_SWAP && op->arity != 2) {
        snprintf(msg, size, "op '%.64s' has partials form TG_PARTIALS_SWAP and arity %d (the "
                 "product of two operands needs arity 2)", op->name, op->arity);
        return TG_ERR_ARG;
    }
    if (op->check && op->infer) {
        snprintf(msg, size, "op '%.64s' has a check kernel and infer (check is for elementwise "
                 "ops; infer checks a tensor op's operands)", op->name);
        return TG_ERR_ARG;
    }
    msg[0] = '\0';
    return TG_OK;
}

/* ---- registries ---- */

/* The table's records are descriptor pointers; ops[] holds them again in name order. */
struct tg_registry {
    tg_table table;
    const tg_op_def **ops;
    int n, cap;
    char msg[200]; /* the last tg_op_register's refusal, or "" */
};

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

tg_registry *tg_registry_new(void) { return tg_registry_new_with(tg_default_alloc, NULL); }

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

/* Set the last refusal's message and return s. */
#ifdef __GNUC__
__attribute__((format(printf, 3, 4)))
#endif
static tg_status refuse(tg_registry *r, tg_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return s;
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

/* Room for one more op in r->ops: 0, or -1 out of memory (nothing changed). */
static int reserve(tg_registry *r)
{
    if (r->n < r->cap) return 0;
    if (r->cap > INT_MAX / 2) return -1;
    int ncap = 2 * r->cap;
    void *q = mem(r, r->ops, (size_t)r->cap * sizeof *r->ops, (size_t)ncap * sizeof *r->ops);
    if (!q) return -1;
    r->ops = q;
    r->cap = ncap;
    return 0;
}

tg_status tg_op_register(tg_registry *r, const tg_op_def *op)
{
    if (!r) return TG_ERR_ARG;
    char why[sizeof r->msg - 32];
    if (tg_op_validate(op, why, sizeof why) != TG_OK)
        return refuse(r, TG_ERR_ARG, "tg_op_register: %s", why);
    const tg_op_def *held = tg_registry_find(r, op->name);
    if (held == op)
        return refuse(r, TG_ERR_ARG, "tg_op_register: the name '%.64s' is taken (this "
                      "descriptor is registered already)", op->name);
    if (held) return refuse(r, TG_ERR_ARG, "tg_op_register: the name '%.64s' is taken", op->name);
    if (reserve(r) || add_name(r, op) != TG_OK)
        return refuse(r, TG_ERR_NOMEM, "tg_op_register: out of memory adding op '%.64s'",
                      op->name);
    int k = lower(r, op->name);
    memmove(&r->ops[k + 1], &r->ops[k], (size_t)(r->n - k) * sizeof *r->ops);
    r->ops[k] = op;
    r->n++;
    r->msg[0] = '\0';
    return TG_OK;
}

const char *tg_registry_error(const tg_registry *r)
{
    if (!r) return "registry is NULL";
    return r->msg[0] ? r->msg : NULL;
}

int tg_registry_count(const tg_registry *r) { return r ? r->n : NBUILTINS; }

const tg_op_def *tg_registry_at(const tg_registry *r, int i)
{
    if (i < 0 || i >= tg_registry_count(r)) return NULL;
    return r ? r->ops[i] : builtins[i];
}
