/* log1p: y = ln(1 + x), through C's log1p, so y keeps its digits for tiny x where
 * log(1 + x) would round 1 + x first.  dy/dx = 1/(1 + x): 1 + x is exact for
 * -1 <= x <= -0.5 (Sterbenz) and within half an ulp elsewhere, so the partial is within an ulp;
 * d2y/dx2 = -1/(1 + x)^2, which div's rule forms as -(1/(1 + x))/(1 + x).  x = -1 gives -Inf
 * (partial +Inf), x < -1 NaN (anomaly mode reports both).
 * Reverse rule as nodes: gx = gy/(1 + x). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(log1p, {
    if (d) d[0] = 1.0 / (1.0 + x[0]);
    return log1p(x[0]);
})

static tg_var log1p_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    return tg_div(gy, tg_add(tg_const_like(y, 1.0), x[0]));
}

TG_EVAL_ROW(log1p, 1)

const tg_op_def tg_op_log1p = {.name = "log1p", .arity = 1,
                               .math = "y = ln(1+x); dy/dx = 1/(1+x)",
                               .eval = log1p_eval, .code = log1p_code,
                               .eval_row = log1p_row,
                               .vjp_graph = log1p_vjp_graph};

tg_var tg_log1p(tg_var x) { return tg_apply1(&tg_op_log1p, x); }
