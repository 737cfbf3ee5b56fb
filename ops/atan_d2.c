/* atan_d2: y = atan''(x) = -2x/(1 + x^2)^2 (odd), formed as -2 (x/s)/s with s = 1 + x^2 so
 * that no s^2 overflows: a few ULP wherever it is a normal double (|x| up to 1.6e102), 0
 * beyond.  dy/dx = atan'''(x) = (6x^2 - 2)/(1 + x^2)^3, plainly (it cancels near its roots,
 * x = +-0.5774: third order is not held to the ULP bounds).
 * A primitive so that atan_d1's reverse rule (atan'' from tg_diff twice) keeps its digits.
 * Formed as (6 - 8/s)/s/s, which is 0, not NaN, where s overflows.
 * Reverse rule as nodes: gx = gy*((6 - 8/s)/s/s). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(atan_d2, {
    const double s = 1.0 + x[0] * x[0];
    if (d) d[0] = tg_flush_subnormal((6.0 - 8.0 / s) / s / s); /* 6x^2 - 2 = 6s - 8 */
    return tg_flush_subnormal(-2.0 * (x[0] / s) / s);
})

static tg_var atan_d2_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var s = tg_add(tg_const_like(y, 1.0), tg_mul(x[0], x[0]));
    tg_var f = tg_sub(tg_const_like(y, 6.0), tg_div(tg_const_like(y, 8.0), s));
    return tg_mul(gy, tg_div(tg_div(f, s), s));
}

TG_EVAL_ROW(atan_d2, 1)

const tg_op_def tg_op_atan_d2 = {.name = "atan_d2", .arity = 1,
                                 .math = "y = atan''(x) = -2x/(1+x^2)^2;"
                                         " dy/dx = (6x^2 - 2)/(1+x^2)^3",
                                 .eval = atan_d2_eval, .code = atan_d2_code,
                                 .eval_row = atan_d2_row,
                                 .vjp_graph = atan_d2_vjp_graph};

tg_var tg_atan_d2(tg_var x) { return tg_apply1(&tg_op_atan_d2, x); }
