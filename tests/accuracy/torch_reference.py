#!/usr/bin/python3
"""torch_reference.py - PyTorch's figures at the points of tests/data/accuracy.tsv, to quote
beside tapegrad's in docs/ops.md: f, f' and f'' of each op form by float64 autograd (f' from
grad of the sum, f'' from grad of that with create_graph), all points of a form as one tensor,
and the largest error of each order in ULPs of the exact value where that is a normal double
("wrong" for 0 or inf there); where it is not (0 or inf), how many answers are something else. Writes tests/data/accuracy_torch.tsv;
run with the system Python that has torch (tests never need it). With --at OP X it prints the
three values and their errors at one point instead; with --highlights [TAPEGRAD] the rows of
docs/ops.md's table of points where PyTorch loses digits that tapegrad keeps. See LICENSE.
"""
import math
import os
import re
import sys
from fractions import Fraction

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "data", "accuracy.tsv")
OUT = os.path.join(HERE, "..", "data", "accuracy_torch.tsv")


def normpdf(x):
    return torch.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def step(x):
    return (x > 0).to(x.dtype)


# the table's label -> what a PyTorch user writes (the helper ops tapegrad adds for its own
# derivatives, sigmoid_d1 and the like, have no PyTorch counterpart and are left out)
TORCH = {
    "abs": torch.abs, "cos": torch.cos, "div(x, 3)": lambda x: x / 3,
    "div(1, x)": lambda x: 1 / x, "exp": torch.exp, "gelu": F.gelu,
    "leaky_relu(x, 0.01)": lambda x: F.leaky_relu(x, 0.01), "log": torch.log,
    "mul(x, 3)": lambda x: x * 3, "neg": torch.neg, "normcdf": torch.special.ndtr,
    "normpdf": normpdf, "pow(x, 2)": lambda x: x**2, "pow(x, 3)": lambda x: x**3,
    "pow(x, -1)": lambda x: x**-1, "pow(x, 0.5)": lambda x: x**0.5,
    "pow(x, 2.5)": lambda x: x**2.5, "pow(2, x)": lambda x: torch.pow(2.0, x),
    "pow(0.5, x)": lambda x: torch.pow(0.5, x), "relu": torch.relu, "sigmoid": torch.sigmoid,
    "silu": F.silu, "sin": torch.sin, "softplus": F.softplus, "sqrt": torch.sqrt,
    "step": step, "tanh": torch.tanh, "atan": torch.atan, "erf": torch.erf,
    "expm1": torch.expm1, "log1p": torch.log1p, "sign": torch.sign, "tan": torch.tan,
}

DBL_MIN = 2.0**-1022


def label(op, wrt, other):
    if other == "-":
        return op
    o = "%g" % float(other)
    return "%s(x, %s)" % (op, o) if wrt == "0" else "%s(%s, x)" % (op, o)


def exact_value(s):
    """The table's "0.1+0.4u" (the nearest double h, then the rest in units of
    ulp(h) = 2^(ilogb(h) - 52)) as a fraction."""
    m = re.match(r"^([-+]?[0-9.]+(?:e[-+]?[0-9]+)?)(?:([-+][0-9.]+)u)?$", s)
    h = float(m.group(1))
    ulp = Fraction(2) ** (math.frexp(h)[1] - 53)
    return Fraction(h) + (Fraction(m.group(2)) * ulp if m.group(2) else 0)


def ulps(got, exact):
    """|got - exact| in ULPs of the exact value (as the table writes it)."""
    if exact in ("0", "-0", "inf", "-inf"):
        want = float(exact)
        return 0.0 if got == want else math.inf
    if not math.isfinite(got):
        return math.inf
    e = exact_value(exact)
    m, k = math.frexp(float(e))
    ulp = Fraction(2) ** (k - 53)
    if abs(e) < abs(Fraction(math.ldexp(0.5, k))):  # just below a power of two
        ulp /= 2
    err = float(abs(Fraction(got) - e) / ulp)
    return 0.0 if err < 1e-3 else err  # the table's rest has 3 decimals


def derivatives(fn, xs):
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    y = fn(x)
    g = None
    if y.requires_grad:  # step's comparison is a constant to autograd
        (g,) = torch.autograd.grad(y.sum(), x, create_graph=True, allow_unused=True)
    if g is None:
        g = torch.zeros_like(x)
    if g.requires_grad:
        (h,) = torch.autograd.grad(g.sum(), x, allow_unused=True)
        h = torch.zeros_like(x) if h is None else h
    else:
        h = torch.zeros_like(x)
    return [(v.detach() + torch.zeros_like(x)).tolist() for v in (y, g, h)]


