/* json.c - the tests' strict JSON parser (json.h): recursive descent over RFC 8259's grammar,
 * one function per rule with the rule above it, building a tree of malloc'd nodes. The first
 * error stops the parse and is reported with its byte offset. See LICENSE. */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t len, pos;
    int depth;
    char *err;
    size_t size;
} parser;

/* Record the error (the first one only: later calls are on the way out) and return NULL. */
#ifdef __GNUC__
__attribute__((format(printf, 2, 3)))
#endif
static json *fail(parser *p, const char *fmt, ...)
{
    if (p->err && p->size > 0 && p->err[0] == '\0') {
        int n = snprintf(p->err, p->size, "at byte %zu: ", p->pos);
        va_list ap;
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < p->size) vsnprintf(p->err + n, p->size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static int peek(const parser *p) { return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1; }

/* ws = *( %x20 / %x09 / %x0A / %x0D ) */
static void ws(parser *p)
{
    while (p->pos < p->len && p->s[p->pos] && strchr(" \t\n\r", p->s[p->pos])) p->pos++;
}

static json *node(parser *p, json_kind k)
{
    json *j = calloc(1, sizeof *j);
    if (!j) return fail(p, "out of memory");
    j->kind = k;
    return j;
}

/* A growing byte buffer for a string's decoded text. */
typedef struct buf {
    char *b;
    size_t n, cap;
} buf;

static int put(buf *b, const char *bytes, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 32;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->b, cap);
        if (!q) return -1;
        b->b = q;
        b->cap = cap;
    }
    memcpy(b->b + b->n, bytes, n);
    b->n += n;
    b->b[b->n] = '\0';
    return 0;
}

/* The length of the well-formed UTF-8 sequence at s[0 .. avail), or 0 (overlong forms,
 * surrogates and code points above U+10FFFF are not well formed). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
             : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (n == 0 || n > avail) return 0;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xc0) != 0x80) return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

/* Code point c (at most U+10FFFF) as UTF-8 into out; its length. */
static size_t utf8_put(unsigned long c, char *out)
{
    if (c < 0x80) return out[0] = (char)c, 1;
    if (c < 0x800) return out[0] = (char)(0xc0 | c >> 6), out[1] = (char)(0x80 | (c & 0x3f)), 2;
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | c >> 12);
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | c >> 18);
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* The 4 hex digits after "\u" at p->pos; -1 after fail. */
static long hex4(parser *p)
{
    long v = 0;
    for (int k = 0; k < 4; k++, p->pos++) {
        int c = peek(p), d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return fail(p, "\\u needs 4 hex digits"), -1;
        v = 16 * v + d;
    }
    return v;
}

