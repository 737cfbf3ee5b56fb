/* hessian_bench.c - what second order costs: a Hessian-vector product against a gradient on
 * the same function (the article's E, and the extended Rosenbrock function with n = 100,000),
 * and the dense 9 x 9 Hessian of the article's E. The hvp is forward over reverse: the
 * gradient recorded once as nodes (tg_diff_many), then one forward sweep per vector; both
 * that sweep alone and a whole tg_hvp call (recording the gradient nodes too) are timed.
 * Every hvp is first checked against central differences of the gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "tapegrad.h"
#include "tapegrad_article.h"

#define REPS 7

/* Extended Rosenbrock: sum over pairs (x[2i], x[2i+1]) of 100 (x[2i+1] - x[2i]^2)^2 +
 * (1 - x[2i])^2, recorded as scalar nodes. */
static tg_var rosenbrock(tg_tape *t, const tg_var *x, int n)
{
    tg_var f = tg_const(t, 0.0), one = tg_const(t, 1.0), c = tg_const(t, 100.0);
    for (int i = 0; i + 1 < n; i += 2) {
        tg_var a = tg_sub(x[i + 1], tg_mul(x[i], x[i])), b = tg_sub(one, x[i]);
        f = tg_add(f, tg_add(tg_mul(c, tg_mul(a, a)), tg_mul(b, b)));
    }
    return f;
}

/* The article's E with its nine weights in w (sigmoid). */
static tg_var article(tg_tape *t, tg_var *w)
{
    tg_article net;
    tg_article_point pt;
    tg_article_point_seed(&pt, 3);
    if (tg_article_build(&net, t, tg_article_activation("sigmoid"), 0.01, &pt) != TG_OK) return net.E;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) w[3 * i + j] = net.w1[i][j];
    for (int j = 0; j < 3; j++) w[6 + j] = net.w2[j];
    return net.E;
}

/* H v against central differences of the reverse-mode gradient along v. */
static double check_hvp(tg_tape *t, tg_var f, int n, const tg_var *x, const double *v,
                        const double *hv)
{
    double *x0 = malloc((size_t)n * sizeof *x0), *gp = malloc((size_t)n * 2 * sizeof *gp);
    double *gm = gp + n, h = 1e-6, worst = 0;
    for (int i = 0; i < n; i++) x0[i] = tg_value(x[i]);
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < n; i++) tg_set(x[i], x0[i] + (s ? -h : h) * v[i]);
        tg_replay(t);
        tg_backward(f);
        for (int i = 0; i < n; i++) (s ? gm : gp)[i] = tg_gradient(x[i]);
    }
    for (int i = 0; i < n; i++) tg_set(x[i], x0[i]);
    tg_replay(t);
    for (int i = 0; i < n; i++) {
        double fd = (gp[i] - gm[i]) / (2 * h);
        worst = fmax(worst, fabs(fd - hv[i]) / fmax(1.0, fabs(fd)));
    }
    free(x0);
    free(gp);
    return worst;
}

/* A function to differentiate, recorded afresh on t: returns out, fills the parameters. */
typedef tg_var (*build_fn)(tg_tape *t, tg_var *x, int n);

static tg_var build_article(tg_tape *t, tg_var *x, int n)
{
    (void)n;
    return article(t, x);
}

static tg_var build_rosenbrock(tg_tape *t, tg_var *x, int n)
{
    uint64_t rng = 7;
    for (int i = 0; i < n; i++) x[i] = tg_param(t, bench_uniform(&rng, -1.5, 1.5));
    return rosenbrock(t, x, n);
}

static void line(const char *what, const double *ns, const double *ratio)
{
    printf("  %-44s %12.0f ns  (%.0f - %.0f)", what, bench_median(ns, REPS), bench_min(ns, REPS),
           bench_max(ns, REPS));
    if (ratio)
        printf("  %.2f x (%.2f - %.2f)", bench_median(ratio, REPS), bench_min(ratio, REPS),
               bench_max(ratio, REPS));
    printf("\n");
}

/* (1) On one tape holding f and its gradient nodes (recorded once), a gradient
 *     (tg_backward) against H v (one tg_jvp along v, over the whole tape);
 * (2) each from a fresh recording: reset + record + tg_backward against reset + record +
 *     tg_hvp (which records the gradient nodes too). */
