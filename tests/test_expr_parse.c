/* test_expr_parse.c - the grammar of DESIGN.md section 6 as written: precedence and
 * associativity (-x^2, 2^3^2, a-b-c, a/b/c), calls through the registry (user ops included),
 * definitions, the name table, a table of bad inputs with the column of each error, and the
 * limits (100,000-deep nesting, 1 MB expressions). See LICENSE. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "tapegrad.h"
#include "tapegrad_expr.h"
#include "tapegrad_op.h"

/* Parameters are indices into the static tables (Criterion runs each case in a fresh
 * process, where the tables' pointers are its own). */
static size_t *indices(size_t n)
{
    size_t *p = cr_malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = i;
    return p;
}

static void indices_free(struct criterion_test_params *crp) { cr_free(crp->params); }

/* Values a=1, b=2, c=4, x=3, y=0.5, bound before parsing. */
typedef struct env {
    tg_tape *t;
    tg_names *n;
    tg_defs *d;
} env;

static env env_new(void)
{
    env e = {tg_tape_new(), tg_names_new(), tg_defs_new()};
    const char *names[] = {"a", "b", "c", "x", "y"};
    const double values[] = {1, 2, 4, 3, 0.5};
    for (int i = 0; i < 5; i++) tg_names_set(e.n, names[i], tg_param(e.t, values[i]));
    return e;
}

static void env_free(env *e)
{
    tg_defs_free(e->d);
    tg_names_free(e->n);
    tg_tape_free(e->t);
}

static tg_var parse(env *e, const char *text, tg_parse_error *err)
{
    tg_parse_opts o = {.defs = e->d};
    return tg_parse(e->t, text, e->n, &o, err);
}

typedef struct value_case {
    const char *text;
    double value;
    const char *why;
} value_case;

static value_case values[] = {
    {"-x^2", -9, "-x^2 is -(x^2)"},
    {"2^3^2", 512, "^ is right-associative: 2^(3^2)"},
    {"a-b-c", -5, "- is left-associative: (a-b)-c"},
    {"a/b/c", 0.125, "/ is left-associative: (a/b)/c"},
    {"a-b+c", 3, "+ and - share a level, left to right"},
    {"a/b*c", 2, "* and / share a level, left to right"},
    {"a+b*c", 9, "* binds tighter than +"},
    {"b*c^2", 32, "^ binds tighter than *"},
    {"-2^2", -4, "a literal's minus still applies after ^"},
    {"2^-1", 0.5, "the exponent is a unary"},
    {"2^-x^2", 0.001953125, "2^(-(x^2))"},
    {"--x", 3, "signs nest"},
    {"+-+x", -3, "unary plus does nothing"},
    {"(a+b)*c", 12, "parentheses group"},
    {"-(x)^2", -9, "-((x)^2)"},
    {"(-x)^2", 9, "parentheses before ^"},
    {"x*-y", -1.5, "a unary after *"},
    {"a - -b", 3, "binary minus then unary minus"},
    {"exp(0) + log(1)", 1, "calls are primaries"},
    {"leaky_relu(-x, y)", -1.5, "two arguments, in order"},
    {"where(a - 1, b, c)", 4, "three arguments: c is taken when the condition is 0"},
    {"sigmoid(0)*4", 2, "a call binds tighter than *"},
    {"add(a, mul(b, c))", 9, "operators are ops too, callable by name"},
    {"pi", 3.14159265358979323846, "an unbound name is a new parameter... unless bound"},
    {"a + b > c - 2", 1, "comparisons bind more loosely than + and -: (a+b) > (c-2)"},
    {"x*2 <= b*c - 2", 1, "<= is one token: 6 <= 6"},
    {"x < 3", 0, "< is strict"},
    {"x >= 3", 1, ">= holds at equality"},
    {"b > c", 0, "> is strict"},
    {"(x > a) + (x > b)", 2, "a comparison in parentheses is a value, 0 or 1"},
    {"where(x > 2, exp(x - 3), 0)", 1, "a comparison as where's condition"},
    {"-x < -2", 1, "unary minus binds tighter than <"},
};

