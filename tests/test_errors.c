/* test_errors.c - the library's error kinds, each with the exact message a user sees: handles
 * (another tape, stale, not a node, a freed tape's, NULL), bad arguments, the sticky error
 * (kept, later builders return error handles, sweeps refused, reset clears it), the sweeps'
 * own refusals and non-errors (a replay across a kink), the new ops' refusals (clamp's bounds,
 * minimum/maximum's shapes), anomaly mode (NaN/Inf while recording, replaying and sweeping
 * backward), tg_diff and tg_check_grad, status strings. Numerically hostile inputs
 * and huge shapes: test_hostile.c; refused registrations: test_registry.c. See LICENSE. */
#include <criterion/criterion.h>
#include <float.h>
#include <stdio.h>

#include "helpers.h"

/* ---- handles: another tape, stale, not a node, a freed tape's, NULL ---- */

Test(errors, operand_from_another_tape)
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

Test(errors, handles_after_reset_are_stale)
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
    /* a binary op too (tg_apply1 and tg_apply2 check handles on their own fast paths) */
    tg_mul(x, tg_param(t, 2.0));
    th_expect_error(t, TG_ERR_STALE, "mul: operand 1 is stale (recorded before tg_tape_reset)");
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

/* docs/errors.md: reading never breaks a tape that is fine. Asked for one number where a
 * live handle holds several (a tensor), a getter answers "none" -- NaN for a value, 0 for a
 * gradient or tangent -- and leaves the tape's error alone: later builders still record. */
Test(errors, reading_a_tensor_as_a_scalar_leaves_the_tape_usable)
{
    tg_tape *t = tg_tape_new();
    int s[1] = {3};
    const double d[3] = {1, 2, 3};
    tg_var T = tg_tensor_param(t, 1, s, d), x = tg_param(t, 2.0);
    tg_var E = tg_sum(tg_mul(T, x));
    cr_assert_eq(tg_backward(E), TG_OK, "%s", tg_tape_error(t));
    double one = 1.0;
    cr_assert_eq(tg_jvp(t, 1, &x, &one), TG_OK, "%s", tg_tape_error(t));
    cr_expect(isnan(tg_value(T)), "tg_value of a [3] tensor: %g, expected NaN", tg_value(T));
    cr_expect_eq(tg_gradient(T), 0.0, "tg_gradient of a [3] tensor: %g", tg_gradient(T));
    cr_expect_eq(tg_tangent(T), 0.0, "tg_tangent of a [3] tensor: %g", tg_tangent(T));
    cr_expect_eq(tg_tape_status(t), TG_OK, "a read set the tape's error: %s", tg_tape_error(t));
    cr_expect_null(tg_tape_error(t));
    /* the tape still records and sweeps */
    tg_var y = tg_add(x, x);
    cr_assert_neq(y.index, TG_NONE, "tg_add after the reads failed: %s", tg_tape_error(t));
    cr_expect_eq(tg_value(y), 4.0);
    cr_assert_eq(tg_backward(tg_sum(tg_mul(T, y))), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(x), 12.0, "d sum(T * 2x)/dx = 2 sum(T) = 12, got %g",
                 tg_gradient(x));
    cr_expect_eq(tg_gradient_data(T)[1], 4.0);
    /* one-element tensors have one number: it is the answer */
    cr_expect_eq(tg_value(E), 12.0);
    tg_tape_free(t);
}

/* A handle that is no live node is the caller's bug, as in a builder: the read sets the
 * sticky error, but an error handle read on a tape already in error adds nothing to it. */
Test(errors, reading_an_error_handle_keeps_the_first_error)
{
    tg_tape *t = tg_tape_new();
    tg_var bad = tg_mul(tg_param(t, 1.0), tg_tape_find(t, "nope"));
    th_expect_error(t, TG_ERR_ARG, "mul: operand 2 is not a node (a failed builder or lookup)");
    cr_expect(isnan(tg_value(bad)));
    cr_expect_eq(tg_gradient(bad), 0.0);
    cr_expect_eq(tg_shape(bad, NULL), -1);
    th_expect_error(t, TG_ERR_ARG, "mul: operand 2 is not a node (a failed builder or lookup)");
    tg_tape_reset(t);
    cr_expect(isnan(tg_value(tg_tape_find(t, "nope"))));
    th_expect_error(t, TG_ERR_ARG, "tg_value: the handle is not a node (a failed builder or "
                                   "lookup)");
    tg_tape_free(t);
}

Test(errors, failed_lookup_used_as_an_operand)
{
    tg_tape *t = tg_tape_new();
    tg_var missing = tg_tape_find(t, "nope");
    cr_expect_eq(tg_tape_status(t), TG_OK, "a lookup set an error");
    tg_exp(missing);
    th_expect_error(t, TG_ERR_ARG, "exp: operand 1 is not a node (a failed builder or lookup)");
    tg_tape_free(t);
}

/* docs/errors.md: the handle of a freed tape cannot be checked (the tape's memory is gone);
 * using it is the caller's error, as with any freed object in C. This test shows the
 * documented discipline without touching freed memory (ASan stays clean): a handle keeps
 * only a pointer to its tape, so after tg_tape_free the caller drops the handles (or resets
 * the tape instead of freeing it, which is detected). A handle whose tape pointer is cleared
 * is refused safely by every call. */
