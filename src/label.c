/* label.c - a tape's node names ("z1[3]"): two uthash tables over one set of entries, by node
 * index (for messages and reports) and by name (for lookups). Entries outlive tg_tape_reset,
 * marked with the epoch that set them, so re-recording a labelled graph after a reset finds
 * its names already there and allocates nothing. See LICENSE. */
#include <string.h>

#include "internal.h"

/* uthash allocates through the tape's hook; each function using HASH_ADD names the tape
 * hash_tape and an out-of-memory flag hash_oom. */
#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) tg_mem(hash_tape, NULL, 0, (sz))
#define uthash_free(p, sz) tg_mem(hash_tape, (p), (sz), 0)
#define uthash_nonfatal_oom(obj) (hash_oom = 1)
#include <uthash.h>

struct tg_label_entry {
    uint32_t node;
    uint32_t epoch; /* live while it equals the tape's */
    size_t len;
    char *name;
    UT_hash_handle hi, hn;
};

static void entry_free(tg_tape *t, tg_label_entry *e)
{
    tg_mem(t, e->name, e->len + 1, 0);
    tg_mem(t, e, sizeof *e, 0);
}

void tg_labels_clear(tg_tape *t)
{
    tg_tape *hash_tape = t;
    tg_label_entry *e, *tmp;
    HASH_ITER(hi, t->by_index, e, tmp)
    {
        HASH_DELETE(hi, t->by_index, e);
        HASH_DELETE(hn, t->by_name, e);
        entry_free(t, e);
    }
}

static tg_label_entry *find_index(const tg_tape *t, uint32_t i)
{
    tg_label_entry *e = NULL;
    HASH_FIND(hi, t->by_index, &i, sizeof i, e);
    return e;
}

static tg_label_entry *find_name(const tg_tape *t, const char *name)
{
    tg_label_entry *e = NULL;
    HASH_FIND(hn, t->by_name, name, strlen(name), e);
    return e;
}

static tg_label_entry *live_entry(const tg_tape *t, tg_label_entry *e)
{
    return e && e->epoch == t->epoch && e->node < t->n ? e : NULL;
}

static void entry_drop(tg_tape *t, tg_label_entry *e)
{
    tg_tape *hash_tape = t;
    HASH_DELETE(hi, t->by_index, e);
    HASH_DELETE(hn, t->by_name, e);
    entry_free(t, e);
}

void tg_label(tg_var v, const char *name)
{
    if (!tg_resolve(v, "tg_label")) return;
    tg_tape *t = v.tape, *hash_tape = t;
    int hash_oom = 0;
    if (!name || !*name) {
        tg_fail(t, TG_ERR_ARG, "tg_label: the name is %s", name ? "empty" : "NULL");
        return;
    }
    tg_label_entry *named = find_name(t, name), *mine = find_index(t, v.index);
    if (named && named == mine) { /* this node had this name: before a reset, or now */
        named->epoch = t->epoch;
        return;
    }
    if (live_entry(t, named)) {
        tg_fail(t, TG_ERR_ARG, "tg_label: name '%s' already labels node #%u", name, named->node);
        return;
    }
    tg_label_entry *e = tg_mem(t, NULL, 0, sizeof *e);
    size_t len = strlen(name);
    char *copy = e ? tg_mem(t, NULL, 0, len + 1) : NULL;
    if (!copy) {
        if (e) tg_mem(t, e, sizeof *e, 0);
        tg_fail(t, TG_ERR_NOMEM, "tg_label: out of memory naming node #%u '%s'", v.index, name);
        return;
    }
    /* the name's stale holder and this node's old name give way to the new entry */
    if (named) entry_drop(t, named);
    if (mine) entry_drop(t, mine);
    memcpy(copy, name, len + 1);
    *e = (tg_label_entry){.node = v.index, .epoch = t->epoch, .len = len, .name = copy};
    HASH_ADD(hi, t->by_index, node, sizeof e->node, e);
    if (!hash_oom) HASH_ADD_KEYPTR(hn, t->by_name, e->name, e->len, e);
    if (hash_oom) {
        if (e->hi.tbl) HASH_DELETE(hi, t->by_index, e);
        entry_free(t, e);
        tg_fail(t, TG_ERR_NOMEM, "tg_label: out of memory naming node #%u '%s'", v.index, name);
    }
}

const char *tg_label_of(tg_var v)
{
    if (!v.tape || !tg_live(v.tape, v)) return NULL;
    tg_label_entry *e = live_entry(v.tape, find_index(v.tape, v.index));
    return e ? e->name : NULL;
}

tg_var tg_tape_find(tg_tape *t, const char *name)
{
    tg_var v = tg_err_var(t);
    tg_label_entry *e = t && name ? live_entry(t, find_name(t, name)) : NULL;
    if (e) v.index = e->node;
    return v;
}

const char *tg_node_name(const tg_tape *t, uint32_t i, char *buf, size_t size)
{
    tg_label_entry *e = live_entry(t, find_index(t, i));
    if (e)
        snprintf(buf, size, "'%s'", e->name);
    else
        snprintf(buf, size, "#%u", i);
    return buf;
}
