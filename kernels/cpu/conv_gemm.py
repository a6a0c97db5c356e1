"""Convolution as im2col + one matrix product per chunk of samples (BLAS), for the CPU.

The same maths as ``nnxp.ops.conv`` (read it first), the same arguments and results as
the direct kernels of ``conv.py``. The reference builds the matrix of windows for the
whole batch; here the batch is cut into chunks of a few samples, and each chunk's
matrices stay small enough for the cache (see ``samples_per_chunk``).

Which matrix is which, for a chunk of s samples (r = s * oh * ow rows, one per output
pixel; k = kh * kw * C, one column per filter tap and channel)::

    cols    (r, k)   row (n, y, x): the window under output pixel (y, x) of sample n,
                     column (i * kw + j) * C + c: Xp[n, sh*y + i, sw*x + j, c]
    W_rows  (k, F)   the filters, W (kh, kw, C, F) read as rows in the same order
    Z_rows  (r, F)   the chunk's part of Z (m, oh, ow, F), a view: no copy

    forward     Z_rows = cols @ W_rows              then + b (and A = f(Z), fused)
    backward    dW    += cols^T @ dZ_rows           (k, F), one partial sum per chunk
                db    += sum of the rows of dZ_rows
                dcols  = dZ_rows @ W_rows^T          (r, k)
                dX     = col2im(dcols)               each window's share back on its pixels

im2col and col2im go by kernel row: with the sample copied into a zero-padded image
Xp (Hp, Wp, C), channels innermost, the taps (i, 0..kw-1) of window (y, x) are the
kw * C numbers Xp[sh*y + i, sw*x : sw*x + kw, :], side by side in memory and in
cols: one short copy per (y, x, i), and in col2im one short addition. col2im sums
each sample's windows in one fixed order, (y, x, i, j): no two threads ever write the
same pixel, the result does not depend on timing.

The products run on one BLAS thread per chunk, the chunks on Numba's threads
(``workers.share``: the cores are never shared by two pools, and the bits do not
depend on the number of threads). dW and db are summed per chunk and the
partial sums added in chunk order.
"""

from __future__ import annotations

import numpy as np

from ..activation_codes import RELU
from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)
from . import workers
from . import buffers  # the large arrays, recycled across calls

KERNEL = {"cache": True, "nogil": True, "error_model": "numpy"}

# A chunk's matrix of windows is about this many bytes at most (unless one sample needs
# more): small enough to stay in the core's share of the cache while the product reads
# it (W7's second layer, 1 thread: 1 MB chunks as fast as 256 KB ones, 4 MB 30% slower).
# Each chunk costs ~25 us of calls each way, so chunks are few, but an even number of
# equal ones, so that two threads share them evenly (two chunks of 37 and 27 samples
# kept one core busy 58% of the time; eight of 8 cost W6's second layer 0.3 ms more).
CHUNK_BYTES = 1 << 20


