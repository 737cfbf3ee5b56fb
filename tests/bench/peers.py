"""peers.py - issue 6: tapegrad against the hand-written C, ADOL-C and PyTorch, side by side.

    /usr/bin/python3 tests/bench/peers.py --bin DIR [--reps 5] [--only W1,W2,W3,W4]
                                          [--plot docs/img/w2_scaling.png] [--quick] [-v]

DIR holds tg_peers (hand-written C and tapegrad), adolc_peers (ADOL-C) and torch_peers.py is
found next to this file. For every workload this script
  1. writes the inputs once (raw float64/int32 files; every implementation reads the same ones),
  2. runs every implementation once in "verify" mode and compares its numbers with the
     hand-written C's: the worst |a - b| / max|reference| over each quantity must be <= 1e-9,
     or the script stops with exit status 1 before timing anything,
  3. runs --reps rounds; each round runs every implementation once, as its own process, in an
     order rotated per round; a process does a warm-up and one timed pass and reports its
     time and its peak RSS (VmHWM from /proc/self/status at the end),
  4. prints the median, min-max, the ratio to the hand-written C (median of the per-round
     ratios, min-max) and the peak RSS, then the issue-6 targets with held / MISSED.
Times are each process's CPU time by default (--clock wall for CLOCK_MONOTONIC): the VM is
shared, and under load a process measured by the wall clock got 20 % of a core.
Every process gets OPENBLAS_NUM_THREADS=1 and OMP_NUM_THREADS=1 (PyTorch also calls
torch.set_num_threads(1)): one thread everywhere. Exit status: 0 done (a missed target does
not fail the run), 1 a verification or a process failed, 2 bad arguments. See LICENSE."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
TOL = 1e-9


def fmt_t(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= div * 0.9999:
            return f"{ns / div:.4g} {unit}" if unit != "us" else f"{ns / div:.4g} us"
    return f"{ns:.4g} ns"


# ---------------------------------------------------------------- inputs

def write_inputs(d, quick):
    rng = np.random.default_rng(20261130)
    n1 = 1_000_000
    rng.uniform(-1, 1, 9).astype(np.float64).tofile(f"{d}/w1_weights.bin")
    S = np.empty((n1, 3))
    S[:, :2] = rng.uniform(-2, 2, (n1, 2))
    S[:, 2] = rng.uniform(0, 1, n1)
    S.tofile(f"{d}/w1_samples.bin")
    rng.uniform(-2, 2, 1_000_000).tofile(f"{d}/w2_x.bin")
    source = "generated (python3-sklearn not installed)"
    try:
        from sklearn.datasets import load_digits
        dg = load_digits()
        X, y = dg.data.astype(np.float64) / 16.0, dg.target.astype(np.int32)
        source = "scikit-learn digits, pixels / 16"
    except Exception:
        X = rng.integers(0, 17, (1797, 64)).astype(np.float64) / 16.0
        y = rng.integers(0, 10, 1797).astype(np.int32)
    X.tofile(f"{d}/w3_X.bin")
    y.tofile(f"{d}/w3_y.bin")
    lim1, lim2 = 1 / np.sqrt(64), 1 / np.sqrt(64)
    np.concatenate([rng.uniform(-lim1, lim1, 64 * 64), np.zeros(64),
                    rng.uniform(-lim2, lim2, 64 * 10), np.zeros(10)]).tofile(f"{d}/w3_init.bin")
    N = 512
    rng.uniform(-1, 1, 3 * N * N).tofile(f"{d}/w4_ABG.bin")
    return source


# ---------------------------------------------------------------- processes

class Runner:
    def __init__(self, args, datadir):
        self.bin, self.data, self.verbose = args.bin, datadir, args.verbose
        self.env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                        MKL_NUM_THREADS="1", TG_PEERS_CLOCK=args.clock)

    def cmd(self, prog, w, impl):
        if prog == "tg":
            return [f"{self.bin}/tg_peers", self.data, w, impl]
        if prog == "adolc":
            return [f"{self.bin}/adolc_peers", self.data, w, impl]
        return [PY, f"{HERE}/peers/torch_peers.py", self.data, w, impl]

    def run(self, argv, cwd=None):
        """Run a process; return (stdout, peak RSS in KiB from wait4)."""
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, env=self.env, cwd=cwd)
        out = p.stdout.read().decode()
        p.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            sys.stderr.write(f"peers: {' '.join(argv)} exited with {p.returncode}\n{out}")
            sys.exit(1)
        return out, ru.ru_maxrss

    def verify(self, prog, w, impl, path):
        self.run(self.cmd(prog, w, impl) + ["verify", path], cwd=self.data)
        return np.fromfile(path, dtype=np.float64)

    def time(self, prog, w, impl, n, extra=()):
        out, rss = self.run(self.cmd(prog, w, impl) + ["time", str(n)] + list(extra),
                            cwd=self.data)
        kv = {}
        for line in out.splitlines():
            k, _, v = line.partition(" ")
            try:
                kv[k] = float(v)
            except ValueError:
                kv[k] = v
        # peak RSS: the process's own VmHWM (wait4's ru_maxrss would also count the
        # driver's pages that the forked child held before exec)
        kv["rss_kib"] = kv.get("vmhwm_kib", rss)
        if self.verbose:
            print("   ", impl, {k: kv[k] for k in ("ns", "rss_kib") if k in kv}, flush=True)
        return kv


# ---------------------------------------------------------------- comparison

def compare(ref, got, segments):
    """worst |got - ref| / max|ref over the segment| over named segments"""
    if ref.shape != got.shape:
        return float("inf"), f"shape {got.shape} vs {ref.shape}"
    worst, where = 0.0, ""
    for name, idx in segments:
        r, g = ref[idx], got[idx]
        scale = np.max(np.abs(r)) or 1.0
        e = np.max(np.abs(g - r)) / scale
        if not (e <= worst):
            worst, where = (e if np.isfinite(e) else float("inf")), name
    return worst, where


def w_segments(w, ref):
    if w == "W1":
        names = ["E"] + [f"dE/dw{k}" for k in range(9)]
        return [(names[c], np.arange(c, ref.size, 10)) for c in range(10)]
    if w == "W2":
        return [("f", slice(0, 1)), ("gradient", slice(1, None))]
    if w == "W3":
        steps = ref.size - (64 * 64 + 64 + 64 * 10 + 10)
        o = steps
        segs = [("losses", slice(0, steps))]
        for name, k in (("W1", 4096), ("b1", 64), ("W2", 640), ("b2", 10)):
            segs.append((name, slice(o, o + k)))
            o += k
        return segs
    nn = ref.size // 3
    return [("Y", slice(0, nn)), ("dA", slice(nn, 2 * nn)), ("dB", slice(2 * nn, None))]


# ---------------------------------------------------------------- workloads

def workloads(quick):
    q = quick
    return {
        "W1": dict(
            title="W1 the article's 2-3-1 step: E and 9 dE/dw per sample",
            unit="per sample",
            impls=[("hand", "tg", "hand", "hand-written C (the article's delta formulas)",
                    200_000 if q else 1_000_000),
                   ("tg-replay", "tg", "tg-replay", "tapegrad replay", 200_000 if q else 1_000_000),
                   ("tg-record", "tg", "tg-record", "tapegrad re-record", 200_000 if q else 1_000_000),
                   ("tg-compiled", "tg", "tg-compiled", "tapegrad compiled (tg_compiled_run)",
                    200_000 if q else 1_000_000),
                   ("tg-raw", "tg", "tg-raw", "tapegrad compiled, raw entry point",
                    200_000 if q else 1_000_000),
                   ("adolc-reuse", "adolc", "adolc-reuse",
                    "ADOL-C tape reused (zos_forward + fos_reverse = gradient())",
                    50_000 if q else 1_000_000),
                   ("adolc-retape", "adolc", "adolc-retape",
                    "ADOL-C re-taping per sample (keep=1 + fos_reverse)", 50_000 if q else 1_000_000),
                   ("torch", "torch", "torch-scalar", "PyTorch scalar tensors (20,000 samples)",
                    5_000 if q else 20_000)]),
        "W2": dict(
            title="W2 chained Rosenbrock, n = 1,000,000: f and its gradient",
            unit="per gradient",
            impls=[("hand", "tg", "hand", "hand-written C gradient", 1_000_000),
                   ("tg-scalar", "tg", "tg-scalar", "tapegrad scalar tape: record + backward",
                    1_000_000),
                   ("tg-tensor", "tg", "tg-tensor", "tapegrad tensor ops (slice): record + backward",
                    1_000_000),
                   ("tg-compiled", "tg", "tg-compiled",
                    "tapegrad tensor ops compiled once: tg_compiled_run", 1_000_000),
                   ("tg-raw", "tg", "tg-raw",
                    "tapegrad tensor ops compiled once: fused raw entry", 1_000_000),
                   ("adolc", "adolc", "adolc", "ADOL-C taping + gradient()", 1_000_000),
                   ("torch", "torch", "torch-vec", "PyTorch vectorised", 1_000_000)]),
        "W3": dict(
            title="W3 MLP 64-64-10 tanh, softmax CE, SGD, batch 32, 20 epochs (1120 steps)",
            unit="per training run",
            impls=[("hand", "tg", "hand", "hand-written C on cblas_dgemm", 0),
                   ("tg-record", "tg", "tg-record", "tapegrad re-record per batch", 0),
                   ("tg-replay", "tg", "tg-replay", "tapegrad replay", 0),
                   ("tg-compiled", "tg", "tg-compiled", "tapegrad compiled (tg_compiled_run)", 0),
                   ("torch", "torch", "torch", "PyTorch float64", 0)]),
        "W4": dict(
            title="W4 512x512 matmul forward + backward (Y = AB, dA = G B^T, dB = A^T G)",
            unit="per step",
            impls=[("hand", "tg", "hand", "bare BLAS: 3 cblas_dgemm", 5 if q else 10),
                   ("tg-replay", "tg", "tg-replay", "tapegrad replay", 5 if q else 10),
                   ("tg-record", "tg", "tg-record", "tapegrad re-record", 5 if q else 10),
                   ("tg-compiled", "tg", "tg-compiled",
                    "tapegrad compiled, seeded with G (tg_compiled_run_seed)", 5 if q else 10),
                   ("torch", "torch", "torch", "PyTorch float64", 5 if q else 10)]),
    }


def run_workload(R, w, spec, reps, have):
    impls = [i for i in spec["impls"] if i[1] in have]
    print(f"\n== {spec['title']}", flush=True)
    # verify
    ref = None
    msgs = []
    for key, prog, impl, label, n in impls:
        got = R.verify(prog, w, impl, f"{R.data}/{w}-{key}.out")
        if ref is None:
            ref = got
            continue
        err, where = compare(ref, got, w_segments(w, ref))
        msgs.append(f"{key} {err:.2g}" + (f" ({where})" if err > 0 else ""))
        if not err <= TOL:
            print(f"verify: {label} differs from the hand-written C by {err:.3g} in {where}"
                  f" (tolerance {TOL:g}): not timing {w}")
            sys.exit(1)
    print(f"verify (worst |diff| / max|hand| per quantity, tolerance {TOL:g}): OK: " +
          ", ".join(msgs), flush=True)
    # timed rounds, interleaved
    res = {i[0]: [] for i in impls}
    for r in range(reps):
        order = impls[r % len(impls):] + impls[:r % len(impls)]
        for key, prog, impl, label, n in order:
            extra_args = ["2"] if (w == "W2" and prog == "tg") else []  # warm-up + timed pass
            res[key].append(R.time(prog, w, impl, n, extra_args))
    return impls, res


def stats(v):
    return statistics.median(v), min(v), max(v)


def table(w, spec, impls, res, reps):
    hand = [k["ns"] for k in res["hand"]]
    print(f"{reps} rounds, interleaved; one process per implementation per round; 1 thread; "
          f"time {spec['unit']}")
    print(f"{'implementation':58s} {'median':>10s} {'min - max':>21s} {'x hand (min - max)':>24s}"
          f" {'peak RSS':>9s}")
    out = {}
    for key, prog, impl, label, n in impls:
        t = [k["ns"] for k in res[key]]
        ratios = [a / b for a, b in zip(t, hand)]
        med, lo, hi = stats(t)
        rm, rlo, rhi = stats(ratios)
        rss = max(k["rss_kib"] for k in res[key]) / 1024
        out[key] = dict(t=med, ratio=rm, rss=rss, ratios=ratios, kv=res[key])
        print(f"{label:58s} {fmt_t(med):>10s} {fmt_t(lo):>10s} - {fmt_t(hi):<10s}"
              f" {rm:8.3g} ({rlo:.3g} - {rhi:.3g}) {rss:7.0f} MiB")
    return out


def target(name, value, limit, better="<="):
    ok = value <= limit if better == "<=" else value >= limit
    if ok:
        verdict = "holds"
    elif better == "<=":
        verdict = f"MISSED ({value / limit:.2f} times the allowed ratio)"
    else:
        verdict = f"MISSED (needs {limit / value:.2f} times more)"
    print(f"  {name:64s} {value:9.3g} {better} {limit:<6g} {verdict}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="W1,W2,W3,W4")
    ap.add_argument("--plot", default="")
    ap.add_argument("--data", default="")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                    help="cpu: each process's CPU time (default); wall: CLOCK_MONOTONIC")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.reps < 1 or args.reps > 63:
        ap.error("--reps between 1 and 63")
    have = {"tg"}
    if os.access(f"{args.bin}/adolc_peers", os.X_OK):
        have.add("adolc")
    else:
        print("ADOL-C: not built (libadolc-dev missing): its rows are left out")
    try:
        subprocess.run([PY, "-c", "import torch"], check=True, capture_output=True)
        have.add("torch")
    except Exception:
        print("PyTorch: /usr/bin/python3 cannot import torch (python3-torch missing): its rows "
              "are left out")
    tmp = args.data or tempfile.mkdtemp(prefix="tapegrad-peers-")
    os.makedirs(tmp, exist_ok=True)
    source = write_inputs(tmp, args.quick)
    R = Runner(args, tmp)
    tv = subprocess.run([PY, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                        text=True).stdout.strip() if "torch" in have else "-"
    print(f"tapegrad against its peers (issue 6); inputs in {tmp}; W3 data: {source}")
    print(f"PyTorch {tv} (float64, torch.set_num_threads(1)); OPENBLAS_NUM_THREADS=1 for every "
          f"process")
    print("clock: " + ("each process's CPU time (CLOCK_PROCESS_CPUTIME_ID / time.process_time_ns)"
                       if args.clock == "cpu" else "wall (CLOCK_MONOTONIC / perf_counter_ns)") +
          f"; load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    W = workloads(args.quick)
    results = {}
    for w in args.only.split(","):
        impls, res = run_workload(R, w, W[w], args.reps, have)
        results[w] = table(w, W[w], impls, res, args.reps)
        extra(w, results[w])
    print("\nissue-6 targets (median of per-round ratios; x = times the hand-written C's time)")
    targets(results)
    if args.plot:
        scaling(R, args.plot, args.quick)
    if not args.data:
        shutil.rmtree(tmp, ignore_errors=True)


def extra(w, r):
    """per-workload extras: W2's record / backward split and tape sizes"""
    if w == "W1":
        for key in ("tg-record", "tg-replay"):
            if key in r:
                kv = r[key]["kv"][0]
                print(f"  {key}: tape {kv['tape_nodes']:.0f} nodes, {kv['tape_bytes']:.0f} B")
    if w != "W2":
        return
    hand = [k["ns"] for k in r["hand"]["kv"]]
    print("record and backward timed separately:")
    for key in ("tg-scalar", "tg-tensor", "adolc"):
        if key not in r:
            continue
        kv = r[key]["kv"]
        rec = [k["record_ns"] for k in kv]
        bwd = [k["backward_ns"] for k in kv]
        rr = statistics.median(a / b for a, b in zip(rec, hand))
        br = statistics.median(a / b for a, b in zip(bwd, hand))
        r[key]["rec_ratio"], r[key]["bwd_ratio"] = rr, br
        print(f"  {key:10s} record {fmt_t(statistics.median(rec)):>10s} ({rr:.3g}x hand)   "
              f"backward {fmt_t(statistics.median(bwd)):>10s} ({br:.3g}x hand)")
    print("tape size:")
    for key in ("tg-scalar", "tg-tensor", "adolc"):
        if key not in r:
            continue
        kv = r[key]["kv"][0]
        ops = kv["ops"]
        line = f"  {key:10s} {ops:10.0f} ops  {kv['tape_bytes'] / 2**20:8.1f} MiB of tape"
        if key == "tg-scalar":
            nodes = kv["tape_nodes"]
            r[key]["bpo"] = kv["tape_bytes"] / ops
            r[key]["bpn"] = kv["tape_bytes"] / nodes
            line += (f" = {kv['tape_bytes'] / nodes:.1f} B/node ({nodes:.0f} nodes incl. leaves),"
                     f" {kv['tape_bytes'] / ops:.1f} B/op; sweep workspace "
                     f"{kv['workspace_bytes'] / 2**20:.1f} MiB")
        elif key == "adolc":
            r[key]["bpo"] = kv["tape_bytes"] / ops
            line += (f" ({kv['ops']:.0f} op codes x 1 B + {kv['locations']:.0f} locations x 4 B "
                     f"+ {kv['values']:.0f} values x 8 B) = {kv['tape_bytes'] / ops:.1f} B/op")
        else:
            line += f" ({kv['tape_nodes']:.0f} tensor nodes)"
        print(line)


