/* workbench.h - what the workbench's files share (expr.c, names.c, describe.c, explain.c,
 * dot.c, formula.c): definition records, name lookups by length, node descriptions. Never
 * installed; src/internal.h stays the tape's. See LICENSE. */
#ifndef TG_WORKBENCH_H
#define TG_WORKBENCH_H

#include "internal.h"
#include "tapegrad_expr.h"

/* One definition "NAME(P1, ..., Pk) = BODY": the whole text is kept, so a body is parsed
 * again (into nodes) at each call and columns in messages are columns of the text. */
typedef struct wb_def {
    char *text;       /* NUL-terminated copy of the definition */
    size_t len;
    const char *name; /* NUL-terminated copy of NAME, held by the definitions' table */
    size_t body;      /* offset of BODY in text */
    int nparams;
    uint32_t poff[TG_DEF_MAX_PARAMS]; /* parameter k is text[poff[k] .. poff[k] + plen[k]) */
    uint32_t plen[TG_DEF_MAX_PARAMS];
} wb_def;

/* ---- names.c ---- */
/* The definition called name[0..len), or NULL. */
const wb_def *wb_defs_find(const tg_defs *d, const char *name, size_t len);
/* The i-th definition in the order added, or NULL. */
const wb_def *wb_defs_at(const tg_defs *d, int i);
/* Add a copy of *def whose text, name and offsets describe text[0..len) (copied). */
tg_status wb_defs_insert(tg_defs *d, const wb_def *def, const char *text, size_t len,
                         const char *name, size_t name_len);
/* Bind name[0..len) to v, as a program's step (step 1) or not: tg_names_set's rules. */
tg_status wb_names_bind(tg_names *n, const char *name, size_t len, tg_var v, int step);
/* 1 and *v when name[0..len) is bound in n, else 0. */
int wb_names_find(const tg_names *n, const char *name, size_t len, tg_var *v);
/* Whether s[0..len) is a NAME of the grammar: [A-Za-z_][A-Za-z0-9_]* ('[' [0-9]+ ']')? */
int wb_is_name(const char *s, size_t len);

/* A tensor node (the tensor issue's): its value is not inline, it has no scalar partials. */
static inline int wb_is_tensor(const tg_node *nd)
{
#ifdef TG_TENSOR
    return (nd->in[0] & TG_TENSOR) != 0;
#else
    (void)nd;
    return 0;
#endif
}

/* ---- describe.c ---- */
/* Node i of t in words, at most size - 1 characters (cut with "..."): its label; a constant's
 * value; else the expression that made it ("x*sigmoid(x)"), labelled inputs by name. */
const char *wb_describe(const tg_tape *t, uint32_t i, char *buf, size_t size);

#endif
