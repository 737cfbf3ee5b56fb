/* test_registry.c - op names to descriptors: the built-ins by name and in name order, and
 * exactly the ops of docs/ops.md's rows and of the exported tg_op_ descriptors; user ops
 * registered, applied and differentiated, refused registrations, and the registry walker run
 * over a registry holding user ops (registration is enough to get checked). See LICENSE. */
#include <cblas.h>
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

/* ---- user ops ---- */

/* cube: y = x^3, dy/dx = 3x^2; reverse rule as nodes: gx = gy*(3*x*x) */
static double cube_eval(const double *x, double *d)
{
    if (d) d[0] = 3.0 * x[0] * x[0];
    return x[0] * x[0] * x[0];
}

static tg_var cube_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    return tg_mul(gy, tg_mul(tg_const_like(y, 3.0), tg_mul(x[0], x[0])));
}

static const tg_op_def cube_op = {.name = "cube", .arity = 1, .math = "y = x^3; dy/dx = 3x^2",
                                  .eval = cube_eval, .vjp_graph = cube_vjp_graph};

/* softsign: y = x/(1 + |x|), dy/dx = 1/(1 + |x|)^2; reverse rule as nodes:
 * gx = gy / (1 + |x|)^2 */
static double softsign_eval(const double *x, double *d)
{
    double a = 1.0 + fabs(x[0]);
    if (d) d[0] = 1.0 / (a * a);
    return x[0] / a;
}

static tg_var softsign_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var a = tg_add(tg_const_like(y, 1.0), tg_abs(x[0]));
    return tg_div(gy, tg_mul(a, a));
}

static const tg_op_def softsign_op = {.name = "softsign", .arity = 1, .eval = softsign_eval,
                                      .vjp_graph = softsign_vjp_graph};

/* lerp3: y = a + t*(b - a), three operands (their indices live in the tape's side table) */
static double lerp3_eval(const double *x, double *d)
{
    if (d) {
        d[0] = 1.0 - x[2];
        d[1] = x[2];
        d[2] = x[1] - x[0];
    }
    return x[0] + x[2] * (x[1] - x[0]);
}

static tg_var lerp3_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    if (i == 0) return tg_mul(gy, tg_sub(tg_const_like(y, 1.0), x[2]));
    if (i == 1) return tg_mul(gy, x[2]);
    return tg_mul(gy, tg_sub(x[1], x[0]));
}

static const tg_op_def lerp3_op = {.name = "lerp3", .arity = 3, .eval = lerp3_eval,
                                   .vjp_graph = lerp3_vjp_graph};

/* span: y = b - a for a <= b; a check kernel refuses a > b when the node is recorded, and
 * eval answers NaN for a replay that moves a past b */
static double span_eval(const double *x, double *d)
{
    const int ok = x[0] <= x[1];
    if (d) d[0] = ok ? -1.0 : NAN, d[1] = ok ? 1.0 : NAN;
    return ok ? x[1] - x[0] : NAN;
}

static tg_status span_check(const double *x, char *msg, size_t size)
{
    if (x[0] <= x[1]) return TG_OK;
    snprintf(msg, size, "a > b (a = %g, b = %g)", x[0], x[1]);
    return TG_ERR_ARG;
}

static tg_var span_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)y;
    return i == 0 ? tg_neg(gy) : gy;
}

static const tg_op_def span_op = {.name = "span", .arity = 2, .eval = span_eval,
                                  .vjp_graph = span_vjp_graph, .check = span_check};

/* wrongsq: y = x^2 with the partial 2x + 0.01: a deliberate bug the walker must catch */
static double wrongsq_eval(const double *x, double *d)
{
    if (d) d[0] = 2.0 * x[0] + 0.01;
    return x[0] * x[0];
}

static tg_var wrongsq_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    return tg_mul(gy, tg_mul(tg_const_like(y, 2.0), x[0]));
}

static const tg_op_def wrongsq_op = {.name = "wrongsq", .arity = 1, .eval = wrongsq_eval,
                                     .vjp_graph = wrongsq_vjp_graph};

