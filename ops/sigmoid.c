/* sigmoid: y = 1/(1 + e^-x).  dy/dx = y(1 - y) (reuses the output).
 * Evaluated as e^x/(1 + e^x) for x < 0 so that no e^-x overflows: finite for all x. Both
 * halves are num/(1 + e) with e = e^-|x|, so the sign picks only the numerator: a select
 * rather than a branch, which a random sign would mispredict.
 * Reverse rule as nodes: gx = gy*(y*(1 - y)). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(sigmoid, {
    const double e = exp(-fabs(x[0]));
    const double y = (x[0] >= 0 ? 1.0 : e) / (1.0 + e);
    if (d) d[0] = y * (1.0 - y);
    return y;
})

static tg_var sigmoid_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)i;
    return tg_mul(gy, tg_mul(y, tg_sub(tg_const_like(y, 1.0), y)));
}

TG_EVAL_ROW(sigmoid, 1)

const tg_op_def tg_op_sigmoid = {.name = "sigmoid", .arity = 1,
                                 .math = "y = 1/(1+e^-x); dy/dx = y(1-y)",
                                 .eval = sigmoid_eval, .code = sigmoid_code,
                                 .eval_row = sigmoid_row,
                                 .vjp_graph = sigmoid_vjp_graph};

tg_var tg_sigmoid(tg_var x) { return tg_apply1(&tg_op_sigmoid, x); }
