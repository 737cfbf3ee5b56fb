/* test_hessian.c - second order: tg_diff_many, Hessian-vector products and dense Hessians
 * against closed forms and finite differences of the gradient, on the article's network too. */
#include <criterion/criterion.h>
#include <math.h>

#include "helpers.h"
#include "tapegrad.h"

/* Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2: H = [[2 - 400(y - 3x^2), -400x],
 * [-400x, 200]]. */
static tg_var rosenbrock(tg_tape *t, tg_var x, tg_var y)
{
    tg_var a = tg_sub(tg_const(t, 1.0), x), b = tg_sub(y, tg_mul(x, x));
    return tg_add(tg_mul(a, a), tg_mul(tg_const(t, 100.0), tg_mul(b, b)));
}

Test(hessian, rosenbrock_matches_its_closed_form)
{
    th_rng rng = th_rng_new(5);
    for (int trial = 0; trial < 50; trial++) {
        tg_tape *t = tg_tape_new();
        double x0 = th_uniform(&rng, -2, 2), y0 = th_uniform(&rng, -1, 3);
        tg_var p[2] = {tg_param(t, x0), tg_param(t, y0)};
        tg_var f = rosenbrock(t, p[0], p[1]);
        double h[4], want[4] = {2 - 400 * (y0 - 3 * x0 * x0), -400 * x0, -400 * x0, 200};
        cr_assert_eq(tg_hessian(f, 2, p, h), TG_OK, "%s", tg_tape_error(t));
        for (int i = 0; i < 4; i++)
            cr_expect(fabs(h[i] - want[i]) <= 1e-10 * fmax(1, fabs(want[i])),
                      "H[%d] at (%g, %g): %.17g, closed form %.17g", i, x0, y0, h[i], want[i]);
        double v[2] = {th_uniform(&rng, -1, 1), th_uniform(&rng, -1, 1)}, hv[2];
        cr_assert_eq(tg_hvp(f, 2, p, v, 2, hv), TG_OK, "%s", tg_tape_error(t));
        for (int i = 0; i < 2; i++) {
            double w = want[2 * i] * v[0] + want[2 * i + 1] * v[1];
            cr_expect(fabs(hv[i] - w) <= 1e-10 * fmax(1, fabs(w)), "Hv[%d]: %.17g vs %.17g", i,
                      hv[i], w);
        }
        tg_tape_free(t);
    }
}

/* The article's E: its Hessian over the nine weights against central differences of the
 * reverse-mode gradient, symmetric to rounding. */
static void article_hessian(const char *activation)
{
    tg_tape *t = tg_tape_new();
    tg_article net;
    tg_article_point pt;
    tg_article_point_seed(&pt, 11);
    cr_assert_eq(tg_article_build(&net, t, tg_article_activation(activation), 0.01, &pt), TG_OK);
    tg_var w[9];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) w[3 * i + j] = net.w1[i][j];
    for (int j = 0; j < 3; j++) w[6 + j] = net.w2[j];
    double h[81];
    cr_assert_eq(tg_hessian(net.E, 9, w, h), TG_OK, "%s", tg_tape_error(t));
    for (int i = 0; i < 9; i++) {
        for (int j = 0; j < 9; j++)
            cr_expect(fabs(h[9 * i + j] - h[9 * j + i]) <= 1e-12 * fmax(1, fabs(h[9 * i + j])),
                      "%s: H[%d][%d] = %.17g but H[%d][%d] = %.17g", activation, i, j,
                      h[9 * i + j], j, i, h[9 * j + i]);
        /* column i by central differences of the gradient (h = 1e-5) */
        double w0 = tg_value(w[i]), g[2][9], step = 1e-5;
        for (int s = 0; s < 2; s++) {
            tg_set(w[i], w0 + (s ? -step : step));
            tg_replay(t);
            tg_backward(net.E);
            for (int k = 0; k < 9; k++) g[s][k] = tg_gradient(w[k]);
        }
        tg_set(w[i], w0);
        tg_replay(t);
        for (int k = 0; k < 9; k++) {
            double fd = (g[0][k] - g[1][k]) / (2 * step);
            cr_expect(fabs(fd - h[9 * k + i]) <= 1e-7 * fmax(1, fabs(fd)),
                      "%s: H[%d][%d] = %.12g, differences of the gradient %.12g", activation, k,
                      i, h[9 * k + i], fd);
        }
    }
    tg_tape_free(t);
}

Test(hessian, article_matches_differences_of_the_gradient_sigmoid) { article_hessian("sigmoid"); }
Test(hessian, article_matches_differences_of_the_gradient_tanh) { article_hessian("tanh"); }

