/* emit.c - C source from a recorded tape: the first half of the tape compiler (compile.c
 * builds and loads what this writes) and the standalone emitter, tg_emit_c.
 *
 * What is written for an output node out, over the nodes out depends on (its cone):
 *   - every op used, once, as a static function: its descriptor's code text (TG_EVAL), the
 *     body the library's own eval has, so compiled values and partials are the library's;
 *     an op without code (a user's) is called through its descriptor's eval, from a table
 *     the module is given when it is loaded (tg_compile only);
 *   - the forward values, one line per node in tape order, named after the tape's labels;
 *   - the reverse sweep, one accumulator d_v = dOUT/dv per node, the contributions added in
 *     exactly the order the library's reverse loop adds them (consumers from the last one
 *     down; a binary op's second operand before its first), so the sums round alike. The
 *     loop passes nothing back from a node whose adjoint is 0 (0 * inf would make NaN);
 *     tg_back does the same per contribution, which is the same sum because a zero passed
 *     on adds nothing to a sum but the sign of a zero. The loop carries the share node i
 *     passes to node i-1 in a register and adds it last: one contribution lands the same
 *     either way, two (x*x) are grouped as the loop groups them;
 *   - elementwise tensor nodes as loops, other tensor nodes as calls of the library's own
 *     steps (a module only; the standalone emitter writes scalar code).
 * See LICENSE. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- a growing string on the tape's allocator ---- */

void tg_buf_printf(tg_buf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap <= b->n + (size_t)k) ncap *= 2;
        char *s = tg_mem(b->t, b->s, b->cap, ncap);
        if (!s) {
            b->oom = 1;
            tg_fail(b->t, TG_ERR_NOMEM, "tg_compile: out of memory writing the source");
            return;
        }
        b->s = s;
        b->cap = ncap;
    }
}

void tg_buf_free(tg_buf *b)
{
    if (b->s) tg_mem(b->t, b->s, b->cap, 0);
    b->s = NULL;
    b->n = b->cap = 0;
}

/* A double as a C literal that reads back to the same bits: the shortest %g that does. */
static void literal(tg_buf *b, double v)
{
    if (isnan(v)) {
        tg_buf_printf(b, "NAN");
        return;
    }
    if (isinf(v)) {
        tg_buf_printf(b, v < 0 ? "(-INFINITY)" : "INFINITY");
        return;
    }
    char s[40];
    for (int p = 15; p <= 17; p++) {
        snprintf(s, sizeof s, "%.*g", p, v);
        if (strtod(s, NULL) == v && (v != 0 || signbit(v) == (s[0] == '-'))) break;
    }
    int plain = strspn(s, "-0123456789") == strlen(s); /* "2" would be an int */
    tg_buf_printf(b, v < 0 ? "(%s%s)" : "%s%s", s, plain ? ".0" : "");
}

/* ---- which nodes, and what they are called ---- */

enum {
    CONE = 1,  /* out depends on it (or it is out) */
    VARY = 2,  /* computed at run time: an input, or depends on one (else folded) */
    ACT = 4,   /* differentiated: a wrt leaf (a parameter, for tg_compile), or depends on one */
    INPUT = 8, /* a leaf read from in[] */
};

typedef struct emitter {
    tg_tape *t;
    uint32_t out;
    const tg_emit_opts *o; /* NULL: a module for tg_compile */
    unsigned char *flag;   /* per node 0..out */
    const char **id;       /* per node: its C name (in names) */
    tg_table names;        /* the C names in use */
    tg_table ops;          /* the ops used, under their C names; record: the descriptor */
    tg_buf *b;
    tg_emitted *info;
    int tensors;            /* tensor nodes in the cone (a module's: no raw entry) */
    unsigned char *reached; /* per node: a tensor's gradient region written or zeroed yet, as
                             * the reverse loop's flags will say when the module runs */
    unsigned char *ptrs;    /* per node: which of its pointers V, G, P the module has declared */
    unsigned char *role;    /* per node: its part in the fused raw entry (F_*); then per node
                             * the number of windows on it, whether a loop needs its value,
                             * whether it depends on the node of a loop of one contribution */
    uint32_t *lc;           /* per one-element node: its first contributor in the loop (node
                             * + 1, 0: none), that one's operand, its last contributor */
    uint32_t only, only_j;  /* a loop of one contribution: node only's operand only_j; else
                             * UINT32_MAX, the main loop */
    int fused;              /* the module has the fused raw entry, tg_entry_arrays */
    char why[200];          /* or why not */
    int staged;             /* tg_emit_c's tensors, not fused: node by node on a workspace */
    int products;           /* then: whether it calls cblas_dgemm */
    size_t *woff;           /* then per node: where its values, gradient, kept partials are
                             * in the workspace (after adj[], out + 1 values) */
    size_t wsize;           /* the workspace's size, in doubles */
} emitter;

static int is_reserved(const char *s)
{
    static const char *const words[] = {
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
        "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
        "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
        "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "in", "grad",
        "nd", "part", "pext", "adj", "NAN", "INFINITY", "HUGE_VAL", "isnan", "isinf",
        "isfinite", "isnormal", "signbit", "fpclassify", "math_errhandling", "memset",
        "size_t", "NULL", "e", "k", "r", "d", "v", "gy"};
    for (size_t k = 0; k < sizeof words / sizeof *words; k++)
        if (!strcmp(s, words[k])) return 1;
    /* the tensor loops' names: V12, G12, P12 (a node's pointers) and o0, o1, ... (indices) */
    if (strchr("VGPo", s[0]) && s[1] && strspn(s + 1, "0123456789") == strlen(s + 1)) return 1;
    /* the generated names' prefixes, and the implementation's and <math.h>'s macros */
    return !strncmp(s, "d_", 2) || !strncmp(s, "p_", 2) || !strncmp(s, "c_", 2) ||
           !strncmp(s, "op_", 3) || !strncmp(s, "tg_", 3) || !strncmp(s, "TG_", 3) ||
           !strncmp(s, "M_", 2) || !strncmp(s, "FP_", 3) || !strncmp(s, "HUGE", 4) ||
           s[0] == '_';
}

/* Add a C identifier made from text (letters, digits, '_' kept; any other run of characters
 * one '_'), made unique with _2, _3, ...; returns the table's copy, or NULL (error set). */
static const char *unique_name(emitter *e, tg_table *tb, const char *prefix, const char *text,
                               const char *dflt)
{
    char base[72];
    size_t n = 0;
    for (const char *c = text; *c && n < 48; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                 (*c >= '0' && *c <= '9') || *c == '_';
        if (ok) base[n++] = *c;
        else if (n && base[n - 1] != '_') base[n++] = '_';
    }
    while (n && base[n - 1] == '_') n--;
    base[n] = '\0';
    if (!n) snprintf(base, sizeof base, "%s", dflt);
    const char *pre = prefix[0]                                           ? prefix
                      : (base[0] >= '0' && base[0] <= '9') || is_reserved(base) ? "v_"
                                                                                : "";
    char name[96];
    snprintf(name, sizeof name, "%s%s", pre, base);
    for (int k = 2;; k++) {
        void *rec;
        tg_status s = tg_table_add(tb, name, strlen(name), &rec);
        if (s == TG_OK) return tg_table_name(rec);
        if (s != TG_ERR_ARG) { /* TG_ERR_ARG: taken */
            tg_fail(e->t, s, "tg_compile: out of memory naming the nodes");
            return NULL;
        }
        snprintf(name, sizeof name, "%s%s_%d", pre, base, k);
    }
}

/* The cone of out and the flags; in tg_compile's form every leaf is an input and ACT is the
 * tape's activity, in tg_emit_c's the caller's lists decide. */
static tg_status mark(emitter *e)
{
    tg_tape *t = e->t;
    const tg_node *nodes = t->nodes;
    e->flag[e->out] = CONE;
    for (uint32_t i = e->out + 1; i-- > 0;) {
        const tg_node *nd = &nodes[i];
        if (!(e->flag[i] & CONE)) continue;
        e->tensors |= tg_node_is_tensor(nd);
        if (tg_node_is_leaf(nd)) continue;
        uint32_t idx[TG_MAX_ARITY];
        int n = tg_node_inputs(t, nd, idx);
        for (int j = 0; j < n; j++) e->flag[idx[j]] |= CONE;
    }
    if (e->o) { /* the caller's inputs and wrt */
        for (int k = 0; k < e->o->n_in; k++)
            if (e->o->in[k].index <= e->out) e->flag[e->o->in[k].index] |= INPUT | VARY;
        for (int k = 0; k < e->o->n_wrt; k++)
            if (e->o->wrt[k].index <= e->out) e->flag[e->o->wrt[k].index] |= ACT;
    }
    for (uint32_t i = 0; i <= e->out; i++) {
        const tg_node *nd = &nodes[i];
        unsigned char *f = &e->flag[i];
        if (!(*f & CONE)) continue;
        if (tg_node_is_leaf(nd)) { /* a module's tensor leaf is read by the library, not an
                                    * input; tg_emit_c's not listed is a static array (or, of
                                    * one element, folded) */
            if (!e->o || (tg_node_is_tensor(nd) && tg_node_numel(t, i) > 1)) *f |= VARY;
            if (!e->o) *f |= tg_node_is_tensor(nd) ? 0 : INPUT;
            if (!e->o) *f |= tg_node_active(nd) ? ACT : 0;
            continue;
        }
        uint32_t idx[TG_MAX_ARITY];
        int n = tg_node_inputs(t, nd, idx);
        for (int j = 0; j < n; j++) *f |= e->flag[idx[j]] & (VARY | ACT);
        if (!e->o && !tg_node_active(nd)) *f &= (unsigned char)~ACT;
    }
    return TG_OK;
}

/* ---- the ops ---- */

/* The C name of op's function ("op_sigmoid"), adding op (and, for a built-in's code, the
 * built-ins its code calls, first) to the ops written. NULL with the error set. */
static const char *use_op(emitter *e, const tg_op_def *op)
{
    for (void *r = tg_table_next(&e->ops, NULL); r; r = tg_table_next(&e->ops, r))
        if (*(const tg_op_def **)r == op) return tg_table_name(r);
    if (!op->code && e->o)
        return tg_fail(e->t, TG_ERR_UNSUPPORTED, "tg_emit_c: op '%s' has no C code (.code): "
                       "only tg_compile can call it, through its descriptor", op->name),
               NULL;
    for (const char *c = op->code; c && (c = strstr(c, "tg_op_")); c += 6) {
        char dep[64];
        size_t n = strspn(c + 6, "abcdefghijklmnopqrstuvwxyz0123456789_");
        snprintf(dep, sizeof dep, "%.*s", (int)(n < 63 ? n : 63), c + 6);
        const tg_op_def *d = tg_registry_find(NULL, dep);
        if (d && d != op && !use_op(e, d)) return NULL;
    }
    const char *id = unique_name(e, &e->ops, "op_", op->name, "user");
    if (!id) return NULL;
    *(const tg_op_def **)tg_table_find(&e->ops, id, strlen(id)) = op;
    return id;
}

/* Whether a built-in's code calls op name's descriptor (gelu calls tg_op_normcdf.eval). */
static int called(const emitter *e, const char *name)
{
    char key[80];
    snprintf(key, sizeof key, "tg_op_%s.", name);
    for (void *r = tg_table_next(&e->ops, NULL); r; r = tg_table_next(&e->ops, r)) {
        const char *code = (*(const tg_op_def **)r)->code;
        if (code && strstr(code, key)) return 1;
    }
    return 0;
}

static void comment_text(tg_buf *b, const char *s)
{
    for (; s && *s; s++) /* no comment ends early */
        tg_buf_printf(b, "%c", s[0] == '*' && s[1] == '/' ? '+' : *s);
}

/* An op's code, which TG_EVAL's # put on one line, a statement to a line again. */
static void code_text(tg_buf *b, const char *s)
{
    int depth = 0, paren = 0, quote = 0, bol = 1;
    for (; *s; s++) {
        if (bol && *s == ' ') continue;
        if (bol) tg_buf_printf(b, "%*s", 4 * (depth - (*s == '}')), "");
        bol = 0;
        tg_buf_printf(b, "%c", *s);
        if (*s == '"' && s[-1] != '\\') quote = !quote;
        if (quote) continue;
        paren += (*s == '(') - (*s == ')');
        if (*s == '{') depth++;
        if (*s == '}') depth--;
        if (*s == '{' || (*s == ';' && !paren) || (*s == '}' && s[1] != ';' && s[1] != ')')) {
            if (*s == '}' && !strncmp(s + 1, " else", 5)) continue;
            tg_buf_printf(b, "\n");
            bol = 1;
        }
        if (*s != '}' && s[1] == '}' && !bol) tg_buf_printf(b, "\n"), bol = 1;
        else if (*s != '}' && s[1] == ' ' && s[2] == '}' && !bol) tg_buf_printf(b, "\n"), bol = 1;
    }
    if (!bol) tg_buf_printf(b, "\n");
}

