/* atan_d1: y = atan'(x) = 1/(1 + x^2) (even), within 1.5 ULP; 0 where it leaves the normal
 * range (|x| past 6.7e153; past 1.3e154 x^2 overflows and y is 0 anyway).
 * dy/dx = atan''(x) = -2x/(1 + x^2)^2 (atan_d2's value).
 * A primitive so that atan's reverse rule, and so its second derivative, keep their digits:
 * -(y/(1 + x^2)) 2x, as div's rule forms it, is 0 from |x| = 1.1e77 on, where the exact
 * value (below 2e-231) is a normal double up to |x| = 1e103.
 * Reverse rule as nodes: gx = gy*atan_d2(x). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(atan_d1, {
    if (d) d[0] = tg_op_atan_d2.eval(x, NULL);
    return tg_flush_subnormal(1.0 / (1.0 + x[0] * x[0]));
})

static tg_var atan_d1_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_atan_d2(x[0]));
}

TG_EVAL_ROW(atan_d1, 1)

const tg_op_def tg_op_atan_d1 = {.name = "atan_d1", .arity = 1,
                                 .math = "y = atan'(x) = 1/(1+x^2); dy/dx = -2x/(1+x^2)^2",
                                 .eval = atan_d1_eval, .code = atan_d1_code,
                                 .eval_row = atan_d1_row,
                                 .vjp_graph = atan_d1_vjp_graph};

tg_var tg_atan_d1(tg_var x) { return tg_apply1(&tg_op_atan_d1, x); }
