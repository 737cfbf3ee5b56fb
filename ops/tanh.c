/* tanh: y = tanh x.  dy/dx = sech^2 x: 1 - y^2 where |x| < 0.55 (y^2 < 0.25, no
 * cancellation), else 4 s(1 - s) with s = e/(1 + e), e = e^-2|x| (tanh_d1's value), where
 * 1 - y^2 keeps no digits once y is near +-1 (and is 0 from |x| = 19 on).  Each branch takes
 * one transcendental for the value and the partial: C's tanh near 0, e^-2|x| beyond, where
 * |y| = (1 - e)/(1 + e) does not cancel either.
 * Reverse rule as nodes: gx = gy*tanh_d1(x), an op whose own derivative keeps its digits
 * too. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(tanh, {
    /* one transcendental: near 0, C's tanh and 1 - y^2 (y^2 < 0.25: no cancellation); else
     * e = e^-2|x| <= 0.33 gives |y| = (1 - e)/(1 + e) and y' = 4 s(1 - s), s = e/(1 + e),
     * where 1 - y^2 would cancel (past |x| = 354.2, where e leaves the normal range but y'
     * not yet, the kernel) */
    const double a = fabs(x[0]);
    if (!(a >= 0.55)) {
        const double y = tanh(x[0]);
        if (d) d[0] = 1.0 - y * y;
        return y;
    }
    const double e = exp(-2.0 * a), s = e / (1.0 + e);
    if (d) d[0] = e < 0x1p-1022 ? tg_sigmoid_deriv(2.0 * x[0], 1, 2) : 4.0 * (s * (1.0 - s));
    return copysign((1.0 - e) / (1.0 + e), x[0]);
})

static tg_var tanh_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_tanh_d1(x[0]));
}

TG_EVAL_ROW(tanh, 1)

const tg_op_def tg_op_tanh = {.name = "tanh", .arity = 1,
                              .math = "y = tanh x; dy/dx = sech^2 x",
                              .eval = tanh_eval, .code = tanh_code,
                              .eval_row = tanh_row,
                              .vjp_graph = tanh_vjp_graph};

tg_var tg_tanh(tg_var x) { return tg_apply1(&tg_op_tanh, x); }