/* Whether C text calls the function name (a whole identifier followed by '('). */
static int calls(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *c = text; c && (c = strstr(c, name)); c += n) {
        int starts = c == text || !(isalnum((unsigned char)c[-1]) || c[-1] == '_');
        if (starts && c[n] == '(') return 1;
    }
    return 0;
}

/* The numerical kernels the ops' code calls, and the kernels those call (tg_kernels lists a
 * kernel after its callees, so one backward pass finds them all), in the table's order. */
static void write_kernels(emitter *e)
{
    int n = 0;
    while (tg_kernels[n].name) n++;
    unsigned char used[TG_MAX_KERNELS] = {0};
    for (int k = n; k-- > 0;) {
        for (void *r = tg_table_next(&e->ops, NULL); r && !used[k];
             r = tg_table_next(&e->ops, r)) {
            const char *code = (*(const tg_op_def **)r)->code;
            used[k] = code && calls(code, tg_kernels[k].name);
        }
        for (int j = k + 1; j < n && !used[k]; j++)
            used[k] = used[j] && calls(tg_kernels[j].text, tg_kernels[k].name);
    }
    int outside = 0; /* the library's own functions (not its static helpers) */
    for (int k = 0; k < n; k++) outside |= used[k] && strncmp(tg_kernels[k].text, "static", 6);
    if (outside) /* called out of line, as the library calls them: inlined, a kernel's rare
                  * path takes registers from the code around it (it cost sigmoid a third of
                  * its time when sigmoid called one) */
        tg_buf_printf(e->b, "\n#ifdef __GNUC__\n#define TG_OUT_OF_LINE __attribute__((noinline))"
                      "\n#else\n#define TG_OUT_OF_LINE\n#endif\n");
    for (int k = 0; k < n; k++) {
        if (!used[k]) continue;
        int own = strncmp(tg_kernels[k].text, "static", 6) != 0;
        tg_buf_printf(e->b, "\n%s", own ? "static TG_OUT_OF_LINE " : "");
        code_text(e->b, tg_kernels[k].text);
    }
}

/* Every op used: its code as a function of x[], d[] (op_NAME_eval), a struct named as the
 * built-in's descriptor when another op's code calls it, and op_NAME(x0, ..., d). */
static void write_ops(emitter *e)
{
    tg_buf *b = e->b;
    int table = 0;
    write_kernels(e);
    for (void *r = tg_table_next(&e->ops, NULL); r; r = tg_table_next(&e->ops, r)) {
        const tg_op_def *op = *(const tg_op_def **)r;
        const char *id = tg_table_name(r);
        tg_buf_printf(b, "\n/* %s: ", op->name);
        comment_text(b, op->math ? op->math : "(no description)");
        tg_buf_printf(b, " */\n");
        if (op->code) {
            tg_buf_printf(b, "static double %s_eval(const double *x, double *d)\n", id);
            code_text(b, op->code);
        } else { /* a user's op, from the table tg_entry_init is given */
            tg_buf_printf(b, "/* called through descriptor %p */\n#define %s_eval tg_ev[%d]\n",
                          (const void *)op, id, table);
            e->info->ext[table++] = op;
        }
        if (op->code && tg_registry_find(NULL, op->name) == op && called(e, op->name))
            tg_buf_printf(b, "static const struct tg_desc tg_op_%s = {%s_eval};\n", op->name,
                          id);
        tg_buf_printf(b, "static inline double %s(", id);
        for (int j = 0; j < op->arity; j++) tg_buf_printf(b, "double x%d, ", j);
        tg_buf_printf(b, "double *d)\n{\n    const double x[%d] = {", op->arity);
        for (int j = 0; j < op->arity; j++) tg_buf_printf(b, "%sx%d", j ? ", " : "", j);
        tg_buf_printf(b, "};\n    return %s_eval(x, d);\n}\n", id);
    }
    e->info->next = (uint32_t)table;
}

/* ---- the function body ---- */

static int slot(const emitter *e, uint32_t i, int wrt);
static int fuse_kind(const emitter *e, uint32_t i, size_t *base, size_t *stride);

enum { IO_TAPE, IO_RAW, IO_STAGED };

/* Node i's value as an operand: its name, or (folded) its value as a literal. */
static void operand(emitter *e, uint32_t i)
{
    if (e->flag[i] & VARY)
        tg_buf_printf(e->b, "%s", e->id[i]);
    else /* a one-element tensor's value is in its data */
        literal(e->b, tg_node_is_tensor(&e->t->nodes[i]) ? tg_node_view(e->t, i).x[0]
                                                          : e->t->nodes[i].v);
}

/* A node's part in the fused raw entry (plan, below): its role, whether it is computed from
 * a sum (post), whether an input is read whole; 0 outside that entry. */
enum { F_SMALL = 1, F_BIG, F_LEAF, F_VIEW, F_SUM, F_ROLE = 7, F_POST = 8, F_DIRECT = 16 };

static int role(const emitter *e, uint32_t i) { return e->role[i] & F_ROLE; }

/* Node i's value at the loop's element: a register, an input's element, or folded. */
static void at(emitter *e, uint32_t i)
{
    if (role(e, i) == F_LEAF)
        tg_buf_printf(e->b, "V%" PRIu32 "[e]", i);
    else
        operand(e, i);
}

/* Partial j of active node i (inputs idx) as an expression. */
static void partial(emitter *e, uint32_t i, int j, const uint32_t *idx)
{
    const tg_op_def *op = e->t->nodes[i].op;
    if (op->partials == TG_PARTIALS_KEPT)
        tg_buf_printf(e->b, "p_%s[%d]", e->id[i], j);
    else if (op->partials == TG_PARTIALS_SWAP)
        at(e, idx[1 - j]);
    else
        literal(e->b, op->dconst[j]);
}

/* gy * partial j of node i, passing nothing on when gy is 0 (as the library's loop). */
static void contribution(emitter *e, uint32_t i, int j, const uint32_t *idx)
{
    const tg_op_def *op = e->t->nodes[i].op;
    const char *gy = e->id[i];
    if (op->partials == TG_PARTIALS_CONST) { /* finite: 0 * c adds nothing */
        double c = op->dconst[j];
        if (c == 1.0) tg_buf_printf(e->b, "d_%s", gy);
        else if (c == -1.0) tg_buf_printf(e->b, "-d_%s", gy);
        else tg_buf_printf(e->b, "d_%s * ", gy), literal(e->b, c);
        return;
    }
    tg_buf_printf(e->b, "tg_back(d_%s, ", gy);
    partial(e, i, j, idx);
    tg_buf_printf(e->b, ")");
}

/* ---- elementwise tensor nodes: loops with their shapes known ---- */

/* Whether module node i is an elementwise tensor node written out as loops (its op has code;
 * others, and every other tensor op, run through the library). */
static int elementwise(const emitter *e, uint32_t i)
{
    const tg_node *nd = &e->t->nodes[i];
    return (!e->o || e->staged) && tg_node_is_tensor(nd) && !tg_node_is_leaf(nd) &&
           nd->op->eval && !nd->op->infer && nd->op->code;
}

/* Node i's loop as ew.c walks it: rows of len elements (one row of all of them when every
 * operand is whole or single), operand j moving by step[j] in a row and by stride[j][d] along
 * outer axis d; full[j][d] is its stride along every output axis (the fused forward's). */
typedef struct ew_walk {
    int n, rank, outer;
    size_t rows, len, numel;
    int shape[TG_MAX_RANK];
    size_t step[TG_MAX_ARITY], full[TG_MAX_ARITY][TG_MAX_RANK];
} ew_walk;

static ew_walk ew_walk_of(const emitter *e, uint32_t i, uint32_t *idx)
{
    ew_walk w;
    memset(&w, 0, sizeof w);
    const tg_view out = tg_node_view(e->t, i);
    w.n = tg_node_inputs(e->t, &e->t->nodes[i], idx);
    w.rank = out.rank;
    w.numel = out.n;
    memcpy(w.shape, out.shape, sizeof w.shape);
    int simple = 1;
    for (int j = 0; j < w.n; j++) {
        const tg_view in = tg_node_view(e->t, idx[j]);
        simple &= in.n == out.n || in.n == 1;
        size_t st = 1;
        for (int d = in.rank - 1; d >= 0; d--) {
            const int od = d + out.rank - in.rank;
            w.full[j][od] = in.shape[d] == 1 ? 0 : st;
            st *= (size_t)in.shape[d];
        }
    }
    if (simple || out.rank == 0) {
        w.rows = 1;
        w.len = out.n;
        for (int j = 0; j < w.n; j++) w.step[j] = tg_node_numel(e->t, idx[j]) == out.n && out.n > 1;
        return w;
    }
    w.outer = out.rank - 1;
    w.len = (size_t)out.shape[out.rank - 1];
    w.rows = out.n / w.len;
    for (int j = 0; j < w.n; j++) w.step[j] = w.full[j][out.rank - 1];
    return w;
}

/* Operand j of a node walked by w at the current element: a scalar's name, or a tensor's
 * value at its offset (outer: the loop variables o0.. of the outer axes; inner, k's step). */
static void ew_offset(tg_buf *b, const ew_walk *w, int j, int all_axes)
{
    int any = 0;
    const int axes = all_axes ? w->rank : w->outer;
    for (int d = 0; d < axes; d++)
        if (w->full[j][d]) tg_buf_printf(b, "%s(size_t)o%d * %zu", any++ ? " + " : "", d,
                                         w->full[j][d]);
    if (!all_axes && w->step[j]) tg_buf_printf(b, "%sk * %zu", any++ ? " + " : "", w->step[j]);
    if (!any) tg_buf_printf(b, "0");
}

static void ew_operand(emitter *e, const ew_walk *w, const uint32_t *idx, int j, int all_axes)
{
    if (!tg_node_is_tensor(&e->t->nodes[idx[j]])) {
        operand(e, idx[j]);
        return;
    }
    tg_buf_printf(e->b, "V%" PRIu32 "[", idx[j]);
    ew_offset(e->b, w, j, all_axes);
    tg_buf_printf(e->b, "]");
}

/* Declare tensor node i's pointer (here, at the function's top level) if not yet: V its
 * values, G its gradient, P its kept partials. */
static void need(emitter *e, uint32_t i, char kind)
{
    static const char *const what[] = {"values", "gradient", "partials"};
    const int k = kind == 'V' ? 0 : kind == 'G' ? 1 : 2;
    if (!tg_node_is_tensor(&e->t->nodes[i]) || (e->ptrs[i] & (1 << k))) return;
    e->ptrs[i] |= (unsigned char)(1 << k);
    if (e->staged) { /* a leaf's or a folded node's values are named already */
        const int g = k == 1 && tg_node_is_leaf(&e->t->nodes[i]) ? slot(e, i, 1) : -1;
        if (g >= 0)
            tg_buf_printf(e->b, "    double *const G%" PRIu32 " = grad[%d];\n", i, g);
        else if (e->woff[3 * i + (size_t)k] != SIZE_MAX)
            tg_buf_printf(e->b, "    double *const %c%" PRIu32 " = ws + %zu;\n", kind, i,
                          e->woff[3 * i + (size_t)k]);
        return;
    }
    tg_buf_printf(e->b, "    double *%c%" PRIu32 " = tg_rt->%s(tg_rt->t, %" PRIu32 ");\n", kind, i,
                  what[k], i);
}

/* The forward values of elementwise node i and of the elementwise nodes after it of the same
 * shape, in one loop over the elements (each node's value from the same eval as the
 * library's, stored to the tape with its partials); returns the last node written. */
