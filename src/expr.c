/* expr.c - the expression language: a recursive-descent parser that records the expression on
 * a tape as it reads it (tg_parse), and the reader of definitions "f(x, y) = EXPR"
 * (tg_defs_add). Function names go through the op registry; definitions are expanded into
 * nodes where they are called. Each grammar rule's function has the rule above it; depth is
 * bounded, so no input can overflow the stack. See LICENSE. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workbench.h"

/* ---- tokens ---- */

enum {
    T_END, T_NUM, T_NAME, T_LP, T_RP, T_COMMA, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_CARET, T_EQ,
    T_LT, T_LE, T_GT, T_GE,
    T_SEP, /* between a program's statements: ';', or a line's end after a name, number or ')' */
    T_BAD
};

typedef struct token {
    int kind;
    size_t pos, len; /* where in the text */
    double num;      /* T_NUM's value */
} token;

typedef struct parser {
    tg_tape *t;             /* NULL: only check (a definition's body) */
    const char *text;
    size_t pos;             /* the next byte to read */
    token tok;              /* the current token */
    tg_names *names;
    const tg_parse_opts *o;
    const tg_defs *defs;
    const wb_def *def;      /* in a definition's body: its parameters ... */
    const tg_var *args;     /* ... and the nodes they stand for (NULL when only checking) */
    const char *defining;   /* tg_defs_add: the name being defined */
    int lines;              /* a program (tg_parse): a line's end may end a statement */
    int parens;             /* '(' not closed yet, where a line's end is a blank */
    int depth, max_depth;
    uint32_t n0, max_nodes; /* the tape's size at the start, the nodes one parse may add */
    const char *top;        /* the text tg_parse was given, where errors are placed */
    int lined;              /* top has several lines: places are "line L, column C" */
    int outer;              /* expanding a definition called at top[outer_pos] */
    size_t outer_pos;
    uint32_t lit;           /* the node of the number literal just read (folded by unary -) */
    tg_parse_error *err;
    int failed;
} parser;

static const tg_var dummy = {NULL, 0, 0};

static int clamp_int(size_t v) { return (int)(v > 0x7ffffffe ? 0x7fffffff : v); }

/* The 1-based line (0 when text is one line) and column of text[pos]. */
static int locate(const char *text, int lined, size_t pos, int *line)
{
    size_t start = 0, n = 1;
    for (size_t i = 0; lined && i < pos; i++)
        if (text[i] == '\n') start = i + 1, n++;
    *line = lined ? clamp_int(n) : 0;
    return clamp_int(pos - start + 1);
}

/* "column C" or "line L, column C": where text[pos] is, for a message. */
static const char *place(const char *text, int lined, size_t pos, char *buf, size_t size)
{
    int line, col = locate(text, lined, pos, &line);
    if (line) snprintf(buf, size, "line %d, column %d", line, col);
    else snprintf(buf, size, "column %d", col);
    return buf;
}

/* dst = src, cut to dst's size. */
static void copy_msg(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Record the first error: what, and where. In a definition's body the place is the call's
 * column and the message says where in the definition. */
static void fail(parser *p, size_t pos, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fail(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed) return;
    p->failed = 1;
    tg_parse_error *e = p->err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->status = TG_ERR_PARSE;
    if (p->outer && p->def) {
        size_t n = strlen(e->message);
        snprintf(e->message + n, sizeof e->message - n, " (in definition '%s', column %d)",
                 p->def->name, clamp_int(pos + 1));
        pos = p->outer_pos;
    }
    e->column = locate(p->top, p->lined, pos, &e->line);
}

/* The tape refused a node (out of memory, anomaly mode, a stale or foreign handle). */
static void tape_failed(parser *p, size_t pos)
{
    if (p->failed) return;
    p->failed = 1;
    p->err->status = p->t->status ? p->t->status : TG_ERR_ARG;
    p->err->column = locate(p->top, p->lined, p->outer ? p->outer_pos : pos, &p->err->line);
    copy_msg(p->err->message, sizeof p->err->message,
             p->t->status ? p->t->msg : "the tape refused a node");
}

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Up to 40 characters of s[0..len), with "..." when cut, for messages. */
static const char *clip(const char *s, size_t len, char *buf, size_t size)
{
    size_t max = size < 44 ? size - 4 : 40;
    if (len <= max) {
        memcpy(buf, s, len);
        buf[len] = '\0';
    } else {
        memcpy(buf, s, max);
        memcpy(buf + max, "...", 4);
    }
    return buf;
}

/* The current token in words: "name 'x'", "number '2.5'", "'*'", "the end". */
static const char *tok_words(const parser *p, char *buf, size_t size)
{
    char c[48];
    const token *k = &p->tok;
    switch (k->kind) {
    case T_END: snprintf(buf, size, "the end of the expression"); break;
    case T_SEP:
        snprintf(buf, size, "%s", p->text[k->pos] == ';' ? "';'" : "the end of the line");
        break;
    case T_NAME: snprintf(buf, size, "name '%s'", clip(p->text + k->pos, k->len, c, sizeof c)); break;
    case T_NUM: snprintf(buf, size, "number '%s'", clip(p->text + k->pos, k->len, c, sizeof c)); break;
    default: snprintf(buf, size, "'%.*s'", (int)k->len, p->text + k->pos); break;
    }
    return buf;
}

/* Whether s[0..len) has a nonzero digit before any exponent (so a 0 from strtod is an
 * underflow, not the number zero). */
static int nonzero_mantissa(const char *s, size_t len)
{
    int hex = len > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    for (size_t i = hex ? 2 : 0; i < len; i++) {
        char c = s[i];
        if ((hex && (c == 'p' || c == 'P')) || (!hex && (c == 'e' || c == 'E'))) break;
        if ((c >= '1' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))))
            return 1;
    }
    return 0;
}

