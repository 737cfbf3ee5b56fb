/* pow_da: y = b a^(b-1), pow's partial in a; 0 where b = 0 (pow's convention: a^0 is flat in a,
 * 0^-1 notwithstanding).  dy/da = b (b-1) a^(b-2) = b pow_da(a, b - 1), 0 where b = 0 or 1;
 * dy/db = a^(b-1) (1 + b ln a) (pow_dab's value, the mixed partial, which pow_db's dy/da is
 * too: pow's Hessian is symmetric at every point, a = 0 included).
 * A primitive so that pow's reverse rule keeps its conventions at a = 0 at second order.
 * Reverse rule as nodes: ga = gy*mul0(b, pow_da(a, b - 1)), gb = gy*pow_dab(a, b). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(pow_da, {
    const double a = x[0], b = x[1], b1 = b - 1.0;
    if (d) { /* b pow_da(a, b - 1) */
        d[0] = b == 0.0 ? 0.0 : b * (b1 == 0.0 ? 0.0 : b1 * pow(a, b1 - 1.0));
        d[1] = tg_op_pow_dab.eval(x, NULL);
    }
    return b == 0.0 ? 0.0 : b * pow(a, b1);
})

static tg_var pow_da_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    if (i == 1) return tg_mul(gy, tg_pow_dab(x[0], x[1]));
    tg_var bm1 = tg_sub(x[1], tg_const_like(y, 1.0));
    return tg_mul(gy, tg_mul0(x[1], tg_pow_da(x[0], bm1))); /* 0 where b = 0, as above */
}

TG_EVAL_ROW(pow_da, 2)

const tg_op_def tg_op_pow_da = {.name = "pow_da", .arity = 2,
                                .math = "y = b a^(b-1); dy/da = b(b-1) a^(b-2),"
                                        " dy/db = a^(b-1)(1 + b ln a)",
                                .eval = pow_da_eval, .code = pow_da_code,
                                .eval_row = pow_da_row,
                                .vjp_graph = pow_da_vjp_graph};

tg_var tg_pow_da(tg_var a, tg_var b) { return tg_apply2(&tg_op_pow_da, a, b); }
