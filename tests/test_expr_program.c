/* test_expr_program.c - programs with named steps (tg_parse): "z = w*x + b; a = sigmoid(z);
 * E = 0.5*(a - t)^2". Statements end at ';' or at a line's end after a name, a number or ')';
 * '#' comments; the last statement is the output; each step is a labelled node, bound in
 * the name table and marked as a step; and every wrong program is refused with the places
 * of both ends of the mistake. See LICENSE. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "tapegrad.h"
#include "tapegrad_expr.h"

static size_t *indices(size_t n)
{
    size_t *p = cr_malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = i;
    return p;
}

static void indices_free(struct criterion_test_params *crp) { cr_free(crp->params); }

/* Leaves made by the parser take these values (0 for any other name). */
static tg_var bind(void *ud, tg_tape *t, const char *name)
{
    (void)ud;
    const char *names[] = {"w", "x", "b", "t"};
    const double values[] = {0.5, 2, -1, 1};
    for (int i = 0; i < 4; i++)
        if (strcmp(names[i], name) == 0) return tg_param(t, values[i]);
    return tg_param(t, 0.0);
}

static tg_var parse(tg_tape *t, tg_names *n, const char *text, tg_parse_error *err)
{
    tg_parse_opts o = {.bind = bind};
    return tg_parse(t, text, n, &o, err);
}

Test(expr_program, steps_are_labelled_nodes_and_the_last_is_the_output)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_parse_error err;
    tg_var E = parse(t, n, "z = w*x + b; a = sigmoid(z); E = 0.5*(a - t)^2", &err);
    cr_assert_neq(E.index, TG_NONE, "%s", err.message);
    double z = 0.5 * 2 - 1, a = 1 / (1 + exp(-z));
    cr_assert_float_eq(tg_value(E), 0.5 * (a - 1) * (a - 1), 1e-15);
    cr_assert_str_eq(tg_label_of(E), "E");
    /* names in binding order: leaves as met, steps as assigned */
    const char *order[] = {"w", "x", "b", "z", "a", "t", "E"};
    const int steps[] = {0, 0, 0, 1, 0, 0, 1};
    cr_assert_eq(tg_names_count(n), 7);
    for (int i = 0; i < 7; i++) {
        cr_assert_str_eq(tg_names_name(n, i), order[i]);
        int step = strcmp(order[i], "a") == 0 ? 1 : steps[i];
        cr_assert_eq(tg_names_is_step(n, i), step, "%s", order[i]);
        tg_var v = tg_names_var(n, i);
        cr_assert_str_eq(tg_label_of(v), order[i], "each node is labelled with its name");
        cr_assert_eq(tg_tape_find(t, order[i]).index, v.index);
    }
    cr_assert_eq(tg_names_is_step(n, 7), 0, "out of range");
    cr_assert_eq(tg_names_is_step(NULL, 0), 0);
    /* the step nodes' adjoints are the deltas of a hand derivation */
    cr_assert_eq(tg_backward(E), TG_OK);
    double dEda = a - 1, dEdz = dEda * a * (1 - a);
    cr_assert_float_eq(tg_gradient(tg_names_get(n, "a")), dEda, 1e-15);
    cr_assert_float_eq(tg_gradient(tg_names_get(n, "z")), dEdz, 1e-15);
    cr_assert_float_eq(tg_gradient(tg_names_get(n, "w")), dEdz * 2, 1e-15);
    tg_names_free(n);
    tg_tape_free(t);
}

Test(expr_program, lines_comments_and_continuations)
{
    /* a line's end after a name, number or ')' ends a statement; after an operator or
     * inside parentheses it is a blank; '#' starts a comment; blank statements are skipped */
    const char *text = "# the article's last layer\n"
                       "z1[3] = w*x +   # a weighted sum\n"
                       "        b\n"
                       "\n"
                       "a1[3] = sigmoid(z1[3]);;\n"
                       "E = 0.5*(a1[3]\n"
                       "         - t)^2   # the error\n";
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_parse_error err;
    tg_var E = parse(t, n, text, &err);
    cr_assert_neq(E.index, TG_NONE, "line %d, column %d: %s", err.line, err.column, err.message);
    double a = 1 / (1 + exp(-0.0));
    cr_assert_float_eq(tg_value(E), 0.5 * (a - 1) * (a - 1), 1e-15);
    cr_assert_str_eq(tg_label_of(tg_names_get(n, "z1[3]")), "z1[3]");
    tg_names_free(n);
    tg_tape_free(t);
}

