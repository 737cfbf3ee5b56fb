/* test_compile.c - the tape compiler (tg_compile) against the interpreter: every registered
 * scalar op (alone and through inner functions), the article's network at every activation
 * and random graphs of every op with shared nodes give the same values, gradients and replay
 * notes bit for bit, through tg_compiled_run and through the raw entry point; the standalone
 * emitter's function agrees the same way; and every failure path says what went wrong: no
 * compiler, a compile error, anomaly mode, a tensor, a reset tape, a hostile cache. Each test
 * uses a private cache directory. Without a C compiler the tests skip, saying so.
 * See LICENSE. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "run.h"

#define POINTS 40 /* points per tape */

/* ---- a private cache directory ---- */

typedef struct cache {
    char dir[64];
    tg_compile_opts opts;
} cache;

static void cache_open(cache *c)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/tg-test-cache-XXXXXX");
    cr_assert_not_null(mkdtemp(c->dir), "mkdtemp: %s", strerror(errno));
    c->opts = (tg_compile_opts){.cache_dir = c->dir};
}

/* Remove the directory and what is in it (files and the library's empty build dirs). */
static void cache_close(cache *c)
{
    DIR *d = opendir(c->dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char p[400];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", c->dir, e->d_name);
        if (unlink(p) != 0) rmdir(p);
    }
    if (d) closedir(d);
    chmod(c->dir, 0700);
    rmdir(c->dir);
}

/* Tape a was run compiled, tape b interpreted: every node up to out must agree. */
static void expect_same_tapes(tg_tape *a, tg_tape *b, tg_var out, const char *what)
{
    int shown = 0;
    for (uint32_t i = 0; i <= out.index && shown < 4; i++) {
        tg_var va = {a, i, out.epoch}, vb = {b, i, out.epoch};
        double x = tg_value(va), y = tg_value(vb), g = tg_gradient(va), h = tg_gradient(vb);
        if (th_same(x, y) && th_same(g, h)) continue;
        cr_expect(0, "%s: node %u (%s): compiled value %.17g gradient %.17g, interpreted %.17g "
                  "and %.17g", what, i, tg_label_of(vb) ? tg_label_of(vb) : "unlabelled", x, g,
                  y, h);
        shown++;
    }
    const char *na = tg_replay_note(a), *nb = tg_replay_note(b);
    cr_expect(na == nb || (na && nb && !strcmp(na, nb)), "%s: replay notes differ: compiled "
              "'%s', interpreted '%s'", what, na ? na : "(none)", nb ? nb : "(none)");
    cr_expect_eq(tg_tape_status(a), TG_OK, "%s: %s", what, tg_tape_error(a));
}

/* The raw entry point against the interpreted tape b: out and the gradient at every input. */
static void expect_same_raw(const tg_compiled *c, tg_tape *b, tg_var out, const char *what)
{
    int n = tg_compiled_inputs(c, NULL, 0);
    tg_var *leaves = malloc((size_t)(n + 1) * sizeof *leaves);
    double *in = malloc((size_t)(n + 1) * sizeof *in);
    double *grad = malloc((size_t)(n + 1) * sizeof *grad);
    cr_assert(leaves && in && grad);
    tg_compiled_inputs(c, leaves, n);
    for (int k = 0; k < n; k++) in[k] = tg_value((tg_var){b, leaves[k].index, out.epoch});
    double y = tg_compiled_raw(c)(in, grad);
    tg_var ob = {b, out.index, out.epoch};
    cr_expect(th_same(y, tg_value(ob)), "%s: raw entry gives %.17g, the interpreter %.17g", what, y,
              tg_value(ob));
    for (int k = 0; k < n; k++) {
        double g = tg_gradient((tg_var){b, leaves[k].index, out.epoch});
        cr_expect(th_same(grad[k], g), "%s: raw grad[%d] %.17g, the interpreter %.17g", what, k,
                  grad[k], g);
    }
    free(leaves), free(in), free(grad);
}

/* A recording made twice, on a (to compile) and b (to interpret). */
typedef tg_var (*record_fn)(tg_tape *t, void *ud);

typedef struct pair {
    tg_tape *a, *b;
    tg_var out;
    tg_compiled *c;
} pair;

static void pair_make(pair *p, record_fn rec, void *ud, const cache *cc, const char *what)
{
    p->a = tg_tape_new();
    p->b = tg_tape_new();
    cr_assert(p->a && p->b);
    p->out = rec(p->a, ud);
    tg_var ob = rec(p->b, ud);
    cr_assert_eq(tg_tape_status(p->a), TG_OK, "%s: recording: %s", what, tg_tape_error(p->a));
    cr_assert_eq(p->out.index, ob.index);
    p->c = tg_compile(p->out, &cc->opts);
    cr_assert_not_null(p->c, "%s: tg_compile: %s", what, tg_tape_error(p->a));
}

static void pair_free(pair *p)
{
    tg_compiled_free(p->c);
    tg_tape_free(p->a);
    tg_tape_free(p->b);
}

/* Set the first nx inputs of the raw entry (tg_compiled_inputs' order) on both tapes to x;
 * then one runs compiled and the other replays and sweeps; compare. */
static void pair_run(pair *p, const double *x, int nx, const char *what)
{
    tg_var in[TG_MAX_ARITY];
    cr_assert_geq(tg_compiled_inputs(p->c, in, nx), nx);
    for (int k = 0; k < nx; k++) {
        tg_set(in[k], x[k]);
        tg_set((tg_var){p->b, in[k].index, in[k].epoch}, x[k]);
    }
    cr_assert_eq(tg_compiled_run(p->c), TG_OK, "%s: %s", what, tg_tape_error(p->a));
    cr_assert_eq(tg_replay(p->b), TG_OK, "%s: %s", what, tg_tape_error(p->b));
    cr_assert_eq(tg_backward((tg_var){p->b, p->out.index, p->out.epoch}), TG_OK);
    expect_same_tapes(p->a, p->b, p->out, what);
    expect_same_raw(p->c, p->b, p->out, what);
}

/* ---- every registered scalar op ---- */

typedef struct op_case {
    const tg_op_def *op;
} op_case;

/* op(p1..pk) + op(u1..uk) with u_j = sin(p_j) * p_j + 0.25: the op alone and through the chain
 * rule, one output. Values that clamp would refuse (lo > hi) are nudged apart at recording. */
static tg_var record_op(tg_tape *t, void *ud)
{
    const tg_op_def *op = ((op_case *)ud)->op;
    tg_var p[TG_MAX_ARITY], u[TG_MAX_ARITY];
    for (int j = 0; j < op->arity; j++) p[j] = tg_param(t, 0.3 + 0.5 * j); /* inputs 0.. */
    for (int j = 0; j < op->arity; j++)
        u[j] = tg_add(tg_mul(tg_sin(p[j]), p[j]), tg_const(t, 0.25 * (j + 1)));
    tg_var out = tg_add(tg_apply(op, op->arity, p), tg_apply(op, op->arity, u));
    tg_label(out, "out");
    return out;
}

Test(compile, every_scalar_op_compiles_to_the_same_bits)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    const double special[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-300, -1e300, 700.0, -745.0};
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        op_case oc = {tg_registry_at(NULL, i)};
        if (!oc.op->eval) continue;
        cr_expect_not_null(oc.op->code, "%s: a built-in without .code (use TG_EVAL)",
                           oc.op->name);
        pair p;
        pair_make(&p, record_op, &oc, &cc, oc.op->name);
        th_rng r = th_rng_new(th_seed(oc.op->name, 14));
        for (int k = 0; k < POINTS + 10; k++) {
            double x[TG_MAX_ARITY];
            for (int j = 0; j < oc.op->arity; j++)
                x[j] = k < 10 ? special[(k + j) % 10] : th_uniform(&r, -3, 3);
            if (!th_op_admits(oc.op, x)) continue;
            char what[96];
            snprintf(what, sizeof what, "%s at point %d", oc.op->name, k);
            pair_run(&p, x, oc.op->arity, what);
        }
        pair_free(&p);
    }
    cache_close(&cc);
}

