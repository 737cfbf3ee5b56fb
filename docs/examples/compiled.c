/* compiled.c - one neuron, E = 1/2 (sigmoid(w*x + b) - t)^2, compiled to C at run time
 * (tg_compile) and run two ways: on the tape (tg_set, tg_compiled_run, tg_gradient: the same
 * numbers as tg_replay + tg_backward, bit for bit) and through the raw entry point (arrays in
 * and out, for hot loops). Without a C compiler it says so and stops. */
#include <stdio.h>
#include <string.h>
#include "tapegrad.h"

int main(void)
{
    tg_tape *t = tg_tape_new();
    tg_var w = tg_param(t, 0.5), b = tg_param(t, -1.0);
    tg_var x = tg_const(t, 2.0), target = tg_const(t, 1.0);
    tg_var z = tg_add(tg_mul(w, x), b), d = tg_sub(tg_sigmoid(z), target);
    tg_var E = tg_mul(tg_const(t, 0.5), tg_mul(d, d));
    tg_label(z, "z");
    tg_compiled *c = tg_compile(E, NULL); /* cc, then cached under ~/.cache/tapegrad */
    if (!c) {
        printf("not compiled: %s\n", tg_tape_error(t));
        return tg_tape_status(t) == TG_ERR_COMPILE ? 0 : 1;
    }

    /* on the tape: new leaf values in, value and gradients out */
    tg_set(x, 3.0);
    if (tg_compiled_run(c) != TG_OK) return fprintf(stderr, "%s\n", tg_tape_error(t)), 1;
    printf("compiled: E = %.6f  dE/dw = %.6f  dE/db = %.6f  dE/dz = %.6f\n", tg_value(E),
           tg_gradient(w), tg_gradient(b), tg_gradient(z));
    tg_replay(t);
    tg_backward(E);
    printf("replayed: E = %.6f  dE/dw = %.6f  dE/db = %.6f  dE/dz = %.6f\n", tg_value(E),
           tg_gradient(w), tg_gradient(b), tg_gradient(z));

    /* the raw entry point: in[k] and grad[k] are the leaves in recording order */
    tg_var leaves[8];
    int n = tg_compiled_inputs(c, leaves, 8);
    double in[8], grad[8];
    int kx = -1;
    for (int k = 0; k < n; k++) {
        in[k] = tg_value(leaves[k]);
        if (leaves[k].index == x.index) kx = k; /* where x goes */
    }
    tg_compiled_fn f = tg_compiled_raw(c);
    double sum = 0;
    for (int s = 0; s < 1000; s++) { /* x sweeps [-2, 2) */
        in[kx] = -2.0 + s * 0.004;
        sum += f(in, grad);
    }
    printf("raw entry: %d inputs; mean E over 1000 samples of x = %.6f; last dE/dw = %.6f\n", n,
           sum / 1000, grad[0]);
    tg_compiled_free(c);
    tg_tape_free(t);
    return 0;
}
