/* expm1: y = e^x - 1, through C's expm1, so y keeps its digits for tiny x where exp(x) - 1
 * would cancel.  dy/dx = e^x, computed by exp and not as 1 + y: for x below about -37, y
 * rounds to -1 and 1 + y would be 0 where e^x is still a normal double.  d2y/dx2 = e^x too.
 * Overflows to Inf above x ~ 709.78, with its partial; the partial is 0 below x ~ -708.40,
 * where e^x leaves the normal range.
 * Reverse rule as nodes: gx = gy*exp(x). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(expm1, {
    if (d) d[0] = tg_flush_subnormal(exp(x[0]));
    return expm1(x[0]);
})

static tg_var expm1_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_exp(x[0]));
}

TG_EVAL_ROW(expm1, 1)

const tg_op_def tg_op_expm1 = {.name = "expm1", .arity = 1,
                               .math = "y = e^x - 1; dy/dx = e^x",
                               .eval = expm1_eval, .code = expm1_code,
                               .eval_row = expm1_row,
                               .vjp_graph = expm1_vjp_graph};

tg_var tg_expm1(tg_var x) { return tg_apply1(&tg_op_expm1, x); }
