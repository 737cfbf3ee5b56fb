/* higher_order.c - g'' of an activation from tg_diff twice, checked against its closed form
 * over a grid by replay; and the Hessian of Rosenbrock's function, dense and as H v. */
#include <math.h>
#include <stdio.h>
#include "tapegrad.h"

int main(void)
{
    /* 1. silu'' by differentiating twice: g, g', g'' are nodes of one tape */
    tg_tape *t = tg_tape_new();
    tg_var x = tg_param(t, 0.0);
    tg_var g = tg_silu(x), g1 = tg_diff(g, x), g2 = tg_diff(g1, x);
    double worst = 0;
    printf("    x      silu(x)     silu'(x)    silu''(x)\n");
    for (int i = 0; i <= 8; i++) {
        double v = -4.0 + i;
        tg_set(x, v);
        tg_replay(t); /* one recorded tape, evaluated at each point */
        double s = 1 / (1 + exp(-v)), closed = s * (1 - s) * (2 + v * (1 - 2 * s));
        worst = fmax(worst, fabs(tg_value(g2) - closed));
        printf("%5.1f %12.6f %12.6f %12.6f\n", v, tg_value(g), tg_value(g1), tg_value(g2));
    }
    printf("max |silu'' - s(1-s)(2 + x(1-2s))| over the grid: %.1e\n\n", worst);

    /* 2. Rosenbrock f = (1-a)^2 + 100 (b - a^2)^2 at (a, b) = (-1.2, 1) */
    tg_tape_reset(t);
    tg_var p[2] = {tg_param(t, -1.2), tg_param(t, 1.0)};
    tg_var u = tg_sub(tg_const(t, 1.0), p[0]), w = tg_sub(p[1], tg_mul(p[0], p[0]));
    tg_var f = tg_add(tg_mul(u, u), tg_mul(tg_const(t, 100.0), tg_mul(w, w)));
    double h[4], v[2] = {1.0, 0.5}, hv[2];
    if (tg_hessian(f, 2, p, h) || tg_hvp(f, 2, p, v, 2, hv))
        return fprintf(stderr, "%s\n", tg_tape_error(t)), 1;
    printf("H = [[%.1f, %.1f], [%.1f, %.1f]]   (closed form: [[2 - 400(b - 3a^2), -400a], "
           "[-400a, 200]])\n", h[0], h[1], h[2], h[3]);
    printf("H v for v = (1, 0.5): (%.1f, %.1f)\n", hv[0], hv[1]);
    tg_tape_free(t);
    return worst < 1e-12 ? 0 : 1;
}
