/* custom_loss.c - the program docs/custom-loss.md walks through: a loss written from tapegrad's
 * primitives, its gradient from the reverse sweep, the same gradient derived by hand, and both
 * checked against the library's fused op and against tg_check_grad, for softmax cross-entropy,
 * mean squared error, binary cross-entropy with logits, and the Huber loss (which the library
 * does not ship). It also shows the naive compositions overflowing at large logits, with
 * anomaly mode naming the op, while the fused ops stay finite. Exits 1 if any check fails.
 * See LICENSE. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "tapegrad.h"

#define N 4 /* samples */
#define C 3 /* classes */

static int failures;

/* ---- small helpers: random logits, printing, comparing ---- */

static double gaussian(uint64_t *s) /* splitmix64 + Box-Muller */
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        u[i] = (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
    }
    return sqrt(-2.0 * log(1.0 - u[0])) * cos(6.283185307179586 * u[1]);
}

static void print_rows(const char *title, const double *a, int rows, int cols)
{
    printf("%s\n", title);
    for (int r = 0; r < rows; r++) {
        printf("   ");
        for (int c = 0; c < cols; c++) printf(" %+.10f", a[r * cols + c]);
        printf("\n");
    }
}

/* The largest |a - b|; NaN if any difference is NaN. */
static double max_abs_diff(const double *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (isnan(d)) return NAN;
        m = fmax(m, d);
    }
    return m;
}

static void expect(int ok, const char *what)
{
    if (!ok) {
        printf("    ** CHECK FAILED: %s\n", what);
        failures++;
    }
}

/* tg_check_grad on one parameter: "pass", "FAIL", or why it could not compare. */
static const char *gradcheck_verdict(tg_var loss, tg_var param, tg_check_report *rep)
{
    tg_check_result r;
    if (tg_check_grad(loss, 1, &param, NULL, &r, rep) != TG_OK) return "error";
    return rep->undefined ? "undefined" : rep->failed == 0 ? "pass" : "FAIL";
}

/* The same, printed on one line; returns 1 when it passes. */
static int gradcheck(const char *what, tg_var loss, tg_var param)
{
    tg_check_report rep;
    const char *v = gradcheck_verdict(loss, param, &rep);
    printf("  tg_check_grad, %s: %zu elements, reverse vs forward vs finite differences: %s "
           "(worst rel err %.1e)\n", what, tg_numel(param), v, rep.worst_rel);
    return v[0] == 'p';
}

/* ---- 1. softmax cross-entropy ---- */

/* (a) the loss from primitives: L = -(1/N) sum_n log softmax(z_n)[y_n], the one-hot Y
 * picking the label's entry of each row. */
static tg_var ce_primitives(tg_var Z, tg_var Y)
{
    tg_tape *t = Z.tape;
    tg_var E = tg_exp(Z);           /* e^z                [N,C] */
    tg_label(E, "e^Z");
    tg_var S = tg_sum_axis(E, 1, 1); /* sum_c e^z          [N,1] */
    tg_var P = tg_div(E, S);        /* softmax            [N,C] (S broadcasts over columns) */
    tg_label(P, "P");
    tg_var logP = tg_log(P);        /* log softmax        [N,C] */
    tg_label(logP, "log P");
    return tg_mul(tg_const(t, -1.0 / N), tg_sum(tg_mul(Y, logP)));
}

/* (b) the hand-derived gradient: L_n = log sum_c e^z_nc - z_n,y_n, so
 * dL/dz_nc = (softmax(z_n)_c - [c == y_n]) / N. */
static void ce_by_hand(const double *z, const int *y, double *g)
{
    for (int n = 0; n < N; n++) {
        double m = z[n * C], s = 0;
        for (int c = 1; c < C; c++) m = fmax(m, z[n * C + c]);
        for (int c = 0; c < C; c++) s += exp(z[n * C + c] - m);
        for (int c = 0; c < C; c++)
            g[n * C + c] = (exp(z[n * C + c] - m) / s - (c == y[n])) / N;
    }
}

