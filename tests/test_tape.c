/* test_tape.c - the tape's lifecycle: new/free, the allocator hook (every byte through it and
 * back), reset keeping capacity, size and bytes, labels, handles across growth and reset.
 * See LICENSE. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

/* fma3: y = a*b + c, an op with more than two operands (its inputs live in a side table) */
static double fma3_eval(const double *x, double *d)
{
    if (d) {
        d[0] = x[1];
        d[1] = x[0];
        d[2] = 1.0;
    }
    return x[0] * x[1] + x[2];
}

static tg_var fma3_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y;
    return i == 2 ? gy : tg_mul(gy, x[1 - i]);
}

static const tg_op_def fma3_op = {.name = "fma3", .arity = 3, .eval = fma3_eval,
                                  .vjp_graph = fma3_vjp_graph};

/* A workload touching every kind of record: binary ops, unary ops, kinked ops (side table),
 * a 3-operand op (side table). n rounds of about 8 nodes. Returns the last node. */
static tg_var workload(tg_tape *t, int rounds, tg_var *params, int nparams)
{
    for (int k = 0; k < nparams; k++) params[k] = tg_param(t, 0.1 * (k + 1));
    tg_var acc = tg_const(t, 0.0);
    for (int i = 0; i < rounds; i++) {
        tg_var a = params[i % nparams], b = params[(i + 1) % nparams];
        tg_var z = tg_add(tg_mul(a, b), tg_const(t, 0.01 * i));
        tg_var h = tg_relu(tg_sub(tg_tanh(z), tg_const(t, -0.5)));
        tg_var in[3] = {h, a, acc};
        acc = tg_mul(tg_apply(&fma3_op, 3, in), tg_const(t, 0.5));
    }
    return acc;
}

static tg_tape *counted_tape(th_alloc *a)
{
    memset(a, 0, sizeof *a);
    tg_tape *t = tg_tape_new_with(th_alloc_fn, a);
    cr_assert_not_null(t, "tg_tape_new_with failed");
    return t;
}

Test(tape, new_tape_is_empty_and_error_free)
{
    tg_tape *t = tg_tape_new();
    cr_assert_not_null(t);
    cr_expect_eq(tg_tape_size(t), 0);
    cr_expect_eq(tg_tape_bytes(t), 0);
    cr_expect_eq(tg_tape_status(t), TG_OK);
    cr_expect_null(tg_tape_error(t), "fresh tape has an error: %s", tg_tape_error(t));
    cr_expect_null(tg_replay_note(t));
    tg_tape_free(t);
    tg_tape_free(NULL); /* allowed */
    cr_expect_null(tg_tape_new_with(NULL, NULL), "a NULL allocator must give no tape");
}

Test(tape, every_byte_goes_through_the_allocator_and_comes_back)
{
    th_alloc a;
    tg_tape *t = counted_tape(&a);
    size_t after_new = a.alloc_calls;
    cr_expect_geq(after_new, 1, "tg_tape_new_with did not allocate the tape through the hook");
    tg_var p[5];
    tg_var e = workload(t, 300, p, 5);
    char name[16];
    for (int k = 0; k < 5; k++) {
        snprintf(name, sizeof name, "w%d", k);
        tg_label(p[k], name);
    }
    tg_label(e, "E");
    cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
    const double u[5] = {1, 2, 3, 4, 5};
    cr_assert_eq(tg_jvp(t, 5, p, u), TG_OK, "%s", tg_tape_error(t));
    tg_var d = tg_diff(e, p[0]);
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect(isfinite(tg_value(d)));
    tg_check_report rep;
    cr_expect_leq(tg_check_grad(e, 5, p, NULL, NULL, &rep), 1, "%s", tg_tape_error(t));
    cr_expect_gt(a.alloc_calls, after_new, "the records were not allocated through the hook");
    cr_expect_geq((size_t)a.live, tg_tape_bytes(t) + tg_tape_workspace_bytes(t),
                  "the hook holds %lld bytes, less than the tape reports (%zu + %zu)", a.live,
                  tg_tape_bytes(t), tg_tape_workspace_bytes(t));
    tg_tape_free(t);
    cr_expect_eq(a.allocated, a.freed, "allocated %zu bytes, freed %zu", a.allocated, a.freed);
    cr_expect_eq(a.live, 0, "%lld bytes still live after tg_tape_free", a.live);
    cr_expect_eq(a.bad_osize, 0, "%zu frees/reallocs passed a wrong old size", a.bad_osize);
}

