"""Convolution kernels for the CPU (numba.njit), the compiled twins of ``nnxp.ops.conv``.

Same arguments, same results as the reference: X (m, H, W, C), W (kh, kw, C, F),
b (F,) or None, strides (sh, sw), padding ((top, bottom), (left, right)).

How the loops are laid out, and why
-----------------------------------
Our images have few channels and few filters (1 to 16), so a loop over C or F is too
short to keep SIMD units busy. The long dimension is the image itself. So, one
sample at a time, each channel is copied, zero-padded, into one flat row of Hp * Wp
numbers, and each output channel is computed in a "wide" flat row:
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

Four filters at a time. A pass along a row reads and writes memory for every
multiply-add: the row of Xflat, the output row (read and written)... so each pass
serves four filters: forward reads the Xflat row once for four output rows; backward
reads it once for four dot products and reads and writes the dXflat row once for four
axpys (``dXflat[q + off] += w0 g0[q] + w1 g1[q] + w2 g2[q] + w3 g3[q]``). Measured on 2
threads against one filter per pass: LeNet's second layer (64x14x14x6, 16@5x5) float32
forward 0.87 -> 0.69 ms and backward 1.76 -> 0.86 ms (float64 1.40 -> 1.02 and 2.34
-> 1.37). When F is not a multiple of 4 the filters are padded with zero filters (their
outputs are never read): one code path, which also keeps Numba's compile time down.

A whole kernel row per pass. The forward's pass for one tap is bound by its stores
(four output rows written for every pixel read); for kernels 3 or 5 wide, the passes
below take the taps of one kernel row (i, c) together, so that each output row is
written once per kernel row, not once per tap, and each pixel of the row is read once
for all of them (``kernel_row_of_3``, ``kernel_row_of_5``; other widths go tap by tap).
This made the forward 1.5-2.7x faster on the workloads' layers (W6's second, float64:
0.77 -> 0.28 ms). The backward of a first layer (dW alone) goes by kernel row too; where
dX is needed, the one-tap pass that makes dW and dX from the same reads stays.

Samples run in parallel (``prange``); all copying in and out happens inside the
parallel loop, in buffers small enough to stay in the core's cache. Each sample
writes only its own Z or dX; dW and db are summed per block of samples into private
partial sums added at the end, so no two threads write the same number and the
result does not depend on timing; and the blocks are fixed by the batch size
(``chunks.py``), so it does not depend on the number of threads either.

Against im2col + BLAS (``conv_gemm.py``, 2 threads): for one input channel (a first
layer) these loops are 2-5x faster, forward and backward; for many filters over deep
windows BLAS wins (W7's layers, backward 0.5-0.75 of these loops' time with OpenBLAS's
own kernels). Which one runs is decided per shape in ``paths.py``; no BLAS runs inside
these parallel loops.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ..activation_codes import RELU
from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)
from .chunks import add_up, gradient_chunks
from . import buffers  # the large arrays, recycled across calls

# contract: fused multiply-add; reassoc: lets the dot products use SIMD lanes.
# (No 'nnan'/'ninf': the results stay IEEE for any input.)
FASTMATH = {"contract", "reassoc"}

BLOCK = 4  # filters per pass


def _padded_filters(W, dtype):
    """W (kh, kw, C, F) with zero filters appended up to a multiple of BLOCK."""
    F = W.shape[3]
    padded = np.zeros((*W.shape[:3], -(-F // BLOCK) * BLOCK), dtype=dtype)
    padded[..., :F] = W
    return padded


def conv2d_forward(X, W, b, strides, padding):
    """Z (m, oh, ow, F), as ``nnxp.ops.conv.conv2d_forward``."""
    return _forward(X, W, b, strides, padding, False)[0]


def conv2d_activation_forward(X, W, b, strides, padding, activation):
    """(Z, A) with A = f(Z), as ``nnxp.ops.conv.conv2d_activation_forward``; ``activation``
    is the code of ReLU (A made as each sample's Z is written) or of the identity (A is Z)."""
    return _forward(X, W, b, strides, padding, activation == RELU)


def conv2d_backward(dZ, X, W, strides, padding, need_dX=True):
    """(dX, dW, db), as ``nnxp.ops.conv.conv2d_backward`` (dX None unless need_dX)."""
    return _backward(dZ, X, W, strides, padding, need_dX, None)[:3]


def conv2d_activation_backward(dA, Z, A, X, W, strides, padding, need_dX, activation):
    """(dX, dW, db, dZ), as ``nnxp.ops.conv.conv2d_activation_backward``: for ReLU, dZ =
    dA where A > 0 (exactly where Z > 0), formed as the kernel reads dA; for the
    identity, dZ is dA."""
    return _backward(dA, X, W, strides, padding, need_dX, A if activation == RELU else None)


def _forward(X, W, b, strides, padding, relu):
    """(Z, A): A = max(Z, 0) with ``relu``, else A is Z."""
    X = np.ascontiguousarray(X)
    (m, H, Wd, _), (kh, kw, _, F) = X.shape, W.shape
    ((top, bottom), (left, right)), (sh, sw) = padding, strides
    Hp, Wp = top + H + bottom, left + Wd + right
    Z = buffers.empty((m, (Hp - kh) // sh + 1, (Wp - kw) // sw + 1, F), X.dtype)
    A = buffers.empty(Z.shape, X.dtype) if relu else Z
    W = _padded_filters(W, X.dtype)
    bias = np.zeros(W.shape[3], dtype=X.dtype)
    if b is not None:
        bias[:F] = b
    conv_forward_taps(X, W, bias, sh, sw, top, left, Hp, Wp, relu, Z, A)
    return Z, A


def _backward(dZ, X, W, strides, padding, need_dX, relu_A):
    """(dX, dW, db, dZ). With ``relu_A`` (the forward's A = max(Z, 0)), the first argument
    is dA and dZ = dA where A > 0 is formed on the way."""
    X = np.ascontiguousarray(X)
    (m, H, Wd, _), F = X.shape, W.shape[3]
    ((top, bottom), (left, right)), (sh, sw) = padding, strides
    W = _padded_filters(W, X.dtype)
    dX = buffers.empty(X.shape, X.dtype)
    blocks = gradient_chunks(m)  # the batch size alone decides: the same sums on any number of threads
    dW_parts = np.zeros((blocks, *W.shape), dtype=X.dtype)
    db_parts = np.zeros((blocks, W.shape[3]), dtype=X.dtype)
    given = np.ascontiguousarray(dZ, dtype=X.dtype)
    relu = relu_A is not None
    dZ = buffers.empty(given.shape, X.dtype) if relu else given
    mask = np.ascontiguousarray(relu_A) if relu else given
    conv_backward_taps(given, mask, relu, X, W, sh, sw, top, left, top + H + bottom, left + Wd + right, need_dX,
                       dZ, dX, dW_parts, db_parts)
    return (dX if need_dX else None), dW_parts[0][..., :F], db_parts[0][:F], dZ  # the sums (add_up)


@njit(cache=True)
def load_flat(X, n, top, left, Wp, image):
    """Copy sample n of X (m, H, W, C) into the flat channel rows image (C, Hp * Wp)."""
    _, H, W, C = X.shape
    for r in range(H):
        for s in range(W):
            for c in range(C):
                image[c, (r + top) * Wp + s + left] = X[n, r, s, c]


# The forward's passes (module docstring: "A whole kernel row per pass"). Each adds to
# four output rows what some taps of one kernel row (i, c) contribute: one tap, or all 3
# or 5. Measured on one sample of W6's first layer: 3.3 -> 1.6 us float32, 6.1 -> 1.7 us
# float64 for a pass per kernel row. The weights are plain numbers, not read from an
# array in the loop: the compiler cannot tell that an array of weights is not also one
# of the rows it writes, and would load them again at every step. The passes are inlined
# into the kernel (as calls they measured 1.24-1.39x slower).


@njit(cache=True, fastmath=FASTMATH, inline="always")
def one_tap(row0, row1, row2, row3, seen, w, last):
    """row_f[q] += w[f] * seen[q], for the four filters f of the block."""
    w0, w1, w2, w3 = w[0], w[1], w[2], w[3]
    for q in range(last):
        pixel = seen[q]
        row0[q] += w0 * pixel
        row1[q] += w1 * pixel
        row2[q] += w2 * pixel
        row3[q] += w3 * pixel


@njit(cache=True, fastmath=FASTMATH, inline="always")
def kernel_row_of_3(row0, row1, row2, row3, seen, w, last):
    """row_f[q] += sum_j w[j, f] * seen[q + j], j = 0..2: a kernel row of 3 taps."""
    a0, a1, a2 = w[0, 0], w[1, 0], w[2, 0]
    b0, b1, b2 = w[0, 1], w[1, 1], w[2, 1]
    c0, c1, c2 = w[0, 2], w[1, 2], w[2, 2]
    d0, d1, d2 = w[0, 3], w[1, 3], w[2, 3]
    for q in range(last):
        p0, p1, p2 = seen[q], seen[q + 1], seen[q + 2]
        row0[q] += a0 * p0 + a1 * p1 + a2 * p2
        row1[q] += b0 * p0 + b1 * p1 + b2 * p2
        row2[q] += c0 * p0 + c1 * p1 + c2 * p2
        row3[q] += d0 * p0 + d1 * p1 + d2 * p2


@njit(cache=True, fastmath=FASTMATH, inline="always")
def kernel_row_of_5(row0, row1, row2, row3, seen, w, last):
    """row_f[q] += sum_j w[j, f] * seen[q + j], j = 0..4: a kernel row of 5 taps."""
    a0, a1, a2, a3, a4 = w[0, 0], w[1, 0], w[2, 0], w[3, 0], w[4, 0]
    b0, b1, b2, b3, b4 = w[0, 1], w[1, 1], w[2, 1], w[3, 1], w[4, 1]
    c0, c1, c2, c3, c4 = w[0, 2], w[1, 2], w[2, 2], w[3, 2], w[4, 2]
    d0, d1, d2, d3, d4 = w[0, 3], w[1, 3], w[2, 3], w[3, 3], w[4, 3]
    for q in range(last):
        p0, p1, p2, p3, p4 = seen[q], seen[q + 1], seen[q + 2], seen[q + 3], seen[q + 4]
        row0[q] += a0 * p0 + a1 * p1 + a2 * p2 + a3 * p3 + a4 * p4
        row1[q] += b0 * p0 + b1 * p1 + b2 * p2 + b3 * p3 + b4 * p4
        row2[q] += c0 * p0 + c1 * p1 + c2 * p2 + c3 * p3 + c4 * p4
        row3[q] += d0 * p0 + d1 * p1 + d2 * p2 + d3 * p3 + d4 * p4


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def conv_forward_taps(X, W, b, sh, sw, top, left, Hp, Wp, relu, Z, A):
    """Z[n, y, x, f] = b[f] + sum_{i, j, c} W[i, j, c, f] * Xp[n, sh*y + i, sw*x + j, c];
    with ``relu``, A = max(Z, 0) after each sample's Z, while it is in the cache (a pass
    of its own, in SIMD lanes: fused into the transpose onto Z it was up to 1.09x slower)."""
    m, oh, ow, F = Z.shape
    kh, kw, C, F_padded = W.shape
    length = (Hp - kh + 1) * Wp  # the wide stride-1 output
    last = length - (kw - 1)  # beyond it a tap would read past the image (unused columns)
    for n in prange(m):
        image = np.zeros((C, Hp * Wp), dtype=X.dtype)  # the padding stays zero
        load_flat(X, n, top, left, Wp, image)
        out = np.empty((F_padded, length), dtype=X.dtype)
        for f in range(F_padded):
            out[f, :] = b[f]
        for f in range(0, F_padded, BLOCK):  # four filters per pass: the image row is read once for four
            row0, row1, row2, row3 = out[f], out[f + 1], out[f + 2], out[f + 3]
            for c in range(C):
                for i in range(kh):
                    seen = image[c, i * Wp:]  # seen[q + j]: the pixel under tap (i, j)
                    if kw == 5:
                        kernel_row_of_5(row0, row1, row2, row3, seen, W[i, :, c, f:f + BLOCK], last)
                    elif kw == 3:
                        kernel_row_of_3(row0, row1, row2, row3, seen, W[i, :, c, f:f + BLOCK], last)
                    else:
                        for j in range(kw):
                            one_tap(row0, row1, row2, row3, seen[j:], W[i, j, c, f:f + BLOCK], last)
        for y in range(oh):  # the wide rows onto Z (scalar stores: a transpose)
            for x in range(ow):
                q = sh * y * Wp + sw * x
                for f in range(F):
                    Z[n, y, x, f] = out[f, q]
        if relu:  # A = max(Z, 0): its own pass over the sample's numbers, in SIMD lanes
            zero, Z_flat, A_flat = X.dtype.type(0), Z[n].reshape(-1), A[n].reshape(-1)
            for e in range(A_flat.size):
                z = Z_flat[e]
                A_flat[e] = z if z > zero else zero


# The backward's dW of a first layer (no dX) by kernel row, as the forward's passes:
# the 4 x 3 or 4 x 5 sums of one kernel row in one pass, each pixel and each gradient
# read once for all of them (one tap per pass reads them once per tap). Measured, one
# sample of W6's first layer: 2.0 -> 1.05 us float32, 2.3 -> 1.7 us float64. Where dX
# is also needed, the one-tap pass below makes both from the same reads, and a pass
# per kernel row for dX measured no faster (it trades the stores for as many loads).


@njit(cache=True, fastmath=FASTMATH, inline="always")
def weight_gradients_row_of_3(g0, g1, g2, g3, seen, sums, last):
    """sums[j, f] += sum_q g_f[q] * seen[q + j], j = 0..2, for the four filters f."""
    zero = seen.dtype.type(0)
    a0 = a1 = a2 = b0 = b1 = b2 = c0 = c1 = c2 = d0 = d1 = d2 = zero
    for q in range(last):  # a line per filter, a sum per tap
        p0, p1, p2 = seen[q], seen[q + 1], seen[q + 2]
        x0, x1, x2, x3 = g0[q], g1[q], g2[q], g3[q]
        a0 += x0 * p0; a1 += x0 * p1; a2 += x0 * p2
        b0 += x1 * p0; b1 += x1 * p1; b2 += x1 * p2
        c0 += x2 * p0; c1 += x2 * p1; c2 += x2 * p2
        d0 += x3 * p0; d1 += x3 * p1; d2 += x3 * p2
    sums[0, 0] += a0; sums[1, 0] += a1; sums[2, 0] += a2
    sums[0, 1] += b0; sums[1, 1] += b1; sums[2, 1] += b2
    sums[0, 2] += c0; sums[1, 2] += c1; sums[2, 2] += c2
    sums[0, 3] += d0; sums[1, 3] += d1; sums[2, 3] += d2


@njit(cache=True, fastmath=FASTMATH, inline="always")
def weight_gradients_row_of_5(g0, g1, g2, g3, seen, sums, last):
    """sums[j, f] += sum_q g_f[q] * seen[q + j], j = 0..4, for the four filters f."""
    zero = seen.dtype.type(0)
    a0 = a1 = a2 = a3 = a4 = b0 = b1 = b2 = b3 = b4 = zero
    c0 = c1 = c2 = c3 = c4 = d0 = d1 = d2 = d3 = d4 = zero
    for q in range(last):  # a line per filter, a sum per tap
        p0, p1, p2, p3, p4 = seen[q], seen[q + 1], seen[q + 2], seen[q + 3], seen[q + 4]
        x0, x1, x2, x3 = g0[q], g1[q], g2[q], g3[q]
        a0 += x0 * p0; a1 += x0 * p1; a2 += x0 * p2; a3 += x0 * p3; a4 += x0 * p4
        b0 += x1 * p0; b1 += x1 * p1; b2 += x1 * p2; b3 += x1 * p3; b4 += x1 * p4
        c0 += x2 * p0; c1 += x2 * p1; c2 += x2 * p2; c3 += x2 * p3; c4 += x2 * p4
        d0 += x3 * p0; d1 += x3 * p1; d2 += x3 * p2; d3 += x3 * p3; d4 += x3 * p4
    sums[0, 0] += a0; sums[1, 0] += a1; sums[2, 0] += a2; sums[3, 0] += a3; sums[4, 0] += a4
    sums[0, 1] += b0; sums[1, 1] += b1; sums[2, 1] += b2; sums[3, 1] += b3; sums[4, 1] += b4
    sums[0, 2] += c0; sums[1, 2] += c1; sums[2, 2] += c2; sums[3, 2] += c3; sums[4, 2] += c4
    sums[0, 3] += d0; sums[1, 3] += d1; sums[2, 3] += d2; sums[3, 3] += d3; sums[4, 3] += d4


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def conv_backward_taps(given, A, relu, X, W, sh, sw, top, left, Hp, Wp, need_dX, dZ, dX, dW_parts, db_parts):
    """dX, and per block of samples the partial sums of dW and db (see the module docstring),
    added up at the end into dW_parts[0] and db_parts[0].
    ``given`` is dZ, or with ``relu`` dA, and then dZ = dA where A > 0 is written to dZ
    first (ReLU's derivative from the mask of A), in a pass of its own: fused into the
    transpose onto the wide rows, whose scattered stores keep it out of SIMD lanes, it
    measured 1.07-1.15x slower (a first layer's backward, W2 and W6)."""
    m, oh, ow, F = given.shape
    _, H, Wd, C = X.shape
    kh, kw, _, F_padded = W.shape
    length = (Hp - kh + 1) * Wp
    last = length - (kw - 1)
    blocks = dW_parts.shape[0]
    zero = X.dtype.type(0)  # sums in the arrays' own precision (float32 stays float32)
    for block in prange(blocks):
        dW, db = dW_parts[block], db_parts[block]
        image = np.zeros((C, Hp * Wp), dtype=X.dtype)
        dimage = np.empty((C, Hp * Wp), dtype=X.dtype)
        grads = np.zeros((F_padded, length), dtype=X.dtype)  # zero off the output grid and for padded filters
        for n in range(block * m // blocks, (block + 1) * m // blocks):
            load_flat(X, n, top, left, Wp, image)
            if need_dX:
                dimage[:] = 0
            if relu:  # dZ = dA where A > 0: its own pass over the sample's numbers, in SIMD lanes
                given_flat, A_flat, dZ_flat = given[n].reshape(-1), A[n].reshape(-1), dZ[n].reshape(-1)
                for e in range(dZ_flat.size):
                    dZ_flat[e] = given_flat[e] if A_flat[e] > zero else zero
            for y in range(oh):  # dZ onto the filters' wide rows (scalar stores: a transpose)
                for x in range(ow):
                    q = sh * y * Wp + sw * x
                    for f in range(F):
                        grads[f, q] = dZ[n, y, x, f]
            for f in range(F):
                grad, total = grads[f], zero
                for q in range(length):
                    total += grad[q]
                db[f] += total
            for f in range(0, F_padded, BLOCK):  # four filters per pass: image and dimage rows read once
                g0, g1, g2, g3 = grads[f], grads[f + 1], grads[f + 2], grads[f + 3]
                for c in range(C):
                    for i in range(kh):
                        if not need_dX and (kw == 5 or kw == 3):  # a first layer: dW alone, a kernel row per pass
                            seen, sums = image[c, i * Wp:], dW[i, :, c, f:f + BLOCK]
                            if kw == 5:
                                weight_gradients_row_of_5(g0, g1, g2, g3, seen, sums, last)
                            else:
                                weight_gradients_row_of_3(g0, g1, g2, g3, seen, sums, last)
                            continue
                        for j in range(kw):
                            seen, dseen = image[c, i * Wp + j:], dimage[c, i * Wp + j:]
                            w0, w1, w2, w3 = W[i, j, c, f], W[i, j, c, f + 1], W[i, j, c, f + 2], W[i, j, c, f + 3]
                            t0 = t1 = t2 = t3 = zero
                            if need_dX:
                                for q in range(last):
                                    pixel = seen[q]
                                    t0 += g0[q] * pixel
                                    t1 += g1[q] * pixel
                                    t2 += g2[q] * pixel
                                    t3 += g3[q] * pixel
                                    dseen[q] += (w0 * g0[q] + w1 * g1[q]) + (w2 * g2[q] + w3 * g3[q])
                            else:
                                for q in range(last):
                                    pixel = seen[q]
                                    t0 += g0[q] * pixel
                                    t1 += g1[q] * pixel
                                    t2 += g2[q] * pixel
                                    t3 += g3[q] * pixel
                            dW[i, j, c, f] += t0
                            dW[i, j, c, f + 1] += t1
                            dW[i, j, c, f + 2] += t2
                            dW[i, j, c, f + 3] += t3
            if not need_dX:
                continue
            for r in range(H):
                for s in range(Wd):
                    for c in range(C):
                        dX[n, r, s, c] = dimage[c, (r + top) * Wp + s + left]
    add_up(dW_parts)  # the blocks' partial sums, in block order
    add_up(db_parts)
