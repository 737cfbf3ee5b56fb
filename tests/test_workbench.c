/* test_workbench.c - the workbench in the library: parsed expressions agree with the gradient
 * check on every op of the registry; tg_check_formula accepts correct derivations and rejects
 * the classic slips; tg_explain's paths multiply and sum to the gradient (and the article's
 * chain reads as the article writes it); tg_dot draws every node and edge, tg_graph_json lists
 * them. See LICENSE. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "json.h"
#include "tapegrad.h"
#include "tapegrad_article.h"
#include "tapegrad_expr.h"
#include "tapegrad_op.h"

static size_t *indices(size_t n)
{
    size_t *p = cr_malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = i;
    return p;
}

static void indices_free(struct criterion_test_params *crp) { cr_free(crp->params); }

/* ---- every op, parsed, against the gradient check ---- */

Test(workbench, parsed_calls_of_every_op_pass_the_gradient_check)
{
    th_rng rng = th_rng_new(42);
    int checked = 0;
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        const tg_op_def *op = tg_registry_at(NULL, i);
        if (!op->eval) continue; /* tensor-only ops have no scalar form */
        for (int composite = 0; composite < 2; composite++) {
            /* op(x1, ..., xk), or op(sin(x1) + x2*x1, ...) so the chain rule is exercised */
            char text[256];
            size_t len = (size_t)snprintf(text, sizeof text, "%s(", op->name);
            for (int k = 0; k < op->arity; k++)
                len += (size_t)snprintf(text + len, sizeof text - len,
                                        composite ? "%s0.3*sin(x%d) + x%d*x%d" : "%sx%d",
                                        k ? ", " : "", k + 1, k + 1, k + 1);
            snprintf(text + len, sizeof text - len, ")");
            for (int rep = 0; rep < 10; rep++) {
                tg_tape *t = tg_tape_new();
                tg_names *n = tg_names_new();
                tg_var v = tg_parse(t, text, n, NULL, NULL);
                cr_assert_neq(v.index, TG_NONE, "%s: %s", text, tg_tape_error(t));
                tg_var p[TG_MAX_ARITY];
                double x[TG_MAX_ARITY], u[TG_MAX_ARITY];
                do { /* inside every op's domain, and operands its check admits */
                    for (int k = 0; k < op->arity; k++) {
                        x[k] = th_uniform(&rng, 0.3, 1.7);
                        u[k] = composite ? 0.3 * sin(x[k]) + x[k] * x[k] : x[k];
                    }
                } while (!th_op_admits(op, u));
                for (int k = 0; k < op->arity; k++) {
                    p[k] = tg_names_var(n, k);
                    tg_set(p[k], x[k]);
                }
                tg_replay(t);
                tg_check_result r[TG_MAX_ARITY];
                tg_check_report rep_;
                tg_status st = tg_check_grad(v, op->arity, p, NULL, r, &rep_);
                for (int k = 0; k < op->arity; k++)
                    cr_assert(r[k].pass, "%s at x%d = %.17g: reverse %.17g, fd %.17g", text, k + 1,
                              tg_value(p[k]), r[k].reverse, r[k].fd);
                cr_assert_eq(st, TG_OK, "%s", text);
                cr_assert_eq(rep_.failed, 0, "%s", text);
                checked++;
                tg_names_free(n);
                tg_tape_free(t);
            }
        }
    }
    cr_assert_gt(checked, 300, "only %d checks", checked);
}

/* ---- hand-written derivatives ---- */

typedef struct formula_case {
    const char *f, *wrt, *hand;
    int order;
    int verdict; /* 0: agree, 1: disagree */
    const char *what;
} formula_case;

