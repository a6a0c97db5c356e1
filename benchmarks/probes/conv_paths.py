"""Convolution: the direct kernels (kernels/cpu/conv.py) against im2col + BLAS
(kernels/cpu/conv_gemm.py) and, for 3x3 filters, Winograd's (kernels/cpu/conv_winograd.py),
forward + backward with ReLU (fused in all), at the shapes of the workloads or on a grid
(``--grid``).

    python benchmarks/probes/conv_paths.py [--threads 2] [--rounds 7] [--calls 9]

In one process, interleaved: each round times every variant (the median of ``calls``
calls), and the ratios are taken within a round, so that the machine's drift (20-30%
within an hour on the shared 2-core machine) cancels. Prints, per shape and dtype, the
median ms of each path over the rounds and the ratios gemm / direct and winograd / the
faster of the other two (median and range).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

SHAPES = {  # name: (m, H, W, C, k, F, pad, need_dX)
    "W2": (32, 28, 28, 1, 3, 8, 0, False),
    "W6-1": (64, 28, 28, 1, 5, 6, 2, False),
    "W6-2": (64, 14, 14, 6, 5, 16, 0, True),
    "W7-1": (256, 32, 32, 3, 3, 32, 1, False),
    "W7-2": (256, 16, 16, 32, 3, 64, 1, True),
}


def variants(shape, dtype):
    from nnxp.kernels.activation_codes import RELU
    from nnxp.kernels.cpu import conv, conv_gemm, conv_winograd

    m, H, W, C, k, F, pad, need_dX = shape
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, H, W, C)).astype(dtype)
    Wt = (rng.standard_normal((k, k, C, F)) * 0.1).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    padding, strides = ((pad, pad), (pad, pad)), (1, 1)
    oh = H + 2 * pad - k + 1
    dA = rng.standard_normal((m, oh, oh, F)).astype(dtype)

    def run(module):  # the layer's work: Z and A = ReLU(Z), then dZ from dA and A's mask, dX, dW, db
        def step():
            Z, A = module.conv2d_activation_forward(X, Wt, b, strides, padding, RELU)
            module.conv2d_activation_backward(dA, Z, A, X, Wt, strides, padding, need_dX, RELU)
        return step

    kernels = {"direct": run(conv), "gemm": run(conv_gemm)}
    if k == 3:
        kernels["winograd"] = run(conv_winograd)
    return kernels


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
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=9)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES))
    parser.add_argument("--grid", action="store_true",
                        help="instead of the workloads' shapes: 64 x 16x16xC images, F filters 3x3 'same', "
                             "C in 1 3 8 32, F in 8 16 32 64 (dX computed when C > 1)")
    args = parser.parse_args()
    if args.grid:
        SHAPES.clear()
        SHAPES.update({f"C{C}F{F}": (64, 16, 16, C, 3, F, 1, C > 1) for C in (1, 3, 8, 32) for F in (8, 16, 32, 64)})
        args.shapes = list(SHAPES)
    import nnxp

    nnxp.set_num_threads(args.threads)
    nnxp.set_backend("cpu", kernels="numba")
    cases = {(name, dtype): variants(SHAPES[name], dtype) for name in args.shapes for dtype in args.dtypes}
    for case in cases.values():
        for function in case.values():
            function()  # compile
    times = {key: {v: [] for v in case} for key, case in cases.items()}
    for _ in range(args.rounds):
        for key, case in cases.items():
            for v, function in case.items():
                times[key][v].append(median_time(function, args.calls))
    print(f"threads {args.threads}; ms, median of {args.rounds} rounds; ratio gemm/direct median (min-max)")
    for (name, dtype), t in times.items():
        ratios = [g / d for g, d in zip(t["gemm"], t["direct"])]
        line = (f"{name:5s} {dtype:8s} direct {statistics.median(t['direct']) * 1e3:8.3f}  gemm "
                f"{statistics.median(t['gemm']) * 1e3:8.3f}  ratio {statistics.median(ratios):.3f} "
                f"({min(ratios):.3f}-{max(ratios):.3f})")
        if "winograd" in t:
            ratios = [w / min(g, d) for w, g, d in zip(t["winograd"], t["gemm"], t["direct"])]
            line += (f"  winograd {statistics.median(t['winograd']) * 1e3:8.3f}  ratio {statistics.median(ratios):.3f} "
                     f"({min(ratios):.3f}-{max(ratios):.3f})")
        print(line)


if __name__ == "__main__":
    main()