Test(hessian, tensor_parameters_flatten_in_order)
{
    /* f = sum(W x)^2 / 2 with W [2,3] and x [3]: H over W's 6 elements is (x x^T) in each
     * output row, coupled across rows: d2f/dW[i][a] dW[j][b] = x[a] x[b]. */
    tg_tape *t = tg_tape_new();
    int ws[2] = {2, 3}, xs[2] = {3, 1};
    double wd[6] = {0.1, -0.2, 0.3, 0.4, 0.5, -0.6}, xd[3] = {1.5, -2.0, 0.5};
    tg_var W = tg_tensor_param(t, 2, ws, wd), x = tg_tensor_const(t, 2, xs, xd);
    tg_var s = tg_sum(tg_matmul(W, x)), f = tg_mul(tg_const(t, 0.5), tg_mul(s, s));
    double h[36];
    cr_assert_eq(tg_hessian(f, 1, &W, h), TG_OK, "%s", tg_tape_error(t));
    for (int p = 0; p < 6; p++)
        for (int q = 0; q < 6; q++)
            cr_expect(fabs(h[6 * p + q] - xd[p % 3] * xd[q % 3]) < 1e-12, "H[%d][%d] = %g, want %g",
                      p, q, h[6 * p + q], xd[p % 3] * xd[q % 3]);
    tg_tape_free(t);
}

Test(hessian, diff_many_equals_diff_one_at_a_time)
{
    tg_tape *t = tg_tape_new();
    tg_var a = tg_param(t, 0.3), b = tg_param(t, -1.1), c = tg_param(t, 2.0);
    tg_var f = tg_mul(tg_sin(tg_mul(a, b)), tg_exp(tg_div(c, tg_add(a, tg_const(t, 3)))));
    tg_var w[3] = {a, b, c}, d[3];
    cr_assert_eq(tg_diff_many(f, 3, w, d), TG_OK);
    for (int k = 0; k < 3; k++) {
        tg_var one = tg_diff(f, w[k]);
        cr_expect(fabs(tg_value(d[k]) - tg_value(one)) < 1e-15, "d[%d] %.17g vs %.17g", k,
                  tg_value(d[k]), tg_value(one));
    }
    tg_tape_free(t);
}

Test(hessian, bad_arguments_set_the_sticky_error)
{
    tg_tape *t = tg_tape_new();
    tg_var a = tg_param(t, 1.0), c = tg_const(t, 2.0), f = tg_mul(a, c);
    double h[4], v[1] = {1}, hv[1];
    cr_expect_eq(tg_hessian(f, 1, &c, h), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(t), "tg_hessian: params[0] (node #1) is not a parameter");
    tg_tape_reset(t);
    a = tg_param(t, 1.0);
    f = tg_mul(a, a);
    cr_expect_eq(tg_hvp(f, 1, &a, NULL, 1, hv), TG_ERR_ARG);
    cr_expect_str_eq(tg_tape_error(t), "tg_hvp: v is NULL");
    tg_tape_reset(t);
    int s[1] = {2};
    double d[2] = {1, 2};
    tg_var T = tg_tensor_param(t, 1, s, d);
    cr_expect_eq(tg_hvp(tg_mul(T, T), 1, &T, v, 2, hv), TG_ERR_SHAPE);
    cr_expect_str_eq(tg_tape_error(t), "tg_diff: out #1 is a tensor of shape [2], not a scalar");
    tg_tape_reset(t);
    T = tg_tensor_param(t, 1, s, d);
    cr_expect_eq(tg_hvp(tg_sum(tg_mul(T, T)), 1, &T, v, 1, hv), TG_ERR_SHAPE);
    cr_expect_str_eq(tg_tape_error(t), "tg_hvp: v has 1 values, the parameters 2 elements");
    tg_tape_free(t);
}

/* E = 1/2 (a - t)^2 with a = a1[3]: its Hessian is the Gauss-Newton part grad(a) grad(a)^T plus
 * the residual part (a - t) times the Hessian of a. Both parts from the tape; their sum must be
 * E's Hessian, and the Gauss-Newton part is positive semidefinite (it is an outer product). */