ParameterizedTestParameters(expr_parse, precedence_and_associativity_follow_the_grammar)
{
    size_t n = sizeof values / sizeof values[0];
    return cr_make_param_array(size_t, indices(n), n, indices_free);
}

ParameterizedTest(size_t *ci, expr_parse, precedence_and_associativity_follow_the_grammar)
{
    const value_case *c = &values[*ci];
    env e = env_new();
    tg_names_set(e.n, "pi", tg_const(e.t, 3.14159265358979323846));
    tg_parse_error err;
    tg_var v = parse(&e, c->text, &err);
    cr_assert_neq(v.index, TG_NONE, "'%s': %s", c->text, err.message);
    cr_assert_float_eq(tg_value(v), c->value, 1e-15, "'%s' = %.17g, expected %.17g (%s)",
                       c->text, tg_value(v), c->value, c->why);
    env_free(&e);
}

Test(expr_parse, minus_x_squared_differentiates_as_minus_two_x)
{
    env e = env_new();
    tg_var v = parse(&e, "-x^2", NULL);
    tg_backward(v);
    cr_assert_float_eq(tg_gradient(tg_names_get(e.n, "x")), -6, 1e-15);
    env_free(&e);
}

Test(expr_parse, a_minus_before_a_literal_folds_into_one_constant)
{
    env e = env_new();
    size_t before = tg_tape_size(e.t);
    tg_var v = parse(&e, "-2", NULL);
    cr_assert_eq(tg_tape_size(e.t), before + 1, "-2 is one node");
    cr_assert_eq(tg_value(v), -2);
    /* but a parameter of a definition is never folded: f(2) = -t + t must be 0 */
    cr_assert_eq(tg_defs_add(e.d, "f(t) = -t + t", NULL, NULL), TG_OK);
    cr_assert_eq(tg_value(parse(&e, "f(2)", NULL)), 0);
    env_free(&e);
}

Test(expr_parse, new_names_become_labelled_parameters_in_order_of_appearance)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var v = tg_parse(t, "w2*q + w1*q - w2", n, NULL, NULL);
    cr_assert_neq(v.index, TG_NONE);
    cr_assert_eq(tg_names_count(n), 3);
    const char *want[] = {"w2", "q", "w1"};
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(tg_names_name(n, i), want[i]);
        cr_assert_str_eq(tg_label_of(tg_names_var(n, i)), want[i]);
        cr_assert_eq(tg_value(tg_names_var(n, i)), 0.0, "a new parameter starts at 0");
    }
    tg_names_free(n);
    tg_tape_free(t);
}

/* A bind hook that knows only "x" and "y". */
static tg_var only_xy(void *ud, tg_tape *t, const char *name)
{
    (void)ud;
    if (strcmp(name, "x") == 0) return tg_param(t, 2);
    if (strcmp(name, "y") == 0) return tg_const(t, 3);
    tg_var none = {t, TG_NONE, 0};
    return none;
}

Test(expr_parse, the_bind_hook_makes_names_or_refuses_them_with_a_suggestion)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_parse_opts o = {.bind = only_xy};
    tg_parse_error e;
    tg_var v = tg_parse(t, "x*y", n, &o, &e);
    cr_assert_eq(tg_value(v), 6);
    v = tg_parse(t, "x + yy", n, &o, &e);
    cr_assert_eq(v.index, TG_NONE);
    cr_assert_eq(e.status, TG_ERR_PARSE);
    cr_assert_eq(e.column, 5);
    cr_assert_str_eq(e.message, "unknown name 'yy' (did you mean 'y'?)");
    cr_assert_str_eq(tg_tape_error(t), "tg_parse: at column 5: unknown name 'yy' (did you mean 'y'?)");
    tg_names_free(n);
    tg_tape_free(t);
}