def targets(R):
    held = []

    def t(*a, **k):
        held.append(target(*a, **k))

    if "W1" in R:
        r = R["W1"]
        t("W1 replay / hand", r["tg-replay"]["ratio"], 2.5)
        t("W1 re-record / hand", r["tg-record"]["ratio"], 5)
        t("W1 compiled, tg_compiled_run / hand (issue 14)", r["tg-compiled"]["ratio"], 2)
        t("W1 compiled, raw entry / hand (issue 14)", r["tg-raw"]["ratio"], 1.2)
        if "adolc-reuse" in r:
            sp = [a / b for a, b in zip(r["adolc-reuse"]["ratios"], r["tg-replay"]["ratios"])]
            t("W1 ADOL-C reused tape / tapegrad replay (speed-up)", statistics.median(sp), 20, ">=")
    if "W2" in R:
        r = R["W2"]
        t("W2 scalar record + backward / hand", r["tg-scalar"]["ratio"], 50)
        if "adolc" in r:
            sp = [a / b for a, b in zip(r["adolc"]["ratios"], r["tg-scalar"]["ratios"])]
            t("W2 ADOL-C taping + gradient / tapegrad (speed-up)", statistics.median(sp), 5, ">=")
            t("W2 tapegrad peak RSS / ADOL-C peak RSS", r["tg-scalar"]["rss"] / r["adolc"]["rss"],
              1.5)
        if "torch" in r:
            sp = [a / b for a, b in zip(r["torch"]["ratios"], r["tg-scalar"]["ratios"])]
            t("W2 PyTorch vectorised / tapegrad scalar (speed-up)", statistics.median(sp), 2, ">=")
        t("W2 bytes of tape per scalar record (tg_tape_bytes / nodes)", r["tg-scalar"]["bpn"], 24)
        print(f"  {'  (with the n leaves charged to the 8n ops: ' + format(r['tg-scalar']['bpo'], '.1f') + ' B/op)':64s}")
        t("W2 tensor ops / hand", r["tg-tensor"]["ratio"], 10)
        t("W2 tensor ops compiled, tg_compiled_run / hand", r["tg-compiled"]["ratio"], 3)
        t("W2 tensor ops compiled, fused raw entry / hand (issue 14)", r["tg-raw"]["ratio"], 3)
    if "W3" in R:
        r = R["W3"]
        t("W3 re-record / hand-coded BLAS", r["tg-record"]["ratio"], 1.3)
        t("W3 replay / hand-coded BLAS", r["tg-replay"]["ratio"], 1.3)
        t("W3 compiled / hand-coded BLAS (issue 14)", r["tg-compiled"]["ratio"], 1.05)
        if "torch" in r:
            sp = [a / b for a, b in zip(r["torch"]["ratios"], r["tg-record"]["ratios"])]
            print(f"  (W3 PyTorch f64 / tapegrad re-record: {statistics.median(sp):.3g}; "
                  f"the issue expects about 2)")
    if "W4" in R:
        r = R["W4"]
        t("W4 replay / bare cblas_dgemm", r["tg-replay"]["ratio"], 1.05)
        t("W4 re-record / bare cblas_dgemm", r["tg-record"]["ratio"], 1.05)
        t("W4 compiled / bare cblas_dgemm (issue 14)", r["tg-compiled"]["ratio"], 1.01)
    print(f"  {sum(held)} of {len(held)} targets hold")


