/* sigmoid: y = 1/(1 + e^-x).  dy/dx = y(1 - y), formed as y (e/q) with q = 1 + e, e = e^-x:
 * e/q is 1 - y without its cancellation (1 - y keeps no digits once y is near 1: sigmoid'(30)
 * was 1e-3 off, and 0 from x = 37 on where it is about 1e-16).  y is one division from e,
 * nothing after it: this is on the critical path of every network that uses it (see
 * docs/ops.md for what it costs in ULP against the select of sigmoid(-|x|) it replaced).
 * Past |x| = 1022 ln 2 = 708.396..., where y (x < 0) or y' leaves the normal range, y is 0 or
 * 1 and y' is 0; the test is on x, so it costs nothing while y is computed.
 * Reverse rule as nodes: gx = gy*sigmoid_d1(x), an op whose own derivative keeps its digits
 * too (so sigmoid'' from tg_diff twice or a Hessian does). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(sigmoid, {
    /* the largest double below 1022 ln 2: at it, both y(-x) and y'(x) are normal by 124 ULP */
    const double e = exp(-x[0]), q = 1.0 + e, y = 1.0 / q;
    if (fabs(x[0]) > 0x1.6232bdd7abcd2p+9) {
        if (d) d[0] = 0.0;
        return x[0] < 0 ? 0.0 : 1.0;
    }
    if (d) d[0] = y * (e / q);
    return y;
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