/* (a') the fix, still from primitives: subtract each row's max before exp (log-sum-exp). */
static tg_var ce_primitives_stable(tg_var Z, const int *y)
{
    tg_tape *t = Z.tape;
    double onehot[N * C] = {0};
    for (int n = 0; n < N; n++) onehot[n * C + y[n]] = 1;
    int shape[2] = {N, C};
    tg_var Y = tg_tensor_const(t, 2, shape, onehot);
    tg_var Zs = tg_sub(Z, tg_max_axis(Z, 1, 1));        /* z - max_c z: every entry <= 0 */
    tg_var lse = tg_log(tg_sum_axis(tg_exp(Zs), 1, 1)); /* log sum_c e^(z - max): >= 0 */
    tg_var logP = tg_sub(Zs, lse);
    return tg_mul(tg_const(t, -1.0 / N), tg_sum(tg_mul(Y, logP)));
}

/* One row of the scale table: logits scale * N(0, 1); the loss and the gradient's distance
 * from the hand formula, unfused, unfused-with-max and fused. */
static void ce_at_scale(double scale, uint64_t *seed, int verbose)
{
    double z[N * C], hand[N * C], g[3][N * C], L[3];
    int y[N] = {0, 2, 1, 2}, shape[2] = {N, C};
    double onehot[N * C] = {0};
    for (int n = 0; n < N; n++) onehot[n * C + y[n]] = 1;
    for (int i = 0; i < N * C; i++) z[i] = scale * gaussian(seed);
    ce_by_hand(z, y, hand);

    tg_tape *t = tg_tape_new();
    tg_var Z = tg_tensor_param(t, 2, shape, z);
    tg_label(Z, "Z");
    tg_var Y = tg_tensor_const(t, 2, shape, onehot);
    tg_var loss[3] = {ce_primitives(Z, Y), ce_primitives_stable(Z, y), tg_cross_entropy(Z, y)};
    for (int k = 0; k < 3; k++) {
        if (tg_backward(loss[k]) != 0) printf("    backward: %s\n", tg_tape_error(t));
        L[k] = tg_value(loss[k]);
        for (int i = 0; i < N * C; i++) g[k][i] = tg_gradient_data(Z)[i];
    }
    double d[3];
    for (int k = 0; k < 3; k++) d[k] = max_abs_diff(g[k], hand, N * C);
    if (verbose) {
        print_rows("  logits Z:", z, N, C);
        printf("  labels y: %d %d %d %d\n", y[0], y[1], y[2], y[3]);
        printf("  loss: primitives %.15f   fused tg_cross_entropy %.15f\n", L[0], L[2]);
        print_rows("  dL/dZ from the sweep through the primitives:", g[0], N, C);
        print_rows("  dL/dZ by hand, (softmax(Z) - onehot) / N:", hand, N, C);
        print_rows("  dL/dZ from the sweep through tg_cross_entropy:", g[2], N, C);
        printf("  max |primitives - hand| = %.1e, max |fused - hand| = %.1e\n", d[0], d[2]);
        expect(gradcheck("primitives", loss[0], Z), "tg_check_grad, primitives");
        expect(gradcheck("fused     ", loss[2], Z), "tg_check_grad, fused");
    } else {
        tg_check_report rep;
        printf("  %6g  %17.12g %17.12g   %7.1e %7.1e %7.1e", scale, L[0], L[2], d[0], d[1], d[2]);
        for (int k = 0; k < 3; k++) {
            const char *v = gradcheck_verdict(loss[k], Z, &rep);
            printf(" %9s", v);
            if (k > 0) expect(v[0] == 'p', "tg_check_grad, stable / fused");
        }
        printf("\n");
    }
    /* the fused op and the max-subtracted composition must always agree with the hand
     * formula; the naive composition only while nothing overflows */
    double tol = 1e-14 * fmax(1.0, scale);
    expect(d[1] <= tol && d[2] <= tol && isfinite(L[1]) && isfinite(L[2]),
           "fused / stable gradient equals the hand formula");
    if (scale <= 10) expect(d[0] <= tol, "primitives' gradient equals the hand formula");
    tg_tape_free(t);
}

/* Anomaly mode on the naive composition at large logits: the first op that turns finite
 * inputs into Inf or NaN is named, with its node and the element. */