static uint32_t ew_forward(emitter *e, uint32_t first)
{
    tg_buf *b = e->b;
    tg_tape *t = e->t;
    const tg_view sh = tg_node_view(t, first);
    uint32_t last = first;
    for (uint32_t i = first + 1; i <= e->out; i++) { /* the group: same shape, in a row */
        if ((e->flag[i] & (CONE | VARY)) != (CONE | VARY)) continue;
        const tg_view v = tg_node_view(t, i);
        if (!elementwise(e, i) || v.rank != sh.rank ||
            memcmp(v.shape, sh.shape, sizeof v.shape[0] * (size_t)v.rank))
            break;
        last = i;
    }
    tg_buf_printf(b, "    /* elementwise, fused:");
    for (uint32_t i = first; i <= last; i++)
        if ((e->flag[i] & (CONE | VARY)) == (CONE | VARY))
            tg_buf_printf(b, " %s = %s(...)", e->id[i], t->nodes[i].op->name);
    tg_buf_printf(b, " */\n");
    for (uint32_t i = first; i <= last; i++) { /* the tensors it reads and writes */
        if ((e->flag[i] & (CONE | VARY)) != (CONE | VARY)) continue;
        uint32_t idx[TG_MAX_ARITY];
        const int n = tg_node_inputs(t, &t->nodes[i], idx);
        for (int j = 0; j < n; j++)
            if (idx[j] < first) need(e, idx[j], 'V');
        need(e, i, 'V');
        if ((e->flag[i] & ACT) && t->nodes[i].op->partials == TG_PARTIALS_KEPT) need(e, i, 'P');
    }
    tg_buf_printf(b, "    {\n        size_t e = 0;\n");
    for (int d = 0; d < sh.rank; d++)
        tg_buf_printf(b, "%*sfor (int o%d = 0; o%d < %d; o%d++)\n", 8 + 4 * d, "", d, d,
                      sh.shape[d], d);
    const int ind = 8 + 4 * sh.rank;
    tg_buf_printf(b, "%*s{\n", ind, "");
    for (uint32_t i = first; i <= last; i++) {
        if ((e->flag[i] & (CONE | VARY)) != (CONE | VARY)) continue;
        const tg_node *nd = &t->nodes[i];
        uint32_t idx[TG_MAX_ARITY];
        const ew_walk w = ew_walk_of(e, i, idx);
        const int kept = (e->flag[i] & ACT) && nd->op->partials == TG_PARTIALS_KEPT;
        if (kept) tg_buf_printf(b, "%*s    double p_%s[%d];\n", ind, "", e->id[i], w.n);
        const char *f = use_op(e, nd->op);
        if (!f) return last;
        tg_buf_printf(b, "%*s    const double %s = %s(", ind, "", e->id[i], f);
        for (int j = 0; j < w.n; j++) {
            if (idx[j] >= first && idx[j] < i && elementwise(e, idx[j])) /* in this loop */
                tg_buf_printf(b, "%s", e->id[idx[j]]);
            else
                ew_operand(e, &w, idx, j, 1);
            tg_buf_printf(b, ", ");
        }
        tg_buf_printf(b, kept ? "p_%s);\n" : "0);\n", e->id[i]);
        tg_buf_printf(b, "%*s    V%" PRIu32 "[e] = %s;\n", ind, "", i, e->id[i]);
        for (int j = 0; kept && j < w.n; j++)
            tg_buf_printf(b, "%*s    P%" PRIu32 "[e * %d + %d] = p_%s[%d];\n", ind, "", i, w.n,
                          j, e->id[i], j);
    }
    tg_buf_printf(b, "%*s    e++;\n%*s}\n    }\n", ind, "", ind, "");
    return last;
}

/* The reverse step of elementwise node i, as ew.c's tg_ew_vjp takes it: row by row, each
 * active operand in turn, gy times its partial added into the operand's gradient (written,
 * where the operand is whole and nothing reached it yet), nothing passed where it is the NaN
 * of 0 * inf. */
static void ew_vjp(emitter *e, uint32_t i)
{
    tg_buf *b = e->b;
    tg_tape *t = e->t;
    const tg_op_def *op = t->nodes[i].op;
    uint32_t idx[TG_MAX_ARITY];
    const ew_walk w = ew_walk_of(e, i, idx);
    int fresh[TG_MAX_ARITY] = {0};
    tg_buf_printf(b, "    /* %s: the reverse step of %s */\n", e->id[i], op->name);
    need(e, i, 'G');
    if (op->partials == TG_PARTIALS_KEPT) need(e, i, 'P');
    for (int j = 0; j < w.n; j++) {
        if (op->partials == TG_PARTIALS_SWAP) need(e, idx[1 - j], 'V');
        if (e->flag[idx[j]] & ACT) need(e, idx[j], 'G');
    }
    for (int j = 0; j < w.n; j++) { /* regions first reached here: written or zeroed */
        const uint32_t in = idx[j];
        if (!(e->flag[in] & ACT) || !tg_node_is_tensor(&t->nodes[in]) || e->reached[in])
            continue;
        fresh[j] = tg_node_numel(t, in) == w.numel;
        if (!fresh[j])
            tg_buf_printf(b, "    memset(G%" PRIu32 ", 0, %zu * sizeof(double));\n", in,
                          tg_node_numel(t, in));
        tg_buf_printf(b, "    adj[%" PRIu32 "] = 1.0; /* reached */\n", in);
        e->reached[in] = 1;
    }
    if (w.rows == 1)
        tg_buf_printf(b, "    {\n        const size_t e = 0;\n");
    else
        tg_buf_printf(b, "    for (size_t r = 0, e = 0; r < %zu; r++) {\n", w.rows);
    for (int d = w.outer - 1; d >= 0; d--) { /* the outer axes' indices of row r, if used */
        size_t below = 1, used = 0;
        for (int q = d + 1; q < w.outer; q++) below *= (size_t)w.shape[q];
        for (int j = 0; j < w.n; j++) { /* by a sum into an operand, or a swapped partial */
            if (!(e->flag[idx[j]] & ACT)) continue;
            used |= tg_node_is_tensor(&t->nodes[idx[j]]) && !fresh[j] ? w.full[j][d] : 0;
            used |= op->partials == TG_PARTIALS_SWAP ? w.full[1 - j][d] : 0;
        }
        if (used)
            tg_buf_printf(b, "        const size_t o%d = r / %zu %% %d;\n", d, below,
                          w.shape[d]);
    }
    for (int j = 0; j < w.n; j++) {
        const uint32_t in = idx[j];
        if (!(e->flag[in] & ACT)) continue;
        tg_buf_printf(b, "        for (size_t k = 0; k < %zu; k++) {\n            const double "
                      "gy = G%" PRIu32 "[e + k], d = ", w.len, i);
        if (op->partials == TG_PARTIALS_KEPT)
            tg_buf_printf(b, "P%" PRIu32 "[(e + k) * %d + %d]", i, w.n, j);
        else if (op->partials == TG_PARTIALS_SWAP)
            ew_operand(e, &w, idx, 1 - j, 0);
        else
            literal(b, op->dconst[j]);
        tg_buf_printf(b, ", v = gy * d;\n");
        if (!tg_node_is_tensor(&t->nodes[in])) {
            tg_buf_printf(b, "            if (tg_passes(v, gy, d)) adj[%" PRIu32 "] += v;\n", in);
        } else if (fresh[j]) {
            tg_buf_printf(b, "            G%" PRIu32 "[e + k] = tg_passes(v, gy, d) ? v : 0.0;\n",
                          in);
        } else {
            tg_buf_printf(b, "            if (tg_passes(v, gy, d)) G%" PRIu32 "[", in);
            ew_offset(b, &w, j, 0);
            tg_buf_printf(b, "] += v;\n");
        }
        tg_buf_printf(b, "        }\n");
    }
    tg_buf_printf(b, w.rows == 1 ? "    }\n" : "        e += %zu;\n    }\n", w.len);
}

/* ---- products (.gemm) and, in tg_emit_c's staged function, windows and sums (.fuse) ---- */

/* The library's slot() for a node that is not elementwise: each active operand's gradient
 * cleared where nothing reached it yet, and marked reached. */
static void clear_unreached(emitter *e, int n, const uint32_t *idx)
{
    for (int j = 0; j < n; j++) {
        const uint32_t in = idx[j];
        if (!(e->flag[in] & ACT) || e->reached[in]) continue;
        need(e, in, 'G');
        tg_buf_printf(e->b, "    memset(G%" PRIu32 ", 0, %zu * sizeof(double));\n"
                      "    adj[%" PRIu32 "] = 1.0; /* reached */\n", in,
                      tg_node_numel(e->t, in), in);
        e->reached[in] = 1;
    }
}

/* Writes step (-1: forward; j: the vjp into operand j) of tensor node i as its op describes
 * it, if it does: one call per matrix of the batch, on the tape's arrays. Returns whether it
 * did. */
static int gemm_step(emitter *e, uint32_t i, int step)
{
    tg_op_ctx c;
    uint32_t idx[TG_MAX_ARITY];
    tg_node_ctx(e->t, i, &c, idx);
    const tg_op_def *op = e->t->nodes[i].op;
    tg_gemm g;
    if (!op->gemm || !op->gemm(&c, step, &g)) return 0;
    const uint32_t node[6] = {idx[0], idx[1], i, i, idx[0], idx[1]};
    const char kind[6] = {'V', 'V', 'V', 'G', 'G', 'G'};
    const int role[3] = {g.a, g.b, g.y};
    const size_t off[3] = {g.sa, g.sb, g.sy};
    for (int r = 0; r < 3; r++) need(e, node[role[r]], kind[role[r]]);
    tg_buf *b = e->b;
    tg_buf_printf(b, "    /* %s = %s(%s, %s)", e->id[i], op->name, e->id[idx[0]], e->id[idx[1]]);
    tg_buf_printf(b, step < 0 ? " */\n" : ": d/d%s */\n", e->id[idx[step < 0 ? 0 : step]]);
    if (g.batch > 1) tg_buf_printf(b, "    for (int q = 0; q < %d; q++)\n    ", g.batch);
    static const char *const trans[2] = {"CblasNoTrans", "CblasTrans"};
    tg_buf_printf(b, "    %scblas_dgemm(CblasRowMajor, %s, %s, %d, %d, %d, 1.0",
                  e->o ? "" : "tg_rt->", trans[g.ta != 0], trans[g.tb != 0], g.m, g.n, g.k);
    const int ld[3] = {g.ta ? g.m : g.k, g.tb ? g.k : g.n, g.n};
    for (int r = 0; r < 3; r++) {
        if (r == 2) tg_buf_printf(b, ", "), literal(b, g.beta);
        tg_buf_printf(b, ", %c%" PRIu32, kind[role[r]], node[role[r]]);
        if (g.batch > 1 && off[r]) tg_buf_printf(b, " + q * %zu", off[r]);
        tg_buf_printf(b, ", %d", ld[r]);
    }
    tg_buf_printf(b, ");\n");
    return 1;
}

/* Whether tensor node i's op describes its forward, and its vjp into each active operand, as
 * products (.gemm). */
static int is_product(const emitter *e, uint32_t i)
{
    tg_op_ctx c;
    uint32_t idx[TG_MAX_ARITY];
    const int n = tg_node_ctx(e->t, i, &c, idx);
    const tg_op_def *op = e->t->nodes[i].op;
    tg_gemm g;
    if (!op->gemm || !op->gemm(&c, -1, &g)) return 0;
    for (int j = 0; j < n; j++)
        if ((e->flag[idx[j]] & ACT) && !op->gemm(&c, j, &g)) return 0;
    return 1;
}

/* The reverse step of a product node i: each active operand's gradient cleared where nothing
 * reached it yet, then the calls, as the library's sweep makes them. Returns whether it did. */
static int gemm_vjp(emitter *e, uint32_t i)
{
    uint32_t idx[TG_MAX_ARITY];
    const int n = tg_node_inputs(e->t, &e->t->nodes[i], idx);
    if (!is_product(e, i)) return 0;
    clear_unreached(e, n, idx);
    for (int j = 0; j < n; j++)
        if (e->flag[idx[j]] & ACT) gemm_step(e, i, j);
    return 1;
}

/* For tg_emit_c's staged function: step -1 (forward) or 0 (vjp) of tensor node i when its op
 * says it moves or sums elements (.fuse), as loops; returns whether it did. Each output
 * element o is a copy of x's element base + sum_d o_d stride[d], and its gradient is added
 * back there; a whole sum adds x's elements to +0 in row-major order and gy to each. */
