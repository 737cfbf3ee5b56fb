/* table.h - the library's one name table: NUL-terminated names to records of one size, every
 * byte through a tg_alloc_fn hook, running out of memory reported as TG_ERR_NOMEM. A tape's
 * labels, the expression language's names and definitions and the op registry use it; uthash
 * stays inside table.c. Never installed. See LICENSE. */
#ifndef TG_TABLE_H
#define TG_TABLE_H

#include <stddef.h>

#include "tapegrad.h"

typedef struct tg_table_entry tg_table_entry;

/* A table of records of one size, each under a distinct name. A record is zeroed when added,
 * aligned for any type, and stays where it is until deleted. All-zero is not a valid table:
 * tg_table_init it. */
typedef struct tg_table {
    tg_table_entry *head; /* table.c's */
    tg_alloc_fn alloc;
    void *ud;
    size_t size; /* of one record */
} tg_table;

/* An empty table of records of size bytes, allocating through fn(ud, ...). Allocates nothing. */
void tg_table_init(tg_table *tb, size_t size, tg_alloc_fn fn, void *ud);
/* Add name[0..len) (copied; it need not be NUL-terminated) with a zeroed record, into *rec.
 * TG_ERR_ARG if the name is taken (*rec is then its record), TG_ERR_NOMEM (the table is left
 * as it was). */
tg_status tg_table_add(tg_table *tb, const char *name, size_t len, void **rec);
/* The record of name[0..len), or NULL. */
void *tg_table_find(const tg_table *tb, const char *name, size_t len);
/* A record's name, NUL-terminated; it lives as long as the record. */
const char *tg_table_name(const void *rec);
/* Remove rec and free it with its name. */
void tg_table_delete(tg_table *tb, void *rec);
/* The record after rec in the order they were added (the first one when rec is NULL), or NULL
 * after the last. To delete while walking, take the next record before deleting. */
void *tg_table_next(const tg_table *tb, const void *rec);
size_t tg_table_count(const tg_table *tb);
/* Delete every record. The table then holds no memory: this is also how a table is finished. */
void tg_table_clear(tg_table *tb);

#endif
