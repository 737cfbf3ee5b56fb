"""ab.py - the library at other commits against this tree's, with this tree's benchmarks.

    /usr/bin/python3 tests/bench/ab.py [--reps 31] [--callgrind] REV [REV ...]

For every REV (a commit) and for this working tree, in that order of columns, this script
  1. builds the library: REV from `git archive` into a scratch directory, this tree with make,
  2. builds this tree's tests/bench/peers/tg_peers.c and tests/bench/record_bench.c against
     each library, with the flags of tests/bench/peers.sh and the Makefile: the benchmark
     sources are the same for every column, only the library and its headers differ. A REV
     older than the tape compiler (no tg_compile in its header) gets stubs for the compiler's
     calls, which the implementations timed here never make,
  3. runs every tg_peers once in verify mode and stops (exit status 1) unless all columns
     wrote the same bytes,
  4. runs --reps rounds; each round runs W1 hand / re-record / replay, W2 scalar / tensor and
     W3 re-record / replay once per column, as separate processes, the columns in an order
     rotated per round (CPU time per process, as peers.py measures it),
  5. prints the median [min-max] per column and, per later column, the median [min-max] of the
     per-round ratios to the first column, and W2's peak RSS; then record_bench's lines per column
     (7 runs each, interleaved) and, with --callgrind, instructions per sample, per op and per
     recorded node under valgrind.
The inputs are peers.py's. Needs numpy (for the inputs), and valgrind for --callgrind. See
LICENSE."""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # peers.py is imported for its inputs: no __pycache__ here

CC = os.environ.get("CC", "cc")
PEERS_FLAGS = "-std=c11 -Wall -Wextra -Wpedantic -Werror -O3 -g -D_POSIX_C_SOURCE=200809L".split()
BENCH_FLAGS = ("-std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes "
               "-Wmissing-prototypes -Werror -O2 -g -fPIC -fvisibility=hidden -DTG_BUILDING "
               "-D_POSIX_C_SOURCE=200809L -O3").split()
LIBS = ["-lopenblas", "-lm", "-ldl"]

# The tape compiler's calls in tg_peers.c, for a library that predates it.
STUB_H = """typedef struct tg_compiled tg_compiled;
typedef struct tg_compile_opts tg_compile_opts;
typedef double (*tg_compiled_fn)(const double *in, double *grad);
tg_compiled *tg_compile(tg_var out, const tg_compile_opts *opts);
int tg_compiled_run(tg_compiled *c);
tg_compiled_fn tg_compiled_raw(const tg_compiled *c);
int tg_compiled_inputs(const tg_compiled *c, tg_var *leaves, int max);
void tg_compiled_free(tg_compiled *c);
"""
STUB_C = """#include "tapegrad.h"
#include "stub.h"
tg_compiled *tg_compile(tg_var out, const tg_compile_opts *o) { (void)out; (void)o; return 0; }
int tg_compiled_run(tg_compiled *c) { (void)c; return 1; }
tg_compiled_fn tg_compiled_raw(const tg_compiled *c) { (void)c; return 0; }
int tg_compiled_inputs(const tg_compiled *c, tg_var *l, int m)
{
    (void)c, (void)l, (void)m;
    return 0;
}
void tg_compiled_free(tg_compiled *c) { (void)c; }
"""

PROGS = [("W1 hand-written (reference)", "W1", "hand", ["1000000"], "ns", 1),
         ("W1 re-record", "W1", "tg-record", ["1000000"], "ns", 1),
         ("W1 replay", "W1", "tg-replay", ["1000000"], "ns", 1),
         ("W2 scalar, per gradient", "W2", "tg-scalar", ["1000000", "2"], "ns", 1e6),
         ("W2 tensor ops, per gradient", "W2", "tg-tensor", ["1000000", "2"], "ns", 1e6),
         ("W3 re-record, 20 epochs", "W3", "tg-record", ["0"], "ns", 1e6),
         ("W3 replay, 20 epochs", "W3", "tg-replay", ["0"], "ns", 1e6)]


def run(argv, **kw):
    return subprocess.run(argv, check=True, **kw)