Test(errors, freed_tape_handle_is_the_callers_error)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 1.0);
    tg_var y = tg_mul(x, x);
    cr_expect_eq(tg_backward(y), TG_OK);
    tg_tape_free(t);
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
}

/* No tape to record an error on: a NULL tape, a zeroed handle, a NULL operand array. Every
 * call refuses them (error handles, NaN, TG_ERR_ARG) and none crashes. */
Test(errors, null_tapes_and_zeroed_handles_are_refused_without_crashing)
{
    tg_var p = tg_param(NULL, 1.0);
    cr_expect_null(p.tape);
    cr_expect_eq(p.index, TG_NONE);
    cr_expect(isnan(tg_value(p)));
    cr_expect_eq(tg_backward(p), TG_ERR_ARG);
    cr_expect_eq(tg_exp(p).index, TG_NONE);
    tg_var none = {0};
    cr_expect_eq(tg_exp(none).index, TG_NONE);
    cr_expect_eq(tg_add(none, none).index, TG_NONE);
    cr_expect_eq(tg_backward(none), TG_ERR_ARG);
    cr_expect_eq(tg_tensor_fill(NULL, 1, (int[]){2}, 0.0).index, TG_NONE);
    cr_expect_eq(tg_jvp(NULL, 0, NULL, NULL), TG_ERR_ARG);
    cr_expect_eq(tg_replay(NULL), TG_ERR_ARG);
    tg_tape_reset(NULL);
    tg_tape_check_nan(NULL, 1);
    tg_tape_free(NULL);
    cr_expect_eq(tg_tape_status(NULL), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(NULL), "tape is NULL");
    /* tg_apply with no operand array: no tape to blame, an error handle */
    tg_tape *t = tg_tape_new();
    tg_param(t, 1.0);
    tg_var r = tg_apply(&tg_op_exp, 1, NULL);
    cr_expect_eq(r.index, TG_NONE);
    cr_expect_eq(tg_tape_status(t), TG_OK);
    tg_tape_free(t);
}

/* ---- arguments ---- */

Test(errors, apply_arity_mismatch)
{
    tg_tape *t = tg_tape_new();
    tg_var in[2] = {tg_param(t, 1.0), tg_param(t, 2.0)};
    tg_apply(&tg_op_exp, 2, in);
    th_expect_error(t, TG_ERR_ARG, "exp: takes 1 operand, got 2");
    tg_tape_reset(t);
    in[0] = tg_param(t, 1.0);
    tg_apply(&tg_op_div, 1, in);
    th_expect_error(t, TG_ERR_ARG, "div: takes 2 operands, got 1");
    tg_tape_free(t);
}

Test(errors, apply_without_an_op)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_apply(NULL, 1, &p);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op is NULL");
    tg_tape_free(t);
}

static const tg_op_def no_eval_op = {.name = "noeval", .arity = 1};
static const tg_op_def no_eval_op2 = {.name = "noeval2", .arity = 2};

Test(errors, apply_an_op_without_eval)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_apply(&no_eval_op, 1, &p);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op 'noeval' has no eval and no infer, forward, vjp"
                    " (it needs eval, or infer, forward and vjp)");
    tg_tape_free(t);
}

Test(errors, apply1_an_op_without_eval)
{
    /* tg_apply1/tg_apply2 promise "the same result" as tg_apply */
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_var r = tg_apply1(&no_eval_op, p);
    cr_expect_eq(r.index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op 'noeval' has no eval and no infer, forward, vjp"
                    " (it needs eval, or infer, forward and vjp)");
    tg_tape_free(t);
}

Test(errors, apply2_an_op_without_eval)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_var r = tg_apply2(&no_eval_op2, p, p);
    cr_expect_eq(r.index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op 'noeval2' has no eval and no infer, forward, vjp"
                    " (it needs eval, or infer, forward and vjp)");
    tg_tape_free(t);
}

static double sum5_eval(const double *x, double *d)
{
    if (d)
        for (int i = 0; i < 5; i++) d[i] = 1.0;
    return x[0] + x[1] + x[2] + x[3] + x[4];
}

Test(errors, apply_an_op_with_more_than_max_arity_operands)
{
    /* tg_apply takes any descriptor, registered or not: arity 5 > TG_MAX_ARITY must be
     * refused, not read into TG_MAX_ARITY-sized buffers */
    static const tg_op_def sum5 = {.name = "sum5", .arity = 5, .eval = sum5_eval};
    tg_tape *t = tg_tape_new();
    tg_var in[5];
    for (int i = 0; i < 5; i++) in[i] = tg_param(t, i);
    tg_var r = tg_apply(&sum5, 5, in);
    cr_expect_eq(r.index, TG_NONE, "an op of arity %d was recorded (TG_MAX_ARITY is %d)", 5,
                 TG_MAX_ARITY);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op 'sum5' has arity 5, outside 1..4");
    tg_tape_free(t);
}