Test(hessian, article_hessian_is_gauss_newton_plus_residual_part)
{
    tg_tape *t = tg_tape_new();
    tg_article net;
    tg_article_point pt;
    tg_article_point_seed(&pt, 23);
    cr_assert_eq(tg_article_build(&net, t, tg_article_activation("tanh"), 0.01, &pt), TG_OK);
    tg_var w[9];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) w[3 * i + j] = net.w1[i][j];
    for (int j = 0; j < 3; j++) w[6 + j] = net.w2[j];
    double he[81], ha[81], ga[9], r = tg_value(net.a3) - tg_value(net.t);
    cr_assert_eq(tg_hessian(net.E, 9, w, he), TG_OK, "%s", tg_tape_error(t));
    cr_assert_eq(tg_hessian(net.a3, 9, w, ha), TG_OK, "%s", tg_tape_error(t));
    cr_assert_eq(tg_backward(net.a3), TG_OK);
    for (int k = 0; k < 9; k++) ga[k] = tg_gradient(w[k]);
    double gn_only_err = 0;
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 9; j++) {
            double gn = ga[i] * ga[j], sum = gn + r * ha[9 * i + j];
            cr_expect(fabs(he[9 * i + j] - sum) <= 1e-12 * fmax(1, fabs(sum)),
                      "H[%d][%d] = %.17g, Gauss-Newton %.17g + residual %.17g", i, j,
                      he[9 * i + j], gn, r * ha[9 * i + j]);
            gn_only_err = fmax(gn_only_err, fabs(he[9 * i + j] - gn));
        }
    /* the residual part is not negligible at a random point: Gauss-Newton alone is off */
    cr_expect_gt(gn_only_err, 1e-6, "Gauss-Newton alone matches E's Hessian to %g", gn_only_err);
    tg_tape_free(t);
}

/* where's unchosen side (NaN: sqrt(-1); infinite derivatives: sqrt at 0) gives the Hessian
 * nothing, as it gives the gradient nothing: forward over reverse must not meet 0 * NaN. */
Test(hessian, where_masks_its_unchosen_side_in_scalar_hessians)
{
    tg_tape *t = tg_tape_new();
    const double at[] = {-1.0, 0.0, 4.0};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        tg_tape_reset(t);
        tg_var x = tg_param(t, at[i]), y = tg_param(t, 2.0);
        /* f = where(step(x), y sqrt(x), y^2): fxx = -y x^-3/2 / 4, fxy = x^-1/2 / 2, fyy = 0
         * when x > 0; else 0, 0, 2 */
        tg_var f = tg_where(tg_step(x), tg_mul(y, tg_sqrt(x)), tg_mul(y, y));
        tg_var p[2] = {x, y};
        double h[4], v = at[i], on = v > 0;
        double want[4] = {on ? -2.0 * 0.25 / (v * sqrt(v)) : 0.0, on ? 0.5 / sqrt(v) : 0.0,
                          on ? 0.5 / sqrt(v) : 0.0, on ? 0.0 : 2.0};
        cr_assert_eq(tg_hessian(f, 2, p, h), TG_OK, "%s", tg_tape_error(t));
        for (int k = 0; k < 4; k++)
            cr_expect(th_close(h[k], want[k], 1e-14, 0), "H[%d][%d] at x = %g: %.17g, want "
                      "%.17g", k / 2, k % 2, v, h[k], want[k]);
        double dir[2] = {1.0, -0.5}, hv[2];
        cr_assert_eq(tg_hvp(f, 2, p, dir, 2, hv), TG_OK, "%s", tg_tape_error(t));
        for (int k = 0; k < 2; k++) {
            double w = want[2 * k] + want[2 * k + 1] * dir[1];
            cr_expect(th_close(hv[k], w, 1e-14, 0), "Hv[%d] at x = %g: %.17g, want %.17g", k, v,
                      hv[k], w);
        }
    }
    tg_tape_free(t);
}

Test(hessian, where_masks_its_unchosen_side_in_tensor_hessians)
{
    /* F = sum(where(step(X), y sqrt(X), 0)), X = [-1, 0, 4] and a scalar y broadcast over it:
     * only X[2] is chosen. H over (X0, X1, X2, y): d2F/dX2^2 = -y X2^-3/2 / 4,
     * d2F/dX2 dy = X2^-1/2 / 2, everything else 0. */
    tg_tape *t = tg_tape_new();
    int s[1] = {3};
    double xd[3] = {-1.0, 0.0, 4.0};
    tg_var X = tg_tensor_param(t, 1, s, xd), y = tg_param(t, 2.0);
    tg_var F = tg_sum(tg_where(tg_step(X), tg_mul(y, tg_sqrt(X)), tg_const(t, 0.0)));
    tg_var p[2] = {X, y};
    double h[16], want[16] = {0};
    want[2 * 4 + 2] = -2.0 * 0.25 / 8.0;
    want[2 * 4 + 3] = want[3 * 4 + 2] = 0.25;
    cr_assert_eq(tg_hessian(F, 2, p, h), TG_OK, "%s", tg_tape_error(t));
    for (int k = 0; k < 16; k++)
        cr_expect(th_close(h[k], want[k], 1e-14, 0), "H[%d][%d]: %.17g, want %.17g", k / 4,
                  k % 4, h[k], want[k]);
    tg_tape_free(t);
}
