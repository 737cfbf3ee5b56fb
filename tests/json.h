/* json.h - a small strict JSON parser for the tests (RFC 8259), so every command's --json can be
 * read back and checked value by value. A whole document becomes a tree; lookups by key and
 * by index. Strict: one value and nothing after it but whitespace, no comments, no trailing
 * commas, no NaN or Infinity, numbers only as RFC 8259 writes them and within the range of a
 * double, strings valid UTF-8 without raw control characters, escapes and surrogate pairs
 * checked. Duplicate keys in one object are rejected: our writers never emit one, so a
 * duplicate is a bug; a key may not hold \u0000 (keys are C strings). Nesting is limited to
 * JSON_MAX_DEPTH levels. See LICENSE. */
#ifndef TAPEGRAD_TEST_JSON_H
#define TAPEGRAD_TEST_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 256

typedef enum json_kind {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_kind;

typedef struct json json;
struct json {
    json_kind kind;
    int boolean;   /* JSON_BOOL: 0 or 1 */
    double number; /* JSON_NUMBER */
    char *text;    /* JSON_STRING: the decoded UTF-8 (len bytes, then a NUL; it may hold \u0000);
                    * JSON_NUMBER: the number as written, for checks of its digits */
    size_t len;
    int n;         /* JSON_ARRAY, JSON_OBJECT: how many elements or members */
    json **items;  /* their values, in document order */
    char **keys;   /* JSON_OBJECT: the members' names, in document order */
};

/* Parse text[0 .. len) as one JSON document. Returns the tree (free it with json_free), or
 * NULL with err (when not NULL; size bytes at most) saying what and where, as in
 * "at byte 12: expected ',' or '}' after a member". */
json *json_parse(const char *text, size_t len, char *err, size_t size);
void json_free(json *j);

/* The value of the member called key, or NULL (no such member, or j is not an object). */
const json *json_get(const json *j, const char *key);
/* Element i of an array or the value of member i of an object, or NULL (out of range, or
 * j is neither). */
const json *json_at(const json *j, int i);
/* The name of member i of an object, or NULL. */
const char *json_key(const json *j, int i);
/* The name of a kind, for messages: "null", "bool", "number", "string", "array", "object". */
const char *json_kind_name(json_kind k);

#endif
