/* silu (swish): y = x*s, s = sigmoid(x).  dy/dx = s*(1 + x*(1 - s)).
 * A primitive rather than mul(x, sigmoid(x)) so an activation is one node, as in the
 * article's g.  Reverse rule as nodes: gx = gy*(s*(1 + x*(1 - s))). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(silu, {
    double s = tg_op_sigmoid.eval(x, NULL);
    if (d) d[0] = s * (1.0 + x[0] * (1.0 - s));
    return x[0] * s;
})

static tg_var silu_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)i;
    tg_var one = tg_const_like(y, 1.0), s = tg_sigmoid(x[0]);
    return tg_mul(gy, tg_mul(s, tg_add(one, tg_mul(x[0], tg_sub(one, s)))));
}

TG_EVAL_ROW(silu, 1)

const tg_op_def tg_op_silu = {.name = "silu", .arity = 1,
                              .math = "y = x*sigmoid(x); dy/dx = s(1 + x(1-s)), s = sigmoid(x)",
                              .eval = silu_eval, .code = silu_code,
                              .eval_row = silu_row,
                              .vjp_graph = silu_vjp_graph};

tg_var tg_silu(tg_var x) { return tg_apply1(&tg_op_silu, x); }