Test(tape, reset_keeps_capacity_so_rerecording_allocates_nothing)
{
    th_alloc a;
    tg_tape *t = counted_tape(&a);
    tg_var p[4];
    for (int pass = 0; pass < 3; pass++) {
        size_t before = a.calls;
        tg_tape_reset(t);
        tg_var e = workload(t, 400, p, 4);
        cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
        const double u[4] = {1, -1, 0.5, 2};
        cr_assert_eq(tg_jvp(t, 4, p, u), TG_OK, "%s", tg_tape_error(t));
        tg_set(p[0], 0.3);
        cr_assert_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
        cr_assert_eq(tg_backward(e), TG_OK, "%s", tg_tape_error(t));
        tg_check_result res[4];
        tg_check_report rep;
        cr_assert_eq(tg_check_grad(e, 4, p, NULL, res, &rep), TG_OK, "%s", tg_tape_error(t));
        if (pass > 0)
            cr_expect_eq(a.calls - before, 0, "pass %d: %zu allocator calls after a reset "
                         "(record %zu nodes, backward, jvp, replay, check)", pass + 1,
                         a.calls - before, tg_tape_size(t));
    }
    tg_tape_free(t);
    cr_expect_eq(a.live, 0, "%lld bytes leaked", a.live);
}

Test(tape, reset_keeps_label_memory_too)
{
    /* tapegrad.h: "Forget every node, label and error but keep the memory: re-recording the
     * same graph after a reset allocates nothing" -- the article's graphs are labelled */
    th_alloc a;
    tg_tape *t = counted_tape(&a);
    char name[16];
    for (int pass = 0; pass < 3; pass++) {
        size_t before = a.calls;
        tg_tape_reset(t);
        tg_var p = tg_param(t, 0.5), acc = p;
        tg_label(p, "w");
        for (int i = 0; i < 40; i++) {
            acc = tg_mul(acc, p);
            snprintf(name, sizeof name, "z%d", i);
            tg_label(acc, name);
        }
        cr_assert_eq(tg_backward(acc), TG_OK, "%s", tg_tape_error(t));
        if (pass > 0)
            cr_expect_eq(a.calls - before, 0, "pass %d: re-recording a labelled graph of %zu "
                         "nodes after a reset made %zu allocator calls", pass + 1,
                         tg_tape_size(t), a.calls - before);
    }
    tg_tape_free(t);
}

Test(tape, size_and_bytes_count_the_records)
{
    tg_tape *t = tg_tape_new();
    tg_var a = tg_param(t, 1.0), b = tg_param(t, 2.0), acc = a;
    for (int i = 0; i < 998; i++) acc = i % 2 ? tg_mul(acc, b) : tg_add(acc, a);
    cr_expect_eq(tg_tape_size(t), 1000, "size %zu after 1000 nodes", tg_tape_size(t));
    size_t bytes = tg_tape_bytes(t);
    cr_expect_leq(bytes, 24 * tg_tape_size(t), "a graph of binary ops takes %zu bytes for %zu "
                  "nodes: %.1f per node, more than 24", bytes, tg_tape_size(t),
                  (double)bytes / (double)tg_tape_size(t));
    cr_expect_geq(bytes, 24 * tg_tape_size(t), "%zu bytes for %zu nodes: under 24 per node",
                  bytes, tg_tape_size(t));
    /* workspace: the partials (16 per node), then adjoints and tangents (8 per node each) */
    size_t ws0 = tg_tape_workspace_bytes(t);
    cr_expect_eq(ws0, 16 * tg_tape_size(t), "workspace before any sweep: %zu", ws0);
    cr_assert_eq(tg_backward(acc), TG_OK);
    cr_expect_eq(tg_tape_workspace_bytes(t), ws0 + 8 * tg_tape_size(t),
                 "workspace after backward: %zu", tg_tape_workspace_bytes(t));
    double one = 1.0;
    cr_assert_eq(tg_jvp(t, 1, &a, &one), TG_OK);
    cr_expect_eq(tg_tape_workspace_bytes(t), ws0 + 16 * tg_tape_size(t),
                 "workspace after backward and jvp: %zu", tg_tape_workspace_bytes(t));
    /* kinked nodes and 3-operand nodes have side tables: the bytes grow with them */
    size_t before = tg_tape_bytes(t), n0 = tg_tape_size(t);
    tg_var r = tg_relu(acc);
    tg_var in[3] = {r, a, b};
    tg_apply(&fma3_op, 3, in);
    cr_expect_gt(tg_tape_bytes(t), before + 24 * (tg_tape_size(t) - n0),
                 "a kinked node and a 3-operand node added only %zu bytes",
                 tg_tape_bytes(t) - before);
    tg_tape_reset(t);
    cr_expect_eq(tg_tape_size(t), 0, "size after reset: %zu", tg_tape_size(t));
    cr_expect_eq(tg_tape_bytes(t), 0, "bytes after reset: %zu", tg_tape_bytes(t));
    cr_expect_eq(tg_tape_size(NULL), 0);
    cr_expect_eq(tg_tape_bytes(NULL), 0);
    tg_tape_free(t);
}

