/* test_nn.c - training helpers of tapegrad_nn.h: initialisation, losses, the optimizers' update
 * rules, the replayed step against a re-recorded one, an activation given as an expression,
 * spirals to >= 97% test accuracy with the CLI's defaults, and every bad input's exact message.
 * See LICENSE. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tapegrad_nn.h"
#include "tapegrad_op.h"

/* The defaults of `tapegrad train`: 500 spiral points, 20% held out, features standardised,
 * 2-32-32-2 relu, cross entropy, Adam lr 0.01, batch 32, 200 epochs, seed 1. */
typedef struct run {
    tg_dataset all, train, test;
    tg_mlp m;
    tg_trainer *tr;
} run;

static tg_train_opts defaults(void)
{
    tg_train_opts o;
    memset(&o, 0, sizeof o);
    o.loss = TG_LOSS_CROSS_ENTROPY;
    o.opt = TG_OPT_ADAM;
    o.lr = 0.01;
    o.batch = 32;
    o.seed = 1;
    return o;
}

static void setup_run(run *r, const tg_activation *act, const tg_train_opts *o)
{
    int w[4] = {2, 32, 32, 2};
    cr_assert_eq(tg_data_spirals(&r->all, 500, 1), TG_OK);
    cr_assert_eq(tg_data_split(&r->all, 0.2, 1, &r->train, &r->test), TG_OK);
    tg_data_standardize(&r->train, &r->test);
    cr_assert_eq(tg_mlp_init(&r->m, 4, w, act, 1), TG_OK, "%s", tg_mlp_error(&r->m));
    cr_assert_eq(tg_trainer_new(&r->tr, &r->m, &r->train, o), TG_OK, "%s",
                 tg_trainer_error(r->tr));
}

static void teardown_run(run *r)
{
    tg_trainer_free(r->tr);
    tg_mlp_fini(&r->m);
    tg_data_free(&r->all);
    tg_data_free(&r->train);
    tg_data_free(&r->test);
}

Test(nn, rng_is_the_callers_state)
{
    uint64_t a = 5, b = 5;
    double u = tg_rng_uniform(&a);
    cr_assert_eq(u, tg_rng_uniform(&b));
    cr_assert(u >= 0 && u < 1);
    cr_assert_neq(tg_rng_uniform(&a), u);
}

Test(nn, xavier_and_he_initialisation)
{
    uint64_t s = 3;
    tg_dense l;
    cr_assert_eq(tg_dense_init(&l, 50, 30, TG_INIT_XAVIER, &s), TG_OK);
    double r = sqrt(6.0 / 80), ss = 0;
    for (int e = 0; e < 1500; e++) {
        cr_assert(fabs(l.W[e]) <= r);
        ss += l.W[e] * l.W[e];
    }
    cr_assert(fabs(ss / 1500 - r * r / 3) < 0.1 * r * r / 3); /* uniform: variance r^2/3 */
    for (int e = 0; e < 30; e++) cr_assert_eq(l.b[e], 0);
    tg_dense_fini(&l);
    cr_assert_eq(tg_dense_init(&l, 200, 100, TG_INIT_HE, &s), TG_OK);
    ss = 0;
    for (int e = 0; e < 20000; e++) ss += l.W[e] * l.W[e];
    cr_assert(fabs(ss / 20000 - 2.0 / 200) < 0.05 * 2.0 / 200, "He variance %g", ss / 20000);
    tg_dense_fini(&l);
    cr_assert_eq(tg_dense_init(&l, 0, 3, TG_INIT_HE, &s), TG_ERR_ARG);
}

Test(nn, loss_and_optimizer_names)
{
    tg_loss l;
    tg_opt_kind k;
    cr_assert_eq(tg_loss_from_name("bce_with_logits", &l), TG_OK);
    cr_assert_eq(l, TG_LOSS_BCE_WITH_LOGITS);
    cr_assert_str_eq(tg_loss_name(TG_LOSS_MSE), "mse");
    cr_assert_eq(tg_loss_from_name("hinge", &l), TG_ERR_ARG);
    cr_assert_eq(tg_loss_from_name(NULL, &l), TG_ERR_ARG);
    cr_assert_eq(l, TG_LOSS_BCE_WITH_LOGITS, "a failed lookup leaves *out alone");
    cr_assert_eq(tg_opt_from_name("momentum", &k), TG_OK);
    cr_assert_eq(k, TG_OPT_MOMENTUM);
    cr_assert_eq(tg_opt_from_name("lbfgs", &k), TG_ERR_ARG);
    cr_assert_eq(tg_opt_from_name(NULL, &k), TG_ERR_ARG);
    cr_assert_eq(k, TG_OPT_MOMENTUM, "a failed lookup leaves *out alone");
}

