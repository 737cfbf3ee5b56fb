/* sigmoid_d1: y = sigmoid'(x) = e/(1 + e)^2, e = e^-|x| (the logistic density; even).
 * dy/dx = sigmoid''(x) = sign(x) e expm1(-|x|)/(1 + e)^3.  Both keep their digits at every x
 * (tg_sigmoid_deriv: 1 + e is carried exactly, the tails past |x| = 708 are rounded once) and
 * are 0 where they leave the normal range.  A primitive so that the reverse rules of sigmoid
 * and softplus (and so their second derivatives) keep their digits: y(1 - y) is 0 from x = 37.
 * Reverse rule as nodes: gx = gy*(y*(-tanh(x/2))), sigmoid'' = sigmoid' (1 - 2 sigmoid): a
 * product of two accurate factors. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(sigmoid_d1, {
    if (d) d[0] = tg_sigmoid_deriv(x[0], 2, 0);
    return tg_sigmoid_deriv(x[0], 1, 0);
})

static tg_var sigmoid_d1_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var t = tg_tanh(tg_mul(x[0], tg_const_like(y, 0.5)));
    return tg_mul(gy, tg_neg(tg_mul(y, t)));
}

TG_EVAL_ROW(sigmoid_d1, 1)

const tg_op_def tg_op_sigmoid_d1 = {
    .name = "sigmoid_d1", .arity = 1,
    .math = "y = sigmoid'(x) = e/(1+e)^2, e = e^-|x|; dy/dx = -y tanh(x/2)",
    .eval = sigmoid_d1_eval, .code = sigmoid_d1_code,
    .eval_row = sigmoid_d1_row,
    .vjp_graph = sigmoid_d1_vjp_graph};

tg_var tg_sigmoid_d1(tg_var x) { return tg_apply1(&tg_op_sigmoid_d1, x); }