/* ---- the article at every activation ---- */

typedef struct article_case {
    const tg_op_def *g;
    tg_article_point pt;
} article_case;

static tg_var record_article(tg_tape *t, void *ud)
{
    article_case *ac = ud;
    tg_article net;
    tg_article_build(&net, t, ac->g, 0.01, &ac->pt);
    return net.E;
}

Test(compile, the_article_at_every_activation)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    int n = 0;
    for (int i = 0; i < tg_registry_count(NULL); i++) {
        article_case ac = {.g = tg_registry_at(NULL, i)};
        if (!ac.g->eval || ac.g->arity > 2 || (ac.g->arity == 2 && strcmp(ac.g->name,
                                                                           "leaky_relu")))
            continue;
        tg_article_point_seed(&ac.pt, 7);
        pair p;
        pair_make(&p, record_article, &ac, &cc, ac.g->name);
        cr_expect_geq(tg_compiled_inputs(p.c, NULL, 0), 12, "%s: the raw entry's inputs",
                     ac.g->name);
        for (int k = 0; k < POINTS; k++) {
            tg_article_point q;
            tg_article_point_seed(&q, 100 + (uint64_t)k);
            const double x[12] = {q.x[0], q.x[1], q.t, q.w1[0][0], q.w1[0][1], q.w1[0][2],
                                  q.w1[1][0], q.w1[1][1], q.w1[1][2], q.w2[0], q.w2[1], q.w2[2]};
            for (int j = 0; j < 12; j++) { /* the inputs x1, x2, t as well as the weights */
                tg_var la = tg_tape_find(p.a, tg_article_leaf_name(j));
                tg_var lb = tg_tape_find(p.b, tg_article_leaf_name(j));
                tg_set(la, x[j]);
                tg_set(lb, x[j]);
            }
            char what[96];
            snprintf(what, sizeof what, "article with %s at point %d", ac.g->name, k);
            pair_run(&p, x, 0, what);
        }
        pair_free(&p);
        n++;
    }
    cr_expect_geq(n, 20, "only %d activations", n);
    cache_close(&cc);
}

/* ---- random graphs of every scalar op, with shared nodes and repeated operands ---- */

typedef struct graph_case {
    uint64_t seed;
} graph_case;

/* 4 parameters, 2 constants, then 80 nodes each applying a random op to random earlier nodes
 * (the recent ones more often, so chains grow deep; the same node twice now and then); the
 * output sums them all. Operands an op's check refuses are drawn again. */
static tg_var record_graph(tg_tape *t, void *ud)
{
    th_rng r = th_rng_new(((graph_case *)ud)->seed);
    tg_var pool[90];
    int n = 0;
    for (int k = 0; k < 4; k++) pool[n++] = tg_param(t, th_uniform(&r, -2, 2));
    for (int k = 0; k < 2; k++) pool[n++] = tg_const(t, th_uniform(&r, -2, 2));
    const int nops = tg_registry_count(NULL);
    while (n < 86) {
        const tg_op_def *op = tg_registry_at(NULL, (int)(th_next(&r) % (uint64_t)nops));
        if (!op->eval) continue;
        tg_var in[TG_MAX_ARITY];
        double x[TG_MAX_ARITY];
        for (int j = 0; j < op->arity; j++) {
            int back = (int)(th_next(&r) % 8);
            in[j] = j && th_next(&r) % 6 == 0 ? in[0] : pool[back < n ? n - 1 - back :
                                                         (int)(th_next(&r) % (uint64_t)n)];
            if (th_next(&r) % 3 == 0) in[j] = pool[th_next(&r) % (uint64_t)n];
            x[j] = tg_value(in[j]);
        }
        if (!th_op_admits(op, x)) continue;
        pool[n++] = tg_apply(op, op->arity, in);
    }
    tg_var out = pool[n - 1]; /* every node is in the output's cone */
    for (int k = 2; k <= n; k++) out = tg_add(out, pool[n - k]);
    return out;
}

Test(compile, random_graphs_compile_to_the_same_bits)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    for (uint64_t g = 0; g < 12; g++) {
        graph_case gc = {th_seed("graph", g)};
        pair p;
        char what[96];
        snprintf(what, sizeof what, "random graph %d", (int)g);
        pair_make(&p, record_graph, &gc, &cc, what);
        th_rng r = th_rng_new(gc.seed + 1);
        for (int k = 0; k < POINTS; k++) {
            double x[4];
            for (int j = 0; j < 4; j++) x[j] = th_uniform(&r, -2, 2);
            snprintf(what, sizeof what, "random graph %d at point %d", (int)g, k);
            pair_run(&p, x, 4, what);
        }
        pair_free(&p);
    }
    cache_close(&cc);
}

/* ---- ops without code, and the standalone emitter ---- */

static double twice_eval(const double *x, double *d)
{
    if (d) d[0] = 2.0;
    return 2.0 * x[0];
}
static const tg_op_def twice = {.name = "twice", .arity = 1, .eval = twice_eval};
/* code that does not compile */
static const tg_op_def broken = {.name = "broken", .arity = 1, .eval = twice_eval,
                                 .code = "{ return x[0] +; }"};

static tg_var record_user(tg_tape *t, void *ud)
{
    const tg_op_def *op = ud;
    tg_var p = tg_param(t, 0.5);
    return tg_sigmoid(tg_apply(op, 1, &p));
}

Test(compile, a_users_op_without_code_is_called_through_its_descriptor)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    pair p;
    pair_make(&p, record_user, (void *)&twice, &cc, "twice");
    cr_expect(strstr(tg_compiled_source(p.c), "called through descriptor"), "%s",
              tg_compiled_source(p.c));
    for (int k = 0; k < 5; k++) {
        double x = k - 2.5;
        pair_run(&p, &x, 1, "twice");
    }
    pair_free(&p);
    cache_close(&cc);
}

Test(compile, the_standalone_function_agrees_with_the_tape)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    tg_tape *t = tg_tape_new();
    tg_article net;
    tg_article_point pt;
    tg_article_point_seed(&pt, 3);
    cr_assert_eq(tg_article_build(&net, t, &tg_op_tanh, 0, &pt), TG_OK);
    tg_var in[12], wrt[9];
    for (int j = 0; j < 12; j++) in[j] = tg_tape_find(t, tg_article_leaf_name(j));
    memcpy(wrt, in + 3, sizeof wrt);
    tg_emit_opts o = {.name = "article_step", .comment = "the article, tanh", .n_in = 12,
                      .in = in, .n_wrt = 9, .wrt = wrt};
    char *src = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&src, &len);
    cr_assert_eq(tg_emit_c(net.E, &o, f), TG_OK, "%s", tg_tape_error(t));
    fclose(f);
    cr_expect(strstr(src, "in[11]   = w31_2") && strstr(src, "grad[8]  = dE/dw31_2"),
              "the header names every input and output:\n%s", src);
    cr_expect(!strstr(src, "tapegrad.h"), "the standalone function includes tapegrad");
    void *dl;
    th_grad_fn fn = th_compile_fn(cc.dir, src, "article_step", &dl);
    th_rng r = th_rng_new(33);
    for (int k = 0; k < POINTS; k++) {
        double x[12], g[9];
        for (int j = 0; j < 12; j++) tg_set(in[j], x[j] = th_uniform(&r, -1, 1));
        cr_assert_eq(tg_replay(t), TG_OK);
        cr_assert_eq(tg_backward(net.E), TG_OK);
        double y = fn(x, g);
        cr_expect(th_same(y, tg_value(net.E)), "E %.17g, the tape %.17g", y, tg_value(net.E));
        for (int j = 0; j < 9; j++)
            cr_expect(th_same(g[j], tg_gradient(wrt[j])), "grad[%d] %.17g, the tape %.17g", j,
                      g[j], tg_gradient(wrt[j]));
    }
    dlclose(dl);
    free(src);
    tg_tape_free(t);
    cache_close(&cc);
}

