/* test_shape.c - the op contract's shape helpers on their own: tg_axis, tg_view_span, and the
 * exact messages of the ready-made infers (the ops built on them are tested through the
 * registry walker and the message table in test_tensor_ops.c). See LICENSE. */
#include "helpers.h"

Test(shape, axis_counts_from_the_end_when_negative_and_is_minus_one_out_of_range)
{
    static const struct {
        int rank, axis, want;
    } cases[] = {
        {3, 0, 0},   {3, 2, 2},   {3, -1, 2},  {3, -3, 0},  {3, 3, -1},
        {3, -4, -1}, {1, 0, 0},   {1, -1, 0},  {4, -2, 2},  {0, 0, -1},
        {0, -1, -1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        cr_expect_eq(tg_axis(cases[k].rank, cases[k].axis), cases[k].want,
                     "tg_axis(rank %d, axis %d) = %d, expected %d", cases[k].rank, cases[k].axis,
                     tg_axis(cases[k].rank, cases[k].axis), cases[k].want);
}

Test(shape, view_span_splits_a_tensor_around_its_axis)
{
    static const struct {
        int axis;
        tg_span want;
    } cases[] = {
        {0, {0, 1, 2, 12}},  {1, {1, 2, 3, 4}},   {2, {2, 6, 4, 1}}, {-1, {2, 6, 4, 1}},
        {-3, {0, 1, 2, 12}}, {3, {-1, 1, 24, 1}}, {-4, {-1, 1, 24, 1}},
    };
    tg_view x = {NULL, 3, {2, 3, 4, 0}, 24};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tg_span s = tg_view_span(&x, cases[k].axis), w = cases[k].want;
        cr_expect(s.axis == w.axis && s.outer == w.outer && s.len == w.len && s.inner == w.inner,
                  "[2,3,4] around axis %d: {axis %d, outer %zu, len %zu, inner %zu}, expected "
                  "{%d, %zu, %zu, %zu}", cases[k].axis, s.axis, s.outer, s.len, s.inner, w.axis,
                  w.outer, w.len, w.inner);
    }
    tg_view scalar = {NULL, 0, {0}, 1};
    tg_span s = tg_view_span(&scalar, 0);
    cr_expect(s.axis == -1 && s.outer == 1 && s.len == 1 && s.inner == 1,
              "a scalar has no axis 0: {axis %d, outer %zu, len %zu, inner %zu}", s.axis, s.outer,
              s.len, s.inner);
}

/* ---- the ready-made infers ---- */

typedef struct operand {
    int rank, d[TG_MAX_RANK];
} operand;

static tg_view view_of(const operand *o)
{
    tg_view v = {NULL, o->rank, {0}, 1};
    for (int d = 0; d < o->rank; d++) v.n *= (size_t)(v.shape[d] = o->d[d]);
    return v;
}

Test(shape, ready_made_infers_set_the_shape_or_say_what_is_wrong_with_the_operands)
{
    /* want: the output shape when status is TG_OK, else the exact message (the library puts
     * "<op>: " in front of it) */
    static const struct {
        const char *name;
        tg_status (*infer)(tg_op_ctx *c);
        int n;
        operand in[2];
        int nattr, attr[2];
        tg_status status;
        const char *want;
    } cases[] = {
        {"last_axis", tg_infer_last_axis, 1, {{2, {3, 4}}}, 0, {0}, TG_OK, "[3,4]"},
        {"last_axis", tg_infer_last_axis, 1, {{0, {0}}}, 0, {0}, TG_ERR_SHAPE,
         "needs rank 1 or more (it runs along the last axis), got rank 0 (x is [])"},
        {"last_axis", tg_infer_last_axis, 1, {{2, {3, 4}}}, 1, {1}, TG_ERR_ARG,
         "takes no attributes, got 1 (x is [3,4])"},
        {"along_axis", tg_infer_along_axis, 1, {{2, {3, 4}}}, 0, {0}, TG_OK, "[3,4]"},
        {"along_axis", tg_infer_along_axis, 1, {{3, {2, 3, 4}}}, 1, {0}, TG_OK, "[2,3,4]"},
        {"along_axis", tg_infer_along_axis, 1, {{3, {2, 3, 4}}}, 1, {-3}, TG_OK, "[2,3,4]"},
        {"along_axis", tg_infer_along_axis, 1, {{0, {0}}}, 0, {0}, TG_ERR_SHAPE,
         "needs rank 1 or more (it runs along the last axis), got rank 0 (x is [])"},
        {"along_axis", tg_infer_along_axis, 1, {{0, {0}}}, 1, {0}, TG_ERR_ARG,
         "axis 0 is out of range for rank 0 (x is [])"},
        {"along_axis", tg_infer_along_axis, 1, {{2, {3, 4}}}, 1, {2}, TG_ERR_ARG,
         "axis 2 is out of range for rank 2 (x is [3,4])"},
        {"along_axis", tg_infer_along_axis, 1, {{2, {3, 4}}}, 1, {-3}, TG_ERR_ARG,
         "axis -3 is out of range for rank 2 (x is [3,4])"},
        {"along_axis", tg_infer_along_axis, 1, {{2, {3, 4}}}, 2, {1, 0}, TG_ERR_ARG,
         "takes attributes {axis} (or none, for the last axis), got 2 (x is [3,4])"},
        {"same_shape", tg_infer_same_shape_to_scalar, 2, {{2, {4, 1}}, {2, {4, 1}}}, 0, {0},
         TG_OK, "[]"},
        {"same_shape", tg_infer_same_shape_to_scalar, 2, {{0, {0}}, {0, {0}}}, 0, {0}, TG_OK,
         "[]"},
        {"same_shape", tg_infer_same_shape_to_scalar, 2, {{2, {4, 1}}, {1, {4}}}, 0, {0},
         TG_ERR_SHAPE, "shapes differ (x1 is [4,1], x2 is [4])"},
        {"same_shape", tg_infer_same_shape_to_scalar, 2, {{2, {3, 4}}, {2, {4, 3}}}, 0, {0},
         TG_ERR_SHAPE, "shapes differ (x1 is [3,4], x2 is [4,3])"},
        {"same_shape", tg_infer_same_shape_to_scalar, 2, {{1, {3}}, {1, {3}}}, 1, {0},
         TG_ERR_ARG, "takes no attributes, got 1 (x1 is [3], x2 is [3])"},
        {"reduce_axis", tg_infer_reduce_axis, 1, {{3, {2, 3, 4}}}, 2, {1, 0}, TG_OK, "[2,4]"},
        {"reduce_axis", tg_infer_reduce_axis, 1, {{3, {2, 3, 4}}}, 2, {-1, 1}, TG_OK, "[2,3,1]"},
        {"reduce_axis", tg_infer_reduce_axis, 1, {{1, {5}}}, 2, {0, 0}, TG_OK, "[]"},
        {"reduce_axis", tg_infer_reduce_axis, 1, {{2, {3, 4}}}, 1, {0}, TG_ERR_ARG,
         "takes attributes {axis, keepdims}, got 1 (x is [3,4])"},
        {"reduce_axis", tg_infer_reduce_axis, 1, {{2, {3, 4}}}, 2, {2, 0}, TG_ERR_ARG,
         "axis 2 is out of range for rank 2 (x is [3,4])"},
        {"reduce_axis", tg_infer_reduce_axis, 1, {{2, {3, 4}}}, 2, {-3, 0}, TG_ERR_ARG,
         "axis -3 is out of range for rank 2 (x is [3,4])"},
        {"reduce_axis", tg_infer_reduce_axis, 1, {{0, {0}}}, 2, {0, 0}, TG_ERR_ARG,
         "axis 0 is out of range for rank 0 (x is [])"},
        {"reduce_axis", tg_infer_reduce_axis, 1, {{2, {3, 4}}}, 2, {0, 2}, TG_ERR_ARG,
         "keepdims is 2, not 0 or 1 (x is [3,4])"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char msg[200] = "", got[48];
        tg_op_ctx c = {.n = cases[k].n, .attr = cases[k].attr, .nattr = cases[k].nattr,
                       .msg = msg, .msgsize = sizeof msg};
        for (int j = 0; j < c.n; j++) c.in[j] = view_of(&cases[k].in[j]);
        tg_status st = cases[k].infer(&c);
        cr_expect_eq(st, cases[k].status, "case %zu (%s): status %d (%s), expected %d", k,
                     cases[k].name, st, tg_status_str(st), cases[k].status);
        const char *what = st == TG_OK ? tg_view_shape(&c.out, got, sizeof got) : msg;
        cr_expect_str_eq(what, cases[k].want, "case %zu (%s): %s", k, cases[k].name,
                         st == TG_OK ? "output shape" : "message");
    }
}