Test(tape, handles_stay_valid_while_the_tape_grows)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), first = tg_mul(p, p), acc = first;
    for (int i = 0; i < 100000; i++) acc = tg_add(acc, p);
    cr_expect_eq(tg_value(first), 1.0, "early node after growth: %.17g", tg_value(first));
    cr_expect_eq(tg_value(acc), 100001.0, "sum of 100000 + 1: %.17g", tg_value(acc));
    cr_assert_eq(tg_backward(acc), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(p), 100002.0, "d/dp of p^2 + 100000 p at 1: %.17g",
                 tg_gradient(p));
    cr_expect_eq(tg_gradient(first), 1.0);
    tg_tape_free(t);
}

Test(tape, labels_name_nodes_and_are_found_by_name)
{
    tg_tape *t = tg_tape_new();
    tg_var w = tg_param(t, 0.5), x = tg_const(t, 2.0), z = tg_mul(w, x);
    char buf[16] = "w11[2]";
    tg_label(w, buf);
    strcpy(buf, "changed"); /* the name was copied */
    tg_label(z, "z1");
    cr_expect_str_eq(tg_label_of(w), "w11[2]");
    cr_expect_str_eq(tg_label_of(z), "z1");
    cr_expect_null(tg_label_of(x), "an unlabelled node has label %s", tg_label_of(x));
    tg_var f = tg_tape_find(t, "w11[2]");
    cr_expect_eq(f.index, w.index, "tg_tape_find gives node %u, expected %u", f.index, w.index);
    cr_expect_eq(f.tape, t);
    cr_expect_eq(tg_value(f), 0.5, "value through the found handle: %.17g", tg_value(f));
    cr_expect_eq(tg_tape_find(t, "nope").index, TG_NONE, "an unknown name was found");
    cr_expect_eq(tg_tape_find(t, NULL).index, TG_NONE);
    cr_expect_eq(tg_tape_status(t), TG_OK, "a failed lookup set an error: %s", tg_tape_error(t));
    /* relabel: the new name replaces the old one */
    tg_label(z, "z1[1]");
    cr_expect_str_eq(tg_label_of(z), "z1[1]");
    cr_expect_eq(tg_tape_find(t, "z1[1]").index, z.index);
    cr_expect_eq(tg_tape_find(t, "z1").index, TG_NONE, "the old name still finds the node");
    /* the same name on the same node again: no error */
    tg_label(z, "z1[1]");
    cr_expect_eq(tg_tape_status(t), TG_OK, "relabelling with the same name: %s",
                 tg_tape_error(t));
    /* the freed old name can be used for another node */
    tg_label(x, "z1");
    cr_expect_eq(tg_tape_find(t, "z1").index, x.index);
    cr_expect_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    tg_tape_free(t);
}

Test(tape, duplicate_label_is_an_error)
{
    tg_tape *t = tg_tape_new();
    tg_var w = tg_param(t, 0.5), v = tg_param(t, 1.5);
    tg_label(w, "w");
    tg_label(v, "w");
    cr_expect_eq(tg_tape_status(t), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(t), "tg_label: name 'w' already labels node #0");
    cr_expect_str_eq(tg_label_of(w), "w", "the first owner lost its name");
    cr_expect_null(tg_label_of(v), "the second node got the duplicate name");
    tg_tape_free(t);
}

Test(tape, labels_of_before_a_reset_are_forgotten_and_their_names_reusable)
{
    tg_tape *t = tg_tape_new();
    tg_var a = tg_param(t, 1.0), b = tg_exp(a);
    tg_label(a, "w");
    tg_label(b, "z");
    tg_tape_reset(t);
    tg_var a2 = tg_param(t, 1.0), b2 = tg_exp(a2), c2 = tg_sin(a2);
    cr_expect_null(tg_label_of(a2), "node #0 kept the label of before the reset: %s",
                   tg_label_of(a2));
    cr_expect_null(tg_label_of(b2), "node #1 kept the label of before the reset: %s",
                   tg_label_of(b2));
    cr_expect_eq(tg_tape_find(t, "w").index, TG_NONE, "a name of before the reset was found");
    /* the old names go to other nodes without a duplicate error */
    tg_label(c2, "w");
    tg_label(a2, "z");
    cr_expect_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_tape_find(t, "w").index, c2.index);
    cr_expect_eq(tg_tape_find(t, "z").index, a2.index);
    cr_expect_null(tg_label_of(b2), "node #1: %s", tg_label_of(b2));
    /* messages name unlabelled nodes by index, not by an old label */
    tg_set(b2, 3.0);
    cr_expect_str_eq(tg_tape_error(t), "tg_set: node #1 is a exp, not a leaf (only tg_param and "
                     "tg_const nodes can be set)");
    tg_tape_reset(t);
    /* a live name is still a duplicate */
    a2 = tg_param(t, 1.0);
    b2 = tg_exp(a2);
    tg_label(b2, "w");
    tg_label(a2, "w");
    cr_expect_str_eq(tg_tape_error(t), "tg_label: name 'w' already labels node #1");
    tg_tape_free(t);
}