static formula_case formulas[] = {
    {"softplus(x)", "x", "sigmoid(x)", 1, 0, "softplus' = sigmoid"},
    {"log(1 + exp(x))", "x", "sigmoid(x)", 1, 0, "softplus written out"},
    {"sigmoid(x)", "x", "sigmoid(x)*(1 - sigmoid(x))", 1, 0, "sigmoid' = s(1-s)"},
    {"tanh(x)", "x", "1 - tanh(x)^2", 1, 0, "tanh' = 1 - tanh^2"},
    {"x*sigmoid(x)", "x", "sigmoid(x)*(1 + x*(1 - sigmoid(x)))", 1, 0, "swish'"},
    {"exp(-x^2)", "x", "-2*x*exp(-x^2)", 1, 0, "Gaussian: chain rule"},
    {"sin(x^2)", "x", "2*x*cos(x^2)", 1, 0, "chain rule"},
    {"tanh(w*x)", "w", "x*(1 - tanh(w*x)^2)", 1, 0, "with respect to a weight"},
    {"log(x)", "x", "1/x", 1, 0, "half the range is outside the domain: skipped"},
    {"sqrt(x)", "x", "1/(2*sqrt(x))", 1, 0, "sqrt'"},
    {"0.5*(sigmoid(w*x) - t)^2", "w", "(sigmoid(w*x) - t)*sigmoid(w*x)*(1-sigmoid(w*x))*x", 1, 0,
     "the article's delta rule"},
    {"x^3", "x", "6*x", 2, 0, "second derivative"},
    {"sigmoid(x)", "x", "sigmoid(x)*(1-sigmoid(x))*(1-2*sigmoid(x))", 2, 0, "sigmoid''"},
    {"softplus(x)", "x", "sigmoid(x)*(1-sigmoid(x))", 2, 0, "softplus'' = sigmoid'"},
    /* the classic slips */
    {"sigmoid(x)", "x", "sigmoid(x)", 1, 1, "sigmoid' written as sigmoid"},
    {"sin(x^2)", "x", "cos(x^2)", 1, 1, "dropped chain-rule factor"},
    {"exp(-x^2)", "x", "-exp(-x^2)", 1, 1, "dropped chain-rule factor 2x"},
    {"tanh(w*x)", "w", "1 - tanh(w*x)^2", 1, 1, "dropped the inner derivative x"},
    {"exp(-x)", "x", "exp(-x)", 1, 1, "sign error"},
    {"cos(x)", "x", "sin(x)", 1, 1, "sign error: cos' = -sin"},
    {"1/x", "x", "1/x^2", 1, 1, "sign error: (1/x)' = -1/x^2"},
    {"tanh(x)", "x", "1 - tanh(x)", 1, 1, "forgot the square"},
    {"softplus(x)", "x", "exp(x)/(1+exp(-x))", 1, 1, "wrong sign inside"},
    {"0.5*(sigmoid(w*x) - t)^2", "w", "(sigmoid(w*x) - t)*x", 1, 1,
     "the article's delta without g'"},
    {"sigmoid(x)", "x", "sigmoid(x)*(1-sigmoid(x))*(1+2*sigmoid(x))", 2, 1, "sign slip in f''"},
};

ParameterizedTestParameters(workbench, check_formula_accepts_derivations_and_rejects_slips)
{
    size_t n = sizeof formulas / sizeof formulas[0];
    return cr_make_param_array(size_t, indices(n), n, indices_free);
}

ParameterizedTest(size_t *ci, workbench, check_formula_accepts_derivations_and_rejects_slips)
{
    const formula_case *c = &formulas[*ci];
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var f = tg_parse(t, c->f, n, NULL, NULL), h = tg_parse(t, c->hand, n, NULL, NULL);
    cr_assert_neq(h.index, TG_NONE, "%s", tg_tape_error(t));
    tg_var draw[8];
    int nd = tg_names_count(n);
    for (int k = 0; k < nd; k++) draw[k] = tg_names_var(n, k);
    tg_formula_opts o = {.samples = 300, .seed = 7};
    tg_formula_report r;
    tg_status st = tg_check_formula(f, tg_names_get(n, c->wrt), c->order, h, nd, draw, &o, &r);
    cr_assert_eq(st, TG_OK, "%s: %s", c->what, tg_tape_error(t));
    cr_assert_eq(!r.agree, c->verdict, "%s: d%s/d%s vs %s: agree %d (%d of %d failed, worst tape "
                 "%.17g hand %.17g)", c->what, c->f, c->wrt, c->hand, r.agree, r.failed, r.compared,
                 r.tape, r.hand);
    cr_assert_eq(r.points, 300);
    cr_assert_eq(r.compared + r.skipped, r.points);
    if (c->verdict) { /* the second opinion sides with the tape */
        double tol = c->order == 1 ? 1e-6 : 1e-4;
        cr_assert(th_close(r.fd, r.tape, tol, tol), "%s: fd %.17g, tape %.17g", c->what, r.fd,
                  r.tape);
        cr_assert_gt(r.failed, 0);
    }
    tg_names_free(n);
    tg_tape_free(t);
}

