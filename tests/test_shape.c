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
