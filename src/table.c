/* table.c - the name table (table.h) on uthash, the one file that includes it. Each record is
 * one allocation: the hash handle, the record, then the name's copy, so adding a name costs
 * one block (plus the bucket array now and then) and deleting it frees one. See LICENSE. */
#include <limits.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "table.h"

/* uthash allocates through the table's hook: every function that adds or deletes names its
 * table tb, and the one that adds has an out-of-memory flag oom. */
#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) tb->alloc(tb->ud, NULL, 0, (sz))
#define uthash_free(p, sz) tb->alloc(tb->ud, (p), (sz), 0)
#define uthash_nonfatal_oom(obj) (oom = 1)
#include <uthash.h>

/* The name is hh.key (hh.keylen bytes and a NUL), stored after the record. */
struct tg_table_entry {
    UT_hash_handle hh;
};

/* Where the record starts in its block: after the entry, aligned for any type. */
#define REC_OFF \
    ((sizeof(tg_table_entry) + alignof(max_align_t) - 1) / alignof(max_align_t) * \
     alignof(max_align_t))

static void *rec_of(tg_table_entry *e) { return (char *)e + REC_OFF; }

/* The records are the caller's to change; a const pointer only says this call does not. */
static tg_table_entry *entry_of(const void *rec)
{
    return (tg_table_entry *)((const char *)rec - REC_OFF);
}

static size_t block_size(const tg_table *tb, size_t len) { return REC_OFF + tb->size + len + 1; }

void tg_table_init(tg_table *tb, size_t size, tg_alloc_fn fn, void *ud)
{
    tb->head = NULL;
    tb->alloc = fn;
    tb->ud = ud;
    tb->size = size;
}

void *tg_table_find(const tg_table *tb, const char *name, size_t len)
{
    tg_table_entry *e = NULL;
    if (len > UINT_MAX) return NULL;
    HASH_FIND(hh, tb->head, name, (unsigned)len, e);
    return e ? rec_of(e) : NULL;
}

tg_status tg_table_add(tg_table *tb, const char *name, size_t len, void **rec)
{
    void *held = tg_table_find(tb, name, len);
    if (held) {
        *rec = held;
        return TG_ERR_ARG;
    }
    *rec = NULL;
    if (len > UINT_MAX || len > SIZE_MAX - REC_OFF - tb->size - 1) return TG_ERR_NOMEM;
    size_t bytes = block_size(tb, len);
    tg_table_entry *e = tb->alloc(tb->ud, NULL, 0, bytes);
    if (!e) return TG_ERR_NOMEM;
    memset(e, 0, REC_OFF + tb->size);
    char *copy = (char *)rec_of(e) + tb->size;
    memcpy(copy, name, len);
    copy[len] = '\0';
    int oom = 0;
    HASH_ADD_KEYPTR(hh, tb->head, copy, (unsigned)len, e);
    if (oom) { /* uthash took it out again: the table is as it was */
        tb->alloc(tb->ud, e, bytes, 0);
        return TG_ERR_NOMEM;
    }
    *rec = rec_of(e);
    return TG_OK;
}

const char *tg_table_name(const void *rec) { return entry_of(rec)->hh.key; }

void tg_table_delete(tg_table *tb, void *rec)
{
    tg_table_entry *e = entry_of(rec);
    size_t bytes = block_size(tb, e->hh.keylen);
    HASH_DELETE(hh, tb->head, e); /* frees the buckets with the last entry */
    tb->alloc(tb->ud, e, bytes, 0);
}

void *tg_table_next(const tg_table *tb, const void *rec)
{
    tg_table_entry *e = rec ? entry_of(rec)->hh.next : tb->head;
    return e ? rec_of(e) : NULL;
}

size_t tg_table_count(const tg_table *tb) { return HASH_COUNT(tb->head); }

void tg_table_clear(tg_table *tb)
{
    tg_table_entry *e = tb->head;
    HASH_CLEAR(hh, tb->head); /* the buckets; the entries stay linked through hh.next */
    while (e) {
        tg_table_entry *next = e->hh.next;
        tb->alloc(tb->ud, e, block_size(tb, e->hh.keylen), 0);
        e = next;
    }
}
