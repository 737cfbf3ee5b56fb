#!/usr/bin/env python3
"""Measures logsumexp, softmax and log_softmax along an axis (values, the gradient of sum(y * w)
by tg_backward and by tg_diff, and Hessian-vector products by tg_diff twice) against mpmath at
60 digits, with PyTorch's float64 autograd at the same points, for the tables in docs/ops.md.
Run it from the tree's root after `make` (it compiles a small reader of build/libtapegrad.a)
with mpmath and PyTorch installed; the tests themselves need no Python. See LICENSE."""
import math
import os
import random
import subprocess
import tempfile

import mpmath as mp
import torch

mp.mp.dps = 60
torch.set_default_dtype(torch.float64)
EPS = 2.0 ** -52

# One case per input line: op axis keepdims rank shape... x... u... ny w...; prints y, the
# gradient by tg_backward, the gradient by tg_diff and H u, a line each (one_hot: y alone, of
# the labels x with axis classes).
DUMP_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include "tapegrad.h"

static int get(double *v, size_t n)
{
    for (size_t e = 0; e < n; e++)
        if (scanf("%lf", &v[e]) != 1) return 0;
    return 1;
}

static void put(char tag, const double *v, size_t n)
{
    printf("%c", tag);
    for (size_t e = 0; e < n; e++) printf(" %.17g", v[e]);
    printf("\n");
}