static int window_step(emitter *e, uint32_t i, int step)
{
    size_t base = 0, stride[TG_MAX_RANK] = {0};
    const int kind = e->staged ? fuse_kind(e, i, &base, stride) : TG_FUSE_NONE;
    uint32_t idx[TG_MAX_ARITY];
    if (kind == TG_FUSE_NONE || tg_node_inputs(e->t, &e->t->nodes[i], idx) != 1) return 0;
    const uint32_t x = idx[0];
    tg_buf *b = e->b;
    const tg_view v = tg_node_view(e->t, i);
    const char a = step < 0 ? 'V' : 'G'; /* values forward, gradients back */
    if (step >= 0) {
        if (!(e->flag[x] & ACT)) return 1;
        clear_unreached(e, 1, &x);
    } else {
        need(e, x, 'V');
    }
    need(e, i, a);
    tg_buf_printf(b, "    /* %s = %s(%s)%s */\n", e->id[i], e->t->nodes[i].op->name, e->id[x],
                  step < 0 ? "" : ": its gradient back");
    if (kind == TG_FUSE_SUM) {
        if (step < 0)
            tg_buf_printf(b, "    {\n        double s = 0.0;\n        for (size_t k = 0; k < %zu; "
                          "k++) s += V%" PRIu32 "[k];\n        V%" PRIu32 "[0] = s;\n    }\n",
                          tg_node_numel(e->t, x), x, i);
        else
            tg_buf_printf(b, "    for (size_t k = 0; k < %zu; k++) G%" PRIu32 "[k] += G%" PRIu32
                          "[0];\n", tg_node_numel(e->t, x), x, i);
        return 1;
    }
    tg_buf_printf(b, "    {\n        size_t e = 0;\n");
    for (int d = 0; d < v.rank; d++)
        tg_buf_printf(b, "%*sfor (int o%d = 0; o%d < %d; o%d++)\n", 8 + 4 * d, "", d, d,
                      v.shape[d], d);
    tg_buf_printf(b, "%*s", 8 + 4 * v.rank, "");
    if (step < 0) tg_buf_printf(b, "V%" PRIu32 "[e++] = ", i);
    tg_buf_printf(b, "%c%" PRIu32 "[%zu", a, x, base);
    for (int d = 0; d < v.rank; d++)
        if (stride[d]) tg_buf_printf(b, " + (size_t)o%d * %zu", d, stride[d]);
    if (step < 0) tg_buf_printf(b, "];\n    }\n");
    else tg_buf_printf(b, "] += G%" PRIu32 "[e++];\n    }\n", i);
    return 1;
}

static void forward(emitter *e, int io)
{
    tg_buf *b = e->b;
    tg_tape *t = e->t;
    uint32_t k = 0;
    if (io != IO_STAGED) tg_buf_printf(b, "    /* inputs */\n");
    for (uint32_t i = 0; io != IO_STAGED && i <= e->out; i++) {
        if (!(e->flag[i] & INPUT) || !(e->flag[i] & CONE)) continue;
        if (io == IO_TAPE)
            tg_buf_printf(b, "    const double %s = nd[%" PRIu32 "].v;\n", e->id[i], i);
        else
            tg_buf_printf(b, "    const double %s = in[%" PRIu32 "];\n", e->id[i], k++);
    }
    tg_buf_printf(b, "    /* values, in the order they were recorded */\n");
    for (uint32_t i = 0; i <= e->out; i++) {
        const tg_node *nd = &t->nodes[i];
        if ((e->flag[i] & (CONE | VARY)) != (CONE | VARY) || tg_node_is_leaf(nd)) continue;
        if (tg_node_is_tensor(nd)) { /* IO_TAPE and IO_STAGED */
            if (!elementwise(e, i)) { /* a product or window written out, else the library */
                if (!(is_product(e, i) && gemm_step(e, i, -1)) && !window_step(e, i, -1))
                    tg_buf_printf(b, "    tg_rt->forward(tg_rt->t, %" PRIu32 "); /* %s = "
                                  "%s(...) */\n", i, e->id[i], nd->op->name);
                continue;
            }
            i = ew_forward(e, i); /* this node and the elementwise ones after it, fused */
            continue;
        }
        uint32_t idx[TG_MAX_ARITY];
        int n = tg_node_inputs(t, nd, idx);
        int kept = (e->flag[i] & ACT) && nd->op->partials == TG_PARTIALS_KEPT;
        if (kept) tg_buf_printf(b, "    double p_%s[%d];\n", e->id[i], n);
        const char *f = use_op(e, nd->op);
        if (!f) return;
        tg_buf_printf(b, "    const double %s = %s(", e->id[i], f);
        for (int j = 0; j < n; j++) operand(e, idx[j]), tg_buf_printf(b, ", ");
        if (kept) tg_buf_printf(b, "p_%s);\n", e->id[i]);
        else tg_buf_printf(b, "0);\n");
        if (io != IO_TAPE) continue;
        tg_buf_printf(b, "    nd[%" PRIu32 "].v = %s;\n", i, e->id[i]);
        for (int j = 0; kept && j < n; j++) {
            if (tg_node_kind(nd) == TG_NARY)
                tg_buf_printf(b, "    pext[%" PRIu32 "] = p_%s[%d];\n",
                              (nd->in[0] & TG_INDEX) + (uint32_t)j, e->id[i], j);
            else
                tg_buf_printf(b, "    part[%" PRIu32 "] = p_%s[%d];\n", 2 * i + (uint32_t)j,
                              e->id[i], j);
        }
    }
}

static void reverse(emitter *e, int io)
{
    tg_buf *b = e->b;
    tg_tape *t = e->t;
    const uint32_t out = e->out;
    if (!(e->flag[out] & ACT)) return;
    tg_buf_printf(b, "    /* derivatives: d_v = d%s/dv, from the output back */\n",
                  e->id[out]);
    /* The library's sums start at +0. Written out, +0 + g is an addition the compiler must
     * keep (it turns a -0 into +0); -0 + g is g. Only the sign of a zero sum can differ, and
     * adding 0.0 to what is stored (adj[], grad[]) gives it back: the same bits, and the
     * additions off the chain of dependent ones. */
    tg_buf_printf(b, "    const double d_%s = 1.0;\n", e->id[out]);
    tg_buf_printf(b, "    /* the sums start at -0, so that -0 + g is g; what is stored is + 0.0 "
                  "*/\n");
    for (uint32_t i = 0; i < out; i++)
        if ((e->flag[i] & (CONE | ACT)) == (CONE | ACT))
            tg_buf_printf(b, "    double d_%s = -0.0;\n", e->id[i]);
    for (uint32_t i = out + 1; i-- > 0;) {
        const tg_node *nd = &t->nodes[i];
        if ((e->flag[i] & (CONE | ACT)) != (CONE | ACT) || tg_node_is_leaf(nd)) continue;
        uint32_t idx[TG_MAX_ARITY];
        int n = tg_node_inputs(t, nd, idx), order[TG_MAX_ARITY], to_prev = 0;
        for (int j = 0; j < n; j++) order[j] = n == 2 ? 1 - j : j; /* the loop's order */
        for (int j = 0; j < n; j++) to_prev += idx[j] == i - 1 && (e->flag[i - 1] & ACT);
        for (int q = 0; q < n; q++) {
            int j = order[q];
            if (!(e->flag[idx[j]] & ACT)) continue;
            if (idx[j] == i - 1 && to_prev > 1) continue; /* grouped below */
            tg_buf_printf(b, "    d_%s += ", e->id[idx[j]]);
            contribution(e, i, j, idx);
            tg_buf_printf(b, ";\n");
        }
        if (to_prev > 1) { /* the loop's carry: (0 + g) + g', added last */
            tg_buf_printf(b, "    d_%s += 0.0", e->id[i - 1]);
            for (int q = 0; q < n; q++)
                if (idx[order[q]] == i - 1)
                    tg_buf_printf(b, " + "), contribution(e, i, order[q], idx);
            tg_buf_printf(b, ";\n");
        }
    }
    if (io != IO_TAPE) return;
    for (uint32_t i = 0; i <= out; i++)
        if ((e->flag[i] & (CONE | ACT)) == (CONE | ACT))
            tg_buf_printf(b, "    adj[%" PRIu32 "] = d_%s + 0.0;\n", i, e->id[i]);
}

/* The reverse sweep of a module whose cone holds tensor nodes: the adjoints live in the
 * tape's adj[], where the tensor nodes' vjp kernels (run by the library) add to them, and
 * every addition happens where the library's loop makes it, the carry to node i-1 in c_. */
static void reverse_tape(emitter *e)
{
    tg_buf *b = e->b;
    tg_tape *t = e->t;
    tg_buf_printf(b, "    /* derivatives: d_v = d%s/dv in adj[], from the output back */\n",
                  e->id[e->out]);
    int carry = 0; /* the previous node (i+1) left c_ for this one */
    for (uint32_t i = e->out + 1; i-- > 0;) {
        const tg_node *nd = &t->nodes[i];
        int had = carry;
        carry = 0;
        if ((e->flag[i] & (CONE | ACT)) != (CONE | ACT)) continue;
        if (tg_node_is_tensor(nd)) {
            if (tg_node_is_leaf(nd)) continue;
            if (elementwise(e, i)) {
                ew_vjp(e, i);
                continue;
            }
            if (!gemm_vjp(e, i) && !window_step(e, i, 0))
                tg_buf_printf(b, "    tg_rt->vjp(tg_rt->t, %" PRIu32 "); /* %s */\n", i,
                              e->id[i]);
            uint32_t idx[TG_MAX_ARITY]; /* the library's slot() reaches its active inputs */
            int n = tg_node_inputs(t, nd, idx);
            for (int j = 0; j < n; j++) e->reached[idx[j]] |= (e->flag[idx[j]] & ACT) != 0;
            continue;
        }
        if (had)
            tg_buf_printf(b, "    const double d_%s = adj[%" PRIu32 "] + c_%s;\n"
                          "    adj[%" PRIu32 "] = d_%s;\n", e->id[i], i, e->id[i], i, e->id[i]);
        else if (!tg_node_is_leaf(nd))
            tg_buf_printf(b, "    const double d_%s = adj[%" PRIu32 "];\n", e->id[i], i);
        if (tg_node_is_leaf(nd)) continue;
        uint32_t idx[TG_MAX_ARITY];
        int n = tg_node_inputs(t, nd, idx), order[TG_MAX_ARITY];
        for (int j = 0; j < n; j++) order[j] = n == 2 ? 1 - j : j; /* the loop's order */
        for (int q = 0; q < n; q++) { /* each accumulator's additions in the loop's order */
            int j = order[q];
            if (!(e->flag[idx[j]] & ACT) || idx[j] == i - 1) continue;
            tg_buf_printf(b, "    adj[%" PRIu32 "] += ", idx[j]);
            contribution(e, i, j, idx);
            tg_buf_printf(b, ";\n");
        }
        for (int q = 0; q < n; q++) { /* carried: (0 + g) + g', added to node i-1's last */
            int j = order[q];
            if (!(e->flag[idx[j]] & ACT) || idx[j] != i - 1) continue;
            tg_buf_printf(b, carry++ ? " + " : "    const double c_%s = 0.0 + ", e->id[i - 1]);
            contribution(e, i, j, idx);
        }
        if (carry) tg_buf_printf(b, ";\n");
    }
}

/* The gradient into grad[], in the caller's wrt order (tg_emit_c) or the inputs' (a module:
 * 0 for a constant). */
static void gradient(emitter *e)
{
    tg_buf *b = e->b;
    const int act = (e->flag[e->out] & ACT) != 0;
    if (e->o) {
        for (int k = 0; k < e->o->n_wrt; k++) {
            uint32_t i = e->o->wrt[k].index;
            if (act && (e->flag[i] & CONE))
                tg_buf_printf(b, "    grad[%d] = d_%s + 0.0;\n", k, e->id[i]);
            else
                tg_buf_printf(b, "    grad[%d] = 0.0;\n", k);
        }
        return;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i <= e->out; i++) {
        if ((e->flag[i] & (CONE | INPUT)) != (CONE | INPUT)) continue;
        if (act && (e->flag[i] & ACT))
            tg_buf_printf(b, "    grad[%" PRIu32 "] = d_%s + 0.0;\n", k++, e->id[i]);
        else
            tg_buf_printf(b, "    grad[%" PRIu32 "] = 0.0;\n", k++);
    }
}

static void result(emitter *e)
{
    tg_buf_printf(e->b, "    return ");
    operand(e, e->out);
    tg_buf_printf(e->b, ";\n}\n");
}

