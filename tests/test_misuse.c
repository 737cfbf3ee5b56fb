/* test_misuse.c - misuse of the API, a named test each with the message a user sees: two
 * tapes mixed, handles after reset and after free, backward twice and on an errored node,
 * replay across a kink, two ops registered under one name, NULL arguments, rank > 4 and 2^31
 * elements requested. Nothing crashes, nothing prints, ASan stays clean. See LICENSE. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

/* ---- two tapes ---- */

Test(misuse, ops_mixing_two_tapes)
{
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_var a = tg_param(t1, 1.0), b = tg_param(t2, 2.0);
    tg_var r = tg_mul(a, b);
    cr_expect_eq(r.index, TG_NONE, "mixing tapes gave a node");
    th_expect_error(t1, TG_ERR_TAPE, "mul: operand 2 is from another tape");
    cr_expect_eq(tg_tape_status(t2), TG_OK, "the innocent tape got an error: %s",
                 tg_tape_error(t2));
    /* tensors too, and the tape of the first operand is the one blamed */
    int s[1] = {2};
    const double d[2] = {1, 2};
    tg_var ta = tg_tensor_param(t2, 1, s, d);
    tg_matmul(tg_reshape(ta, 2, (int[]){1, 2}), tg_tensor_const(t1, 2, (int[]){2, 1}, d));
    th_expect_error(t2, TG_ERR_TAPE, "matmul: operand 2 is from another tape");
    tg_tape_free(t1);
    tg_tape_free(t2);
}

/* ---- handles after reset and after free ---- */

Test(misuse, handles_after_reset_are_stale)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 1.0), y = tg_exp(x);
    cr_expect_eq(tg_backward(y), TG_OK);
    tg_tape_reset(t);
    /* reading a stale handle is safe: NaN, and the first such read is the sticky error */
    cr_expect(isnan(tg_value(x)), "value of a stale handle: %g", tg_value(x));
    th_expect_error(t, TG_ERR_STALE, "tg_value: the handle is stale "
                                     "(recorded before tg_tape_reset)");
    cr_expect_eq(tg_gradient(x), 0.0);
    cr_expect_null(tg_data(x));
    tg_tape_reset(t);
    /* using one in an op is an error naming the op and the operand */
    tg_param(t, 2.0); /* node #0 again: the index is in range, only the epoch differs */
    tg_var r = tg_exp(x);
    cr_expect_eq(r.index, TG_NONE);
    th_expect_error(t, TG_ERR_STALE, "exp: operand 1 is stale (recorded before tg_tape_reset)");
    tg_tape_reset(t);
    cr_expect_eq(tg_backward(y), TG_ERR_STALE);
    th_expect_error(t, TG_ERR_STALE, "tg_backward: the handle is stale "
                                     "(recorded before tg_tape_reset)");
    tg_tape_reset(t);
    tg_set(x, 3.0);
    th_expect_error(t, TG_ERR_STALE, "tg_set: the handle is stale "
                                     "(recorded before tg_tape_reset)");
    tg_tape_free(t);
}

/* docs/errors.md: the handle of a freed tape cannot be checked (the tape's memory is gone);
 * using it is the caller's error, as with any freed object in C. This test shows the
 * documented discipline without touching freed memory (ASan stays clean): a handle keeps
 * only a pointer to its tape, so after tg_tape_free the caller drops the handles (or resets
 * the tape instead of freeing it, which is detected). A handle whose tape pointer is cleared
 * is refused safely by every call. */
Test(misuse, freed_tape_handle_is_the_callers_error)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 1.0);
    tg_var y = tg_mul(x, x);
    cr_expect_eq(tg_backward(y), TG_OK);
    tg_tape_free(t);
    t = NULL;
    /* the documented way to keep a variable around: forget its tape */
    x.tape = NULL;
    y.tape = NULL;
    cr_expect(isnan(tg_value(x)));
    cr_expect_eq(tg_gradient(y), 0.0);
    cr_expect_null(tg_data(x));
    cr_expect_eq(tg_numel(x), 0);
    cr_expect_eq(tg_shape(x, NULL), -1);
    cr_expect_eq(tg_exp(x).index, TG_NONE);
    cr_expect_null(tg_exp(x).tape);
    cr_expect_eq(tg_backward(y), TG_ERR_ARG);
    tg_set(x, 2.0); /* no tape to blame: nothing happens */
    tg_label(x, "x");
    cr_expect_null(tg_label_of(x));
    /* freeing NULL, and asking a NULL tape, are fine */
    tg_tape_free(t);
    cr_expect_eq(tg_tape_status(NULL), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(NULL), "tape is NULL");
}

/* ---- sweeps ---- */