static void ce_overflow(void)
{
    double z[N * C] = {1000, 0, -1000, 5, 800, 1, 2, 3, 4, -2, 0, 710};
    int y[N] = {0, 2, 1, 2}, shape[2] = {N, C};
    double onehot[N * C] = {0};
    for (int n = 0; n < N; n++) onehot[n * C + y[n]] = 1;
    tg_tape *t = tg_tape_new();
    tg_var Z = tg_tensor_param(t, 2, shape, z);
    tg_var L = ce_primitives(Z, tg_tensor_const(t, 2, shape, onehot));
    printf("  primitives, anomaly mode off: loss %g\n", tg_value(L));
    tg_tape_reset(t);
    tg_tape_check_nan(t, 1);
    Z = tg_tensor_param(t, 2, shape, z);
    L = ce_primitives(Z, tg_tensor_const(t, 2, shape, onehot));
    printf("  primitives, anomaly mode on:  %s\n", tg_tape_error(t));
    expect(tg_tape_error(t) != NULL, "anomaly mode reports the overflow");
    tg_tape_reset(t);
    tg_tape_check_nan(t, 1);
    Z = tg_tensor_param(t, 2, shape, z);
    L = tg_cross_entropy(Z, y);
    int rc = tg_backward(L);
    double g[N * C], hand[N * C];
    ce_by_hand(z, y, hand);
    for (int i = 0; i < N * C; i++) g[i] = rc == 0 ? tg_gradient_data(Z)[i] : NAN;
    printf("  fused, anomaly mode on:       loss %.6f, no error; max |dL/dZ - hand| = %.1e\n",
           tg_value(L), max_abs_diff(g, hand, N * C));
    expect(rc == 0 && isfinite(tg_value(L)) && max_abs_diff(g, hand, N * C) < 1e-15,
           "the fused loss stays finite and exact");
    tg_tape_free(t);
}

/* ---- 2. mean squared error ---- */

static void mse_section(uint64_t *seed)
{
    enum { M = 6 };
    double p[M], q[M], hand[M];
    int shape[1] = {M};
    for (int i = 0; i < M; i++) p[i] = gaussian(seed), q[i] = gaussian(seed);
    tg_tape *t = tg_tape_new();
    tg_var P = tg_tensor_param(t, 1, shape, p), T = tg_tensor_const(t, 1, shape, q);
    tg_var D = tg_sub(P, T);
    tg_var Lp = tg_mean(tg_mul(D, D)); /* (1/M) sum (p - t)^2 from primitives */
    tg_var Lf = tg_mse(P, T);
    for (int i = 0; i < M; i++) hand[i] = 2.0 * (p[i] - q[i]) / M; /* dL/dp = 2 (p - t) / M */
    double g[2][M];
    tg_var loss[2] = {Lp, Lf};
    for (int k = 0; k < 2; k++) {
        tg_backward(loss[k]);
        for (int i = 0; i < M; i++) g[k][i] = tg_gradient_data(P)[i];
    }
    printf("  loss: primitives %.15f   tg_mse %.15f\n", tg_value(Lp), tg_value(Lf));
    print_rows("  dL/dp by hand, 2 (p - t) / M:", hand, 1, M);
    printf("  max |primitives - hand| = %.1e, max |tg_mse - hand| = %.1e\n",
           max_abs_diff(g[0], hand, M), max_abs_diff(g[1], hand, M));
    expect(max_abs_diff(g[0], hand, M) < 1e-15 && max_abs_diff(g[1], hand, M) < 1e-15,
           "mse gradients equal the hand formula");
    expect(gradcheck("primitives", Lp, P), "tg_check_grad, mse primitives");
    tg_tape_free(t);
}

/* ---- 3. binary cross-entropy with logits ---- */

/* From primitives, as the formula is usually written: -mean(t log s + (1 - t) log(1 - s)). */
static tg_var bce_primitives(tg_var X, tg_var T)
{
    tg_tape *t = X.tape;
    tg_var s = tg_sigmoid(X);
    tg_var one = tg_const(t, 1.0);
    tg_var log1ms = tg_log(tg_sub(one, s));
    tg_label(log1ms, "log(1-s)");
    tg_var terms = tg_add(tg_mul(T, tg_log(s)), tg_mul(tg_sub(one, T), log1ms));
    return tg_neg(tg_mean(terms));
}