Test(expr_parse, unknown_functions_get_the_nearest_op_or_definition)
{
    env e = env_new();
    tg_parse_error err;
    parse(&e, "1 + sigmod(x)", &err);
    cr_assert_eq(err.column, 5);
    cr_assert_str_eq(err.message, "unknown function 'sigmod' (did you mean 'sigmoid'?)");
    tg_tape_reset(e.t);
    tg_names_free(e.n);
    e.n = tg_names_new();
    cr_assert_eq(tg_defs_add(e.d, "swoosh(x) = x*sigmoid(x)", NULL, NULL), TG_OK);
    parse(&e, "swoosj(x)", &err);
    cr_assert_str_eq(err.message, "unknown function 'swoosj' (did you mean 'swoosh'?)");
    tg_tape_reset(e.t);
    parse(&e, "ln(x)", &err);
    cr_assert_str_eq(err.message, "unknown function 'ln' (did you mean 'log'?)");
    tg_tape_reset(e.t);
    parse(&e, "zzzzzz(x)", &err);
    cr_assert_str_eq(err.message, "unknown function 'zzzzzz'");
    env_free(&e);
}

typedef struct err_case {
    const char *text;
    int column;
    const char *message;
} err_case;

static err_case errors[] = {
    {"", 1, "empty expression"},
    {"   ", 4, "empty expression"},
    {"(x + 1", 1, "'(' is never closed"},
    {"((x)", 1, "'(' is never closed"},
    {"x + 1)", 6, "unmatched ')'"},
    {"()", 2, "expected a number, a name or '(' before ')'"},
    {"x +", 4, "expected a number, a name or '(', found the end of the expression"},
    {"x * / y", 5, "expected a number, a name or '(', found '/'"},
    {"(x y)", 4, "expected ')' or an operator, found name 'y'"},
    {"sigmoid(x, y)", 1, "sigmoid takes 1 argument, got 2 (y = 1/(1+e^-x); dy/dx = y(1-y))"},
    {"sigmoid()", 1, "sigmoid takes 1 argument, got 0 (y = 1/(1+e^-x); dy/dx = y(1-y))"},
    {"sigmoid(x", 8, "'(' of sigmoid(...) is never closed"},
    {"sigmoid(x;", 10, "expected ',' or ')' in the arguments of sigmoid, found ';'"},
    {"exp(x y)", 7, "expected ',' or ')' in the arguments of exp, found name 'y'"},
    {"sigmoid + 1", 1, "'sigmoid' is a function: call it as sigmoid(...)"},
    {"x + nosuch(2)", 5, "unknown function 'nosuch'"},
    {"2 3", 3, "missing operator before number '3'"},
    {"(x)(y)", 4, "missing operator before '('"},
    {"x (y)", 1, "unknown function 'x'"},
    {",", 1, "expected a number, a name or '(', found ','"},
    {"x^", 3, "expected a number, a name or '(', found the end of the expression"},
    {"max(x, y)", 1, "'max' is a tensor op (a tensor's largest element): the larger of two "
                     "values is maximum(a, b)"},
    {"a < b < c", 7, "comparisons do not chain: write a < b < c as (a < b)*(b < c)"},
    {"a <", 4, "expected a number, a name or '(', found the end of the expression"},
    {"< a", 1, "expected a number, a name or '(', found '<'"},
    {"a <> b", 4, "expected a number, a name or '(', found '>'"},
    {"a >= >= b", 6, "expected a number, a name or '(', found '>='"},
};

ParameterizedTestParameters(expr_parse, errors_name_what_and_the_column)
{
    size_t n = sizeof errors / sizeof errors[0];
    return cr_make_param_array(size_t, indices(n), n, indices_free);
}

ParameterizedTest(size_t *ci, expr_parse, errors_name_what_and_the_column)
{
    const err_case *c = &errors[*ci];
    env e = env_new();
    tg_parse_error err;
    tg_var v = parse(&e, c->text, &err);
    cr_assert_eq(v.index, TG_NONE, "'%s' was accepted", c->text);
    cr_assert_eq(err.status, TG_ERR_PARSE, "'%s': status %d", c->text, err.status);
    cr_assert_eq(err.column, c->column, "'%s': column %d, expected %d (%s)", c->text,
                 err.column, c->column, err.message);
    cr_assert_str_eq(err.message, c->message, "'%s'", c->text);
    cr_assert_eq(tg_tape_status(e.t), TG_ERR_PARSE, "the tape's sticky error is set");
    env_free(&e);
}