/* ratio: the median of H v (over recorded gradient nodes) / gradient, for the target */
static int measure(const char *name, build_fn build, int n, int inner, double *ratio)
{
    tg_tape *t = tg_tape_new();
    tg_var *x = malloc((size_t)n * sizeof *x), *g = malloc((size_t)n * sizeof *g);
    double *v = malloc((size_t)n * sizeof *v), *hv = malloc((size_t)n * sizeof *hv);
    uint64_t rng = 42;
    for (int i = 0; i < n; i++) v[i] = bench_uniform(&rng, -1, 1);
    tg_var f = build(t, x, n);
    size_t nodes = tg_tape_size(t);
    if (tg_hvp(f, n, x, v, (size_t)n, hv)) return fprintf(stderr, "%s: %s\n", name, tg_tape_error(t)), 1;
    double err = check_hvp(t, f, n, x, v, hv);
    printf("%s: %d parameters, %zu nodes, the gradient nodes %zu more; H v against central "
           "differences of the gradient: %.1e (relative)\n", name, n, nodes,
           tg_tape_size(t) - nodes, err);
    if (err > 1e-5) return fprintf(stderr, "%s: hvp disagrees with finite differences\n", name), 1;

    tg_tape_reset(t);
    f = build(t, x, n);
    tg_diff_many(f, n, x, g);
    double tb[REPS], tj[REPS], rj[REPS], fb[REPS], fh[REPS], rh[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = bench_now_ns();
        for (int k = 0; k < inner; k++) tg_backward(f);
        double t1 = bench_now_ns();
        for (int k = 0; k < inner; k++) tg_jvp(t, n, x, v);
        double t2 = bench_now_ns();
        tb[r] = (t1 - t0) / inner, tj[r] = (t2 - t1) / inner, rj[r] = tj[r] / tb[r];
    }
    for (int r = 0; r < REPS; r++) {
        double t0 = bench_now_ns();
        for (int k = 0; k < inner; k++) {
            tg_tape_reset(t);
            tg_backward(build(t, x, n));
        }
        double t1 = bench_now_ns();
        for (int k = 0; k < inner; k++) {
            tg_tape_reset(t);
            tg_hvp(build(t, x, n), n, x, v, (size_t)n, hv);
        }
        double t2 = bench_now_ns();
        fb[r] = (t1 - t0) / inner, fh[r] = (t2 - t1) / inner, rh[r] = fh[r] / fb[r];
    }
    line("gradient (tg_backward)", tb, NULL);
    line("H v over recorded gradient nodes (tg_jvp)", tj, rj);
    line("record + gradient", fb, NULL);
    line("record + tg_hvp (records the gradient too)", fh, rh);
    *ratio = bench_median(rj, REPS);
    free(x);
    free(g);
    free(v);
    free(hv);
    tg_tape_free(t);
    return 0;
}

int main(void)
{
    printf("tapegrad second-order benchmark (%d repetitions; medians, min - max; ratios to "
           "the gradient)\n", REPS);
    double ra = 0, rr = 0;
    if (measure("article E (sigmoid)", build_article, 9, 2000, &ra)) return 1;

    /* the dense Hessian: one forward sweep per weight over the gradient nodes it records */
    tg_tape *t = tg_tape_new();
    tg_var w[9];
    double h[81], th[REPS];
    for (int r = 0; r < REPS; r++) {
        tg_tape_reset(t);
        tg_var f = article(t, w);
        double t0 = bench_now_ns();
        tg_hessian(f, 9, w, h);
        th[r] = bench_now_ns() - t0;
    }
    tg_tape_free(t);
    printf("  dense 9 x 9 Hessian (tg_hessian, E recorded)  %.1f us  (%.1f - %.1f)  target < 50 "
           "us: %s\n", bench_median(th, REPS) / 1e3, bench_min(th, REPS) / 1e3,
           bench_max(th, REPS) / 1e3, bench_median(th, REPS) < 50e3 ? "met" : "MISSED");
    int rc = measure("extended Rosenbrock, n = 100000", build_rosenbrock, 100000, 3, &rr);
    printf("target: H v (over recorded gradient nodes) <= 5 x a gradient: article %.2fx, "
           "Rosenbrock %.2fx: %s\n", ra, rr, ra <= 5 && rr <= 5 ? "met" : "MISSED");
    return rc;
}