def build(name, tree, lib, scratch):
    """tg_peers and record_bench of this tree's sources against tree's headers and lib."""
    inc = ["-I" + os.path.join(tree, "include")]
    extra = []
    with open(os.path.join(tree, "include", "tapegrad.h")) as f:
        if "tg_compile(" not in f.read():
            d = os.path.join(scratch, name + "-stub")
            os.makedirs(d, exist_ok=True)
            open(os.path.join(d, "stub.h"), "w").write(STUB_H)
            open(os.path.join(d, "stub.c"), "w").write(STUB_C)
            inc += ["-I" + d, "-include", "tapegrad.h", "-include", "stub.h"]
            extra = [os.path.join(d, "stub.c")]
    peers = os.path.join(scratch, name + "-tg_peers")
    rec = os.path.join(scratch, name + "-record_bench")
    run([CC] + PEERS_FLAGS + inc + ["-o", peers, os.path.join(HERE, "peers", "tg_peers.c")] +
        extra + [lib] + LIBS)
    run([CC] + BENCH_FLAGS + ["-I" + os.path.join(tree, "include"), "-o", rec,
                              os.path.join(HERE, "record_bench.c"), lib] + LIBS)
    return peers, rec


def keyvals(text):
    kv = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        try:
            kv[k] = float(v)
        except ValueError:
            pass
    return kv


def cell(v, nd):
    return f"{statistics.median(v):.{nd}f} [{min(v):.{nd}f}–{max(v):.{nd}f}]"


