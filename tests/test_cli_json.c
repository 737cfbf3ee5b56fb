/* test_cli_json.c - every command's --json, run as a program ($TAPEGRAD) and read back with the
 * strict parser (json.h): standard output must be exactly one JSON document, its schema
 * exactly the one docs/cli.md writes ("JSON output": keys, their order, their kinds), and its
 * numbers those the library computes for the same input (grad, hess and check against the
 * sweeps, plot's df against tg_gradient, dot against the tape, train and compare against a
 * training run made here). Bad input with --json prints nothing on standard output.
 * See LICENSE. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "json.h"
#include "run.h"
#include "tapegrad.h"
#include "tapegrad_article.h"
#include "tapegrad_expr.h"
#include "tapegrad_nn.h"

/* ---- reading the output ---- */

/* Run tapegrad with args (NULL-terminated): exit status want and exactly one JSON document
 * on standard output, returned as a tree. */
static json *run_json_exit(const char *const *args, int want)
{
    th_run r;
    char err[160];
    th_run_tapegrad(&r, args);
    cr_assert_eq(r.status, want, "tapegrad %s ...: exit %d, expected %d\n%s", args[0], r.status,
                 want, r.err);
    json *j = json_parse(r.out, r.out_len, err, sizeof err);
    cr_assert_not_null(j, "tapegrad %s ... --json is not one JSON document: %s in\n%s", args[0],
                       err, r.out);
    th_run_free(&r);
    return j;
}

static json *run_json(const char *const *args) { return run_json_exit(args, 0); }

/* obj is an object with exactly the keys listed (NULL-terminated), in that order. */
static void expect_keys(const json *obj, const char *const *keys)
{
    cr_assert_eq(obj->kind, JSON_OBJECT, "an object expected, got a %s", json_kind_name(obj->kind));
    int n = 0;
    for (; keys[n]; n++) {
        cr_assert_lt(n, obj->n, "no key \"%s\" (only %d keys)", keys[n], obj->n);
        cr_expect_str_eq(json_key(obj, n), keys[n], "key %d", n);
    }
    cr_expect_eq(obj->n, n, "%d keys, expected %d (the %d-th is \"%s\")", obj->n, n, n + 1,
                 obj->n > n ? json_key(obj, n) : "");
}

/* The member key of obj, which must be there. */
static const json *get(const json *obj, const char *key)
{
    const json *v = json_get(obj, key);
    cr_assert_not_null(v, "no \"%s\"", key);
    return v;
}

static double num(const json *v)
{
    cr_assert_not_null(v);
    cr_assert_eq(v->kind, JSON_NUMBER, "a number expected, got a %s", json_kind_name(v->kind));
    return v->number;
}

/* An array of n elements. */
static const json *array(const json *v, int n)
{
    cr_assert_eq(v->kind, JSON_ARRAY, "an array expected, got a %s", json_kind_name(v->kind));
    cr_assert_eq(v->n, n, "%d elements, expected %d", v->n, n);
    return v;
}

/* ---- the same input through the library ---- */

/* text recorded by tg_parse, names[k] (NULL-terminated) set to values[k] and replayed, then
 * one reverse sweep. */
typedef struct lib {
    tg_tape *t;
    tg_names *names;
    tg_var f;
} lib;

static lib lib_parse(const char *text, const char *const *names, const double *values)
{
    lib L = {tg_tape_new(), tg_names_new(), {0}};
    L.f = tg_parse(L.t, text, L.names, NULL, NULL);
    cr_assert_neq(L.f.index, TG_NONE, "%s: %s", text, tg_tape_error(L.t));
    for (int k = 0; names[k]; k++) tg_set(tg_names_get(L.names, names[k]), values[k]);
    cr_assert_eq(tg_replay(L.t), TG_OK);
    cr_assert_eq(tg_backward(L.f), TG_OK);
    return L;
}

static tg_var var(const lib *L, const char *name) { return tg_names_get(L->names, name); }

static void lib_free(lib *L)
{
    tg_names_free(L->names);
    tg_tape_free(L->t);
}

/* ---- grad, hess ---- */