def samples_per_chunk(m, oh, ow, k, itemsize):
    """Samples per chunk: an even number of chunks (2 at least) of equal size, each
    under CHUNK_BYTES of windows where a sample allows it. It depends on the shapes
    alone, never on the number of threads."""
    chunks = max(2, -(-m * oh * ow * k * itemsize // CHUNK_BYTES))
    chunks += chunks % 2
    return max(1, -(-m // chunks))


# --------------------------------------------------------------------------- the two moves
# Every index below is unsigned (np.uint64): for a signed index Numba adds a test for
# negative values (Python's a[-1]), which stops LLVM from vectorising the copies;
# measured on W7's second layer (one sample, 16x16x32, 3x3): im2col 25 -> 3.1 us float32.


@njit(**KERNEL)
def load_padded(X, n, top, left, Wp, image):
    """image (Hp * Wp * C, flat) <- sample n of X, at (top, left); the border is left
    as it was (zeros)."""
    _, H, W, C = X.shape
    run = np.uint64(W * C)  # one image row
    for r in range(H):
        start, pixels = np.uint64(((top + r) * Wp + left) * C), X[n, r].reshape(W * C)
        for q in range(run):
            image[start + q] = pixels[q]


@njit(**KERNEL)
def im2col_chunk(X, first, last, kh, kw, sh, sw, top, left, Wp, oh, ow, image, cols):
    """cols (rows of samples first..last-1) <- their windows (module docstring)."""
    C = X.shape[3]
    run = np.uint64(kw * C)  # one kernel row of a window: kw taps of C channels, side by side in image
    flat = cols.reshape(cols.size)
    out = np.uint64(0)
    for n in range(first, last):
        load_padded(X, n, top, left, Wp, image)
        for y in range(oh):
            for x in range(ow):
                for i in range(kh):
                    start = np.uint64(((sh * y + i) * Wp + sw * x) * C)
                    for q in range(run):
                        flat[out + q] = image[start + q]
                    out += run


@njit(**KERNEL)
def col2im_chunk(dcols, first, last, kh, kw, sh, sw, top, left, Wp, oh, ow, dimage, dX):
    """dX (samples first..last-1) <- the sum of what every window sends back to each pixel."""
    _, H, W, C = dX.shape
    run, row_run = np.uint64(kw * C), np.uint64(W * C)
    flat = dcols.reshape(dcols.size)
    out = np.uint64(0)
    for n in range(first, last):
        dimage[:] = 0
        for y in range(oh):
            for x in range(ow):
                for i in range(kh):
                    start = np.uint64(((sh * y + i) * Wp + sw * x) * C)
                    for q in range(run):
                        dimage[start + q] += flat[out + q]
                    out += run
        for r in range(H):
            start, pixels = np.uint64(((top + r) * Wp + left) * C), dX[n, r].reshape(W * C)
            for q in range(row_run):
                pixels[q] = dimage[start + q]


# --------------------------------------------------------------------------- epilogues
# Each takes the chunk's rows (r, F) as flat arrays (unsigned indices, as above) and
# makes one pass, while they are still in the cache from the product.


@njit(**KERNEL)
def add_bias(Z, b):
    """Z (r * F, flat) += b on every row."""
    F = np.uint64(b.shape[0])
    for row in range(np.uint64(Z.shape[0]) // F):
        start = row * F
        for f in range(F):
            Z[start + f] += b[f]


@njit(**KERNEL)
def add_bias_relu(Z, b, A):
    """Z += b and A = max(Z, 0) in the same pass (flat rows, as add_bias)."""
    F = np.uint64(b.shape[0])
    zero = Z.dtype.type(0)
    for row in range(np.uint64(Z.shape[0]) // F):
        start = row * F
        for f in range(F):
            z = Z[start + f] + b[f]
            Z[start + f] = z
            A[start + f] = z if z > zero else zero


@njit(**KERNEL)
def relu_mask_and_bias_sum(dA, A, dZ, db):
    """dZ = dA where A > 0, else 0 (ReLU's derivative from the mask of A: A > 0 exactly
    where Z > 0), and db += the sum of the rows of dZ (flat rows, as add_bias)."""
    F = np.uint64(db.shape[0])
    zero = dA.dtype.type(0)
    for row in range(np.uint64(dA.shape[0]) // F):
        start = row * F
        for f in range(F):
            d = dA[start + f] if A[start + f] > zero else zero
            dZ[start + f] = d
            db[f] += d


@njit(**KERNEL)
def bias_sum(dZ, db):
    """db += the sum of the rows of dZ (flat rows, as add_bias)."""
    F = np.uint64(db.shape[0])
    for row in range(np.uint64(dZ.shape[0]) // F):
        start = row * F
        for f in range(F):
            db[f] += dZ[start + f]


# --------------------------------------------------------------------------- the ops


def _geometry(X, W, strides, padding):
    (m, H, Wd, C), (kh, kw, _, F) = X.shape, W.shape
    ((top, bottom), (left, right)), (sh, sw) = padding, strides
    Hp, Wp = top + H + bottom, left + Wd + right
    oh, ow = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    return m, C, F, kh, kw, sh, sw, top, left, Hp, Wp, oh, ow


def conv2d_forward(X, W, b, strides, padding):
    """Z (m, oh, ow, F), as ``nnxp.ops.conv.conv2d_forward``."""
    return _forward(X, W, b, strides, padding, False)[0]


def conv2d_activation_forward(X, W, b, strides, padding, activation):
    """(Z, A) with A = f(Z), as ``nnxp.ops.conv.conv2d_activation_forward``; ``activation``
    is the code of ReLU (A made in the pass that adds the bias) or of the identity (A is Z)."""
    return _forward(X, W, b, strides, padding, activation == RELU)


def conv2d_backward(dZ, X, W, strides, padding, need_dX=True):
    """(dX, dW, db), as ``nnxp.ops.conv.conv2d_backward`` (dX None unless need_dX)."""
    return _backward(dZ, X, W, strides, padding, need_dX, None)[:3]


def conv2d_activation_backward(dA, Z, A, X, W, strides, padding, need_dX, activation):
    """(dX, dW, db, dZ), as ``nnxp.ops.conv.conv2d_activation_backward``: for ReLU, dZ =
    dA where A > 0, formed chunk by chunk just before the chunk's products; for the
    identity, dZ is dA."""
    return _backward(dA, X, W, strides, padding, need_dX, A if activation == RELU else None)


def _forward(X, W, b, strides, padding, relu):
    """(Z, A): A = max(Z, 0) with ``relu``, else A is Z."""
    X = np.ascontiguousarray(X)
    m, C, F, kh, kw, sh, sw, top, left, Hp, Wp, oh, ow = _geometry(X, W, strides, padding)
    k = kh * kw * C
    W_rows = np.ascontiguousarray(W, dtype=X.dtype).reshape(k, F)
    bias = np.zeros(F, dtype=X.dtype) if b is None else np.ascontiguousarray(b, dtype=X.dtype)
    Z = buffers.empty((m, oh, ow, F), X.dtype)
    A = buffers.empty(Z.shape, X.dtype) if relu else Z
    per = samples_per_chunk(m, oh, ow, k, X.itemsize)
    chunks = -(-m // per)

    def run(c):
        first, last = c * per, min(m, (c + 1) * per)
        image = np.zeros(Hp * Wp * C, dtype=X.dtype)
        cols = np.empty(((last - first) * oh * ow, k), dtype=X.dtype)
        im2col_chunk(X, first, last, kh, kw, sh, sw, top, left, Wp, oh, ow, image, cols)
        Z_rows = Z[first:last].reshape(-1, F)
        np.matmul(cols, W_rows, out=Z_rows)
        if relu:
            add_bias_relu(Z_rows.reshape(-1), bias, A[first:last].reshape(-1))
        elif b is not None:
            add_bias(Z_rows.reshape(-1), bias)

    workers.share(run, chunks)
    return Z, A


def _backward(dZ, X, W, strides, padding, need_dX, relu_A):
    """(dX, dW, db, dZ). With ``relu_A`` (the forward's A = max(Z, 0)), the first argument
    is dA and dZ = dA where A > 0 is formed on the way."""
    X = np.ascontiguousarray(X)
    m, C, F, kh, kw, sh, sw, top, left, Hp, Wp, oh, ow = _geometry(X, W, strides, padding)
    k = kh * kw * C
    W_rows = np.ascontiguousarray(W, dtype=X.dtype).reshape(k, F)
    given = np.ascontiguousarray(dZ, dtype=X.dtype)
    per = samples_per_chunk(m, oh, ow, k, X.itemsize)
    chunks = -(-m // per)
    dW_parts = np.empty((chunks, k, F), dtype=X.dtype)
    db_parts = np.zeros((chunks, F), dtype=X.dtype)
    dX = buffers.empty(X.shape, X.dtype) if need_dX else None
    dZ = buffers.empty(given.shape, X.dtype) if relu_A is not None else given

    def run(c):
        first, last = c * per, min(m, (c + 1) * per)
        rows = (last - first) * oh * ow
        dZ_rows = dZ[first:last].reshape(rows, F)
        if relu_A is not None:
            relu_mask_and_bias_sum(given[first:last].reshape(-1), relu_A[first:last].reshape(-1), dZ_rows.reshape(-1),
                                   db_parts[c])
        else:
            bias_sum(dZ_rows.reshape(-1), db_parts[c])
        image = np.zeros(Hp * Wp * C, dtype=X.dtype)
        cols = np.empty((rows, k), dtype=X.dtype)
        im2col_chunk(X, first, last, kh, kw, sh, sw, top, left, Wp, oh, ow, image, cols)
        np.matmul(cols.T, dZ_rows, out=dW_parts[c])
        if need_dX:
            dcols = np.matmul(dZ_rows, W_rows.T, out=cols)  # cols is no longer needed
            col2im_chunk(dcols, first, last, kh, kw, sh, sw, top, left, Wp, oh, ow, image, dX)

    workers.share(run, chunks)
    dW, db = dW_parts[0].copy(), db_parts[0].copy()
    for c in range(1, chunks):  # in chunk order: the same sums on any number of threads
        dW += dW_parts[c]
        db += db_parts[c]
    return dX, dW.reshape(W.shape), db, dZ
