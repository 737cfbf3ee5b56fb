/* sigmoid: y = 1/(1 + e^-x).  dy/dx = s(1 - s) with s = sigmoid(-|x|) = e/(1 + e),
 * e = e^-|x|, within 2.5 ULP as sigmoid_d1 is (docs/ops.md).  Evaluated from e^-|x|
 * so that nothing overflows; 0 below x = -708.4, where it leaves the normal range.  The
 * derivative is not y(1 - y): 1 - y keeps no digits once y is near 1 (sigmoid'(30) was 1e-3
 * off, and 0 from x = 37 on where it is about 1e-16).
 * Reverse rule as nodes: gx = gy*sigmoid_d1(x), an op whose own derivative keeps its digits
 * too (so sigmoid'' from tg_diff twice or a Hessian does). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(sigmoid, {
    /* s = sigmoid(-|x|) <= 1/2 from one e^-|x|, and y = s for x < 0, 1 - s for x >= 0,
     * formed as m + (1 - 2m) s with m = [x >= 0], exactly s or the rounded 1 - s (with a
     * select, compilers branch on the sign, which is random); y' = s(1 - s), where 1 - s
     * does not cancel. e is 0 where it leaves the normal range (|x| > 708.4), and so are y'
     * and y for x < 0, as they are then. */
    const double e = tg_flush_subnormal(exp(-fabs(x[0]))), s = e / (1.0 + e), m = x[0] >= 0;
    if (d) d[0] = s * (1.0 - s);
    return m + (1.0 - 2.0 * m) * s;
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
