/* test_errors.c - the sticky error: every misuse sets a status and an exact message, the first
 * error is kept, later builders return error handles, reset clears it; anomaly mode (NaN/Inf
 * while recording, replaying and sweeping backward). See LICENSE. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

/* ---- handles ---- */

Test(errors, operand_from_another_tape)
{
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_var a = tg_param(t1, 1.0), b = tg_param(t2, 2.0);
    tg_var r = tg_add(a, b);
    cr_expect_eq(r.index, TG_NONE, "mixing tapes gave a node");
    th_expect_error(t1, TG_ERR_TAPE, "add: operand 2 is from another tape");
    cr_expect_eq(tg_tape_status(t2), TG_OK, "the other tape got the error: %s",
                 tg_tape_error(t2));
    tg_tape_free(t1);
    tg_tape_free(t2);
}

Test(errors, stale_operand)
{
    tg_tape *t = tg_tape_new();
    tg_var old = tg_param(t, 1.0);
    tg_tape_reset(t);
    tg_var p = tg_param(t, 2.0);
    tg_var r = tg_mul(old, p);
    cr_expect_eq(r.index, TG_NONE);
    th_expect_error(t, TG_ERR_STALE, "mul: operand 1 is stale (recorded before tg_tape_reset)");
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
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op is NULL or has no eval kernel");
    tg_tape_free(t);
}

static const tg_op_def no_eval_op = {.name = "noeval", .arity = 1};
static const tg_op_def no_eval_op2 = {.name = "noeval2", .arity = 2};

Test(errors, apply_an_op_without_eval)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_apply(&no_eval_op, 1, &p);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op is NULL or has no eval kernel");
    tg_tape_free(t);
}

Test(errors, apply1_an_op_without_eval)
{
    /* tg_apply1/tg_apply2 promise "the same result" as tg_apply */
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_var r = tg_apply1(&no_eval_op, p);
    cr_expect_eq(r.index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op is NULL or has no eval kernel");
    tg_tape_free(t);
}

Test(errors, apply2_an_op_without_eval)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0);
    tg_var r = tg_apply2(&no_eval_op2, p, p);
    cr_expect_eq(r.index, TG_NONE);
    th_expect_error(t, TG_ERR_ARG, "tg_apply: op is NULL or has no eval kernel");
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
    th_expect_error(t, TG_ERR_ARG, "sum5: 5 operands, more than TG_MAX_ARITY (4)");
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

Test(errors, jvp_seed_that_is_not_a_parameter)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), h = tg_sin(p);
    double one = 1.0;
    cr_expect_eq(tg_jvp(t, 1, &h, &one), TG_ERR_ARG);
    th_expect_error(t, TG_ERR_ARG, "tg_jvp: seed 1 is not a parameter of this tape");
    tg_tape_free(t);
}

/* ---- sweeps on errors ---- */

Test(errors, backward_on_an_error_handle_or_an_errored_tape)
{
    tg_tape *t = tg_tape_new();
    tg_var p = tg_param(t, 1.0), good = tg_mul(p, p);
    tg_var bad = tg_apply(&tg_op_mul, 1, &p);
    const char *msg = "mul: takes 2 operands, got 1";
    cr_expect_eq(tg_backward(bad), TG_ERR_ARG, "backward from an error handle");
    cr_expect_eq(tg_backward(good), TG_ERR_ARG, "backward on an errored tape");
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

Test(errors, null_tape_is_refused_without_crashing)
{
    tg_var p = tg_param(NULL, 1.0);
    cr_expect_null(p.tape);
    cr_expect_eq(p.index, TG_NONE);
    cr_expect(isnan(tg_value(p)));
    cr_expect_eq(tg_backward(p), TG_ERR_ARG);
    cr_expect_eq(tg_jvp(NULL, 0, NULL, NULL), TG_ERR_ARG);
    cr_expect_eq(tg_replay(NULL), TG_ERR_ARG);
    cr_expect_eq(tg_exp(p).index, TG_NONE);
    cr_expect_eq(tg_tape_status(NULL), TG_ERR_ARG);
    cr_expect_not_null(tg_tape_error(NULL));
}

/* ---- anomaly mode ---- */

Test(errors, anomaly_log_of_zero)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var p = tg_param(t, 0.0), y = tg_log(p);
    cr_expect_eq(y.index, TG_NONE);
    th_expect_error(t, TG_ERR_DOMAIN, "log: result is -inf at node #1 (x1 = 0)");
    tg_tape_free(t);
}

Test(errors, anomaly_exp_overflow)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_exp(tg_param(t, 1000.0));
    th_expect_error(t, TG_ERR_DOMAIN, "exp: result is inf at node #1 (x1 = 1000)");
    tg_tape_free(t);
}

Test(errors, anomaly_sqrt_of_negative)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_sqrt(tg_param(t, -1.0));
    cr_expect_eq(tg_tape_status(t), TG_ERR_DOMAIN);
    const char *m = tg_tape_error(t);
    cr_assert_not_null(m);
    /* the sign printed for NaN is the platform's; the rest is fixed */
    cr_expect(strncmp(m, "sqrt: result is ", 16) == 0 && strstr(m, "nan at node #1 (x1 = -1)"),
              "message: %s", m);
    tg_tape_free(t);
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

Test(errors, anomaly_off_by_default)
{
    tg_tape *t = tg_tape_new();
    tg_var y = tg_log(tg_param(t, 0.0));
    cr_expect(isinf(tg_value(y)));
    cr_expect_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
    tg_tape_check_nan(t, 1);
    tg_tape_check_nan(t, 0);
    tg_sqrt(tg_param(t, -1.0));
    cr_expect_eq(tg_tape_status(t), TG_OK, "%s", tg_tape_error(t));
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
    cr_expect(strncmp(m, "sqrt: result is ", 16) == 0 && strstr(m, "nan at node 'a' (x1 = -1)"),
              "the NaN is blamed on: %s", m);
    tg_tape_free(t);
}

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

Test(errors, backward_anomaly_infinite_partial_with_nonzero_adjoint)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var p = tg_param(t, 0.0), y = tg_sqrt(p);
    cr_assert_eq(tg_tape_status(t), TG_OK, "sqrt(0) = 0 is finite: %s", tg_tape_error(t));
    cr_expect_eq(tg_backward(y), TG_ERR_DOMAIN);
    th_expect_error(t, TG_ERR_DOMAIN, "sqrt: backward: dy/dx1 is inf at node #1");
    tg_tape_free(t);
}

Test(errors, backward_anomaly_not_raised_for_a_masked_branch)
{
    tg_tape *t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    tg_var a = tg_param(t, -1.0), q = tg_param(t, 0.0);
    tg_var y = tg_mul(tg_relu(a), tg_sqrt(q));
    cr_expect_eq(tg_backward(y), TG_OK, "%s", tg_tape_error(t));
    cr_expect_eq(tg_gradient(q), 0.0);
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

/* ---- reset, status strings ---- */

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