Test(misuse, backward_twice_gives_the_same_gradients_not_double)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 3.0), y = tg_mul(x, x);
    cr_expect_eq(tg_backward(y), TG_OK);
    double g1 = tg_gradient(x);
    cr_expect_eq(tg_backward(y), TG_OK);
    double g2 = tg_gradient(x);
    cr_expect_eq(g1, 6.0);
    cr_expect_eq(g2, 6.0, "adjoints accumulated across calls: %g", g2);
    cr_expect_eq(tg_tape_status(t), TG_OK);
    /* tensors: the same */
    int s[1] = {3};
    const double d[3] = {1, 2, 3};
    tg_var v = tg_tensor_param(t, 1, s, d), l = tg_sum(tg_mul(v, v));
    cr_expect_eq(tg_backward(l), TG_OK);
    cr_expect_eq(tg_backward(l), TG_OK);
    const double *g = tg_gradient_data(v);
    for (int i = 0; i < 3; i++) cr_expect_eq(g[i], 2 * d[i], "g[%d] = %g", i, g[i]);
    tg_tape_free(t);
}

Test(misuse, backward_on_an_errored_node)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 3.0);
    tg_var bad = tg_apply(&tg_op_mul, 1, &x);
    cr_expect_eq(bad.index, TG_NONE);
    cr_expect_eq(tg_backward(bad), TG_ERR_ARG);
    th_expect_error(t, TG_ERR_ARG, "mul: takes 2 operands, got 1");
    /* a good node on the errored tape is refused too, with the first message kept */
    cr_expect_eq(tg_backward(x), TG_ERR_ARG);
    th_expect_error(t, TG_ERR_ARG, "mul: takes 2 operands, got 1");
    cr_expect_eq(tg_gradient(x), 0.0);
    tg_tape_free(t);
}

Test(misuse, backward_on_a_tensor_without_a_seed)
{
    tg_tape *t = tg_tape_new();
    int s[1] = {3};
    const double d[3] = {1, 2, 3};
    tg_var x = tg_tensor_param(t, 1, s, d);
    cr_expect_eq(tg_backward(x), TG_ERR_SHAPE);
    th_expect_error(t, TG_ERR_SHAPE, "tg_backward: output #0 is a tensor of shape [3], not a "
                 "scalar (reduce it with tg_sum or tg_mean, or seed it with tg_backward_seed)");
    tg_tape_free(t);
}

Test(misuse, replay_after_a_branch_flip)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 0.5);
    tg_label(x, "x");
    tg_var r = tg_relu(x);
    tg_label(r, "r");
    tg_var y = tg_mul(r, tg_const(t, 2.0));
    cr_expect_eq(tg_backward(y), TG_OK);
    cr_expect_eq(tg_gradient(x), 2.0);
    tg_set(x, -0.25);
    cr_expect_eq(tg_replay(t), TG_OK, "a crossed kink is not an error: %s", tg_tape_error(t));
    const char *note = tg_replay_note(t);
    cr_assert_not_null(note);
    cr_expect_str_eq(note, "relu 'r': branch changed (input 0.5 -> -0.25)");
    cr_expect_eq(tg_tape_status(t), TG_OK, "a flip is not an error: %s", tg_tape_error(t));
    /* values and gradients are those of the new point */
    cr_expect_eq(tg_value(y), 0.0);
    cr_expect_eq(tg_backward(y), TG_OK);
    cr_expect_eq(tg_gradient(x), 0.0);
    /* a second replay compares with the first: no flip, no note */
    cr_expect_eq(tg_replay(t), TG_OK);
    cr_expect_null(tg_replay_note(t));
    tg_tape_free(t);
}

/* ---- the registry ---- */

static double ident_eval(const double *x, double *dydx)
{
    if (dydx) dydx[0] = 1.0;
    return x[0];
}

Test(misuse, registering_two_ops_with_one_name)
{
    tg_registry *r = tg_registry_new();
    cr_assert_not_null(r);
    int before = tg_registry_count(r);
    static const tg_op_def first = {.name = "ident", .arity = 1, .eval = ident_eval};
    static const tg_op_def second = {.name = "ident", .arity = 1, .eval = ident_eval};
    static const tg_op_def shadow = {.name = "exp", .arity = 1, .eval = ident_eval};
    cr_expect_eq(tg_op_register(r, &first), TG_OK);
    cr_expect_eq(tg_op_register(r, &second), TG_ERR_ARG, "a second 'ident' was accepted");
    cr_expect_eq(tg_registry_find(r, "ident"), &first, "the first registration was replaced");
    cr_expect_eq(tg_op_register(r, &shadow), TG_ERR_ARG, "a user op replaced built-in 'exp'");
    cr_expect_eq(tg_registry_find(r, "exp"), &tg_op_exp);
    cr_expect_eq(tg_registry_count(r), before + 1);
    tg_registry_free(r);
}

Test(misuse, registry_calls_with_null)
{
    tg_registry *r = tg_registry_new();
    static const tg_op_def noname = {.name = NULL, .arity = 1, .eval = ident_eval};
    static const tg_op_def nokernel = {.name = "nothing", .arity = 1};
    static const tg_op_def arity0 = {.name = "zero", .arity = 0, .eval = ident_eval};
    cr_expect_eq(tg_op_register(r, NULL), TG_ERR_ARG);
    cr_expect_eq(tg_op_register(NULL, &noname), TG_ERR_ARG);
    cr_expect_eq(tg_op_register(r, &noname), TG_ERR_ARG);
    cr_expect_eq(tg_op_register(r, &nokernel), TG_ERR_ARG);
    cr_expect_eq(tg_op_register(r, &arity0), TG_ERR_ARG);
    cr_expect_null(tg_registry_find(r, "nothing"));
    tg_registry_free(r);
    tg_registry_free(NULL);
}