/* ---- limits ---- */

static char *repeat3(const char *pre, size_t n, const char *mid, const char *post)
{
    size_t lp = strlen(pre), lm = strlen(mid), lq = strlen(post);
    char *s = malloc(n * (lp + lq) + lm + 1), *p = s;
    for (size_t i = 0; i < n; i++, p += lp) memcpy(p, pre, lp);
    memcpy(p, mid, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lq) memcpy(p, post, lq);
    *p = '\0';
    return s;
}

Test(expr_parse, deep_nesting_is_a_clear_error_not_a_stack_overflow)
{
    struct {
        const char *pre, *mid, *post;
    } shapes[] = {{"(", "x", ")"}, {"-", "x", ""}, {"2^", "x", ""}, {"exp(", "x", ")"},
                  {"+", "x", ""},  {"(-", "x", ")"}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        char *text = repeat3(shapes[k].pre, 100000, shapes[k].mid, shapes[k].post);
        env e = env_new();
        tg_parse_error err;
        tg_var v = parse(&e, text, &err);
        cr_assert_eq(v.index, TG_NONE, "shape %zu accepted", k);
        cr_assert_eq(err.status, TG_ERR_PARSE);
        cr_assert(strstr(err.message, "nesting deeper than 256 levels"), "%s", err.message);
        cr_assert_gt(err.column, 1);
        env_free(&e);
        free(text);
    }
    /* just under the limit is fine */
    char *ok = repeat3("(", 255, "x", ")");
    env e = env_new();
    cr_assert_neq(parse(&e, ok, NULL).index, TG_NONE, "%s", tg_tape_error(e.t));
    env_free(&e);
    free(ok);
}

Test(expr_parse, a_one_megabyte_expression_parses_in_one_pass)
{
    size_t n = 1 << 19; /* "x+" * n + "x": 1 MiB */
    char *text = malloc(2 * n + 2);
    for (size_t i = 0; i < n; i++) text[2 * i] = 'x', text[2 * i + 1] = '+';
    text[2 * n] = 'x';
    text[2 * n + 1] = '\0';
    env e = env_new();
    tg_var v = parse(&e, text, NULL);
    cr_assert_neq(v.index, TG_NONE, "%s", tg_tape_error(e.t));
    cr_assert_eq(tg_value(v), 3.0 * (double)(n + 1));
    tg_backward(v);
    cr_assert_eq(tg_gradient(tg_names_get(e.n, "x")), (double)(n + 1));
    env_free(&e);
    free(text);
}

Test(expr_parse, definitions_that_expand_exponentially_hit_the_node_limit)
{
    env e = env_new();
    char def[64];
    cr_assert_eq(tg_defs_add(e.d, "f0(x) = x + x", NULL, NULL), TG_OK);
    for (int k = 1; k < 30; k++) {
        snprintf(def, sizeof def, "f%d(x) = f%d(f%d(x))", k, k - 1, k - 1);
        cr_assert_eq(tg_defs_add(e.d, def, NULL, NULL), TG_OK, "%s", def);
    }
    tg_parse_opts o = {.defs = e.d, .max_nodes = 100000};
    tg_parse_error err;
    tg_var v = tg_parse(e.t, "1 + f29(x)", e.n, &o, &err);
    cr_assert_eq(v.index, TG_NONE);
    cr_assert(strstr(err.message, "records more than 100000 nodes"), "%s", err.message);
    cr_assert_eq(err.column, 5, "the column of the outermost call");
    env_free(&e);
}

/* ---- definitions ---- */

