/* pow_dab: y = a^(b-1) (1 + b ln a), the mixed partial d2(a^b)/da db, one number for both
 * orders.  At a = 0 it is the limit from a > 0: 0 for b > 1, -inf for 0 < b <= 1, 1/a = +inf
 * for b = 0 (and +inf for b < 0); NaN for a < 0 (ln a).
 * dy/da = a^(b-2) ((b-1)(1 + b ln a) + b), dy/db = a^(b-1) ln a (2 + b ln a), plainly (third
 * order of pow).  Reverse rule as nodes: the same products of pow and log. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(pow_dab, {
    double a = x[0], b = x[1], p = pow(a, b - 1.0), l = log(a), y;
    if (b == 0.0)
        y = 1.0 / a; /* b ln a is 0, not 0 * -inf */
    else if (p == 0.0 && a == 0.0)
        y = 0.0; /* a^(b-1) -> 0 faster than ln a -> -inf */
    else
        y = p * (1.0 + b * l);
    if (d) {
        d[0] = pow(a, b - 2.0) * ((b - 1.0) * (1.0 + b * l) + b);
        d[1] = p * l * (2.0 + b * l);
    }
    return y;
})

static tg_var pow_dab_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    tg_var one = tg_const_like(y, 1.0), l = tg_log(x[0]), b = x[1];
    tg_var bl = tg_mul(b, l), bm1 = tg_sub(b, one);
    if (i == 0) {
        tg_var f = tg_add(tg_mul(bm1, tg_add(one, bl)), b);
        return tg_mul(gy, tg_mul(tg_pow(x[0], tg_sub(bm1, one)), f));
    }
    tg_var f = tg_add(tg_const_like(y, 2.0), bl);
    return tg_mul(gy, tg_mul(tg_mul(tg_pow(x[0], bm1), l), f));
}

TG_EVAL_ROW(pow_dab, 2)

const tg_op_def tg_op_pow_dab = {.name = "pow_dab", .arity = 2,
                                 .math = "y = a^(b-1)(1 + b ln a) = d2(a^b)/da db",
                                 .eval = pow_dab_eval, .code = pow_dab_code,
                                 .eval_row = pow_dab_row,
                                 .vjp_graph = pow_dab_vjp_graph};

tg_var tg_pow_dab(tg_var a, tg_var b) { return tg_apply2(&tg_op_pow_dab, a, b); }