Test(cli_json, grad_prints_the_value_and_gradient_of_the_sweep)
{
    json *j = run_json((const char *const[]){"grad", "log(1 + exp(w*x + b))", "--at",
                                             "w=0.5,x=2,b=-1", "--json", NULL});
    const char *const names[] = {"w", "x", "b", NULL};
    lib L = lib_parse("log(1 + exp(w*x + b))", names, (const double[]){0.5, 2, -1});
    expect_keys(j, (const char *const[]){"value", "grad", NULL});
    cr_expect_eq(num(get(j, "value")), tg_value(L.f));
    const json *g = get(j, "grad");
    expect_keys(g, names);
    for (int k = 0; names[k]; k++)
        cr_expect_eq(num(json_at(g, k)), tg_gradient(var(&L, names[k])), "d/d%s", names[k]);
    lib_free(&L);
    json_free(j);
}

Test(cli_json, grad_order_2_adds_the_second_derivatives_of_tg_diff)
{
    const char *text = "x^3*y + sin(x*y)";
    json *j = run_json((const char *const[]){"grad", text, "--at", "x=0.7,y=-1.3", "--order",
                                             "2", "--json", NULL});
    const char *const names[] = {"x", "y", NULL};
    lib L = lib_parse(text, names, (const double[]){0.7, -1.3});
    expect_keys(j, (const char *const[]){"value", "grad", "second", NULL});
    expect_keys(get(j, "grad"), names);
    expect_keys(get(j, "second"), names);
    cr_expect_eq(num(get(j, "value")), tg_value(L.f));
    for (int k = 0; names[k]; k++) {
        tg_var x = var(&L, names[k]);
        cr_expect_eq(num(json_at(get(j, "grad"), k)), tg_gradient(x), "d/d%s", names[k]);
        double d2 = tg_value(tg_diff(tg_diff(L.f, x), x));
        cr_expect_eq(num(json_at(get(j, "second"), k)), d2, "d2/d%s2", names[k]);
    }
    lib_free(&L);
    json_free(j);
}

Test(cli_json, grad_of_a_program_adds_every_step_s_adjoint)
{
    const char *prog = "z = w*x + b; a = sigmoid(z); E = 0.5*(a - t)^2";
    json *j = run_json((const char *const[]){"grad", prog, "--at", "w=0.5,x=2,b=-1,t=1",
                                             "--json", NULL});
    const char *const leaves[] = {"w", "x", "b", "t", NULL}, *const steps[] = {"z", "a", NULL};
    lib L = lib_parse(prog, leaves, (const double[]){0.5, 2, -1, 1});
    expect_keys(j, (const char *const[]){"value", "grad", "nodes", NULL});
    cr_expect_eq(num(get(j, "value")), tg_value(L.f));
    expect_keys(get(j, "grad"), leaves);
    expect_keys(get(j, "nodes"), steps);
    for (int k = 0; leaves[k]; k++)
        cr_expect_eq(num(json_at(get(j, "grad"), k)), tg_gradient(var(&L, leaves[k])));
    for (int k = 0; steps[k]; k++)
        cr_expect_eq(num(json_at(get(j, "nodes"), k)), tg_gradient(var(&L, steps[k])), "dE/d%s",
                     steps[k]);
    lib_free(&L);
    json_free(j);
}

Test(cli_json, hess_prints_the_matrix_of_tg_hessian)
{
    const char *text = "x*sigmoid(y) + x^2*y";
    json *j = run_json((const char *const[]){"hess", text, "--at", "x=2,y=0.5", "--json", NULL});
    const char *const names[] = {"x", "y", NULL};
    lib L = lib_parse(text, names, (const double[]){2, 0.5});
    expect_keys(j, (const char *const[]){"vars", "value", "grad", "hess", NULL});
    const json *vars = array(get(j, "vars"), 2), *h = array(get(j, "hess"), 2);
    tg_var x[2] = {var(&L, "x"), var(&L, "y")};
    double want[4];
    cr_assert_eq(tg_hessian(L.f, 2, x, want), TG_OK);
    cr_expect_eq(num(get(j, "value")), tg_value(L.f));
    expect_keys(get(j, "grad"), names);
    for (int r = 0; r < 2; r++) {
        cr_expect_str_eq(json_at(vars, r)->text, names[r]);
        cr_expect_eq(num(json_at(get(j, "grad"), r)), tg_gradient(x[r]));
        for (int c = 0; c < 2; c++)
            cr_expect_eq(num(json_at(array(json_at(h, r), 2), c)), want[2 * r + c], "H[%d][%d]",
                         r, c);
    }
    lib_free(&L);
    json_free(j);
}