Test(expr_parse, definitions_take_several_parameters_and_use_earlier_ones)
{
    env e = env_new();
    cr_assert_eq(tg_defs_add(e.d, "swish(x, beta) = x*sigmoid(beta*x)", NULL, NULL), TG_OK);
    cr_assert_eq(tg_defs_add(e.d, "twice(u) = swish(u, 1) + swish(u, 1)", NULL, NULL), TG_OK);
    cr_assert_eq(tg_defs_count(e.d), 2);
    cr_assert_str_eq(tg_defs_name(e.d, 1), "twice");
    tg_var v = parse(&e, "twice(x) - 2*silu(x)", NULL);
    cr_assert_neq(v.index, TG_NONE, "%s", tg_tape_error(e.t));
    cr_assert_float_eq(tg_value(v), 0.0, 1e-15);
    /* a parameter shadows a bound name; other names are the caller's */
    cr_assert_eq(tg_defs_add(e.d, "scale(a) = a*c", NULL, NULL), TG_OK);
    cr_assert_eq(tg_value(parse(&e, "scale(b)", NULL)), 8, "a=b=2 inside, c=4 from outside");
    env_free(&e);
}

typedef struct def_case {
    const char *text;
    int column;
    const char *message;
} def_case;

static def_case def_errors[] = {
    {"f = x", 3, "expected '(' and the parameters after 'f', as in f(x) = ..."},
    {"(x) = x", 1, "a definition starts with the function's name, as in f(x) = x^2"},
    {"sigmoid(x) = x", 1, "'sigmoid' is an op already: choose another name"},
    {"f(x, x) = x", 6, "parameter 'x' appears twice"},
    {"f(exp) = exp", 3, "parameter 'exp' is the name of a function"},
    {"f() = 1", 3, "expected a parameter name, found ')'"},
    {"f(x) x", 6, "expected '=' and the body, as in f(x) = x^2, found name 'x'"},
    {"f(x) = ", 8, "the body is empty"},
    {"f(x) = f(x)", 8, "unknown function 'f' (a definition cannot call itself)"},
    {"f(x) = sigmoid(x, 1)", 8, "sigmoid takes 1 argument, got 2 (y = 1/(1+e^-x); dy/dx = y(1-y))"},
    {"f(x) = (x", 8, "'(' is never closed"},
    {"f[1](x) = x", 1, "a function's name has no [index]"},
    {"f(x) = x $", 10, "unexpected character '$'"},
};

ParameterizedTestParameters(expr_parse, bad_definitions_name_the_column)
{
    size_t n = sizeof def_errors / sizeof def_errors[0];
    return cr_make_param_array(size_t, indices(n), n, indices_free);
}

ParameterizedTest(size_t *ci, expr_parse, bad_definitions_name_the_column)
{
    const def_case *c = &def_errors[*ci];
    tg_defs *d = tg_defs_new();
    tg_parse_error err;
    cr_assert_eq(tg_defs_add(d, c->text, NULL, &err), TG_ERR_PARSE, "'%s' accepted", c->text);
    cr_assert_eq(err.column, c->column, "'%s': column %d (%s)", c->text, err.column, err.message);
    cr_assert_str_eq(err.message, c->message, "'%s'", c->text);
    cr_assert_eq(tg_defs_count(d), 0);
    tg_defs_free(d);
}

Test(expr_parse, a_redefinition_is_refused)
{
    tg_defs *d = tg_defs_new();
    tg_parse_error err;
    cr_assert_eq(tg_defs_add(d, "g(x) = x", NULL, &err), TG_OK);
    cr_assert_eq(tg_defs_add(d, "g(y) = y", NULL, &err), TG_ERR_PARSE);
    cr_assert_str_eq(err.message, "'g' is defined already");
    tg_defs_free(d);
}

/* ---- user ops ---- */

static double cube_eval(const double *x, double *d)
{
    if (d) d[0] = 3 * x[0] * x[0];
    return x[0] * x[0] * x[0];
}

static const tg_op_def cube = {.name = "cube", .arity = 1, .math = "y = x^3; dy/dx = 3x^2",
                               .eval = cube_eval};