Test(nn, one_hot_cross_entropy_equals_the_fused_op)
{
    tg_tape *t = tg_tape_new();
    double z[6] = {0.3, -1.2, 2.0, 0.1, 0.5, -0.7}, y1[6] = {0, 0, 1, 1, 0, 0};
    int sh[2] = {2, 3}, labels[2] = {2, 0};
    tg_var Z = tg_tensor_param(t, 2, sh, z);
    tg_var L = tg_loss_apply(TG_LOSS_CROSS_ENTROPY, Z, tg_tensor_const(t, 2, sh, y1));
    cr_assert_eq(tg_backward(L), 0);
    double g[6];
    memcpy(g, tg_gradient_data(Z), sizeof g);
    tg_var F = tg_cross_entropy(Z, labels);
    cr_assert_eq(tg_backward(F), 0);
    cr_assert(fabs(tg_value(L) - tg_value(F)) < 1e-14, "%g vs %g", tg_value(L), tg_value(F));
    for (int i = 0; i < 6; i++) cr_assert(fabs(g[i] - tg_gradient_data(Z)[i]) < 1e-14);
    tg_tape_free(t);
}

Test(nn, optimizer_update_rules)
{
    double p[2] = {1.0, -2.0}, g[2] = {0.5, -4.0};
    double *pp[1] = {p};
    const double *gg[1] = {g};
    size_t n = 2;
    tg_optimizer o;
    cr_assert_eq(tg_optimizer_init(&o, TG_OPT_SGD, 0.1, 1, &n), TG_OK);
    tg_optimizer_step(&o, pp, gg);
    cr_assert_eq(p[0], 1.0 - 0.05);
    cr_assert_eq(p[1], -2.0 + 0.4);
    tg_optimizer_fini(&o);

    p[0] = 1;
    cr_assert_eq(tg_optimizer_init(&o, TG_OPT_MOMENTUM, 0.1, 1, &n), TG_OK);
    tg_optimizer_step(&o, pp, gg);
    tg_optimizer_step(&o, pp, gg); /* v = g, then 1.9 g */
    cr_assert(fabs(p[0] - (1.0 - 0.1 * 0.5 - 0.1 * 0.95)) < 1e-15);
    tg_optimizer_fini(&o);

    p[0] = 1;
    p[1] = -2;
    cr_assert_eq(tg_optimizer_init(&o, TG_OPT_ADAM, 0.01, 1, &n), TG_OK);
    tg_optimizer_step(&o, pp, gg); /* the first Adam step is lr * sign(g) */
    cr_assert(fabs(p[0] - 0.99) < 1e-9 && fabs(p[1] + 1.99) < 1e-9, "%g %g", p[0], p[1]);
    tg_optimizer_fini(&o);

    cr_assert_eq(tg_optimizer_init(&o, TG_OPT_SGD, -1, 1, &n), TG_ERR_ARG);
    cr_assert_eq(tg_optimizer_init(&o, TG_OPT_SGD, NAN, 1, &n), TG_ERR_ARG);
}

/* Recording the step once and replaying it per batch must give exactly the numbers of
 * recording every batch afresh. */
Test(nn, replayed_step_equals_rerecorded_step)
{
    tg_train_opts o = defaults();
    o.batch = 48; /* 400 rows: a smaller last batch, so both step graphs are used */
    run a, b;
    tg_activation act = {0};
    act.op = &tg_op_relu;
    setup_run(&a, &act, &o);
    o.rerecord = 1;
    setup_run(&b, &act, &o);
    for (int e = 0; e < 3; e++) {
        tg_epoch_stats sa, sb;
        cr_assert_eq(tg_trainer_epoch(a.tr, &sa), TG_OK, "%s", tg_trainer_error(a.tr));
        cr_assert_eq(tg_trainer_epoch(b.tr, &sb), TG_OK, "%s", tg_trainer_error(b.tr));
        cr_assert_eq(sa.loss, sb.loss, "epoch %d: replay %.17g, re-record %.17g", e + 1, sa.loss,
                     sb.loss);
    }
    for (int l = 0; l < 3; l++) {
        cr_assert(memcmp(a.m.layer[l].W, b.m.layer[l].W,
                         (size_t)a.m.layer[l].in * a.m.layer[l].out * sizeof(double)) == 0,
                  "layer %d: W differs", l);
        cr_assert(memcmp(a.m.layer[l].b, b.m.layer[l].b,
                         (size_t)a.m.layer[l].out * sizeof(double)) == 0,
                  "layer %d: b differs", l);
    }
    teardown_run(&a);
    teardown_run(&b);
}

Test(nn, spirals_reach_97_percent_test_accuracy_with_defaults)
{
    tg_train_opts o = defaults();
    tg_activation act = {0};
    act.op = &tg_op_relu;
    run r;
    setup_run(&r, &act, &o);
    tg_epoch_stats st;
    for (int e = 0; e < 200; e++)
        cr_assert_eq(tg_trainer_epoch(r.tr, &st), TG_OK, "%s", tg_trainer_error(r.tr));
    double acc, loss;
    cr_assert_eq(tg_evaluate(&r.m, &r.test, o.loss, &acc, &loss), TG_OK);
    cr_assert(acc >= 0.97, "test accuracy %.3f", acc);
    teardown_run(&r);
}

