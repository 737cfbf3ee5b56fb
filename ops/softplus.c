/* softplus: y = ln(1 + e^x).  dy/dx = sigmoid(x); d2y/dx2 = sigmoid'(x), through sigmoid's
 * partial and its rule (sigmoid_d1), both exact to a few ULP (not y(1 - y): softplus'' was
 * 9e-4 off at x = 33 and 2% further out).
 * Evaluated as max(x,0) + log1p(e^-|x|): no overflow for large x, no lost digits for very
 * negative x; 0 below x = -708.4.  Reverse rule as nodes: gx = gy*sigmoid(x). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(softplus, {
    if (d) d[0] = tg_op_sigmoid.eval(x, NULL);
    return tg_flush_subnormal((x[0] > 0 ? x[0] : 0.0) + log1p(exp(-fabs(x[0]))));
})

static tg_var softplus_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_sigmoid(x[0]));
}

TG_EVAL_ROW(softplus, 1)

const tg_op_def tg_op_softplus = {.name = "softplus", .arity = 1,
                                  .math = "y = ln(1+e^x); dy/dx = sigmoid(x)",
                                  .eval = softplus_eval, .code = softplus_code,
                                  .eval_row = softplus_row,
                                  .vjp_graph = softplus_vjp_graph};

tg_var tg_softplus(tg_var x) { return tg_apply1(&tg_op_softplus, x); }