/* badrule: y = sin x with a right partial but a wrong recorded rule (gx = gy*sin x) */
static double badrule_eval(const double *x, double *d)
{
    if (d) d[0] = cos(x[0]);
    return sin(x[0]);
}

static tg_var badrule_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_sin(x[0]));
}

static const tg_op_def badrule_op = {.name = "badrule", .arity = 1, .eval = badrule_eval,
                                     .vjp_graph = badrule_vjp_graph};

static tg_registry *new_registry(void)
{
    tg_registry *r = tg_registry_new();
    cr_assert_not_null(r, "tg_registry_new failed");
    return r;
}

/* ---- built-ins ---- */

/* The whole of a file of the source tree, malloc'd; the suite runs from the tree's root (as
 * `make test` runs it). Fails the test if the file cannot be read. */
static char *read_tree_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (run the tests from the source tree's root)", path);
    size_t cap = 1 << 14, n = 0, k;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            cr_assert_not_null(buf);
        }
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

#define MAX_NAMES 128

/* A list of op names read from a file, each with a flag (which table of ops.md it is in). */
typedef struct name_list {
    int n;
    char name[MAX_NAMES][32];
    int flag[MAX_NAMES];
} name_list;

static void name_add(name_list *l, const char *from, size_t len, int flag, const char *where)
{
    cr_assert_lt(l->n, MAX_NAMES, "%s: more than %d op names", where, MAX_NAMES);
    cr_assert_lt(len, sizeof l->name[0], "%s: an op name of %zu characters", where, len);
    for (int i = 0; i < l->n; i++)
        cr_expect(strlen(l->name[i]) != len || strncmp(l->name[i], from, len) != 0,
                  "%s: op '%.*s' is listed twice", where, (int)len, from);
    memcpy(l->name[l->n], from, len);
    l->name[l->n][len] = '\0';
    l->flag[l->n++] = flag;
}

/* docs/ops.md: one table row per op, "| `name` | ...", the ops after "## Tensor ops" flagged. */
static void ops_md_rows(name_list *l)
{
    char *doc = read_tree_file("docs/ops.md");
    const char *tensor = strstr(doc, "\n## Tensor ops");
    cr_assert_not_null(tensor, "docs/ops.md has no '## Tensor ops' section");
    for (const char *line = doc; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, "| `", 3) != 0) continue;
        const char *name = line + 3, *end = strchr(name, '`');
        cr_assert_not_null(end, "docs/ops.md: unterminated op name in a row");
        name_add(l, name, (size_t)(end - name), line > tensor, "docs/ops.md");
    }
    free(doc);
}

/* include/tapegrad_op.h: the exported descriptors, "extern TG_API const tg_op_def tg_op_add,
 * tg_op_sub, ...;", without their tg_op_ prefix. */
static void exported_descriptors(name_list *l)
{
    char *h = read_tree_file("include/tapegrad_op.h");
    const char *decl = "extern TG_API const tg_op_def ";
    char *p = strstr(h, decl), *end = p ? strchr(p, ';') : NULL;
    cr_assert(p && end, "include/tapegrad_op.h: no '%s...;' declaration", decl);
    for (p += strlen(decl); (p = strstr(p, "tg_op_")) && p < end;) {
        p += strlen("tg_op_");
        size_t len = strcspn(p, ", \n;");
        name_add(l, p, len, 0, "include/tapegrad_op.h");
        p += len;
    }
    free(h);
}

/* Every built-in, taken from the registry itself: a new registry holds exactly the built-ins,
 * in the same order, and each is found by its name as the same descriptor. */