Test(compile, the_standalone_emitter_refuses_bad_lists_naming_them)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 1.0), y = tg_param(t, 2.0), s = tg_mul(x, y);
    struct {
        tg_emit_opts o;
        tg_status st;
        const char *msg;
    } cases[] = {
        {{.name = "f", .n_in = 1, .in = &x, .n_wrt = 1, .wrt = &y}, TG_ERR_ARG,
         "tg_emit_c: wrt 0 is not one of the inputs"},
        {{.name = "2f", .n_in = 1, .in = &x}, TG_ERR_ARG,
         "tg_emit_c: '2f' is not a C identifier"},
        {{.name = "f", .n_in = 1, .in = &s}, TG_ERR_ARG, "tg_emit_c: input 0 is not a leaf"},
        {{.name = "f", .n_in = 2, .in = NULL}, TG_ERR_ARG, "tg_emit_c: 2 input with the list NULL"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tg_tape_reset(t);
        x = tg_param(t, 1.0), y = tg_param(t, 2.0), s = tg_mul(x, y);
        cr_expect_eq(tg_emit_c(s, &cases[k].o, stdout), cases[k].st, "case %zu", k);
        cr_expect_str_eq(tg_tape_error(t), cases[k].msg);
    }
    tg_tape_reset(t);
    x = tg_param(t, 1.0);
    tg_var u = tg_apply(&twice, 1, &x);
    tg_emit_opts o = {.n_in = 1, .in = &x, .n_wrt = 1, .wrt = &x};
    cr_expect_eq(tg_emit_c(u, &o, stdout), TG_ERR_UNSUPPORTED);
    cr_expect_str_eq(tg_tape_error(t), "tg_emit_c: op 'twice' has no C code (.code): only "
                     "tg_compile can call it, through its descriptor");
    tg_tape_reset(t); /* tensors: one fused loop, or node by node, or refused with why */
    tg_var X = tg_tensor_param(t, 2, (int[]){2, 2}, (double[]){1, 2, 3, 4});
    tg_var m = tg_sum(tg_matmul(tg_softmax_axis(X, 0), X));
    o = (tg_emit_opts){.n_in = 1, .in = &X, .n_wrt = 1, .wrt = &X};
    cr_expect_eq(tg_emit_c(m, &o, stdout), TG_ERR_UNSUPPORTED);
    cr_expect_str_eq(tg_tape_error(t), "tg_emit_c: this cone fits neither one fused loop (node "
                     "#1 (softmax) is not elementwise, a window of an input (slice, reshape) or "
                     "a whole sum of the loop's values) nor the function written node by node: "
                     "node #1 (softmax) is not elementwise, a product (.gemm), a window or a "
                     "whole sum (.fuse): only the library runs it");
    tg_tape_free(t);
}

/* ---- failures ---- */

/* tg_compile on a fresh tape holding sigmoid(op(p)); NULL or the module, and the message. */
static tg_compiled *try_compile(tg_tape *t, const tg_op_def *op, const tg_compile_opts *o)
{
    tg_var p = tg_param(t, 0.5);
    return tg_compile(tg_sigmoid(tg_apply(op, 1, &p)), o);
}

Test(compile, no_compiler_is_a_clean_failure_and_everything_else_works)
{
    tg_tape *t = tg_tape_new();
    tg_compile_opts o = {.cc = "/nonexistent/tg-cc", .cache_dir = ""};
    cr_expect_null(try_compile(t, &tg_op_exp, &o));
    cr_expect_eq(tg_tape_status(t), TG_ERR_COMPILE);
    cr_expect(strstr(tg_tape_error(t), "tg_compile: no C compiler") &&
              strstr(tg_tape_error(t), "/nonexistent/tg-cc"), "%s", tg_tape_error(t));
    tg_tape_reset(t); /* the tape is usable again */
    tg_var p = tg_param(t, 0.0), y = tg_exp(p);
    cr_expect_eq(tg_backward(y), TG_OK);
    cr_expect_eq(tg_gradient(p), 1.0);
    tg_tape_free(t);
}

Test(compile, a_compile_error_says_what_the_compiler_said)
{
    th_need_cc();
    tg_tape *t = tg_tape_new();
    tg_compile_opts o = {.cache_dir = ""};
    cr_expect_null(try_compile(t, &broken, &o));
    cr_expect_eq(tg_tape_status(t), TG_ERR_COMPILE);
    cr_expect(strstr(tg_tape_error(t), "tg_compile: the C compiler failed ('cc' exited with "
                     "status 1): ") && strstr(tg_tape_error(t), "error"), "%s",
              tg_tape_error(t));
    tg_tape_free(t);
}

Test(compile, refused_anomaly_mode_an_unseeded_tensor_output_and_a_reset_tape)
{
    th_need_cc();
    tg_tape *t = tg_tape_new();
    tg_compile_opts o = {.cache_dir = ""};
    tg_tape_check_nan(t, 1);
    cr_expect_null(try_compile(t, &tg_op_exp, &o));
    cr_expect_eq(tg_tape_status(t), TG_ERR_ARG);
    cr_expect(strstr(tg_tape_error(t), "anomaly mode is on"), "%s", tg_tape_error(t));
    tg_tape_check_nan(t, 0);
    tg_tape_reset(t);
    const double v[2] = {1, 2};
    tg_var m = tg_exp(tg_tensor_param(t, 1, (int[]){2}, v));
    tg_label(m, "m");
    tg_compiled *c = tg_compile(m, &o); /* two elements: run with a seed */
    cr_assert_not_null(c, "%s", tg_tape_error(t));
    cr_expect_null(tg_compiled_raw_tensors(c));
    cr_expect(strstr(tg_compiled_source(c), "node 'm' (exp) is the output and has more than one "
                     "element"), "%s", tg_compiled_source(c));
    cr_expect_eq(tg_compiled_run_seed(c, NULL), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(t), "tg_compiled_run_seed: seed is NULL");
    tg_tape_reset(t);
    m = tg_exp(tg_tensor_param(t, 1, (int[]){2}, v));
    tg_label(m, "m");
    tg_compiled_free(c);
    cr_assert_not_null(c = tg_compile(m, &o), "%s", tg_tape_error(t));
    cr_expect_eq(tg_compiled_run(c), TG_ERR_SHAPE);
    cr_expect_str_eq(tg_tape_error(t), "tg_compiled_run: output 'm' is a tensor of shape [2], "
                     "not a scalar (reduce it with tg_sum or tg_mean, or seed it with "
                     "tg_compiled_run_seed)");
    tg_compiled_free(c);
    tg_tape_reset(t);
    c = try_compile(t, &tg_op_exp, &o);
    cr_assert_not_null(c, "%s", tg_tape_error(t));
    cr_expect_eq(tg_compiled_run_seed(c, v), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(t), "tg_compiled_run_seed: the output is a scalar node, which "
                     "the module seeds with 1 (use tg_compiled_run)");
    tg_compiled_free(c);
    tg_tape_reset(t);
    c = try_compile(t, &tg_op_exp, &o);
    cr_assert_not_null(c, "%s", tg_tape_error(t));
    cr_expect_eq(tg_compiled_run(c), TG_OK);
    tg_tape_reset(t);
    cr_expect_eq(tg_compiled_run(c), TG_ERR_STALE);
    cr_expect(strstr(tg_tape_error(t), "the tape was reset since tg_compile"), "%s",
              tg_tape_error(t));
    tg_compiled_free(c);
    tg_tape_free(t);
}

