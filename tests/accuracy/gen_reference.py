#!/usr/bin/env python3
"""gen_reference.py - the accuracy reference for every elementwise op: f, f' and f'' at points
over -700..700 (dense in the tails and near each op's special points) and beyond, computed with
mpmath at 60 digits and checked again at 90, written to tests/data/accuracy.tsv.

Run once when an op or a point is added (python3 tests/accuracy/gen_reference.py); the tests read
the table and need no Python. Each row holds the exact values as the double nearest each and the
rest in its last place ("0.1+0.4u", so the tests measure errors in fractions of an ULP);
a value below the smallest normal double is written 0 and one beyond the largest double inf, as
the ops must answer there.

Adding an op is one line in OPS: its name as the registry knows it, which operand varies (the
other is the constant given), f, f', f'' as mpmath expressions of x, its domain and its own
special points. With --constants it prints the constants the ops take near the roots of
silu', silu'' and gelu' instead. See LICENSE.
"""
import math
import os
import random
import sys

import mpmath as mp
from mpmath import mpf

# ---- the functions, written in forms that lose nothing at any working precision ----


def sig(x):
    return 1 / (1 + mp.exp(-x))


def dsig(x):  # e^-|x| / (1 + e^-|x|)^2
    e = mp.exp(-abs(x))
    return e / (1 + e) ** 2


def d2sig(x):
    return -dsig(x) * mp.tanh(x / 2)


def d3sig(x):  # s'(1 - 6 s'), with s' computed without cancellation
    return dsig(x) * (1 - 6 * dsig(x))


def phi(x):
    return mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def Phi(x):
    if abs(x) > 1e4:  # mpmath's erfc cannot take it; the tail is e^(-5e7) from 0 or 1
        return mpf(1) - mp.exp(-x * x / 2) if x > 0 else mpf(0)
    return mp.erfc(-x / mp.sqrt(2)) / 2


def sech2(x):
    return mp.sech(x) ** 2


def step(x):
    return mpf(1) if x > 0 else mpf(0)


def sign(x):
    return mpf((x > 0) - (x < 0))


def slu1(x):  # silu' = s(x) + x s'(x)
    return sig(x) + x * dsig(x)


def slu2(x):  # silu'' = s'(x) (2 - x tanh(x/2))
    return dsig(x) * (2 - x * mp.tanh(x / 2))


def slu3(x):  # silu''' = 3 s'' + x s'''
    return 3 * d2sig(x) + x * d3sig(x)


def d4sig(x):  # s'''' = s''(1 - 12 s')
    return d2sig(x) * (1 - 12 * dsig(x))


def slu4(x):
    return 4 * d3sig(x) + x * d4sig(x)


def tanh3(x):
    return sech2(x) * (4 * mp.tanh(x) ** 2 - 2 * sech2(x))


def tanh4(x):
    return 8 * mp.tanh(x) * sech2(x) * (2 * sech2(x) - mp.tanh(x) ** 2)


def derf(x):  # erf' = 2/sqrt(pi) e^(-x^2)
    return 2 / mp.sqrt(mp.pi) * mp.exp(-x * x)


def pos(x):
    return x > 0


def anywhere(x):
    return True


def finite_pow(c):
    return lambda x: x > 0 or float(c).is_integer()