Test(registry, builtins_are_found_by_name)
{
    tg_registry *r = new_registry();
    int n = tg_registry_count(NULL);
    cr_assert_gt(n, 0, "tg_registry_count(NULL) is %d", n);
    cr_expect_eq(tg_registry_count(r), n, "a new registry holds %d ops, the built-ins are %d",
                 tg_registry_count(r), n);
    for (int i = 0; i < n; i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        cr_assert_not_null(op, "built-in %d of %d is NULL", i, n);
        cr_assert(op->name && *op->name, "built-in %d has no name", i);
        cr_expect_eq(tg_registry_find(NULL, op->name), op,
                     "tg_registry_find(NULL, \"%s\") is not built-in %d", op->name, i);
        cr_expect_eq(tg_registry_find(r, op->name), op,
                     "tg_registry_find(r, \"%s\") is not built-in %d", op->name, i);
        cr_expect_eq(tg_registry_at(r, i), op, "a new registry's op %d is '%s', built-in %d is "
                     "'%s'", i, tg_registry_at(r, i) ? tg_registry_at(r, i)->name : "(NULL)", i,
                     op->name);
    }
    cr_expect_eq(tg_registry_find(NULL, "mul"), &tg_op_mul, "'mul' is not tg_op_mul");
    cr_expect_null(tg_registry_find(NULL, "nope"));
    cr_expect_null(tg_registry_find(r, "nope"));
    cr_expect_null(tg_registry_find(r, "Mul"), "lookup is case-sensitive");
    cr_expect_null(tg_registry_find(NULL, NULL));
    cr_expect_null(tg_registry_find(r, NULL));
    cr_expect_null(tg_registry_find(NULL, "param"), "leaves are not ops");
    tg_registry_free(r);
    tg_registry_free(NULL);
}

/* The names read from a file and the built-ins are the same set: every name is a built-in,
 * and there are as many names as built-ins (names are checked to be distinct as read). */
static void expect_same_as_builtins(const name_list *l, const char *file)
{
    for (int i = 0; i < l->n; i++)
        cr_expect_not_null(tg_registry_find(NULL, l->name[i]), "%s names '%s', which is not a "
                           "built-in op", file, l->name[i]);
    int n = tg_registry_count(NULL);
    cr_expect_eq(l->n, n, "%s names %d ops, the registry holds %d built-ins", file, l->n, n);
    for (int i = 0; i < n; i++) {
        const char *name = tg_registry_at(NULL, i)->name;
        int found = 0;
        for (int j = 0; j < l->n; j++) found += strcmp(l->name[j], name) == 0;
        cr_expect_eq(found, 1, "built-in '%s' is named %d times in %s, expected once", name,
                     found, file);
    }
}

/* docs/ops.md is the list of ops users read: a built-in without its row fails here, and so
 * does a row for an op that is not registered. The scalar table holds the elementwise ops
 * (an eval kernel), the tensor table the ones with infer. */
Test(registry, docs_ops_md_has_one_row_per_builtin_and_nothing_else)
{
    name_list rows = {0};
    ops_md_rows(&rows);
    expect_same_as_builtins(&rows, "docs/ops.md");
    for (int i = 0; i < rows.n; i++) {
        const tg_op_def *op = tg_registry_find(NULL, rows.name[i]);
        if (!op) continue;
        cr_expect_eq(rows.flag[i], op->infer != NULL, "docs/ops.md lists '%s' under %s ops, but "
                     "it %s an infer kernel", op->name, rows.flag[i] ? "tensor" : "scalar",
                     op->infer ? "has" : "has no");
    }
}

/* Every registered built-in is exported to op authors as tg_op_<name>, and every exported
 * descriptor is registered. */
Test(registry, exported_descriptors_are_exactly_the_builtins)
{
    name_list ex = {0};
    exported_descriptors(&ex);
    expect_same_as_builtins(&ex, "include/tapegrad_op.h");
}

static void expect_name_order(const tg_registry *r, const char *which)
{
    int n = tg_registry_count(r);
    for (int i = 0; i < n; i++) {
        const tg_op_def *op = tg_registry_at(r, i);
        cr_assert_not_null(op, "%s: tg_registry_at(%d) of %d is NULL", which, i, n);
        cr_expect_eq(tg_registry_find(r, op->name), op, "%s: op %d '%s' not found by name",
                     which, i, op->name);
        if (i > 0)
            cr_expect_lt(strcmp(tg_registry_at(r, i - 1)->name, op->name), 0,
                         "%s: '%s' (at %d) before '%s' (at %d) is not name order", which,
                         tg_registry_at(r, i - 1)->name, i - 1, op->name, i);
    }
    cr_expect_null(tg_registry_at(r, -1), "%s: tg_registry_at(-1)", which);
    cr_expect_null(tg_registry_at(r, n), "%s: tg_registry_at(count)", which);
}