Test(errors, set_on_a_non_leaf)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), h = tg_exp(p);
    tg_set(h, 2.0);
    th_expect_error(t, TG_ERR_ARG, "tg_set: node #1 is a exp, not a leaf (only tg_param and "
                                "tg_const nodes can be set)");
    cr_expect_eq(tg_value(h), exp(1.0), "the non-leaf's value changed");
    tg_tape_reset(t);
    p = tg_param(t, 1.0);
    h = tg_exp(p);
    tg_label(h, "h");
    tg_set(h, 2.0);
    th_expect_error(t, TG_ERR_ARG, "tg_set: node 'h' is a exp, not a leaf (only tg_param and "
                                "tg_const nodes can be set)");
    tg_tape_free(t);
}

Test(errors, label_with_null_or_empty_name)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_label(p, NULL);
    th_expect_error(t, TG_ERR_ARG, "tg_label: the name is NULL");
    tg_tape_reset(t);
    p = tg_param(t, 1.0);
    tg_label(p, "");
    th_expect_error(t, TG_ERR_ARG, "tg_label: the name is empty");
    tg_tape_free(t);
}

Test(errors, null_shape_data_or_labels)
{
    tg_tape *t = tg_tape_new();
    int s[2] = {2, 2};
    tg_tensor_param(t, 2, NULL, NULL);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_param: shape is NULL");
    tg_tape_reset(t);
    tg_tensor_param(t, 2, s, NULL);
    th_expect_error(t, TG_ERR_ARG, "tg_tensor_param: data is NULL");
    tg_tape_reset(t);
    tg_var x = tg_param(t, 1.0);
    tg_cross_entropy(x, NULL);
    th_expect_error(t, TG_ERR_ARG, "cross_entropy: labels is NULL (logits are [])");
    tg_tape_free(t);
}

Test(errors, tensors_of_rank_above_4)
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
    th_expect_error(t, TG_ERR_ARG, "reshape: 5 attributes (at most 4)");
    tg_tape_reset(t);
    int z[2] = {2, 0};
    tg_tensor_fill(t, 2, z, 1.0);
    th_expect_error(t, TG_ERR_SHAPE, "tg_tensor_fill: dimension 1 is 0 (must be at least 1)");
    tg_tape_free(t);
}

Test(errors, jvp_seed_that_is_not_a_parameter)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), h = tg_sin(p);
    double one = 1.0;
    cr_expect_eq(tg_jvp(t, 1, &h, &one), TG_ERR_ARG);
    th_expect_error(t, TG_ERR_ARG, "tg_jvp: seed 1 is not a parameter of this tape");
    tg_tape_free(t);
}

/* ---- the sticky error ---- */

Test(errors, first_error_sticks_and_later_builders_return_error_handles)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_var bad = tg_apply(&tg_op_mul, 1, &p);
    const char *first = "mul: takes 2 operands, got 1";
    th_expect_error(t, TG_ERR_ARG, first);
    cr_expect_eq(bad.index, TG_NONE);
    /* later builders, including ones given good handles, return error handles */
    tg_var a = tg_exp(bad), b = tg_add(p, p), c = tg_param(t, 3.0), d = tg_const(t, 4.0);
    cr_expect_eq(a.index, TG_NONE, "exp(error handle) gave a node");
    cr_expect_eq(b.index, TG_NONE, "a builder on an errored tape gave a node");
    cr_expect_eq(c.index, TG_NONE, "tg_param on an errored tape gave a node");
    cr_expect_eq(d.index, TG_NONE, "tg_const on an errored tape gave a node");
    cr_expect_eq(tg_tape_size(t), 1, "nodes were recorded after the error: size %zu",
                 tg_tape_size(t));
    /* other misuses do not replace the first message */
    tg_set(p, 2.0); /* fine in itself */
    tg_tape *other = tg_tape_new();
    tg_add(p, tg_param(other, 1.0));
    tg_label(p, NULL);
    th_expect_error(t, TG_ERR_ARG, first);
    cr_expect(isnan(tg_value(a)), "value of an error handle: %.17g", tg_value(a));
    tg_tape_free(other);
    tg_tape_free(t);
}

Test(errors, backward_on_an_error_handle_or_an_errored_tape)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), good = tg_mul(p, p);
    tg_var bad = tg_apply(&tg_op_mul, 1, &p);
    const char *msg = "mul: takes 2 operands, got 1";
    cr_expect_eq(bad.index, TG_NONE);
    cr_expect_eq(tg_backward(bad), TG_ERR_ARG, "backward from an error handle");
    th_expect_error(t, TG_ERR_ARG, msg);
    /* good nodes on the errored tape are refused too, with the first message kept */
    cr_expect_eq(tg_backward(good), TG_ERR_ARG, "backward on an errored tape");
    cr_expect_eq(tg_backward(p), TG_ERR_ARG, "backward from a leaf of an errored tape");
    double one = 1.0;
    cr_expect_eq(tg_jvp(t, 1, &p, &one), TG_ERR_ARG, "jvp on an errored tape");
    cr_expect_eq(tg_replay(t), TG_ERR_ARG, "replay on an errored tape");
    cr_expect_eq(tg_diff(good, p).index, TG_NONE, "tg_diff on an errored tape gave a node");
    tg_check_report rep;
    cr_expect_neq(tg_check_grad(good, 1, &p, NULL, NULL, &rep), TG_OK, "check on an errored tape");
    cr_expect_eq(tg_gradient(p), 0.0, "gradient after a refused sweep: %.17g", tg_gradient(p));
    th_expect_error(t, TG_ERR_ARG, msg);
    tg_tape_free(t);
}