Test(workbench, check_formula_counts_points_outside_the_domain_as_skipped)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var f = tg_parse(t, "log(x)", n, NULL, NULL), h = tg_parse(t, "1/x", n, NULL, NULL);
    tg_var x = tg_names_get(n, "x");
    tg_formula_opts o = {.lo = -1, .hi = 1, .samples = 1000, .seed = 3};
    tg_formula_report r;
    cr_assert_eq(tg_check_formula(f, x, 1, h, 1, &x, &o, &r), TG_OK);
    cr_assert(r.agree);
    cr_assert(r.skipped > 400 && r.skipped < 600, "%d skipped", r.skipped);
    o.lo = -2, o.hi = -1; /* nowhere in the domain: nothing compared is not agreement */
    cr_assert_eq(tg_check_formula(f, x, 1, h, 1, &x, &o, &r), TG_OK);
    cr_assert_not(r.agree);
    cr_assert_eq(r.compared, 0);
    tg_names_free(n);
    tg_tape_free(t);
}

/* -log(1 - sigmoid(z)) keeps few digits for large z: sigmoid(z) is rounded by up to half an
 * ULP of 1, and 1 - sigmoid(z) near e^-z is off by up to that (1e-3 of it at z = 30), so the
 * tape's derivative there is that far off. A hand sigmoid(z), right to its last digit, agrees
 * within the rounding allowance, but a verdict needs one point inside the tolerance alone; a
 * slip of 1 % is caught all the same, outside the points where rounding covers it; at
 * ordinary z no allowance is needed. The second derivative keeps no digit from z = 20 on (two
 * terms near 1 cancel to e^-z): nothing there is compared. */
Test(workbench, check_formula_allows_for_the_rounding_of_an_ill_conditioned_expression)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var f = tg_parse(t, "-log(1 - sigmoid(z))", n, NULL, NULL);
    tg_var right = tg_parse(t, "sigmoid(z)", n, NULL, NULL);
    tg_var slip = tg_parse(t, "1.01*sigmoid(z)", n, NULL, NULL);
    tg_var z = tg_names_get(n, "z");
    tg_formula_opts o = {.lo = 15, .hi = 34, .samples = 200, .seed = 5};
    tg_formula_report r;
    cr_assert_eq(tg_check_formula(f, z, 1, right, 1, &z, &o, &r), TG_OK, "%s", tg_tape_error(t));
    cr_assert(r.agree && r.failed == 0 && r.compared == 200);
    cr_assert_gt(r.within_rounding, 50, "%d within rounding", r.within_rounding);
    cr_assert_lt(r.within_rounding, 200, "and some points decide outright");
    o.lo = 30; /* every point only within rounding: agreement, but no verdict */
    cr_assert_eq(tg_check_formula(f, z, 1, right, 1, &z, &o, &r), TG_OK);
    cr_assert(!r.agree && r.failed == 0 && r.within_rounding == r.compared && r.compared > 0);
    cr_assert_eq(tg_check_formula(f, z, 1, slip, 1, &z, &o, &r), TG_OK);
    cr_assert_not(r.agree);
    cr_assert(r.failed > 20 && r.failed + r.within_rounding == r.compared, "%d failed, %d within",
              r.failed, r.within_rounding);
    o.lo = 15;
    cr_assert_eq(tg_check_formula(f, z, 1, slip, 1, &z, &o, &r), TG_OK);
    cr_assert(!r.agree && r.failed > 100, "%d failed", r.failed);
    o.lo = -3, o.hi = 3;
    cr_assert_eq(tg_check_formula(f, z, 1, right, 1, &z, &o, &r), TG_OK);
    cr_assert(r.agree && r.within_rounding == 0 && r.rounding == 0.0);
    cr_assert_lt(r.rel_err, 1e-13);
    cr_assert_eq(tg_check_formula(f, z, 1, slip, 1, &z, &o, &r), TG_OK);
    cr_assert(!r.agree && r.failed == 200 && r.within_rounding == 0);
    tg_var second = tg_parse(t, "exp(-z)/(1 + exp(-z))^2", n, NULL, NULL);
    o.lo = 20, o.hi = 34, o.atol = 1e-300; /* no digit: not the absolute tolerance's 1e-8 */
    cr_assert_eq(tg_check_formula(f, z, 2, second, 1, &z, &o, &r), TG_OK);
    cr_assert(!r.agree && r.compared == 0 && r.no_digits == 200 && r.skipped == 200);
    o.lo = -3, o.hi = 3;
    cr_assert_eq(tg_check_formula(f, z, 2, second, 1, &z, &o, &r), TG_OK);
    cr_assert(r.agree && r.no_digits == 0 && r.within_rounding == 0);
    tg_names_free(n);
    tg_tape_free(t);
}