def callgrind(prog, args, fn, scratch):
    """Instructions run inside fn and what it calls (valgrind, collecting only there).
    record_bench 300000 1 records its chain twice (a warm-up, one repetition): 200,000 calls
    of each builder."""
    out = os.path.join(scratch, "cg.out")
    run(["valgrind", "--tool=callgrind", "--toggle-collect=" + fn,
         "--callgrind-out-file=" + out, prog] + args,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        m = re.search(r"^summary: (\d+)", f.read(), re.M)
    return int(m.group(1)) if m else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("revs", nargs="+", metavar="REV")
    ap.add_argument("--reps", type=int, default=31)
    ap.add_argument("--callgrind", action="store_true")
    args = ap.parse_args()
    scratch = tempfile.mkdtemp(prefix="tapegrad-ab-")
    try:
        return compare(args, scratch)
    finally:
        shutil.rmtree(scratch)


def compare(args, scratch):
    import peers  # numpy, for the inputs
    data = os.path.join(scratch, "data")
    os.makedirs(data)
    peers.write_inputs(data, False)
    cols = []
    for rev in args.revs:
        tree = os.path.join(scratch, rev)
        os.makedirs(tree)
        arch = run(["git", "-C", ROOT, "archive", rev], capture_output=True).stdout
        run(["tar", "-x", "-C", tree], input=arch)
        run(["make", "-s", "-C", tree, "-j2", "build/libtapegrad.a"])
        cols.append((rev, *build(rev, tree, os.path.join(tree, "build", "libtapegrad.a"),
                                 scratch)))
    run(["make", "-s", "-C", ROOT, "-j2", "build/libtapegrad.a"])
    cols.append(("this tree", *build("tree", ROOT, os.path.join(ROOT, "build", "libtapegrad.a"),
                                     scratch)))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", TG_PEERS_CLOCK="cpu")
    for w, impls in (("W1", ("hand", "tg-record", "tg-replay")),
                     ("W2", ("hand", "tg-scalar", "tg-tensor")),
                     ("W3", ("hand", "tg-record", "tg-replay")),
                     ("W4", ("hand", "tg-record", "tg-replay"))):
        for impl in impls:
            outs = []
            for name, prog, _ in cols:
                path = os.path.join(data, f"{w}-{impl}-{len(outs)}.out")
                run([prog, data, w, impl, "verify", path], env=env, cwd=data,
                    stdout=subprocess.DEVNULL)
                outs.append(open(path, "rb").read())
            if any(o != outs[0] for o in outs):
                print(f"ab: {w} {impl}: the columns computed different results")
                return 1
    print("verify: every column wrote the same bytes (W1-W4, hand-written and tapegrad)")
    res = {(p[0], c[0]): [] for p in PROGS for c in cols}
    loads = []
    for r in range(args.reps):
        loads.append(os.getloadavg()[0])
        for label, w, impl, extra, _, _ in PROGS:
            for name, prog, _ in cols[r % len(cols):] + cols[:r % len(cols)]:
                out = run([prog, data, w, impl, "time"] + extra, env=env, cwd=data,
                          capture_output=True, text=True).stdout
                res[(label, name)].append(keyvals(out))
    loads.append(os.getloadavg()[0])
    print(f"{args.reps} rounds, load average {min(loads):.1f}-{max(loads):.1f}; "
          "median [min-max]; ratios: per round, to the first column\n")
    print("| | " + " | ".join(c[0] for c in cols) + " | " +
          " | ".join(f"{c[0]} / {cols[0][0]}" for c in cols[1:]) + " |")
    print("| --- " * (2 * len(cols)) + "|")
    rows = []
    for label, w, impl, _, _, scale in PROGS:
        rows.append((label, label, "ns", scale))
        if impl == "tg-scalar":
            rows += [("– its recording", label, "record_ns", scale),
                     ("– its backward", label, "backward_ns", scale)]
    for title, label, key, scale in rows:
        v = {c[0]: [kv[key] / scale for kv in res[(label, c[0])]] for c in cols}
        unit, nd = ("ns", 1) if scale == 1 else ("ms", 2)
        ratios = [[b / a for a, b in zip(v[cols[0][0]], v[c[0]])] for c in cols[1:]]
        print(f"| {title} | {cell(v[cols[0][0]], nd)} {unit} | " +
              " | ".join(cell(v[c[0]], nd) for c in cols[1:]) + " | " +
              " | ".join(cell(r, 3) for r in ratios) + " |")
    print("\nW2 peak RSS (scalar; tensor), median: " + ", ".join(
        c[0] + " " + "; ".join(
            f"{statistics.median(kv['vmhwm_kib'] for kv in res[(p[0], c[0])]) / 1024:.1f}"
            for p in PROGS if p[1] == "W2") + " MiB" for c in cols))
    print("\nrecord_bench, 7 runs per column, interleaved (median of the runs' medians):")
    rb = {c[0]: [] for c in cols}
    for _ in range(7):
        for name, _, rec in cols:
            out = run([rec], capture_output=True, text=True).stdout
            rb[name].append([float(x) for x in re.findall(
                r"(?:built-in builders|user's ops|user / built-in)\s+([\d.]+)", out)])
    for name in rb:
        b, u, q = (statistics.median(x[i] for x in rb[name]) for i in range(3))
        print(f"  {name}: built-in {b:.2f} ns/node, user's ops {u:.2f}, user / built-in {q:.3f}")
    if args.callgrind:
        print("\ninstructions (callgrind): W1 per sample (a warm-up and a timed pass of 20,000); "
              "W2 per op (n = 10^5, 2 passes); record_bench per node (300,000, 1 repetition)")
        ops = 2 * (8 * (100000 - 1) - 1)  # W2: 8 ops a term, the first term starts f
        for name, prog, rec in cols:
            r1 = callgrind(prog, [data, "W1", "tg-replay", "time", "20000"], "w1_run", scratch)
            r2 = callgrind(prog, [data, "W1", "tg-record", "time", "20000"], "w1_run", scratch)
            w2 = [data, "W2", "tg-scalar", "time", "100000", "2"]
            rec2 = callgrind(prog, w2, "w2_record_scalar", scratch)
            bwd = callgrind(prog, w2, "tg_backward", scratch)
            print(f"  {name}: W1 replay {r1 / 40000:.0f}, re-record {r2 / 40000:.0f}; "
                  f"W2 recording {rec2 / ops:.1f}, backward {bwd / ops:.1f}; record_bench " +
                  ", ".join(f"{fn} {callgrind(rec, ['300000', '1'], fn, scratch) / 200000:.1f}"
                            for fn in ("tg_add", "u_add", "tg_mul", "u_mul")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