/* x*sigmoid(x) as an expression trains exactly like the silu op. */
Test(nn, expression_activation_matches_the_op)
{
    tg_train_opts o = defaults();
    tg_activation e = {0}, op = {0};
    e.expr = "x*sigmoid(x)";
    op.op = &tg_op_silu;
    run a, b;
    setup_run(&a, &e, &o);
    setup_run(&b, &op, &o);
    tg_epoch_stats sa, sb;
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(tg_trainer_epoch(a.tr, &sa), TG_OK, "%s", tg_trainer_error(a.tr));
        cr_assert_eq(tg_trainer_epoch(b.tr, &sb), TG_OK, "%s", tg_trainer_error(b.tr));
    }
    cr_assert(fabs(sa.loss - sb.loss) < 1e-10, "%.17g vs %.17g", sa.loss, sb.loss);
    teardown_run(&a);
    teardown_run(&b);
}

Test(nn, expression_activation_errors_reach_the_trainer)
{
    tg_train_opts o = defaults();
    tg_activation e = {0};
    e.expr = "x*sigmod(x)";
    run r;
    setup_run(&r, &e, &o);
    tg_epoch_stats st;
    const char *msg = "tg_parse: at column 3: unknown function 'sigmod' (did you mean "
                      "'sigmoid'?)";
    cr_assert_eq(tg_trainer_epoch(r.tr, &st), TG_ERR_PARSE);
    cr_assert_str_eq(tg_trainer_error(r.tr), msg);
    cr_assert_eq(tg_trainer_epoch(r.tr, &st), TG_ERR_PARSE, "the failure sticks");
    cr_assert_str_eq(tg_trainer_error(r.tr), msg);
    teardown_run(&r);
}

/* tg_trainer_new fails with st and msg, and still hands back a trainer that holds them; an
 * epoch on it does nothing and returns them again (the failure sticks). */
static void trainer_refuses(tg_mlp *m, const tg_dataset *ds, const tg_train_opts *o,
                            tg_status st, const char *msg)
{
    tg_trainer *tr = NULL;
    cr_assert_eq(tg_trainer_new(&tr, m, ds, o), st, "expected: %s", msg);
    cr_assert_not_null(tr);
    cr_assert_str_eq(tg_trainer_error(tr), msg);
    tg_epoch_stats es = {0};
    cr_assert_eq(tg_trainer_epoch(tr, &es), st);
    cr_assert_str_eq(tg_trainer_error(tr), msg);
    cr_assert_eq(es.epoch, 0, "a failed trainer trains no epoch");
    tg_trainer_free(tr);
}

Test(nn, bad_input_has_exact_messages)
{
    tg_dataset ds;
    tg_mlp m;
    tg_train_opts o = defaults();
    tg_activation act = {0};
    act.op = &tg_op_tanh;
    cr_assert_eq(tg_data_xor(&ds, 20, 1), TG_OK);

    int w3[3] = {3, 4, 2};
    cr_assert_eq(tg_mlp_init(&m, 3, w3, &act, 1), TG_OK);
    trainer_refuses(&m, &ds, &o, TG_ERR_ARG, "the data has 2 features but the first layer takes 3");
    tg_mlp_fini(&m);

    int w4[3] = {2, 4, 3};
    cr_assert_eq(tg_mlp_init(&m, 3, w4, &act, 1), TG_OK);
    trainer_refuses(&m, &ds, &o, TG_ERR_ARG,
                    "the data has 2 classes (labels 0..1) but the last layer has 3 outputs");
    tg_mlp_fini(&m);

    int w2[3] = {2, 4, 2};
    cr_assert_eq(tg_mlp_init(&m, 3, w2, &act, 1), TG_OK);
    ds.y[4] = 2;
    trainer_refuses(&m, &ds, &o, TG_ERR_ARG, "label out of range (row 5: 2; classes 0..1)");
    ds.y[4] = -1;
    trainer_refuses(&m, &ds, &o, TG_ERR_ARG, "label out of range (row 5: -1; classes 0..1)");
    ds.y[4] = 0;
    ds.X[7] = NAN;
    trainer_refuses(&m, &ds, &o, TG_ERR_ARG, "NaN in the data (row 4, column 2)");
    ds.X[7] = 0;
    o.lr = -0.5;
    trainer_refuses(&m, &ds, &o, TG_ERR_ARG,
                    "the learning rate must be a positive number (got -0.5)");
    o.lr = 0.01;
    trainer_refuses(NULL, &ds, &o, TG_ERR_ARG, "no model or no data");
    trainer_refuses(&m, NULL, &o, TG_ERR_ARG, "no model or no data");
    tg_mlp_fini(&m);

    int w1[1] = {2};
    cr_assert_eq(tg_mlp_init(&m, 1, w1, &act, 1), TG_ERR_ARG);
    cr_assert_str_eq(tg_mlp_error(&m),
                     "an MLP needs at least two widths (inputs and outputs), got 1");
    cr_assert(m.nlayers == 0 && m.layer == NULL);
    int w0[3] = {2, 0, 2};
    cr_assert_eq(tg_mlp_init(&m, 3, w0, &act, 1), TG_ERR_ARG);
    cr_assert_str_eq(tg_mlp_error(&m), "layer width 2 is 0 (must be at least 1)");
    act.op = &tg_op_matmul;
    cr_assert_eq(tg_mlp_init(&m, 3, w2, &act, 1), TG_ERR_ARG);
    cr_assert_str_eq(tg_mlp_error(&m), "'matmul' is not an elementwise function of one input");
    cr_assert_eq(tg_evaluate(&m, &ds, TG_LOSS_CROSS_ENTROPY, NULL, NULL), TG_ERR_ARG);
    cr_assert_str_eq(tg_mlp_error(&m), "tg_evaluate: the model has no layers");
    act.op = &tg_op_tanh;
    cr_assert_eq(tg_mlp_init(&m, 3, w3, &act, 1), TG_OK);
    cr_assert_null(tg_mlp_error(&m));
    cr_assert_eq(tg_evaluate(&m, &ds, TG_LOSS_CROSS_ENTROPY, NULL, NULL), TG_ERR_SHAPE);
    cr_assert_str_eq(tg_mlp_error(&m), "matmul: inner dimensions differ (a is [20,2], b is [3,4])");
    tg_mlp_fini(&m);
    tg_data_free(&ds);

    tg_dataset r;
    act.op = &tg_op_tanh;
    cr_assert_eq(tg_data_curve(&r, 20, 1), TG_OK);
    int wr[3] = {1, 4, 1};
    cr_assert_eq(tg_mlp_init(&m, 3, wr, &act, 1), TG_OK);
    trainer_refuses(&m, &r, &o, TG_ERR_ARG,
                    "the data is a regression: use the loss mse, not cross_entropy");
    tg_mlp_fini(&m);
    tg_data_free(&r);
}

