/* atan: y = arctan x, in (-pi/2, pi/2).  dy/dx = 1/(1 + x^2) (atan_d1's value): within 1.5
 * ULP wherever it is a normal double (|x| < 6.7e153), 0 beyond, where the exact value is
 * subnormal or smaller (at |x| = 1e200 it is 1e-400); never NaN.
 * Reverse rule as nodes: gx = gy*atan_d1(x), an op whose own derivative keeps its digits too
 * (so atan'' is right up to |x| = 1.6e102, not 0 from 1.1e77 on). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(atan, {
    if (d) d[0] = tg_op_atan_d1.eval(x, NULL);
    return atan(x[0]);
})

static tg_var atan_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_atan_d1(x[0]));
}

TG_EVAL_ROW(atan, 1)

const tg_op_def tg_op_atan = {.name = "atan", .arity = 1,
                              .math = "y = arctan x; dy/dx = 1/(1+x^2)",
                              .eval = atan_eval, .code = atan_code,
                              .eval_row = atan_row,
                              .vjp_graph = atan_vjp_graph};

tg_var tg_atan(tg_var x) { return tg_apply1(&tg_op_atan, x); }