# name, operand that varies (0 or 1), the other operand (None for unary ops), f, f', f'',
# domain, special points (extra x where f, f' or f'' has a root, a kink or a change of form).
OPS = [
    ("abs", 0, None, abs, sign, lambda x: mpf(0), anywhere, []),
    ("atan", 0, None, mp.atan, lambda x: 1 / (1 + x * x), lambda x: -2 * x / (1 + x * x) ** 2,
     anywhere, []),
    ("atan_d1", 0, None, lambda x: 1 / (1 + x * x), lambda x: -2 * x / (1 + x * x) ** 2,
     lambda x: (6 * x * x - 2) / (1 + x * x) ** 3, anywhere, ["sqrt(3)/3"]),
    ("atan_d2", 0, None, lambda x: -2 * x / (1 + x * x) ** 2, lambda x: (6 * x * x - 2) / (1 + x * x) ** 3,
     lambda x: 24 * x * (1 - x * x) / (1 + x * x) ** 4, anywhere, ["sqrt(3)/3"]),
    ("cos", 0, None, mp.cos, lambda x: -mp.sin(x), lambda x: -mp.cos(x), anywhere, ["pi/2", "pi", "3*pi/2"]),
    ("div", 0, 3.0, lambda x: x / 3, lambda x: mpf(1) / 3, lambda x: mpf(0), anywhere, []),
    ("div", 1, 1.0, lambda x: 1 / x, lambda x: -1 / x**2, lambda x: 2 / x**3, lambda x: x != 0, []),
    ("erf", 0, None, mp.erf, derf, lambda x: -2 * x * derf(x), anywhere, []),
    ("erf_d1", 0, None, derf, lambda x: -2 * x * derf(x), lambda x: (4 * x * x - 2) * derf(x),
     anywhere, ["sqrt(2)/2"]),
    ("erf_d2", 0, None, lambda x: -2 * x * derf(x), lambda x: (4 * x * x - 2) * derf(x),
     lambda x: (12 * x - 8 * x ** 3) * derf(x), anywhere, ["sqrt(2)/2"]),
    ("exp", 0, None, mp.exp, mp.exp, mp.exp, anywhere, ["log(2)"]),
    ("expm1", 0, None, mp.expm1, mp.exp, mp.exp, anywhere, []),
    ("gelu_d1", 0, None, lambda x: Phi(x) + x * phi(x), lambda x: (2 - x * x) * phi(x),
     lambda x: x * (x * x - 4) * phi(x), anywhere, ["sqrt(2)", "root(gelu1, -0.75)", "2"]),
    ("gelu_d2", 0, None, lambda x: (2 - x * x) * phi(x), lambda x: x * (x * x - 4) * phi(x),
     lambda x: (-x**4 + 7 * x * x - 4) * phi(x), anywhere, ["sqrt(2)", "2"]),
    ("gelu", 0, None, lambda x: x * Phi(x), lambda x: Phi(x) + x * phi(x),
     lambda x: (2 - x * x) * phi(x), anywhere, ["sqrt(2)", "root(gelu1, -0.75)"]),
    ("leaky_relu", 0, 0.01, lambda x: x if x > 0 else mpf(0.01) * x,
     lambda x: mpf(1) if x > 0 else mpf(0.01), lambda x: mpf(0), lambda x: x != 0, []),
    ("log1p", 0, None, mp.log1p, lambda x: 1 / (1 + x), lambda x: -1 / (1 + x) ** 2,
     lambda x: x > -1, ["1 - 2**-30", "0.5"]),
    ("log", 0, None, mp.log, lambda x: 1 / x, lambda x: -1 / x**2, pos, ["1"]),
    ("mul", 0, 3.0, lambda x: 3 * x, lambda x: mpf(3), lambda x: mpf(0), anywhere, []),
    ("neg", 0, None, lambda x: -x, lambda x: mpf(-1), lambda x: mpf(0), anywhere, []),
    ("normcdf", 0, None, Phi, phi, lambda x: -x * phi(x), anywhere, []),
    ("normpdf", 0, None, phi, lambda x: -x * phi(x), lambda x: (x * x - 1) * phi(x), anywhere, ["1"]),
    ("normpdf_d1", 0, None, lambda x: -x * phi(x), lambda x: (x * x - 1) * phi(x),
     lambda x: x * (3 - x * x) * phi(x), anywhere, ["1", "sqrt(3)"]),
    ("normpdf_d2", 0, None, lambda x: (x * x - 1) * phi(x), lambda x: x * (3 - x * x) * phi(x),
     lambda x: (x**4 - 6 * x * x + 3) * phi(x), anywhere, ["1", "sqrt(3)"]),
    ("pow", 0, 2.0, lambda x: x**2, lambda x: 2 * x, lambda x: mpf(2), anywhere, []),
    ("pow", 0, 3.0, lambda x: x**3, lambda x: 3 * x**2, lambda x: 6 * x, anywhere, []),
    ("pow", 0, -1.0, lambda x: 1 / x, lambda x: -1 / x**2, lambda x: 2 / x**3, lambda x: x != 0, []),
    ("pow", 0, 0.5, mp.sqrt, lambda x: 1 / (2 * mp.sqrt(x)), lambda x: -1 / (4 * x * mp.sqrt(x)), pos, []),
    ("pow", 0, 2.5, lambda x: x**2.5, lambda x: 2.5 * x**1.5, lambda x: 3.75 * x**0.5, pos, []),
    ("pow_da", 0, 2.5, lambda x: 2.5 * x**1.5, lambda x: 3.75 * x**0.5, lambda x: 1.875 / mp.sqrt(x),
     pos, []),
    ("pow_db", 1, 2.0, lambda x: 2**x * mp.log(2), lambda x: 2**x * mp.log(2) ** 2,
     lambda x: 2**x * mp.log(2) ** 3, anywhere, []),
    ("pow_dab", 0, 2.0, lambda x: x * (1 + 2 * mp.log(x)), lambda x: 3 + 2 * mp.log(x),
     lambda x: 2 / x, pos, ["exp(-0.5)", "exp(-1.5)"]),
    ("pow", 1, 2.0, lambda x: 2**x, lambda x: 2**x * mp.log(2), lambda x: 2**x * mp.log(2) ** 2, anywhere, []),
    ("pow", 1, 0.5, lambda x: mpf(0.5)**x, lambda x: -mpf(0.5)**x * mp.log(2),
     lambda x: mpf(0.5)**x * mp.log(2) ** 2, anywhere, []),
    ("relu", 0, None, lambda x: max(x, mpf(0)), step, lambda x: mpf(0), lambda x: x != 0, []),
    ("sigmoid", 0, None, sig, dsig, d2sig, anywhere, []),
    ("sigmoid_d1", 0, None, dsig, d2sig, d3sig, anywhere, ["1.3169578969248167"]),
    ("sign", 0, None, sign, lambda x: mpf(0), lambda x: mpf(0), lambda x: x != 0, []),
    ("silu", 0, None, lambda x: x * sig(x), slu1, slu2, anywhere,
     ["root(slu1, -1.28)", "root(slu2, 2.4)"]),
    ("silu_d1", 0, None, slu1, slu2, slu3, anywhere, ["root(slu1, -1.28)", "root(slu2, 2.4)"]),
    ("silu_d2", 0, None, slu2, slu3, slu4, anywhere, ["root(slu2, 2.4)"]),
    ("sin", 0, None, mp.sin, mp.cos, lambda x: -mp.sin(x), anywhere, ["pi/2", "pi", "3*pi/2"]),
    ("softplus", 0, None, lambda x: (x if x > 0 else 0) + mp.log1p(mp.exp(-abs(x))), sig, dsig,
     anywhere, []),
    ("sqrt", 0, None, mp.sqrt, lambda x: 1 / (2 * mp.sqrt(x)), lambda x: -1 / (4 * x * mp.sqrt(x)),
     pos, []),
    ("step", 0, None, step, lambda x: mpf(0), lambda x: mpf(0), lambda x: x != 0, []),
    ("tan", 0, None, mp.tan, lambda x: 1 + mp.tan(x) ** 2,
     lambda x: 2 * mp.tan(x) * (1 + mp.tan(x) ** 2), anywhere, ["pi/2", "pi", "3*pi/2"]),
    ("tanh", 0, None, mp.tanh, sech2, lambda x: -2 * mp.tanh(x) * sech2(x), anywhere, []),
    ("tanh_d1", 0, None, sech2, lambda x: -2 * mp.tanh(x) * sech2(x), tanh3, anywhere,
     ["0.6584789484624084"]),
    ("tanh_d2", 0, None, lambda x: -2 * mp.tanh(x) * sech2(x), tanh3, tanh4, anywhere,
     ["0.6584789484624084"]),
]

