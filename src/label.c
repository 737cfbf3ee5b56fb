/* label.c - a tape's node names ("z1[3]"): a name table (table.h) for lookups by name, and the
 * same entries in an array sorted by node, for naming a node in messages and reports. Entries
 * outlive tg_tape_reset, marked with the epoch that set them, so re-recording a labelled graph
 * after a reset finds its names already there and allocates nothing. See LICENSE. */
#include <string.h>

#include "internal.h"

/* ---- the entries in node order: by_node[0 .. nlabels) ---- */

/* The first position whose entry's node is not below node. */
static uint32_t lower(const tg_tape *t, uint32_t node)
{
    uint32_t lo = 0, hi = t->nlabels;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->by_node[mid]->node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Node i's entry (live or not), or NULL. */
static tg_label_entry *entry_at(const tg_tape *t, uint32_t i)
{
    uint32_t k = lower(t, i);
    return k < t->nlabels && t->by_node[k]->node == i ? t->by_node[k] : NULL;
}

static void unlist(tg_tape *t, const tg_label_entry *e)
{
    uint32_t k = lower(t, e->node);
    memmove(&t->by_node[k], &t->by_node[k + 1], (t->nlabels - k - 1) * sizeof *t->by_node);
    t->nlabels--;
}

/* List e (room reserved); labels are mostly set in node order, so this appends. */
static void list(tg_tape *t, tg_label_entry *e)
{
    uint32_t k = lower(t, e->node);
    memmove(&t->by_node[k + 1], &t->by_node[k], (t->nlabels - k) * sizeof *t->by_node);
    t->by_node[k] = e;
    t->nlabels++;
}

/* Room for one more entry in by_node: 0, or -1 out of memory (nothing changed). */
static int reserve(tg_tape *t)
{
    if (t->nlabels < t->labels_cap) return 0;
    uint32_t ncap = t->labels_cap ? 2 * t->labels_cap : 16; /* nlabels < TG_MAX_NODES */
    void *q = tg_mem(t, t->by_node, (size_t)t->labels_cap * sizeof *t->by_node,
                     (size_t)ncap * sizeof *t->by_node);
    if (!q) return -1;
    t->by_node = q;
    t->labels_cap = ncap;
    return 0;
}

/* ---- labels ---- */

static tg_label_entry *live_entry(const tg_tape *t, tg_label_entry *e)
{
    return e && e->epoch == t->epoch && e->node < t->n ? e : NULL;
}

static tg_label_entry *find_name(const tg_tape *t, const char *name)
{
    return tg_table_find(&t->labels, name, strlen(name));
}

void tg_label(tg_var v, const char *name)
{
    if (!tg_resolve(v, "tg_label")) return;
    tg_tape *t = v.tape;
    if (!name || !*name) {
        tg_fail(t, TG_ERR_ARG, "tg_label: the name is %s", name ? "empty" : "NULL");
        return;
    }
    tg_label_entry *named = find_name(t, name), *mine = entry_at(t, v.index);
    if (named && named == mine) { /* this node had this name: before a reset, or now */
        named->epoch = t->epoch;
        return;
    }
    if (live_entry(t, named)) {
        tg_fail(t, TG_ERR_ARG, "tg_label: name '%s' already labels node #%u", name, named->node);
        return;
    }
    /* What can fail comes first, so a failure leaves the labels as they were. A stale holder
     * of the name gives its entry to this node; else the name is added, and listed in the
     * place of this node's old name if it had one. */
    void *rec = named;
    if (!named && ((!mine && reserve(t)) ||
                   tg_table_add(&t->labels, name, strlen(name), &rec) != TG_OK)) {
        tg_fail(t, TG_ERR_NOMEM, "tg_label: out of memory naming node #%u '%s'", v.index, name);
        return;
    }
    if (named) unlist(t, named);
    if (mine) { /* this node's old name */
        unlist(t, mine);
        tg_table_delete(&t->labels, mine);
    }
    tg_label_entry *e = rec;
    *e = (tg_label_entry){.node = v.index, .epoch = t->epoch};
    list(t, e);
}

const char *tg_label_of(tg_var v)
{
    if (!v.tape || !tg_live(v.tape, v)) return NULL;
    tg_label_entry *e = live_entry(v.tape, entry_at(v.tape, v.index));
    return e ? tg_table_name(e) : NULL;
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
    tg_label_entry *e = live_entry(t, entry_at(t, i));
    if (e)
        snprintf(buf, size, "'%s'", tg_table_name(e));
    else
        snprintf(buf, size, "#%u", i);
    return buf;
}