/* ---- NULL arguments ---- */

Test(misuse, ops_with_null)
{
    tg_var none = {0}; /* a zeroed handle: no tape */
    cr_expect_eq(tg_exp(none).index, TG_NONE);
    cr_expect_eq(tg_add(none, none).index, TG_NONE);
    cr_expect_eq(tg_param(NULL, 1.0).index, TG_NONE);
    cr_expect_eq(tg_tensor_fill(NULL, 1, (int[]){2}, 0.0).index, TG_NONE);
    cr_expect_eq(tg_backward(none), TG_ERR_ARG);
    cr_expect_eq(tg_jvp(NULL, 0, NULL, NULL), TG_ERR_ARG);
    cr_expect_eq(tg_replay(NULL), TG_ERR_ARG);
    tg_tape_reset(NULL);
    tg_tape_check_nan(NULL, 1);

    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 1.0);
    /* tg_apply with no operand array: no tape to blame, an error handle */
    tg_var r = tg_apply(&tg_op_exp, 1, NULL);
    cr_expect_eq(r.index, TG_NONE);
    cr_expect_eq(tg_tape_status(t), TG_OK);

    tg_apply(NULL, 1, &x);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op is NULL or has no eval kernel");
    tg_tape_reset(t);

    int s[2] = {2, 2};
    tg_tensor_param(t, 2, NULL, NULL);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_param: shape is NULL");
    tg_tape_reset(t);
    tg_tensor_param(t, 2, s, NULL);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_param: data is NULL");
    tg_tape_reset(t);

    tg_label(tg_param(t, 1.0), NULL);
    th_expect_error(t, TG_ERR_ARG, "tg_label: the name is NULL");
    tg_tape_reset(t);

    x = tg_param(t, 1.0);
    tg_cross_entropy(x, NULL);
    th_expect_error(t, TG_ERR_ARG, "cross_entropy: labels is NULL (logits are [])");
    tg_tape_free(t);
}

/* ---- shapes out of range ---- */

Test(misuse, tensors_of_rank_above_4)
{
    tg_tape *t = tg_tape_new();
    int s[5] = {1, 2, 1, 2, 1};
    const double d[4] = {1, 2, 3, 4};
    tg_tensor_param(t, 5, s, d);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_param: rank 5 is outside 1..4");
    tg_tape_reset(t);
    tg_tensor_const(t, -1, s, d);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_const: rank -1 is outside 1..4");
    tg_tape_reset(t);
    tg_tensor_fill(t, 5, s, 1.0);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_fill: rank 5 is outside 0..4");
    tg_tape_reset(t);
    tg_var x = tg_tensor_param(t, 4, s, d);
    tg_var y = tg_reshape(x, 5, s);
    cr_expect_eq(y.index, TG_NONE);
    cr_expect_eq(tg_tape_status(t), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(t), "reshape: 5 attributes (at most 4)");
    tg_tape_reset(t);
    int z[2] = {2, 0};
    tg_tensor_fill(t, 2, z, 1.0);
    th_expect_error(t, TG_ERR_SHAPE, "tg_tensor_fill: dimension 1 is 0 (must be at least 1)");
    tg_tape_free(t);
}

Test(misuse, two_to_the_31_elements_requested)
{
    th_alloc a;
    memset(&a, 0, sizeof a);
    tg_tape *t = tg_tape_new_with(th_alloc_fn, &a);
    int s2[2] = {65536, 32768}; /* exactly 2^31 */
    tg_var v = tg_tensor_fill(t, 2, s2, 1.0);
    cr_expect_eq(v.index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_fill: more than 2^31-1 elements requested");
    tg_tape_reset(t);
    int s4[4] = {2147483647, 2147483647, 2147483647, 2147483647}; /* the product overflows */
    tg_tensor_fill(t, 4, s4, 1.0);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_fill: more than 2^31-1 elements requested");
    tg_tape_reset(t);
    const double one = 1.0; /* never read: the count is refused first */
    tg_tensor_param(t, 2, s2, &one);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_param: more than 2^31-1 elements requested");
    tg_tape_reset(t);
    tg_var x = tg_tensor_fill(t, 1, (int[]){4}, 1.0);
    tg_reshape(x, 2, s2);
    cr_expect_eq(tg_tape_status(t), TG_ERR_SHAPE);
    cr_expect_not_null(tg_tape_error(t));
    cr_expect(a.allocated < ((size_t)1 << 24), "%zu bytes allocated for refused requests",
              a.allocated);
    tg_tape_free(t);
    cr_expect_eq(a.live, 0);
}