Test(errors, reset_clears_the_error)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_apply(&tg_op_mul, 1, &p);
    cr_assert_neq(tg_tape_status(t), TG_OK);
    tg_tape_reset(t);
    cr_expect_eq(tg_tape_status(t), TG_OK);
    cr_expect_null(tg_tape_error(t), "message survived the reset: %s", tg_tape_error(t));
    p = tg_param(t, 3.0);
    tg_var y = tg_mul(p, p);
    cr_expect_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(p), 6.0);
    tg_tape_free(t);
}

/* ---- sweeps: a refusal, and two calls that are not errors ---- */

Test(errors, backward_on_a_tensor_without_a_seed)
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

Test(errors, backward_twice_gives_the_same_gradients_not_double)
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

Test(errors, replay_after_a_branch_flip)
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

/* ---- the new ops' refusals: clamp's bounds, minimum/maximum's shapes ---- */

Test(errors, clamp_with_lo_above_hi_is_refused_when_recorded)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 0.5);
    cr_expect_eq(tg_clamp(x, 3.0, 1.0).index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "clamp: lo > hi (lo = 3, hi = 1)");
    tg_tape_reset(t);
    x = tg_param(t, 0.5);
    cr_expect_eq(tg_clamp(x, NAN, 1.0).index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "clamp: a bound is NaN (lo = nan, hi = 1)");
    tg_tape_reset(t); /* digits enough to tell two close bounds apart */
    x = tg_param(t, 0.5);
    cr_expect_eq(tg_clamp(x, 0.30000000000000004, 0.3).index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "clamp: lo > hi (lo = 0.30000000000000004, hi = 0.3)");
    tg_tape_reset(t); /* lo = hi is a point: y = lo, the gradient to x */
    x = tg_param(t, 0.5);
    tg_var y = tg_clamp(x, 0.25, 0.25);
    cr_assert_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_value(y), 0.25);
    cr_expect_eq(tg_gradient(x), 0.0);
    tg_tape_free(t);
}

Test(errors, clamp_with_tensor_bounds_names_the_element_refused)
{
    tg_tape *t = tg_tape_new();
    const int sh[1] = {3};
    const double xv[3] = {0, 1, 2}, lov[3] = {-1, 2, 0};
    tg_var in[3] = {tg_tensor_param(t, 1, sh, xv), tg_tensor_const(t, 1, sh, lov),
                    tg_const(t, 1.5)};
    cr_expect_eq(tg_apply(&tg_op_clamp, 3, in).index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "clamp: lo > hi (lo = 2, hi = 1.5) at element 1 (result "
                    "shape [3])");
    tg_tape_free(t);
}

Test(errors, clamp_in_the_expression_language_refuses_its_bounds_and_a_wrong_arity)
{
    tg_tape *t = tg_tape_new();
    tg_names *n = tg_names_new();
    tg_parse_error err;
    cr_expect_eq(tg_parse(t, "x + clamp(x, 3, 1)", n, NULL, &err).index, TG_NONE);
    cr_expect_eq(err.status, TG_ERR_ARG, "status %d", err.status);
    cr_expect_eq(err.column, 5, "column %d", err.column);
    cr_expect_str_eq(err.message, "clamp: lo > hi (lo = 3, hi = 1)");
    tg_tape_reset(t);
    cr_expect_eq(tg_parse(t, "clamp(x, 1)", n, NULL, &err).index, TG_NONE);
    cr_expect_eq(err.status, TG_ERR_PARSE, "status %d", err.status);
    cr_expect_eq(err.column, 1, "column %d", err.column);
    cr_expect_str_eq(err.message, "clamp takes 3 arguments, got 2 (y = min(max(x, lo), hi); "
                     "dy/dx = [lo <= x <= hi], dy/dlo = [x < lo], dy/dhi = [x > hi])");
    /* bounds that are parameters: refused at the values they are recorded with, NaN when a
     * replay moves one past the other, and anomaly mode says so */
    tg_tape_reset(t);
    tg_names_free(n);
    n = tg_names_new();
    tg_var v = tg_parse(t, "clamp(x, lo, hi)", n, NULL, &err);
    cr_assert_neq(v.index, TG_NONE, "%s", err.message); /* every name is 0: lo = hi */
    tg_set(tg_names_get(n, "lo"), 1.0);
    cr_expect_eq(tg_replay(t), TG_OK, "%s", tg_tape_error(t));
    cr_expect(isnan(tg_value(v)), "clamp(0, 1, 0) after replay: %g", tg_value(v));
    tg_tape_check_nan(t, 1);
    cr_expect_eq(tg_replay(t), TG_ERR_DOMAIN);
    th_expect_error(t, TG_ERR_DOMAIN, "clamp: result is nan at node #3 (x1 = 0, x2 = 1, x3 = 0)");
    tg_names_free(n);
    tg_tape_free(t);
}

