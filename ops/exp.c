/* exp: y = e^x.  dy/dx = y (reuses the output).  Overflows to Inf above x ~ 709.78; 0 below
 * x ~ -708.40, where it leaves the normal range.
 * Reverse rule as nodes: gx = gy*y. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(exp, {
    double y = tg_flush_subnormal(exp(x[0]));
    if (d) d[0] = y;
    return y;
})

static tg_var exp_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)i;
    return tg_mul(gy, y);
}

TG_EVAL_ROW(exp, 1)

const tg_op_def tg_op_exp = {.name = "exp", .arity = 1, .math = "y = e^x; dy/dx = e^x",
                             .eval = exp_eval, .code = exp_code,
                             .eval_row = exp_row,
                             .vjp_graph = exp_vjp_graph};

tg_var tg_exp(tg_var x) { return tg_apply1(&tg_op_exp, x); }