/* ---- the cache ---- */

/* The one module file in dir (its path into path); 0 when there is not exactly one. */
static int module_file(const char *dir, char *path, size_t size)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 3 && !strcmp(e->d_name + len - 3, ".so")) {
            snprintf(path, size, "%s/%s", dir, e->d_name);
            n++;
        }
    }
    if (d) closedir(d);
    return n == 1;
}

/* Compile sigmoid(exp(p)) with o on a fresh tape, check it runs right, return its log. */
static void compile_logged(const tg_compile_opts *o, char *log, size_t size)
{
    tg_tape *t = tg_tape_new();
    tg_compiled *c = try_compile(t, &tg_op_exp, o);
    cr_assert_not_null(c, "%s", tg_tape_error(t));
    cr_expect_eq(tg_compiled_run(c), TG_OK);
    double in = 0.5, g;
    cr_expect(th_same(tg_compiled_raw(c)(&in, &g), tg_op_sigmoid.eval((double[]){exp(0.5)}, NULL)));
    snprintf(log, size, "%s", tg_compiled_log(c));
    tg_compiled_free(c);
    tg_tape_free(t);
}

Test(compile, the_cache_is_used_and_a_bad_file_in_it_is_rebuilt_never_trusted)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    char log[400], path[300], other[300];
    compile_logged(&cc.opts, log, sizeof log);
    cr_expect(strstr(log, "built with cc in") && strstr(log, "(cached in"), "%s", log);
    cr_assert(module_file(cc.dir, path, sizeof path), "no module file in %s", cc.dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 022, 0, "the module is writable by others: %o", st.st_mode);
    compile_logged(&cc.opts, log, sizeof log);
    cr_expect(strstr(log, "loaded from the cache"), "%s", log);

    struct {
        const char *how, *says;
    } bad[] = {{"garbage", "do not match its checksum"}, {"truncated", "do not match its checksum"},
               {"symlink", "(a symbolic link)"}, {"mode 0666", "writable by others"},
               {"another module", "holds another module"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        snprintf(other, sizeof other, "%s/other", cc.dir);
        if (!strcmp(bad[k].how, "garbage")) {
            FILE *f = fopen(path, "w");
            fputs("\177ELF but not really", f);
            fclose(f);
        } else if (!strcmp(bad[k].how, "truncated")) {
            cr_assert_eq(truncate(path, st.st_size / 2), 0);
        } else if (!strcmp(bad[k].how, "symlink")) {
            unlink(path);
            cr_assert_eq(symlink("/dev/null", path), 0);
        } else if (!strcmp(bad[k].how, "mode 0666")) {
            cr_assert_eq(chmod(path, 0666), 0);
        } else { /* a module of another tape under this one's name */
            tg_tape *t = tg_tape_new();
            tg_compile_opts o = {.cache_dir = ""};
            tg_var p = tg_param(t, 1.0);
            tg_compiled *c = tg_compile(tg_cos(p), &o);
            cr_assert_not_null(c);
            char dir[64] = "/tmp/tg-other-XXXXXX";
            cr_assert_not_null(mkdtemp(dir));
            tg_compile_opts o2 = {.cache_dir = dir};
            tg_compiled *c2 = tg_compile(tg_cos(p), &o2);
            cr_assert_not_null(c2, "%s", tg_tape_error(t));
            char mod[300];
            cr_assert(module_file(dir, mod, sizeof mod));
            cr_assert_eq(rename(mod, path), 0, "%s", strerror(errno));
            char sum_from[300], sum_to[300]; /* with its own checksum: whole, but not ours */
            snprintf(sum_from, sizeof sum_from, "%.*s.sum", (int)strlen(mod) - 3, mod);
            snprintf(sum_to, sizeof sum_to, "%.*s.sum", (int)strlen(path) - 3, path);
            cr_assert_eq(rename(sum_from, sum_to), 0, "%s", strerror(errno));
            rmdir(dir);
            tg_compiled_free(c), tg_compiled_free(c2);
            tg_tape_free(t);
        }
        compile_logged(&cc.opts, log, sizeof log);
        cr_expect(strstr(log, "rebuilt") && strstr(log, bad[k].says), "a %s module: %s",
                  bad[k].how, log);
        struct stat now;
        cr_expect(lstat(path, &now) == 0 && S_ISREG(now.st_mode) && !(now.st_mode & 022),
                  "module file (%s): not replaced by a good one", bad[k].how);
        compile_logged(&cc.opts, log, sizeof log);
        cr_expect(strstr(log, "loaded from the cache"), "after the module file (%s): %s",
                  bad[k].how, log);
    }
    cache_close(&cc);
}

Test(compile, a_cache_directory_others_can_write_is_not_used)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    char log[400], path[300];
    cr_assert_eq(chmod(cc.dir, 0777), 0);
    compile_logged(&cc.opts, log, sizeof log);
    cr_expect(strstr(log, "not cached: cache not used: directory") &&
              strstr(log, "is writable by others (mode 0777)"), "%s", log);
    cr_expect(!module_file(cc.dir, path, sizeof path), "a module was written to %s", cc.dir);
    if (geteuid() == 0) { /* a directory of another user (only root can make one) */
        cr_assert_eq(chmod(cc.dir, 0700), 0);
        cr_assert_eq(chown(cc.dir, 65534, 65534), 0);
        compile_logged(&cc.opts, log, sizeof log);
        cr_expect(strstr(log, "belongs to user 65534, not to this one (0)"), "%s", log);
        cr_assert_eq(chown(cc.dir, 0, 0), 0);
        compile_logged(&cc.opts, log, sizeof log); /* a file of another user */
        cr_assert(module_file(cc.dir, path, sizeof path));
        cr_assert_eq(chown(path, 65534, 65534), 0);
        compile_logged(&cc.opts, log, sizeof log);
        cr_expect(strstr(log, "rebuilt") && strstr(log, "belongs to user 65534"), "%s", log);
    }
    cache_close(&cc);
}

Test(compile, nodes_outside_the_cone_have_no_gradient_and_keep_their_values)
{
    th_need_cc();
    tg_tape *t = tg_tape_new();
    tg_compile_opts o = {.cache_dir = ""};
    tg_var p = tg_param(t, 0.5), other = tg_exp(p), out = tg_sin(p);
    cr_assert_eq(tg_backward(other), TG_OK); /* a stale adjoint where the run writes none */
    cr_assert_neq(tg_gradient(other), 0.0);
    tg_compiled *c = tg_compile(out, &o);
    cr_assert_not_null(c, "%s", tg_tape_error(t));
    tg_set(p, 1.5);
    cr_assert_eq(tg_compiled_run(c), TG_OK);
    cr_expect_eq(tg_gradient(other), 0.0, "a node outside the cone kept a gradient");
    cr_expect_eq(tg_gradient(p), cos(1.5));
    cr_expect_eq(tg_value(other), exp(0.5), "documented: not recomputed");
    tg_compiled_free(c);
    tg_tape_free(t);
}

