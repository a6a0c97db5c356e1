"""Pooling on the GPU: the CUDA twins of ``nnxp.kernels.cpu.pool``, the whole op each.

Same names and arguments as the CPU kernels, and one more at the end: the output
array, which the op allocates (from CuPy's memory pool) and the kernel fills.
X (m, H, W, C), pool_size (ph, pw), strides (sh, sw), padding ((top, bottom),
(left, right)), mode "max", "min" or "mean"; A (m, oh, ow, C).

The padding is never built. A window tap outside the image is skipped, which is what
-inf (max) or +inf (min) padding gives; mean divides by ph * pw whatever the window
holds, so the padded pixels count as zeros (PyTorch's count_include_pad=True), as in
the reference. Min pooling is max pooling of -X (negation is exact): ``sign`` = -1.

Forward: one thread per value of A, channels innermost (neighbouring threads read
neighbouring pixels).

Backward is a GATHER, like col2im: one thread per pixel (n, r, s, c) of dX visits the
windows that cover it. For mean each sends dA / (ph * pw). For max and min the thread
finds each window's extreme again, walking its taps in row-major order and keeping
the first of equal values (a strictly greater value replaces it: the reference's tie
rule), and takes dA from the windows whose extreme is this very pixel. Every pixel is
written by one thread, in a fixed order: deterministic, no atomics. Recomputing costs
ph * pw reads per covering window, from the cache mostly; storing the argmax in
forward would cost an int array of A's size and a pass through memory.
"""

from __future__ import annotations

import math

from numba import cuda

from ..cache import cuda_cached
from .launch import launch

MODE_CODES = {"max": 0, "min": 1, "mean": 2}
MIN, MEAN = 1, 2


def pool2d_forward(X, pool_size, strides, padding, mode, A):
    """Fill A (m, oh, ow, C), as ``nnxp.ops.pool.pool2d_forward`` computes it."""
    (ph, pw), (sh, sw), ((top, _), (left, _)) = pool_size, strides, padding
    launch(_pool_forward, A.size)(X, ph, pw, sh, sw, top, left, MODE_CODES[mode], A)


def pool2d_backward(dA, X, pool_size, strides, padding, mode, dX):
    """Fill dX (m, H, W, C), as ``nnxp.ops.pool.pool2d_backward`` computes it."""
    (ph, pw), (sh, sw), ((top, _), (left, _)) = pool_size, strides, padding
    launch(_pool_backward, dX.size)(dA, X, ph, pw, sh, sw, top, left, MODE_CODES[mode], dX)


@cuda.jit(device=True)
def _first_extreme(X, n, c, r0, s0, ph, pw, sign):
    """(row, column) of the first greatest of sign * X[n, r, s, c] over the window whose
    tap (0, 0) sits at (r0, s0), its taps outside the image skipped; (-1, -1) if none."""
    _, H, W, _ = X.shape
    best, row, column = X.dtype.type(-math.inf), -1, -1
    for r in range(max(r0, 0), min(r0 + ph, H)):
        for s in range(max(s0, 0), min(s0 + pw, W)):
            value = sign * X[n, r, s, c]
            if value > best:  # strictly: the first of equal values stays
                best, row, column = value, r, s
    return row, column


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _pool_forward(X, ph, pw, sh, sw, top, left, mode, A):
    e = cuda.grid(1)
    m, oh, ow, C = A.shape
    if e >= m * oh * ow * C:
        return
    _, H, W, _ = X.shape
    n, y, x, c = e // (oh * ow * C), (e // (ow * C)) % oh, (e // C) % ow, e % C
    r0, s0 = sh * y - top, sw * x - left  # tap (0, 0) of the window, in the image
    if mode == MEAN:
        total = X.dtype.type(0)
        for r in range(max(r0, 0), min(r0 + ph, H)):
            for s in range(max(s0, 0), min(s0 + pw, W)):
                total += X[n, r, s, c]
        A[n, y, x, c] = total / X.dtype.type(ph * pw)
        return
    sign = X.dtype.type(-1 if mode == MIN else 1)
    best = X.dtype.type(-math.inf)
    for r in range(max(r0, 0), min(r0 + ph, H)):
        for s in range(max(s0, 0), min(s0 + pw, W)):
            best = max(best, sign * X[n, r, s, c])
    A[n, y, x, c] = sign * best


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _pool_backward(dA, X, ph, pw, sh, sw, top, left, mode, dX):
    e = cuda.grid(1)
    m, H, W, C = dX.shape
    if e >= m * H * W * C:
        return
    _, oh, ow, _ = dA.shape
    n, r, s, c = e // (H * W * C), (e // (W * C)) % H, (e // C) % W, e % C
    p, q = r + top, s + left  # the pixel in the padded image
    sign = X.dtype.type(-1 if mode == MIN else 1)
    count = X.dtype.type(ph * pw)
    total = X.dtype.type(0)
    for y in range(max(0, (p - ph) // sh + 1), min(oh, p // sh + 1)):  # windows with 0 <= p - sh*y < ph
        for x in range(max(0, (q - pw) // sw + 1), min(ow, q // sw + 1)):
            if mode == MEAN:
                total += dA[n, y, x, c] / count
            else:
                row, column = _first_extreme(X, n, c, sh * y - top, sw * x - left, ph, pw, sign)
                if row == r and column == s:
                    total += dA[n, y, x, c]
    dX[n, r, s, c] = total