# ---- the points ----


def grid():
    """x over -700..700, denser where the tails turn (|x| near 37, 354..373, 700..745) and
    beyond: the same points for every op, so ops compare at equal x."""
    mags = [1e-300, 1e-100, 1e-30, 1e-12, 1e-6, 1e-3, 0.01, 0.05]
    mags += [k / 8 for k in range(1, 41)]                 # 0.125 .. 5
    mags += [5 + k / 2 for k in range(1, 31)]             # 5 .. 20
    mags += [20 + k for k in range(1, 17)]                # 20 .. 36
    mags += [36 + k / 8 for k in range(1, 33)]            # 36 .. 40: normal tails underflow
    mags += [40 + 10 * k for k in range(1, 31)]           # 40 .. 340
    mags += [350 + k / 2 for k in range(0, 53, 2)]        # 350 .. 376: tanh' underflows
    mags += [353.75, 354.25, 354.5, 354.75, 355.25]
    mags += [380 + 20 * k for k in range(0, 16)]          # 380 .. 680
    mags += [690, 695, 699, 700]
    beyond = [705, 708, 708.25, 708.5, 709, 709.5, 709.75, 710, 715, 720, 730, 740, 745, 746,
              750, 800, 1000, 1e4, 1e10, 1e100, 1e300]
    rng = random.Random(13)
    rand = [rng.uniform(0, 1) * 10 ** rng.uniform(-2, mp.log10(700)) for _ in range(40)]
    xs = {0.0}
    for m in mags + beyond + rand:
        xs.add(float(m))
        xs.add(-float(m))
    return sorted(xs)