Test(tape, stale_handles_after_reset_are_detected)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), q = tg_mul(p, p);
    tg_label(q, "q");
    tg_tape_reset(t);
    cr_expect_null(tg_label_of(q), "label of a stale handle: %s", tg_label_of(q));
    cr_expect_eq(tg_tape_find(t, "q").index, TG_NONE, "labels survived the reset");
    cr_expect_eq(tg_tape_status(t), TG_OK);
    /* re-record: the new nodes have the same indices, the old handles are still stale */
    tg_var p2 = tg_param(t, 5.0), q2 = tg_mul(p2, p2);
    cr_expect_eq(p2.index, p.index);
    cr_expect_eq(tg_value(q2), 25.0);
    cr_expect(isnan(tg_value(q)), "value of a stale handle: %.17g, expected NaN", tg_value(q));
    cr_expect_eq(tg_tape_status(t), TG_ERR_STALE, "status %d", tg_tape_status(t));
    cr_expect_str_eq(tg_tape_error(t), "tg_value: the handle is stale "
                                       "(recorded before tg_tape_reset)");
    tg_tape_reset(t);
    tg_var p3 = tg_param(t, 2.0);
    tg_var bad = tg_add(p3, p);
    cr_expect_eq(bad.index, TG_NONE, "a builder given a stale operand returned a node");
    cr_expect_eq(tg_tape_status(t), TG_ERR_STALE);
    cr_expect_str_eq(tg_tape_error(t), "add: operand 2 is stale (recorded before tg_tape_reset)");
    tg_tape_free(t);
}

/* Labels set in no particular node order, moved to other nodes after a reset, and set again
 * the same way: each node keeps the name last given it, and messages name nodes by it. */
Test(tape, labels_set_out_of_node_order_and_moved_name_the_right_nodes)
{
    enum { N = 50 };
    th_alloc a;
    tg_tape *t = counted_tape(&a);
    char name[16], want[96];
    for (int pass = 0; pass < 3; pass++) {
        int shift = pass > 0; /* after the first reset, node i is called n<i+1> */
        size_t before = a.calls;
        tg_tape_reset(t);
        tg_var p = tg_param(t, 1.0), v[N];
        for (int i = 0; i < N; i++) v[i] = tg_exp(p);
        for (int k = 0; k < N; k++) {
            int i = (k * 17 + 5 * pass) % N;
            snprintf(name, sizeof name, "n%d", (i + shift) % N);
            tg_label(v[i], name);
        }
        cr_assert_eq(tg_tape_status(t), TG_OK, "pass %d: %s", pass + 1, tg_tape_error(t));
        for (int i = 0; i < N; i++) {
            snprintf(name, sizeof name, "n%d", (i + shift) % N);
            cr_expect_str_eq(tg_label_of(v[i]), name, "pass %d: node #%u", pass + 1,
                             v[i].index);
            cr_expect_eq(tg_tape_find(t, name).index, v[i].index, "pass %d: '%s' finds #%u, "
                         "not #%u", pass + 1, name, tg_tape_find(t, name).index, v[i].index);
        }
        cr_expect_null(tg_label_of(p), "pass %d: the unlabelled leaf is called %s", pass + 1,
                       tg_label_of(p));
        tg_set(v[7], 2.0);
        snprintf(want, sizeof want, "tg_set: node 'n%d' is a exp, not a leaf (only tg_param and "
                 "tg_const nodes can be set)", 7 + shift);
        cr_expect_str_eq(tg_tape_error(t), want, "pass %d", pass + 1);
        if (pass == 2)
            cr_expect_eq(a.calls - before, 0, "labelling as before the reset made %zu allocator "
                         "calls", a.calls - before);
    }
    tg_tape_free(t);
    cr_expect_eq(a.live, 0, "%lld bytes leaked", a.live);
    cr_expect_eq(a.bad_osize, 0, "%zu frees with a wrong old size", a.bad_osize);
}
