"""Convolution kernels for the CPU (numba.njit), the compiled twins of ``nnxp.ops.conv``.

Same arguments, same results as the reference: X (m, H, W, C), W (kh, kw, C, F),
b (F,) or None, strides (sh, sw), padding ((top, bottom), (left, right)).

How the loops are laid out, and why
-----------------------------------
Our images have few channels and few filters (1 to 16), so a loop over C or F is too
short to keep SIMD units busy. The long dimension is the image itself. So, one sample at a time, each channel is copied, zero-padded, into one flat
row of Hp * Wp numbers, and each output channel is computed in a "wide" flat row:
output pixel (y, x) of the stride-1 convolution sits at q = y * Wp + x, and the input
pixel under filter tap (i, j) at q + i * Wp + j. One filter tap is then one long loop::

    Zwide[f, q] += W[i, j, c, f] * Xflat[c, q + i * Wp + j]        for every q

which the compiler turns into SIMD multiply-adds over hundreds of numbers. The columns
x >= Wp - kw + 1 of the wide row (where the window would wrap around the right edge)
are computed and never read: (kw - 1) / Wp of the work.

A strided convolution reads the stride-1 result every sh rows and sw columns (and in
backward, dZ is placed on that grid with zeros between): exact and simple, at sh * sw
times the work; the workloads nnxp is tuned for use stride 1.

Backward runs the same taps once more and computes dX and dW together::

    dW[i, j, c, f] += sum_q dZwide[f, q] * Xflat[c, q + off]         (a dot product)
    dXflat[c, q + off] += W[i, j, c, f] * dZwide[f, q]               (an axpy)

dZwide holds zeros off the output grid, so those columns add nothing. A first layer
needs no dX (``need_dX=False``): then only the dot products run.

Samples run in parallel (``prange``); all copying in and out happens inside the
parallel loop, in buffers small enough to stay in the core's cache. Each sample
writes only its own Z or dX; dW and db are summed per block of samples into private
partial sums added at the end, so no two threads write the same number and the
result does not depend on timing.

With many taps per filter (C * kh * kw >= 64, e.g. LeNet's second layer: 150) the
sums go to one BLAS matrix product instead, over columns built in the same wide
layout (see "many taps" below): measured about 2x faster there, while for few taps
(a first layer, C = 1) the loops above are 2-4x faster than im2col + BLAS. No BLAS
call runs inside a parallel region.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
from numba import prange

# contract: fused multiply-add; reassoc: lets the dot products use SIMD lanes.
# (No 'nnan'/'ninf': the results stay IEEE for any input.)
FASTMATH = {"contract", "reassoc"}


def conv2d_forward(X, W, b, strides, padding):
    """Z (m, oh, ow, F), as ``nnxp.ops.conv.conv2d_forward``."""
    X = np.ascontiguousarray(X)
    W = np.ascontiguousarray(W, dtype=X.dtype)
    if uses_blas(W):
        return blas_forward(X, W, b, strides, padding)
    (m, H, Wd, _), (kh, kw, _, F) = X.shape, W.shape
    ((top, bottom), (left, right)), (sh, sw) = padding, strides
    Hp, Wp = top + H + bottom, left + Wd + right
    Z = np.empty((m, (Hp - kh) // sh + 1, (Wp - kw) // sw + 1, F), dtype=X.dtype)
    bias = np.zeros(F, dtype=X.dtype) if b is None else np.ascontiguousarray(b, dtype=X.dtype)
    conv_forward_taps(X, W, bias, sh, sw, top, left, Hp, Wp, Z)
    return Z


def conv2d_backward(dZ, X, W, strides, padding, need_dX=True):
    """(dX, dW, db), as ``nnxp.ops.conv.conv2d_backward`` (dX None unless need_dX)."""
    X = np.ascontiguousarray(X)
    W = np.ascontiguousarray(W, dtype=X.dtype)
    if uses_blas(W):
        return blas_backward(np.ascontiguousarray(dZ, dtype=X.dtype), X, W, strides, padding, need_dX)
    (m, H, Wd, _), (kh, kw, C, F) = X.shape, W.shape
    ((top, bottom), (left, right)), (sh, sw) = padding, strides
    dX = np.empty_like(X)
    blocks = max(1, min(m, numba.get_num_threads()))
    dW_parts = np.zeros((blocks, kh, kw, C, F), dtype=X.dtype)
    db_parts = np.zeros((blocks, F), dtype=X.dtype)
    conv_backward_taps(np.ascontiguousarray(dZ, dtype=X.dtype), X, W, sh, sw, top, left,
                       top + H + bottom, left + Wd + right, need_dX, dX, dW_parts, db_parts)
    return (dX if need_dX else None), dW_parts.sum(axis=0), db_parts.sum(axis=0)


@numba.njit(cache=True)
def load_flat(X, n, top, left, Wp, image):
    """Copy sample n of X (m, H, W, C) into the flat channel rows image (C, Hp * Wp)."""
    _, H, W, C = X.shape
    for r in range(H):
        for s in range(W):
            for c in range(C):
                image[c, (r + top) * Wp + s + left] = X[n, r, s, c]


@numba.njit(parallel=True, cache=True, fastmath=FASTMATH)
def conv_forward_taps(X, W, b, sh, sw, top, left, Hp, Wp, Z):
    """Z[n, y, x, f] = b[f] + sum_{i, j, c} W[i, j, c, f] * Xp[n, sh*y + i, sw*x + j, c]."""
    m, oh, ow, F = Z.shape
    kh, kw, C, _ = W.shape
    length = (Hp - kh + 1) * Wp  # the wide stride-1 output
    last = length - (kw - 1)  # beyond it a tap would read past the image (unused columns)
    for n in prange(m):
        image = np.zeros((C, Hp * Wp), dtype=X.dtype)  # the padding stays zero
        load_flat(X, n, top, left, Wp, image)
        out = np.empty((F, length), dtype=X.dtype)
        for f in range(F):
            row = out[f]
            row[:] = b[f]
            for c in range(C):
                for i in range(kh):
                    for j in range(kw):
                        w, seen = W[i, j, c, f], image[c, i * Wp + j:]  # seen[q]: the pixel under tap (i, j)
                        for q in range(last):
                            row[q] += w * seen[q]
        for y in range(oh):
            for x in range(ow):
                q = sh * y * Wp + sw * x
                for f in range(F):
                    Z[n, y, x, f] = out[f, q]


@numba.njit(parallel=True, cache=True, fastmath=FASTMATH)
def conv_backward_taps(dZ, X, W, sh, sw, top, left, Hp, Wp, need_dX, dX, dW_parts, db_parts):
    """dX, and per block of samples the partial sums of dW and db (see the module docstring)."""
    m, oh, ow, F = dZ.shape
    _, H, Wd, C = X.shape
    kh, kw, _, _ = W.shape
    length = (Hp - kh + 1) * Wp
    last = length - (kw - 1)
    blocks = dW_parts.shape[0]
    zero = X.dtype.type(0)  # sums in the arrays' own precision (float32 stays float32)
    for block in prange(blocks):
        dW, db = dW_parts[block], db_parts[block]
        image = np.zeros((C, Hp * Wp), dtype=X.dtype)
        dimage = np.empty((C, Hp * Wp), dtype=X.dtype)
        grads = np.zeros((F, length), dtype=X.dtype)  # zero off the output grid, for good
        for n in range(block * m // blocks, (block + 1) * m // blocks):
            load_flat(X, n, top, left, Wp, image)
            dimage[:] = 0
            for y in range(oh):
                for x in range(ow):
                    q = sh * y * Wp + sw * x
                    for f in range(F):
                        grads[f, q] = dZ[n, y, x, f]
            for f in range(F):
                grad, total = grads[f], zero
                for q in range(length):
                    total += grad[q]
                db[f] += total
                for c in range(C):
                    for i in range(kh):
                        for j in range(kw):
                            w, total = W[i, j, c, f], zero
                            seen, dseen = image[c, i * Wp + j:], dimage[c, i * Wp + j:]
                            if need_dX:
                                for q in range(last):
                                    total += grad[q] * seen[q]
                                    dseen[q] += w * grad[q]
                            else:
                                for q in range(last):
                                    total += grad[q] * seen[q]
                            dW[i, j, c, f] += total
            if not need_dX:
                continue
            for r in range(H):
                for s in range(Wd):
                    for c in range(C):
                        dX[n, r, s, c] = dimage[c, (r + top) * Wp + s + left]


# --------------------------------------------------------------------------- many taps: BLAS
# With many taps per filter (C * kh * kw >= BLAS_TAPS) one matrix product does the sums
# faster than the loops above (measured ~2x on LeNet's second layer). The same wide
# layout keeps building the columns cheap: row t = (i, j, c) of the column matrix is
# the padded image row shifted by i * Wp + j, one long copy per tap and sample:
#
#     cols[t, n * L + q] = Xflat[n, c, q + i * Wp + j]        (L = the wide output length)
#     Zwide = W_rows.T @ cols            (F, m * L), one BLAS call, outside any prange
#     dW_rows = cols @ dZwide.T,  dcols = W_rows @ dZwide,  then each sample sums its
#     dcols rows back onto its image (dX), as the loop kernels do.
BLAS_TAPS = 64
_scratch = threading.local()  # per thread: name -> reusable work array


def scratch(name, shape, dtype):
    """A work array kept between calls. Fresh multi-megabyte arrays cost more than
    the work done in them: the operating system hands the memory over page by page."""
    arrays = _scratch.__dict__.setdefault("arrays", {})
    array = arrays.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = arrays[name] = np.empty(shape, dtype=dtype)
    return array


def uses_blas(W) -> bool:
    kh, kw, C, _ = W.shape
    return kh * kw * C >= BLAS_TAPS


def blas_forward(X, W, b, strides, padding):
    (m, H, Wd, C), (kh, kw, _, F) = X.shape, W.shape
    ((top, bottom), (left, right)), (sh, sw) = padding, strides
    Hp, Wp = top + H + bottom, left + Wd + right
    rows, oh, ow = Hp - kh + 1, (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    Z = np.empty((m, oh, ow, F), dtype=X.dtype)
    for first, last in sample_blocks(m, kh * kw * C * rows * Wp * X.itemsize):
        n = last - first
        cols = scratch("cols", (kh * kw * C, n * rows * Wp), X.dtype)
        wide_columns(X[first:last], kh, kw, top, left, Hp, Wp, cols)
        Zwide = np.matmul(W.reshape(-1, F).T, cols, out=scratch("Zwide", (F, cols.shape[1]), X.dtype))
        grid = Zwide.reshape(F, n, rows, Wp)[:, :, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw]
        Z[first:last] = grid.transpose(1, 2, 3, 0)
    if b is not None:
        Z += b
    return Z


def blas_backward(dZ, X, W, strides, padding, need_dX):
    (m, H, Wd, C), (kh, kw, _, F) = X.shape, W.shape
    ((top, bottom), (left, right)), (sh, sw) = padding, strides
    Hp, Wp = top + H + bottom, left + Wd + right
    rows, (_, oh, ow, _) = Hp - kh + 1, dZ.shape
    dX = np.empty_like(X) if need_dX else None
    dW_rows = np.zeros((kh * kw * C, F), dtype=X.dtype)
    for first, last in sample_blocks(m, kh * kw * C * rows * Wp * X.itemsize):
        n = last - first
        cols = scratch("cols", (kh * kw * C, n * rows * Wp), X.dtype)
        wide_columns(X[first:last], kh, kw, top, left, Hp, Wp, cols)
        dZwide = scratch("dZwide", (F, cols.shape[1]), X.dtype)
        grid = dZwide.reshape(F, n, rows, Wp)
        grid[...] = 0  # zeros off the stride grid and in the unused columns
        grid[:, :, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw] = dZ[first:last].transpose(3, 0, 1, 2)
        dW_rows += cols @ dZwide.T
        if need_dX:
            dcols = np.matmul(W.reshape(-1, F), dZwide, out=scratch("dcols", cols.shape, X.dtype))
            columns_to_images(dcols, kh, kw, top, left, Hp, Wp, dX[first:last])
    return dX, dW_rows.reshape(W.shape), dZ.reshape(-1, F).sum(axis=0)


def sample_blocks(m, bytes_per_sample, budget=16 * 2**20):
    """(first, last) sample ranges whose column matrix stays within ``budget`` bytes,
    so that memory does not grow with the batch (evaluation runs 1024 images at once)."""
    step = max(1, budget // bytes_per_sample)
    return [(first, min(first + step, m)) for first in range(0, m, step)]


@numba.njit(parallel=True, cache=True)
def wide_columns(X, kh, kw, top, left, Hp, Wp, cols):
    """cols[(i * kw + j) * C + c, n * L + q] = Xp[n] flat, channel c, at q + i * Wp + j."""
    m, _, _, C = X.shape
    length = (Hp - kh + 1) * Wp
    last = length - (kw - 1)
    for n in prange(m):
        image = np.zeros((C, Hp * Wp), dtype=X.dtype)
        load_flat(X, n, top, left, Wp, image)
        for i in range(kh):
            for j in range(kw):
                for c in range(C):
                    row, seen = cols[(i * kw + j) * C + c, n * length:(n + 1) * length], image[c, i * Wp + j:]
                    for q in range(last):
                        row[q] = seen[q]
                    row[last:] = 0


@numba.njit(parallel=True, cache=True)
def columns_to_images(dcols, kh, kw, top, left, Hp, Wp, dX):
    """dX[n]: each column row t = (i, j, c) added back onto the image, shifted by i * Wp + j."""
    m, H, W, C = dX.shape
    length = dcols.shape[1] // m
    last = length - (kw - 1)
    for n in prange(m):
        dimage = np.zeros((C, Hp * Wp), dtype=dX.dtype)
        for i in range(kh):
            for j in range(kw):
                for c in range(C):
                    row, dseen = dcols[(i * kw + j) * C + c, n * length:], dimage[c, i * Wp + j:]
                    for q in range(last):
                        dseen[q] += row[q]
        for r in range(H):
            for s in range(W):
                for c in range(C):
                    dX[n, r, s, c] = dimage[c, (r + top) * Wp + s + left]
