/* names.c - the expression language's two tables: names bound to nodes (tg_names) and user
 * definitions (tg_defs). Each is a uthash table for lookups plus an array for the order of
 * binding; all memory through one allocator hook. See LICENSE. */
#include <stdlib.h>
#include <string.h>

#include "workbench.h"

typedef struct wb_mem {
    tg_alloc_fn fn;
    void *ud;
} wb_mem;

static void *mem(const wb_mem *m, void *p, size_t osize, size_t nsize)
{
    return m->fn(m->ud, p, osize, nsize);
}

/* uthash allocates through the table's hook: each function using HASH_ADD names the hook
 * hash_mem and an out-of-memory flag hash_oom. */
#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) mem(hash_mem, NULL, 0, (sz))
#define uthash_free(p, sz) mem(hash_mem, (p), (sz), 0)
#define uthash_nonfatal_oom(obj) (hash_oom = 1)
#include <uthash.h>

static void *std_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
}

/* Grow *arr (of *cap elements of size elem) to hold need. 0, or -1 out of memory. */
static int grow(const wb_mem *m, void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 0;
    int ncap = *cap ? *cap * 2 : 8;
    if (ncap < need) ncap = need;
    void *q = mem(m, *arr, (size_t)*cap * elem, (size_t)ncap * elem);
    if (!q) return -1;
    *arr = q;
    *cap = ncap;
    return 0;
}