/* The allowance costs two replays a node at each point that needs it, so it is not computed
 * where the cone of f and hand holds more than 2000 computed values: there the tolerance
 * alone decides, and the ill-conditioned points above disagree. */
Test(workbench, check_formula_computes_no_allowance_on_a_large_cone)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var f = tg_parse(t, "-log(1 - sigmoid(z))", n, NULL, NULL), z = tg_names_get(n, "z");
    tg_var c = z;
    for (int k = 0; k < 2001; k++) c = tg_mul(c, tg_const(t, 1.0));
    f = tg_add(f, tg_mul(tg_const(t, 0.0), c)); /* 2001 more nodes in the cone, no value */
    tg_var right = tg_parse(t, "sigmoid(z)", n, NULL, NULL);
    tg_formula_opts o = {.lo = 30, .hi = 34, .samples = 20, .seed = 5};
    tg_formula_report r;
    cr_assert_eq(tg_check_formula(f, z, 1, right, 1, &z, &o, &r), TG_OK, "%s", tg_tape_error(t));
    cr_assert(!r.agree && r.failed > 0 && r.within_rounding == 0 && r.rounding == 0.0,
              "%d failed, %d within rounding", r.failed, r.within_rounding);
    tg_names_free(n);
    tg_tape_free(t);
}

Test(workbench, check_formula_leaves_the_tape_at_the_worst_point)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var f = tg_parse(t, "x^2", n, NULL, NULL), h = tg_parse(t, "2*x + 0.001*x^4", n, NULL, NULL);
    tg_var x = tg_names_get(n, "x");
    tg_formula_opts o = {.samples = 500, .seed = 11};
    tg_formula_report r;
    cr_assert_eq(tg_check_formula(f, x, 1, h, 1, &x, &o, &r), TG_OK);
    cr_assert_not(r.agree);
    cr_assert_gt(fabs(tg_value(x)), 2.9, "the error grows with |x|: worst near +-3");
    cr_assert_eq(tg_value(h), r.hand);
    cr_assert_eq(tg_gradient(x), r.tape);
    tg_names_free(n);
    tg_tape_free(t);
}

