/* add: y = a + b.  dy/da = 1, dy/db = 1.
 * Reverse rule as nodes: ga = gy, gb = gy. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(add, {
    if (d) d[0] = d[1] = 1.0;
    return x[0] + x[1];
})

static tg_var add_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)y, (void)i;
    return gy;
}

TG_EVAL_ROW(add, 2)

const tg_op_def tg_op_add = {.name = "add", .arity = 2, .math = "y = a + b; dy/da = 1, dy/db = 1",
                             .eval = add_eval, .code = add_code,
                             .eval_row = add_row,
                             .partials = TG_PARTIALS_CONST,
                             .dconst = {1.0, 1.0},
                             .vjp_graph = add_vjp_graph};

tg_var tg_add(tg_var a, tg_var b) { return tg_apply2(&tg_op_add, a, b); }
