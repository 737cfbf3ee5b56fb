"""torch_peers.py - issue 6: PyTorch (CPU, float64) side of the peer comparison.

    /usr/bin/python3 torch_peers.py DATADIR W IMPL verify OUTFILE
    /usr/bin/python3 torch_peers.py DATADIR W IMPL time [N]

W1 IMPL torch-scalar (20,000 samples timed, reported per sample); W2 torch-vec;
W3 torch; W4 torch. Same inputs (DATADIR) and output formats as tg_peers.c; one process,
one implementation, one timed pass. Threads: torch.set_num_threads(1) here, and Debian's
build takes its BLAS threads from OPENBLAS_NUM_THREADS (peers.py sets it to 1).
See LICENSE."""
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
F64 = torch.float64
# this process's CPU time unless TG_PEERS_CLOCK=wall (as tg_peers.c)
import os  # noqa: E402
clock = time.perf_counter_ns if os.environ.get("TG_PEERS_CLOCK") == "wall" else time.process_time_ns


def vmhwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def load(d, name, dtype=np.float64):
    return np.fromfile(f"{d}/{name}", dtype=dtype)


def w1(d, verify, out, n):
    w = load(d, "w1_weights.bin")
    S = load(d, "w1_samples.bin").reshape(-1, 3)
    n = 1000 if verify else (n or 20000)
    S = S[:n].tolist()
    ws = [torch.tensor(v, dtype=F64, requires_grad=True) for v in w]

    def one(x1, x2, t):
        x1 = torch.tensor(x1, dtype=F64)
        x2 = torch.tensor(x2, dtype=F64)
        t = torch.tensor(t, dtype=F64)
        a2 = [torch.sigmoid(ws[j] * x1 + ws[3 + j] * x2) for j in range(3)]
        z3 = ws[6] * a2[0] + ws[7] * a2[1] + ws[8] * a2[2]
        dd = torch.sigmoid(z3) - t
        E = 0.5 * (dd * dd)
        g = torch.autograd.grad(E, ws)
        return E.item(), [gi.item() for gi in g]

    if verify:
        res = []
        for x1, x2, t in S:
            E, g = one(x1, x2, t)
            res.append([E] + g)
        np.asarray(res, dtype=np.float64).tofile(out)
        return
    for x1, x2, t in S[:500]:  # warm-up
        one(x1, x2, t)
    total = 0.0
    t0 = clock()
    for x1, x2, t in S:
        E, g = one(x1, x2, t)
        total += E + sum(g)
    t1 = clock()
    print(f"unit sample\nn {n}\nns {(t1 - t0) / n:.6g}\nchecksum {total:.15g}")


def w2(d, verify, out, n):
    xn = load(d, "w2_x.bin")
    if n:
        xn = xn[:n]
    n = xn.size

    def run():
        x = torch.tensor(xn, dtype=F64, requires_grad=True)
        a, b = x[1:], x[:-1]
        dd = a - b * b
        e = 1.0 - b
        f = (100.0 * (dd * dd) + e * e).sum()
        f.backward()
        return f.item(), x.grad

    run()  # warm-up
    t0 = clock()
    f, g = run()
    t1 = clock()
    if verify:
        np.concatenate([[f], g.numpy()]).astype(np.float64).tofile(out)
        return
    print(f"unit gradient\nn {n}\nns {t1 - t0:.6g}\nchecksum {f + g.sum().item():.15g}")


NIN, NH, NOUT, BATCH, LR, EPOCHS = 64, 64, 10, 32, 0.1, 20


def w3(d, verify, out):
    X = torch.from_numpy(load(d, "w3_X.bin").reshape(-1, NIN).copy())
    y = torch.from_numpy(load(d, "w3_y.bin", np.int32).astype(np.int64))
    p = load(d, "w3_init.bin")
    o = 0
    parts = []
    for shape in [(NIN, NH), (NH,), (NH, NOUT), (NOUT,)]:
        k = int(np.prod(shape))
        parts.append(torch.tensor(p[o:o + k].reshape(shape), dtype=F64, requires_grad=True))
        o += k
    W1, b1, W2, b2 = parts
    nb = X.shape[0] // BATCH
    Xb = [X[b * BATCH:(b + 1) * BATCH] for b in range(nb)]
    yb = [y[b * BATCH:(b + 1) * BATCH] for b in range(nb)]
    params = [W1, b1, W2, b2]

    def step(Xi, yi):
        H = torch.tanh(Xi @ W1 + b1)
        Z2 = H @ W2 + b2
        L = torch.nn.functional.cross_entropy(Z2, yi)
        gs = torch.autograd.grad(L, params)
        with torch.no_grad():
            for q, g in zip(params, gs):
                q -= LR * g
        return L.item()

    saved = [q.detach().clone() for q in params]
    for k in range(2):  # warm-up, then restore the start
        step(Xb[k], yb[k])
    with torch.no_grad():
        for q, s in zip(params, saved):
            q.copy_(s)
    losses = []
    t0 = clock()
    for e in range(EPOCHS):
        for b in range(nb):
            losses.append(step(Xb[b], yb[b]))
    t1 = clock()
    steps = len(losses)
    if verify:
        np.concatenate([np.asarray(losses)] + [q.detach().numpy().ravel() for q in params]
                       ).astype(np.float64).tofile(out)
        return
    print(f"unit training run ({steps} steps)\nn {steps}\nns {t1 - t0:.6g}\n"
          f"step_ns {(t1 - t0) / steps:.6g}\nfinal_loss {losses[-1]:.10g}\n"
          f"checksum {sum(losses):.15g}")


def w4(d, verify, out, steps):
    ABG = load(d, "w4_ABG.bin")
    N = int(round((ABG.size // 3) ** 0.5))
    A0, B0, G0 = (torch.from_numpy(ABG[k * N * N:(k + 1) * N * N].reshape(N, N).copy())
                  for k in range(3))
    steps = 1 if verify else (steps or 10)

    def step():
        A = A0.detach().requires_grad_(True)
        B = B0.detach().requires_grad_(True)
        Y = A @ B
        Y.backward(G0)
        return Y, A.grad, B.grad

    step()  # warm-up
    t0 = clock()
    for _ in range(steps):
        Y, dA, dB = step()
    t1 = clock()
    if verify:
        np.concatenate([Y.detach().numpy().ravel(), dA.numpy().ravel(), dB.numpy().ravel()]
                       ).astype(np.float64).tofile(out)
        return
    s = (Y.detach().sum() + dA.sum() + dB.sum()).item()
    print(f"unit step\nn {steps}\nns {(t1 - t0) / steps:.6g}\nchecksum {s:.15g}")


def main():
    a = sys.argv
    if len(a) < 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    d, w, verify = a[1], a[2], a[4] == "verify"
    out = a[5] if verify else None
    n = int(float(a[5])) if not verify and len(a) > 5 else 0
    {"W1": lambda: w1(d, verify, out, n), "W2": lambda: w2(d, verify, out, n),
     "W3": lambda: w3(d, verify, out), "W4": lambda: w4(d, verify, out, n)}[w]()
    if not verify:
        print(f"torch {torch.__version__}\nthreads {torch.get_num_threads()}\n"
              f"vmhwm_kib {vmhwm_kib()}")


if __name__ == "__main__":
    main()
