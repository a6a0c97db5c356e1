"""Before/after timing of the kernels whose sums over samples changed (issue 11): the
old chunking (one chunk per thread) against the new (fixed by the batch size,
kernels/cpu/chunks.py), in one process, interleaved, so that the ratio compares like
with like on a noisy machine. Both run the current kernels with the number of chunks
each rule gives; the old serial path was one chunk.

    python benchmarks/probes/time_fixed_chunks.py [calls per timing, default 30]
"""
import sys, time, json
import numpy as np
import numba
from nnxp.kernels.cpu import conv, recurrent as R
from nnxp.kernels.activation_codes import SIGMOID, TANH
from nnxp.kernels.cpu.chunks import gradient_chunks
from nnxp.kernels.cpu.fastmath import constants
import os

ONLY = os.environ.get("ONLY", "")  # e.g. ONLY=lstm: only the cases whose label holds it

rng = np.random.default_rng(0)


def best_of(fn, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return float(np.median(times))


def conv_case(m, H, W, C, F, k, pad, dtype):
    X = rng.standard_normal((m, H, W, C)).astype(dtype)
    Wt = rng.standard_normal((k, k, C, F)).astype(dtype)
    padding = ((pad, pad), (pad, pad))
    Z = conv.conv2d_forward(X, Wt, None, (1, 1), padding)
    dZ = rng.standard_normal(Z.shape).astype(dtype)
    Wp = conv._padded_filters(Wt, X.dtype)
    Hp, Wpw = H + 2 * pad, W + 2 * pad
    dX = np.empty_like(X)

    def run(blocks):
        dW_parts = np.zeros((blocks, *Wp.shape), dtype=X.dtype)
        db_parts = np.zeros((blocks, Wp.shape[3]), dtype=X.dtype)
        conv.conv_backward_taps(dZ, X, Wp, 1, 1, pad, pad, Hp, Wpw, True, dX, dW_parts, db_parts)
        return dW_parts.sum(axis=0), db_parts.sum(axis=0)
    return run


def recurrent_case(family, m, T, n, u, dtype):
    X = rng.standard_normal((m, T, n)).astype(dtype)
    G = {"rnn": 1, "gru": 3, "lstm": 4}[family]
    U = (rng.standard_normal((n, G * u)) * 0.3).astype(dtype)
    V = (rng.standard_normal((u, G * u)) * 0.3).astype(dtype)
    b = np.zeros(G * u, dtype)
    K = constants(X.dtype)
    dH = rng.standard_normal((m, T, u)).astype(dtype)
    if family == "rnn":
        H, Z = R.rnn_forward(X, U, V, b, TANH)
        def run(chunks, parallel):
            dZ, dh, dX = np.empty_like(Z), R._zeros(X, m, 1, u), R._zeros(X, *X.shape)
            dU, dV, db = R._sums(X, chunks, U, V)
            (R._rnn_backward_parallel if parallel else R._rnn_backward_serial)(
                chunks, dH, X, U, V, H, Z, dZ, dh, dX, True, dU, dV, db, TANH, K)
            return dU.sum(0), dV.sum(0), db.sum(0)
    elif family == "gru":
        bh = np.zeros(u, dtype)
        H, Z, A, Hn = R.gru_forward(X, U, V, b, bh, TANH, SIGMOID, SIGMOID)
        def run(chunks, parallel):
            dZ, dP, dh, dX = np.empty_like(Z), np.empty_like(Z), R._zeros(X, m, 1, u), R._zeros(X, *X.shape)
            (dU, dV, db), dbh = R._sums(X, chunks, U, V), R._zeros(X, chunks, u)
            (R._gru_backward_parallel if parallel else R._gru_backward_serial)(
                chunks, dH, X, U, V, H, Z, A, Hn, dZ, dP, dh, dX, True, dU, dV, db, dbh, TANH, SIGMOID, SIGMOID, K)
            return dU.sum(0), dV.sum(0), db.sum(0), dbh.sum(0)
    else:
        H, C, S, Z, A = R.lstm_forward(X, U, V, b, TANH, TANH, SIGMOID, SIGMOID, SIGMOID)
        def run(chunks, parallel):
            dZ, dX = np.empty_like(Z), R._zeros(X, *X.shape)
            dh, dc, (dU, dV, db) = R._zeros(X, m, 1, u), R._zeros(X, m, 1, u), R._sums(X, chunks, U, V)
            (R._lstm_backward_parallel if parallel else R._lstm_backward_serial)(
                chunks, dH, X, U, V, H, C, S, Z, A, dZ, dh, dc, dX, True, dU, dV, db,
                TANH, TANH, SIGMOID, SIGMOID, SIGMOID, K)
            return dU.sum(0), dV.sum(0), db.sum(0)
    return run


rounds, reps = 7, int(sys.argv[1]) if len(sys.argv) > 1 else 30
cases = []
for dtype in (np.float32, np.float64):
    name = np.dtype(dtype).name
    for label, shape in (("conv W2 32x28x28x1 8@3x3", (32, 28, 28, 1, 8, 3, 0)),
                         ("conv W6a 64x28x28x1 6@5x5 pad2", (64, 28, 28, 1, 6, 5, 2)),
                         ("conv W6b 64x14x14x6 16@5x5", (64, 14, 14, 6, 16, 5, 0))):
        cases.append((f"{label} {name}", "conv", conv_case(*shape, dtype), shape[0]))
    for family in ("rnn", "gru", "lstm"):
        cases.append((f"{family} W3 32x20x8 u32 {name}", "rec", recurrent_case(family, 32, 20, 8, 32, dtype), 32))
    cases.append((f"lstm W8 128x50x32 u256 {name}", "rec", recurrent_case("lstm", 128, 50, 32, 256, dtype), 128))

if ONLY:
    cases = [c for c in cases if ONLY in c[0]]
results = {}
for threads in (2, 1):
    numba.set_num_threads(threads)
    for label, kind, run, m in cases:
        if kind == "conv":
            old, new = (lambda: run(min(m, threads))), (lambda: run(gradient_chunks(m)))
        else:
            parallel = threads >= 2 and m >= R.parallel_threshold
            old_chunks = min(threads, m) if parallel else 1
            old, new = (lambda: run(old_chunks, parallel)), (lambda: run(gradient_chunks(m), parallel))
        old(), new()  # compiled, warm
        ratios, olds, news = [], [], []
        for _ in range(rounds):
            a, b_ = best_of(old, reps), best_of(new, reps)
            olds.append(a), news.append(b_), ratios.append(b_ / a)
        results[f"{label}, {threads} thread(s)"] = (1e6 * float(np.median(olds)), 1e6 * float(np.median(news)),
                                                    float(np.median(ratios)), float(min(ratios)), float(max(ratios)))
        o, n_, r, lo, hi = results[f"{label}, {threads} thread(s)"]
        print(f"{label:42s} t={threads}  old {o:8.1f} us  new {n_:8.1f} us  new/old {r:.3f} ({lo:.3f}-{hi:.3f})",
              flush=True)
