/* fused.c - the chained Rosenbrock function f(x) = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2
 * recorded once with tensor ops, compiled (tg_compile), and its gradient taken by the fused
 * raw entry (tg_compiled_raw_tensors) on the caller's own arrays: one loop over the elements,
 * no intermediate tensor in memory, the same bits as tg_compiled_run. Without a C compiler it
 * says so and stops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tapegrad.h"

enum { N = 100000 };

int main(void)
{
    double *x = malloc(N * sizeof *x), *g = malloc(N * sizeof *g);
    if (!x || !g) return 1;
    for (int i = 0; i < N; i++) x[i] = i % 2 ? 1.2 : -0.8;

    tg_tape *t = tg_tape_new();
    tg_var X = tg_tensor_param_ref(t, 1, (int[]){N}, x); /* borrows x: no copy */
    tg_var a = tg_slice(X, 0, 1, N), b = tg_slice(X, 0, 0, -1); /* x[1:], x[:-1] */
    tg_var d = tg_sub(a, tg_mul(b, b)), e = tg_sub(tg_const(t, 1.0), b);
    tg_var f = tg_sum(tg_add(tg_mul(tg_const(t, 100.0), tg_mul(d, d)), tg_mul(e, e)));
    tg_compiled *c = tg_compile(f, NULL);
    if (!c) {
        printf("not compiled: %s\n", tg_tape_error(t));
        return tg_tape_status(t) == TG_ERR_COMPILE ? 0 : 1;
    }
    tg_compiled_tensor_fn fused = tg_compiled_raw_tensors(c);
    if (!fused) return fprintf(stderr, "no fused entry:\n%s", tg_compiled_source(c)), 1;

    /* in[k], grad[k]: the leaves in recording order (X, then the constants 1 and 100) */
    tg_var leaves[3];
    int n = tg_compiled_inputs(c, leaves, 3);
    const double *in[3];
    double *grad[3], unused[2];
    for (int k = 0; k < n; k++) {
        in[k] = tg_data(leaves[k]);
        grad[k] = k ? &unused[k - 1] : g;
    }
    double y = fused(in, grad);
    printf("fused entry: %d inputs; f = %.6f  df/dx[0] = %.6f  df/dx[%d] = %.6f\n", n, y, g[0],
           N - 1, g[N - 1]);

    if (tg_compiled_run(c) != TG_OK) return fprintf(stderr, "%s\n", tg_tape_error(t)), 1;
    const double *gt = tg_gradient_data(X);
    printf("tg_compiled_run: f = %.6f, the same bits: %s\n", tg_value(f),
           y == tg_value(f) && !memcmp(g, gt, N * sizeof *g) ? "yes" : "no");
    tg_compiled_free(c);
    tg_tape_free(t);
    free(x), free(g);
    return 0;
}
