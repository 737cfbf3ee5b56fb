/* test_expr_lex.c - the expression language's tokens: numbers in C's double syntax, names with
 * an [index], and a table of inputs the lexer must refuse, each with the column of the first
 * bad byte and the words of its one-line message. See LICENSE. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <string.h>

#include "tapegrad.h"
#include "tapegrad_expr.h"

/* Parameters are indices into the static tables (Criterion runs each case in a fresh
 * process, where the tables' pointers are its own). */
static size_t *indices(size_t n)
{
    size_t *p = cr_malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = i;
    return p;
}

static void indices_free(struct criterion_test_params *crp) { cr_free(crp->params); }

/* Parse text with x = 1.5 bound; the value, or NaN on error (with *e filled). */
static double eval(const char *text, tg_parse_error *e)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_names_set(n, "x", tg_param(t, 1.5));
    tg_var v = tg_parse(t, text, n, NULL, e);
    double r = v.index == TG_NONE ? NAN : tg_value(v);
    tg_names_free(n);
    tg_tape_free(t);
    return r;
}

typedef struct num_case {
    const char *text;
    double value;
} num_case;

static num_case numbers[] = {
    {"2", 2},         {"2.5", 2.5},      {".5", 0.5},     {"5.", 5},         {"1e3", 1000},
    {"1E-3", 1e-3},   {"2.5e+2", 250},   {"0x10", 16},    {"0x1p-4", 0.0625}, {"0", 0},
    {"007", 7},       {"1e308", 1e308},  {"4.9e-324", 4.9e-324},
};

ParameterizedTestParameters(expr_lex, numbers_read_as_c_doubles)
{
    size_t n = sizeof numbers / sizeof numbers[0];
    return cr_make_param_array(size_t, indices(n), n, indices_free);
}

ParameterizedTest(size_t *ci, expr_lex, numbers_read_as_c_doubles)
{
    const num_case *c = &numbers[*ci];
    tg_parse_error e;
    double v = eval(c->text, &e);
    cr_assert_eq(e.status, TG_OK, "'%s': %s", c->text, e.message);
    cr_assert_eq(v, c->value, "'%s' read as %.17g, expected %.17g", c->text, v, c->value);
}

Test(expr_lex, names_take_an_index_and_whitespace_is_free)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var v = tg_parse(t, " \tw11[2] *\n_b9 + w11[2]\r", n, NULL, NULL);
    cr_assert_neq(v.index, TG_NONE, "%s", tg_tape_error(t));
    cr_assert_eq(tg_names_count(n), 2);
    cr_assert_str_eq(tg_names_name(n, 0), "w11[2]");
    cr_assert_str_eq(tg_names_name(n, 1), "_b9");
    cr_assert_str_eq(tg_label_of(tg_names_var(n, 0)), "w11[2]", "leaves are labelled");
    tg_names_free(n);
    tg_tape_free(t);
}

typedef struct bad_case {
    const char *text;
    int column;
    const char *words; /* a part of the message */
} bad_case;

static bad_case bad[] = {
    {"x $ 2", 3, "unexpected character '$'"},
    {"x\x01", 2, "control character 0x01"},
    {"x + \xc3\xa9", 5, "byte 0xc3 is not ASCII"},
    {"\xff", 1, "byte 0xff is not ASCII"},
    {"1e999", 1, "out of range"},
    {"2 * 1e-999", 5, "underflows to 0"},
    {"w[", 2, "a name's '[' takes digits"},
    {"w[]", 2, "a name's '[' takes digits"},
    {"w[1a]", 2, "a name's '[' takes digits"},
    {"x [2]", 3, "unexpected '['"},
    {"x ** 2", 4, "'**' is not a power"},
    {"2 = x", 3, "unexpected '='"},
    {"2x", 2, "missing operator before name 'x'"},
    {"1.2.3", 4, "missing operator before number '.3'"},
    {"x.y", 2, "unexpected character '.'"},
    {"x @ y", 3, "unexpected character '@'"},
};

ParameterizedTestParameters(expr_lex, bad_bytes_are_refused_at_their_column)
{
    size_t n = sizeof bad / sizeof bad[0];
    return cr_make_param_array(size_t, indices(n), n, indices_free);
}

ParameterizedTest(size_t *ci, expr_lex, bad_bytes_are_refused_at_their_column)
{
    const bad_case *c = &bad[*ci];
    tg_parse_error e;
    eval(c->text, &e);
    cr_assert_eq(e.status, TG_ERR_PARSE, "'%s' was accepted", c->text);
    cr_assert_eq(e.column, c->column, "'%s': column %d, expected %d (%s)", c->text, e.column,
                 c->column, e.message);
    cr_assert(strstr(e.message, c->words), "'%s': message '%s' lacks '%s'", c->text, e.message,
              c->words);
}

Test(expr_lex, a_name_longer_than_the_limit_is_refused)
{
    char text[TG_NAME_MAX + 8];
    memset(text, 'a', TG_NAME_MAX + 1);
    text[TG_NAME_MAX + 1] = '\0';
    tg_parse_error e;
    eval(text, &e);
    cr_assert_eq(e.status, TG_ERR_PARSE);
    cr_assert_eq(e.column, 1);
    cr_assert(strstr(e.message, "longer than"), "%s", e.message);
    text[TG_NAME_MAX] = '\0'; /* exactly the limit: a name like any other */
    tg_tape *t = tg_tape_new();
    cr_assert_neq(tg_parse(t, text, NULL, NULL, &e).index, TG_NONE, "%s", e.message);
    tg_tape_free(t);
}

Test(expr_lex, every_single_byte_is_either_a_token_or_a_one_line_error)
{
    for (int c = 1; c < 256; c++) {
        char text[4] = {(char)c, '\0'};
        tg_parse_error e;
        eval(text, &e);
        if (e.status == TG_OK) {
            cr_assert((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          c == '_',
                      "byte 0x%02x parsed alone", c);
            continue;
        }
        cr_assert_eq(e.status, TG_ERR_PARSE, "byte 0x%02x", c);
        cr_assert_geq(e.column, 1, "byte 0x%02x: column %d", c, e.column);
        cr_assert_null(strchr(e.message, '\n'), "byte 0x%02x: message has a newline", c);
    }
}