/* ---- the raw entry of a tensor module: fused loops ----
 *
 * tg_entry_arrays(in, grad) computes what tg_entry_tape does, from arrays and without the
 * tape: in[k] points at input k's values (the cone's leaves in recording order, a tensor's
 * elements row-major), grad[k] at room for as many. It exists when the cone is one loop's
 * worth: the values of more than one element ("big") all have one shape S and are inputs,
 * windows of an input (an op whose .fuse says TG_FUSE_WINDOW: slice, reshape) or elementwise
 * nodes over those and one-element values; the big values are summed to one element
 * (TG_FUSE_SUM); every other node is of one element ("small": scalars, rank-0 tensors). The
 * big values are then never stored: one loop over S computes each element's values into
 * registers, adds them into the sums and, going back, takes each element's adjoints straight
 * into the inputs' gradients. When out is that sum, its adjoint is 1 and one loop does both;
 * otherwise a second loop computes the values again. Every addition happens in the order and
 * the form the library's sweeps make it (a region written or zeroed when first reached, an
 * elementwise contribution passed unless it is the NaN of 0 * inf), so the bits are
 * tg_compiled_run's. Where one loop would reorder a sum -- a one-element value read by several
 * of the loop's nodes, whose contributions the library adds node after node -- each further
 * contribution gets a loop of its own; a cone whose additions cannot be kept in order is
 * refused (plan says why) and the module has no raw entry. */

enum { MAX_EXTRA_LOOPS = 8 };

typedef struct fused {
    int rank; /* S, the loop's shape; -1: no big value */
    int shape[TG_MAX_RANK];
    uint32_t first, last; /* the loop's nodes (big and sums) lie in [first, last] */
} fused;

static int is_big(const emitter *e, uint32_t i)
{
    const int r = role(e, i);
    return r == F_BIG || r == F_LEAF || r == F_VIEW;
}

static int refuse(emitter *e, uint32_t i, const char *why)
{
    char nm[64];
    snprintf(e->why, sizeof e->why, "node %s (%s) %s", tg_node_name(e->t, i, nm, sizeof nm),
             e->t->nodes[i].op ? e->t->nodes[i].op->name : "a leaf", why);
    return -1;
}

/* Whether node i has the loop's shape (the first big value met sets it). */
static int loop_shape(emitter *e, fused *f, uint32_t i)
{
    const tg_view v = tg_node_view(e->t, i);
    if (f->rank < 0) {
        f->rank = v.rank;
        memcpy(f->shape, v.shape, sizeof f->shape);
    }
    return v.rank == f->rank && !memcmp(v.shape, f->shape, (size_t)v.rank * sizeof *v.shape);
}

/* What node i's op says of itself for the loop: TG_FUSE_*, a window's map in base, stride. */
static int fuse_kind(const emitter *e, uint32_t i, size_t *base, size_t *stride)
{
    const tg_node *nd = &e->t->nodes[i];
    if (!nd->op || !nd->op->fuse || !tg_node_is_tensor(nd) || tg_node_is_leaf(nd))
        return TG_FUSE_NONE;
    tg_op_ctx c;
    uint32_t idx[TG_MAX_ARITY];
    tg_node_ctx(e->t, i, &c, idx);
    return nd->op->fuse(&c, base, stride);
}

/* Each node's role, or -1 with e->why said; views[] counts each input's windows (F_DIRECT
 * in its role: it is read whole too), lc[] notes each small value's contributions from the
 * loop (below). */
static int plan(emitter *e, fused *f)
{
    tg_tape *t = e->t;
    unsigned char *views = e->role + e->out + 1;
    uint32_t *first = e->lc, *firstj = first + e->out + 1, *low = firstj + e->out + 1;
    f->rank = -1;
    f->first = UINT32_MAX;
    f->last = 0;
    if (tg_node_numel(t, e->out) > 1)
        return refuse(e, e->out, "is the output and has more than one element: the fused entry "
                      "returns one value (seed it through the tape, tg_compiled_run_seed)");
    for (uint32_t i = 0; i <= e->out; i++) {
        if (!(e->flag[i] & CONE)) continue;
        const tg_node *nd = &t->nodes[i];
        const int big = tg_node_is_tensor(nd) && tg_node_numel(t, i) > 1;
        if (tg_node_is_leaf(nd)) {
            e->role[i] = big ? F_LEAF : F_SMALL;
            continue;
        }
        uint32_t idx[TG_MAX_ARITY];
        const int n = tg_node_inputs(t, nd, idx);
        int post = 0;
        for (int j = 0; j < n; j++) post |= role(e, idx[j]) == F_SUM || (e->role[idx[j]] & F_POST);
        size_t base, stride[TG_MAX_RANK];
        const int kind = fuse_kind(e, i, &base, stride);
        if (nd->op->eval && !nd->op->infer && !use_op(e, nd->op)) return -1; /* written first */
        if (nd->op->eval && !nd->op->infer && !big) {
            e->role[i] = F_SMALL | (post ? F_POST : 0);
            continue;
        }
        if (nd->op->eval && !nd->op->infer) {
            if (post) return refuse(e, i, "is computed from a sum, which is complete only after "
                                    "the loop");
            if (!loop_shape(e, f, i)) return refuse(e, i, "has another shape than the loop's");
            for (int j = 0; j < n; j++)
                if (role(e, idx[j]) != F_SMALL && !loop_shape(e, f, idx[j]))
                    return refuse(e, i, "broadcasts a tensor: the loop takes one shape");
            e->role[i] = F_BIG;
            for (int j = 0; j < n; j++) e->role[idx[j]] |= role(e, idx[j]) == F_LEAF ? F_DIRECT : 0;
        } else if (kind == TG_FUSE_WINDOW && big && role(e, idx[0]) == F_LEAF) {
            if (!loop_shape(e, f, i)) return refuse(e, i, "has another shape than the loop's");
            e->role[i] = F_VIEW;
            views[idx[0]] += views[idx[0]] < 255;
        } else if (kind == TG_FUSE_SUM && is_big(e, idx[0])) {
            if (!loop_shape(e, f, idx[0])) return refuse(e, i, "sums another shape than the loop's");
            e->role[i] = F_SUM;
            e->role[idx[0]] |= role(e, idx[0]) == F_LEAF ? F_DIRECT : 0;
        } else {
            return refuse(e, i, "is not elementwise, a window of an input (slice, reshape) or a "
                          "whole sum of the loop's values");
        }
        f->first = i < f->first ? i : f->first;
        f->last = i;
    }
    /* A one-element value's contributions from the loop's nodes, in the library's order (the
     * last node first, its operands in order): the first is added in the main loop, each
     * other in a loop of its own after it, as one loop would interleave them element by
     * element where the library adds all of one before the next. */
    int extra = 0;
    for (uint32_t i = e->out + 1; i-- > 0;) {
        uint32_t idx[TG_MAX_ARITY];
        if ((e->flag[i] & (CONE | ACT)) != (CONE | ACT) || role(e, i) != F_BIG) continue;
        const int n = tg_node_inputs(t, &t->nodes[i], idx);
        for (int j = 0; j < n; j++) {
            const uint32_t o = idx[j];
            if (!(e->flag[o] & ACT) || role(e, o) != F_SMALL) continue;
            if (first[o]) extra++;
            else first[o] = i + 1, firstj[o] = (uint32_t)j;
            low[o] = i;
        }
    }
    if (extra > MAX_EXTRA_LOOPS) {
        snprintf(e->why, sizeof e->why, "one-element values are operands of the loop's "
                 "elementwise operations %d times more than once, and each time needs a loop "
                 "of its own (at most %d)", extra, MAX_EXTRA_LOOPS);
        return -1;
    }
    for (uint32_t i = 0; i <= e->out; i++) { /* where the library's order of additions holds */
        const tg_node *nd = &t->nodes[i];
        if ((e->flag[i] & (CONE | ACT)) != (CONE | ACT) || tg_node_is_leaf(nd)) continue;
        const int r = role(e, i), post = e->role[i] & F_POST;
        if (post && i < f->last)
            return refuse(e, i, "is computed from a sum and recorded before the loop's last node");
        uint32_t idx[TG_MAX_ARITY];
        const int n = tg_node_inputs(t, nd, idx);
        for (int j = 0; j < n && r == F_SMALL && !post; j++) /* its step comes after the loops */
            if ((e->flag[idx[j]] & ACT) && first[idx[j]] && low[idx[j]] < i)
                return refuse(e, i, "is differentiated after a node of the loop that adds to its "
                              "operand's derivative too: the library's sum would be reordered "
                              "(record it before the loop's nodes)");
    }
    for (uint32_t i = 0; i <= e->out; i++) { /* an input read through windows only, and two:
                                               * (0 + a) + b = (0 + b) + a, where three terms
                                               * of different windows would come in another
                                               * order than the library's */
        if ((e->flag[i] & (CONE | ACT)) != (CONE | ACT) || !views[i]) continue;
        if (e->role[i] & F_DIRECT) return refuse(e, i, "is read both whole and through windows");
        if (views[i] > 2)
            return refuse(e, i, "is read through more than two windows: the sums of its "
                          "gradient would be reordered");
    }
    return 0;
}

/* Whether node i's reverse step passes operand j (o) its contribution in the loop being
 * written: a one-element node's step (after the loops) all; in the main loop, a loop node's
 * to the inputs, the windows, the elementwise nodes that pass it on (live) and each
 * one-element value's first; in a loop of one contribution, what leads down to node only
 * (to the nodes that depend on it: live), then only's own to its operand only_j. */
static int emits(const emitter *e, uint32_t i, int j, uint32_t o)
{
    const unsigned char *live = e->role + 3 * ((size_t)e->out + 1);
    if (!(e->flag[o] & ACT)) return 0;
    if (!is_big(e, i)) return 1;
    if (e->only == UINT32_MAX && !is_big(e, o))
        return e->lc[o] == i + 1 && e->lc[e->out + 1 + o] == (uint32_t)j;
    if (e->only == UINT32_MAX) return role(e, o) != F_BIG || live[o];
    if (i == e->only) return (uint32_t)j == e->only_j;
    return i > e->only && live[o];
}

/* Before the main loop's reverse steps: which of its elementwise nodes pass anything on (a
 * loop of one contribution has the nodes that depend on its node instead). */
static void mark_live(emitter *e, const fused *f)
{
    unsigned char *live = e->role + 3 * ((size_t)e->out + 1);
    memset(live, 0, (size_t)e->out + 1);
    for (uint32_t i = f->first; i <= f->last; i++) {
        uint32_t idx[TG_MAX_ARITY];
        if ((e->flag[i] & (CONE | ACT)) != (CONE | ACT) || role(e, i) != F_BIG) continue;
        const int n = tg_node_inputs(e->t, &e->t->nodes[i], idx);
        for (int j = 0; j < n; j++) live[i] |= emits(e, i, j, idx[j]);
    }
}

/* Whether loop node i's partials are computed in this loop: some contribution reads them. */
static int partials_used(const emitter *e, uint32_t i)
{
    uint32_t idx[TG_MAX_ARITY];
    const tg_node *nd = &e->t->nodes[i];
    if (nd->op->partials != TG_PARTIALS_KEPT || !(e->flag[i] & ACT)) return 0;
    const int n = tg_node_inputs(e->t, nd, idx);
    for (int j = 0; j < n; j++)
        if (emits(e, i, j, idx[j])) return 1;
    return 0;
}


/* Elementwise node i's value (and its partials, when rev and they are kept), indented. */
static int fused_eval(emitter *e, uint32_t i, int rev, int ind)
{
    const tg_node *nd = &e->t->nodes[i];
    uint32_t idx[TG_MAX_ARITY];
    const int n = tg_node_inputs(e->t, nd, idx);
    const int kept = rev && (is_big(e, i) ? partials_used(e, i) : (e->flag[i] & ACT) &&
                                                nd->op->partials == TG_PARTIALS_KEPT);
    const char *fn = use_op(e, nd->op);
    if (!fn) return -1;
    if (kept) tg_buf_printf(e->b, "%*sdouble p_%s[%d];\n", ind, "", e->id[i], n);
    if (rev == 2) /* the partials alone */
        tg_buf_printf(e->b, "%*s(void)%s(", ind, "", fn);
    else
        tg_buf_printf(e->b, "%*sconst double %s = %s(", ind, "", e->id[i], fn);
    for (int j = 0; j < n; j++) at(e, idx[j]), tg_buf_printf(e->b, ", ");
    tg_buf_printf(e->b, kept ? "p_%s);\n" : "0);\n", e->id[i]);
    return 0;
}

/* Elementwise node i's contributions to its operands' adjoints, as tg_ew_vjp makes them: in
 * operand order, a big operand's register written by the first (fresh: the library writes a
 * whole operand's region) and added to after, a one-element operand's added to. */