Test(workbench, check_formula_reports_bad_arguments)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_formula_report r;
    struct {
        int order, null_rep;
        const char *wrt, *error;
    } cases[] = {
        {1, 0, "c", "tg_check_formula: wrt (node #3) is not a parameter or a scalar node "
                    "recorded before f"},
        {1, 0, "later", "tg_check_formula: wrt (node #5) is not a parameter or a scalar node "
                        "recorded before f"},
        {2, 0, "f", "tg_check_formula: wrt (node #2) is not a parameter"},
        {1, 1, "f", "tg_check_formula: rep is NULL"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tg_names *m = tg_names_new();
        tg_var f = tg_parse(t, "x*y", m, NULL, NULL), c = tg_const(t, 2);
        tg_var later = tg_parse(t, "later = 2*y; later", m, NULL, NULL);
        tg_var wrt = cases[k].wrt[0] == 'c' ? c : cases[k].wrt[0] == 'f' ? f : later;
        cr_assert_eq(tg_check_formula(f, wrt, cases[k].order, f, 0, NULL, NULL,
                                      cases[k].null_rep ? NULL : &r), TG_ERR_ARG);
        cr_assert_str_eq(tg_tape_error(t), cases[k].error);
        tg_tape_reset(t);
        tg_names_free(m);
    }
    tg_names_free(n);
    n = tg_names_new();
    tg_var f = tg_parse(t, "x*y", n, NULL, NULL);
    cr_assert_eq(tg_check_formula(f, tg_names_get(n, "x"), 3, f, 0, NULL, NULL, NULL), TG_ERR_ARG);
    tg_names_free(n);
    tg_tape_free(t);
}

/* A step's hand delta: the tape's side is the adjoint dE/dz, and finite differences move z
 * with what it depends on fixed (only the nodes after z replayed). */
Test(workbench, check_formula_checks_the_delta_of_a_step)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var E = tg_parse(t, "z = w*x + b; a = sigmoid(z); E = 0.5*(a - t)^2", n, NULL, NULL);
    tg_var z = tg_names_get(n, "z"), a = tg_names_get(n, "a");
    tg_var right = tg_parse(t, "(a - t)*a*(1 - a)", n, NULL, NULL);
    tg_var slip = tg_parse(t, "a - t", n, NULL, NULL); /* g' dropped */
    tg_var draw[4];
    for (int i = 0; i < 4; i++) draw[i] = tg_names_get(n, (const char *[]){"w", "x", "b", "t"}[i]);
    tg_formula_opts o = {.samples = 300, .seed = 5};
    tg_formula_report r;
    cr_assert_eq(tg_check_formula(E, z, 1, right, 4, draw, &o, &r), TG_OK, "%s", tg_tape_error(t));
    cr_assert(r.agree);
    cr_assert_eq(r.compared, 300);
    cr_assert_float_eq(r.fd, r.tape, 1e-8 * fmax(1, fabs(r.tape)), "fd %.17g tape %.17g", r.fd,
                       r.tape);
    cr_assert_eq(tg_check_formula(E, z, 1, slip, 4, draw, &o, &r), TG_OK);
    cr_assert_not(r.agree);
    cr_assert_float_eq(r.fd, r.tape, 1e-7 * fmax(1, fabs(r.tape)), "fd %.17g tape %.17g", r.fd,
                       r.tape);
    cr_assert_gt(fabs(r.fd - r.hand), 1e-3, "fd sides with the tape, not the slip");
    /* the leaves are at the worst point, the tape's values are theirs, the sweep is done */
    cr_assert_eq(tg_value(slip), r.hand);
    cr_assert_eq(tg_gradient(z), r.tape);
    double zv = tg_value(tg_names_get(n, "w")) * tg_value(tg_names_get(n, "x")) +
                tg_value(tg_names_get(n, "b"));
    cr_assert_eq(tg_value(z), zv, "z is its inputs' again after the differences");
    cr_assert_float_eq(tg_value(a), 1 / (1 + exp(-zv)), 1e-15);
    /* the output's own delta is 1 */
    tg_var one = tg_parse(t, "1", n, NULL, NULL);
    cr_assert_eq(tg_check_formula(E, E, 1, one, 4, draw, &o, &r), TG_OK);
    cr_assert(r.agree);
    cr_assert_float_eq(r.fd, 1, 1e-9);
    tg_names_free(n);
    tg_tape_free(t);
}

/* ---- the explainer ---- */

