/* test_json.c - the tests' JSON parser (json.c) on its own: every kind of value, lookups,
 * decoding of escapes, and a table of documents it must refuse, each with the byte offset of
 * the error. The commands' --json output is read with it in test_cli_json.c. See LICENSE. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

static json *parse(const char *text, char *err, size_t size)
{
    return json_parse(text, strlen(text), err, size);
}

Test(json, reads_every_kind_of_value_with_lookups_by_key_and_index)
{
    char err[128];
    json *j = parse(" {\"a\": [1, -0.5e2, 0, 1E+3], \"s\": \"hi\", \"t\": true, \"f\": false,"
                    "\n\t\"n\": null, \"o\": {}, \"e\": []}\r\n", err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert_eq(j->kind, JSON_OBJECT);
    cr_assert_eq(j->n, 7);
    cr_expect_str_eq(json_key(j, 0), "a");
    cr_expect_str_eq(json_key(j, 6), "e");
    const json *a = json_get(j, "a");
    cr_assert_eq(a->kind, JSON_ARRAY);
    cr_assert_eq(a->n, 4);
    cr_expect_eq(json_at(a, 0)->number, 1);
    cr_expect_eq(json_at(a, 1)->number, -50);
    cr_expect_str_eq(json_at(a, 1)->text, "-0.5e2", "a number keeps its text");
    cr_expect_eq(json_at(a, 3)->number, 1000);
    cr_expect_null(json_at(a, 4));
    cr_expect_null(json_at(a, -1));
    cr_expect_str_eq(json_get(j, "s")->text, "hi");
    cr_expect_eq(json_get(j, "t")->kind, JSON_BOOL);
    cr_expect_eq(json_get(j, "t")->boolean, 1);
    cr_expect_eq(json_get(j, "f")->boolean, 0);
    cr_expect_eq(json_get(j, "n")->kind, JSON_NULL);
    cr_expect_eq(json_get(j, "o")->kind, JSON_OBJECT);
    cr_expect_eq(json_get(j, "o")->n, 0);
    cr_expect_eq(json_get(j, "e")->n, 0);
    cr_expect_eq(json_at(j, 2), json_get(j, "t"), "an object's members by index too");
    cr_expect_null(json_get(j, "missing"));
    cr_expect_null(json_get(a, "a"), "an array has no keys");
    cr_expect_null(json_key(a, 0));
    json_free(j);
    const char *scalars[] = {"0", "-0", "\"\"", "null", "true", "1.7976931348623157e308",
                             "4.9406564584124654e-324", "[[[]]]"};
    for (size_t k = 0; k < sizeof scalars / sizeof scalars[0]; k++) {
        j = parse(scalars[k], err, sizeof err);
        cr_expect_not_null(j, "%s: %s", scalars[k], err);
        json_free(j);
    }
    cr_expect_str_eq(json_kind_name(JSON_OBJECT), "object");
}

Test(json, numbers_read_back_to_the_same_double_with_17_digits)
{
    const double v[] = {0.1, 1.0 / 3, -2.5e-300, 6.02214076e23, 0.92767051187148675};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        char text[64];
        snprintf(text, sizeof text, "%.17g", v[k]);
        json *j = parse(text, NULL, 0);
        cr_assert_not_null(j, "%s", text);
        cr_expect_eq(j->number, v[k], "%s read as %.17g", text, j->number);
        json_free(j);
    }
}

Test(json, decodes_escapes_surrogate_pairs_and_utf8)
{
    char err[128];
    json *j = parse("[\"q\\\"b\\\\s\\/n\\nt\\tu\\u00e9\", \"\\ud83d\\ude00\", \"\xc3\xa9\", "
                    "\"a\\u0000b\"]", err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_expect_str_eq(json_at(j, 0)->text, "q\"b\\s/n\nt\tu\xc3\xa9");
    cr_expect_str_eq(json_at(j, 1)->text, "\xf0\x9f\x98\x80", "U+1F600 from its surrogate pair");
    cr_expect_str_eq(json_at(j, 2)->text, "\xc3\xa9", "raw UTF-8 is kept");
    cr_expect_eq(json_at(j, 3)->len, 3, "\\u0000 is a byte of the string");
    cr_expect_eq(memcmp(json_at(j, 3)->text, "a\0b", 3), 0);
    json_free(j);
}

Test(json, refuses_malformed_documents_saying_where)
{
    static const struct {
        const char *text;
        const char *err;
    } bad[] = {
        {"", "at byte 0: expected a value, found the end"},
        {"   ", "at byte 3: expected a value, found the end"},
        {"{} {}", "at byte 3: text after the value"},
        {"1 x", "at byte 2: text after the value"},
        {"[1,]", "at byte 3: ']' after ',' (a trailing comma)"},
        {"{\"a\": 1,}", "at byte 8: '}' after ',' (a trailing comma)"},
        {"[1 2]", "at byte 3: expected ',' or ']' after an element"},
        {"{\"a\" 1}", "at byte 5: expected ':' after a name"},
        {"{a: 1}", "at byte 1: expected a member name (a string)"},
        {"{\"a\": 1, \"a\": 2}", "at byte 9: duplicate member name \"a\""},
        {"{\"a\\u0000\": 1}", "at byte 1: a member name with \\u0000"},
        {"[01]", "at byte 2: expected ',' or ']' after an element"},
        {"-", "at byte 1: expected a value"},
        {"+1", "at byte 0: expected a value"},
        {".5", "at byte 0: expected a value"},
        {"1.", "at byte 2: expected a digit after '.'"},
        {"1e", "at byte 2: expected a digit in the exponent"},
        {"1e999", "at byte 0: number out of the range of a double"},
        {"NaN", "at byte 0: expected a value"},
        {"Infinity", "at byte 0: expected a value"},
        {"nul", "at byte 0: expected a value"},
        {"True", "at byte 0: expected a value"},
        {"\"abc", "at byte 4: unterminated string"},
        {"\"a\tb\"", "at byte 2: control character 0x09 in a string"},
        {"\"\\x\"", "at byte 2: unknown escape '\\x'"},
        {"\"\\u12g4\"", "at byte 5: \\u needs 4 hex digits"},
        {"\"\\ud800\"", "at byte 7: a high surrogate without a low one"},
        {"\"\\ud800\\u0041\"", "at byte 13: a high surrogate without a low one"},
        {"\"\\udc00\"", "at byte 7: a low surrogate without a high one"},
        {"\"\xc3\"", "at byte 1: invalid UTF-8 in a string"},
        {"\"\xc0\xaf\"", "at byte 1: invalid UTF-8 in a string"},
        {"\"\xed\xa0\x80\"", "at byte 1: invalid UTF-8 in a string"},
        {"\xef\xbb\xbf{}", "at byte 0: expected a value"},
        {"// c\n{}", "at byte 0: expected a value"},
        {"[1] // c", "at byte 4: text after the value"},
        {"{'a': 1}", "at byte 1: expected a member name (a string)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char err[128] = "unchanged";
        json *j = parse(bad[k].text, err, sizeof err);
        cr_expect_null(j, "accepted: %s", bad[k].text);
        json_free(j);
        cr_expect_str_eq(err, bad[k].err, "for %s", bad[k].text);
    }
}

Test(json, refuses_nul_bytes_and_nesting_beyond_the_limit)
{
    char err[128];
    cr_expect_null(json_parse("[1]\0", 4, err, sizeof err), "a NUL after the value");
    cr_expect_str_eq(err, "at byte 3: text after the value");
    cr_expect_null(json_parse("[\0]", 3, err, sizeof err));
    cr_expect_null(json_parse(NULL, 0, err, sizeof err));
    static char deep[2 * JSON_MAX_DEPTH + 8];
    for (int k = 0; k <= JSON_MAX_DEPTH; k++) deep[k] = '[', deep[2 * JSON_MAX_DEPTH + 1 - k] = ']';
    size_t n = 2 * JSON_MAX_DEPTH + 2;
    cr_expect_null(json_parse(deep, n, err, sizeof err), "%d levels", JSON_MAX_DEPTH + 1);
    cr_expect_str_eq(err, "at byte 256: nested deeper than 256");
    json *j = json_parse(deep + 1, n - 2, err, sizeof err);
    cr_expect_not_null(j, "%d levels: %s", JSON_MAX_DEPTH, err);
    json_free(j);
    json_free(NULL);
}