Test(registry, registry_at_walks_in_name_order)
{
    tg_registry *r = new_registry();
    expect_name_order(NULL, "built-ins");
    expect_name_order(r, "registry");
    cr_assert_eq(tg_op_register(r, &softsign_op), TG_OK);
    cr_assert_eq(tg_op_register(r, &cube_op), TG_OK);
    cr_assert_eq(tg_op_register(r, &lerp3_op), TG_OK);
    expect_name_order(r, "registry with user ops");
    tg_registry_free(r);
}

/* ---- user ops ---- */

Test(registry, user_op_is_registered_found_applied_and_differentiated)
{
    tg_registry *r = new_registry();
    int n0 = tg_registry_count(r);
    cr_assert_eq(tg_op_register(r, &cube_op), TG_OK);
    cr_expect_eq(tg_registry_count(r), n0 + 1, "count %d after one registration on %d",
                 tg_registry_count(r), n0);
    const tg_op_def *op = tg_registry_find(r, "cube");
    cr_assert_eq(op, &cube_op, "registered op not found by name (the descriptor is not copied)");
    tg_tape *t = tg_tape_new();
    for (double x = -2.0; x <= 2.0; x += 0.5) {
        tg_tape_reset(t);
        tg_var p = tg_param(t, x), y = tg_apply(op, 1, &p);
        cr_expect_eq(tg_value(y), x * x * x, "cube(%g) = %.17g", x, tg_value(y));
        cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
        cr_expect_eq(tg_gradient(p), 3 * x * x, "cube'(%g): %.17g, expected %.17g", x,
                     tg_gradient(p), 3 * x * x);
        tg_var d1 = tg_diff(y, p), d2 = tg_diff(d1, p), d3 = tg_diff(d2, p);
        cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
        cr_expect(th_close(tg_value(d1), 3 * x * x, 1e-15, 0), "cube' by tg_diff at %g: %.17g",
                  x, tg_value(d1));
        cr_expect(th_close(tg_value(d2), 6 * x, 1e-15, 0), "cube'' at %g: %.17g", x,
                  tg_value(d2));
        cr_expect(th_close(tg_value(d3), 6, 1e-15, 0), "cube''' at %g: %.17g", x, tg_value(d3));
        /* composed with built-ins */
        tg_var z = tg_sin(tg_apply1(op, tg_mul(p, p)));
        cr_assert_eq(tg_backward(z), TG_OK);
        double want = cos(pow(x, 6)) * 6 * pow(x, 5);
        cr_expect(th_close(tg_gradient(p), want, 1e-13, 1e-15), "d sin(cube(x^2))/dx at %g: "
                  "%.17g, expected %.17g", x, tg_gradient(p), want);
    }
    tg_tape_free(t);
    tg_registry_free(r);
}

Test(registry, user_op_with_three_operands_works_in_every_sweep)
{
    tg_registry *r = new_registry();
    cr_assert_eq(tg_op_register(r, &lerp3_op), TG_OK);
    const tg_op_def *op = tg_registry_find(r, "lerp3");
    cr_assert_not_null(op);
    tg_tape *t = tg_tape_new();
    tg_var p[3] = {tg_param(t, 1.0), tg_param(t, 3.0), tg_param(t, 0.25)};
    tg_var y = tg_apply(op, 3, p);
    cr_expect_eq(tg_value(y), 1.5);
    cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(p[0]), 0.75);
    cr_expect_eq(tg_gradient(p[1]), 0.25);
    cr_expect_eq(tg_gradient(p[2]), 2.0);
    const double u[3] = {1.0, -1.0, 0.5};
    cr_assert_eq(tg_jvp(t, 3, p, u), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_tangent(y), 0.75 - 0.25 + 1.0);
    tg_var d = tg_diff(y, p[2]), dd = tg_diff(d, p[1]);
    cr_expect_eq(tg_value(d), 2.0, "d lerp/dt by tg_diff: %.17g", tg_value(d));
    cr_expect_eq(tg_value(dd), 1.0, "d2 lerp/dt db by tg_diff: %.17g", tg_value(dd));
    tg_set(p[1], 5.0);
    cr_assert_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_value(y), 2.0, "lerp after replay: %.17g", tg_value(y));
    cr_expect_eq(tg_value(d), 4.0, "d lerp/dt after replay: %.17g", tg_value(d));
    tg_check_report rep;
    cr_expect_eq(tg_check_grad(y, 3, p, NULL, NULL, &rep), 0, "worst rel err %g at %d",
                 rep.worst_rel, rep.worst);
    tg_tape_free(t);
    tg_registry_free(r);
}

