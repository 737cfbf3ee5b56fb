/* names.c - the expression language's two tables: names bound to nodes (tg_names) and user
 * definitions (tg_defs). Each is a name table (table.h) for lookups plus an array for the
 * order of binding; all memory through one allocator hook. See LICENSE. */
#include <stdlib.h>
#include <string.h>

#include "workbench.h"

/* The table's hook, for the memory beside it. */
static void *mem(const tg_table *tb, void *p, size_t osize, size_t nsize)
{
    return tb->alloc(tb->ud, p, osize, nsize);
}

/* Grow *arr (of *cap elements of size elem) to hold need. 0, or -1 out of memory. */
static int grow(const tg_table *tb, void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 0;
    int ncap = *cap ? *cap * 2 : 8;
    if (ncap < need) ncap = need;
    void *q = mem(tb, *arr, (size_t)*cap * elem, (size_t)ncap * elem);
    if (!q) return -1;
    *arr = q;
    *cap = ncap;
    return 0;
}

int wb_is_name(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0 || len > TG_NAME_MAX) return 0;
    if (!(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return 0;
    while (i < len && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
                       (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
        i++;
    if (i == len) return 1;
    if (s[i] != '[' || s[len - 1] != ']' || len - i < 3) return 0;
    for (size_t k = i + 1; k + 1 < len; k++)
        if (s[k] < '0' || s[k] > '9') return 0;
    return 1;
}

/* ---- names ---- */

/* A name's record is the node it is bound to, and whether a program's statement assigned it;
 * the table keeps the name. */
typedef struct binding {
    tg_var v;
    int step;
} binding;

struct tg_names {
    tg_table table;
    binding **order; /* the records in the order bound */
    int n, cap;
};

tg_names *tg_names_new_with(tg_alloc_fn fn, void *ud)
{
    if (!fn) return NULL;
    tg_names *n = fn(ud, NULL, 0, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    tg_table_init(&n->table, sizeof(binding), fn, ud);
    return n;
}

tg_names *tg_names_new(void) { return tg_names_new_with(tg_default_alloc, NULL); }

void tg_names_free(tg_names *n)
{
    if (!n) return;
    tg_table tb = n->table;
    mem(&tb, n->order, (size_t)n->cap * sizeof *n->order, 0);
    tg_table_clear(&tb);
    mem(&tb, n, sizeof *n, 0);
}

int wb_names_find(const tg_names *n, const char *name, size_t len, tg_var *v)
{
    const binding *rec = n ? tg_table_find(&n->table, name, len) : NULL;
    if (rec) *v = rec->v;
    return rec != NULL;
}

tg_status wb_names_bind(tg_names *n, const char *name, size_t len, tg_var v, int step)
{
    if (!n || !name || !wb_is_name(name, len)) return TG_ERR_ARG;
    binding *rec = tg_table_find(&n->table, name, len);
    if (!rec) {
        void *p;
        if (grow(&n->table, (void **)&n->order, &n->cap, n->n + 1, sizeof *n->order) ||
            tg_table_add(&n->table, name, len, &p) != TG_OK)
            return TG_ERR_NOMEM;
        rec = p;
        n->order[n->n++] = rec;
    }
    rec->v = v;
    rec->step = step;
    return TG_OK;
}

tg_status tg_names_set(tg_names *n, const char *name, tg_var v)
{
    return wb_names_bind(n, name, name ? strlen(name) : 0, v, 0);
}

tg_var tg_names_get(const tg_names *n, const char *name)
{
    tg_var v = {NULL, TG_NONE, 0};
    if (n && name) wb_names_find(n, name, strlen(name), &v);
    return v;
}

int tg_names_count(const tg_names *n) { return n ? n->n : 0; }

const char *tg_names_name(const tg_names *n, int i)
{
    return n && i >= 0 && i < n->n ? tg_table_name(n->order[i]) : NULL;
}

tg_var tg_names_var(const tg_names *n, int i)
{
    tg_var none = {NULL, TG_NONE, 0};
    return n && i >= 0 && i < n->n ? n->order[i]->v : none;
}

int tg_names_is_step(const tg_names *n, int i)
{
    return n && i >= 0 && i < n->n && n->order[i]->step;
}

/* ---- definitions ---- */

/* A definition's record is its wb_def, whose name is the table's copy. */
struct tg_defs {
    tg_table table;
    wb_def **order; /* the records in the order defined */
    int n, cap;
};

tg_defs *tg_defs_new_with(tg_alloc_fn fn, void *ud)
{
    if (!fn) return NULL;
    tg_defs *d = fn(ud, NULL, 0, sizeof *d);
    if (!d) return NULL;
    memset(d, 0, sizeof *d);
    tg_table_init(&d->table, sizeof(wb_def), fn, ud);
    return d;
}

tg_defs *tg_defs_new(void) { return tg_defs_new_with(tg_default_alloc, NULL); }

void tg_defs_free(tg_defs *d)
{
    if (!d) return;
    tg_table tb = d->table;
    for (int i = 0; i < d->n; i++) mem(&tb, d->order[i]->text, d->order[i]->len + 1, 0);
    mem(&tb, d->order, (size_t)d->cap * sizeof *d->order, 0);
    tg_table_clear(&tb);
    mem(&tb, d, sizeof *d, 0);
}

const wb_def *wb_defs_find(const tg_defs *d, const char *name, size_t len)
{
    return d ? tg_table_find(&d->table, name, len) : NULL;
}

const wb_def *wb_defs_at(const tg_defs *d, int i)
{
    return d && i >= 0 && i < d->n ? d->order[i] : NULL;
}

tg_status wb_defs_insert(tg_defs *d, const wb_def *def, const char *text, size_t len,
                         const char *name, size_t name_len)
{
    if (grow(&d->table, (void **)&d->order, &d->cap, d->n + 1, sizeof *d->order))
        return TG_ERR_NOMEM;
    char *copy = mem(&d->table, NULL, 0, len + 1);
    if (!copy) return TG_ERR_NOMEM;
    void *p;
    tg_status st = tg_table_add(&d->table, name, name_len, &p);
    if (st != TG_OK) {
        mem(&d->table, copy, len + 1, 0);
        return st;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    wb_def *rec = p;
    *rec = *def;
    rec->text = copy;
    rec->len = len;
    rec->name = tg_table_name(rec);
    d->order[d->n++] = rec;
    return TG_OK;
}

int tg_defs_count(const tg_defs *d) { return d ? d->n : 0; }

const char *tg_defs_name(const tg_defs *d, int i)
{
    const wb_def *def = wb_defs_at(d, i);
    return def ? def->name : NULL;
}
