/* pow: y = a^b (C's pow: real for a > 0, or a < 0 with integer b).
 * dy/da = b*a^(b-1); dy/db = y*ln(a), taken as 0 where y = 0 (a = 0, b > 0: the limit).
 * For a < 0, dy/db is NaN (a^b is not differentiable in b there); it only reaches a result
 * when b is a parameter, since constants are not differentiated.
 * Reverse rule as nodes: ga = gy*b*a^(b-1), gb = gy*y*ln(a), each 0 where its partial is. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(pow, {
    double y = pow(x[0], x[1]);
    if (d) {
        d[0] = x[1] == 0.0 ? 0.0 : x[1] * pow(x[0], x[1] - 1.0);
        d[1] = y == 0.0 ? 0.0 : y * log(x[0]);
    }
    return y;
})

/* The same conventions as the numeric partials, kept with where: the 0 * Inf of
 * b*a^(b-1) at b = 0 and of y*ln(a) at y = 0 is never chosen. */
static tg_var pow_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    tg_var zero = tg_const_like(y, 0.0);
    if (i == 0) {
        tg_var bm1 = tg_sub(x[1], tg_const_like(y, 1.0));
        return tg_where(x[1], tg_mul(gy, tg_mul(x[1], tg_pow(x[0], bm1))), zero);
    }
    return tg_where(y, tg_mul(gy, tg_mul(y, tg_log(x[0]))), zero);
}

TG_EVAL_ROW(pow, 2)

const tg_op_def tg_op_pow = {.name = "pow", .arity = 2,
                             .math = "y = a^b; dy/da = b*a^(b-1), dy/db = a^b*ln(a)",
                             .eval = pow_eval, .code = pow_code,
                             .eval_row = pow_row,
                             .vjp_graph = pow_vjp_graph};

tg_var tg_pow(tg_var a, tg_var b) { return tg_apply2(&tg_op_pow, a, b); }
