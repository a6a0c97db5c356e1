"""Compile every CUDA kernel to PTX with NVVM, as a GPU would, with no GPU present.

Run as a script in a process WITHOUT Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=0``):
the simulator runs kernels as Python and would accept code that NVVM rejects.
``test_kernels_cuda_ptx.py`` runs it. Each op's GPU path runs once per dtype on tiny
NumPy arrays with the kernel launches captured instead of made, which gives every
kernel with the argument types (dtype, dimensions, layout) it gets from the ops; each
is then compiled for compute capability 9.0 (H100). Prints one JSON line: the
kernels compiled, and for float32 kernels any PTX line that computes in float64.

Exit status 0: done; 3: NVVM is not available here (the message says why).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def main() -> int:
    import numba
    from numba import cuda

    try:
        cuda.compile_ptx(lambda a: None, (numba.float32[:],), cc=(9, 0))  # NVVM present?
    except Exception as error:  # no libNVVM, or a broken toolkit
        print(f"NVVM unavailable: {type(error).__name__}: {error}".splitlines()[0])
        return 3

    import numba.cuda.dispatcher

    class Device:  # device functions ask the current device for its compute capability
        compute_capability = (9, 0)

    numba.cuda.dispatcher.get_current_device = lambda: Device()

    launches = capture_launches()
    report = {"compiled": [], "float64_in_float32": {}, "seconds": 0.0}
    start = time.perf_counter()
    for (name, signature), kernel in sorted(launches.items(), key=lambda item: str(item[0])):
        ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0))
        single = all(getattr(t, "dtype", None) != numba.float64 for t in signature)
        report["compiled"].append(f"{name} {'float32' if single else 'float64'}")
        double_lines = [line.strip() for line in ptx.splitlines() if ".f64" in line]
        if single and double_lines:
            report["float64_in_float32"][name] = double_lines[:5]
    report["seconds"] = round(time.perf_counter() - start, 2)
    print(json.dumps(report))
    return 0


def capture_launches() -> dict:
    """{(kernel name, argument types): kernel} from the GPU path of every op, both dtypes."""
    import numba

    import nnxp.ops
    from nnxp.activations import get_activation
    from nnxp.kernels.cuda import conv as conv_kernels
    from nnxp.kernels.cuda import pool as pool_kernels
    from nnxp.kernels.cuda import recurrent as recurrent_kernels
    from nnxp.ops import conv, pool, recurrent

    launches = {}

    def capture(kernel, count):
        def record(*args):
            launches[(kernel.py_func.__name__, tuple(numba.typeof(a) for a in args))] = kernel

        return record

    for module in (conv_kernels, pool_kernels, recurrent_kernels):
        module.launch = capture
    recurrent_kernels.device_array = lambda array: array  # typed as the device array it would become
    nnxp.ops.backend_class_of = lambda array: nnxp.backend.GpuBackend  # NumPy arrays down the GPU path
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        X = rng.standard_normal((2, 5, 5, 2)).astype(dtype)
        W = rng.standard_normal((3, 3, 2, 3)).astype(dtype)
        padding = ((1, 1), (1, 1))
        Z = conv.conv2d_forward(X, W, None, (1, 1), padding, kernel_mode="numba")
        conv.conv2d_backward(np.ones_like(Z), X, W, (1, 1), padding, kernel_mode="numba")
        for mode in ("max", "mean"):
            A = pool.pool2d_forward(X, (2, 2), (2, 2), padding, mode, kernel_mode="numba")
            pool.pool2d_backward(np.ones_like(A), X, (2, 2), (2, 2), padding, mode, kernel_mode="numba")
        tanh, u = get_activation("tanh"), 3
        Xs = rng.standard_normal((2, 3, 2)).astype(dtype)
        for family, gates, count in (("rnn", 1, 1), ("gru", 3, 3), ("lstm", 4, 5)):
            U = rng.standard_normal((2, gates * u)).astype(dtype)
            V = rng.standard_normal((u, gates * u)).astype(dtype)
            b = np.zeros(gates * u, dtype=dtype)
            extra = (np.zeros(u, dtype=dtype),) if family == "gru" else ()
            caches = getattr(recurrent, f"{family}_forward")(Xs, U, V, b, *extra, *[tanh] * count, kernel_mode="numba")
            dH = np.ones((2, 3, u), dtype=dtype)
            getattr(recurrent, f"{family}_backward")(dH, Xs, U, V, *caches, *[tanh] * count, kernel_mode="numba")
    return launches


if __name__ == "__main__":
    sys.exit(main())