Test(nn, a_diverging_learning_rate_is_stopped_with_the_epoch)
{
    tg_train_opts o = defaults();
    o.opt = TG_OPT_SGD;
    o.loss = TG_LOSS_MSE;
    o.lr = 50;
    tg_activation act = {0};
    act.op = &tg_op_relu;
    run r;
    setup_run(&r, &act, &o);
    tg_epoch_stats st;
    tg_status s = TG_OK;
    int e;
    for (e = 1; e <= 20 && s == TG_OK; e++) s = tg_trainer_epoch(r.tr, &st);
    cr_assert_eq(s, TG_ERR_DOMAIN);
    cr_assert_eq(e - 1, 1, "stopped in epoch %d, not the first", e - 1);
    cr_assert_str_eq(tg_trainer_error(r.tr),
                     "training diverged at epoch 1 (loss inf; try a learning rate below 50)");
    cr_assert_eq(tg_trainer_epoch(r.tr, &st), TG_ERR_DOMAIN, "the failure sticks");
    teardown_run(&r);
}

/* A NaN that comes from an op's domain, not from the learning rate: log of a hidden unit's
 * negative pre-activation, in the first batch, before any update. The trainer replays the
 * batch with anomaly mode on and names the op and its input; the learning rate is not
 * blamed. (The input's last digits are the BLAS's: it is compared to 1e-12.) */
Test(nn, a_nan_from_an_ops_domain_names_the_op_and_its_input)
{
    tg_train_opts o = defaults();
    tg_activation act = {0};
    act.expr = "log(x)";
    run r;
    setup_run(&r, &act, &o);
    tg_epoch_stats st;
    cr_assert_eq(tg_trainer_epoch(r.tr, &st), TG_ERR_DOMAIN);
    const char *m = tg_trainer_error(r.tr), *pre = "training stopped at epoch 1: the loss is "
                                                   "nan; the first NaN or Inf comes from log: "
                                                   "result is nan at element 0 of node #5 "
                                                   "(shape [32,32]; x1 = ";
    cr_assert(strncmp(m, pre, strlen(pre)) == 0, "%s", m);
    char *end;
    double x1 = strtod(m + strlen(pre), &end);
    cr_assert(fabs(x1 + 0.057792181755469393) < 1e-12 * 0.0578 && strcmp(end, ")") == 0, "%s",
              m);
    cr_assert_eq(tg_trainer_epoch(r.tr, &st), TG_ERR_DOMAIN, "the failure sticks");
    cr_assert_str_eq(tg_trainer_error(r.tr), m);
    teardown_run(&r);
}