/* ---- plot ---- */

Test(cli_json, plot_grid_is_the_library_s_value_gradient_and_second_derivative)
{
    const char *exprs[] = {"x*sigmoid(x)", "tanh(2*x) + a*x^2"};
    json *j = run_json((const char *const[]){"plot", exprs[0], exprs[1], "--at", "a=0.3",
                                             "--range", "-2:3", "--points", "11", "--json",
                                             NULL});
    array(j, 2);
    for (int k = 0; k < 2; k++) {
        const json *o = json_at(j, k);
        expect_keys(o, (const char *const[]){"expr", "var", "x", "f", "df", "d2f", NULL});
        cr_expect_str_eq(get(o, "expr")->text, exprs[k]);
        cr_expect_str_eq(get(o, "var")->text, "x");
        const json *xs = array(get(o, "x"), 11), *f = array(get(o, "f"), 11);
        const json *df = array(get(o, "df"), 11), *d2f = array(get(o, "d2f"), 11);
        cr_expect_eq(num(json_at(xs, 0)), -2, "both ends exact");
        cr_expect_eq(num(json_at(xs, 10)), 3);
        for (int i = 0; i < 11; i++) {
            double xi = num(json_at(xs, i));
            cr_expect(th_close(xi, -2 + 0.5 * i, 1e-15, 1e-15), "x[%d] = %.17g", i, xi);
            lib L = lib_parse(exprs[k], (const char *const[]){"x", k ? "a" : NULL, NULL},
                              (const double[]){xi, 0.3});
            tg_var x = var(&L, "x");
            double h;
            cr_assert_eq(tg_hessian(L.f, 1, &x, &h), TG_OK);
            cr_expect_eq(num(json_at(f, i)), tg_value(L.f), "%s at %g", exprs[k], xi);
            cr_expect(th_close(num(json_at(df, i)), tg_gradient(x), 1e-13, 1e-15),
                      "d/dx %s at %g: %.17g, tg_gradient %.17g", exprs[k], xi,
                      num(json_at(df, i)), tg_gradient(x));
            cr_expect(th_close(num(json_at(d2f, i)), h, 1e-12, 1e-14),
                      "d2/dx2 %s at %g: %.17g, tg_hessian %.17g", exprs[k], xi,
                      num(json_at(d2f, i)), h);
            lib_free(&L);
        }
    }
    json_free(j);
}

Test(cli_json, plot_order_decides_which_derivatives_are_there)
{
    json *j = run_json((const char *const[]){"plot", "a*x^2", "--var", "a", "--at", "x=3",
                                             "--points", "3", "--order", "0", "--json", NULL});
    expect_keys(json_at(array(j, 1), 0), (const char *const[]){"expr", "var", "x", "f", NULL});
    cr_expect_str_eq(get(json_at(j, 0), "var")->text, "a");
    cr_expect_eq(num(json_at(get(json_at(j, 0), "f"), 2)), 5 * 9, "a = 5 at the end of -5:5");
    json_free(j);
    j = run_json((const char *const[]){"plot", "x^3", "--points", "2", "--order", "1", "--json",
                                       NULL});
    const json *o = json_at(array(j, 1), 0);
    expect_keys(o, (const char *const[]){"expr", "var", "x", "f", "df", NULL});
    cr_expect_eq(num(json_at(array(get(o, "df"), 2), 0)), 75, "3x^2 at -5");
    json_free(j);
}

/* ---- dot, article --dot ---- */

/* The graph's JSON against the tape t the library recorded for the same input (gradients
 * from the last sweep): every node in tape order with its label, value and gradient, an edge
 * per operand of every op node, each from an earlier node to a later one. ops[i]: node i's
 * op, when given. */
