/* silu (swish): y = x*s, s = sigmoid(x).  dy/dx = s(1 + x(1 - s)) (silu_d1's value, formed
 * without cancellation).  Past x = -708, where s leaves the normal range but x*s does not
 * yet, y = (x h) h with h = e^(x/2); 0 where y leaves it (x < -715).
 * A primitive rather than mul(x, sigmoid(x)) so an activation is one node, as in the
 * article's g.  Reverse rule as nodes: gx = gy*silu_d1(x). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(silu, {
    if (d) d[0] = tg_op_silu_d1.eval(x, NULL);
    if (x[0] < -708.0) {
        double h = exp(0.5 * x[0]);
        return h == 0.0 ? -0.0 : tg_flush_subnormal((x[0] * h) * h);
    }
    return x[0] * tg_op_sigmoid.eval(x, NULL);
})

static tg_var silu_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_silu_d1(x[0]));
}

TG_EVAL_ROW(silu, 1)

const tg_op_def tg_op_silu = {.name = "silu", .arity = 1,
                              .math = "y = x*sigmoid(x); dy/dx = s(1 + x(1-s)), s = sigmoid(x)",
                              .eval = silu_eval, .code = silu_code,
                              .eval_row = silu_row,
                              .vjp_graph = silu_vjp_graph};

tg_var tg_silu(tg_var x) { return tg_apply1(&tg_op_silu, x); }