static void fused_ew_vjp(emitter *e, uint32_t i, int ind)
{
    uint32_t idx[TG_MAX_ARITY];
    const int n = tg_node_inputs(e->t, &e->t->nodes[i], idx);
    for (int j = 0; j < n; j++) {
        const uint32_t o = idx[j];
        if (!emits(e, i, j, o)) continue;
        const int whole = tg_node_is_tensor(&e->t->nodes[o]) &&
                          (is_big(e, o) || !is_big(e, i));
        if (whole && !e->reached[o]) {
            tg_buf_printf(e->b, "%*s%sd_%s = tg_pass(d_%s, ", ind, "", is_big(e, o) ? "double " : "",
                          e->id[o], e->id[i]);
        } else {
            tg_buf_printf(e->b, "%*stg_acc(&d_%s, d_%s, ", ind, "", e->id[o], e->id[i]);
        }
        e->reached[o] = 1;
        partial(e, i, j, idx);
        tg_buf_printf(e->b, ");\n");
    }
}

/* The small nodes' values (post: those computed from a sum), in recording order; folded
 * ones (tg_emit_c's, from leaves it was not given) are literals where they are used. */
static int small_forward(emitter *e, int post)
{
    for (uint32_t i = 0; i <= e->out; i++)
        if ((e->flag[i] & (CONE | VARY)) == (CONE | VARY) && !tg_node_is_leaf(&e->t->nodes[i]) &&
            role(e, i) == F_SMALL && (e->role[i] & F_POST) == post && fused_eval(e, i, 1, 4))
            return -1;
    return 0;
}

/* The small nodes' reverse steps, from the last: a tensor's as tg_ew_vjp, a scalar's as the
 * scalar loop (its share to node i-1 grouped as the loop carries it). */
static void small_reverse(emitter *e, int post)
{
    tg_tape *t = e->t;
    for (uint32_t i = e->out + 1; i-- > 0;) {
        const tg_node *nd = &t->nodes[i];
        if ((e->flag[i] & (CONE | ACT)) != (CONE | ACT) || tg_node_is_leaf(nd) ||
            role(e, i) != F_SMALL || (e->role[i] & F_POST) != post)
            continue;
        if (tg_node_is_tensor(nd)) {
            fused_ew_vjp(e, i, 4);
            continue;
        }
        uint32_t idx[TG_MAX_ARITY];
        int n = tg_node_inputs(t, nd, idx), order[TG_MAX_ARITY], carry = 0;
        for (int j = 0; j < n; j++) order[j] = n == 2 ? 1 - j : j;
        for (int q = 0; q < n; q++) {
            const int j = order[q];
            if (!(e->flag[idx[j]] & ACT) || idx[j] == i - 1) continue;
            tg_buf_printf(e->b, "    d_%s += ", e->id[idx[j]]);
            contribution(e, i, j, idx);
            tg_buf_printf(e->b, ";\n");
        }
        for (int q = 0; q < n; q++) {
            const int j = order[q];
            if (!(e->flag[idx[j]] & ACT) || idx[j] != i - 1) continue;
            tg_buf_printf(e->b, carry++ ? " + " : "    d_%s += 0.0 + ", e->id[i - 1]);
            contribution(e, i, j, idx);
        }
        if (carry) tg_buf_printf(e->b, ";\n");
    }
}

/* One loop over S: the big values of each element (fwd: added into the sums too; rev: with
 * their partials, then the element's reverse steps from the last node back). */
static int fused_loop(emitter *e, const fused *f, int fwd, int rev)
{
    tg_buf *b = e->b;
    tg_tape *t = e->t;
    const int ind = 8;
    if (e->only != UINT32_MAX) {
        uint32_t idx[TG_MAX_ARITY];
        tg_node_inputs(t, &t->nodes[e->only], idx);
        tg_buf_printf(b, "    /* %s's contribution to d_%s, in a loop of its own: the library "
                      "adds all of a node's before the next node's */\n", e->id[e->only],
                      e->id[idx[e->only_j]]);
    }
    tg_buf_printf(b, "    /* %s over [", fwd && rev ? "values and derivatives, one loop" :
                                         fwd ? "values" : "derivatives (the values again)");
    for (int d = 0; d < f->rank; d++) tg_buf_printf(b, "%s%d", d ? "," : "", f->shape[d]);
    tg_buf_printf(b, "] */\n    {\n        size_t e = 0;\n");
    for (int d = 0; d < f->rank; d++)
        tg_buf_printf(b, "        for (size_t o%d = 0; o%d < %d; o%d++)%s\n", d, d, f->shape[d],
                      d, d == f->rank - 1 ? " {" : "");
    /* without the sums, only the values the derivatives read: the partners of a product's
     * operands, the operands of an op whose partials are computed, and what those read */
    unsigned char *need = e->role + 2 * ((size_t)e->out + 1);
    memset(need, fwd, (size_t)e->out + 1);
    if (rev && e->only == UINT32_MAX) mark_live(e, f);
    for (uint32_t i = f->last + 1; rev && i-- > f->first;) {
        const tg_node *nd = &t->nodes[i];
        uint32_t idx[TG_MAX_ARITY];
        if (!(e->flag[i] & CONE) || role(e, i) != F_BIG) continue;
        const int n = tg_node_inputs(t, nd, idx), kept = partials_used(e, i);
        for (int j = 0; j < n; j++) {
            need[idx[j]] |= need[i] || kept;
            if (nd->op->partials == TG_PARTIALS_SWAP && emits(e, i, 1 - j, idx[1 - j]))
                need[idx[j]] = 1; /* the partner's partial */
        }
    }
    for (uint32_t i = f->first; i <= f->last; i++) {
        const int r = role(e, i);
        if (!(e->flag[i] & CONE) || r == F_SMALL || r == F_LEAF) continue;
        uint32_t idx[TG_MAX_ARITY];
        tg_node_inputs(t, &t->nodes[i], idx);
        const int partials_only = r == F_BIG && !need[i] && rev && partials_used(e, i);
        if (r != F_SUM && !need[i] && !partials_only) continue;
        if (r == F_VIEW) {
            size_t base, stride[TG_MAX_RANK];
            fuse_kind(e, i, &base, stride);
            tg_buf_printf(b, "%*s    const double %s = V%" PRIu32 "[%zu", ind, "", e->id[i],
                          idx[0], base);
            for (int d = 0; d < f->rank; d++) tg_buf_printf(b, " + o%d * %zu", d, stride[d]);
            tg_buf_printf(b, "];\n");
        } else if (r == F_BIG) {
            if (fused_eval(e, i, partials_only ? 2 : rev, ind + 4)) return -1;
        } else if (r == F_SUM && fwd) {
            tg_buf_printf(b, "%*s    %s += ", ind, "", e->id[i]);
            at(e, idx[0]);
            tg_buf_printf(b, ";\n");
        }
    }
    if (rev) {
        const int main = e->only == UINT32_MAX;
        const uint32_t lo = main ? f->first : e->only;
        const unsigned char *dep = e->role + 3 * ((size_t)e->out + 1); /* live */
        for (uint32_t i = 0; i <= e->out; i++) e->reached[i] &= !is_big(e, i);
        for (uint32_t i = f->last + 1; i-- > lo;) {
            const int r = role(e, i);
            if ((e->flag[i] & (CONE | ACT)) != (CONE | ACT) || r == F_SMALL || r == F_LEAF)
                continue;
            uint32_t idx[TG_MAX_ARITY] = {0};
            tg_node_inputs(t, &t->nodes[i], idx);
            const uint32_t o = idx[0];
            const int big_dep = role(e, o) == F_BIG && dep[o]; /* o's adjoint is wanted */
            if (r == F_SUM && (main ? role(e, o) == F_BIG && !big_dep : !big_dep)) continue;
            if (!main && r == F_VIEW) continue;
            if (r == F_BIG) {
                fused_ew_vjp(e, i, ind + 4);
            } else if (r == F_VIEW) {
                size_t base, stride[TG_MAX_RANK];
                fuse_kind(e, i, &base, stride);
                tg_buf_printf(b, "%*s    G%" PRIu32 "[%zu", ind, "", o, base);
                for (int d = 0; d < f->rank; d++) tg_buf_printf(b, " + o%d * %zu", d, stride[d]);
                tg_buf_printf(b, "] += d_%s;\n", e->id[i]);
            } else if (r == F_SUM && (e->flag[o] & ACT)) { /* zeroed, then added */
                tg_buf_printf(b, e->reached[o] ? "%*s    d_%s += d_%s;\n"
                                               : "%*s    double d_%s = 0.0 + d_%s;\n",
                              ind, "", e->id[o], e->id[i]);
                e->reached[o] = 1;
            }
        }
        for (uint32_t i = 0; main && i <= e->out; i++) /* an input read whole: its gradient */
            if (role(e, i) == F_LEAF && (e->flag[i] & CONE) && e->reached[i])
                tg_buf_printf(b, "%*s    G%" PRIu32 "[e] = d_%s;\n", ind, "", i, e->id[i]);
    }
    tg_buf_printf(b, "%*s    e++;\n%*s}\n    }\n", ind, "", ind, "");
    return 0;
}

/* A loop for each contribution of a loop node to a one-element value after the first, in the
 * library's order (see plan): the derivatives down to that node, then its contribution. */
static int one_contribution_loops(emitter *e, const fused *f)
{
    tg_tape *t = e->t;
    unsigned char *dep = e->role + 3 * ((size_t)e->out + 1);
    for (uint32_t i = f->last + 1; i-- > f->first;) {
        uint32_t idx[TG_MAX_ARITY];
        if ((e->flag[i] & (CONE | ACT)) != (CONE | ACT) || role(e, i) != F_BIG) continue;
        const int n = tg_node_inputs(t, &t->nodes[i], idx);
        for (int j = 0; j < n; j++) {
            const uint32_t o = idx[j];
            if (!(e->flag[o] & ACT) || role(e, o) != F_SMALL ||
                (e->lc[o] == i + 1 && e->lc[e->out + 1 + o] == (uint32_t)j))
                continue;
            memset(dep, 0, (size_t)e->out + 1); /* the loop's nodes that depend on node i */
            dep[i] = 1;
            for (uint32_t c = i + 1; c <= f->last; c++) {
                uint32_t in[TG_MAX_ARITY];
                if (!(e->flag[c] & CONE) || role(e, c) != F_BIG) continue;
                const int m = tg_node_inputs(t, &t->nodes[c], in);
                for (int q = 0; q < m; q++) dep[c] |= dep[in[q]];
            }
            e->only = i;
            e->only_j = (uint32_t)j;
            const int bad = fused_loop(e, f, 0, 1);
            e->only = UINT32_MAX;
            if (bad) return -1;
        }
    }
    return 0;
}

/* Where tg_emit_c's function has leaf i: its position in the caller's list (wrt: grad[],
 * else in[]), or -1 (an input that is not in the list is folded in). */
static int slot(const emitter *e, uint32_t i, int wrt)
{
    const int n = wrt ? e->o->n_wrt : e->o->n_in;
    for (int k = 0; k < n; k++)
        if ((wrt ? e->o->wrt : e->o->in)[k].index == i) return k;
    return -1;
}

/* A folded tensor input of the standalone function: its values, as a static array. */
static void folded_array(emitter *e, uint32_t i)
{
    const tg_view v = tg_node_view(e->t, i);
    tg_buf_printf(e->b, "\n/* %s, folded in at its values */\nstatic const double V%" PRIu32
                  "[%zu] = {", e->id[i], i, v.n);
    for (size_t k = 0; k < v.n; k++) {
        tg_buf_printf(e->b, k % 4 ? ", " : k ? ",\n    " : "\n    ");
        literal(e->b, v.x[k]);
    }
    tg_buf_printf(e->b, "};\n");
}

