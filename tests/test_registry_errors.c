/* test_registry_errors.c - why tg_op_register refused an op: one exact message per reason
 * (tg_registry_error), the status that goes with it, a registry left as it was, and the
 * message cleared by the next registration that succeeds. See LICENSE. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

static double one_eval(const double *x, double *d)
{
    if (d) d[0] = 1.0;
    return x[0];
}

static double prod_eval(const double *x, double *d)
{
    if (d) {
        d[0] = x[1];
        d[1] = x[0];
    }
    return x[0] * x[1];
}

/* a tensor-only op's kernels: only their presence matters here */
static tg_status same_infer(tg_op_ctx *c)
{
    c->out.rank = c->in[0].rank;
    memcpy(c->out.shape, c->in[0].shape, sizeof c->out.shape);
    return TG_OK;
}

static void same_forward(tg_op_ctx *c) { memcpy(c->out.x, c->in[0].x, c->out.n * sizeof(double)); }

static void same_vjp(tg_op_ctx *c)
{
    if (c->gin[0])
        for (size_t k = 0; k < c->out.n; k++) c->gin[0][k] += c->gy[k];
}

/* a check kernel: only its presence matters here */
static tg_status any_check(const double *x, char *msg, size_t size)
{
    (void)x, (void)msg, (void)size;
    return TG_OK;
}

static tg_registry *new_registry(void)
{
    tg_registry *r = tg_registry_new();
    cr_assert_not_null(r, "tg_registry_new failed");
    return r;
}

/* Register op on r: expect status want and the message msg (NULL: none), r unchanged on a
 * refusal. */
static void expect_register(tg_registry *r, const tg_op_def *op, tg_status want, const char *msg)
{
    int n0 = tg_registry_count(r);
    const tg_op_def *held = op && op->name ? tg_registry_find(r, op->name) : NULL;
    tg_status st = tg_op_register(r, op);
    cr_expect_eq(st, want, "op %s: status %d (%s), expected %d (%s)",
                 op && op->name ? op->name : "(no name)", st, tg_status_str(st), want,
                 tg_status_str(want));
    const char *got = tg_registry_error(r);
    if (!msg) {
        cr_expect_null(got, "op %s was accepted but the registry says: %s",
                       op && op->name ? op->name : "(no name)", got);
        return;
    }
    cr_assert_not_null(got, "no message; expected \"%s\"", msg);
    cr_expect_str_eq(got, msg);
    cr_expect_eq(tg_registry_count(r), n0, "a refused op changed the count from %d to %d", n0,
                 tg_registry_count(r));
    if (op && op->name) /* its name still finds what it found before, if anything */
        cr_expect_eq(tg_registry_find(r, op->name), held, "op %s was refused, yet its name "
                     "now finds another op", op->name);
}