Test(expr_parse, a_registered_user_op_is_callable_by_name)
{
    tg_registry *r = tg_registry_new();
    cr_assert_eq(tg_op_register(r, &cube), TG_OK);
    env e = env_new();
    tg_parse_opts o = {.registry = r};
    tg_var v = tg_parse(e.t, "cube(x) + sigmoid(0)", e.n, &o, NULL);
    cr_assert_neq(v.index, TG_NONE, "%s", tg_tape_error(e.t));
    cr_assert_eq(tg_value(v), 27.5);
    tg_backward(v);
    cr_assert_eq(tg_gradient(tg_names_get(e.n, "x")), 27);
    /* without the registry the name is unknown, and suggested from the built-ins */
    tg_parse_error err;
    cr_assert_eq(tg_parse(e.t, "cube(x)", e.n, NULL, &err).index, TG_NONE);
    cr_assert(strstr(err.message, "unknown function 'cube'"), "%s", err.message);
    /* a definition may use it too; parsed without the registry, the call fails at the
     * definition's call site, and the message says where in the definition */
    tg_defs *d = tg_defs_new();
    cr_assert_eq(tg_defs_add(d, "c2(x) = cube(x)*2", r, NULL), TG_OK);
    tg_tape_reset(e.t);
    tg_names_free(e.n);
    e.n = tg_names_new();
    tg_parse_opts od = {.defs = d};
    cr_assert_eq(tg_parse(e.t, "x + c2(x)", e.n, &od, &err).index, TG_NONE);
    cr_assert_eq(err.column, 5);
    cr_assert_str_eq(err.message, "unknown function 'cube' (in definition "
                     "'c2', column 9)");
    od.registry = r;
    tg_tape_reset(e.t);
    tg_names_set(e.n, "x", tg_param(e.t, 2));
    cr_assert_eq(tg_value(tg_parse(e.t, "x + c2(x)", e.n, &od, &err)), 18, "%s", err.message);
    tg_defs_free(d);
    env_free(&e);
    tg_registry_free(r);
}

Test(expr_parse, names_from_another_tape_are_refused)
{
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_names_set(n, "x", tg_param(t1, 1));
    tg_parse_error err;
    cr_assert_eq(tg_parse(t2, "x + 1", n, NULL, &err).index, TG_NONE);
    cr_assert_str_eq(err.message, "name 'x' is bound to a node of another tape");
    cr_assert_eq(err.column, 1);
    tg_names_free(n);
    tg_tape_free(t1);
    tg_tape_free(t2);
}

Test(expr_parse, the_name_table_checks_names_and_rebinds_in_place)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var a = tg_param(t, 1), b = tg_param(t, 2);
    cr_assert_eq(tg_names_set(n, "2x", a), TG_ERR_ARG);
    cr_assert_eq(tg_names_set(n, "w[x]", a), TG_ERR_ARG);
    cr_assert_eq(tg_names_set(n, "", a), TG_ERR_ARG);
    cr_assert_eq(tg_names_set(NULL, "x", a), TG_ERR_ARG);
    cr_assert_eq(tg_names_set(n, "w1[12]", a), TG_OK);
    cr_assert_eq(tg_names_set(n, "z", b), TG_OK);
    cr_assert_eq(tg_names_set(n, "w1[12]", b), TG_OK);
    cr_assert_eq(tg_names_count(n), 2);
    cr_assert_eq(tg_names_var(n, 0).index, b.index, "rebinding keeps the place");
    cr_assert_eq(tg_names_get(n, "nope").index, TG_NONE);
    cr_assert_null(tg_names_name(n, 2));
    tg_names_free(n);
    tg_tape_free(t);
}

Test(expr_parse, a_tape_in_error_is_not_parsed_and_null_arguments_are_reported)
{
    tg_parse_error err;
    cr_assert_eq(tg_parse(NULL, "x", NULL, NULL, &err).index, TG_NONE);
    cr_assert_eq(err.status, TG_ERR_ARG);
    tg_tape *t = tg_tape_new();
    cr_assert_eq(tg_parse(t, NULL, NULL, NULL, &err).index, TG_NONE);
    cr_assert_eq(err.status, TG_ERR_ARG);
    cr_assert_str_eq(tg_tape_error(t), "tg_parse: the text is NULL");
    cr_assert_eq(tg_parse(t, "1", NULL, NULL, &err).index, TG_NONE, "the error is sticky");
    tg_tape_reset(t);
    cr_assert_eq(tg_value(tg_parse(t, "1+1", NULL, NULL, &err)), 2);
    tg_tape_free(t);
}