static char *copy(const wb_mem *m, const char *s, size_t len)
{
    char *c = mem(m, NULL, 0, len + 1);
    if (c) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
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

typedef struct name_entry {
    char *name;
    size_t len;
    tg_var v;
    UT_hash_handle hh;
} name_entry;

struct tg_names {
    wb_mem m;
    name_entry *table;
    name_entry **order;
    int n, cap;
};

tg_names *tg_names_new_with(tg_alloc_fn fn, void *ud)
{
    if (!fn) return NULL;
    tg_names *n = fn(ud, NULL, 0, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->m.fn = fn;
    n->m.ud = ud;
    return n;
}

tg_names *tg_names_new(void) { return tg_names_new_with(std_alloc, NULL); }

void tg_names_free(tg_names *n)
{
    if (!n) return;
    const wb_mem *hash_mem = &n->m;
    HASH_CLEAR(hh, n->table);
    for (int i = 0; i < n->n; i++) {
        mem(hash_mem, n->order[i]->name, n->order[i]->len + 1, 0);
        mem(hash_mem, n->order[i], sizeof *n->order[i], 0);
    }
    mem(hash_mem, n->order, (size_t)n->cap * sizeof *n->order, 0);
    wb_mem m = n->m;
    mem(&m, n, sizeof *n, 0);
}

static name_entry *names_lookup(const tg_names *n, const char *name, size_t len)
{
    name_entry *e = NULL;
    HASH_FIND(hh, n->table, name, len, e);
    return e;
}

int wb_names_find(const tg_names *n, const char *name, size_t len, tg_var *v)
{
    const name_entry *e = n ? names_lookup(n, name, len) : NULL;
    if (e) *v = e->v;
    return e != NULL;
}

tg_status tg_names_set(tg_names *n, const char *name, tg_var v)
{
    if (!n || !name) return TG_ERR_ARG;
    size_t len = strlen(name);
    if (!wb_is_name(name, len)) return TG_ERR_ARG;
    name_entry *e = names_lookup(n, name, len);
    if (e) {
        e->v = v;
        return TG_OK;
    }
    const wb_mem *hash_mem = &n->m;
    int hash_oom = 0;
    if (grow(&n->m, (void **)&n->order, &n->cap, n->n + 1, sizeof *n->order)) return TG_ERR_NOMEM;
    e = mem(&n->m, NULL, 0, sizeof *e);
    char *c = e ? copy(&n->m, name, len) : NULL;
    if (!c) {
        if (e) mem(&n->m, e, sizeof *e, 0);
        return TG_ERR_NOMEM;
    }
    memset(e, 0, sizeof *e);
    e->name = c;
    e->len = len;
    e->v = v;
    HASH_ADD_KEYPTR(hh, n->table, e->name, e->len, e);
    if (hash_oom) {
        mem(&n->m, c, len + 1, 0);
        mem(&n->m, e, sizeof *e, 0);
        return TG_ERR_NOMEM;
    }
    n->order[n->n++] = e;
    return TG_OK;
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
    return n && i >= 0 && i < n->n ? n->order[i]->name : NULL;
}

tg_var tg_names_var(const tg_names *n, int i)
{
    tg_var none = {NULL, TG_NONE, 0};
    return n && i >= 0 && i < n->n ? n->order[i]->v : none;
}

/* ---- definitions ---- */

typedef struct def_entry {
    wb_def d;
    UT_hash_handle hh;
} def_entry;

struct tg_defs {
    wb_mem m;
    def_entry *table;
    def_entry **order;
    int n, cap;
};

tg_defs *tg_defs_new_with(tg_alloc_fn fn, void *ud)
{
    if (!fn) return NULL;
    tg_defs *d = fn(ud, NULL, 0, sizeof *d);
    if (!d) return NULL;
    memset(d, 0, sizeof *d);
    d->m.fn = fn;
    d->m.ud = ud;
    return d;
}

tg_defs *tg_defs_new(void) { return tg_defs_new_with(std_alloc, NULL); }

static void def_free(const wb_mem *m, def_entry *e)
{
    mem(m, e->d.text, e->d.len + 1, 0);
    mem(m, e->d.name, strlen(e->d.name) + 1, 0);
    mem(m, e, sizeof *e, 0);
}

void tg_defs_free(tg_defs *d)
{
    if (!d) return;
    const wb_mem *hash_mem = &d->m;
    HASH_CLEAR(hh, d->table);
    for (int i = 0; i < d->n; i++) def_free(hash_mem, d->order[i]);
    mem(hash_mem, d->order, (size_t)d->cap * sizeof *d->order, 0);
    wb_mem m = d->m;
    mem(&m, d, sizeof *d, 0);
}

const wb_def *wb_defs_find(const tg_defs *d, const char *name, size_t len)
{
    def_entry *e = NULL;
    if (d) HASH_FIND(hh, d->table, name, len, e);
    return e ? &e->d : NULL;
}

const wb_def *wb_defs_at(const tg_defs *d, int i)
{
    return d && i >= 0 && i < d->n ? &d->order[i]->d : NULL;
}

tg_status wb_defs_insert(tg_defs *d, const wb_def *def, const char *text, size_t len,
                         const char *name, size_t name_len)
{
    const wb_mem *hash_mem = &d->m;
    int hash_oom = 0;
    if (grow(&d->m, (void **)&d->order, &d->cap, d->n + 1, sizeof *d->order)) return TG_ERR_NOMEM;
    def_entry *e = mem(&d->m, NULL, 0, sizeof *e);
    if (!e) return TG_ERR_NOMEM;
    memset(e, 0, sizeof *e);
    e->d = *def;
    e->d.text = copy(&d->m, text, len);
    e->d.name = e->d.text ? copy(&d->m, name, name_len) : NULL;
    if (!e->d.name) {
        if (e->d.text) mem(&d->m, e->d.text, len + 1, 0);
        mem(&d->m, e, sizeof *e, 0);
        return TG_ERR_NOMEM;
    }
    e->d.len = len;
    HASH_ADD_KEYPTR(hh, d->table, e->d.name, name_len, e);
    if (hash_oom) {
        def_free(&d->m, e);
        return TG_ERR_NOMEM;
    }
    d->order[d->n++] = e;
    return TG_OK;
}

int tg_defs_count(const tg_defs *d) { return d ? d->n : 0; }

const char *tg_defs_name(const tg_defs *d, int i)
{
    const wb_def *def = wb_defs_at(d, i);
    return def ? def->name : NULL;
}
