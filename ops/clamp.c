/* clamp: y = min(max(x, lo), hi) for lo <= hi, elementwise (x, lo and hi broadcast as add's
 * operands do).  tg_clamp records constant bounds; as operands they may also be parameters
 * (the expression language's clamp(x, lo, hi) takes any expressions), as leaky_relu's slope.
 * dy/dx = [lo <= x <= hi], dy/dlo = [x < lo], dy/dhi = [x > hi]: at x = lo or x = hi the
 * gradient goes to x, as PyTorch's torch.clamp gives it, and the three always sum to 1
 * (clamp(x+t, lo+t, hi+t) = y + t).  x NaN gives NaN, with dy/dx = 1.
 * lo > hi, or a NaN bound, is refused when recorded ("clamp: lo > hi (lo = 3, hi = 1)"); a
 * replay that moves one bound past the other gives NaN and NaN partials.
 * Branch quantity: [x > hi] - [x < lo]: -1 below, 0 inside, 1 above, so that every change
 * of piece, from below to above in one step included, is a change of sign.
 * Reverse rule as nodes: gx = gy*(1 - step(lo - x) - step(x - hi)), glo = gy*step(lo - x),
 * ghi = gy*step(x - hi) (step(u - v) is exactly [u > v]: u - v is never 0 for u != v, and
 * Inf - Inf is NaN, which step takes as 0). See LICENSE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tapegrad_op.h"

TG_EVAL(clamp, {
    const double v = x[0], lo = x[1], hi = x[2];
    if (!(lo <= hi)) { /* refused when recorded; reached only by a replay */
        if (d) d[0] = d[1] = d[2] = NAN;
        return NAN;
    }
    const int below = lo > v, above = v > hi;
    if (d) {
        d[0] = 1.0 - below - above;
        d[1] = below;
        d[2] = above;
    }
    return below ? lo : above ? hi : v;
})

static double clamp_branch(const double *x) { return (x[0] > x[2]) - (x[0] < x[1]); }

/* v in as few digits as read back to v (15, else 17): "3", "0.1", "1.0000000000000002" */
static const char *shortest(double v, char *buf, size_t size)
{
    snprintf(buf, size, "%.15g", v);
    if (strtod(buf, NULL) != v && !isnan(v)) snprintf(buf, size, "%.17g", v);
    return buf;
}

static tg_status clamp_check(const double *x, char *msg, size_t size)
{
    if (x[1] <= x[2]) return TG_OK;
    char lo[32], hi[32];
    snprintf(msg, size, "%s (lo = %s, hi = %s)",
             isnan(x[1]) || isnan(x[2]) ? "a bound is NaN" : "lo > hi",
             shortest(x[1], lo, sizeof lo), shortest(x[2], hi, sizeof hi));
    return TG_ERR_ARG;
}

static tg_var clamp_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    if (i == 1) return tg_mul(gy, tg_step(tg_sub(x[1], x[0])));
    if (i == 2) return tg_mul(gy, tg_step(tg_sub(x[0], x[2])));
    tg_var below = tg_step(tg_sub(x[1], x[0])), above = tg_step(tg_sub(x[0], x[2]));
    return tg_mul(gy, tg_sub(tg_sub(tg_const_like(y, 1.0), below), above));
}

TG_EVAL_ROW(clamp, 3)

const tg_op_def tg_op_clamp = {
    .name = "clamp", .arity = 3,
    .math = "y = min(max(x, lo), hi); dy/dx = [lo <= x <= hi], dy/dlo = [x < lo], "
            "dy/dhi = [x > hi]",
    .eval = clamp_eval, .code = clamp_code,
    .eval_row = clamp_row, .branch = clamp_branch,
    .vjp_graph = clamp_vjp_graph, .check = clamp_check};

tg_var tg_clamp(tg_var x, double lo, double hi)
{
    tg_var in[3] = {x, tg_const_like(x, lo), tg_const_like(x, hi)};
    return tg_apply(&tg_op_clamp, 3, in);
}