static void expect_graph(const json *j, tg_tape *t, tg_var any, const char *const *ops)
{
    expect_keys(j, (const char *const[]){"nodes", "edges", NULL});
    int n = (int)tg_tape_size(t), inputs = 0;
    const json *nodes = array(get(j, "nodes"), n), *edges = get(j, "edges");
    for (int i = 0; i < n; i++) {
        const json *nd = json_at(nodes, i);
        tg_var v = {t, (uint32_t)i, any.epoch};
        expect_keys(nd, (const char *const[]){"id", "label", "op", "value", "grad", NULL});
        cr_expect_eq(num(get(nd, "id")), i);
        const char *label = tg_label_of(v), *op = get(nd, "op")->text;
        if (label) cr_expect_str_eq(get(nd, "label")->text, label, "node %d", i);
        else cr_expect_eq(get(nd, "label")->kind, JSON_NULL, "node %d", i);
        if (ops) cr_expect_str_eq(op, ops[i], "node %d", i);
        cr_expect_eq(num(get(nd, "value")), tg_value(v), "node %d", i);
        const json *g = get(nd, "grad");
        if (g->kind != JSON_NULL) cr_expect_eq(num(g), tg_gradient(v), "node %d", i);
        else cr_expect_eq(tg_gradient(v), 0, "node %d: the sweep did not reach it", i);
        if (strcmp(op, "param") != 0 && strcmp(op, "const") != 0)
            inputs += tg_registry_find(NULL, op)->arity;
    }
    array(edges, inputs);
    for (int e = 0; e < inputs; e++) {
        const json *ed = array(json_at(edges, e), 2);
        cr_expect_lt(num(json_at(ed, 0)), num(json_at(ed, 1)), "edge %d: tape order", e);
    }
}

Test(cli_json, dot_lists_the_tape_s_nodes_and_edges)
{
    const char *text = "tanh(w*x + b)*x";
    json *j = run_json((const char *const[]){"dot", text, "--at", "w=0.5,x=1.5,b=-0.25",
                                             "--json", NULL});
    lib L = lib_parse(text, (const char *const[]){"w", "x", "b", NULL},
                      (const double[]){0.5, 1.5, -0.25});
    tg_label(L.f, "f");
    expect_graph(j, L.t, L.f,
                 (const char *const[]){"param", "param", "mul", "param", "add", "tanh", "mul"});
    static const int want[][2] = {{0, 2}, {1, 2}, {2, 4}, {3, 4}, {4, 5}, {5, 6}, {1, 6}};
    for (int e = 0; e < 7; e++) {
        const json *ed = json_at(get(j, "edges"), e);
        cr_expect(num(json_at(ed, 0)) == want[e][0] && num(json_at(ed, 1)) == want[e][1],
                  "edge %d: [%g, %g]", e, num(json_at(ed, 0)), num(json_at(ed, 1)));
    }
    lib_free(&L);
    json_free(j);
}

/* The article's network as `tapegrad article` builds it (default seed and activation), swept. */
static tg_article article_net(tg_tape *t, tg_article_report *rep)
{
    tg_article_point p;
    tg_article net;
    tg_article_point_seed(&p, TG_ARTICLE_SEED);
    cr_assert_eq(tg_article_build(&net, t, tg_article_activation("sigmoid"), 0.01, &p), TG_OK);
    cr_assert_eq(tg_article_evaluate(&net, rep), TG_OK);
    return net;
}

Test(cli_json, article_dot_lists_the_network_s_nodes)
{
    json *j = run_json((const char *const[]){"article", "--dot", "--json", NULL});
    tg_tape *t = tg_tape_new();
    tg_article_report rep;
    tg_article net = article_net(t, &rep);
    expect_graph(j, t, net.E, NULL);
    tg_tape_free(t);
    json_free(j);
}

/* ---- article ---- */