Test(registry, registering_an_op_gets_it_walked_by_the_gradient_check)
{
    tg_registry *r = new_registry();
    cr_assert_eq(tg_op_register(r, &cube_op), TG_OK);
    cr_assert_eq(tg_op_register(r, &softsign_op), TG_OK);
    cr_assert_eq(tg_op_register(r, &lerp3_op), TG_OK);
    int n = tg_registry_count(r);
    th_walk_stats *st = calloc((size_t)n, sizeof *st);
    cr_assert_not_null(st);
    th_walk_opts o = {.npoints = 40, .salt = 2};
    cr_expect_eq(th_walk_registry(r, &o, st), n, "the walker did not walk every op");
    const char *const mine[] = {"cube", "softsign", "lerp3"};
    for (int k = 0; k < 3; k++) {
        int found = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(tg_registry_at(r, i)->name, mine[k]) == 0) found = i;
        cr_assert_geq(found, 0, "user op %s is not in the walk", mine[k]);
        cr_expect_gt(st[found].compared, 0, "user op %s was walked but nothing compared",
                     mine[k]);
        cr_expect_gt(st[found].d2_compared, 0, "user op %s: no second derivative compared",
                     mine[k]);
    }
    free(st);
    tg_registry_free(r);
}

Test(registry, the_walker_catches_a_wrong_partial_and_a_wrong_rule)
{
    /* quiet: the walker counts the failures instead of failing this test */
    th_walk_opts o = {.npoints = 20, .salt = 3, .quiet = 1};
    th_walk_stats st;
    th_walk_op(&wrongsq_op, &o, &st);
    cr_expect_gt(st.failures, 0, "a partial off by 0.01 passed %d points", st.points);
    th_walk_op(&badrule_op, &o, &st);
    cr_expect_gt(st.failures, 0, "a wrong vjp_graph rule passed %d points", st.points);
    th_walk_op(&cube_op, &o, &st);
    cr_expect_eq(st.failures, 0, "a right op failed %d checks in quiet mode", st.failures);
}

Test(registry, user_ops_stay_in_their_registry)
{
    tg_registry *a = new_registry(), *b = new_registry();
    cr_assert_eq(tg_op_register(a, &cube_op), TG_OK);
    cr_expect_null(tg_registry_find(b, "cube"), "an op registered in one registry is in another");
    cr_expect_null(tg_registry_find(NULL, "cube"), "a user op joined the built-ins");
    cr_expect_eq(tg_registry_count(b), tg_registry_count(NULL));
    /* the same op can be registered in two registries */
    cr_expect_eq(tg_op_register(b, &cube_op), TG_OK);
    tg_registry_free(a);
    cr_expect_eq(tg_registry_find(b, "cube"), &cube_op, "freeing one registry broke another");
    tg_registry_free(b);
}

/* A check kernel refuses operands when the node is recorded, on the inline path's builder and
 * tg_apply alike, scalar or tensor (naming the element); a replay is not refused. */
