/* pow_db: y = a^b ln a, pow's partial in b; 0 where a^b = 0 (a = 0, b > 0: the limit), NaN for
 * a < 0 (a^b is not differentiable in b there).  dy/da = a^(b-1) (1 + b ln a) (pow_dab's
 * value: the mixed partial, the same number pow_da's dy/db is), dy/db = a^b ln^2 a, 0 where
 * a^b = 0.  A primitive so that pow's Hessian is symmetric where a = 0: its rule was
 * where(y, y ln a, 0), whose derivative in a at a = 0 is where's unchosen side, 0, while the
 * one in b through a's rule is -inf.
 * Reverse rule as nodes: ga = gy*pow_dab(a, b), gb = gy*mul0(pow_db(a, b), ln a). See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

TG_EVAL(pow_db, {
    double p = pow(x[0], x[1]), y = p == 0.0 ? 0.0 : p * log(x[0]);
    if (d) {
        d[0] = tg_op_pow_dab.eval(x, NULL);
        d[1] = y == 0.0 ? 0.0 : y * log(x[0]);
    }
    return y;
})

static tg_var pow_db_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    if (i == 0) return tg_mul(gy, tg_pow_dab(x[0], x[1]));
    return tg_mul(gy, tg_mul0(y, tg_log(x[0])));
}

TG_EVAL_ROW(pow_db, 2)

const tg_op_def tg_op_pow_db = {.name = "pow_db", .arity = 2,
                                .math = "y = a^b ln a; dy/da = a^(b-1)(1 + b ln a),"
                                        " dy/db = a^b ln^2 a",
                                .eval = pow_db_eval, .code = pow_db_code,
                                .eval_row = pow_db_row,
                                .vjp_graph = pow_db_vjp_graph};

tg_var tg_pow_db(tg_var a, tg_var b) { return tg_apply2(&tg_op_pow_db, a, b); }
