"""What one kernel launch costs from Python on this GPU: the numbers behind the design
of the recurrent GPU path (50 steps x 2 launches per batch in W8).

    python benchmarks/probes/gpu_launch_overhead.py

Times, per call (median of 2000, synchronised at the end only): a Numba-CUDA kernel
with 8 array arguments given as fresh CuPy views, as CuPy arrays reused, as Numba
device arrays converted once; the same element-wise work as a CuPy ElementwiseKernel;
and W8's per-step product (128 x 256) @ (256 x 1024) through CuPy.
"""

import time

import cupy
import numpy as np
from numba import cuda


@cuda.jit
def eight(a, b, c, d, e, f, g, out, t):
    i = cuda.grid(1)
    if i < out.shape[1]:
        out[t, i] = a[t, i] + b[t, i] + c[t, i] + d[t, i] + e[t, i] + f[t, i] + g[t, i]


@cuda.jit
def eight_views(a, b, c, d, e, f, g, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = a[i] + b[i] + c[i] + d[i] + e[i] + f[i] + g[i]


def per_call(function, n=2000):
    for _ in range(20):
        function()
    cupy.cuda.get_current_stream().synchronize()
    start = time.perf_counter()
    for _ in range(n):
        function()
    cupy.cuda.get_current_stream().synchronize()
    return (time.perf_counter() - start) / n * 1e6


T, N = 50, 128 * 256
arrays = [cupy.random.random((T, N), dtype=cupy.float32) for _ in range(8)]
blocks, threads = (N + 127) // 128, 128
as_numba = [cuda.as_cuda_array(a) for a in arrays]
configured = eight[blocks, threads]
add7 = cupy.ElementwiseKernel("T a, T b, T c, T d, T e, T f, T g", "T out", "out = a + b + c + d + e + f + g", "add7")
x, V = cupy.random.random((128, 256), dtype=cupy.float32), cupy.random.random((256, 1024), dtype=cupy.float32)

results = {
    "numba kernel, fresh CuPy views per call": per_call(lambda: eight_views[blocks, threads](*[a[3] for a in arrays])),
    "numba kernel, same CuPy arrays + index t": per_call(lambda: configured(*arrays, 3)),
    "numba kernel, Numba device arrays + index t": per_call(lambda: configured(*as_numba, 3)),
    "numba kernel, cuda.as_cuda_array per call": per_call(lambda: configured(*[cuda.as_cuda_array(a) for a in arrays], 3)),
    "CuPy ElementwiseKernel on views": per_call(lambda: add7(*[a[3] for a in arrays[:7]], arrays[7][3])),
    "CuPy matmul (128x256)@(256x1024)": per_call(lambda: x @ V),
    "CuPy view a[:, t, :] of a 3-D array": per_call(lambda: arrays[0][3]),
}
for name, microseconds in results.items():
    print(f"{microseconds:9.1f} us  {name}")