Test(errors, maximum_and_minimum_broadcast_as_add_does)
{
    tg_tape *t = tg_tape_new();
    const int a_sh[2] = {2, 3}, b_sh[1] = {4}, c_sh[2] = {2, 1}, d_sh[1] = {3};
    const double av[6] = {0, 1, 2, 3, 4, 5}, bv[4] = {0}, cv[2] = {1, 4}, dv[3] = {0, 4, 9};
    tg_var a = tg_tensor_param(t, 2, a_sh, av), b = tg_tensor_param(t, 1, b_sh, bv);
    cr_expect_eq(tg_maximum(a, b).index, TG_NONE);
    th_expect_error(t, TG_ERR_SHAPE, "maximum: shapes [2,3] and [4] do not broadcast");
    tg_tape_reset(t);
    a = tg_tensor_param(t, 2, a_sh, av);
    b = tg_tensor_param(t, 1, b_sh, bv);
    cr_expect_eq(tg_minimum(b, a).index, TG_NONE);
    th_expect_error(t, TG_ERR_SHAPE, "minimum: shapes [4] and [2,3] do not broadcast");
    tg_tape_reset(t); /* [2,1] against [3]: [2,3], each gradient summed back to its shape */
    tg_var c = tg_tensor_param(t, 2, c_sh, cv), d = tg_tensor_param(t, 1, d_sh, dv);
    tg_var m = tg_maximum(c, d);
    int sh[TG_MAX_RANK];
    cr_assert_eq(tg_shape(m, sh), 2, "%s", tg_tape_error(t) ? tg_tape_error(t) : "");
    cr_expect(sh[0] == 2 && sh[1] == 3, "shape [%d,%d]", sh[0], sh[1]);
    const double want[6] = {1, 4, 9, 4, 4, 9};
    for (int k = 0; k < 6; k++) cr_expect_eq(tg_data(m)[k], want[k], "element %d", k);
    cr_assert_eq(tg_backward(tg_sum(m)), TG_OK, "%s", tg_tape_error(t));
    /* c = [1; 4] against d = [0, 4, 9]: row 0 picks c, d, d; row 1 picks c, the tie 4 = 4
     * (half each), d */
    const double *gc = tg_gradient_data(c), *gd = tg_gradient_data(d);
    cr_expect_eq(gc[0], 1.0, "row 0: c = 1 beats d = 0 only: %g", gc[0]);
    cr_expect_eq(gc[1], 1.5, "row 1: c = 4 beats d = 0 and ties d = 4: %g", gc[1]);
    cr_expect(gd[0] == 0 && gd[1] == 1.5 && gd[2] == 2, "d's gradient [%g, %g, %g]", gd[0],
              gd[1], gd[2]);
    tg_tape_free(t);
}

/* ---- anomaly mode: TG_ERR_DOMAIN, and IEEE values without it ---- */

Test(errors, anomaly_off_by_default)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 0.0), y = tg_log(x);
    cr_expect_eq(tg_backward(y), TG_OK, "without anomaly mode log(0) is -inf, not an error");
    cr_expect(isinf(tg_value(y)) && tg_value(y) < 0, "log(0) = %g", tg_value(y));
    cr_expect(isinf(tg_gradient(x)) && tg_gradient(x) > 0, "log'(0) = %g", tg_gradient(x));
    cr_expect_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    /* on, then off again */
    tg_tape_check_nan(t, 1);
    tg_tape_check_nan(t, 0);
    tg_sqrt(tg_param(t, -1.0));
    cr_expect_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    tg_tape_free(t);
}

Test(errors, exp_overflow_without_anomaly_mode_is_inf_not_an_error)
{
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 1000.0), y = tg_exp(x);
    cr_expect_eq(tg_backward(y), TG_OK);
    cr_expect(isinf(tg_value(y)) && tg_value(y) > 0, "e^1000 = %g", tg_value(y));
    cr_expect(isinf(tg_gradient(x)), "d e^x/dx at 1000 = %g", tg_gradient(x));
    cr_expect_eq(tg_tape_status(t), TG_OK);
    tg_tape_free(t);
}

/* The message docs/errors.md shows for TG_ERR_DOMAIN while recording. */
Test(errors, anomaly_log_of_zero)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var x = tg_param(t, 0.0);
    tg_label(x, "x"); /* the input's label does not name the node that made the -inf */
    tg_var y = tg_log(x);
    cr_expect_eq(y.index, TG_NONE);
    th_expect_error(t, TG_ERR_DOMAIN, "log: result is -inf at node #1 (x1 = 0)");
    tg_tape_free(t);
}

Test(errors, anomaly_exp_overflow)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var x = tg_param(t, 709.0);
    tg_label(x, "x");
    tg_var y = tg_exp(x); /* e^709 = 8.2e307: finite */
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    tg_label(y, "ex");
    tg_var z = tg_exp(tg_add(x, tg_const(t, 1.0))); /* e^710: inf */
    cr_expect_eq(z.index, TG_NONE, "an overflowing exp gave a node");
    th_expect_error(t, TG_ERR_DOMAIN, "exp: result is inf at node #4 (x1 = 710)");
    tg_tape_free(t);
}

/* Without anomaly mode sqrt of a negative is NaN, value and slope; with it, an error naming
 * sqrt and its input (the sign printed for NaN is the platform's; the rest is fixed). */