/* Read the next token into p->tok (T_BAD after fail for bytes no token starts with). Blanks and
 * '#' comments are skipped; in a program, a line's end outside parentheses ends a statement
 * when the line ends in a name, a number or ')' (after an operator the statement goes on). */
static void advance(parser *p)
{
    const char *s = p->text;
    size_t i = p->pos;
    token *k = &p->tok;
    int ends = p->lines && p->parens == 0 &&
               (k->kind == T_NAME || k->kind == T_NUM || k->kind == T_RP);
    for (;; i++) {
        if (s[i] == '#')
            while (s[i + 1] != '\0' && s[i + 1] != '\n') i++;
        else if (s[i] == '\n' && ends)
            break;
        else if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            break;
    }
    unsigned char c = (unsigned char)s[i];
    k->pos = i;
    k->len = 1;
    if (c == '\n' || (c == ';' && p->lines)) {
        k->kind = T_SEP;
    } else if (c == '\0') {
        k->kind = T_END;
        k->len = 0;
    } else if (is_digit(c) || (c == '.' && is_digit((unsigned char)s[i + 1]))) {
        char *end;
        errno = 0;
        double v = strtod(s + i, &end);
        k->kind = T_NUM;
        k->len = (size_t)(end - (s + i));
        k->num = v;
        char b[48];
        if (isinf(v))
            fail(p, i, "number '%s' is out of range for a double", clip(s + i, k->len, b, sizeof b));
        else if (v == 0.0 && errno == ERANGE && nonzero_mantissa(s + i, k->len))
            fail(p, i, "number '%s' underflows to 0", clip(s + i, k->len, b, sizeof b));
    } else if (is_alpha(c)) {
        size_t j = i + 1;
        while (is_alpha((unsigned char)s[j]) || is_digit((unsigned char)s[j])) j++;
        if (s[j] == '[') {
            size_t d = j + 1;
            while (is_digit((unsigned char)s[d])) d++;
            if (d == j + 1 || s[d] != ']') {
                fail(p, j, "a name's '[' takes digits and ']', as in w11[2]");
                k->kind = T_BAD;
                return;
            }
            j = d + 1;
        }
        k->kind = T_NAME;
        k->len = j - i;
        if (k->len > TG_NAME_MAX) fail(p, i, "name longer than %d characters", TG_NAME_MAX);
    } else if (c == '<' || c == '>') {
        int eq = s[i + 1] == '=';
        k->kind = c == '<' ? (eq ? T_LE : T_LT) : (eq ? T_GE : T_GT);
        k->len = 1 + (size_t)eq;
    } else {
        static const char ops[] = "(),+-*/^=";
        static const int kinds[] = {T_LP, T_RP, T_COMMA, T_PLUS, T_MINUS, T_STAR, T_SLASH,
                                    T_CARET, T_EQ};
        const char *at = c ? strchr(ops, c) : NULL;
        if (at) {
            k->kind = kinds[at - ops];
            p->parens += k->kind == T_LP ? 1 : k->kind == T_RP && p->parens > 0 ? -1 : 0;
        } else {
            k->kind = T_BAD;
            if (c >= 0x80)
                fail(p, i, "byte 0x%02x is not ASCII (expressions are ASCII text)", c);
            else if (c < 0x20 || c == 0x7f)
                fail(p, i, "unexpected control character 0x%02x", c);
            else if (c == '[')
                fail(p, i, "unexpected '[' (an index follows a name directly, as in w11[2])");
            else
                fail(p, i, "unexpected character '%c'", c);
        }
    }
    p->pos = i + k->len;
}