/* ---- tensor programs: their nodes run by the library from the compiled code ---- */

typedef struct tensor_case {
    const char *name;
    int which;
} tensor_case;

/* Small programs over every tensor op, scalars mixed in: X [4,3] and labels constant, W [3,5],
 * b [5], V [5,2] and s (a scalar) parameters; every node is in the output's cone. */
static tg_var record_tensor(tg_tape *t, void *ud)
{
    const int which = ((tensor_case *)ud)->which;
    th_rng r = th_rng_new(17 + (uint64_t)which);
    double x[12], w[15], bb[5], v[10];
    for (int k = 0; k < 12; k++) x[k] = th_uniform(&r, -2, 2);
    for (int k = 0; k < 15; k++) w[k] = th_uniform(&r, -1, 1);
    for (int k = 0; k < 5; k++) bb[k] = th_uniform(&r, -1, 1);
    for (int k = 0; k < 10; k++) v[k] = th_uniform(&r, -1, 1);
    tg_var X = tg_tensor_const(t, 2, (int[]){4, 3}, x), W = tg_tensor_param(t, 2, (int[]){3, 5}, w);
    tg_var b = tg_tensor_param(t, 1, (int[]){5}, bb), V = tg_tensor_param(t, 2, (int[]){5, 2}, v);
    tg_var s = tg_param(t, 0.7), s2 = tg_mul(tg_sigmoid(s), s); /* scalar nodes among them */
    tg_var h = tg_add(tg_matmul(X, W), b);                      /* [4,5], b broadcast */
    switch (which) {
    case 0: { /* an MLP's loss with a penalty */
        tg_var z = tg_matmul(tg_relu(h), V);
        const int labels[4] = {0, 1, 1, 0};
        return tg_add(tg_cross_entropy(z, labels), tg_mul(s2, tg_sum(tg_mul(W, W))));
    }
    case 1: /* reductions, softmax along an axis, a scalar times a tensor */
        return tg_add(tg_sum(tg_mul(tg_softmax_axis(h, 0), tg_mul(s2, h))),
                      tg_mean(tg_max_axis(tg_tanh(h), 1, 0)));
    case 2: /* logsumexp, log_softmax, transpose, reshape, slice */
        return tg_mul(s2, tg_sum(tg_add(tg_logsumexp(tg_transpose(h), 0, 0),
                                        tg_sum_axis(tg_slice(tg_reshape(tg_log_softmax(h), 2,
                                                                        (int[]){5, 4}),
                                                             0, 1, 3), 0, 0))));
    case 4: { /* products with a batch on either side, and of a node with itself */
        tg_var h2 = tg_mul(h, h), M = tg_matmul(tg_transpose(W), W); /* [5,5] */
        tg_var y1 = tg_matmul(tg_reshape(h2, 3, (int[]){2, 2, 5}), V);                /* [2,2,2] */
        tg_var y2 = tg_matmul(tg_transpose(V), tg_reshape(h2, 3, (int[]){2, 5, 2})); /* [2,2,2] */
        return tg_add(tg_sum(tg_mul(y1, y2)), tg_mul(s2, tg_sum(tg_matmul(M, M))));
    }
    default: { /* losses, where, and kinked elementwise ops on tensors */
        tg_var p = tg_matmul(tg_maximum(h, tg_mul(h, s)), V); /* [4,2] */
        tg_var tgt = tg_tensor_const(t, 2, (int[]){4, 2}, x);
        return tg_add(tg_mul(s2, tg_mse(p, tgt)),
                      tg_bce_with_logits(tg_where(tg_gt(p, tgt), p, tgt), tg_sigmoid(tgt)));
    }
    }
}

/* A tensor output of several elements, run with a seed as tg_backward_seed runs it: the
 * matmul of W4 (Y = AB) and an elementwise tail (tanh(Y) * Y), each at new A and seeds. */
Test(compile, a_seeded_tensor_output_gives_the_same_bits_as_tg_backward_seed)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    for (int which = 0; which < 2; which++) {
        tg_tape *tp[2];
        tg_var A[2], out[2];
        th_rng r = th_rng_new(5 + (uint64_t)which);
        double a[12], b[12];
        for (int k = 0; k < 12; k++) a[k] = th_uniform(&r, -1, 1), b[k] = th_uniform(&r, -1, 1);
        for (int side = 0; side < 2; side++) {
            cr_assert_not_null(tp[side] = tg_tape_new());
            A[side] = tg_tensor_param(tp[side], 2, (int[]){3, 4}, a);
            tg_var B = tg_tensor_param(tp[side], 2, (int[]){4, 3}, b);
            tg_var Y = tg_matmul(A[side], B);
            out[side] = which ? tg_mul(tg_tanh(Y), Y) : Y; /* [3,3] */
        }
        tg_compiled *c = tg_compile(out[0], &cc.opts);
        cr_assert_not_null(c, "%s", tg_tape_error(tp[0]));
        for (int k = 0; k < 6; k++) {
            double seed[16], av[12];
            for (int j = 0; j < 16; j++) seed[j] = th_uniform(&r, -2, 2);
            for (int j = 0; j < 12; j++) av[j] = th_uniform(&r, -1.5, 1.5);
            for (int side = 0; side < 2; side++) tg_tensor_set(A[side], av);
            cr_assert_eq(tg_compiled_run_seed(c, seed), TG_OK, "%s", tg_tape_error(tp[0]));
            cr_assert_eq(tg_replay(tp[1]), TG_OK);
            cr_assert_eq(tg_backward_seed(out[1], seed), TG_OK, "%s", tg_tape_error(tp[1]));
            char what[64];
            snprintf(what, sizeof what, "seeded program %d at point %d", which, k);
            th_expect_same_tensors(tp[0], tp[1], out[0], what);
        }
        tg_compiled_free(c);
        tg_tape_free(tp[0]);
        tg_tape_free(tp[1]);
    }
    cache_close(&cc);
}

Test(compile, tensor_programs_compile_to_the_same_bits)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    for (int which = 0; which < 5; which++) {
        tensor_case tc = {"tensor program", which};
        pair p;
        char what[96];
        snprintf(what, sizeof what, "tensor program %d", which);
        pair_make(&p, record_tensor, &tc, &cc, what);
        cr_expect_null(tg_compiled_raw(p.c), "%s: a raw entry for tensors", what);
        cr_expect_null(tg_compiled_raw_tensors(p.c), "%s: a fused entry over matmul", what);
        cr_expect_eq(tg_compiled_inputs(p.c, NULL, 0), 0);
        const char *src = tg_compiled_source(p.c); /* products written out, as .gemm says */
        cr_expect(strstr(src, "tg_rt->cblas_dgemm(CblasRowMajor") && !strstr(src, "matmul(...)"),
                  "%s: a matmul the module does not write out as cblas_dgemm", what);
        th_rng r = th_rng_new(99 + (uint64_t)which);
        for (int k = 0; k < 12; k++) { /* new W and s on both tapes */
            double w[15];
            for (int j = 0; j < 15; j++) w[j] = th_uniform(&r, -1.5, 1.5);
            double sv = th_uniform(&r, -1, 1);
            for (int side = 0; side < 2; side++) {
                tg_tape *t = side ? p.b : p.a;
                tg_tensor_set((tg_var){t, 1, p.out.epoch}, w);
                tg_set((tg_var){t, 4, p.out.epoch}, sv);
            }
            cr_assert_eq(tg_compiled_run(p.c), TG_OK, "%s", tg_tape_error(p.a));
            cr_assert_eq(tg_replay(p.b), TG_OK);
            cr_assert_eq(tg_backward((tg_var){p.b, p.out.index, p.out.epoch}), TG_OK);
            snprintf(what, sizeof what, "tensor program %d at point %d", which, k);
            th_expect_same_tensors(p.a, p.b, p.out, what);
        }
        pair_free(&p);
    }
    cache_close(&cc);
}