Test(registry, check_kernel_refuses_operands_when_recorded)
{
    tg_tape *t = tg_tape_new();
    tg_var a = tg_param(t, 1.0), b = tg_param(t, 3.0), y = tg_apply2(&span_op, a, b);
    cr_expect_eq(tg_value(y), 2.0);
    cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(a), -1.0);
    tg_set(a, 4.0); /* a replay past the condition: eval's NaN, not an error */
    cr_expect_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect(isnan(tg_value(y)), "span after replay: %g", tg_value(y));
    cr_expect_eq(tg_apply2(&span_op, a, b).index, TG_NONE, "span(4, 3) recorded");
    th_expect_error(t, TG_ERR_ARG, "span: a > b (a = 4, b = 3)");

    tg_tape_reset(t); /* tg_apply, one operand a constant */
    tg_var in[2] = {tg_param(t, 2.0), tg_const(t, 1.0)};
    cr_expect_eq(tg_apply(&span_op, 2, in).index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "span: a > b (a = 2, b = 1)");

    tg_tape_reset(t); /* a tensor, the scalar bound broadcast: the first refused element */
    const int sh[1] = {4};
    const double av[4] = {0.0, 1.0, 5.0, 6.0};
    tg_var at = tg_tensor_param(t, 1, sh, av), bt = tg_const(t, 2.0);
    cr_expect_eq(tg_apply2(&span_op, at, bt).index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "span: a > b (a = 5, b = 2) at element 2 (result shape [4])");
    tg_tape_reset(t);
    at = tg_tensor_param(t, 1, sh, av);
    tg_var ok = tg_apply2(&span_op, at, tg_const(t, 6.0));
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_data(ok)[0], 6.0);
    tg_tape_free(t);
}

/* ---- refused registrations ---- */

static double one_eval(const double *x, double *d)
{
    if (d) d[0] = 1.0;
    return x[0];
}

/* An unregistered descriptor with a partials form the sweeps do not know is refused when
 * applied, not swept with made-up partials. */
Test(registry, applying_an_op_with_an_unknown_partials_form_is_an_error)
{
    static const tg_op_def odd = {.name = "odd", .arity = 1, .eval = one_eval, .partials = 7};
    static const tg_op_def swap1 = {.name = "swap1", .arity = 1, .eval = one_eval,
                                    .partials = TG_PARTIALS_SWAP};
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 2.0);
    cr_expect_eq(tg_apply1(&odd, x).index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op 'odd' has partials form 7, not "
                    "TG_PARTIALS_KEPT, _CONST or _SWAP");
    tg_tape_reset(t);
    x = tg_param(t, 2.0);
    cr_expect_eq(tg_apply(&swap1, 1, &x).index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op 'swap1' has partials form TG_PARTIALS_SWAP "
                    "and arity 1 (the product of two operands needs arity 2)");
    tg_tape_free(t);
}


/* ---- what ops say of themselves for the compiler's fused loops ---- */

/* The shapes-and-attributes context an op describes itself from, for node y of operands x:
 * what the kernels see, less the values. attr has room for TG_MAX_ATTR. */
static tg_op_ctx shape_ctx(const tg_var *x, int n, tg_var y, int *attr)
{
    tg_op_ctx c = {.n = n, .attr = attr};
    for (int j = 0; j < n; j++) {
        c.in[j].rank = tg_shape(x[j], c.in[j].shape);
        c.in[j].n = tg_numel(x[j]);
    }
    c.out.rank = tg_shape(y, c.out.shape);
    c.out.n = tg_numel(y);
    c.nattr = tg_attr(y, attr);
    return c;
}

/* Op's fuse claim for node y (operand x) against its forward and vjp, bit for bit: a window's
 * output element o is x at base + sum o_d stride[d] and its vjp adds gy there (and nothing
 * elsewhere); a whole sum adds x's elements to +0 in row-major order and gives every element
 * gy. Returns the claim. */
