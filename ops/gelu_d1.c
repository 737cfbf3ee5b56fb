/* gelu_d1: y = gelu'(x) = Phi(x) + x*phi(x) (tg_normal_mix), except within 0.75 of its root
 * x0 = -0.75179, where the two terms cancel: there y is its Taylor series in d = x - x0 (x0
 * carried in two parts), 30 terms, exact to the last bits over the whole window.
 * dy/dx = gelu''(x) = (2 - x^2) phi(x) (gelu_d2's value).  0 where y leaves the normal range.
 * A primitive so that gelu's reverse rule, and so its second derivative, keep their digits.
 * Reverse rule as nodes: gx = gy*gelu_d2(x).  The root and the coefficients:
 * tests/accuracy/gen_reference.py --constants. See LICENSE. */
#include <math.h>

#include "tapegrad_op.h"

#define X0_HI -0.7517915246935645
#define X0_LO 1.4956759177009883e-17
#define WINDOW 0.75

/* TAYLOR[k] = gelu^(k+1)(x0)/k! */
#define TAYLOR                                                                                \
    {                                                                                         \
        0.0,                                                                                  \
        0.4314939923140469,                                                                   \
        0.388284982990552,                                                                    \
        -0.018199676398671087,                                                                \
        -0.1140082332972217,                                                                  \
        -0.014771522148244337,                                                                \
        0.019421679838189067,                                                                 \
        0.004539228379125415,                                                                 \
        -0.002239538068073497,                                                                \
        -0.0007448268386746817,                                                               \
        0.00018633974623233514,                                                               \
        8.615947861116571e-05,                                                                \
        -1.121438018842664e-05,                                                               \
        -7.74846130700372e-06,                                                                \
        4.3284506257392273e-07,                                                               \
        5.702764979242107e-07,                                                                \
        -1.6044265494246427e-09,                                                              \
        -3.5459866461783865e-08,                                                              \
        -1.396942086426202e-09,                                                               \
        1.90319840501314e-09,                                                                 \
        1.4506418938779426e-10,                                                               \
        -8.950037692726255e-11,                                                               \
        -9.950340824808053e-12,                                                               \
        3.725967039270119e-12,                                                                \
        5.482292964742324e-13,                                                                \
        -1.3820118240601056e-13,                                                              \
        -2.5871508475507507e-14,                                                              \
        4.578167824271334e-15,                                                                \
        1.0789662518230159e-15,                                                               \
        -1.3507094681149317e-16,                                                              \
        -4.0514385281601486e-17,                                                              \
    }

TG_EVAL(gelu_d1, {
    if (d) d[0] = tg_normal_mix(x[0], 0.0, fma(-x[0], x[0], 2.0));
    double dx = (x[0] - X0_HI) - X0_LO; /* x - X0_HI is exact in the window (Sterbenz) */
    if (!(fabs(dx) < WINDOW)) return tg_normal_mix(x[0], 1.0, x[0]);
    /* Horner's rule; fma (a call where the build has no FMA instructions) only for the last
     * steps, where rounding counts: the earlier ones are scaled down by dx^k */
    static const double c[] = TAYLOR;
    int k = (int)(sizeof c / sizeof c[0]) - 1;
    double s = c[k];
    while (--k > 3) s = s * dx + c[k];
    for (; k > 0; k--) s = fma(s, dx, c[k]);
    return s * dx;
})

static tg_var gelu_d1_vjp_graph(const tg_var *x, tg_var y, tg_var gy, int i)
{
    (void)y, (void)i;
    return tg_mul(gy, tg_gelu_d2(x[0]));
}

TG_EVAL_ROW(gelu_d1, 1)

const tg_op_def tg_op_gelu_d1 = {.name = "gelu_d1", .arity = 1,
                                 .math = "y = gelu'(x) = Phi(x) + x phi(x);"
                                         " dy/dx = (2 - x^2) phi(x)",
                                 .eval = gelu_d1_eval, .code = gelu_d1_code,
                                 .eval_row = gelu_d1_row,
                                 .vjp_graph = gelu_d1_vjp_graph};

tg_var tg_gelu_d1(tg_var x) { return tg_apply1(&tg_op_gelu_d1, x); }