Test(nn, regression_with_mse)
{
    tg_dataset all, tr, te;
    cr_assert_eq(tg_data_curve(&all, 300, 2), TG_OK);
    cr_assert_eq(tg_data_split(&all, 0.2, 2, &tr, &te), TG_OK);
    int w[3] = {1, 16, 1};
    tg_activation act = {0};
    act.op = &tg_op_tanh;
    tg_mlp m;
    cr_assert_eq(tg_mlp_init(&m, 3, w, &act, 2), TG_OK);
    tg_train_opts o = defaults();
    o.loss = TG_LOSS_MSE;
    tg_trainer *t;
    cr_assert_eq(tg_trainer_new(&t, &m, &tr, &o), TG_OK, "%s", tg_trainer_error(t));
    cr_assert_null(tg_trainer_error(t));
    tg_epoch_stats st;
    for (int e = 0; e < 100; e++)
        cr_assert_eq(tg_trainer_epoch(t, &st), TG_OK, "%s", tg_trainer_error(t));
    cr_assert_eq(st.epoch, 100);
    double acc, loss;
    cr_assert_eq(tg_evaluate(&m, &te, o.loss, &acc, &loss), TG_OK);
    cr_assert_null(tg_mlp_error(&m));
    cr_assert(isnan(acc));
    cr_assert(loss < 0.03, "test mse %g (noise variance 0.01)", loss);
    tg_trainer_free(t);
    tg_mlp_fini(&m);
    tg_data_free(&all);
    tg_data_free(&tr);
    tg_data_free(&te);
}

/* A user op whose derivative is wrong (it claims g' = 2 for g = x^3): the check finds it. */
static double cube_wrong_eval(const double *x, double *d)
{
    if (d) d[0] = 2.0;
    return x[0] * x[0] * x[0];
}
static const tg_op_def cube_wrong = {.name = "cube_wrong", .arity = 1, .eval = cube_wrong_eval};

Test(nn, activation_check_refuses_a_wrong_derivative)
{
    tg_activation_report rep;
    tg_activation a = {0};
    a.op = &cube_wrong;
    cr_assert_eq(tg_activation_check(&a, -3, 3, 41, &rep), TG_OK, "%s",
                 tg_activation_report_error(&rep));
    cr_assert_null(tg_activation_report_error(&rep));
    cr_assert_eq(rep.agree, 0);
    /* relative error 1 at x = 0: g'(0) = 0, claimed 2 */
    cr_assert_eq(rep.worst_x, 0.0, "worst at %g", rep.worst_x);
    cr_assert_eq(rep.worst.reverse, 2.0);
    cr_assert(fabs(rep.worst.fd) < 1e-6, "fd %g", rep.worst.fd);
    cr_assert_eq(rep.worst.failed, 41);
    cr_assert_eq(rep.worst.checked, 41);
    a.op = &tg_op_relu;
    cr_assert_eq(tg_activation_check(&a, -3, 3, 41, &rep), TG_OK);
    cr_assert_eq(rep.agree, 1);
    cr_assert_eq(rep.worst.failed, 0);
    a.op = NULL;
    a.expr = "x*sigmoid(1.702*x)";
    cr_assert_eq(tg_activation_check(&a, -3, 3, 41, &rep), TG_OK);
    cr_assert_eq(rep.agree, 1);
    cr_assert_eq(rep.worst.checked, 41);
}

/* Steep activations are right, and said to be: each point is checked on its own, so the finite
 * differences of g(-4) = e^-16 are not lost in a sum with g(4) = e^16 (they were, and a right
 * derivative was called wrong). */
Test(nn, activation_check_keeps_the_digits_of_steep_activations)
{
    static const char *const steep[] = {"exp(4*x)", "x^5", "exp(x)*x^3", "10^x"};
    for (size_t k = 0; k < sizeof steep / sizeof *steep; k++) {
        tg_activation a = {0};
        a.expr = steep[k];
        tg_activation_report rep;
        cr_assert_eq(tg_activation_check(&a, -4, 4, 81, &rep), TG_OK, "%s: %s", steep[k],
                     tg_activation_report_error(&rep));
        cr_expect_eq(rep.agree, 1, "%s: called wrong at x = %g (reverse %.17g, fd %.17g)",
                     steep[k], rep.worst_x, rep.worst.reverse, rep.worst.fd);
        cr_expect_eq(rep.worst.checked, 81);
    }
}

/* An activation that is not finite somewhere in the range (sqrt and log below 0, 1/x at 0)
 * is outside its domain there: no derivative is compared, and the report says where, which
 * op and which input (anomaly mode's message for that one point). */