/* ---- the fused raw entry of a tensor module ---- */

/* The fused entry against the interpreted tape b: out and every input's gradient, bit for
 * bit (an input the sweep did not reach has zeros). */
static void expect_same_arrays(const tg_compiled *c, tg_tape *b, tg_var out, const char *what)
{
    tg_compiled_tensor_fn f = tg_compiled_raw_tensors(c);
    cr_assert_not_null(f, "%s: no fused raw entry: %s", what, tg_compiled_source(c));
    const int n = tg_compiled_inputs(c, NULL, 0);
    cr_assert_gt(n, 0, "%s", what);
    tg_var *leaves = malloc((size_t)n * sizeof *leaves);
    const double **in = malloc((size_t)n * sizeof *in);
    double **grad = malloc((size_t)n * sizeof *grad);
    cr_assert(leaves && in && grad);
    tg_compiled_inputs(c, leaves, n);
    for (int k = 0; k < n; k++) {
        tg_var v = {b, leaves[k].index, out.epoch};
        in[k] = tg_data(v);
        grad[k] = malloc(tg_numel(v) * sizeof **grad);
        cr_assert(in[k] && grad[k]);
    }
    const double y = f(in, grad);
    cr_expect(th_same(y, tg_value((tg_var){b, out.index, out.epoch})), "%s: fused entry gives "
              "%.17g, the interpreter %.17g", what, y, tg_value((tg_var){b, out.index, out.epoch}));
    for (int k = 0; k < n; k++) {
        tg_var v = {b, leaves[k].index, out.epoch};
        const double *g = tg_gradient_data(v);
        for (size_t e = 0; e < tg_numel(v); e++)
            cr_expect(th_same(grad[k][e], g ? g[e] : 0.0), "%s: input %d element %zu: fused "
                      "gradient %.17g, the interpreter %.17g", what, k, e, grad[k][e],
                      g ? g[e] : 0.0);
        free(grad[k]);
    }
    free(leaves), free(in), free(grad);
}

typedef struct fused_case {
    uint64_t seed;
    int one_pass; /* out is the sum itself, else a function of two sums */
} fused_case;

/* An elementwise op with no check on its operands, drawn from the registry (of arity
 * operands; 0: any). */
static const tg_op_def *ew_op(th_rng *r, int arity)
{
    const int nops = tg_registry_count(NULL);
    for (;;) {
        const tg_op_def *op = tg_registry_at(NULL, (int)(th_next(r) % (uint64_t)nops));
        if (op->eval && !op->infer && !op->check && (!arity || op->arity == arity)) return op;
    }
}

/* A program the fused loop takes, over every elementwise op: the loop's shape S = [3,5];
 * inputs P (S, read whole), W ([4,5], read through two slices), R ([15], reshaped to S),
 * C (a constant of shape S), scalar parameters, a constant and a one-element tensor;
 * a one-element value computed from the parameters first, and another among the loop's
 * nodes; then 14 random elementwise nodes of shape S, one-element values among their
 * operands (up to six times one already used: each such contribution gets a loop of its
 * own), and the ones no node read added up; then sums, and for two passes one-element nodes
 * over the sums. */
static tg_var record_fused(tg_tape *t, void *ud)
{
    const fused_case *fc = ud;
    th_rng r = th_rng_new(fc->seed);
    double p[15], w[20], rr[15], cc[15];
    for (int k = 0; k < 15; k++) p[k] = th_uniform(&r, -2, 2), rr[k] = th_uniform(&r, -2, 2);
    for (int k = 0; k < 15; k++) cc[k] = th_uniform(&r, -2, 2);
    for (int k = 0; k < 20; k++) w[k] = th_uniform(&r, -2, 2);
    const int S[2] = {3, 5};
    tg_var P = tg_tensor_param(t, 2, S, p), W = tg_tensor_param(t, 2, (int[]){4, 5}, w);
    tg_var R = tg_tensor_param(t, 1, (int[]){15}, rr), C = tg_tensor_const(t, 2, S, cc);
    tg_var small[7];
    for (int k = 0; k < 3; k++) small[k] = tg_param(t, th_uniform(&r, -1.5, 1.5));
    small[3] = tg_const(t, th_uniform(&r, -1.5, 1.5));
    small[4] = tg_tensor_param(t, 1, (int[]){1}, (double[]){0.4});
    small[5] = tg_mul(tg_sin(small[0]), small[1]); /* computed before the loop */
    int used[7] = {0, 0, 0, 0, 0, 1, 0}, read[24] = {0}, again = 0;
    tg_var pool[24] = {P, tg_slice(W, 0, 1, 4), tg_slice(W, 0, 0, -1), tg_reshape(R, 2, S), C,
                       tg_mul(P, small[5])};
    int n = 6;
    while (n < 20) {
        if (n == 12) small[6] = tg_sin(small[2]); /* differentiated, among the loop's nodes */
        const tg_op_def *op = ew_op(&r, 0);
        tg_var in[TG_MAX_ARITY];
        int big = 0;
        for (int j = 0; j < op->arity; j++) {
            const int k = (int)(th_next(&r) % (n < 12 ? 6 : 7));
            if (j && th_next(&r) % 2 == 0 && k != 2 && (k == 3 || !used[k] || again < 6)) {
                in[j] = small[k]; /* a one-element operand, at times one used before */
                again += k != 3 && used[k];
                used[k] += k != 3;
                continue;
            }
            const int back = (int)(th_next(&r) % 5);
            const int at = back < n ? n - 1 - back : (int)(th_next(&r) % (uint64_t)n);
            in[j] = pool[at];
            read[at] = big = 1;
        }
        if (!big) in[0] = pool[n - 1], read[n - 1] = 1;
        pool[n++] = tg_apply(op, op->arity, in);
    }
    tg_var last = pool[n - 1]; /* every node in the output's cone */
    for (int k = 0; k < n - 1; k++)
        if (!read[k]) last = tg_add(last, pool[k]);
    if (!used[6]) last = tg_mul(last, small[6]);
    tg_var s1 = tg_sum(last);
    if (fc->one_pass) return s1;
    tg_var s2 = tg_sum(tg_mul(last, pool[(int)(th_next(&r) % (uint64_t)n)]));
    tg_var out = tg_apply(ew_op(&r, 1), 1, &s1);
    return tg_add(tg_mul(out, s2), tg_mul(s1, small[2]));
}

Test(compile, the_fused_raw_entry_gives_the_interpreters_bits)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    int own = 0; /* programs with contributions added in loops of their own */
    for (uint64_t g = 0; g < 16; g++) {
        fused_case fc = {th_seed("fused", g), (int)(g % 2)};
        pair p;
        char what[96];
        snprintf(what, sizeof what, "fused program %d", (int)g);
        pair_make(&p, record_fused, &fc, &cc, what);
        own += strstr(tg_compiled_source(p.c), "in a loop of its own") != NULL;
        th_rng r = th_rng_new(fc.seed + 1);
        for (int k = 0; k < 8; k++) { /* new P and scalars on both tapes */
            double pv[15], s[3];
            for (int j = 0; j < 15; j++) pv[j] = th_uniform(&r, -2, 2);
            for (int j = 0; j < 3; j++) s[j] = th_uniform(&r, -1.5, 1.5);
            for (int side = 0; side < 2; side++) {
                tg_tape *t = side ? p.b : p.a;
                tg_tensor_set((tg_var){t, 0, p.out.epoch}, pv);
                for (int j = 0; j < 3; j++) tg_set((tg_var){t, 4 + (uint32_t)j, p.out.epoch}, s[j]);
            }
            cr_assert_eq(tg_compiled_run(p.c), TG_OK, "%s", tg_tape_error(p.a));
            cr_assert_eq(tg_replay(p.b), TG_OK);
            cr_assert_eq(tg_backward((tg_var){p.b, p.out.index, p.out.epoch}), TG_OK);
            snprintf(what, sizeof what, "fused program %d at point %d", (int)g, k);
            th_expect_same_tensors(p.a, p.b, p.out, what);
            expect_same_arrays(p.c, p.b, p.out, what);
        }
        pair_free(&p);
    }
    cr_expect_geq(own, 4, "only %d of 16 programs have loops of one contribution", own);
    cache_close(&cc);
}