Test(errors, anomaly_sqrt_of_negatives)
{
    const double xs[] = {-1.0, -4.0, -1e-300, -DBL_MAX};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        tg_tape *t = tg_tape_new();
        tg_var x = tg_param(t, xs[i]), y = tg_sqrt(x);
        cr_expect_eq(tg_backward(y), TG_OK);
        cr_expect(isnan(tg_value(y)) && isnan(tg_gradient(x)), "sqrt(%g) = %g, d %g", xs[i],
                  tg_value(y), tg_gradient(x));
        tg_tape_reset(t);
        tg_tape_check_nan(t, 1);
        y = tg_sqrt(tg_param(t, xs[i]));
        cr_expect_eq(y.index, TG_NONE);
        cr_expect_eq(tg_tape_status(t), TG_ERR_DOMAIN);
        /* "nan" whatever the sign bit the CPU gave the NaN */
        char want[80];
        snprintf(want, sizeof want, "sqrt: result is nan at node #1 (x1 = %.17g)", xs[i]);
        th_expect_error(t, TG_ERR_DOMAIN, want);
        tg_tape_free(t);
    }
}

Test(errors, anomaly_binary_op_names_both_inputs)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var a = tg_param(t, 1.5), b = tg_const(t, 0.0);
    tg_div(a, b);
    th_expect_error(t, TG_ERR_DOMAIN, "div: result is inf at node #2 (x1 = 1.5, x2 = 0)");
    tg_tape_free(t);
}

/* On a tensor, an elementwise op's report gives its operands at the element, each found
 * through the broadcasting: x1 is X's element 5 (row 1, column 2), x2 is c's element 2. */
Test(errors, anomaly_on_a_tensor_names_the_inputs_of_the_element)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    double x[6] = {1, 2, 3, 4, 5, 1e308}, c[3] = {1, 2, 0.5};
    int shx[2] = {2, 3}, shc[1] = {3};
    tg_var X = tg_tensor_param(t, 2, shx, x), C = tg_tensor_const(t, 1, shc, c);
    tg_div(X, C);
    th_expect_error(t, TG_ERR_DOMAIN, "div: result is inf at element 5 of node #2 (shape [2,3]; "
                                      "x1 = 1e+308, x2 = 0.5)");
    tg_tape_free(t);
    /* a scalar operand, and a replay into the domain edge */
    t = tg_tape_new();
    tg_var s = tg_param(t, 2.0);
    X = tg_tensor_param(t, 2, shx, x);
    tg_var L = tg_log(tg_sub(X, s));
    cr_assert_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    tg_label(L, "L");
    tg_tape_check_nan(t, 1);
    tg_set(s, 3.0);
    cr_expect_eq(tg_replay(t), TG_ERR_DOMAIN);
    th_expect_error(t, TG_ERR_DOMAIN, "log: result is nan at element 0 of node 'L' (shape [2,3]; "
                                      "x1 = -2)");
    tg_tape_free(t);
}

Test(errors, anomaly_in_replay_blames_the_first_op_only)
{
    /* recorded at p = 4 without anomaly mode; replayed at p = -1 with it: sqrt makes the NaN,
     * exp and mul only pass it on */
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 4.0), a = tg_sqrt(p), b = tg_exp(a), c = tg_mul(b, p);
    tg_label(a, "a");
    tg_label(c, "c");
    cr_assert_eq(tg_tape_status(t), TG_OK);
    tg_tape_check_nan(t, 1);
    tg_set(p, -1.0);
    cr_expect_eq(tg_replay(t), TG_ERR_DOMAIN, "replay into sqrt(-1)");
    const char *m = tg_tape_error(t);
    cr_assert_not_null(m);
    cr_expect_str_eq(m, "sqrt: result is nan at node 'a' (x1 = -1)", "the NaN is blamed on: %s",
                     m);
    tg_tape_free(t);
}

/* The message docs/errors.md shows for TG_ERR_DOMAIN on replay. */
Test(errors, anomaly_in_replay_names_the_labelled_node)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), z = tg_log(p);
    tg_label(z, "z");
    tg_tape_check_nan(t, 1);
    tg_set(p, 0.0);
    cr_expect_eq(tg_replay(t), TG_ERR_DOMAIN);
    th_expect_error(t, TG_ERR_DOMAIN, "log: result is -inf at node 'z' (x1 = 0)");
    tg_tape_free(t);
}

Test(errors, anomaly_ignores_nan_from_upstream)
{
    /* a NaN given as an input was not produced by exp: nothing to report */
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var c = tg_const(t, NAN), p = tg_param(t, 1.0);
    tg_var y = tg_mul(tg_exp(c), p);
    cr_expect(isnan(tg_value(y)));
    cr_expect_eq(tg_tape_status(t), TG_OK, "upstream NaN reported: %s", tg_tape_error(t));
    tg_tape_free(t);
}

/* sqrt(0) = 0 is finite, its slope is not: the backward sweep reports it. */
Test(errors, backward_anomaly_infinite_partial_with_nonzero_adjoint)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var p = tg_param(t, 0.0), y = tg_sqrt(p);
    cr_assert_eq(tg_tape_status(t), TG_OK, "sqrt(0) = 0 is finite: %s", tg_tape_error(t));
    cr_expect_eq(tg_value(y), 0.0);
    cr_expect_eq(tg_backward(y), TG_ERR_DOMAIN);
    th_expect_error(t, TG_ERR_DOMAIN, "sqrt: backward: dy/dx1 is inf at node #1");
    tg_tape_free(t);
}

