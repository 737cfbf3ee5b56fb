/* where: y = c != 0 ? a : b, an elementwise select.  dy/dc = 0, dy/da = [c != 0],
 * dy/db = [c == 0].  The side not chosen gets a zero adjoint, and a zero adjoint passes
 * nothing back, so where(x > 0, log(x), 0) has a finite gradient at x = 0; tg_diff records
 * adjoint * partial as mul0, so its derivatives of every order are finite there too.
 * No branch rule of its own: a condition that changes between samples comes from a kinked
 * op such as step, which replay and the gradient check already watch.
 * Reverse rule as nodes: gc = 0, ga = where(c, gy, 0), gb = where(c, 0, gy). See LICENSE. */
#include "tapegrad_op.h"

TG_EVAL(where, {
    int pick_a = x[0] != 0;
    if (d) d[0] = 0.0, d[1] = pick_a, d[2] = !pick_a;
    return pick_a ? x[1] : x[2];
})

static tg_var where_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    tg_var zero = tg_const_like(y, 0.0);
    if (i == 0) return zero;
    return i == 1 ? tg_where(x[0], gy, zero) : tg_where(x[0], zero, gy);
}

TG_EVAL_ROW(where, 3)

const tg_op_def tg_op_where = {.name = "where", .arity = 3,
                               .math = "y = c != 0 ? a : b; dy/da = [c != 0], dy/db = [c == 0]",
                               .eval = where_eval, .code = where_code,
                               .eval_row = where_row,
                               .vjp_graph = where_vjp_graph};

tg_var tg_where(tg_var c, tg_var a, tg_var b)
{
    tg_var in[3] = {c, a, b};
    return tg_apply(&tg_op_where, 3, in);
}