static int check_fuse_claim(const tg_op_def *op, tg_var x, tg_var y, th_rng *r)
{
    int attr[TG_MAX_ATTR];
    const tg_op_ctx c = shape_ctx(&x, 1, y, attr);
    size_t base = 0, stride[TG_MAX_RANK] = {0};
    const int kind = op->fuse(&c, &base, stride);
    if (kind == TG_FUSE_NONE) return kind;
    cr_assert(kind == TG_FUSE_WINDOW || kind == TG_FUSE_SUM, "%s: fuse returned %d", op->name,
              kind);
    const size_t nx = tg_numel(x), ny = tg_numel(y);
    double *gy = malloc(ny * sizeof *gy), *want = calloc(nx, sizeof *want);
    cr_assert(gy && want);
    for (size_t k = 0; k < ny; k++) gy[k] = th_uniform(r, -3, 3);
    cr_assert_eq(tg_backward_seed(y, gy), TG_OK, "%s: %s", op->name, tg_tape_error(x.tape));
    const double *xv = tg_data(x), *yv = tg_data(y), *gx = tg_gradient_data(x);
    cr_assert(xv && yv && gx);
    double sum = 0.0;
    for (size_t k = 0; k < nx; k++) sum += xv[k];
    for (size_t k = 0; kind == TG_FUSE_WINDOW && k < ny; k++) { /* o = k's multi-index */
        size_t at = base, rest = k;
        for (int d = c.out.rank; d-- > 0; rest /= (size_t)c.out.shape[d])
            at += rest % (size_t)c.out.shape[d] * stride[d];
        cr_assert_lt(at, nx, "%s: window element %zu maps outside x", op->name, k);
        cr_assert(th_same(yv[k], xv[at]), "%s: output element %zu is %.17g, x[%zu] %.17g",
                  op->name, k, yv[k], at, xv[at]);
        want[at] += gy[k];
    }
    for (size_t k = 0; kind == TG_FUSE_SUM && k < nx; k++) want[k] = gy[0];
    if (kind == TG_FUSE_SUM)
        cr_assert(ny == 1 && th_same(yv[0], sum), "%s: a whole sum of %zu elements gives %.17g, "
                  "the row-major sum %.17g", op->name, nx, yv[0], sum);
    for (size_t k = 0; k < nx; k++)
        cr_assert(th_same(gx[k], want[k]), "%s: gradient element %zu is %.17g, the claim's "
                  "%.17g", op->name, k, gx[k], want[k]);
    free(gy), free(want);
    return kind;
}

/* Every op that describes itself to the fused loops (.fuse) is held to it, over random
 * shapes and attributes (those the op refuses are drawn again). */
Test(registry, every_fuse_claim_matches_forward_and_vjp_bit_for_bit)
{
    th_rng r = th_rng_new(41);
    int ops = 0;
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (!op->fuse) continue;
        cr_assert(op->infer && op->arity == 1, "%s: .fuse on an op that is not a tensor op of "
                  "one operand", op->name);
        int claims = 0;
        for (int trial = 0; trial < 4000 && claims < 25; trial++) {
            int shape[3], attr[TG_MAX_ATTR], rank = 1 + (int)(th_next(&r) % 3);
            int nattr = (int)(th_next(&r) % 4), n = 1;
            for (int d = 0; d < rank; d++) n *= shape[d] = 1 + (int)(th_next(&r) % 4);
            for (int a = 0; a < nattr; a++) attr[a] = (int)(th_next(&r) % 9) - 3;
            double v[64];
            for (int k = 0; k < n; k++) v[k] = th_next(&r) % 7 ? th_uniform(&r, -2, 2) : -0.0;
            tg_tape *t = tg_tape_new();
            cr_assert_not_null(t);
            tg_var x = tg_tensor_param(t, rank, shape, v);
            tg_var y = tg_apply_attr(op, 1, &x, nattr, attr);
            if (tg_tape_status(t) == TG_OK) claims += check_fuse_claim(op, x, y, &r) != 0;
            tg_tape_free(t);
        }
        cr_expect_geq(claims, 25, "%s: only %d fused forms met in 4000 draws", op->name, claims);
        ops++;
    }
    cr_expect_geq(ops, 3, "only %d ops describe themselves to the fused loops", ops);
}

/* ---- .gemm: a product op's steps as cblas_dgemm calls ---- */

