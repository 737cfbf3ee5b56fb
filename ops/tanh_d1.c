/* tanh_d1: y = tanh'(x) = sech^2 x = 4 sigmoid'(2x) = 4 e/(1 + e)^2, e = e^-2|x| (even).
 * dy/dx = tanh''(x) = -2 tanh(x) sech^2(x) = 8 sigmoid''(2x).  Both to a few ULP at every x
 * (tg_sigmoid_deriv), 0 where they leave the normal range (|x| past 354.2 and 354.6).
 * A primitive so that tanh's reverse rule, and so its second derivative, keep their digits.
 * Reverse rule as nodes: gx = gy*tanh_d2(x). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(tanh_d1, {
    if (d) d[0] = tg_sigmoid_deriv(2.0 * x[0], 2, 3);
    return tg_sigmoid_deriv(2.0 * x[0], 1, 2);
})

static tg_var tanh_d1_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_tanh_d2(x[0]));
}

TG_EVAL_ROW(tanh_d1, 1)

const tg_op_def tg_op_tanh_d1 = {.name = "tanh_d1", .arity = 1,
                                 .math = "y = tanh'(x) = sech^2 x; dy/dx = -2 tanh(x) sech^2 x",
                                 .eval = tanh_d1_eval, .code = tanh_d1_code,
                                 .eval_row = tanh_d1_row,
                                 .vjp_graph = tanh_d1_vjp_graph};

tg_var tg_tanh_d1(tg_var x) { return tg_apply1(&tg_op_tanh_d1, x); }