Test(registry_errors, each_refusal_says_why)
{
    static const tg_op_def no_name = {.name = NULL, .arity = 1, .eval = one_eval};
    static const tg_op_def empty_name = {.name = "", .arity = 1, .eval = one_eval};
    static const tg_op_def arity0 = {.name = "zero", .arity = 0, .eval = one_eval};
    static const tg_op_def arity_neg = {.name = "negative", .arity = -1, .eval = one_eval};
    static const tg_op_def arity5 = {.name = "five", .arity = TG_MAX_ARITY + 1,
                                     .eval = one_eval};
    static const tg_op_def no_kernel = {.name = "nokernel", .arity = 1};
    static const tg_op_def no_vjp = {.name = "novjp", .arity = 1, .infer = same_infer,
                                     .forward = same_forward};
    static const tg_op_def only_forward = {.name = "onlyforward", .arity = 1,
                                           .forward = same_forward};
    static const tg_op_def bad_form = {.name = "form", .arity = 1, .eval = one_eval,
                                       .partials = TG_PARTIALS_SWAP + 1};
    static const tg_op_def neg_form = {.name = "negform", .arity = 1, .eval = one_eval,
                                       .partials = -1};
    static const tg_op_def unary_swap = {.name = "swap1", .arity = 1, .eval = one_eval,
                                         .partials = TG_PARTIALS_SWAP};
    static const tg_op_def ternary_swap = {.name = "swap3", .arity = 3, .eval = one_eval,
                                           .partials = TG_PARTIALS_SWAP};
    static const tg_op_def builtin_name = {.name = "mul", .arity = 2, .eval = prod_eval};
    static const tg_op_def check_infer = {.name = "checkinfer", .arity = 1, .infer = same_infer,
                                          .forward = same_forward, .vjp = same_vjp,
                                          .check = any_check};
    static const struct {
        const tg_op_def *op;
        const char *msg;
    } bad[] = {
        {NULL, "tg_op_register: op is NULL"},
        {&no_name, "tg_op_register: the op's name is NULL"},
        {&empty_name, "tg_op_register: the op's name is empty"},
        {&arity0, "tg_op_register: op 'zero' has arity 0, outside 1..4"},
        {&arity_neg, "tg_op_register: op 'negative' has arity -1, outside 1..4"},
        {&arity5, "tg_op_register: op 'five' has arity 5, outside 1..4"},
        {&no_kernel, "tg_op_register: op 'nokernel' has no eval and no infer, forward, vjp (it "
                     "needs eval, or infer, forward and vjp)"},
        {&no_vjp, "tg_op_register: op 'novjp' has no eval and no vjp (it needs eval, or infer, "
                  "forward and vjp)"},
        {&only_forward, "tg_op_register: op 'onlyforward' has no eval and no infer, vjp (it "
                        "needs eval, or infer, forward and vjp)"},
        {&bad_form, "tg_op_register: op 'form' has partials form 3, not TG_PARTIALS_KEPT, "
                    "_CONST or _SWAP"},
        {&neg_form, "tg_op_register: op 'negform' has partials form -1, not TG_PARTIALS_KEPT, "
                    "_CONST or _SWAP"},
        {&unary_swap, "tg_op_register: op 'swap1' has partials form TG_PARTIALS_SWAP and arity "
                      "1 (the product of two operands needs arity 2)"},
        {&ternary_swap, "tg_op_register: op 'swap3' has partials form TG_PARTIALS_SWAP and "
                        "arity 3 (the product of two operands needs arity 2)"},
        {&check_infer, "tg_op_register: op 'checkinfer' has a check kernel and infer (check "
                       "is for elementwise ops; infer checks a tensor op's operands)"},
        {&builtin_name, "tg_op_register: the name 'mul' is taken"},
    };
    tg_registry *r = new_registry();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_register(r, bad[i].op, TG_ERR_ARG, bad[i].msg);
    cr_expect_eq(tg_registry_find(r, "mul"), &tg_op_mul, "the built-in mul was replaced");
    tg_registry_free(r);
}

Test(registry_errors, a_taken_user_name_and_a_second_registration_are_told_apart)
{
    static const tg_op_def cube = {.name = "cube", .arity = 1, .eval = one_eval};
    static const tg_op_def other_cube = {.name = "cube", .arity = 1, .eval = one_eval};
    tg_registry *r = new_registry();
    expect_register(r, &cube, TG_OK, NULL);
    expect_register(r, &other_cube, TG_ERR_ARG, "tg_op_register: the name 'cube' is taken");
    expect_register(r, &cube, TG_ERR_ARG, "tg_op_register: the name 'cube' is taken (this "
                    "descriptor is registered already)");
    cr_expect_eq(tg_registry_find(r, "cube"), &cube, "the first registration did not stay");
    tg_registry_free(r);
}

