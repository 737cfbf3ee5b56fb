/* alloc.c - the default allocator hook (tg_alloc_fn over realloc and free), for the objects
 * made by tg_tape_new, tg_registry_new, tg_names_new and tg_defs_new. See LICENSE. */
#include <stdlib.h>

#include "internal.h"

void *tg_default_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
}