/* ---- suggestions: the nearest known name by edit distance ---- */

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), or a value
 * above cap once it must exceed cap. Both strings are at most TG_NAME_MAX long. */
static int distance(const char *a, size_t la, const char *b, size_t lb, int cap)
{
    if (la > TG_NAME_MAX || lb > TG_NAME_MAX) return cap + 1;
    if ((la > lb ? la - lb : lb - la) > (size_t)cap) return cap + 1;
    int r0[TG_NAME_MAX + 2], r1[TG_NAME_MAX + 2], r2[TG_NAME_MAX + 2];
    int *pp = r0, *pr = r1, *cur = r2;
    for (size_t j = 0; j <= lb; j++) pr[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        int best = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = pr[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            if (pr[j - 1] + cost < v) v = pr[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
            if (v < best) best = v;
        }
        if (best > cap) return cap + 1;
        int *tmp = pp;
        pp = pr;
        pr = cur;
        cur = tmp;
    }
    return pr[lb];
}

typedef struct nearest {
    const char *name; /* the query */
    size_t len;
    const char *best;
    int d, cap;
} nearest;

static void consider(nearest *n, const char *cand)
{
    size_t lc = strlen(cand);
    if (lc == n->len && memcmp(cand, n->name, lc) == 0) return;
    int d = distance(n->name, n->len, cand, lc, n->cap);
    if (d <= n->cap && (!n->best || d < n->d || (d == n->d && strcmp(cand, n->best) < 0))) {
        n->best = cand;
        n->d = d;
    }
}

static nearest nearest_new(const char *name, size_t len)
{
    nearest n = {name, len, NULL, 0, len <= 4 ? 1 : len <= 7 ? 2 : 3};
    return n;
}

/* Common names of ops under other words. */
static const char *const aliases[][2] = {
    {"ln", "log"}, {"swish", "silu"}, {"logistic", "sigmoid"}, {"sigma", "sigmoid"},
    {"heaviside", "step"}, {"Phi", "normcdf"}, {"prelu", "leaky_relu"}, {"lrelu", "leaky_relu"},
};

/* " (did you mean 'sigmoid'?)" for an unknown function, or "". */
static const char *suggest_function(const parser *p, const char *name, size_t len, char *buf,
                                    size_t size)
{
    nearest n = nearest_new(name, len);
    const struct tg_registry *reg = p->o ? p->o->registry : NULL;
    for (size_t a = 0; a < sizeof aliases / sizeof aliases[0]; a++)
        if (strlen(aliases[a][0]) == len && memcmp(aliases[a][0], name, len) == 0 &&
            tg_registry_find(reg, aliases[a][1]))
            n.best = aliases[a][1], n.d = 0;
    for (int i = 0; !n.best && i < tg_registry_count(reg); i++)
        if (tg_registry_at(reg, i)->eval) consider(&n, tg_registry_at(reg, i)->name);
    for (int i = 0; (!n.best || n.d > 0) && i < tg_defs_count(p->defs); i++) consider(&n, tg_defs_name(p->defs, i));
    buf[0] = '\0';
    if (n.best) snprintf(buf, size, " (did you mean '%s'?)", n.best);
    return buf;
}

static const char *suggest_name(const parser *p, const char *name, size_t len, char *buf,
                                size_t size)
{
    nearest n = nearest_new(name, len);
    for (int i = 0; i < tg_names_count(p->names); i++) consider(&n, tg_names_name(p->names, i));
    buf[0] = '\0';
    if (n.best) snprintf(buf, size, " (did you mean '%s'?)", n.best);
    return buf;
}

/* ---- recording ---- */

static tg_var bad(const parser *p) { return tg_err_var(p->t); }

static tg_var record(parser *p, const tg_op_def *op, int n, const tg_var *in, size_t pos)
{
    if (!p->t) return dummy;
    if (p->t->n - p->n0 >= p->max_nodes) {
        fail(p, pos, "the expression records more than %u nodes (each call of a definition "
             "records its body again)", (unsigned)p->max_nodes);
        return bad(p);
    }
    tg_var r = n == 1 ? tg_apply1(op, in[0]) : n == 2 ? tg_apply2(op, in[0], in[1])
                                                      : tg_apply(op, n, in);
    if (r.index == TG_NONE) tape_failed(p, pos);
    return r;
}

static tg_var record2(parser *p, const tg_op_def *op, tg_var a, tg_var b, size_t pos)
{
    tg_var in[2] = {a, b};
    return record(p, op, 2, in, pos);
}

static int is_function(const parser *p, const char *name, size_t len)
{
    char buf[TG_NAME_MAX + 1];
    if (wb_defs_find(p->defs, name, len)) return 1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    return tg_registry_find(p->o ? p->o->registry : NULL, buf) != NULL;
}

/* ---- the grammar ---- */

static tg_var expr(parser *p);
static tg_var unary(parser *p);

/* A name in an expression: a parameter of the definition being expanded, a bound name, or
 * a new one made by the bind hook (or a new parameter) and bound. */
static tg_var name_ref(parser *p, const char *name, size_t len, size_t pos)
{
    char buf[TG_NAME_MAX + 1], sug[300];
    for (int k = 0; p->def && k < p->def->nparams; k++)
        if (p->def->plen[k] == len && memcmp(p->text + p->def->poff[k], name, len) == 0)
            return p->args ? p->args[k] : dummy;
    tg_var v;
    if (p->t && wb_names_find(p->names, name, len, &v)) {
        if (v.tape != p->t) {
            fail(p, pos, "name '%.*s' is bound to a node of another tape", (int)len, name);
            return bad(p);
        }
        if (tg_live(p->t, v) && !tg_label_of(v)) { /* the caller's node: name it too */
            memcpy(buf, name, len);
            buf[len] = '\0';
            if (tg_tape_find(p->t, buf).index == TG_NONE) tg_label(v, buf);
            if (p->t->status) {
                tape_failed(p, pos);
                return bad(p);
            }
        }
        return v;
    }
    if (is_function(p, name, len)) {
        fail(p, pos, "'%.*s' is a function: call it as %.*s(...)", (int)len, name, (int)len, name);
        return bad(p);
    }
    if (!p->t) return dummy;
    memcpy(buf, name, len);
    buf[len] = '\0';
    v = p->o && p->o->bind ? p->o->bind(p->o->bind_ud, p->t, buf) : tg_param(p->t, 0.0);
    if (p->t->status) {
        tape_failed(p, pos);
        return bad(p);
    }
    if (v.index == TG_NONE || !v.tape) {
        fail(p, pos, "unknown name '%s'%s", buf, suggest_name(p, name, len, sug, sizeof sug));
        return bad(p);
    }
    if (v.tape != p->t || !tg_live(p->t, v)) {
        fail(p, pos, "the node made for name '%s' is not a live node of this tape", buf);
        return bad(p);
    }
    if (tg_names_set(p->names, buf, v) != TG_OK) {
        tg_fail(p->t, TG_ERR_NOMEM, "tg_parse: out of memory binding the name '%s'", buf);
        tape_failed(p, pos);
        return bad(p);
    }
    if (!tg_label_of(v) && tg_tape_find(p->t, buf).index == TG_NONE) {
        tg_label(v, buf);
        if (p->t->status) {
            tape_failed(p, pos);
            return bad(p);
        }
    }
    return v;
}

/* A definition's body with its parameters standing for args: parsed again, recorded here. */
static tg_var expand(parser *p, const wb_def *d, const tg_var *args, size_t pos)
{
    parser q = *p;
    q.text = d->text;
    q.pos = d->body;
    q.def = d;
    q.args = args;
    if (!p->outer) q.outer = 1, q.outer_pos = pos;
    q.lines = q.parens = 0;
    advance(&q);
    tg_var r = expr(&q);
    if (!q.failed && q.tok.kind != T_END) fail(&q, q.tok.pos, "unexpected text after the body");
    if (q.failed) {
        p->failed = 1;
        return bad(p);
    }
    return r;
}

/* NAME '(' expr (',' expr)* ')' -- the token after NAME is '(' */
static tg_var call(parser *p, const char *name, size_t len, size_t pos)
{
    char buf[TG_NAME_MAX + 1], sug[300], w[80];
    memcpy(buf, name, len);
    buf[len] = '\0';
    const wb_def *d = wb_defs_find(p->defs, name, len);
    const tg_op_def *op = d ? NULL : tg_registry_find(p->o ? p->o->registry : NULL, buf);
    if (!d && !op) {
        if (p->defining && strcmp(buf, p->defining) == 0)
            fail(p, pos, "unknown function '%s' (a definition cannot call itself)", buf);
        else
            fail(p, pos, "unknown function '%s'%s", buf, suggest_function(p, name, len, sug, sizeof sug));
        return bad(p);
    }
    if (op && !op->eval) { /* matmul, sum, ...: their operands are tensors */
        if (strcmp(buf, "max") == 0 && tg_registry_find(p->o ? p->o->registry : NULL, "maximum"))
            fail(p, pos, "'max' is a tensor op (a tensor's largest element): the larger of two "
                 "values is maximum(a, b)");
        else
            fail(p, pos, "'%s' is a tensor op: expressions are scalar", buf);
        return bad(p);
    }
    size_t open = p->tok.pos;
    tg_var args[TG_DEF_MAX_PARAMS];
    int n = 0;
    advance(p);
    if (!p->failed && p->tok.kind != T_RP) {
        for (;;) {
            tg_var a = expr(p);
            if (p->failed) return bad(p);
            if (n < TG_DEF_MAX_PARAMS) args[n] = a;
            n++;
            if (p->tok.kind == T_COMMA) {
                advance(p);
                continue;
            }
            if (p->tok.kind == T_RP) break;
            if (p->tok.kind == T_END)
                fail(p, open, "'(' of %s(...) is never closed", buf);
            else if (!p->failed)
                fail(p, p->tok.pos, "expected ',' or ')' in the arguments of %s, found %s", buf,
                     tok_words(p, w, sizeof w));
            return bad(p);
        }
    }
    if (p->failed) return bad(p);
    advance(p); /* the ')' */
    int want = d ? d->nparams : op->arity;
    if (n != want) {
        fail(p, pos, "%s takes %d argument%s, got %d%s%s%s", buf, want, want == 1 ? "" : "s", n,
             op && op->math ? " (" : "", op && op->math ? op->math : "", op && op->math ? ")" : "");
        return bad(p);
    }
    if (!p->t) return dummy;
    return op ? record(p, op, n, args, pos) : expand(p, d, args, pos);
}

/* primary := NUMBER | NAME | NAME '(' expr (',' expr)* ')' | '(' expr ')' */
static tg_var primary(parser *p)
{
    char w[80];
    p->lit = TG_NONE;
    if (p->failed) return bad(p);
    token k = p->tok;
    switch (k.kind) {
    case T_NUM: {
        advance(p);
        if (!p->t) return dummy;
        tg_var c = tg_const(p->t, k.num);
        if (c.index == TG_NONE) {
            tape_failed(p, k.pos);
            return c;
        }
        p->lit = c.index;
        return c;
    }
    case T_NAME: {
        advance(p);
        if (p->failed) return bad(p);
        const char *name = p->text + k.pos;
        if (p->tok.kind == T_LP) return call(p, name, k.len, k.pos);
        return name_ref(p, name, k.len, k.pos);
    }
    case T_LP: {
        advance(p);
        tg_var v = expr(p);
        if (p->failed) return bad(p);
        if (p->tok.kind == T_RP) {
            advance(p);
            p->lit = TG_NONE;
            return v;
        }
        if (p->tok.kind == T_END) fail(p, k.pos, "'(' is never closed");
        else fail(p, p->tok.pos, "expected ')' or an operator, found %s", tok_words(p, w, sizeof w));
        return bad(p);
    }
    case T_END:
        fail(p, k.pos, "expected a number, a name or '(', found the end of the expression");
        return bad(p);
    case T_RP:
        fail(p, k.pos, "expected a number, a name or '(' before ')'");
        return bad(p);
    default:
        fail(p, k.pos, "expected a number, a name or '(', found %s", tok_words(p, w, sizeof w));
        return bad(p);
    }
}

/* power := primary ('^' unary)?      right-associative: 2^3^2 is 2^(3^2) */
static tg_var power(parser *p)
{
    tg_var b = primary(p);
    if (p->failed || p->tok.kind != T_CARET) return b;
    size_t pos = p->tok.pos;
    advance(p);
    tg_var e = unary(p);
    if (p->failed) return bad(p);
    return record2(p, &tg_op_pow, b, e, pos);
}

/* unary := ('-' | '+') unary | power      -x^2 is -(x^2) */
static tg_var unary(parser *p)
{
    if (p->failed) return bad(p);
    if (p->depth >= p->max_depth) {
        fail(p, p->tok.pos, "nesting deeper than %d levels (parentheses, calls, signs and ^)",
             p->max_depth);
        return bad(p);
    }
    p->depth++;
    tg_var r;
    int kind = p->tok.kind;
    if (kind == T_MINUS || kind == T_PLUS) {
        size_t pos = p->tok.pos;
        advance(p);
        r = unary(p);
        if (!p->failed && kind == T_MINUS) {
            if (p->t && r.index != TG_NONE && r.index == p->lit && r.index + 1 == p->t->n) {
                tg_set(r, -tg_value(r)); /* -2 is one constant, not neg(2) */
            } else {
                r = record(p, &tg_op_neg, 1, &r, pos);
                p->lit = TG_NONE;
            }
        }
    } else {
        r = power(p);
    }
    p->depth--;
    return p->failed ? bad(p) : r;
}

/* term := unary (('*' | '/') unary)* */
static tg_var term(parser *p)
{
    tg_var a = unary(p);
    while (!p->failed && (p->tok.kind == T_STAR || p->tok.kind == T_SLASH)) {
        const tg_op_def *op = p->tok.kind == T_STAR ? &tg_op_mul : &tg_op_div;
        size_t pos = p->tok.pos;
        advance(p);
        if (!p->failed && op == &tg_op_mul && p->tok.kind == T_STAR) {
            fail(p, p->tok.pos, "unexpected '*' ('**' is not a power: write ^)");
            break;
        }
        tg_var b = unary(p);
        if (p->failed) break;
        a = record2(p, op, a, b, pos);
    }
    return p->failed ? bad(p) : a;
}

/* sum := term (('+' | '-') term)* */
static tg_var sum(parser *p)
{
    tg_var a = term(p);
    while (!p->failed && (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS)) {
        const tg_op_def *op = p->tok.kind == T_PLUS ? &tg_op_add : &tg_op_sub;
        size_t pos = p->tok.pos;
        advance(p);
        tg_var b = term(p);
        if (p->failed) break;
        a = record2(p, op, a, b, pos);
    }
    return p->failed ? bad(p) : a;
}

/* The comparison op of token kind k, or NULL. */
static const tg_op_def *comparison(int k)
{
    return k == T_LT ? &tg_op_lt : k == T_LE ? &tg_op_le : k == T_GT ? &tg_op_gt
         : k == T_GE ? &tg_op_ge : NULL;
}

/* expr := sum (('<' | '<=' | '>' | '>=') sum)?      0 or 1; comparisons do not chain */
static tg_var expr(parser *p)
{
    tg_var a = sum(p);
    const tg_op_def *op = p->failed ? NULL : comparison(p->tok.kind);
    if (!op) return p->failed ? bad(p) : a;
    size_t pos = p->tok.pos;
    advance(p);
    tg_var b = sum(p);
    if (!p->failed && comparison(p->tok.kind))
        fail(p, p->tok.pos, "comparisons do not chain: write a < b < c as (a < b)*(b < c)");
    if (p->failed) return bad(p);
    return record2(p, op, a, b, pos);
}

/* After a whole expression only the end may come (in a program: or the next statement). */
static void expect_end(parser *p)
{
    char w[80];
    if (p->failed || p->tok.kind == T_END || (p->lines && p->tok.kind == T_SEP)) return;
    switch (p->tok.kind) {
    case T_RP: fail(p, p->tok.pos, "unmatched ')'"); break;
    case T_NAME:
    case T_NUM:
    case T_LP:
        fail(p, p->tok.pos, "missing operator before %s", tok_words(p, w, sizeof w));
        break;
    case T_EQ:
        if (p->lines)
            fail(p, p->tok.pos, "unexpected '=' (a step is NAME = EXPR; a definition f(x) = ... "
                 "goes in --def / tg_defs_add)");
        else
            fail(p, p->tok.pos, "unexpected '=' (a definition f(x) = ... goes in --def / "
                 "tg_defs_add)");
        break;
    default: fail(p, p->tok.pos, "unexpected %s", tok_words(p, w, sizeof w)); break;
    }
}

/* Where the first NAME token name[0..len) in p's text from `from` up to pos is ("column C"
 * into buf), and whether '=' follows it (an assignment); NULL when there is none. */
static const char *first_use(const parser *p, const char *name, size_t len, size_t from,
                             size_t pos, int *assigned, char *buf, size_t size)
{
    parser q = {.text = p->text, .pos = from, .lines = 1, .err = &(tg_parse_error){0}};
    for (advance(&q); q.tok.kind != T_END && q.tok.pos < pos && !q.failed; advance(&q)) {
        if (q.tok.kind != T_NAME || q.tok.len != len || memcmp(q.text + q.tok.pos, name, len))
            continue;
        size_t at = q.tok.pos;
        advance(&q);
        *assigned = q.tok.kind == T_EQ;
        return place(p->text, p->lined, at, buf, size);
    }
    return NULL;
}

/* statement := NAME '=' expr      -- the token is the NAME and '=' follows it */
static tg_var step(parser *p)
{
    token k = p->tok;
    const char *name = p->text + k.pos;
    char buf[TG_NAME_MAX + 1], at[64];
    const char *use;
    tg_var v;
    int assigned = 0;
    if (is_function(p, name, k.len))
        fail(p, k.pos, "a step cannot be named '%.*s': that is a function", (int)k.len, name);
    else if (p->t && wb_names_find(p->names, name, k.len, &v)) {
        if (!(use = first_use(p, name, k.len, 0, k.pos, &assigned, at, sizeof at)))
            fail(p, k.pos, "'%.*s' names a node already: a step takes a new name", (int)k.len,
                 name);
        else if (assigned)
            fail(p, k.pos, "step '%.*s' is assigned twice (first at %s)", (int)k.len, name, use);
        else
            fail(p, k.pos, "step '%.*s' is used at %s, before it is assigned here", (int)k.len,
                 name, use);
    }
    advance(p); /* NAME */
    advance(p); /* '=' */
    if (!p->failed && (p->tok.kind == T_SEP || p->tok.kind == T_END))
        fail(p, p->tok.pos, "step '%.*s' has no expression after '='", (int)k.len, name);
    size_t from = p->tok.pos;
    v = expr(p);
    if (p->failed || !p->t) return bad(p);
    tg_var self;
    if (wb_names_find(p->names, name, k.len, &self)) { /* bound while reading its expression */
        use = first_use(p, name, k.len, from, p->tok.pos, &assigned, at, sizeof at);
        fail(p, k.pos, "step '%.*s' uses itself (at %s)", (int)k.len, name, use ? use : "?");
        return bad(p);
    }
    memcpy(buf, name, k.len);
    buf[k.len] = '\0';
    if (wb_names_bind(p->names, buf, k.len, v, 1) != TG_OK) {
        tg_fail(p->t, TG_ERR_NOMEM, "tg_parse: out of memory binding the step '%s'", buf);
        tape_failed(p, k.pos);
        return bad(p);
    }
    if (!tg_label_of(v) && tg_tape_find(p->t, buf).index == TG_NONE) tg_label(v, buf);
    if (p->t->status) tape_failed(p, k.pos);
    return p->failed ? bad(p) : v;
}

/* program := statement (SEP statement)*      statement := NAME '=' expr | expr
 * Blank statements are skipped; every statement but the last is a step; the last one's node
 * is the program's. */
static tg_var program(parser *p)
{
    tg_var out = bad(p);
    for (;;) {
        while (p->tok.kind == T_SEP) advance(p);
        if (p->failed || p->tok.kind == T_END) return out;
        size_t start = p->tok.pos, after = p->pos;
        int parens = p->parens;
        token k = p->tok;
        advance(p);
        int assign = k.kind == T_NAME && p->tok.kind == T_EQ;
        p->tok = k; /* back to the statement's first token */
        p->pos = after;
        p->parens = parens;
        if (p->failed) return bad(p);
        out = assign ? step(p) : expr(p);
        expect_end(p);
        if (p->failed) return bad(p);
        if (assign) continue;
        while (p->tok.kind == T_SEP) advance(p);
        if (!p->failed && p->tok.kind != T_END)
            fail(p, start, "only the last statement may be a bare expression: name this one "
                 "(NAME = ...), or continue it on the next line after an operator or inside "
                 "parentheses");
    }
}

static void init_err(tg_parse_error *e)
{
    e->status = TG_OK;
    e->column = e->line = 0;
    e->message[0] = '\0';
}

tg_var tg_parse(tg_tape *t, const char *text, tg_names *names, const tg_parse_opts *opts,
                tg_parse_error *err)
{
    tg_parse_error local;
    if (!err) err = &local;
    init_err(err);
    if (!t) {
        err->status = TG_ERR_ARG;
        snprintf(err->message, sizeof err->message, "the tape is NULL");
        return tg_err_var(NULL);
    }
    if (t->status || !text) {
        if (!text) tg_fail(t, TG_ERR_ARG, "tg_parse: the text is NULL");
        err->status = t->status;
        copy_msg(err->message, sizeof err->message, t->msg);
        return tg_err_var(t);
    }
    tg_names *own = NULL;
    if (!names && !(names = own = tg_names_new_with(t->alloc, t->ud))) {
        tg_fail(t, TG_ERR_NOMEM, "tg_parse: out of memory for the name table");
        err->status = TG_ERR_NOMEM;
        copy_msg(err->message, sizeof err->message, t->msg);
        return tg_err_var(t);
    }
    parser p = {.t = t, .text = text, .top = text, .lined = strchr(text, '\n') != NULL,
                .names = names, .o = opts, .lines = 1,
                .defs = opts ? opts->defs : NULL, .err = err, .n0 = t->n, .lit = TG_NONE};
    p.max_depth = opts && opts->max_depth > 0 ? opts->max_depth : TG_PARSE_MAX_DEPTH;
    p.max_nodes = opts && opts->max_nodes > 0 ? opts->max_nodes : TG_PARSE_MAX_NODES;
    advance(&p);
    while (!p.failed && p.tok.kind == T_SEP) advance(&p);
    if (!p.failed && p.tok.kind == T_END) fail(&p, p.tok.pos, "empty expression");
    tg_var r = program(&p);
    tg_names_free(own);
    if (!p.failed) return r;
    char at[48] = "";
    if (err->line) snprintf(at, sizeof at, "line %d, ", err->line);
    if (err->status == TG_ERR_PARSE)
        tg_fail(t, TG_ERR_PARSE, "tg_parse: at %scolumn %d: %s", at, err->column, err->message);
    return tg_err_var(t);
}

/* ---- definitions ---- */

/* definition := NAME '(' NAME (',' NAME)* ')' '=' expr */
tg_status tg_defs_add(tg_defs *d, const char *text, const struct tg_registry *reg,
                      tg_parse_error *err)
{
    tg_parse_error local;
    char w[80], buf[TG_NAME_MAX + 1];
    if (!err) err = &local;
    init_err(err);
    if (!d || !text) {
        err->status = TG_ERR_ARG;
        snprintf(err->message, sizeof err->message, "%s is NULL", d ? "the text" : "the table");
        return TG_ERR_ARG;
    }
    tg_parse_opts o = {.registry = reg};
    wb_def def = {0};
    parser p = {.text = text, .top = text, .o = &o, .defs = d, .err = err, .def = &def,
                .max_depth = TG_PARSE_MAX_DEPTH, .lit = TG_NONE};
    advance(&p);
    token name = p.tok;
    if (!p.failed && name.kind != T_NAME)
        fail(&p, name.pos, "a definition starts with the function's name, as in f(x) = x^2");
    if (!p.failed) {
        memcpy(buf, text + name.pos, name.len);
        buf[name.len] = '\0';
        p.defining = buf;
        if (strchr(buf, '['))
            fail(&p, name.pos, "a function's name has no [index]");
        else if (tg_registry_find(reg, buf))
            fail(&p, name.pos, "'%s' is an op already: choose another name", buf);
        else if (wb_defs_find(d, buf, name.len))
            fail(&p, name.pos, "'%s' is defined already", buf);
        advance(&p);
    }
    if (!p.failed && p.tok.kind != T_LP)
        fail(&p, p.tok.pos, "expected '(' and the parameters after '%s', as in %s(x) = ...", buf, buf);
    if (!p.failed) advance(&p);
    while (!p.failed) {
        token k = p.tok;
        if (k.kind != T_NAME) {
            fail(&p, k.pos, "expected a parameter name, found %s", tok_words(&p, w, sizeof w));
            break;
        }
        if (def.nparams == TG_DEF_MAX_PARAMS) {
            fail(&p, k.pos, "more than %d parameters", TG_DEF_MAX_PARAMS);
            break;
        }
        for (int j = 0; j < def.nparams; j++)
            if (def.plen[j] == k.len && memcmp(text + def.poff[j], text + k.pos, k.len) == 0)
                fail(&p, k.pos, "parameter '%.*s' appears twice", (int)k.len, text + k.pos);
        if (!p.failed && is_function(&p, text + k.pos, k.len))
            fail(&p, k.pos, "parameter '%.*s' is the name of a function", (int)k.len, text + k.pos);
        def.poff[def.nparams] = (uint32_t)k.pos;
        def.plen[def.nparams++] = (uint32_t)k.len;
        advance(&p);
        if (p.failed) break;
        if (p.tok.kind == T_COMMA) {
            advance(&p);
            continue;
        }
        if (p.tok.kind == T_RP) {
            advance(&p);
            break;
        }
        fail(&p, p.tok.pos, "expected ',' or ')' after a parameter, found %s", tok_words(&p, w, sizeof w));
    }
    if (!p.failed && p.tok.kind != T_EQ)
        fail(&p, p.tok.pos, "expected '=' and the body, as in %s(x) = x^2, found %s", buf,
             tok_words(&p, w, sizeof w));
    if (!p.failed) {
        def.body = p.pos;
        advance(&p);
        if (!p.failed && p.tok.kind == T_END) fail(&p, p.tok.pos, "the body is empty");
        expr(&p); /* checked, not recorded */
        expect_end(&p);
    }
    if (p.failed) return err->status;
    tg_status st = wb_defs_insert(d, &def, text, strlen(text), buf, name.len);
    if (st != TG_OK) {
        err->status = st;
        snprintf(err->message, sizeof err->message, "out of memory adding definition '%.64s'", buf);
    }
    return st;
}