def read():
    forms = {}
    with open(REFERENCE) as fh:
        for line in fh:
            if line.startswith("#") or line.startswith("op\t"):
                continue
            op, wrt, other, x, f, f1, f2 = line.rstrip("\n").split("\t")
            forms.setdefault(label(op, wrt, other), []).append((float(x), (f, f1, f2)))
    return forms


# Points where PyTorch loses digits that tapegrad keeps, quoted in docs/ops.md: op, order, x.
HIGHLIGHTS = [
    ("sigmoid", 1, 30.0), ("sigmoid", 1, 40.0), ("sigmoid", 2, 40.0), ("tanh", 1, 20.0),
    ("tanh", 2, 20.0), ("softplus", 0, 21.0), ("softplus", 2, 33.0), ("softplus", 2, 36.0),
    ("silu", 1, -1.278464542761074), ("silu", 2, 40.0), ("gelu", 0, -12.5),
    ("gelu", 1, -0.7517915246935645), ("gelu", 2, -1.4142135623730951), ("normcdf", 0, -30.0),
    ("normpdf", 0, -33.5397328554661), ("normpdf", 2, -0.9999999999999999),
    ("expm1", 1, -40.0), ("expm1", 2, -700.0), ("erf", 1, -23.43226264834448), ("erf", 2, -23.43226264834448),
    ("atan", 2, 1e100),
]


def highlights(tapegrad):
    """The rows of docs/ops.md's table of those points; tapegrad's answers from the command
    (grad --order 2 --json: tg_diff once and twice), which tests/test_accuracy.c checks."""
    import json
    import subprocess
    forms = read()
    for name, o, x in HIGHLIGHTS:
        exact = [r for r in forms[name] if r[0] == x][0][1][o]
        mine = json.loads(subprocess.run(
            [tapegrad, "grad", "%s(x)" % name, "--at", "x=%r" % x, "--order", "2", "--json"],
            capture_output=True, text=True, check=True).stdout)
        mine = [mine["value"], mine["grad"]["x"], mine["second"]["x"]][o]
        theirs = derivatives(TORCH[name], [x])[o][0]
        print("| %s%s(%.17g) | %.6e | %.17g (%.2g ULP) | %.17g (%.2g ULP) |" % (
            name, ["", "′", "″"][o], x, float(exact_value(exact)), mine, ulps(mine, exact), theirs,
            ulps(theirs, exact)))


def main():
    if sys.argv[1:2] == ["--highlights"]:
        highlights(sys.argv[2] if len(sys.argv) > 2 else "build/bin/tapegrad")
        return
    forms = read()
    if sys.argv[1:2] == ["--at"]:
        name, x = sys.argv[2], float(sys.argv[3])
        rows = [r for r in forms[name] if r[0] == x]
        vals = derivatives(TORCH[name], [x])
        for o in range(3):
            exact = rows[0][1][o] if rows else "?"
            err = ulps(vals[o][0], exact) if rows else math.nan
            print("%s f%s(%r): torch %r, exact %s, %.3g ULP" % (name, "'" * o, x, vals[o][0], exact, err))
        return
    with open(OUT, "w") as out:
        out.write("# tests/accuracy/torch_reference.py wrote this (torch %s): op form, order, the "
                  "largest error in ULPs over the points of tests/data/accuracy.tsv where the "
                  "exact value is a normal double, the x where it is, and at how many points "
                  "where it is not (0 or inf) the answer is something else (a subnormal)\n"
                  % torch.__version__)
        for name, rows in forms.items():
            if name not in TORCH:
                continue
            vals = derivatives(TORCH[name], [r[0] for r in rows])
            for o in range(3):
                worst, at, other = 0.0, rows[0][0], 0
                for i, (x, exact) in enumerate(rows):
                    e = ulps(vals[o][i], exact[o])
                    if exact[o] in ("0", "-0", "inf", "-inf"):
                        other += e != 0
                    elif e > worst:
                        worst, at = e, x
                out.write("%s\t%d\t%s\t%r\t%d\n" % (name, o, "wrong" if math.isinf(worst) else "%.6g" % worst, at, other))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