def specials(exprs):
    """The doubles nearest each special point and their two neighbours on each side."""
    out = []
    for s in exprs:
        for sgn in (1, -1):
            v = float(sgn * eval_expr(s))
            for k in range(-2, 3):
                out.append(step_ulps(v, k))
    return out


def root(fn, guess):
    with mp.workdps(60):
        return mp.findroot(fn, mpf(guess))


def gelu1(x):
    return Phi(x) + x * phi(x)


def eval_expr(s):
    with mp.workdps(60):
        return mp.mpmathify(eval(s, {"pi": mp.pi, "log": mp.log, "sqrt": mp.sqrt, "exp": mp.exp,
                                     "root": root,
                                     "slu1": slu1, "slu2": slu2, "gelu1": gelu1}))


def step_ulps(v, k):
    import math
    for _ in range(abs(k)):
        v = math.nextafter(v, math.inf if k > 0 else -math.inf)
    return v


# ---- rounding to double as the ops must answer ----

DBL_MIN = mpf(2) ** -1022
OVERFLOW = mpf(2) ** 1024 - mpf(2) ** 970  # from here on a value rounds to inf


def show(v):
    """v as the double nearest it and the rest in units of that double's last place, to 3
    decimals ("0.1+0.4u": 0.1 + 0.4 ulp(0.1), ulp(h) = 2^(ilogb(h) - 52)): the tests measure
    errors to a thousandth of an ULP from them in double arithmetic alone."""
    if mp.isinf(v) or abs(v) >= OVERFLOW:
        return "inf" if v > 0 else "-inf"
    if v == 0 or abs(v) < DBL_MIN:
        return "-0" if v < 0 else "0"
    hi = float(v)
    ulp = mpf(2) ** (math.frexp(hi)[1] - 53)
    r = (v - mpf(hi)) / ulp
    if abs(r) > 0.5:
        raise SystemExit(f"{v} did not round to nearest: {hi!r}")
    r = round(float(r), 3)
    return repr(hi) if r == 0 else "%r%+.3fu" % (hi, r)


def value(fn, x, dps):
    with mp.workdps(dps):
        return fn(mpf(x))


def agree(a, b):
    if a == b:
        return True
    return abs(a - b) <= mpf(10) ** -30 * max(abs(a), abs(b))


def split(v):
    """v as a double and the double nearest the rest."""
    hi = float(v)
    return hi, float(v - hi)


def constants():
    """The constants ops/silu_d1.c, ops/silu_d2.c and ops/gelu_d1.c take near their roots:
    each root as a double and the rest, and the Taylor coefficients of gelu' at its root."""
    with mp.workdps(60):
        x0 = root(slu1, -1.28)  # 1 + x + e^x = 0
        r = root(slu2, 2.4)     # 2 - r + (2 + r) e^-r = 0
        g0 = root(gelu1, -0.75)
        print("silu' root x0: %r, %r; e^x0 = -1 - x0: %r" % (*split(x0), float(mp.exp(x0))))
        print("silu'' root r: %r, %r; r - 2: %r" % (*split(r), float(r - 2)))
        print("gelu' root: %r, %r" % split(g0))
        print("gelu' Taylor coefficients at its root, c[k] = gelu^(k+1)(x0)/k!:")
        for k, c in enumerate(mp.taylor(gelu1, g0, GELU1_TERMS)):
            print("    %r,%s" % (float(c), "  /* %d */" % k))


GELU1_TERMS = 30


def main():
    if sys.argv[1:] == ["--constants"]:
        constants()
        return
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "data", "accuracy.tsv")
    xs = grid()
    rows = []
    for name, wrt, other, f, f1, f2, dom, spec in OPS:
        pts = sorted(set(x for x in xs + specials(spec) if dom(mpf(x))))
        for x in pts:
            vals = []
            for fn in (f, f1, f2):
                a, b = value(fn, x, 60), value(fn, x, 90)
                if not agree(a, b):
                    raise SystemExit(f"{name} at {x!r}: {a} at 60 digits, {b} at 90")
                vals.append(show(a))
            rows.append((name, str(wrt), "-" if other is None else repr(other), repr(x), *vals))
    with open(out, "w") as fh:
        fh.write("# tests/accuracy/gen_reference.py wrote this: op, operand varied, the other "
                 "operand, x, f, f', f'' (exact: the nearest double, then the rest in units of its "
                 "last place; 0 below the normal range, inf beyond the largest double)\n")
        fh.write("op\twrt\tother\tx\tf\tf1\tf2\n")
        for r in rows:
            fh.write("\t".join(r) + "\n")
    print(f"{len(rows)} rows for {len(OPS)} op forms written to {out}")


if __name__ == "__main__":
    main()