def scaling(R, png, quick):
    """W2 for n = 10^3 .. 10^6: tapegrad's time per op, record and backward, median of
    in-process repeats after a first pass; gnuplot draws it when present"""
    ns = [1000, 3000, 10000, 30000, 100000, 300000, 1000000]
    rows = []
    print("\nW2 scaling (tapegrad scalar tape; median of in-process repeats after a first pass; "
          "3 processes per size, median)")
    print(f"{'n':>9s} {'ops':>10s} {'record ns/op':>13s} {'backward ns/op':>15s} "
          f"{'total ns/op':>12s} {'hand ns/elem':>13s}")
    for n in ns:
        rep = max(3, min(101, 3_000_000 // (8 * n)))
        if quick:
            rep = max(3, rep // 4)
        tot, rec, bwd, hand = [], [], [], []
        for _ in range(3):
            kv = R.time("tg", "W2", "tg-scalar", n, [str(rep)])
            hk = R.time("tg", "W2", "hand", n, [str(rep)])
            ops = kv["ops"]
            tot.append(kv["ns"] / ops)
            rec.append(kv["record_ns"] / ops)
            bwd.append(kv["backward_ns"] / ops)
            hand.append(hk["ns"] / n)
        row = (n, ops, statistics.median(rec), statistics.median(bwd), statistics.median(tot),
               statistics.median(hand))
        rows.append(row)
        print(f"{n:9d} {ops:10.0f} {row[2]:13.2f} {row[3]:15.2f} {row[4]:12.2f} {row[5]:13.2f}",
              flush=True)
    dat = png + ".dat" if png.endswith(".png") else png + ".dat"
    dat = os.path.join(R.data, "w2_scaling.dat")
    with open(dat, "w") as f:
        f.write("# n ops record_ns_per_op backward_ns_per_op total_ns_per_op hand_ns_per_elem\n")
        for row in rows:
            f.write(" ".join(f"{v:.6g}" for v in row) + "\n")
    draw(png, dat)


def draw(png, dat):
    """the plot of scaling()'s table (dat: n ops record backward total hand, per op)"""
    if not shutil.which("gnuplot"):
        print("gnuplot not found (apt-get install gnuplot-nox): no plot drawn")
        return
    gp = f"""set terminal pngcairo size 800,500 font ",11" enhanced
set output '{png}'
set logscale x
set format x "10^{{%L}}"
set xrange [700:1.4e6]
set xlabel "n (the tape holds 8n scalar ops and n + 2 leaves)"
set ylabel "CPU ns per op"
set yrange [0:16]
set key top left Left reverse maxrows 2 samplen 2 width 1
set grid
set title "W2 chained Rosenbrock on tapegrad's scalar tape: time per op against graph size"
plot '{dat}' using 1:5 with linespoints lw 2 pt 7 title 'record + backward', \\
     '' using 1:3 with linespoints lw 2 pt 5 title 'record', \\
     '' using 1:4 with linespoints lw 2 pt 9 title 'backward', \\
     '' using 1:6 with linespoints lw 2 pt 13 title 'hand-written, per element'
"""
    try:
        subprocess.run(["gnuplot"], input=gp, text=True, check=True)
    except subprocess.CalledProcessError:  # no cairo: the plain png terminal
        subprocess.run(["gnuplot"], input=gp.replace("pngcairo", "png"), text=True, check=True)
    print(f"plot: {os.path.relpath(png)} (data {dat})")


if __name__ == "__main__":
    main()