/* The fused function: a module's tg_entry_arrays, or tg_emit_c's for a cone with tensors. */
static void fused_entry(emitter *e, const fused *f)
{
    tg_buf *b = e->b;
    tg_tape *t = e->t;
    const uint32_t out = e->out;
    const int act = (e->flag[out] & ACT) != 0, one = role(e, out) == F_SUM && f->rank >= 0;
    for (uint32_t i = 0; e->o && i <= out; i++)
        if ((e->flag[i] & CONE) && role(e, i) == F_LEAF && slot(e, i, 0) < 0) folded_array(e, i);
    tg_buf_printf(b, "\n/* whether g * d is passed on, and the forms in which the library adds "
                  "it */\nstatic inline double tg_pass(double g, double d)\n{\n"
                  "    const double v = g * d;\n    return tg_passes(v, g, d) ? v : 0.0;\n}\n"
                  "static inline void tg_acc(double *a, double g, double d)\n{\n"
                  "    const double v = g * d;\n    if (tg_passes(v, g, d)) *a += v;\n}\n"
                  "\ndouble %s(const double *const *in, double *const *grad)\n{\n",
                  !e->o ? "tg_entry_arrays" : e->o->name ? e->o->name : "f");
    tg_buf_printf(b, "    /* inputs */\n");
    int nleaves = 0; /* a module's in[] and grad[] hold every leaf, in recording order */
    for (uint32_t i = 0; i <= out; i++) {
        if (!(e->flag[i] & CONE) || !tg_node_is_leaf(&t->nodes[i])) continue;
        const int k = e->o ? slot(e, i, 0) : nleaves, g = e->o ? slot(e, i, 1) : nleaves;
        nleaves++;
        if (role(e, i) != F_LEAF) {
            if (k >= 0) tg_buf_printf(b, "    const double %s = in[%d][0];\n", e->id[i], k);
            continue;
        }
        if (k >= 0) tg_buf_printf(b, "    const double *const V%" PRIu32 " = in[%d];\n", i, k);
        if (g < 0) continue;
        tg_buf_printf(b, "    double *const G%" PRIu32 " = grad[%d];\n", i, g);
        if (!act || !(e->flag[i] & ACT) || e->role[out + 1 + i]) /* windows, or a constant */
            tg_buf_printf(b, "    memset(G%" PRIu32 ", 0, %zu * sizeof(double));\n", i,
                          tg_node_numel(t, i));
    }
    memset(e->reached, 0, (size_t)out + 1);
    e->reached[out] = 1; /* seeded */
    if (act) {
        tg_buf_printf(b, "    /* the adjoints of the one-element values */\n");
        for (uint32_t i = 0; i <= out; i++)
            if ((e->flag[i] & (CONE | ACT)) == (CONE | ACT) && !is_big(e, i))
                tg_buf_printf(b, "    double d_%s = %s;\n", e->id[i], i == out ? "1.0" : "0.0");
    }
    tg_buf_printf(b, "    /* values */\n");
    if (small_forward(e, 0)) return;
    for (uint32_t i = 0; i <= out; i++)
        if ((e->flag[i] & CONE) && role(e, i) == F_SUM)
            tg_buf_printf(b, "    double %s = 0.0;\n", e->id[i]);
    if (f->rank >= 0 && fused_loop(e, f, 1, act && one)) return;
    if (small_forward(e, F_POST)) return;
    if (act) {
        tg_buf_printf(b, "    /* derivatives, from the output back */\n");
        small_reverse(e, F_POST);
        if (f->rank >= 0 && !one && fused_loop(e, f, 0, 1)) return;
        if (f->rank >= 0 && one_contribution_loops(e, f)) return;
        small_reverse(e, 0);
    }
    for (uint32_t w = 0, k = 0; !e->o && w <= out; w++) { /* a module's one-element inputs */
        if (!(e->flag[w] & CONE) || !tg_node_is_leaf(&t->nodes[w])) continue;
        if (role(e, w) != F_LEAF)
            tg_buf_printf(b, act && (e->flag[w] & ACT) ? "    grad[%" PRIu32 "][0] = d_%s;\n"
                                                        : "    grad[%" PRIu32 "][0] = 0.0;\n",
                          k, e->id[w]);
        k++;
    }
    for (int k = 0; e->o && k < e->o->n_wrt; k++) { /* the caller's wrt, the loop's aside */
        const uint32_t w = e->o->wrt[k].index;
        const int in_cone = w <= out && (e->flag[w] & CONE);
        const size_t n = tg_node_numel(t, w);
        if (!tg_node_is_tensor(&t->nodes[w]) || (in_cone && role(e, w) != F_LEAF))
            tg_buf_printf(b, in_cone && act ? "    grad[%d][0] = d_%s;\n"
                                            : "    grad[%d][0] = 0.0;\n", k,
                          in_cone ? e->id[w] : "");
        else if (!in_cone)
            tg_buf_printf(b, "    memset(grad[%d], 0, %zu * sizeof(double));\n", k, n);
        else if (slot(e, w, 1) != k) /* listed twice: a copy of the first */
            tg_buf_printf(b, "    memcpy(grad[%d], grad[%d], %zu * sizeof(double));\n", k,
                          slot(e, w, 1), n);
    }
    tg_buf_printf(b, "    return ");
    operand(e, out);
    tg_buf_printf(b, ";\n}\n");
}

/* ---- tg_emit_c's tensors, staged: node by node on a workspace ----
 *
 * A cone the fused loop cannot take (a product, several shapes, ...) is written the way a
 * module's tg_entry_tape runs it, with the tape's arrays replaced by one workspace the
 * function allocates: every elementwise node a loop storing its values and kept partials,
 * every product the library's cblas_dgemm calls (.gemm), every window and whole sum a loop
 * (.fuse), then the reverse steps in the library's order, each gradient cleared where it is
 * first reached, as the sweep does. So it gives the interpreter's bits. Other ops (softmax,
 * the losses) exist only as the library's kernels, and a cone with one is refused. */

/* Whether every computed tensor node of the cone can be written out; else e->why says which
 * cannot. */
static int stageable(emitter *e)
{
    for (uint32_t i = 0; i <= e->out; i++) {
        const tg_node *nd = &e->t->nodes[i];
        if ((e->flag[i] & (CONE | VARY)) != (CONE | VARY) || !tg_node_is_tensor(nd) ||
            tg_node_is_leaf(nd) || elementwise(e, i))
            continue;
        size_t base, stride[TG_MAX_RANK];
        const int product = is_product(e, i);
        e->products |= product;
        if (product || fuse_kind(e, i, &base, stride) != TG_FUSE_NONE) continue;
        snprintf(e->why, sizeof e->why, "node #%" PRIu32 " (%s) is not elementwise, a product "
                 "(.gemm), a window or a whole sum (.fuse): only the library runs it", i,
                 nd->op->name);
        return 0;
    }
    return 1;
}

/* The workspace: adj[] first (out + 1 values), then each computed tensor's values, each
 * active tensor's gradient (a listed wrt leaf's is the caller's grad[]), and the kept
 * partials of each active elementwise node. */
static void layout(emitter *e)
{
    size_t at = (size_t)e->out + 1;
    for (uint32_t i = 0; i <= e->out; i++) {
        const tg_node *nd = &e->t->nodes[i];
        size_t *w = &e->woff[3 * (size_t)i];
        w[0] = w[1] = w[2] = SIZE_MAX;
        if (!(e->flag[i] & CONE) || !tg_node_is_tensor(nd)) continue;
        const size_t n = tg_node_numel(e->t, i);
        uint32_t idx[TG_MAX_ARITY];
        if ((e->flag[i] & VARY) && !tg_node_is_leaf(nd)) w[0] = at, at += n;
        if (!(e->flag[i] & ACT)) continue;
        if (!tg_node_is_leaf(nd) || slot(e, i, 1) < 0) w[1] = at, at += n;
        if (elementwise(e, i) && nd->op->partials == TG_PARTIALS_KEPT)
            w[2] = at, at += n * (size_t)tg_node_inputs(e->t, nd, idx);
    }
    e->wsize = at;
}

static void folded_array(emitter *e, uint32_t i);

static void staged_entry(emitter *e)
{
    tg_buf *b = e->b;
    tg_tape *t = e->t;
    const uint32_t out = e->out;
    const int act = (e->flag[out] & ACT) != 0;
    for (uint32_t i = 0; i <= out; i++) /* unlisted leaves, and what only they give */
        if ((e->flag[i] & CONE) && tg_node_is_tensor(&t->nodes[i]) &&
            (tg_node_is_leaf(&t->nodes[i]) ? slot(e, i, 0) < 0 : !(e->flag[i] & VARY)))
            folded_array(e, i);
    tg_buf_printf(b, "\ndouble %s(const double *const *in, double *const *grad)\n{\n",
                  e->o->name ? e->o->name : "f");
    tg_buf_printf(b, "    /* the tensors' values, gradients and kept partials, and adj[]: the "
                  "scalars' adjoints\n     * and which gradients were reached, as the "
                  "library's sweep keeps them */\n    double *const ws = calloc(%zu, "
                  "sizeof(double));\n    if (!ws) return NAN;\n    double *const adj = ws;\n"
                  "    /* inputs */\n", e->wsize);
    for (int k = 0; k < e->o->n_in; k++) {
        const uint32_t i = e->o->in[k].index;
        if (!(e->flag[i] & CONE) || slot(e, i, 0) != k) continue;
        if (tg_node_is_tensor(&t->nodes[i]))
            tg_buf_printf(b, "    const double *const V%" PRIu32 " = in[%d];\n", i, k);
        else
            tg_buf_printf(b, "    const double %s = in[%d][0];\n", e->id[i], k);
    }
    forward(e, IO_STAGED);
    memset(e->reached, 0, (size_t)out + 1);
    if (act) { /* seeded with 1, as tg_backward seeds it */
        tg_buf_printf(b, "    adj[%" PRIu32 "] = 1.0; /* the seed */\n", out);
        if (tg_node_is_tensor(&t->nodes[out])) {
            need(e, out, 'G');
            tg_buf_printf(b, "    G%" PRIu32 "[0] = 1.0;\n", out);
            e->reached[out] = 1;
        }
        reverse_tape(e);
    }
    for (int pass = 0; pass < 2; pass++) /* the gradients, then the copies of one asked twice */
        for (int k = 0; k < e->o->n_wrt; k++) {
            const uint32_t w = e->o->wrt[k].index;
            const int live = w <= out && (e->flag[w] & CONE) && act, first = slot(e, w, 1);
            if (!tg_node_is_tensor(&t->nodes[w])) {
                if (pass) continue;
                if (live) tg_buf_printf(b, "    grad[%d][0] = adj[%" PRIu32 "];\n", k, w);
                else tg_buf_printf(b, "    grad[%d][0] = 0.0;\n", k);
            } else if (first != k && pass) {
                tg_buf_printf(b, "    memcpy(grad[%d], grad[%d], %zu * sizeof(double));\n", k,
                              first, tg_node_numel(t, w));
            } else if (first == k && !pass && !(live && e->reached[w])) {
                tg_buf_printf(b, "    memset(grad[%d], 0, %zu * sizeof(double));\n", k,
                              tg_node_numel(t, w));
            }
        }
    tg_buf_printf(b, "    const double tg_y = ");
    if (tg_node_is_tensor(&t->nodes[out])) {
        need(e, out, 'V');
        tg_buf_printf(b, "V%" PRIu32 "[0]", out);
    } else {
        operand(e, out);
    }
    tg_buf_printf(b, ";\n    free(ws);\n    return tg_y;\n}\n");
}

/* ---- the whole file ---- */

static tg_status name_nodes(emitter *e)
{
    for (uint32_t i = 0; i <= e->out; i++) {
        if ((e->flag[i] & (CONE | VARY)) != (CONE | VARY)) continue;
        tg_var v = {e->t, i, e->t->epoch};
        char dflt[24];
        snprintf(dflt, sizeof dflt, e->o && i == e->out ? "f" : "t%" PRIu32, i);
        const char *label = tg_label_of(v);
        if (!(e->id[i] = unique_name(e, &e->names, "", label ? label : dflt, dflt)))
            return e->t->status;
    }
    return TG_OK;
}

/* The end of a header line naming leaf i: a tensor's shape and layout. */
static void tensor_layout(emitter *e, uint32_t i)
{
    if (e->tensors) {
        const tg_view v = tg_node_view(e->t, i);
        char sh[48];
        tg_buf_printf(e->b, v.rank ? ", a tensor %s: %zu values, row-major" : ", one value",
                      tg_view_shape(&v, sh, sizeof sh), v.n);
    }
    tg_buf_printf(e->b, "\n");
}