/* Cones one loop cannot take in the library's order of additions: each module still runs
 * (tg_compiled_run, checked against the interpreter), has no fused entry, and its source's
 * first comment names the node and why. */
static tg_var record_unfused(tg_tape *t, void *ud)
{
    const int which = *(const int *)ud;
    double v[12] = {0.5, -1, 2, 0.25, -0.75, 1.5, 3, -2, 0.1, 0.9, -0.3, 1.1};
    tg_var X = tg_tensor_param(t, 1, (int[]){12}, v), w = tg_param(t, 0.5);
    tg_var a = tg_slice(X, 0, 1, 12), b = tg_slice(X, 0, 0, -1);
    tg_label(w, "w");
    switch (which) {
    case 0: { /* w scales ten of the loop's nodes */
        tg_var y = a;
        for (int k = 0; k < 10; k++) y = tg_mul(tg_sin(y), w);
        return tg_sum(y);
    }
    case 1: /* X read whole and through a window */
        return tg_sum(tg_mul(tg_reshape(X, 1, (int[]){12}), tg_exp(X)));
    case 2: /* three windows of X */
        return tg_sum(tg_mul(tg_mul(a, b), tg_slice(X, 0, 0, 11)));
    case 3: /* a sum along an axis */
        return tg_sum(tg_sum_axis(tg_exp(tg_reshape(X, 2, (int[]){3, 4})), 0, 0));
    case 4: { /* a differentiated scalar recorded after a loop node adds to w's derivative */
        tg_var d = tg_mul(a, w), u = tg_sin(w);
        return tg_sum(tg_mul(d, tg_mul(b, u)));
    }
    case 5: /* a loop node computed from a sum */
        return tg_sum(tg_mul(a, tg_sum(b)));
    default: /* two shapes */
        return tg_add(tg_sum(tg_exp(a)), tg_sum(tg_exp(X)));
    }
}

Test(compile, a_cone_the_fused_loop_cannot_take_says_why_and_still_runs)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    static const char *const why[] = {
        "one-element values are operands of the loop's elementwise operations 9 times more "
        "than once, and each time needs a loop of its own (at most 8)",
        "is read both whole and through windows",
        "is read through more than two windows",
        "(sum) is not elementwise, a window of an input (slice, reshape) or a whole sum",
        "node #5 (sin) is differentiated after a node of the loop that adds to its operand's "
        "derivative too: the library's sum would be reordered (record it before the loop's "
        "nodes)",
        "(mul) is computed from a sum, which is complete only after the loop",
        "(exp) has another shape than the loop's"};
    for (int which = 0; which < 7; which++) {
        pair p;
        char what[64];
        snprintf(what, sizeof what, "unfused program %d", which);
        pair_make(&p, record_unfused, &which, &cc, what);
        cr_expect_null(tg_compiled_raw_tensors(p.c), "%s", what);
        cr_expect_eq(tg_compiled_inputs(p.c, NULL, 0), 0, "%s", what);
        const char *src = tg_compiled_source(p.c), *end = strstr(src, "*/");
        const char *at = strstr(src, why[which]);
        cr_expect(at && at < end, "%s: the header does not say '%s':\n%.*s", what, why[which],
                  (int)(end ? end - src : 200), src);
        cr_assert_eq(tg_compiled_run(p.c), TG_OK, "%s", tg_tape_error(p.a));
        cr_assert_eq(tg_replay(p.b), TG_OK);
        cr_assert_eq(tg_backward((tg_var){p.b, p.out.index, p.out.epoch}), TG_OK);
        th_expect_same_tensors(p.a, p.b, p.out, what);
        pair_free(&p);
    }
    cache_close(&cc);
}

/* The standalone emitter on the fused programs: C with no tapegrad in it, compiled with cc,
 * against the interpreter bit for bit. Inputs P, W, R and two scalars (C, the first scalar,
 * sin of it, the constant and the one-element tensor folded in); gradients for P, W, a
 * scalar, R (through a reshape), and P a second time. */
Test(compile, the_standalone_fused_function_agrees_with_the_tape)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    for (uint64_t g = 0; g < 6; g++) {
        fused_case fc = {th_seed("fused", g), (int)(g % 2)};
        tg_tape *t = tg_tape_new();
        tg_var out = record_fused(t, &fc), leaf[9];
        for (uint32_t k = 0; k < 9; k++) leaf[k] = (tg_var){t, k, out.epoch};
        const tg_var in[5] = {leaf[0], leaf[1], leaf[2], leaf[5], leaf[6]};
        const tg_var wrt[5] = {leaf[0], leaf[1], leaf[5], leaf[2], leaf[0]};
        tg_emit_opts o = {.name = "fused", .n_in = 5, .in = in, .n_wrt = 5, .wrt = wrt};
        char *src = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&src, &len);
        cr_assert_eq(tg_emit_c(out, &o, f), TG_OK, "program %d: %s", (int)g, tg_tape_error(t));
        fclose(f);
        cr_expect(strstr(src, "double fused(const double *const *in, double *const *grad)") &&
                  strstr(src, "in[1]    = t1, a tensor [4,5]: 20 values, row-major") &&
                  strstr(src, "static const double V3[15]") && !strstr(src, "tapegrad.h"),
                  "program %d: the header and the folded constant:\n%s", (int)g, src);
        void *dl;
        double (*fn)(const double *const *, double *const *) =
            (double (*)(const double *const *, double *const *))(uintptr_t)th_compile_fn(
                cc.dir, src, "fused", &dl);
        th_rng r = th_rng_new(fc.seed + 7);
        for (int k = 0; k < 6; k++) {
            double pv[15], wv[20], s[3] = {0}, gp[15], gw[20], gs, gr[15], gp2[15];
            for (int j = 0; j < 15; j++) pv[j] = th_uniform(&r, -2, 2);
            for (int j = 0; j < 20; j++) wv[j] = th_uniform(&r, -2, 2);
            for (int j = 1; j < 3; j++) tg_set(leaf[4 + j], s[j] = th_uniform(&r, -1.5, 1.5));
            tg_tensor_set(leaf[0], pv);
            tg_tensor_set(leaf[1], wv);
            const double *inp[5] = {pv, wv, tg_data(leaf[2]), &s[1], &s[2]};
            double *gradp[5] = {gp, gw, &gs, gr, gp2};
            const double y = fn(inp, gradp);
            cr_assert_eq(tg_replay(t), TG_OK);
            cr_assert_eq(tg_backward(out), TG_OK);
            cr_expect(th_same(y, tg_value(out)), "program %d: f %.17g, the tape %.17g", (int)g,
                      y, tg_value(out));
            for (int q = 0; q < 5; q++) {
                const double *want = tg_gradient_data(wrt[q]);
                for (size_t e = 0; e < tg_numel(wrt[q]); e++) {
                    const double w = want ? want[e] : tg_gradient(wrt[q]);
                    cr_expect(th_same(gradp[q][e], w), "program %d point %d: grad[%d][%zu] "
                              "%.17g, the tape %.17g", (int)g, k, q, e, gradp[q][e], w);
                }
            }
        }
        dlclose(dl);
        free(src);
        tg_tape_free(t);
    }
    cache_close(&cc);
}