/* The call a description makes, straight to CBLAS: role r's array is arr[r]. */
static void run_described(const tg_gemm *g, double *const arr[6])
{
    for (int q = 0; q < g->batch; q++)
        cblas_dgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                    g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0,
                    arr[g->a] + q * g->sa, g->ta ? g->m : g->k, arr[g->b] + q * g->sb,
                    g->tb ? g->k : g->n, g->beta, arr[g->y] + q * g->sy, g->n);
}

/* Holds y = op(x0, x1)'s gemm claims to the kernels: the forward's value, and each operand's
 * gradient (zero, then the call) after a backward sweep seeded at random. Returns how many
 * steps were claimed. */
static int check_gemm_claims(const tg_op_def *op, tg_var x0, tg_var x1, tg_var y, th_rng *r)
{
    int attr[TG_MAX_ATTR];
    const tg_var x[2] = {x0, x1};
    const tg_op_ctx c = shape_ctx(x, 2, y, attr);
    tg_gemm g;
    cr_expect(!op->gemm(&c, 2, &g) && !op->gemm(&c, -2, &g), "%s: claims a step it has not",
              op->name);
    const size_t ny = tg_numel(y);
    double *gy = malloc(ny * sizeof *gy), *want = calloc(ny + c.in[0].n + c.in[1].n, 8);
    cr_assert(gy && want);
    for (size_t k = 0; k < ny; k++) gy[k] = th_next(r) % 9 ? th_uniform(r, -3, 3) : -0.0;
    cr_assert_eq(tg_backward_seed(y, gy), TG_OK, "%s: %s", op->name, tg_tape_error(y.tape));
    double *arr[6] = {(double *)tg_data(x0), (double *)tg_data(x1), want, gy, want, want};
    int claims = 0;
    for (int step = -1; step < 2; step++) {
        if (!op->gemm(&c, step, &g)) continue;
        claims++;
        const size_t n = step < 0 ? ny : tg_numel(x[step]);
        memset(want, 0, n * sizeof *want);
        run_described(&g, arr);
        const double *got = step < 0 ? tg_data(y) : tg_gradient_data(x[step]);
        cr_assert_not_null(got);
        for (size_t k = 0; k < n; k++)
            cr_assert(th_same(got[k], want[k]), "%s: step %d, element %zu is %.17g, the "
                      "described call's %.17g", op->name, step, k, got[k], want[k]);
    }
    free(gy), free(want);
    return claims;
}

/* Every op that describes its steps as products (.gemm) is held to it, over random shapes of
 * two operands of rank 2 or 3 (those the op refuses are drawn again), signed zeros included. */
Test(registry, every_gemm_claim_matches_the_kernels_bit_for_bit)
{
    th_rng r = th_rng_new(43);
    int ops = 0;
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (!op->gemm) continue;
        cr_assert(op->infer && op->arity == 2, "%s: .gemm on an op that is not a tensor op of "
                  "two operands", op->name);
        int met = 0;
        for (int trial = 0; trial < 20000 && met < 40; trial++) {
            tg_tape *t = tg_tape_new();
            cr_assert_not_null(t);
            tg_var x[2];
            for (int j = 0; j < 2; j++) {
                int shape[3], rank = 2 + (int)(th_next(&r) % 2), n = 1;
                double v[64];
                for (int d = 0; d < rank; d++) n *= shape[d] = 1 + (int)(th_next(&r) % 4);
                for (int k = 0; k < n; k++)
                    v[k] = th_next(&r) % 9 ? th_uniform(&r, -2, 2) : -0.0;
                x[j] = tg_tensor_param(t, rank, shape, v);
            }
            tg_var y = tg_apply(op, 2, x);
            if (tg_tape_status(t) == TG_OK) met += check_gemm_claims(op, x[0], x[1], y, &r) > 0;
            tg_tape_free(t);
        }
        cr_expect_geq(met, 40, "%s: only %d products met in 20000 draws", op->name, met);
        ops++;
    }
    cr_expect_geq(ops, 1, "no op describes its steps as products");
}
