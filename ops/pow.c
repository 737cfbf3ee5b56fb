/* pow: y = a^b (C's pow: real for a > 0, or a < 0 with integer b).
 * dy/da = b*a^(b-1); dy/db = y*ln(a), taken as 0 where y = 0 (a = 0, b > 0: the limit).
 * For a < 0, dy/db is NaN (a^b is not differentiable in b there); it only reaches a result
 * when b is a parameter, since constants are not differentiated.
 * At a = 0 (b > 0) the derivatives are the limits from a > 0, at every order: see pow_dab.
 * Reverse rule as nodes: ga = gy*pow_da(a, b), gb = gy*pow_db(a, b). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(pow, {
    double y = pow(x[0], x[1]);
    if (d) {
        d[0] = tg_op_pow_da.eval(x, NULL);
        d[1] = y == 0.0 ? 0.0 : y * log(x[0]); /* pow_db's value, its a^b being y */
    }
    return y;
})

/* The partials are ops with the same conventions as the numeric ones, and their own partials
 * share one mixed partial (pow_dab), so second derivatives keep the conventions too and the
 * Hessian is symmetric at a = 0 (with where(y, y ln a, 0) as the rule, d/da of dy/db was
 * where's unchosen side, 0, and d/db of dy/da -inf at (0, 1)). */
static tg_var pow_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y;
    return tg_mul(gy, i == 0 ? tg_pow_da(x[0], x[1]) : tg_pow_db(x[0], x[1]));
}

TG_EVAL_ROW(pow, 2)

const tg_op_def tg_op_pow = {.name = "pow", .arity = 2,
                             .math = "y = a^b; dy/da = b*a^(b-1), dy/db = a^b*ln(a)",
                             .eval = pow_eval, .code = pow_code,
                             .eval_row = pow_row,
                             .vjp_graph = pow_vjp_graph};

tg_var tg_pow(tg_var a, tg_var b) { return tg_apply2(&tg_op_pow, a, b); }