/* ---- tg_emit_c's tensors node by node ---- */

/* A cone no fused loop takes (products, transposes, several shapes), for tg_emit_c: X [4,3]
 * an input, W [3,5], b [5], V [5,2] and s parameters, T [4,2] folded in; program 1 is
 * record_tensor's products (X folded there), programs from 2 on put four elementwise ops
 * drawn at random between the products. Returns out; leaf[k] is node k. */
static tg_var record_staged(tg_tape *t, int which, tg_var *leaf)
{
    if (which == 1) {
        tensor_case tc = {"staged", 4};
        tg_var out = record_tensor(t, &tc);
        for (uint32_t k = 0; k < 5; k++) leaf[k] = (tg_var){t, k, out.epoch};
        return out;
    }
    th_rng r = th_rng_new(th_seed("staged", (uint64_t)which));
    double x[12], w[15], bb[5], v[10], tv[8];
    for (int k = 0; k < 12; k++) x[k] = th_uniform(&r, -2, 2);
    for (int k = 0; k < 15; k++) w[k] = th_uniform(&r, -1, 1);
    for (int k = 0; k < 5; k++) bb[k] = th_uniform(&r, -1, 1);
    for (int k = 0; k < 10; k++) v[k] = th_uniform(&r, -1, 1);
    for (int k = 0; k < 8; k++) tv[k] = th_uniform(&r, -1, 1);
    leaf[0] = tg_tensor_const(t, 2, (int[]){4, 3}, x);
    leaf[1] = tg_tensor_param(t, 2, (int[]){3, 5}, w);
    leaf[2] = tg_tensor_param(t, 1, (int[]){5}, bb);
    leaf[3] = tg_tensor_param(t, 2, (int[]){5, 2}, v);
    leaf[4] = tg_param(t, 0.7);
    tg_var T = tg_tensor_const(t, 2, (int[]){4, 2}, tv);
    tg_var H = tg_tanh(tg_add(tg_matmul(leaf[0], leaf[1]), leaf[2])); /* [4,5] */
    for (int k = 0; which && k < 4; k++) { /* drawn: on H, with b, s or H itself */
        const tg_op_def *op = ew_op(&r, 1 + (int)(th_next(&r) % 2));
        const tg_var other[3] = {leaf[2], leaf[4], tg_transpose(tg_transpose(H))};
        tg_var xs[2] = {H, other[th_next(&r) % 3]};
        if (op->arity == 2 && th_next(&r) % 2) xs[0] = xs[1], xs[1] = H;
        H = tg_apply(op, op->arity, xs);
    }
    tg_var D = tg_sub(tg_matmul(H, leaf[3]), T);                        /* [4,2] */
    tg_var pen = tg_mul(tg_sigmoid(leaf[4]), tg_sum(tg_slice(tg_transpose(H), 0, 1, 3)));
    return tg_add(tg_sum(tg_mul(D, D)), pen);
}

Test(compile, the_standalone_function_written_node_by_node_agrees_with_the_tape)
{
    th_need_cc();
    cache cc;
    cache_open(&cc);
    for (int which = 0; which < 8; which++) {
        tg_tape *t = tg_tape_new();
        tg_var leaf[5], out = record_staged(t, which, leaf);
        /* program 0: X an input, not differentiated; program 1: X folded in */
        const tg_var in[5] = {leaf[1], leaf[4], leaf[3], leaf[2], leaf[0]};
        const tg_var wrt[5] = {leaf[1], leaf[4], leaf[3], leaf[1], leaf[2]};
        tg_emit_opts o = {.name = "staged", .n_in = 5 - (which == 1), .in = in, .n_wrt = 5,
                          .wrt = wrt};
        char *src = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&src, &len);
        cr_assert_eq(tg_emit_c(out, &o, f), TG_OK, "program %d: %s", which, tg_tape_error(t));
        fclose(f);
        cr_expect(strstr(src, "#include <cblas.h>") && strstr(src, "calloc(") &&
                  strstr(src, "cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans") &&
                  !strstr(src, "tg_rt") && !strstr(src, "tapegrad.h") &&
                  (which == 1 || strstr(src, "= transpose(")) &&
                  (which != 1 || strstr(src, "static const double V0[12]")),
                  "program %d: not the staged function expected:\n%s", which, src);
        cr_expect(which || (strstr(src, "    /* t6 = matmul(t0, t1) */\n    cblas_dgemm("
                                        "CblasRowMajor, CblasNoTrans, CblasNoTrans, 4, 5, 3, 1.0, "
                                        "V0, 3, V1, 5, 0.0, V6, 5);\n") &&
                            strstr(src, "    /* t6 = matmul(t0, t1): d/dt1 */\n    cblas_dgemm("
                                        "CblasRowMajor, CblasTrans, CblasNoTrans, 3, 5, 4, 1.0, "
                                        "V0, 3, G6, 5, 1.0, G1, 5);\n") &&
                            strstr(src, " * Needs <math.h>, <string.h> and <stdlib.h>, and "
                                        "CBLAS's <cblas.h>\n * (link with -lm and a CBLAS, such "
                                        "as -lopenblas).\n * Returns NaN, and writes no "
                                        "gradient, if its workspace of 271 doubles cannot be "
                                        "allocated. */\n")),
                  "program 0: not the lines docs/compile.md shows:\n%s", src);
        void *dl;
        double (*fn)(const double *const *, double *const *) =
            (double (*)(const double *const *, double *const *))(uintptr_t)th_compile_fn(
                cc.dir, src, "staged", &dl);
        th_rng r = th_rng_new(61 + (uint64_t)which);
        for (int k = 0; k < 6; k++) {
            double wv[15], xv[12], sv = th_uniform(&r, -1, 1), g[5][15];
            for (int j = 0; j < 15; j++) wv[j] = th_uniform(&r, -1.5, 1.5);
            for (int j = 0; j < 12; j++) xv[j] = th_uniform(&r, -2, 2);
            tg_tensor_set(leaf[1], wv);
            tg_set(leaf[4], sv);
            if (which != 1) tg_tensor_set(leaf[0], xv);
            const double *inp[5] = {wv, &sv, tg_data(leaf[3]), tg_data(leaf[2]), xv};
            double *gradp[5] = {g[0], g[1], g[2], g[3], g[4]};
            const double y = fn(inp, gradp);
            cr_assert_eq(tg_replay(t), TG_OK);
            cr_assert_eq(tg_backward(out), TG_OK);
            cr_expect(th_same(y, tg_value(out)), "program %d: f %.17g, the tape %.17g", which, y,
                      tg_value(out));
            for (int q = 0; q < 5; q++) {
                const double *want = tg_gradient_data(wrt[q]);
                for (size_t e = 0; e < tg_numel(wrt[q]); e++) {
                    const double w = want ? want[e] : tg_gradient(wrt[q]);
                    cr_expect(th_same(gradp[q][e], w), "program %d point %d: grad[%d][%zu] "
                              "%.17g, the tape %.17g", which, k, q, e, gradp[q][e], w);
                }
            }
        }
        dlclose(dl);
        free(src);
        tg_tape_free(t);
    }
    cache_close(&cc);
}