Test(cli_json, article_prints_the_library_s_network)
{
    json *j = run_json((const char *const[]){"article", "--steps", "2", "--json", NULL});
    expect_keys(j, (const char *const[]){"activation", "slope", "x", "t", "w1", "w2", "E",
                                         "tape", "formula", "max_abs_diff", "lr", "E_steps",
                                         "flips", "final", NULL});
    tg_tape *t = tg_tape_new();
    tg_article_report rep;
    tg_article net = article_net(t, &rep);
    cr_expect_eq(num(get(j, "E")), rep.E);
    const json *tape = get(j, "tape");
    expect_keys(tape, (const char *const[]){"w1", "w2", "delta3", "delta2", NULL});
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++)
            cr_expect_eq(num(json_at(array(json_at(get(tape, "w1"), i), 3), k)),
                         rep.tape.w1[i][k], "dE/dw%d%d[1]", i + 1, k + 1);
    for (int k = 0; k < 3; k++) {
        cr_expect_eq(num(json_at(get(tape, "w2"), k)), rep.tape.w2[k]);
        cr_expect_eq(num(json_at(get(tape, "delta2"), k)), rep.tape.delta2[k]);
    }
    cr_expect_eq(num(get(tape, "delta3")), rep.tape.delta3);
    const json *steps = array(get(j, "E_steps"), 3);
    cr_expect_eq(num(json_at(steps, 0)), rep.E);
    for (int k = 1; k <= 2; k++) {
        cr_assert_eq(tg_article_step(&net, 0.5), TG_OK);
        cr_expect_eq(num(json_at(steps, k)), tg_value(net.E), "E after step %d", k);
    }
    tg_tape_free(t);
    json_free(j);
}

/* ---- train, compare ---- */

/* The members of a run, as train --json prints them. */
static const char *const run_keys[] = {"train_accuracy", "test_accuracy", "final_loss",
                                       "epochs", "seconds", NULL};

/* What `tapegrad train` computes for --points points of spirals split by data_seed, a
 * 2-32-32-2 MLP with activation act, weights and shuffle from seed, --epochs epochs. */
typedef struct lib_run {
    double train_acc, test_acc, loss;
} lib_run;

static lib_run lib_train(const char *act, int points, uint64_t data_seed, uint64_t seed,
                         int epochs)
{
    tg_dataset all, train, test;
    cr_assert_eq(tg_data_spirals(&all, points, data_seed), TG_OK);
    cr_assert_eq(tg_data_split(&all, 0.2, data_seed, &train, &test), TG_OK);
    tg_data_free(&all);
    tg_data_standardize(&train, &test);
    tg_activation a = {.op = tg_registry_find(NULL, act)};
    tg_train_opts o = {.loss = TG_LOSS_CROSS_ENTROPY, .opt = TG_OPT_ADAM, .batch = 32,
                       .seed = seed};
    tg_mlp m;
    tg_trainer *tr;
    cr_assert_eq(tg_mlp_init(&m, 4, (const int[]){2, 32, 32, 2}, &a, seed), TG_OK);
    cr_assert_eq(tg_trainer_new(&tr, &m, &train, &o), TG_OK, "%s", tg_trainer_error(tr));
    for (int e = 0; e < epochs; e++) cr_assert_eq(tg_trainer_epoch(tr, NULL), TG_OK);
    lib_run r;
    cr_assert_eq(tg_evaluate_opts(&m, &train, &o, &r.train_acc, &r.loss), TG_OK);
    cr_assert_eq(tg_evaluate_opts(&m, &test, &o, &r.test_acc, NULL), TG_OK);
    tg_trainer_free(tr);
    tg_mlp_fini(&m);
    tg_data_free(&train);
    tg_data_free(&test);
    return r;
}

/* A run's members (in train --json's order, from member first on) against the library's. */
static void expect_run(const json *o, int first, const lib_run *want, int epochs)
{
    for (int k = 0; run_keys[k]; k++) cr_expect_str_eq(json_key(o, first + k), run_keys[k]);
    cr_expect_eq(num(get(o, "train_accuracy")), want->train_acc);
    cr_expect_eq(num(get(o, "test_accuracy")), want->test_acc);
    cr_expect_eq(num(get(o, "final_loss")), want->loss);
    cr_expect_eq(num(get(o, "epochs")), epochs);
    cr_expect_geq(num(get(o, "seconds")), 0);
}

Test(cli_json, train_prints_what_the_library_trains)
{
    json *j = run_json((const char *const[]){"train", "--points", "60", "--epochs", "3",
                                             "--seed", "4", "--json", NULL});
    expect_keys(j, run_keys);
    lib_run want = lib_train("relu", 60, 4, 4, 3);
    expect_run(j, 0, &want, 3);
    json_free(j);
}

/* The mean and sample standard deviation of member key over the runs. */
static void mean_std(const json *runs, const char *key, double *m, double *s)
{
    double a = 0, b = 0;
    for (int i = 0; i < runs->n; i++) a += num(get(json_at(runs, i), key));
    a /= runs->n;
    for (int i = 0; i < runs->n; i++) {
        double d = num(get(json_at(runs, i), key)) - a;
        b += d * d;
    }
    *m = a;
    *s = runs->n > 1 ? sqrt(b / (runs->n - 1)) : 0;
}