/* One escape after its backslash into b. 0, or -1 after fail. */
static int escape(parser *p, buf *b)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    int c = peek(p);
    const char *e = c > 0 ? strchr(from, c) : NULL;
    if (e && c != 'u') {
        p->pos++;
        return put(b, &to[e - from], 1) ? (fail(p, "out of memory"), -1) : 0;
    }
    if (c != 'u') return fail(p, "unknown escape '\\%c'", c > 0 ? c : '?'), -1;
    p->pos++;
    long u = hex4(p);
    if (u < 0) return -1;
    unsigned long cp = (unsigned long)u;
    if (u >= 0xdc00 && u <= 0xdfff) return fail(p, "a low surrogate without a high one"), -1;
    if (u >= 0xd800 && u <= 0xdbff) {
        if (p->pos + 2 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return fail(p, "a high surrogate without a low one"), -1;
        p->pos += 2;
        long lo = hex4(p);
        if (lo < 0) return -1;
        if (lo < 0xdc00 || lo > 0xdfff) return fail(p, "a high surrogate without a low one"), -1;
        cp = 0x10000 + (((unsigned long)u - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
    }
    char out[4];
    return put(b, out, utf8_put(cp, out)) ? (fail(p, "out of memory"), -1) : 0;
}

/* string = quotation-mark *char quotation-mark  (its decoded text into *out, malloc'd) */
static int string(parser *p, char **out, size_t *len)
{
    buf b = {0};
    p->pos++; /* the opening quote */
    for (;;) {
        int c = peek(p);
        if (c < 0) return free(b.b), fail(p, "unterminated string"), -1;
        if (c == '"') break;
        if (c < 0x20) return free(b.b), fail(p, "control character 0x%02x in a string", c), -1;
        if (c == '\\') {
            p->pos++;
            if (escape(p, &b)) return free(b.b), -1;
            continue;
        }
        size_t n = utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
        if (n == 0) return free(b.b), fail(p, "invalid UTF-8 in a string"), -1;
        if (put(&b, p->s + p->pos, n)) return free(b.b), fail(p, "out of memory"), -1;
        p->pos += n;
    }
    p->pos++;
    if (!b.b && put(&b, "", 0)) return fail(p, "out of memory"), -1;
    *out = b.b;
    *len = b.n;
    return 0;
}

static int digits(parser *p)
{
    size_t start = p->pos;
    while (peek(p) >= '0' && peek(p) <= '9') p->pos++;
    return p->pos > start;
}

/* number = [ minus ] int [ frac ] [ exp ];  int = zero / ( digit1-9 *DIGIT );
 * frac = decimal-point 1*DIGIT;  exp = e [ minus / plus ] 1*DIGIT */
static json *number(parser *p)
{
    size_t start = p->pos;
    if (peek(p) == '-') p->pos++;
    if (peek(p) == '0') p->pos++;
    else if (!(peek(p) >= '1' && peek(p) <= '9') || !digits(p)) return fail(p, "expected a value");
    if (peek(p) == '.' && (p->pos++, !digits(p))) return fail(p, "expected a digit after '.'");
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-') p->pos++;
        if (!digits(p)) return fail(p, "expected a digit in the exponent");
    }
    json *j = node(p, JSON_NUMBER);
    if (!j) return NULL;
    j->len = p->pos - start;
    if (!(j->text = malloc(j->len + 1))) return free(j), fail(p, "out of memory");
    memcpy(j->text, p->s + start, j->len);
    j->text[j->len] = '\0';
    j->number = strtod(j->text, NULL);
    if (isinf(j->number)) {
        p->pos = start;
        json_free(j);
        return fail(p, "number out of the range of a double");
    }
    return j;
}

static json *value(parser *p);

/* Append v (and, for an object, its key) to j. 0, or -1 after fail. */
static int append(parser *p, json *j, json *v, char *key)
{
    if ((j->n & (j->n - 1)) == 0) { /* 0, 1, 2, 4, ...: grow to the next power of two */
        size_t cap = j->n ? 2 * (size_t)j->n : 1;
        json **items = realloc(j->items, cap * sizeof *items);
        if (items) j->items = items;
        char **keys = key && items ? realloc(j->keys, cap * sizeof *keys) : NULL;
        if (keys) j->keys = keys;
        if (!items || (key && !keys)) return fail(p, "out of memory"), -1;
    }
    j->items[j->n] = v;
    if (key) j->keys[j->n] = key;
    j->n++;
    return 0;
}

/* array = begin-array [ value *( value-separator value ) ] end-array
 * object = begin-object [ member *( value-separator member ) ] end-object
 * member = string name-separator value */
static json *container(parser *p, int obj)
{
    char close = obj ? '}' : ']', *key = NULL;
    const char *what = obj ? "a member" : "an element";
    json *j = node(p, obj ? JSON_OBJECT : JSON_ARRAY), *v = NULL;
    if (!j) return NULL;
    p->pos++;
    ws(p);
    if (peek(p) == close) {
        p->pos++;
        return j;
    }
    for (;;) {
        ws(p);
        if (obj) {
            size_t at = p->pos, klen;
            if (peek(p) != '"') {
                fail(p, "expected a member name (a string)");
                goto bad;
            }
            if (string(p, &key, &klen)) goto bad;
            if (strlen(key) != klen || json_get(j, key)) {
                p->pos = at;
                if (strlen(key) != klen) fail(p, "a member name with \\u0000");
                else fail(p, "duplicate member name \"%s\"", key);
                goto bad;
            }
            ws(p);
            if (peek(p) != ':') {
                fail(p, "expected ':' after a name");
                goto bad;
            }
            p->pos++;
        }
        if (!(v = value(p)) || append(p, j, v, key)) goto bad;
        key = NULL, v = NULL; /* j holds them now */
        if (peek(p) == close) break;
        if (peek(p) != ',') {
            fail(p, "expected ',' or '%c' after %s", close, what);
            goto bad;
        }
        p->pos++;
        ws(p);
        if (peek(p) == close) {
            fail(p, "'%c' after ',' (a trailing comma)", close);
            goto bad;
        }
    }
    p->pos++;
    return j;
bad:
    free(key);
    json_free(v);
    json_free(j);
    return NULL;
}

/* value = false / null / true / object / array / number / string  (with the ws around it) */
static json *value(parser *p)
{
    static const struct {
        const char *word;
        json_kind kind;
        int boolean;
    } words[] = {{"null", JSON_NULL, 0}, {"false", JSON_BOOL, 0}, {"true", JSON_BOOL, 1}};
    ws(p);
    int c = peek(p);
    json *j = NULL;
    if (c < 0) return fail(p, "expected a value, found the end");
    if (c == '{' || c == '[') {
        if (p->depth == JSON_MAX_DEPTH) return fail(p, "nested deeper than %d", JSON_MAX_DEPTH);
        p->depth++;
        j = container(p, c == '{');
        p->depth--;
    } else if (c == '"') {
        if ((j = node(p, JSON_STRING)) && string(p, &j->text, &j->len)) json_free(j), j = NULL;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        j = number(p);
    } else {
        for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
            size_t n = strlen(words[k].word);
            if (p->len - p->pos >= n && memcmp(p->s + p->pos, words[k].word, n) == 0) {
                if (!(j = node(p, words[k].kind))) return NULL;
                j->boolean = words[k].boolean;
                p->pos += n;
                break;
            }
        }
        if (!j) return fail(p, "expected a value");
    }
    ws(p);
    return j;
}

json *json_parse(const char *text, size_t len, char *err, size_t size)
{
    parser p = {.s = text, .len = len, .err = err, .size = size};
    if (err && size) err[0] = '\0';
    if (!text) return fail(&p, "no text");
    json *j = value(&p);
    if (j && p.pos < len) {
        json_free(j);
        return fail(&p, "text after the value");
    }
    return j;
}

void json_free(json *j)
{
    if (!j) return;
    for (int i = 0; i < j->n; i++) {
        json_free(j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->text);
    free(j);
}

const json *json_get(const json *j, const char *key)
{
    if (!j || j->kind != JSON_OBJECT) return NULL;
    for (int i = 0; i < j->n; i++)
        if (strcmp(j->keys[i], key) == 0) return j->items[i];
    return NULL;
}

const json *json_at(const json *j, int i)
{
    if (!j || (j->kind != JSON_ARRAY && j->kind != JSON_OBJECT) || i < 0 || i >= j->n) return NULL;
    return j->items[i];
}

const char *json_key(const json *j, int i)
{
    return j && j->kind == JSON_OBJECT && i >= 0 && i < j->n ? j->keys[i] : NULL;
}

const char *json_kind_name(json_kind k)
{
    static const char *const names[] = {"null", "bool", "number", "string", "array", "object"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}
