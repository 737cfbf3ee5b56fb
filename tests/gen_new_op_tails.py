#!/usr/bin/env python3
"""Prints the rows of tails[] in tests/test_gradcheck.c: the new elementwise functions (issue
13), their first and second derivatives at points that show the digit-keeping forms, from
mpmath at 50 digits rounded to the nearest double. Run it once with mpmath installed (SymPy
brings it) and paste its output; the tests themselves need no Python. See LICENSE."""
import mpmath as mp

mp.mp.dps = 50

FUNCS = {
    "log1p": lambda x: (mp.log1p(x), 1 / (1 + x), -1 / (1 + x) ** 2),
    "expm1": lambda x: (mp.expm1(x), mp.exp(x), mp.exp(x)),
    "tan": lambda x: (mp.tan(x), 1 + mp.tan(x) ** 2, 2 * mp.tan(x) * (1 + mp.tan(x) ** 2)),
    "atan": lambda x: (mp.atan(x), 1 / (1 + x * x), -2 * x / (1 + x * x) ** 2),
    "erf": lambda x: (mp.erf(x), 2 / mp.sqrt(mp.pi) * mp.exp(-x * x),
                      -4 * x / mp.sqrt(mp.pi) * mp.exp(-x * x)),
}

# (op, x, graph): graph 0 where the recorded rule is not held to the bound (see the test)
POINTS = [
    ("log1p", 1e-10, 1), ("log1p", -1 + 2.0 ** -30, 1), ("log1p", -0.75, 1), ("log1p", 3.0, 1),
    ("log1p", 1e15, 1),
    ("expm1", 1e-10, 1), ("expm1", -1e-7, 1), ("expm1", -40.0, 1), ("expm1", -700.0, 1),
    ("expm1", 3.0, 1), ("expm1", 700.0, 1),
    ("tan", 1.5707963267948966, 1), ("tan", -1.5707963267948966, 1), ("tan", 1e-8, 1),
    ("tan", 0.75, 1), ("tan", 100.0, 1), ("tan", -700.0, 1),
    ("atan", 1e-8, 1), ("atan", 0.75, 1), ("atan", -3.0, 1), ("atan", 700.0, 1),
    ("atan", 1e150, 1), ("atan", 1e200, 1),
    ("erf", 1e-8, 1), ("erf", 0.5, 1), ("erf", -3.0, 1), ("erf", 6.0, 1), ("erf", 26.0, 1),
    ("erf", -26.5, 1), ("erf", 27.5, 1), ("erf", 10.1, 0), ("erf", 25.9, 0), ("erf", -26.3, 0),
]


def c(v):
    """The nearest double, as C reads it back exactly; 0 for what is not a normal double."""
    f = float(v)
    return "0.0" if abs(f) < 2.2250738585072014e-308 else repr(f)


for op, x, graph in POINTS:
    y, d1, d2 = FUNCS[op](mp.mpf(x))
    head = '    {"%s", %s, %s, %s,' % (op, repr(x), c(y), c(d1))
    tail = ' %s, %d},' % (c(d2), graph)
    print(head + tail if len(head + tail) <= 100 else head + "\n    " + tail)
