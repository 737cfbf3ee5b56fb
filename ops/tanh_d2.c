/* tanh_d2: y = tanh''(x) = -2 tanh(x) sech^2 x = 8 sigmoid''(2x) (odd), to a few ULP at every x.
 * dy/dx = tanh'''(x) = 16 sigmoid'''(2x) = s(4 - 6s), s = sech^2 x, plainly (it cancels near
 * its roots, x = +-0.6585: third order is not held to the ULP bounds).
 * A primitive so that tanh_d1's reverse rule (tanh'' from tg_diff twice) keeps its digits.
 * Reverse rule as nodes: gx = gy*(s*(4 - 6s)), s = tanh_d1(x). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(tanh_d2, {
    if (d) d[0] = tg_sigmoid_deriv(2.0 * x[0], 3, 4);
    return tg_sigmoid_deriv(2.0 * x[0], 2, 3);
})

static tg_var tanh_d2_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var s = tg_tanh_d1(x[0]);
    tg_var f = tg_sub(tg_const_like(y, 4.0), tg_mul(tg_const_like(y, 6.0), s));
    return tg_mul(gy, tg_mul(s, f));
}

TG_EVAL_ROW(tanh_d2, 1)

const tg_op_def tg_op_tanh_d2 = {.name = "tanh_d2", .arity = 1,
                                 .math = "y = tanh''(x) = -2 tanh(x) s, s = sech^2 x;"
                                         " dy/dx = s(4 - 6s)",
                                 .eval = tanh_d2_eval, .code = tanh_d2_code,
                                 .eval_row = tanh_d2_row,
                                 .vjp_graph = tanh_d2_vjp_graph};

tg_var tg_tanh_d2(tg_var x) { return tg_apply1(&tg_op_tanh_d2, x); }