Test(errors, backward_anomaly_not_raised_for_a_constant_operand)
{
    /* ops.md: pow's dy/db is NaN for a < 0, "only reached when b is a parameter". Here b is
     * the constant 2: (-2)^2 has the finite derivative -4 in a and nothing is NaN. */
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var a = tg_param(t, -2.0), y = tg_pow(a, tg_const(t, 2.0));
    cr_expect_eq(tg_backward(y), TG_OK, "backward of pow(-2, const 2): %s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(a), -4.0, "d a^2/da at -2: %.17g", tg_gradient(a));
    tg_tape_free(t);
}

/* Anomaly mode must not cry wolf: for every registered op at random points where the value
 * and the gradient are finite, recording, backward, jvp, tg_diff and replay stay error-free.
 * Operands after the first are parameters, or integer-valued constants (pow(-2, 3) is finite
 * and so is its derivative in a; its NaN derivative in b is never needed). */
Test(errors, anomaly_mode_is_quiet_where_everything_is_finite)
{
    tg_registry *r = tg_registry_new();
    tg_tape *plain = tg_tape_new(), *t = tg_tape_new();
    th_rng rng = th_rng_new(99);
    int checked = 0;
    for (int i = 0; i < tg_registry_count(r); i++) {
        const tg_op_def *op = tg_registry_at(r, i);
        if (!op->eval) continue; /* scalar operands only */
        int n = op->arity;
        for (int trial = 0; trial < 60; trial++) {
            int consts = trial % 2; /* operands 2.. are constants */
            double x[TG_MAX_ARITY];
            for (int k = 0; k < n; k++) {
                x[k] = th_uniform(&rng, -3.0, 3.0);
                if (consts && k > 0) x[k] = round(x[k]);
            }
            /* first without anomaly mode: is everything finite here? */
            tg_var p[TG_MAX_ARITY];
            tg_tape_reset(plain);
            for (int k = 0; k < n; k++)
                p[k] = consts && k > 0 ? tg_const(plain, x[k]) : tg_param(plain, x[k]);
            tg_var y = tg_apply(op, n, p);
            if (!isfinite(tg_value(y)) || tg_backward(y) != TG_OK) continue;
            int finite = isfinite(tg_gradient(p[0]));
            for (int k = 1; k < n; k++) finite &= isfinite(tg_gradient(p[k]));
            if (!finite) continue;
            /* then the same with it */
            tg_tape_reset(t);
            tg_tape_check_nan(t, 1);
            for (int k = 0; k < n; k++)
                p[k] = consts && k > 0 ? tg_const(t, x[k]) : tg_param(t, x[k]);
            y = tg_apply(op, n, p);
            double one = 1.0;
            int rc_b = tg_backward(y), rc_j = tg_jvp(t, 1, &p[0], &one);
            tg_var d = tg_diff(y, p[0]);
            (void)d;
            tg_set(p[0], x[0]);
            int rc_r = tg_replay(t);
            cr_expect_eq(tg_tape_status(t), TG_OK, "%s(%g, ...)%s: anomaly mode reports \"%s\" "
                         "(backward %d, jvp %d, replay %d)", op->name, x[0],
                         consts ? " with constant operands" : "", tg_tape_error(t), rc_b, rc_j,
                         rc_r);
            checked++;
        }
    }
    cr_expect_gt(checked, 0);
    tg_tape_free(plain);
    tg_tape_free(t);
    tg_registry_free(r);
}

/* ---- tg_diff and tg_check_grad ---- */

Test(errors, diff_with_respect_to_a_constant)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), c = tg_const(t, 2.0), y = tg_mul(p, c);
    tg_var d = tg_diff(y, c);
    cr_expect_eq(d.index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "tg_diff: wrt #1 depends on no parameter (a constant), so "
                                "nothing is differentiated with respect to it");
    tg_tape_free(t);
}

Test(errors, diff_with_respect_to_a_node_of_another_tape)
{
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_var p = tg_param(t1, 1.0), y = tg_mul(p, p), q = tg_param(t2, 1.0);
    tg_var d = tg_diff(y, q);
    cr_expect_eq(d.index, TG_NONE);
    th_expect_error(t1, TG_ERR_TAPE, "tg_diff: wrt is from another tape");
    tg_tape_free(t1);
    tg_tape_free(t2);
}

static double twice_eval(const double *x, double *d)
{
    if (d) d[0] = 2.0;
    return 2.0 * x[0];
}

Test(errors, diff_through_an_op_without_vjp_graph)
{
    static const tg_op_def twice = {.name = "twice", .arity = 1, .eval = twice_eval};
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), y = tg_sin(tg_apply1(&twice, p));
    cr_assert_eq(tg_backward(y), TG_OK, "the numeric sweep needs no vjp_graph: %s",
                 tg_tape_error(t));
    cr_expect_eq(tg_gradient(p), 2 * cos(2.0));
    tg_var d = tg_diff(y, p);
    cr_expect_eq(d.index, TG_NONE);
    th_expect_error(t, TG_ERR_UNSUPPORTED, "tg_diff: op 'twice' has no vjp_graph rule");
    tg_tape_free(t);
}