/* What f received, as a malloc'd string (f is closed). */
static char *slurp(FILE *f)
{
    long n = ftell(f);
    char *buf = malloc((size_t)n + 1);
    rewind(f);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static char *explain(tg_var out, tg_var wrt, const tg_explain_opts *o, int *st)
{
    FILE *f = tmpfile();
    *st = tg_explain(f, out, wrt, o);
    return slurp(f);
}

/* The "sum of the N path products = S" line's S. */
static double path_sum(const char *text)
{
    const char *s = strstr(text, "path product");
    cr_assert_not_null(s, "%s", text);
    s = strchr(s, '=');
    return strtod(s + 1, NULL);
}

Test(workbench, explained_paths_sum_to_the_gradient)
{
    const char *exprs[] = {"x*sigmoid(x)", "sin(x)*cos(x) + x^3/y", "log(1 + exp(x*y)) - x*x",
                           "tanh(tanh(tanh(x) + x) + x)", "where(y, x*x, x) + relu(x)*y"};
    for (size_t k = 0; k < sizeof exprs / sizeof exprs[0]; k++) {
        tg_tape *t = tg_tape_new();
        tg_names *n = tg_names_new();
        tg_var f = tg_parse(t, exprs[k], n, NULL, NULL);
        tg_set(tg_names_get(n, "x"), 0.7);
        if (tg_names_get(n, "y").index != TG_NONE) tg_set(tg_names_get(n, "y"), 1.3);
        tg_replay(t);
        for (int named = 0; named < 2; named++) {
            tg_explain_opts o = {.named = named};
            int st;
            char *text = explain(f, tg_names_get(n, "x"), &o, &st);
            cr_assert_eq(st, TG_OK, "%s: %s", exprs[k], text);
            tg_backward(f);
            double g = tg_gradient(tg_names_get(n, "x"));
            cr_assert(th_close(path_sum(text), g, 1e-13, 1e-15), "%s: paths sum to %.17g, "
                      "gradient %.17g\n%s", exprs[k], path_sum(text), g, text);
            cr_assert(strstr(text, "(the same)"), "%s", text);
            free(text);
        }
        tg_names_free(n);
        tg_tape_free(t);
    }
}

Test(workbench, explain_shows_each_edge_and_merges_a_repeated_operand)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var f = tg_parse(t, "x*sigmoid(x)", n, NULL, NULL);
    tg_set(tg_names_get(n, "x"), 1);
    tg_replay(t);
    int st;
    char *text = explain(f, tg_names_get(n, "x"), NULL, &st);
    cr_assert(strstr(text, "2 paths from f down to x"), "%s", text);
    cr_assert(strstr(text, "path 2 of 2:  f -> sigmoid(x) -> x"), "%s", text);
    cr_assert(strstr(text, "d(sigmoid(x))/dx"), "%s", text);
    cr_assert(strstr(text, "(sigmoid)"), "%s", text);
    cr_assert(strstr(text, "(mul, operand 2)"), "%s", text);
    free(text);
    tg_var g = tg_parse(t, "x*x", n, NULL, NULL);
    text = explain(g, tg_names_get(n, "x"), NULL, &st);
    cr_assert(strstr(text, "1 path from f down to x"), "%s", text);
    cr_assert(strstr(text, "(mul, operands 1 and 2)"), "%s", text);
    free(text);
    tg_names_free(n);
    tg_tape_free(t);
}

Test(workbench, explain_refuses_politely_above_the_path_limit)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    /* each level doubles the paths: 2^10 */
    tg_defs *d = tg_defs_new();
    cr_assert_eq(tg_defs_add(d, "g(u) = sin(u) + cos(u)", NULL, NULL), TG_OK);
    tg_parse_opts po = {.defs = d};
    tg_var f = tg_parse(t, "g(g(g(g(g(g(g(g(g(g(x))))))))))", n, &po, NULL);
    tg_var x = tg_names_get(n, "x");
    cr_assert_eq(tg_explain_paths(f, x, NULL), 1024.0);
    int st;
    char *text = explain(f, x, NULL, &st);
    cr_assert_eq(st, TG_ERR_ARG);
    cr_assert(strstr(text, "has 1024 paths from f down to x, more than the limit of 64"), "%s", text);
    cr_assert_null(tg_tape_error(t), "refusing is not an error of the tape");
    free(text);
    tg_explain_opts o = {.max_paths = 2000};
    text = explain(f, x, &o, &st);
    cr_assert_eq(st, TG_OK);
    cr_assert(strstr(text, "path 1024 of 1024"), "listing ends with path 1024");
    free(text);
    tg_defs_free(d);
    tg_names_free(n);
    tg_tape_free(t);
}

