/* tan: y = tan x.  dy/dx = 1 + y^2 (reuses the output): a sum of two positive terms, so it
 * keeps y's digits, and y^2 never overflows (the double nearest pi/2 gives |y| ~ 1.6e16).
 * d2y/dx2 = 2y(1 + y^2), which the rule's y*y forms the same way.  No kinks: the poles at
 * pi/2 + k pi fall between doubles.
 * Reverse rule as nodes: gx = gy*(1 + y*y). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(tan, {
    double y = tan(x[0]);
    if (d) d[0] = 1.0 + y * y;
    return y;
})

static tg_var tan_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)x, (void)i;
    return tg_mul(gy, tg_add(tg_const_like(y, 1.0), tg_mul(y, y)));
}

TG_EVAL_ROW(tan, 1)

const tg_op_def tg_op_tan = {.name = "tan", .arity = 1, .math = "y = tan x; dy/dx = 1 + y^2",
                             .eval = tan_eval, .code = tan_code,
                             .eval_row = tan_row,
                             .vjp_graph = tan_vjp_graph};

tg_var tg_tan(tg_var x) { return tg_apply1(&tg_op_tan, x); }
