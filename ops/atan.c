/* atan: y = arctan x, in (-pi/2, pi/2).  dy/dx = 1/(1 + x^2): three roundings, within 1.5
 * ulp wherever it is a normal double (|x| < 6.7e153); beyond, x^2 overflows to Inf and the
 * partial is 0 where the exact value is subnormal or smaller (at |x| = 1e200 it is 1e-400).
 * d2y/dx2 = -2x/(1 + x^2)^2, which the rule's nodes form as -(p/(1 + x^2)) 2x with p the
 * partial: exact to a few ulps for |x| < 1.1e77; past that p/(1 + x^2) underflows and the
 * second derivative is 0 while its exact value (below 2e-231) is still normal up to
 * |x| ~ 1e103.  Never NaN: at |x| = 1e200 both derivatives are 0.
 * Reverse rule as nodes: gx = gy/(1 + x*x). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(atan, {
    if (d) d[0] = 1.0 / (1.0 + x[0] * x[0]);
    return atan(x[0]);
})

static tg_var atan_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    return tg_div(gy, tg_add(tg_const_like(y, 1.0), tg_mul(x[0], x[0])));
}

TG_EVAL_ROW(atan, 1)

const tg_op_def tg_op_atan = {.name = "atan", .arity = 1,
                              .math = "y = arctan x; dy/dx = 1/(1+x^2)",
                              .eval = atan_eval, .code = atan_code,
                              .eval_row = atan_row,
                              .vjp_graph = atan_vjp_graph};

tg_var tg_atan(tg_var x) { return tg_apply1(&tg_op_atan, x); }
