/* le: y = a <= b ? 1 : 0, the comparison `<=` of the expression language.  dy/da = dy/db = 0
 * (a jump where a = b, taken as 0 there too). Its branch quantity is a - b, so a replay that
 * moves the operands across each other reports the flip. Reverse rule as nodes: 0. See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(le, {
    if (d) d[0] = d[1] = 0.0;
    return x[0] <= x[1] ? 1.0 : 0.0;
})

static double le_branch(const double *x) { return x[0] - x[1]; }

static tg_var le_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)gy, (void)i;
    return tg_const_like(y, 0.0);
}

TG_EVAL_ROW(le, 2)

const tg_op_def tg_op_le = {.name = "le", .arity = 2,
                            .math = "y = a <= b ? 1 : 0; dy/da = dy/db = 0 (jump where a = b)",
                            .eval = le_eval, .code = le_code,
                            .eval_row = le_row,
                            .partials = TG_PARTIALS_CONST,
                            .branch = le_branch, .vjp_graph = le_vjp_graph};

tg_var tg_le(tg_var a, tg_var b) { return tg_apply2(&tg_op_le, a, b); }
