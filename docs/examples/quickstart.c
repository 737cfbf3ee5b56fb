/* quickstart.c - one neuron, E = 1/2 (sigmoid(w*x) - t)^2: dE/dw and the delta dE/dz. */
#include <stdio.h>
#include "tapegrad.h"

int main(void)
{
    tg_tape *t = tg_tape_new();
    tg_var w = tg_param(t, 0.5), x = tg_const(t, 2.0), target = tg_const(t, 1.0);
    tg_var z = tg_mul(w, x), a = tg_sigmoid(z), d = tg_sub(a, target);
    tg_var E = tg_mul(tg_const(t, 0.5), tg_mul(d, d));
    if (tg_backward(E) != 0) return fprintf(stderr, "%s\n", tg_tape_error(t)), 1;
    double s = tg_value(a), delta = (s - 1.0) * s * (1.0 - s); /* by hand: (a - t) g'(z) */
    printf("E = %.6f  dE/dw = %.6f  dE/dz = %.6f  (hand: %.6f)\n", tg_value(E),
           tg_gradient(w), tg_gradient(z), delta);
    tg_tape_free(t);
    return 0;
}
