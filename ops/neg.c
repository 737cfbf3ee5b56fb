/* neg: y = -x.  dy/dx = -1.  Reverse rule as nodes: gx = -gy. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(neg, {
    if (d) d[0] = -1.0;
    return -x[0];
})

static tg_var neg_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)y, (void)i;
    return tg_neg(gy);
}

TG_EVAL_ROW(neg, 1)

const tg_op_def tg_op_neg = {.name = "neg", .arity = 1, .math = "y = -x; dy/dx = -1",
                             .eval = neg_eval, .code = neg_code,
                             .eval_row = neg_row,
                             .partials = TG_PARTIALS_CONST,
                             .dconst = {-1.0},
                             .vjp_graph = neg_vjp_graph};

tg_var tg_neg(tg_var x) { return tg_apply1(&tg_op_neg, x); }