Test(nn, activation_check_says_where_the_activation_is_not_defined)
{
    static const struct {
        const char *op, *expr;
        double x;
        const char *msg;
    } cases[] = {
        {"sqrt", NULL, -4, "not finite at x = -4, outside its domain: sqrt: result is nan at "
                           "node #1 (x1 = -4)"},
        {"log", NULL, -4, "not finite at x = -4, outside its domain: log: result is nan at "
                          "node #1 (x1 = -4)"},
        {NULL, "log(1 + x)", -4, "not finite at x = -4, outside its domain: log: result is nan "
                                 "at node #3 (x1 = -3)"},
        {NULL, "x/x", 0, "not finite at x = 0, outside its domain: div: result is nan at node "
                         "#1 (x1 = 0, x2 = 0)"},
        /* not a function of x at all: one value, NaN everywhere */
        {NULL, "log(-1)", -4, "not finite at x = -4, outside its domain: log: result is nan "
                              "at node #2 (x1 = -1)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_activation a = {0};
        a.op = cases[i].op ? tg_registry_find(NULL, cases[i].op) : NULL;
        a.expr = cases[i].expr;
        tg_activation_report rep;
        cr_assert_eq(tg_activation_check(&a, -4, 4, 81, &rep), TG_ERR_DOMAIN, "case %zu", i);
        cr_assert_eq(rep.agree, 0);
        cr_assert_eq(rep.worst_x, cases[i].x, "case %zu: x = %g", i, rep.worst_x);
        cr_assert_str_eq(tg_activation_report_error(&rep), cases[i].msg, "case %zu", i);
    }
}

Test(nn, activation_check_errors_are_in_the_report)
{
    tg_activation_report rep;
    tg_activation a = {0};
    a.expr = "x*(";
    cr_assert_eq(tg_activation_check(&a, -3, 3, 41, &rep), TG_ERR_PARSE);
    cr_assert_str_eq(tg_activation_report_error(&rep), "tg_parse: at column 4: expected a number, "
                                                       "a name or '(', found the end of the "
                                                       "expression");
    cr_assert_eq(rep.agree, 0);
    a.expr = NULL;
    a.op = &tg_op_matmul;
    cr_assert_eq(tg_activation_check(&a, -3, 3, 41, &rep), TG_ERR_ARG);
    cr_assert_str_eq(tg_activation_report_error(&rep), "matmul: takes 2 operands, got 1");
    a.op = &tg_op_tanh;
    const char *range = "the check needs at least 2 points and lo < hi";
    cr_assert_eq(tg_activation_check(&a, -3, 3, 1, &rep), TG_ERR_ARG);
    cr_assert_str_eq(tg_activation_report_error(&rep), range);
    cr_assert_eq(tg_activation_check(&a, 3, -3, 41, &rep), TG_ERR_ARG);
    cr_assert_str_eq(tg_activation_report_error(&rep), range);
    cr_assert_eq(tg_activation_check(&a, -3, 3, 41, &rep), TG_OK);
    cr_assert_null(tg_activation_report_error(&rep), "a check that runs clears the message");
    cr_assert_eq(tg_activation_check(&a, -3, 3, 41, NULL), TG_ERR_ARG);
}

/* ---- `tapegrad train` / `compare` as programs ($TAPEGRAD, as test_cli_article.c); skipped
 * while the binary has no train command ---- */

typedef struct cli_run {
    char out[8192], err[8192];
    int status;
} cli_run;

static void slurp(FILE *f, char *buf, size_t size)
{
    size_t n = 0, k;
    while (n + 1 < size && (k = fread(buf + n, 1, size - 1 - n, f)) > 0) n += k;
    buf[n] = '\0';
}

static cli_run *tapegrad(const char *args)
{
    static cli_run r;
    const char *b = getenv("TAPEGRAD");
    if (!b || !*b) b = "build/bin/tapegrad";
    if (access(b, X_OK) != 0) cr_skip_test("no tapegrad binary (set TAPEGRAD)");
    char errpath[] = "/tmp/tapegrad-train-XXXXXX", cmd[1024];
    int fd = mkstemp(errpath);
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", b, args, errpath);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    slurp(p, r.out, sizeof r.out);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    FILE *e = fopen(errpath, "r");
    cr_assert_not_null(e);
    slurp(e, r.err, sizeof r.err);
    fclose(e);
    unlink(errpath);
    if (r.status == 2 && strstr(r.err, "unknown command"))
        cr_skip_test("this tapegrad has no train/compare command yet");
    return &r;
}

Test(train_cli, json_is_exactly_one_object_with_the_five_keys)
{
    cli_run *r = tapegrad("train --epochs 150 --json");
    cr_assert_eq(r->status, 0, "%s", r->err);
    double a, b, l, s;
    int n, used = 0;
    cr_assert_eq(sscanf(r->out, "{\"train_accuracy\": %lf, \"test_accuracy\": %lf, "
                                "\"final_loss\": %lf, \"epochs\": %d, \"seconds\": %lf}\n%n",
                        &a, &b, &l, &n, &s, &used), 5, "%s", r->out);
    cr_assert_eq((size_t)used, strlen(r->out), "trailing output: %s", r->out);
    /* this seeded run (spirals seed 1, 150 epochs) separates both sets completely */
    cr_assert_eq(a, 1.0, "train accuracy %.17g", a);
    cr_assert_eq(b, 1.0, "test accuracy %.17g", b);
    char loss[32];
    snprintf(loss, sizeof loss, "%.4g", l); /* to the digits `compare` prints */
    cr_assert_str_eq(loss, "0.0002931", "final loss %.17g", l);
    cr_assert_eq(n, 150);
    cr_assert(s > 0, "seconds %g", s);
}

Test(train_cli, bad_input_exits_2_with_one_line)
{
    static const struct {
        const char *args, *err;
    } cases[] = {
        {"train --layers 3,8,2", "tapegrad: train: the data has 2 features but the first layer "
                                 "takes 3 (see --layers)\n"},
        {"train --data tests/data/ragged.csv",
         "tapegrad: train: tests/data/ragged.csv:3: 2 columns, expected 3 (as on line 1)\n"},
        {"train --data tests/data/empty.csv", "tapegrad: train: tests/data/empty.csv: no data rows\n"},
        {"train --data tests/data/badlabel.csv",
         "tapegrad: train: tests/data/badlabel.csv: data row 2: label -1 is out of range "
         "(labels are 0, 1, ...)\n"},
        {"train --data tests/data/nan.csv", "tapegrad: train: tests/data/nan.csv:2:3: NaN in the data\n"},
        {"train --opt sgd --lr 1000 --loss mse --epochs 3",
         "tapegrad: train: training diverged at epoch 1 (loss inf; try a learning rate below "
         "1000)\n"},
        {"train --activation matmul", "tapegrad: train: --activation: 'matmul' is not an "
                                      "elementwise function of one input (try relu, tanh, "
                                      "sigmoid, gelu, silu, or an expression in x)\n"},
        {"train --loss hinge", "tapegrad: train: --loss: unknown loss 'hinge' (mse, "
                               "cross_entropy, bce_with_logits, or an expression in y and t)\n"},
        {"compare --activation relu", "tapegrad: compare: give at least two --activation "
                                      "options to compare\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_run *r = tapegrad(cases[i].args);
        cr_assert_eq(r->status, 2, "%s: exit %d", cases[i].args, r->status);
        /* the whole of stderr: each refusal comes before any progress line */
        cr_assert_str_eq(r->err, cases[i].err, "%s", cases[i].args);
        cr_assert_str_eq(r->out, "", "%s", cases[i].args);
    }
}

/* The seeds are fixed (data: spirals seed 1; runs: seeds 1 and 2), so everything but the time
 * is one exact outcome: every run of both reaches 95% test accuracy, relu in 18.5 epochs on
 * average and the candidate in 20. The seconds column is only checked to be a number. */
Test(train_cli, compare_prints_a_row_per_activation)
{
    cli_run *r = tapegrad("compare --activation relu --activation 'x*sigmoid(1.702*x)' "
                          "--epochs 30 --seeds 2");
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->err,
                     "spirals: 400 training rows, 100 test rows; 2 activations x 2 seeds, 30 "
                     "epochs each\n"
                     "  relu                     seed 1: loss 0.02275, test accuracy 99.0%\n"
                     "  relu                     seed 2: loss 0.01246, test accuracy 99.0%\n"
                     "  x*sigmoid(1.702*x)       seed 1: loss 0.01541, test accuracy 99.0%\n"
                     "  x*sigmoid(1.702*x)       seed 2: loss 0.01716, test accuracy 99.0%\n");
    static const char *const rows[] = {
        "activation                 final loss             test accuracy        "
        "epochs to target   seconds\n",
        "                           mean +- std            mean +- std          "
        "(>= 95%)          \n",
        /* then the mean seconds of each */
        "relu                       0.0176 +- 0.0073       99.00% +- 0.00       "
        "18.5 (2/2)         ",
        "x*sigmoid(1.702*x)         0.01629 +- 0.0012      99.00% +- 0.00       "
        "20.0 (2/2)         ",
    };
    const char *p = r->out;
    for (int k = 0; k < 4; k++) {
        size_t n = strlen(rows[k]);
        cr_assert(strncmp(p, rows[k], n) == 0, "row %d:\n%.*s\nexpected:\n%s", k + 1,
                  (int)strcspn(p, "\n"), p, rows[k]);
        p += n;
        if (k < 2) continue;
        double sec;
        int used = 0;
        cr_assert(sscanf(p, "%lf%n", &sec, &used) == 1 && sec >= 0 && p[used] == '\n',
                  "row %d: the seconds: %s", k + 1, p);
        p += used + 1;
    }
    cr_assert_str_eq(p, "", "after the rows");
}

/* What `tapegrad ARGS` writes on a terminal (script(1) gives it one; stdout and stderr both,
 * with the terminal's \r\n for \n), malloc'd; its exit status in *status. */
static char *on_a_terminal(const char *args, int *status)
{
    const char *b = getenv("TAPEGRAD");
    if (!b || !*b) b = "build/bin/tapegrad";
    if (system("command -v script >/dev/null 2>&1") != 0) cr_skip_test("no script(1)");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "script -qec \"'%s' %s\" /dev/null </dev/null", b, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char *out = malloc(1 << 16);
    slurp(p, out, 1 << 16);
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/* Whether s has a \r that does not end a line: a line redrawn in place. */
static int redraws(const char *s)
{
    for (; (s = strchr(s, '\r')); s++)
        if (s[1] != '\n') return 1;
    return 0;
}

/* Progress on a terminal: a run longer than a second shows one line, redrawn in place, with
 * the epoch, the loss, the accuracy, the time spent and the time to go, and clears it at the
 * end; a shorter run shows nothing, and --quiet nothing at all. (The seconds --json reports
 * say whether this run was long enough on this machine.) */
Test(train_cli, progress_on_a_terminal_after_a_second)
{
    int st;
    char *out = on_a_terminal("train --layers 2,128,128,2 --epochs 200 --json", &st);
    cr_assert_eq(st, 0, "%s", out);
    const char *js = strstr(out, "\"seconds\": ");
    cr_assert_not_null(js, "%s", out);
    double sec = strtod(js + 11, NULL);
    if (sec > 1.2) {
        cr_expect(redraws(out), "no line redrawn with \\r in %.3f s:\n%s", sec, out);
        static const char *const parts[] = {"epoch ", "/200", " loss ", " train ", " elapsed",
                                            " to go"};
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
            cr_expect(strstr(out, parts[k]), "no '%s' in the progress line:\n%s", parts[k], out);
        /* cleared before the result: the JSON starts a line of its own */
        cr_expect(strstr(out, "\r{\"train_accuracy\"") || out[0] == '{', "%s", out);
    } else {
        cr_log_info("this run took %.3f s: too short to check the progress line", sec);
    }
    free(out);
    out = on_a_terminal("train --layers 2,128,128,2 --epochs 200 --json --quiet", &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_expect(!redraws(out) && !strstr(out, "epoch "), "--quiet shows progress:\n%s", out);
    free(out);
    out = on_a_terminal("train --epochs 5 --json", &st);
    cr_assert_eq(st, 0, "%s", out);
    cr_expect(!redraws(out) && !strstr(out, "epoch "), "a short run shows progress:\n%s", out);
    free(out);
}

/* A loss written as an expression: (y - t)^2 trains exactly like mse. */
Test(nn, expression_loss_matches_the_named_loss)
{
    tg_train_opts o = defaults();
    o.loss = TG_LOSS_MSE;
    tg_activation act = {0};
    act.op = &tg_op_tanh;
    run a, b;
    setup_run(&a, &act, &o);
    o.loss_expr = "(y - t)^2";
    setup_run(&b, &act, &o);
    tg_epoch_stats sa, sb;
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(tg_trainer_epoch(a.tr, &sa), TG_OK, "%s", tg_trainer_error(a.tr));
        cr_assert_eq(tg_trainer_epoch(b.tr, &sb), TG_OK, "%s", tg_trainer_error(b.tr));
    }
    cr_assert(fabs(sa.loss - sb.loss) < 1e-12, "%.17g vs %.17g", sa.loss, sb.loss);
    double la, lb;
    cr_assert_eq(tg_evaluate_opts(&b.m, &b.test, &o, NULL, &lb), TG_OK);
    cr_assert_eq(tg_evaluate(&a.m, &a.test, TG_LOSS_MSE, NULL, &la), TG_OK);
    cr_assert(fabs(la - lb) < 1e-12);
    teardown_run(&a);
    teardown_run(&b);

    tg_dataset ds;
    tg_mlp m;
    int w[3] = {2, 4, 2};
    cr_assert_eq(tg_data_xor(&ds, 20, 1), TG_OK);
    cr_assert_eq(tg_mlp_init(&m, 3, w, &act, 1), TG_OK);
    o.loss_expr = "(y - z)^2";
    trainer_refuses(&m, &ds, &o, TG_ERR_PARSE,
                    "loss '(y - z)^2': tg_parse: at column 6: unknown name 'z' (did you mean "
                    "'t'?)");
    tg_mlp_fini(&m);
    tg_data_free(&ds);
}

/* NULL where a model, data set or options belong: TG_ERR_ARG with the message on the model
 * (nothing is dereferenced); a NULL trainer has no optimizer. */
Test(nn, evaluate_and_trainer_refuse_null)
{
    tg_dataset ds;
    tg_mlp m;
    tg_activation act = {0};
    act.op = &tg_op_tanh;
    int w[3] = {2, 4, 2};
    cr_assert_eq(tg_data_xor(&ds, 20, 1), TG_OK);
    cr_assert_eq(tg_mlp_init(&m, 3, w, &act, 1), TG_OK);
    double acc, loss;
    cr_expect_eq(tg_evaluate(NULL, &ds, TG_LOSS_CROSS_ENTROPY, &acc, &loss), TG_ERR_ARG);
    cr_expect_eq(tg_evaluate(&m, NULL, TG_LOSS_CROSS_ENTROPY, &acc, &loss), TG_ERR_ARG);
    cr_expect_str_eq(tg_mlp_error(&m), "tg_evaluate: the data set is NULL");
    cr_expect_eq(tg_evaluate_opts(&m, &ds, NULL, &acc, &loss), TG_ERR_ARG);
    cr_expect_str_eq(tg_mlp_error(&m), "tg_evaluate: opts is NULL");
    cr_expect_eq(tg_evaluate(&m, &ds, TG_LOSS_CROSS_ENTROPY, &acc, &loss), TG_OK, "%s",
                 tg_mlp_error(&m));
    cr_expect_null(tg_mlp_error(&m), "a success leaves no message: %s", tg_mlp_error(&m));
    cr_expect_null(tg_trainer_optimizer(NULL));
    tg_mlp_fini(&m);
    tg_data_free(&ds);
}