static void header(emitter *e)
{
    tg_buf *b = e->b;
    const char *outn = e->id[e->out] ? e->id[e->out] : "the output";
    uint32_t k = 0;
    if (e->o) {
        tg_buf_printf(b, "/* %s: %s and its gradient, generated by tapegrad %s.\n",
                      e->o->name ? e->o->name : "f", outn, tg_version());
        if (e->o->comment) {
            tg_buf_printf(b, " * ");
            comment_text(b, e->o->comment);
            tg_buf_printf(b, "\n");
        }
        tg_buf_printf(b, e->tensors ? " *\n * double %s(const double *const *in, double *const "
                                      "*grad)\n" : " *\n * double %s(const double *in, double "
                                      "*grad)\n", e->o->name ? e->o->name : "f");
        char at[24];
        for (int j = 0; j < e->o->n_in; j++) {
            const char *v = e->id[e->o->in[j].index], *label = tg_label_of(e->o->in[j]);
            snprintf(at, sizeof at, "in[%d]", j);
            tg_buf_printf(b, " *   %-8s = %s", at, v ? v : "(not used)");
            if (v && label && strcmp(v, label)) tg_buf_printf(b, " (%s)", label);
            tensor_layout(e, e->o->in[j].index);
        }
        for (int j = 0; j < e->o->n_wrt; j++) {
            const char *w = e->id[e->o->wrt[j].index];
            snprintf(at, sizeof at, "grad[%d]", j);
            tg_buf_printf(b, " *   %-8s = d%s/d%s", at, outn, w ? w : "(not used)");
            tensor_layout(e, e->o->wrt[j].index);
        }
        tg_buf_printf(b, " *   %-8s   %s\n *\n", "returns", outn);
        if (e->staged)
            tg_buf_printf(b, " * Needs <math.h>, <string.h> and <stdlib.h>%s\n * (link with -lm%s)."
                          "\n * Returns NaN, and writes no gradient, if its workspace of %zu "
                          "doubles cannot be allocated. */\n",
                          e->products ? ", and CBLAS's <cblas.h>" : "",
                          e->products ? " and a CBLAS, such as -lopenblas" : "", e->wsize);
        else
            tg_buf_printf(b, " * Needs only <math.h>%s (link with -lm). */\n",
                          e->tensors ? " and <string.h>" : "");
    } else {
        tg_buf_printf(b, "/* A module compiled by tapegrad %s (tg_compile): %s, node %" PRIu32
                      " of a tape, and its gradient. %s\n", tg_version(), outn, e->out,
                      !e->tensors ? "tg_entry_raw(in, grad):"
                      : e->fused  ? "Tensor nodes are run by the library in tg_entry_tape; "
                                    "tg_entry_arrays(in, grad) fuses them:"
                                  : "Tensor nodes are run by the library; no raw entry:");
        if (e->tensors && !e->fused) tg_buf_printf(b, " * %s.\n", e->why);
        for (uint32_t i = 0; i <= e->out; i++) {
            const int input = e->fused ? tg_node_is_leaf(&e->t->nodes[i]) : !e->tensors &&
                                                                            (e->flag[i] & INPUT);
            if (!(e->flag[i] & CONE) || !input) continue;
            char at[40];
            snprintf(at, sizeof at, e->fused ? "in[%" PRIu32 "][], grad[%" PRIu32 "][]"
                                             : "in[%" PRIu32 "], grad[%" PRIu32 "]", k, k);
            tg_buf_printf(b, " *   %s: %s (node %" PRIu32 ", a %s%s)\n", at, e->id[i], i,
                          e->flag[i] & ACT ? "parameter" : "constant",
                          tg_node_is_tensor(&e->t->nodes[i]) ? " tensor" : "");
            k++;
        }
        tg_buf_printf(b, " */\n");
        e->info->nleaves = k;
    }
    if (e->staged)
        tg_buf_printf(b, "#include <stdlib.h>\n%s", e->products ? "#include <cblas.h>\n" : "");
    if (e->tensors)
        tg_buf_printf(b, "#include <string.h>\n\n/* whether v = g * d is passed on: not the "
                      "NaN of 0 * inf */\nstatic inline int tg_passes(double v, double g, "
                      "double d) { return v == v || (g != 0.0 && d != 0.0); }\n");
    tg_buf_printf(b, "#include <math.h>\n\n"
                  "/* g * p, but nothing when g is 0: 0 * inf passes nothing back */\n"
                  "static inline double tg_back(double g, double p) "
                  "{ return g != 0.0 ? g * p : 0.0; }\n"
                  "struct tg_desc { double (*eval)(const double *x, double *d); };\n");
}

static void write_file(emitter *e)
{
    tg_buf *b = e->b;
    /* the ops first, named as the body uses them: a dry run of the body finds them */
    tg_buf probe = {.t = e->t};
    e->b = &probe;
    forward(e, IO_RAW);
    tg_buf_free(&probe);
    memset(e->ptrs, 0, (size_t)e->out + 1); /* what the dry run declared is not declared */
    e->b = b;
    if (e->t->status) return;
    fused f;
    if (e->tensors) e->fused = !plan(e, &f);
    if (e->t->status) return;
    if (e->o && e->tensors && !e->fused) { /* staged, if every node can be written out */
        char unfused[sizeof e->why];
        memcpy(unfused, e->why, sizeof unfused);
        e->staged = 1;
        if (!stageable(e)) {
            tg_fail(e->t, TG_ERR_UNSUPPORTED, "tg_emit_c: this cone fits neither one fused "
                    "loop (%s) nor the function written node by node: %s", unfused, e->why);
            return;
        }
        const size_t n = 3 * ((size_t)e->out + 1) * sizeof *e->woff;
        if (!(e->woff = tg_mem(e->t, NULL, 0, n))) {
            tg_fail(e->t, TG_ERR_NOMEM, "tg_emit_c: out of memory");
            return;
        }
        layout(e);
        tg_buf dry = {.t = e->t}; /* a dry run finds the ops it calls */
        e->b = &dry;
        staged_entry(e);
        tg_buf_free(&dry);
        e->b = b;
        memset(e->ptrs, 0, (size_t)e->out + 1);
        if (e->t->status) return;
    }
    uint32_t next = 0; /* ops called through the table */
    for (void *r = tg_table_next(&e->ops, NULL); r; r = tg_table_next(&e->ops, r))
        next += !(*(const tg_op_def **)r)->code;
    if (next && !(e->info->ext = tg_mem(e->t, NULL, 0, next * sizeof *e->info->ext))) {
        tg_fail(e->t, TG_ERR_NOMEM, "tg_compile: out of memory");
        return;
    }
    header(e);
    if (next)
        tg_buf_printf(b, "static double (*tg_ev[%" PRIu32 "])(const double *, double *);\n",
                      next);
    write_ops(e);
    if (!e->o) {
        if (e->info->next) {
            tg_buf_printf(b, "\nvoid tg_entry_init(double (*const *table)(const double *, "
                          "double *))\n{\n");
            tg_buf_printf(b, "    for (int k = 0; k < %" PRIu32 "; k++) tg_ev[k] = table[k];\n"
                          "}\n", e->info->next);
        }
        tg_buf_printf(b, "\nstruct tg_node_rec { const void *op; unsigned in[2]; double v; };\n"
                      "/* the library's steps for a tensor node, as replay and backward run it, "
                      "and where a\n * tensor's values, gradient and kept partials are */\n"
                      "struct tg_rt {\n    void *t;\n    void (*forward)(void *t, unsigned i);\n"
                      "    void (*vjp)(void *t, unsigned i);\n"
                      "    double *(*values)(void *t, unsigned i);\n"
                      "    double *(*gradient)(void *t, unsigned i);\n"
                      "    double *(*partials)(void *t, unsigned i);\n"
                      "    void (*cblas_dgemm)(int order, int ta, int tb, int m, int n, int k, "
                      "double alpha,\n                        const double *a, int lda, const "
                      "double *b, int ldb, double beta,\n                        double *c, "
                      "int ldc);\n};\n"
                      "/* CBLAS's values: a product's step is the library's cblas_dgemm call */\n"
                      "enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };\n"
                      "\nvoid tg_entry_tape(struct tg_node_rec *nd, double *part, double *pext, "
                      "double *adj, const struct tg_rt *tg_rt)\n{\n"
                      "    (void)part, (void)pext, (void)tg_rt;\n");
        forward(e, IO_TAPE);
        if (e->tensors) { /* the library holds the tensors; the raw entry fuses them */
            if (e->flag[e->out] & ACT) reverse_tape(e);
            tg_buf_printf(b, "}\n");
            if (e->fused) fused_entry(e, &f);
            return;
        }
        reverse(e, IO_TAPE);
        tg_buf_printf(b, "}\n\ndouble tg_entry_raw(const double *in, double *grad)\n{\n");
    } else if (e->staged) {
        staged_entry(e);
        return;
    } else if (e->tensors) {
        fused_entry(e, &f);
        return;
    } else {
        tg_buf_printf(b, "\ndouble %s(const double *in, double *grad)\n{\n",
                      e->o->name ? e->o->name : "f");
    }
    forward(e, IO_RAW);
    reverse(e, IO_RAW);
    gradient(e);
    result(e);
}

/* The cone's size, the raw entry's inputs and the kinked nodes of the cone. */
static void module_info(emitter *e)
{
    tg_tape *t = e->t;
    tg_emitted *info = e->info;
    uint32_t nk = 0;
    info->tensors = e->tensors;
    info->fused = e->fused;
    for (uint32_t i = 0; i <= e->out; i++) {
        info->ncone += e->flag[i] & CONE;
        info->stale += !(e->flag[i] & CONE) && tg_node_active(&t->nodes[i]);
    }
    for (uint32_t k = 0; k < t->nkinks; k++) nk += t->kinks[k].node <= e->out &&
                                                    (e->flag[t->kinks[k].node] & CONE);
    info->leaves = tg_mem(t, NULL, 0, (info->nleaves + 1) * sizeof *info->leaves);
    info->kinks = tg_mem(t, NULL, 0, (nk + 1) * sizeof *info->kinks);
    if (!info->leaves || !info->kinks) {
        tg_fail(t, TG_ERR_NOMEM, "tg_compile: out of memory");
        return;
    }
    uint32_t n = 0; /* the raw entry's inputs, as the header counted them */
    for (uint32_t i = 0; i <= e->out && n < info->nleaves; i++)
        if ((e->flag[i] & CONE) && (e->fused ? tg_node_is_leaf(&t->nodes[i]) :
                                               (e->flag[i] & INPUT) != 0))
            info->leaves[n++] = i;
    for (uint32_t k = 0; k < t->nkinks; k++)
        if (t->kinks[k].node <= e->out && (e->flag[t->kinks[k].node] & CONE))
            info->kinks[info->nkinks++] = k;
}

void tg_emitted_free(tg_tape *t, tg_emitted *info)
{
    if (info->ext) tg_mem(t, info->ext, info->next * sizeof *info->ext, 0);
    if (info->leaves) tg_mem(t, info->leaves, (info->nleaves + 1) * sizeof *info->leaves, 0);
    if (info->kinks) tg_mem(t, info->kinks, (info->nkinks + 1) * sizeof *info->kinks, 0);
    memset(info, 0, sizeof *info);
}

tg_status tg_emit(tg_tape *t, uint32_t out, const tg_emit_opts *o, tg_buf *b, tg_emitted *info)
{
    emitter e = {.t = t, .out = out, .o = o, .b = b, .info = info};
    const size_t n = (size_t)out + 1;
    tg_table_init(&e.names, 0, t->alloc, t->ud);
    tg_table_init(&e.ops, sizeof(const tg_op_def *), t->alloc, t->ud);
    e.flag = tg_mem(t, NULL, 0, n);
    e.reached = tg_mem(t, NULL, 0, n);
    e.ptrs = tg_mem(t, NULL, 0, n);
    e.id = tg_mem(t, NULL, 0, n * sizeof *e.id);
    e.role = tg_mem(t, NULL, 0, 4 * n);
    e.lc = tg_mem(t, NULL, 0, 3 * n * sizeof *e.lc);
    e.only = UINT32_MAX;
    if (!e.flag || !e.reached || !e.ptrs || !e.id || !e.role || !e.lc) {
        tg_fail(t, TG_ERR_NOMEM, "tg_compile: out of memory");
    } else {
        memset(e.flag, 0, n);
        memset(e.reached, 0, n);
        memset(e.ptrs, 0, n);
        memset(e.role, 0, 4 * n);
        memset(e.lc, 0, 3 * n * sizeof *e.lc);
        e.reached[out] = tg_node_is_tensor(&t->nodes[out]); /* seeded before the module runs */
        memset(e.id, 0, n * sizeof *e.id);
        if (!mark(&e) && !name_nodes(&e)) write_file(&e);
        if (!o && !t->status) module_info(&e);
    }
    if (e.flag) tg_mem(t, e.flag, n, 0);
    if (e.reached) tg_mem(t, e.reached, n, 0);
    if (e.ptrs) tg_mem(t, e.ptrs, n, 0);
    if (e.role) tg_mem(t, e.role, 4 * n, 0);
    if (e.lc) tg_mem(t, e.lc, 3 * n * sizeof *e.lc, 0);
    if (e.id) tg_mem(t, e.id, n * sizeof *e.id, 0);
    if (e.woff) tg_mem(t, e.woff, 3 * n * sizeof *e.woff, 0);
    tg_table_clear(&e.names);
    tg_table_clear(&e.ops);
    return t->status;
}
