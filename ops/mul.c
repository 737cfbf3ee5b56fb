/* mul: y = a*b.  dy/da = b, dy/db = a.
 * Reverse rule as nodes: ga = gy*b, gb = gy*a. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(mul, {
    if (d) d[0] = x[1], d[1] = x[0];
    return x[0] * x[1];
})

static tg_var mul_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y;
    return tg_mul(gy, x[1 - i]);
}

TG_EVAL_ROW(mul, 2)

const tg_op_def tg_op_mul = {.name = "mul", .arity = 2, .math = "y = a*b; dy/da = b, dy/db = a",
                             .eval = mul_eval, .code = mul_code,
                             .eval_row = mul_row,
                             .partials = TG_PARTIALS_SWAP,
                             .vjp_graph = mul_vjp_graph};

tg_var tg_mul(tg_var a, tg_var b) { return tg_apply2(&tg_op_mul, a, b); }
