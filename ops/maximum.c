/* maximum: y = max(a, b), elementwise; a and b broadcast as add's operands do (max is the
 * reduction along an axis).  dy/da = [a > b] + [a = b]/2, dy/db = [b > a] + [a = b]/2: on a
 * tie each operand gets half of the gradient, as PyTorch's torch.maximum gives it and as
 * SymPy's Heaviside(0) = 1/2 says.  The halves are symmetric in a and b and sum to 1, the
 * derivative along a = b (maximum(x, x) = x).  On a tie y is a (the sign of a zero is a's);
 * NaN in either operand gives NaN.  With s = sign(a - b) (0 for a tie: a - b is never 0
 * for a != b, and Inf - Inf is NaN, which sign takes as 0) the partials are (1 + s)/2 and
 * (1 - s)/2, exactly.  Branch quantity: a - b.
 * Reverse rule as nodes: ga = gy*(1 + sign(a - b))/2, gb = gy*(1 - sign(a - b))/2.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(maximum, {
    const double a = x[0], b = x[1];
    if (d) {
        const double s = (a > b) - (a < b);
        d[0] = 0.5 * (1.0 + s);
        d[1] = 0.5 * (1.0 - s);
    }
    if (isnan(b)) return b;
    return b > a ? b : a;
})

static double maximum_branch(const double *x) { return x[0] - x[1]; }

static tg_var maximum_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    tg_var s = tg_sign(tg_sub(x[0], x[1])), one = tg_const_like(y, 1.0);
    tg_var p = tg_mul(tg_const_like(y, 0.5), i == 0 ? tg_add(one, s) : tg_sub(one, s));
    return tg_mul(gy, p);
}

TG_EVAL_ROW(maximum, 2)

const tg_op_def tg_op_maximum = {
    .name = "maximum", .arity = 2,
    .math = "y = max(a, b); dy/da = [a > b], dy/db = [b > a] (1/2 each on a tie)",
    .eval = maximum_eval, .code = maximum_code,
    .eval_row = maximum_row, .branch = maximum_branch,
    .vjp_graph = maximum_vjp_graph};

tg_var tg_maximum(tg_var a, tg_var b) { return tg_apply2(&tg_op_maximum, a, b); }
