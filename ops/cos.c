/* cos: y = cos x.  dy/dx = -sin x.  Reverse rule as nodes: gx = -(gy*sin(x)). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(cos, {
    if (d) d[0] = -sin(x[0]);
    return cos(x[0]);
})

static tg_var cos_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_neg(tg_mul(gy, tg_sin(x[0])));
}

TG_EVAL_ROW(cos, 1)

const tg_op_def tg_op_cos = {.name = "cos", .arity = 1, .math = "y = cos x; dy/dx = -sin x",
                             .eval = cos_eval, .code = cos_code,
                             .eval_row = cos_row,
                             .vjp_graph = cos_vjp_graph};

tg_var tg_cos(tg_var x) { return tg_apply1(&tg_op_cos, x); }