Test(expr_parse, anomaly_mode_errors_carry_the_column_of_the_op)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_parse_error err;
    cr_assert_eq(tg_parse(t, "1 + log(0)", NULL, NULL, &err).index, TG_NONE);
    cr_assert_eq(err.status, TG_ERR_DOMAIN);
    cr_assert_eq(err.column, 5);
    cr_assert(strstr(err.message, "log"), "%s", err.message);
    tg_tape_free(t);
}

/* ---- out of memory ---- */

Test(expr_parse, out_of_memory_at_any_allocation_is_reported_and_leaks_nothing)
{
    int failures = 0, successes = 0;
    for (size_t k = 1; k < 400; k++) {
        th_alloc a = {.fail_at = k};
        tg_tape *t = tg_tape_new_with(th_alloc_fn, &a);
        tg_names *n = tg_names_new_with(th_alloc_fn, &a);
        tg_defs *d = tg_defs_new_with(th_alloc_fn, &a);
        if (t && n && d) {
            tg_parse_error err;
            tg_status ds = tg_defs_add(d, "swish(x, b) = x*sigmoid(b*x)", NULL, &err);
            cr_assert(ds == TG_OK || ds == TG_ERR_NOMEM, "k=%zu: %d", k, ds);
            tg_parse_opts o = {.defs = d};
            tg_var v = tg_parse(t, "swish(x, 2) + y*w11[2] - swish(y, x)", n, &o, &err);
            if (v.index == TG_NONE) {
                cr_assert(err.status == TG_ERR_NOMEM || (ds != TG_OK && err.status == TG_ERR_PARSE),
                          "k=%zu: status %d (%s)", k, err.status, err.message);
                failures++;
            } else {
                successes++;
            }
        }
        tg_defs_free(d);
        tg_names_free(n);
        tg_tape_free(t);
        cr_assert_eq(a.live, 0, "k=%zu: %lld bytes leaked", k, a.live);
        cr_assert_eq(a.bad_osize, 0, "k=%zu: a free with the wrong size", k);
        if (a.failures == 0) break; /* past the last allocation */
    }
    cr_assert_gt(failures, 5);
    cr_assert_gt(successes, 0);
}

Test(expr_parse, tensor_only_ops_are_refused_by_name)
{
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (op->eval) continue;
        char text[64], want[96];
        snprintf(text, sizeof text, "1 + %s(x)", op->name);
        if (strcmp(op->name, "max") == 0) continue; /* it points to maximum: the table above */
        snprintf(want, sizeof want, "'%s' is a tensor op: expressions are scalar", op->name);
        env e = env_new();
        tg_parse_error err;
        cr_assert_eq(parse(&e, text, &err).index, TG_NONE, "%s", text);
        cr_assert_str_eq(err.message, want);
        cr_assert_eq(err.column, 5);
        env_free(&e);
    }
}

/* A comparison is a branch op: a replay that moves its operands across each other says so. */
Test(expr_parse, a_comparison_that_flips_is_reported_by_replay)
{
    env e = env_new(); /* x = 3 */
    tg_var f = parse(&e, "where(x > 1, x^2, 0)", NULL);
    cr_assert_float_eq(tg_value(f), 9, 0);
    tg_set(tg_names_get(e.n, "x"), 2);
    cr_assert_eq(tg_replay(e.t), TG_OK);
    cr_assert_null(tg_replay_note(e.t), "3 -> 2 stays on the same side of 1");
    tg_set(tg_names_get(e.n, "x"), 0.5);
    cr_assert_eq(tg_replay(e.t), TG_OK);
    cr_assert_float_eq(tg_value(f), 0, 0);
    cr_assert_not_null(tg_replay_note(e.t));
    cr_assert_str_eq(tg_replay_note(e.t), "gt #6: branch changed (input 1 -> -0.5)");
    env_free(&e);
}
