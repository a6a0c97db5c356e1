"""Recurrent ops: the Numba kernels with their own products (kernels/cpu/recurrent.py)
against BLAS products with Numba steps (kernels/cpu/recurrent_blas.py), forward +
backward over the whole sequence, for a grid of units and batch sizes.

    python benchmarks/probes/recurrent_paths.py [--threads 2] [--rounds 5] [--calls 5]
        [--kinds lstm gru rnn] [--units 32 64 128 256] [--batches 32 128]

Interleaved in one process, ratios taken within a round (see conv_paths.py). Shapes:
m samples x T steps x n features -> u units; W3 is (32, 20, 8, 32), W8 (128, 50, 32, 256).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

STEPS_FEATURES = {32: (20, 8), 128: (50, 32)}  # batch -> (steps, features), as W3 and W8


def variants(kind, m, T, n, u, dtype):
    from nnxp.kernels.cpu import recurrent as direct, recurrent_blas as blas

    from nnxp.kernels.activation_codes import RECURRENT_ACTIVATIONS as codes
    G = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, T, n)).astype(dtype)
    U = (rng.standard_normal((n, G * u)) / np.sqrt(n)).astype(dtype)
    V = (rng.standard_normal((u, G * u)) / np.sqrt(u)).astype(dtype)
    b = np.zeros(G * u, dtype)
    dH = np.zeros((m, T, u), dtype)
    dH[:, -1, :] = 1
    if kind == "rnn":
        args, act = (X, U, V, b), (codes["tanh"],)
    elif kind == "gru":
        args, act = (X, U, V, b, np.zeros(u, dtype)), (codes["tanh"], codes["sigmoid"], codes["sigmoid"])
    else:
        args, act = (X, U, V, b), (codes["tanh"], codes["tanh"], codes["sigmoid"], codes["sigmoid"], codes["sigmoid"])

    def make(module):
        forward, backward = getattr(module, f"{kind}_forward"), getattr(module, f"{kind}_backward")

        def run():
            caches = forward(*args, *act)
            backward(dH, X, *args[1:3], *caches, *act)
        return run

    return {"direct": make(direct), "blas": make(blas)}


def median_time(function, calls):
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--kinds", nargs="+", default=["lstm", "gru", "rnn"])
    parser.add_argument("--units", nargs="+", type=int, default=[32, 64, 128, 256])
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 128])
    args = parser.parse_args()
    import nnxp

    nnxp.set_num_threads(args.threads)
    nnxp.set_backend("cpu", kernels="numba")
    cases = {}
    for kind in args.kinds:
        for m in args.batches:
            T, n = STEPS_FEATURES[m]
            for u in args.units:
                for dtype in args.dtypes:
                    cases[(kind, m, u, dtype)] = variants(kind, m, T, n, u, dtype)
    for case in cases.values():
        for function in case.values():
            function()
    times = {key: {v: [] for v in case} for key, case in cases.items()}
    for _ in range(args.rounds):
        for key, case in cases.items():
            for v, function in case.items():
                times[key][v].append(median_time(function, args.calls))
    print(f"threads {args.threads}; ms, median of {args.rounds} rounds; ratio blas/direct median (min-max)")
    for (kind, m, u, dtype), t in times.items():
        ratios = [g / d for g, d in zip(t["blas"], t["direct"])]
        print(f"{kind:4s} m={m:3d} u={u:3d} {dtype:8s} direct {statistics.median(t['direct']) * 1e3:8.3f}  blas "
              f"{statistics.median(t['blas']) * 1e3:8.3f}  ratio {statistics.median(ratios):.3f} "
              f"({min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main()
