/* compose.c - builders that are compositions of primitives (no op of their own: their
 * derivatives come from the primitives'). See LICENSE. */
#include "internal.h"

tg_var tg_mean(tg_var x)
{
    size_t n = x.tape && tg_live(x.tape, x) ? tg_node_numel(x.tape, x.index) : 1;
    return tg_mul(tg_sum(x), tg_const(x.tape, 1.0 / (double)n));
}

tg_var tg_mean_axis(tg_var x, int axis, int keepdims)
{
    int shape[TG_MAX_RANK] = {1, 1, 1, 1}, rank = x.tape && tg_live(x.tape, x) ? tg_shape(x, shape) : 0;
    int a = tg_axis(rank, axis), len = a >= 0 ? shape[a] : 1;
    return tg_mul(tg_sum_axis(x, axis, keepdims), tg_const(x.tape, 1.0 / len));
}
