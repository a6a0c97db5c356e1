"""Convolution on the GPU: the two moves around the matrix products, im2col and col2im.

``nnxp.ops.conv`` composes them with cuBLAS (through CuPy's ``matmul``)::

    forward     cols = im2col(X)                 this module, one kernel
                Z    = cols @ W_rows + b         cuBLAS
    backward    dW   = cols^T @ dZ_rows          cuBLAS (cols made again by im2col)
                dcols = dZ_rows @ W_rows^T       cuBLAS
                dX   = col2im(dcols)             this module, one kernel (skipped for a first layer)

Shapes: X (m, H, W, C) images, padding ((top, bottom), (left, right)), strides
(sh, sw), window (kh, kw); cols (m*oh*ow, kh*kw*C): row (n, y, x) holds the window of
output pixel (y, x) of sample n, column (i, j, c) its pixel at offset (i, j), channel c.
These are exactly the values of the reference ``im2col(pad_images(X, padding))``,
reshaped; W reshaped to (kh*kw*C, F) lines up with them.

im2col: one thread per entry of cols. Consecutive threads write consecutive entries,
and along a row (j, c) runs through a contiguous stretch of a row of X: reads and
writes coalesce. The padding is never built: a tap outside the image writes 0.

col2im is a GATHER: one thread per pixel (n, r, s, c) of dX adds up the entries of
dcols that came from it, one per window that covers it; with p = r + top the padded
row, those are the windows y with 0 <= p - sh*y < kh (and likewise x), each at tap
(i, j) = (p - sh*y, q - sw*x). Each pixel is written by one thread only, in a fixed
order: no atomics, and the same result on every run. Padding pixels are never
computed (the reference computes and then crops them).
"""

from __future__ import annotations

from numba import cuda

from ..cache import cuda_cached
from .launch import launch


def im2col(X, window, strides, padding, cols):
    """Fill cols (m*oh*ow, kh*kw*C) with the windows of X (m, H, W, C), padded with zeros."""
    (kh, kw), (sh, sw), ((top, _), (left, _)) = window, strides, padding
    m, oh, ow = _output_grid(X, window, strides, padding)
    launch(_im2col, cols.shape[0] * cols.shape[1])(X, kh, kw, sh, sw, top, left, oh, ow, cols)


def col2im(dcols, window, strides, padding, dX):
    """Fill dX (m, H, W, C) with the sum, for each pixel, of the entries of dcols
    (m*oh*ow, kh*kw*C) that its windows hold of it."""
    (kh, kw), (sh, sw), ((top, _), (left, _)) = window, strides, padding
    m, oh, ow = _output_grid(dX, window, strides, padding)
    launch(_col2im, dX.size)(dcols, kh, kw, sh, sw, top, left, oh, ow, dX)


def _output_grid(X, window, strides, padding):
    """(m, oh, ow) for images like X."""
    m, H, W, _ = X.shape
    (kh, kw), (sh, sw), ((top, bottom), (left, right)) = window, strides, padding
    return m, (H + top + bottom - kh) // sh + 1, (W + left + right - kw) // sw + 1


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _im2col(X, kh, kw, sh, sw, top, left, oh, ow, cols):
    e = cuda.grid(1)
    rows, width = cols.shape
    if e >= rows * width:
        return
    _, H, W, C = X.shape
    row, column = e // width, e % width
    n, y, x = row // (oh * ow), (row // ow) % oh, row % ow  # the output pixel
    i, j, c = column // (kw * C), (column // C) % kw, column % C  # the tap and channel
    r, s = sh * y + i - top, sw * x + j - left  # where the tap falls in the unpadded image
    if 0 <= r < H and 0 <= s < W:
        cols[row, column] = X[n, r, s, c]
    else:
        cols[row, column] = X.dtype.type(0)


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _col2im(dcols, kh, kw, sh, sw, top, left, oh, ow, dX):
    e = cuda.grid(1)
    m, H, W, C = dX.shape
    if e >= m * H * W * C:
        return
    n, r, s, c = e // (H * W * C), (e // (W * C)) % H, (e // C) % W, e % C
    p, q = r + top, s + left  # the pixel in the padded image
    total = dX.dtype.type(0)
    for y in range(max(0, (p - kh) // sh + 1), min(oh, p // sh + 1)):  # windows with 0 <= p - sh*y < kh
        i = p - sh * y
        for x in range(max(0, (q - kw) // sw + 1), min(ow, q // sw + 1)):
            j = q - sw * x
            total += dcols[(n * oh + y) * ow + x, (i * kw + j) * C + c]
    dX[n, r, s, c] = total