Test(workbench, explain_reads_the_articles_chain_through_its_named_nodes)
{
    tg_tape *t = tg_tape_new();
    tg_article net;
    tg_article_point p;
    tg_article_point_seed(&p, TG_ARTICLE_SEED);
    cr_assert_eq(tg_article_build(&net, t, tg_article_activation("sigmoid"), 0.01, &p), TG_OK);
    tg_explain_opts o = {.named = 1};
    int st;
    char *text = explain(net.E, net.w1[0][0], &o, &st);
    cr_assert_eq(st, TG_OK);
    cr_assert(strstr(text, "path 1 of 1:  E -> a1[3] -> z1[3] -> a1[2] -> z1[2] -> w11[1]"), "%s",
              text);
    const char *factors[] = {"dE/da1[3]", "da1[3]/dz1[3]", "dz1[3]/da1[2]", "da1[2]/dz1[2]",
                             "dz1[2]/dw11[1]"};
    const char *at = text;
    for (int k = 0; k < 5; k++) {
        const char *s = strstr(at, factors[k]);
        cr_assert_not_null(s, "factor %s missing or out of order:\n%s", factors[k], text);
        at = s;
    }
    /* the factors are the article's: dz1[2]/dw11[1] = x1, dz1[3]/da1[2] = w11[2] */
    char line[64];
    snprintf(line, sizeof line, "= %.15g", tg_value(net.x[0]));
    cr_assert(strstr(strstr(text, "dz1[2]/dw11[1]"), line), "%s", text);
    snprintf(line, sizeof line, "= %.15g", tg_value(net.w2[0]));
    cr_assert(strstr(strstr(text, "dz1[3]/da1[2]"), line), "%s", text);
    tg_backward(net.E);
    cr_assert(th_close(path_sum(text), tg_gradient(net.w1[0][0]), 1e-14, 0));
    free(text);
    tg_tape_free(t);
}

/* ---- DOT ---- */

static int count(const char *s, const char *what)
{
    int n = 0;
    for (; (s = strstr(s, what)); s++) n++;
    return n;
}

Test(workbench, dot_draws_every_node_and_edge_with_values_and_gradients)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var f = tg_parse(t, "x*sigmoid(x) + 2", n, NULL, NULL);
    tg_set(tg_names_get(n, "x"), 1);
    tg_replay(t);
    tg_label(f, "f");
    tg_backward(f);
    FILE *fp = tmpfile();
    cr_assert_eq(tg_dot(t, fp), TG_OK);
    char *buf = slurp(fp);
    size_t size = strlen(buf);
    cr_assert(strncmp(buf, "digraph tapegrad {", 18) == 0, "%s", buf);
    cr_assert_eq(count(buf, "[label="), 5 + 4, "5 nodes and 4 labelled edges:\n%s", buf);
    cr_assert_eq(count(buf, " -> "), 5, "%s", buf);
    cr_assert(strstr(buf, "n0 [label=\"x\\nparam\\nvalue 1\\ngrad 0.927671\""), "%s", buf);
    cr_assert(strstr(buf, "[label=\"f\\nadd\\nvalue 2.73106\\ngrad 1\", peripheries=2]"), "%s", buf);
    cr_assert(strstr(buf, "n3 [label=\"2\", style=dashed"), "a constant shows its value:\n%s", buf);
    cr_assert(strstr(buf, "n0 -> n1 [label=\"0.1966\"]"), "sigmoid's partial on its edge:\n%s", buf);
    cr_assert_eq(buf[size - 2], '}');
    free(buf);
    cr_assert_eq(tg_dot(NULL, stdout), TG_ERR_ARG);
    cr_assert_eq(tg_dot(t, NULL), TG_ERR_ARG);
    tg_names_free(n);
    tg_tape_free(t);
}

