/* silu_d1: y = silu'(x) = s(1 + x(1 - s)), s = sigmoid(x), formed so that it keeps its digits:
 *   x >= 0:  y = (1 + (1 + x) e^-x)/(1 + e^-x)^2             (positive terms)
 *   x < 0:   y = sigmoid'(x) (1 + x + e^x)
 * and near the root x0 = -1.27846 of 1 + x + e^x, with d = x - x0 (x0 carried in two parts),
 *   1 + x + e^x = d + e^x0 expm1(d)                          (no cancellation: same signs)
 * Past x = -708, y = ((1 + x) h) h with h = e^(x/2); 0 where y leaves the normal range.
 * dy/dx = silu''(x) (silu_d2's value).  A primitive so that silu's reverse rule, and so its
 * second derivative, keep their digits.  Reverse rule as nodes: gx = gy*silu_d2(x).
 * The root's constants: tests/accuracy/gen_reference.py --constants. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

#define X0_HI -1.2784645427610737
#define X0_LO -1.0946994183093437e-16
#define E_X0 0.2784645427610738 /* e^x0 = -1 - x0 */

TG_EVAL(silu_d1, {
    double v = x[0];
    if (d) d[0] = tg_op_silu_d2.eval(x, NULL);
    if (v >= 0) {
        double e = exp(-v);
        return e == 0.0 ? 1.0 : tg_div_one_plus(fma(1.0 + v, e, 1.0), e, 2);
    }
    if (v < -708.0) {
        double h = exp(0.5 * v);
        return h == 0.0 ? -0.0 : tg_flush_subnormal(((1.0 + v) * h) * h);
    }
    double n, e = exp(v);
    if (v > -2.5 && v < -0.65) {
        double dx = (v - X0_HI) - X0_LO; /* v - X0_HI is exact here (Sterbenz) */
        n = fma(E_X0, expm1(dx), dx);
    } else {
        n = (1.0 + v) + e;
    }
    /* sigmoid'(v) n, sigmoid' = e/(1 + e)^2 as tg_sigmoid_deriv forms it for |v| <= 708 */
    return tg_flush_subnormal(tg_div_one_plus(e, e, 2) * n);
})

static tg_var silu_d1_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_silu_d2(x[0]));
}

TG_EVAL_ROW(silu_d1, 1)

const tg_op_def tg_op_silu_d1 = {.name = "silu_d1", .arity = 1,
                                 .math = "y = silu'(x) = s(1 + x(1-s));"
                                         " dy/dx = s'(2 - x tanh(x/2))",
                                 .eval = silu_d1_eval, .code = silu_d1_code,
                                 .eval_row = silu_d1_row,
                                 .vjp_graph = silu_d1_vjp_graph};

tg_var tg_silu_d1(tg_var x) { return tg_apply1(&tg_op_silu_d1, x); }
