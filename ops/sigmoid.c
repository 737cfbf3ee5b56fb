/* sigmoid: y = 1/(1 + e^-x).  dy/dx = e/(1 + e)^2 with e = e^-|x| (sigmoid_d1's value).
 * Evaluated as e^x/(1 + e^x) for x < 0 so that no e^-x overflows; 0 below x = -708.4, where
 * it leaves the normal range.  The derivative is not y(1 - y): 1 - y keeps no digits once y
 * is near 1 (sigmoid'(30) was 1e-3 off, and 0 from x = 37 on where it is about 1e-16).
 * Reverse rule as nodes: gx = gy*sigmoid_d1(x), an op whose own derivative keeps its digits
 * too (so sigmoid'' from tg_diff twice or a Hessian does). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(sigmoid, {
    const double e = exp(-fabs(x[0])); /* one e^-|x| for both: y = 1/(1 + e) or e/(1 + e) */
    if (d) d[0] = e < 0x1p-1000 ? tg_sigmoid_deriv(x[0], 1, 0) : tg_div_one_plus(e, e, 2);
    return x[0] >= 0 ? 1.0 / (1.0 + e) : tg_flush_subnormal(e / (1.0 + e));
})

static tg_var sigmoid_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_sigmoid_d1(x[0]));
}

TG_EVAL_ROW(sigmoid, 1)

const tg_op_def tg_op_sigmoid = {.name = "sigmoid", .arity = 1,
                                 .math = "y = 1/(1+e^-x); dy/dx = y(1-y)",
                                 .eval = sigmoid_eval, .code = sigmoid_code,
                                 .eval_row = sigmoid_row,
                                 .vjp_graph = sigmoid_vjp_graph};

tg_var tg_sigmoid(tg_var x) { return tg_apply1(&tg_op_sigmoid, x); }
