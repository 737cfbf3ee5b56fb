/* minimum: y = min(a, b), elementwise; a and b broadcast as add's operands do.
 * dy/da = [a < b] + [a = b]/2, dy/db = [b < a] + [a = b]/2: on a tie each operand gets half
 * of the gradient, as PyTorch's torch.minimum gives it (see maximum).  On a tie y is a (the
 * sign of a zero is a's); NaN in either operand gives NaN.  With s = sign(a - b) the
 * partials are (1 - s)/2 and (1 + s)/2, exactly.  Branch quantity: a - b.
 * Reverse rule as nodes: ga = gy*(1 - sign(a - b))/2, gb = gy*(1 + sign(a - b))/2.
 * See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(minimum, {
    const double a = x[0], b = x[1];
    if (d) {
        const double s = (a > b) - (a < b);
        d[0] = 0.5 * (1.0 - s);
        d[1] = 0.5 * (1.0 + s);
    }
    if (isnan(b)) return b;
    return b < a ? b : a;
})

static double minimum_branch(const double *x) { return x[0] - x[1]; }

static tg_var minimum_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    tg_var s = tg_sign(tg_sub(x[0], x[1])), one = tg_const_like(y, 1.0);
    tg_var p = tg_mul(tg_const_like(y, 0.5), i == 0 ? tg_sub(one, s) : tg_add(one, s));
    return tg_mul(gy, p);
}

TG_EVAL_ROW(minimum, 2)

const tg_op_def tg_op_minimum = {
    .name = "minimum", .arity = 2,
    .math = "y = min(a, b); dy/da = [a < b], dy/db = [b < a] (1/2 each on a tie)",
    .eval = minimum_eval, .code = minimum_code,
    .eval_row = minimum_row, .branch = minimum_branch,
    .vjp_graph = minimum_vjp_graph};

tg_var tg_minimum(tg_var a, tg_var b) { return tg_apply2(&tg_op_minimum, a, b); }