Test(registry_errors, the_message_is_the_last_calls_and_cleared_by_a_success)
{
    static const tg_op_def bad = {.name = "bad", .arity = 9, .eval = one_eval};
    static const tg_op_def good = {.name = "good", .arity = 1, .eval = one_eval};
    static const tg_op_def tensor = {.name = "tensor", .arity = 1, .infer = same_infer,
                                     .forward = same_forward, .vjp = same_vjp};
    static const tg_op_def swap2 = {.name = "swap2", .arity = 2, .eval = prod_eval,
                                    .partials = TG_PARTIALS_SWAP};
    static const tg_op_def const2 = {.name = "const2", .arity = 2, .eval = prod_eval,
                                     .partials = TG_PARTIALS_CONST, .dconst = {1, 1}};
    tg_registry *r = new_registry();
    cr_expect_null(tg_registry_error(r), "a new registry has a message: %s",
                   tg_registry_error(r));
    expect_register(r, &bad, TG_ERR_ARG, "tg_op_register: op 'bad' has arity 9, outside 1..4");
    expect_register(r, NULL, TG_ERR_ARG, "tg_op_register: op is NULL");
    expect_register(r, &good, TG_OK, NULL);
    /* the other accepted forms: tensor kernels without eval, a product, constant partials */
    expect_register(r, &tensor, TG_OK, NULL);
    expect_register(r, &swap2, TG_OK, NULL);
    expect_register(r, &const2, TG_OK, NULL);
    cr_expect_eq(tg_registry_find(r, "swap2"), &swap2);
    /* lookups leave the message alone */
    expect_register(r, &bad, TG_ERR_ARG, "tg_op_register: op 'bad' has arity 9, outside 1..4");
    cr_expect_eq(tg_registry_find(r, "good"), &good);
    cr_expect_str_eq(tg_registry_error(r), "tg_op_register: op 'bad' has arity 9, outside 1..4");
    tg_registry_free(r);
}

Test(registry_errors, the_first_failed_check_is_reported)
{
    /* nameless, with a bad arity and no kernel: the name is what is missing first */
    static const tg_op_def nothing = {.name = NULL};
    /* a bad arity and no kernel: the arity */
    static const tg_op_def arity_and_kernel = {.name = "both", .arity = 0};
    /* no kernel and a bad form: the kernel */
    static const tg_op_def kernel_and_form = {.name = "kf", .arity = 1, .partials = 9};
    tg_registry *r = new_registry();
    expect_register(r, &nothing, TG_ERR_ARG, "tg_op_register: the op's name is NULL");
    expect_register(r, &arity_and_kernel, TG_ERR_ARG,
                    "tg_op_register: op 'both' has arity 0, outside 1..4");
    expect_register(r, &kernel_and_form, TG_ERR_ARG, "tg_op_register: op 'kf' has no eval and "
                    "no infer, forward, vjp (it needs eval, or infer, forward and vjp)");
    tg_registry_free(r);
}

Test(registry_errors, a_long_name_is_cut_in_the_message)
{
    char name[101], msg[200];
    memset(name, 'n', 100);
    name[100] = '\0';
    const tg_op_def op = {.name = name, .arity = 7, .eval = one_eval};
    snprintf(msg, sizeof msg, "tg_op_register: op '%.64s' has arity 7, outside 1..4", name);
    tg_registry *r = new_registry();
    expect_register(r, &op, TG_ERR_ARG, msg);
    tg_registry_free(r);
}

Test(registry_errors, a_null_registry_is_refused)
{
    static const tg_op_def good = {.name = "good", .arity = 1, .eval = one_eval};
    cr_expect_eq(tg_op_register(NULL, &good), TG_ERR_ARG);
    cr_expect_str_eq(tg_registry_error(NULL), "registry is NULL");
}

Test(registry_errors, out_of_memory_is_reported_and_the_op_goes_in_later)
{
    static const tg_op_def good = {.name = "good", .arity = 1, .eval = one_eval};
    th_alloc a;
    memset(&a, 0, sizeof a);
    tg_registry *r = tg_registry_new_with(th_alloc_fn, &a);
    cr_assert_not_null(r);
    a.fail_at = a.alloc_calls + 1;
    expect_register(r, &good, TG_ERR_NOMEM, "tg_op_register: out of memory adding op 'good'");
    cr_expect_null(tg_registry_find(r, "good"), "an op refused for want of memory was added");
    a.fail_at = 0;
    expect_register(r, &good, TG_OK, NULL);
    cr_expect_eq(tg_registry_find(r, "good"), &good);
    tg_registry_free(r);
    cr_expect_eq(a.live, 0, "%lld bytes leaked", a.live);
}
