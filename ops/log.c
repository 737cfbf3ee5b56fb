/* log: y = ln x.  dy/dx = 1/x.  ln 0 = -Inf, ln of a negative is NaN (anomaly mode reports
 * both).  Reverse rule as nodes: gx = gy/x. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(log, {
    if (d) d[0] = 1.0 / x[0];
    return log(x[0]);
})

static tg_var log_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_div(gy, x[0]);
}

TG_EVAL_ROW(log, 1)

const tg_op_def tg_op_log = {.name = "log", .arity = 1, .math = "y = ln x; dy/dx = 1/x",
                             .eval = log_eval, .code = log_code,
                             .eval_row = log_row,
                             .vjp_graph = log_vjp_graph};

tg_var tg_log(tg_var x) { return tg_apply1(&tg_op_log, x); }