Test(cli_json, compare_prints_every_seed_s_run_as_train_does_and_their_mean_and_std)
{
    json *j = run_json((const char *const[]){"compare", "--activation", "relu", "--activation",
                                             "tanh", "--points", "60", "--epochs", "3",
                                             "--seeds", "2", "--target", "0.6", "--json", NULL});
    expect_keys(j, (const char *const[]){"data", "epochs", "seeds", "target", "activations",
                                         NULL});
    cr_expect_str_eq(get(j, "data")->text, "spirals");
    cr_expect_eq(num(get(j, "epochs")), 3);
    cr_expect_eq(num(get(j, "seeds")), 2);
    cr_expect_eq(num(get(j, "target")), 0.6);
    const json *acts = array(get(j, "activations"), 2);
    const char *names[] = {"relu", "tanh"};
    for (int k = 0; k < 2; k++) {
        const json *a = json_at(acts, k);
        expect_keys(a, (const char *const[]){"activation", "final_loss", "test_accuracy",
                                             "epochs_to_target", "seconds", "runs", NULL});
        cr_expect_str_eq(get(a, "activation")->text, names[k]);
        const json *runs = array(get(a, "runs"), 2);
        int reached = 0;
        double ep = 0;
        for (int s = 0; s < 2; s++) {
            const json *r = json_at(runs, s);
            cr_assert_eq(r->n, 7, "seed, the five members of a train run, epochs_to_target");
            cr_expect_str_eq(json_key(r, 0), "seed");
            cr_expect_str_eq(json_key(r, 6), "epochs_to_target");
            cr_expect_eq(num(get(r, "seed")), 1 + s, "seeds from --seed (1) on");
            lib_run want = lib_train(names[k], 60, 1, 1 + (uint64_t)s, 3);
            expect_run(r, 1, &want, 3);
            const json *to = get(r, "epochs_to_target");
            if (to->kind != JSON_NULL) {
                cr_expect(num(to) >= 1 && num(to) <= 3, "epochs_to_target %g", num(to));
                reached++;
                ep += num(to);
            }
        }
        static const char *const cols[] = {"final_loss", "test_accuracy", "seconds"};
        for (int c = 0; c < 3; c++) {
            const json *col = get(a, cols[c]);
            double m, sd;
            expect_keys(col, (const char *const[]){"mean", "std", NULL});
            mean_std(runs, cols[c], &m, &sd);
            cr_expect(th_close(num(get(col, "mean")), m, 1e-15, 0), "%s mean", cols[c]);
            cr_expect(th_close(num(get(col, "std")), sd, 1e-12, 1e-300), "%s std", cols[c]);
        }
        const json *to = get(a, "epochs_to_target");
        expect_keys(to, (const char *const[]){"mean", "reached", NULL});
        cr_expect_eq(num(get(to, "reached")), reached);
        if (reached) cr_expect(th_close(num(get(to, "mean")), ep / reached, 1e-15, 0));
        else cr_expect_eq(get(to, "mean")->kind, JSON_NULL, "no mean of no runs");
    }
    json_free(j);
    /* relu's seed 1 is the run train makes with the same options */
    j = run_json((const char *const[]){"train", "--points", "60", "--epochs", "3", "--json",
                                       NULL});
    lib_run want = lib_train("relu", 60, 1, 1, 3);
    expect_run(j, 0, &want, 3);
    json_free(j);
}

