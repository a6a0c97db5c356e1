"""Where the time of a GPU convolution goes, piece by piece, at W7's first layer
(256 x 32x32x3 -> 32 filters 3x3, padding 1), float32: each piece timed alone with the
device synchronised (median of 50), and the whole layer's forward + backward.

    python benchmarks/probes/gpu_conv_probe.py
"""

import time

import cupy
import numpy as np
from numba import cuda

import nnxp
from nnxp.kernels.cuda import conv as cuda_conv
from nnxp.layers import Convolution


def timed(function, n=50):
    function()
    cupy.cuda.get_current_stream().synchronize()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        function()
        cupy.cuda.get_current_stream().synchronize()
        samples.append(time.perf_counter() - start)
    return np.median(samples) * 1e6


backend = nnxp.set_backend("gpu", "float32", "numba")
xp = backend.xp
X = backend.asarray(np.random.default_rng(0).standard_normal((256, 32, 32, 3)))
layer = Convolution(32, 3, padding=1, activation="identity").initialize(X, seed=0)
A = layer.forward(X)
dA = xp.ones_like(A)
cols = xp.empty((256 * 32 * 32, 27), dtype=X.dtype)
W_rows = xp.reshape(layer.p["W"], (27, 32))
dZ = xp.reshape(dA, (-1, 32))
dX = xp.empty_like(X)
pad = ((1, 1), (1, 1))
X_numba = cuda.as_cuda_array(X, sync=False)
results = {
    "layer forward": timed(lambda: layer.forward(X)),
    "layer forward + backward": timed(lambda: (layer.forward(X), layer.backward(dA))),
    "im2col kernel (CuPy arrays)": timed(lambda: cuda_conv.im2col(X, (3, 3), (1, 1), pad, cols)),
    "cols @ W (cuBLAS)": timed(lambda: cols @ W_rows),
    "cols.T @ dZ (cuBLAS)": timed(lambda: xp.matrix_transpose(cols) @ dZ),
    "dZ @ W.T (cuBLAS)": timed(lambda: dZ @ xp.matrix_transpose(W_rows)),
    "col2im kernel (CuPy arrays)": timed(lambda: cuda_conv.col2im(cols, (3, 3), (1, 1), pad, dX)),
    "sum(dZ, axis=0)": timed(lambda: xp.sum(dZ, axis=0)),
    "as_cuda_array(X, sync=False)": timed(lambda: cuda.as_cuda_array(X, sync=False)),
    "empty (m*oh*ow, 27)": timed(lambda: xp.empty((256 * 32 * 32, 27), dtype=X.dtype)),
}
for name, microseconds in results.items():
    print(f"{microseconds:10.1f} us  {name}")