Test(errors, check_grad_with_a_non_parameter)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), c = tg_const(t, 2.0), y = tg_mul(p, c);
    tg_var ps[2] = {p, c};
    tg_check_report rep;
    cr_expect_eq(tg_check_grad(y, 2, ps, NULL, NULL, &rep), TG_ERR_ARG);
    th_expect_error(t, TG_ERR_ARG, "tg_check_grad: params[1] (node #1) is not a parameter");
    tg_tape_reset(t);
    p = tg_param(t, 1.0);
    y = tg_exp(p);
    cr_expect_eq(tg_check_grad(y, 1, &y, NULL, NULL, &rep), TG_ERR_ARG);
    th_expect_error(t, TG_ERR_ARG, "tg_check_grad: params[0] (node #1) is not a parameter");
    tg_tape_free(t);
}

/* A stale handle of another tape must not be mistaken for a problem of that other tape
 * only: the call fails, on the tape it was made on, and reports it. */
static tg_var stale_of(tg_tape *other)
{
    tg_var q = tg_param(other, 2.0);
    tg_tape_reset(other);
    tg_param(other, 3.0); /* index 0 is live again, in a new epoch */
    return q;
}

Test(errors, diff_wrt_a_stale_handle_of_another_tape)
{
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_var p = tg_param(t1, 1.0), y = tg_mul(p, p), q = stale_of(t2);
    tg_var d = tg_diff(y, q);
    cr_expect_eq(d.index, TG_NONE);
    cr_expect_neq(tg_tape_status(t1), TG_OK, "tg_diff returned an error handle but its tape has "
                  "no error (the other tape got: %s)", tg_tape_error(t2));
    th_expect_error(t1, TG_ERR_TAPE, "tg_diff: wrt is from another tape");
    cr_expect_eq(tg_tape_status(t2), TG_OK, "the wrt's tape was blamed: %s", tg_tape_error(t2));
    tg_tape_free(t1);
    tg_tape_free(t2);
}

Test(errors, jvp_seed_that_is_a_stale_handle_of_another_tape)
{
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_var p = tg_param(t1, 1.0), y = tg_mul(p, p), q = stale_of(t2);
    (void)y;
    double one = 1.0;
    int rc = tg_jvp(t1, 1, &q, &one);
    cr_expect_neq(rc, TG_OK, "tg_jvp with a seed from another tape reported success");
    cr_expect_neq(tg_tape_status(t1), TG_OK, "no error on the jvp's tape");
    th_expect_error(t1, TG_ERR_TAPE, "tg_jvp: a seed is from another tape");
    cr_expect_eq(tg_tape_status(t2), TG_OK, "the seed's tape was blamed: %s", tg_tape_error(t2));
    tg_tape_free(t1);
    tg_tape_free(t2);
}

Test(errors, check_grad_with_a_stale_handle_of_another_tape)
{
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_var p = tg_param(t1, 1.0), y = tg_mul(p, p), q = stale_of(t2);
    tg_check_report rep;
    tg_status rc = tg_check_grad(y, 1, &q, NULL, NULL, &rep);
    cr_expect_neq(rc, TG_OK, "tg_check_grad over a parameter of another tape returned %d (%d "
                 "checked, %d failed)", rc, rep.n, rep.failed);
    cr_expect_neq(tg_tape_status(t1), TG_OK, "no error on the checked tape");
    th_expect_error(t1, TG_ERR_TAPE, "tg_check_grad: params[0] is from another tape");
    cr_expect_eq(tg_tape_status(t2), TG_OK, "the parameter's tape was blamed: %s",
                 tg_tape_error(t2));
    tg_tape_free(t1);
    tg_tape_free(t2);
}

/* ---- status strings ---- */

Test(errors, status_strings_are_non_empty_and_distinct)
{
    const tg_status codes[] = {TG_OK,        TG_ERR_NOMEM,      TG_ERR_ARG,
                         TG_ERR_SHAPE, TG_ERR_TAPE,  TG_ERR_STALE,      TG_ERR_UNKNOWN_OP,
                         TG_ERR_UNSUPPORTED, TG_ERR_DOMAIN, TG_ERR_PARSE};
    const int n = (int)(sizeof codes / sizeof codes[0]);
    for (int i = 0; i < n; i++) {
        const char *s = tg_status_str(codes[i]);
        cr_assert_not_null(s, "tg_status_str(%d) is NULL", codes[i]);
        cr_expect_gt(strlen(s), 0, "tg_status_str(%d) is empty", codes[i]);
        for (int j = 0; j < i; j++)
            cr_expect_str_neq(s, tg_status_str(codes[j]), "codes %d and %d share \"%s\"",
                              codes[j], codes[i], s);
    }
    cr_expect_str_eq(tg_status_str(TG_ERR_NOMEM), "out of memory");
    const char *unknown = tg_status_str(12345);
    cr_assert_not_null(unknown);
    cr_expect_gt(strlen(unknown), 0);
    cr_expect_not_null(tg_status_str(-1));
}