Test(cli_json, compare_on_a_regression_has_no_accuracy_and_no_target)
{
    th_run r;
    th_run_tapegrad(&r, (const char *const[]){"compare", "--data", "curve", "--activation",
                                              "relu", "--activation", "tanh", "--points", "40",
                                              "--epochs", "2", "--seeds", "2", "--json", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    json *j = json_parse(r.out, r.out_len, NULL, 0);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect_eq(get(j, "target")->kind, JSON_NULL);
    for (int k = 0; k < 2; k++) {
        const json *a = json_at(array(get(j, "activations"), 2), k);
        cr_expect_eq(get(get(a, "test_accuracy"), "mean")->kind, JSON_NULL);
        cr_expect_eq(get(a, "epochs_to_target")->kind, JSON_NULL);
        const json *run = json_at(array(get(a, "runs"), 2), 0);
        cr_expect_eq(get(run, "train_accuracy")->kind, JSON_NULL);
        cr_expect_gt(num(get(run, "final_loss")), 0);
    }
    /* each progress line ends with the loss: no accuracy, nothing glued to the number */
    int lines = 0;
    for (const char *p = r.err; (p = strstr(p, ": loss ")); p++, lines++) {
        char *end;
        strtod(p + 7, &end);
        cr_expect_eq(*end, '\n', "progress line: %.40s", p);
    }
    cr_expect_eq(lines, 4, "a progress line per run:\n%s", r.err);
    json_free(j);
    th_run_free(&r);
}

/* An activation that fails keeps its entry: "error", the columns null, no runs; exit 1. */
Test(cli_json, compare_keeps_a_failed_activation_with_its_error)
{
    th_run r;
    th_run_tapegrad(&r, (const char *const[]){"compare", "--activation", "relu", "--activation",
                                              "sqrt", "--points", "40", "--epochs", "2",
                                              "--seeds", "2", "--json", NULL});
    cr_assert_eq(r.status, 1, "%s", r.err);
    json *j = json_parse(r.out, r.out_len, NULL, 0);
    cr_assert_not_null(j, "%s", r.out);
    const json *acts = array(get(j, "activations"), 2);
    cr_expect_eq(array(get(json_at(acts, 0), "runs"), 2)->n, 2, "relu trained");
    const json *a = json_at(acts, 1);
    expect_keys(a, (const char *const[]){"activation", "error", "final_loss", "test_accuracy",
                                         "epochs_to_target", "seconds", "runs", NULL});
    cr_expect_str_eq(get(a, "error")->text, "not finite at x = -4, outside its domain: sqrt: "
                                            "result is nan at node #1 (x1 = -4)");
    static const char *const cols[] = {"final_loss", "test_accuracy", "epochs_to_target",
                                       "seconds"};
    for (int c = 0; c < 4; c++) cr_expect_eq(get(a, cols[c])->kind, JSON_NULL, "%s", cols[c]);
    cr_expect_eq(array(get(a, "runs"), 0)->n, 0);
    json_free(j);
    th_run_free(&r);
}

/* ---- check --json ---- */

/* A check's entry, named name, against the library at its worst point: the program parsed
 * with the leaves at "at", tape = the sweep's d out/d wrt (wrt a leaf or a step), hand = HAND
 * parsed onto the same tape and names. */
static void expect_check(const json *c, const char *program, const char *name, const char *wrt,
                         const char *hand, int agree)
{
    expect_keys(c, (const char *const[]){"name", "agree", "points", "skipped", "failed",
                                         "within_rounding", "no_digits", "worst", NULL});
    cr_expect_str_eq(get(c, "name")->text, name);
    cr_expect_eq(get(c, "agree")->kind, JSON_BOOL);
    cr_expect_eq(get(c, "agree")->boolean, agree, "%s", name);
    double points = num(get(c, "points")), failed = num(get(c, "failed"));
    cr_expect_eq(points, 50, "--samples 50");
    cr_expect_leq(num(get(c, "skipped")) + failed, points);
    cr_expect_eq(num(get(c, "within_rounding")), 0, "%s: every point keeps its digits", name);
    cr_expect_eq(num(get(c, "no_digits")), 0, "%s", name);
    cr_expect(agree ? failed == 0 : failed > 0, "%s: %g failed", name, failed);
    const json *w = get(c, "worst"), *at = get(w, "at");
    expect_keys(w, (const char *const[]){"at", "tape", "hand", "fd", NULL});
    const char *names[9] = {NULL};
    double values[8];
    cr_assert_leq(at->n, 8);
    for (int k = 0; k < at->n; k++) names[k] = json_key(at, k), values[k] = num(json_at(at, k));
    lib L = lib_parse(program, names, values);
    double tape = tg_gradient(var(&L, wrt));
    tg_var h = tg_parse(L.t, hand, L.names, NULL, NULL);
    cr_assert_neq(h.index, TG_NONE, "%s", hand);
    cr_expect(th_close(num(get(w, "tape")), tape, 1e-15, 0), "%s: tape %.17g, the sweep %.17g",
              name, num(get(w, "tape")), tape);
    cr_expect_eq(num(get(w, "hand")), tg_value(h), "%s: hand", name);
    cr_expect(th_close(num(get(w, "fd")), tape, 1e-6, 1e-9), "%s: fd %.17g, tape %.17g", name,
              num(get(w, "fd")), tape);
    lib_free(&L);
}

Test(cli_json, check_reports_each_check_at_its_worst_point_as_the_library_computes_it)
{
    const char *prog = "z = w*x + b; a = sigmoid(z); E = 0.5*(a - t)^2";
    json *j = run_json_exit((const char *const[]){"check", prog, "--adjoint", "a=a - t",
                                                  "--adjoint", "z=(a - t)*a*(1 - a)",
                                                  "--samples", "50", "--json", NULL}, 0);
    expect_keys(j, (const char *const[]){"agree", "first_wrong", "checks", NULL});
    cr_expect(get(j, "agree")->kind == JSON_BOOL && get(j, "agree")->boolean);
    cr_expect_eq(get(j, "first_wrong")->kind, JSON_NULL);
    const json *checks = array(get(j, "checks"), 2);
    expect_check(json_at(checks, 0), prog, "a", "a", "a - t", 1);
    expect_check(json_at(checks, 1), prog, "z", "z", "(a - t)*a*(1 - a)", 1);
    json_free(j);
    /* a dropped g': exit 1, still one document, the wrong step named */
    j = run_json_exit((const char *const[]){"check", prog, "--adjoint", "a=a - t", "--adjoint",
                                            "z=(a - t)*a", "--samples", "50", "--json", NULL},
                      1);
    cr_expect_eq(get(j, "agree")->boolean, 0);
    cr_expect_str_eq(get(j, "first_wrong")->text, "z");
    expect_check(json_at(array(get(j, "checks"), 2), 1), prog, "z", "z", "(a - t)*a", 0);
    json_free(j);
    /* --expect: the entry is called d/dNAME */
    j = run_json_exit((const char *const[]){"check", "log(1 + exp(x))", "--wrt", "x", "--expect",
                                            "sigmoid(x)", "--samples", "50", "--json", NULL},
                      0);
    expect_check(json_at(array(get(j, "checks"), 1), 0), "log(1 + exp(x))", "d/dx", "x",
                 "sigmoid(x)", 1);
    json_free(j);
}

/* ---- bad input: nothing on standard output, the error on standard error, exit 2 ---- */

Test(cli_json, bad_input_prints_no_json_only_the_error)
{
    static const struct {
        const char *args[8];
        const char *err;
    } bad[] = {
        {{"grad", "x +", "--json"}, "tapegrad: at column 4: "},
        {{"hess", "x*y", "--at", "x=1", "--json"}, "tapegrad: hess: no value for the name y"},
        {{"plot", "x", "--json", "-o", "f.csv"},
         "tapegrad: plot: --json prints to standard output and -o writes a file"},
        {{"plot", "x", "--json", "--order", "3"}, "tapegrad: plot: --order: '3' is not"},
        {{"dot", "x", "--at", "x=1", "--json", "-o", "g.dot"},
         "tapegrad: dot: --json prints to standard output and -o writes a file"},
        {{"article", "--dot", "--json", "-o", "a.svg"},
         "tapegrad: article: --json prints to standard output and -o writes a file"},
        {{"train", "--epochs", "0", "--json"},
         "tapegrad: train: --epochs: '0' is not an integer from 1 to 1000000"},
        {{"compare", "--activation", "relu", "--json"},
         "tapegrad: compare: give at least two --activation options"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        th_run r;
        th_run_tapegrad(&r, bad[k].args);
        cr_expect_eq(r.status, 2, "%s: exit %d", bad[k].args[0], r.status);
        cr_expect_eq(r.out_len, 0, "%s: stdout:\n%s", bad[k].args[0], r.out);
        cr_expect(strncmp(r.err, bad[k].err, strlen(bad[k].err)) == 0, "%s: stderr:\n%s",
                  bad[k].args[0], r.err);
        th_run_free(&r);
    }
}