/* The fix from primitives: -[t log s + (1-t) log(1-s)] = softplus(x) - x t. */
static tg_var bce_primitives_stable(tg_var X, tg_var T)
{
    return tg_mean(tg_sub(tg_softplus(X), tg_mul(X, T)));
}

static void bce_section(uint64_t *seed)
{
    enum { M = 6 };
    double x[M], q[M], hand[M];
    int shape[1] = {M};
    for (int i = 0; i < M; i++) x[i] = 2 * gaussian(seed), q[i] = i % 2;
    for (int i = 0; i < M; i++) hand[i] = (1 / (1 + exp(-x[i])) - q[i]) / M; /* (s - t) / M */
    tg_tape *t = tg_tape_new();
    tg_var X = tg_tensor_param(t, 1, shape, x), T = tg_tensor_const(t, 1, shape, q);
    tg_var loss[3] = {bce_primitives(X, T), bce_primitives_stable(X, T),
                      tg_bce_with_logits(X, T)};
    double g[3][M];
    for (int k = 0; k < 3; k++) {
        tg_backward(loss[k]);
        for (int i = 0; i < M; i++) g[k][i] = tg_gradient_data(X)[i];
    }
    print_rows("  logits x:", x, 1, M);
    print_rows("  targets t:", q, 1, M);
    printf("  loss: primitives %.15f   softplus(x) - x t %.15f   tg_bce_with_logits %.15f\n",
           tg_value(loss[0]), tg_value(loss[1]), tg_value(loss[2]));
    print_rows("  dL/dx by hand, (sigmoid(x) - t) / M:", hand, 1, M);
    printf("  max |grad - hand|: primitives %.1e, softplus form %.1e, fused %.1e\n",
           max_abs_diff(g[0], hand, M), max_abs_diff(g[1], hand, M),
           max_abs_diff(g[2], hand, M));
    for (int k = 0; k < 3; k++)
        expect(max_abs_diff(g[k], hand, M) < 1e-15, "bce gradient equals the hand formula");
    expect(gradcheck("primitives", loss[0], X), "tg_check_grad, bce primitives");
    expect(gradcheck("fused     ", loss[2], X), "tg_check_grad, bce fused");
    tg_tape_free(t);

    /* a confident right answer, x = 40 with t = 1: sigmoid(40) rounds to 1, log(1 - s) is
     * -Inf and 0 * -Inf = NaN; the true loss is ln(1 + e^-40) = 4.248e-18 */
    double xb[1] = {40}, qb[1] = {1};
    int sb[1] = {1};
    t = tg_tape_new();
    tg_tape_check_nan(t, 1);
    X = tg_tensor_param(t, 1, sb, xb);
    T = tg_tensor_const(t, 1, sb, qb);
    bce_primitives(X, T);
    printf("  x = 40, t = 1: primitives, anomaly mode on: %s\n", tg_tape_error(t));
    expect(tg_tape_error(t) != NULL, "anomaly mode reports log(0)");
    tg_tape_reset(t);
    tg_tape_check_nan(t, 1);
    X = tg_tensor_param(t, 1, sb, xb);
    T = tg_tensor_const(t, 1, sb, qb);
    tg_var Ls = bce_primitives_stable(X, T), Lf = tg_bce_with_logits(X, T);
    tg_backward(Lf);
    double gf = tg_gradient_data(X)[0];
    tg_backward(Ls);
    printf("  x = 40, t = 1: softplus(x) - x t = %.4g, tg_bce_with_logits = %.4g (exact: "
           "ln(1 + e^-40) = %.4g)\n", tg_value(Ls), tg_value(Lf), log1p(exp(-40.0)));
    printf("                 dL/dx: softplus form %.4g, fused %.4g (exact: sigmoid(40) - 1 = "
           "%.4g)\n", tg_gradient_data(X)[0], gf, -exp(-40.0) / (1 + exp(-40.0)));
    expect(isfinite(tg_value(Ls)) && fabs(tg_value(Lf) - log1p(exp(-40.0))) < 1e-30,
           "stable bce stays finite; the fused one keeps the tiny loss");
    tg_tape_free(t);
}

