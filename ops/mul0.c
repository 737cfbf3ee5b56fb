/* mul0: y = a*b, except that a zero factor gives 0 even against Inf or NaN (0*Inf = 0*NaN = 0;
 * otherwise exactly a*b, -0 included).  dy/da = b, dy/db = a, as mul's.
 * The product an adjoint and a partial form in the numeric sweeps ("a zero factor passes
 * nothing on"), as a node: tg_diff records each contribution gy * dy/dx as mul0(gy, partial),
 * so a branch masked to a zero adjoint (where's unchosen side) stays 0 where its partials are
 * NaN or infinite. A primitive because where(a, where(b, a*b, 0), 0) has that value but not
 * its derivative: where's partials would drop d(gy)*partial where gy is 0 only at the point.
 * Reverse rule as nodes: ga = mul0(gy, b), gb = mul0(gy, a). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(mul0, {
    const double y = x[0] * x[1];
    if (d) d[0] = x[1], d[1] = x[0];
    return y == y || (x[0] != 0.0 && x[1] != 0.0) ? y : 0.0;
})

static tg_var mul0_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y;
    return tg_mul0(gy, x[1 - i]);
}

TG_EVAL_ROW(mul0, 2)

const tg_op_def tg_op_mul0 = {.name = "mul0", .arity = 2,
                              .math = "y = a*b (0 if a or b is 0); dy/da = b, dy/db = a",
                              .eval = mul0_eval, .code = mul0_code,
                              .eval_row = mul0_row,
                              .partials = TG_PARTIALS_SWAP,
                              .vjp_graph = mul0_vjp_graph};

tg_var tg_mul0(tg_var a, tg_var b) { return tg_apply2(&tg_op_mul0, a, b); }