/* ---- the graph as JSON: the nodes and edges tg_dot draws, read back ---- */

Test(workbench, graph_json_lists_the_nodes_and_edges_tg_dot_draws)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_var f = tg_parse(t, "x*sigmoid(x) + 2", n, NULL, NULL);
    tg_var x = tg_names_get(n, "x");
    tg_set(x, 1);
    tg_replay(t);
    tg_label(f, "f \"out\"\n");
    tg_backward(f);
    tg_var late = tg_exp(x); /* recorded after the sweep: no gradient */
    int shape[1] = {2};
    double data[2] = {1, 2};
    tg_tensor_const(t, 1, shape, data);
    FILE *fp = tmpfile();
    cr_assert_eq(tg_graph_json(t, fp), TG_OK);
    char *buf = slurp(fp), err[128];
    json *j = json_parse(buf, strlen(buf), err, sizeof err);
    cr_assert_not_null(j, "%s in:\n%s", err, buf);
    const json *nodes = json_get(j, "nodes"), *edges = json_get(j, "edges");
    cr_assert_eq(j->n, 2, "nodes and edges only:\n%s", buf);
    cr_assert_eq(nodes->n, 7, "every node of the tape:\n%s", buf);
    static const char *const ops[] = {"param", "sigmoid", "mul", "const", "add", "exp", "const"};
    for (int i = 0; i < 7; i++) {
        const json *nd = json_at(nodes, i);
        tg_var v = {t, (uint32_t)i, x.epoch};
        static const char *const keys[] = {"id", "label", "op", "value", "grad"};
        cr_assert_eq(nd->n, 5);
        for (int k = 0; k < 5; k++) cr_expect_str_eq(json_key(nd, k), keys[k], "node %d", i);
        cr_expect_eq(json_get(nd, "id")->number, i);
        cr_expect_str_eq(json_get(nd, "op")->text, ops[i], "node %d", i);
        if (i < 6) cr_expect_eq(json_get(nd, "value")->number, tg_value(v), "node %d", i);
        const json *g = json_get(nd, "grad");
        if (i == 0 || i == 1 || i == 2 || i == 4)
            cr_expect_eq(g->number, tg_gradient(v), "node %d: grad %s", i, g->text);
        else
            cr_expect_eq(g->kind, JSON_NULL, "node %d: no gradient (a constant, recorded after "
                         "the sweep, or a tensor)", i);
    }
    cr_expect_str_eq(json_get(json_at(nodes, 0), "label")->text, "x");
    cr_expect_eq(json_get(json_at(nodes, 1), "label")->kind, JSON_NULL);
    cr_expect_str_eq(json_get(json_at(nodes, 4), "label")->text, "f \"out\"\n", "escaped and back");
    cr_expect_eq(json_get(json_at(nodes, 6), "value")->kind, JSON_NULL, "a tensor's value");
    cr_expect_eq(json_get(json_at(nodes, 5), "value")->number, tg_value(late));
    static const int want[][2] = {{0, 1}, {0, 2}, {1, 2}, {2, 4}, {3, 4}, {0, 5}};
    cr_assert_eq(edges->n, 6, "%s", buf);
    for (int e = 0; e < 6; e++) {
        const json *ed = json_at(edges, e);
        cr_assert_eq(ed->n, 2);
        cr_expect_eq(json_at(ed, 0)->number, want[e][0], "edge %d", e);
        cr_expect_eq(json_at(ed, 1)->number, want[e][1], "edge %d", e);
    }
    json_free(j);
    free(buf);
    FILE *ro = fopen("/dev/null", "r");
    cr_expect_eq(tg_graph_json(t, ro), TG_ERR_ARG, "a write that fails is reported");
    fclose(ro);
    cr_expect_eq(tg_graph_json(NULL, stdout), TG_ERR_ARG);
    cr_expect_eq(tg_graph_json(t, NULL), TG_ERR_ARG);
    tg_names_free(n);
    tg_tape_free(t);
}