Test(expr_program, a_bare_output_and_aliases)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var f = parse(t, n, "u = x^2; v = u; u + v + 1", NULL);
    cr_assert_float_eq(tg_value(f), 9, 0);
    cr_assert_null(tg_label_of(f), "a bare output has no name");
    /* v is the same node as u: the node keeps its first name, both names are steps */
    cr_assert_eq(tg_names_get(n, "v").index, tg_names_get(n, "u").index);
    cr_assert_str_eq(tg_label_of(tg_names_get(n, "v")), "u");
    cr_assert_eq(tg_names_is_step(n, 2), 1);
    tg_names_free(n);
    tg_tape_free(t);
}

Test(expr_program, a_definition_is_still_one_expression)
{
    /* tg_defs_add reads one expression: a newline is a blank there, ';' is refused */
    tg_defs *d = tg_defs_new();
    tg_parse_error err;
    cr_assert_eq(tg_defs_add(d, "f(u) = u\n  + 1", NULL, &err), TG_OK, "%s", err.message);
    cr_assert_eq(tg_defs_add(d, "g(u) = u; 2", NULL, &err), TG_ERR_PARSE);
    cr_assert_str_eq(err.message, "unexpected character ';'");
    tg_tape *t = tg_tape_new();
    tg_parse_opts o = {.defs = d, .bind = bind};
    tg_var y = tg_parse(t, "h = f(x)\nh*h", NULL, &o, &err);
    cr_assert_float_eq(tg_value(y), 9, 0, "%s", err.message);
    tg_tape_free(t);
    tg_defs_free(d);
}

typedef struct bad_case {
    const char *text;
    int line, column;
    const char *message;
} bad_case;

static bad_case bad[] = {
    {"a = z + 1; z = x", 0, 12, "step 'z' is used at column 5, before it is assigned here"},
    {"z = x; z = 2", 0, 8, "step 'z' is assigned twice (first at column 1)"},
    {"z = x\na = z\nz = 2", 3, 1, "step 'z' is assigned twice (first at line 1, column 1)"},
    {"a = 2*z\nz = x", 2, 1, "step 'z' is used at line 1, column 7, before it is assigned here"},
    {"sigmoid = x", 0, 1, "a step cannot be named 'sigmoid': that is a function"},
    {"z = 2*z + 1", 0, 1, "step 'z' uses itself (at column 7)"},
    {"x = 2", 0, 1, "'x' names a node already: a step takes a new name"},
    {"z = ", 0, 5, "step 'z' has no expression after '='"},
    {"z = ; 1", 0, 5, "step 'z' has no expression after '='"},
    {"x; y", 0, 1, "only the last statement may be a bare expression: name this one "
                   "(NAME = ...), or continue it on the next line after an operator or inside "
                   "parentheses"},
    {"x\n+ y", 1, 1, "only the last statement may be a bare expression: name this one "
                     "(NAME = ...), or continue it on the next line after an operator or "
                     "inside parentheses"},
    {"z = x +\n", 2, 1, "expected a number, a name or '(', found the end of the expression"},
    {"sigmoid(x) = 2", 0, 12, "unexpected '=' (a step is NAME = EXPR; a definition f(x) = ... goes "
                         "in --def / tg_defs_add)"},
    {"z[1 = x", 0, 2, "a name's '[' takes digits and ']', as in w11[2]"},
    {"z = = x", 0, 5, "expected a number, a name or '(', found '='"},
    {"# only a comment\n;\n", 3, 1, "empty expression"},
    {"z = x y", 0, 7, "missing operator before name 'y'"},
    {"a = sigmod(x)\n", 1, 5, "unknown function 'sigmod' (did you mean 'sigmoid'?)"},
};

ParameterizedTestParameters(expr_program, errors_name_both_places)
{
    size_t n = sizeof bad / sizeof bad[0];
    return cr_make_param_array(size_t, indices(n), n, indices_free);
}

ParameterizedTest(size_t *ci, expr_program, errors_name_both_places)
{
    const bad_case *c = &bad[*ci];
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_names_set(n, "x", tg_param(t, 1));
    tg_parse_error err;
    tg_var v = parse(t, n, c->text, &err);
    cr_assert_eq(v.index, TG_NONE, "'%s' was accepted", c->text);
    cr_assert_eq(err.status, TG_ERR_PARSE);
    cr_assert_str_eq(err.message, c->message, "'%s'", c->text);
    cr_assert_eq(err.line, c->line, "'%s': line %d", c->text, err.line);
    cr_assert_eq(err.column, c->column, "'%s': column %d", c->text, err.column);
    char want[400];
    if (c->line)
        snprintf(want, sizeof want, "tg_parse: at line %d, column %d: %s", c->line, c->column,
                 c->message);
    else
        snprintf(want, sizeof want, "tg_parse: at column %d: %s", c->column, c->message);
    cr_assert_str_eq(tg_tape_error(t), want);
    tg_names_free(n);
    tg_tape_free(t);
}