int main(void)
{
    char op[32];
    int rank, sh[4], axis, keep;
    size_t ny;
    static double x[4096], u[4096], w[4096];
    while (scanf("%31s %d %d %d", op, &axis, &keep, &rank) == 4) {
        size_t n = 1;
        for (int d = 0; d < rank; d++)
            if (scanf("%d", &sh[d]) == 1) n *= (size_t)sh[d];
        if (!get(x, n) || !get(u, n) || scanf("%zu", &ny) != 1 || !get(w, ny)) return 2;
        tg_tape *t = tg_tape_new();
        if (op[0] == 'o') { /* one_hot: x holds the labels, axis the number of classes */
            static int lab[4096];
            for (size_t e = 0; e < n; e++) lab[e] = (int)x[e];
            tg_var oh = tg_one_hot(t, sh[0], lab, axis);
            put('y', tg_data(oh), tg_numel(oh));
            printf("g\nd\nh\n");
            tg_tape_free(t);
            continue;
        }
        tg_var v = tg_tensor_param(t, rank, sh, x), y;
        if (op[0] == 'l' && op[1] == 's') y = tg_logsumexp(v, axis, keep);
        else if (op[0] == 's') y = tg_softmax_axis(v, axis);
        else y = tg_log_softmax_axis(v, axis);
        int ys[4], yr = tg_shape(y, ys);
        tg_var L = tg_sum(tg_mul(y, yr ? tg_tensor_const(t, yr, ys, w) : tg_const(t, w[0])));
        tg_var g = tg_diff(L, v);
        tg_var hu = tg_diff(tg_sum(tg_mul(g, tg_tensor_const(t, rank, sh, u))), v);
        if (tg_tape_status(t) || tg_backward(L)) {
            fprintf(stderr, "%s\n", tg_tape_error(t));
            return 1;
        }
        put('y', tg_data(y), tg_numel(y));
        put('g', tg_gradient_data(v), n);
        put('d', tg_data(g), n);
        put('h', tg_data(hu), n);
        tg_tape_free(t);
    }
    return 0;
}
"""


def runs(shape, axis):
    """The runs of a row-major tensor along axis: their element indices and output index."""
    a = axis % len(shape)
    inner = math.prod(shape[a + 1:])
    length = shape[a]
    outer = math.prod(shape) // (inner * length)
    return [([o * length * inner + i + k * inner for k in range(length)], o * inner + i)
            for o in range(outer) for i in range(inner)]


def reference(op, shape, axis, x, u, w):
    """(y, gradient of sum(y * w), H u), each a list of (exact, scale): scale is the magnitude
    of the terms a double computation rounds, so an error is read in units of eps * scale
    (cancellation below it is the problem's conditioning, not the kernel's error). x - m
    rounds by |x - m| eps in double, which e^(x - m) turns into that relative error: p's
    scale carries the factor 1 + |x - m|."""
    n = len(x)
    y, g, h = [None] * len(w), [None] * n, [None] * n
    for idx, o in runs(shape, axis):
        xs = [mp.mpf(x[k]) for k in idx]
        m = max(xs)
        a = xs.index(m)
        r = mp.fsum(mp.exp(v - m) for j, v in enumerate(xs) if j != a)
        ls = mp.log1p(r)  # ln s without losing a tiny r (and m + ln s needs no 308 digits)
        p = [mp.exp(v - m) / (1 + r) for v in xs]
        pc = [pi * (1 + abs(v - m)) for pi, v in zip(p, xs)]
        cmax = 1 + max(abs(v - m) for v in xs)
        us = [mp.mpf(u[k]) for k in idx]
        pu = mp.fsum(pi * ui for pi, ui in zip(p, us))
        pau = mp.fsum(pi * abs(ui) for pi, ui in zip(pc, us))
        dp = [pi * (ui - pu) for pi, ui in zip(p, us)]
        dps = [pi * (abs(ui) + pau) for pi, ui in zip(pc, us)]
        if op == "lse":
            wo = mp.mpf(w[o])
            y[o] = (m + ls, max(abs(m), ls * cmax))
            for j, k in enumerate(idx):
                g[k] = (wo * p[j], abs(wo) * pc[j])
                h[k] = (wo * dp[j], abs(wo) * dps[j])
            continue
        ws = [mp.mpf(w[k]) for k in idx]
        wp = mp.fsum(wi * pi for wi, pi in zip(ws, p))
        wap = mp.fsum(abs(wi) * pi for wi, pi in zip(ws, pc))
        sw, saw = mp.fsum(ws), mp.fsum(abs(wi) for wi in ws)
        wdp = mp.fsum(wi * di for wi, di in zip(ws, dp))
        wadp = mp.fsum(abs(wi) * di for wi, di in zip(ws, dps))
        for j, k in enumerate(idx):
            if op == "softmax":
                y[k] = (p[j], pc[j])
                g[k] = (p[j] * (ws[j] - wp), pc[j] * (abs(ws[j]) + wap))
                h[k] = (dp[j] * (ws[j] - wp) - p[j] * wdp,
                        dps[j] * (abs(ws[j]) + wap) + pc[j] * wadp)
            else:
                y[k] = ((xs[j] - m) - ls, max(abs(xs[j] - m), ls * cmax))
                g[k] = (ws[j] - p[j] * sw, abs(ws[j]) + pc[j] * saw)
                h[k] = (-dp[j] * sw, dps[j] * saw)
    return y, g, h


def err(got, ref):
    """The worst |got - exact| / (eps * scale); scales below 1e-290 count as 1e-290 (what
    underflows is compared absolutely); an infinite exact value must be met exactly."""
    worst = 0.0
    for a, (r, s) in zip(got, ref):
        rf = float(r)
        if math.isinf(rf) or math.isinf(a):
            if a != rf:
                return math.inf
            continue
        if math.isnan(a):
            return math.inf
        worst = max(worst, float(abs(mp.mpf(a) - r)) / (EPS * max(float(s), 1e-290)))
    return worst


def torch_side(op, axis, keep, shape, x, u, w):
    X = torch.tensor(x).reshape(shape).requires_grad_(True)
    if op == "lse":
        Y = torch.logsumexp(X, dim=axis, keepdim=bool(keep))
    elif op == "softmax":
        Y = torch.softmax(X, dim=axis)
    else:
        Y = torch.log_softmax(X, dim=axis)
    G, = torch.autograd.grad((Y * torch.tensor(w).reshape(Y.shape)).sum(), X, create_graph=True)
    H, = torch.autograd.grad((G * torch.tensor(u).reshape(shape)).sum(), X)
    return (Y.detach().reshape(-1).tolist(), G.detach().reshape(-1).tolist(),
            H.reshape(-1).tolist())


def out_size(op, axis, keep, shape):
    if op != "lse":
        return math.prod(shape)
    return math.prod(shape) // shape[axis % len(shape)]


def tapegrad_side(binary, cases):
    lines = ["%s %d %d %d %s %s %s %d %s" % (op, axis, keep, len(shape), " ".join(map(str, shape)),
             " ".join(map(repr, x)), " ".join(map(repr, u)), len(w), " ".join(map(repr, w)))
             for op, axis, keep, shape, x, u, w in cases]
    out = subprocess.run([binary], input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True).stdout.split("\n")
    return [[[float(v) for v in out[4 * i + j].split()[1:]] for j in range(4)]
            for i in range(len(cases))]


def main():
    tmp = tempfile.mkdtemp()
    src, binary = os.path.join(tmp, "dump.c"), os.path.join(tmp, "dump")
    with open(src, "w") as f:
        f.write(DUMP_C)
    subprocess.run(["cc", "-std=c11", "-O2", "-Iinclude", src, "build/libtapegrad.a",
                    "-lopenblas", "-lm", "-o", binary], check=True)
    rng = random.Random(13)
    ops = ["lse", "softmax", "log_softmax"]
    cases, kinds = [], []
    for k in range(600):  # random ranks, shapes, axes, keepdims, logit scales
        op, rank = ops[k % 3], rng.randint(1, 4)
        shape = [rng.randint(1, 4) for _ in range(rank)]
        axis, keep = rng.randint(-rank, rank - 1), rng.randint(0, 1)
        scale = rng.choice([1, 10, 100, 700])
        x = [scale * rng.uniform(-1, 1) for _ in range(math.prod(shape))]
        u = [rng.uniform(-1, 1) for _ in x]
        w = [rng.uniform(-2, 2) for _ in range(out_size(op, axis, keep, shape))]
        cases.append((op, axis, keep, shape, x, u, w))
        kinds.append("random, logits to +-700")
    for k in range(90):  # logits near the largest double
        op, shape = ops[k % 3], [rng.randint(2, 4), rng.randint(2, 4)]
        axis, keep = rng.choice([-2, -1, 0, 1]), k % 2
        x = [rng.choice([1e308, -1e308, 1.7e308, 1e308 * rng.uniform(0.999, 1)])
             for _ in range(math.prod(shape))]
        u = [rng.uniform(-1, 1) for _ in x]
        w = [rng.uniform(-2, 2) for _ in range(out_size(op, axis, keep, shape))]
        cases.append((op, axis, keep, shape, x, u, w))
        kinds.append("logits near +-1e308")
    tg = tapegrad_side(binary, cases)
    stats = {}
    for case, kind, (ty, tgr, tdi, th) in zip(cases, kinds, tg):
        op, axis, keep, shape, x, u, w = case
        ry, rg, rh = reference(op, shape, axis, x, u, w)
        py, pg, ph = torch_side(*case)
        s = stats.setdefault((op, kind), {"cases": 0})
        s["cases"] += 1
        for name, v in [("tg y", err(ty, ry)), ("pt y", err(py, ry)), ("tg g", err(tgr, rg)),
                        ("tg d", err(tdi, rg)), ("pt g", err(pg, rg)), ("tg h", err(th, rh)),
                        ("pt h", err(ph, rh))]:
            s[name] = max(s.get(name, 0.0), v)
    print("Worst error in units of eps times the magnitude of the terms, against mpmath:")
    print("| op | inputs | cases | value: tapegrad, PyTorch | gradient: tapegrad (tg_diff), "
          "PyTorch | H u: tapegrad, PyTorch |")
    print("| --- | --- | --- | --- | --- | --- |")
    names = {"lse": "logsumexp", "softmax": "softmax", "log_softmax": "log_softmax"}
    for (op, kind), s in sorted(stats.items()):
        print("| %s | %s | %d | %.2g, %.3g | %.2g (%.2g), %.3g | %.2g, %.3g |" % (
            names[op], kind, s["cases"], s["tg y"], s["pt y"], s["tg g"], s["tg d"], s["pt g"],
            s["tg h"], s["pt h"]))

    # one_hot against torch.nn.functional.one_hot
    labels = []
    for _ in range(200):
        n, classes = rng.randint(1, 20), rng.randint(1, 10)
        ls = [float(rng.randrange(classes)) for _ in range(n)]
        labels.append(("one_hot", classes, 0, [n], ls, [0.0] * n, [0.0]))
    same = sum(t[0] == [float(v) for v in torch.nn.functional.one_hot(
        torch.tensor([int(v) for v in case[4]]), case[1]).reshape(-1).tolist()]
        for case, t in zip(labels, tapegrad_side(binary, labels)))
    print("one_hot: %d of %d label vectors as torch.nn.functional.one_hot gives them\n"
          % (same, len(labels)))

    # single points, in units in the last place of the exact value
    # (label, case, which output: 0 y, 1 gradient, 3 H u, element)
    lse2 = lambda x: ("lse", 0, 0, [2], x, [1, 0], [1])
    points = [("logsumexp([1e308, 1e308]), d/dx0", lse2([1e308, 1e308]), 1, 0),
              ("logsumexp([1e308, 1e308]), d2/dx0^2", lse2([1e308, 1e308]), 3, 0),
              ("logsumexp([600, 599]), d/dx0", lse2([600.0, 599.0]), 1, 0),
              ("logsumexp([0, -40])", lse2([0.0, -40.0]), 0, 0),
              ("log_softmax([40, 0, -3])[0]",
               ("log_softmax", 0, 0, [3], [40.0, 0.0, -3.0], [1, 0, 0], [1, 0, 0]), 0, 0),
              ("log_softmax([0, -700])[0]",
               ("log_softmax", 0, 0, [2], [0.0, -700.0], [1, 0], [1, 0]), 0, 0)]
    tg = tapegrad_side(binary, [p[1] for p in points])
    print("\n| point | exact | tapegrad | PyTorch |")
    print("| --- | --- | --- | --- |")
    for (label, case, q, e), t in zip(points, tg):
        op, axis, keep, shape, x, u, w = case
        ref = reference(op, shape, axis, x, u, w)[{0: 0, 1: 1, 3: 2}[q]][e][0]
        pt = torch_side(*case)[{0: 0, 1: 1, 3: 2}[q]][e]

        def ulps(a):
            rf = float(ref)
            return "%.3g ulp (%.17g)" % (float(abs(mp.mpf(a) - ref)) / math.ulp(abs(rf)), a)
        print("| %s | %.17g | %s | %s |" % (label, float(ref), ulps(t[q][e]), ulps(pt)))


if __name__ == "__main__":
    main()