/* ---- 4. a loss the library does not ship: Huber ---- */

/* huber_d(r) = r^2 / 2 where |r| <= d, d (|r| - d/2) elsewhere; the loss is its mean over
 * r = p - t. step(d - |r|) is 1 inside; where picks the piece, and the piece not picked gets
 * no gradient. */
static tg_var huber(tg_var P, tg_var T, double d)
{
    tg_tape *t = P.tape;
    tg_var r = tg_sub(P, T);
    tg_var a = tg_abs(r);
    tg_var inside = tg_step(tg_sub(tg_const(t, d), a));
    tg_var quad = tg_mul(tg_const(t, 0.5), tg_mul(r, r));
    tg_var lin = tg_mul(tg_const(t, d), tg_sub(a, tg_const(t, d / 2)));
    return tg_mean(tg_where(inside, quad, lin));
}

static void huber_section(uint64_t *seed)
{
    enum { M = 8 };
    const double d = 1.0;
    double p[M], q[M], hand[M];
    int shape[1] = {M};
    for (int i = 0; i < M; i++) p[i] = 2 * gaussian(seed), q[i] = gaussian(seed);
    for (int i = 0; i < M; i++) { /* dL/dp = (|r| < d ? r : d sign r) / M */
        double r = p[i] - q[i];
        hand[i] = (fabs(r) < d ? r : d * (r > 0 ? 1 : -1)) / M;
    }
    tg_tape *t = tg_tape_new();
    tg_var P = tg_tensor_param(t, 1, shape, p), T = tg_tensor_const(t, 1, shape, q);
    tg_var L = huber(P, T, d);
    tg_backward(L);
    double r[M];
    for (int i = 0; i < M; i++) r[i] = p[i] - q[i];
    print_rows("  residuals r = p - t:", r, 1, M);
    printf("  loss %.15f\n", tg_value(L));
    print_rows("  dL/dp from the sweep:", tg_gradient_data(P), 1, M);
    print_rows("  dL/dp by hand, (|r| < 1 ? r : sign r) / M:", hand, 1, M);
    double dd = max_abs_diff(tg_gradient_data(P), hand, M);
    printf("  max |sweep - hand| = %.1e\n", dd);
    expect(dd < 1e-15, "huber gradient equals the hand formula");
    expect(gradcheck("huber", L, P), "tg_check_grad, huber");
    tg_tape_free(t);
}

int main(void)
{
    uint64_t seed = 42;
    printf("== 1. softmax cross-entropy, %d samples x %d classes, logits ~ N(0, 1)\n", N, C);
    ce_at_scale(1.0, &seed, 1);
    printf("\n== 1c. several scales: logits = scale * N(0, 1); the primitives (prim), the "
           "primitives with the\n   row max subtracted (max), tg_cross_entropy (fused)\n");
    printf("  %6s  %17s %17s   %-23s %s\n", "", "loss", "", "max |dL/dZ - hand|",
           "tg_check_grad");
    printf("  %6s  %17s %17s   %7s %7s %7s %9s %9s %9s\n", "scale", "prim", "fused", "prim",
           "max", "fused", "prim", "max", "fused");
    const double scales[] = {0.01, 1, 10, 100, 1000, 10000};
    for (int k = 0; k < 6; k++) ce_at_scale(scales[k], &seed, 0);
    printf("\n== 1d. where the primitives break (logits up to 1000)\n");
    ce_overflow();
    printf("\n== 2. mean squared error, 6 predictions\n");
    mse_section(&seed);
    printf("\n== 3. binary cross-entropy with logits, 6 logits\n");
    bce_section(&seed);
    printf("\n== 4. Huber loss (delta = 1) from abs, step and where, 8 predictions\n");
    huber_section(&seed);
    printf("\n%s\n", failures ? "SOME CHECKS FAILED" : "every check passed");
    return failures ? 1 : 0;
}
