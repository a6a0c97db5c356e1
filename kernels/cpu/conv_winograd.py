"""Convolution by Winograd's minimal filtering, F(2x2, 3x3), for the CPU.

The same maths as ``nnxp.ops.conv`` (read it first) for 3x3 filters at stride 1, the
same arguments and results as ``conv_gemm.py``, with fewer multiplications. The idea
(Winograd 1980; for neural networks Lavin and Gray, 2016), in one dimension first: two
outputs of a 3-tap filter g over four inputs d,

    y0 = d0 g0 + d1 g1 + d2 g2        (6 multiplications)
    y1 = d1 g0 + d2 g1 + d3 g2

are also, with m1 = (d0 - d2) g0, m2 = (d1 + d2)(g0 + g1 + g2)/2,
m3 = (d2 - d1)(g0 - g1 + g2)/2, m4 = (d1 - d3) g2,

    y0 = m1 + m2 + m3,   y1 = m2 - m3 - m4     (4 multiplications)

In matrices, y = A^T [(G g) * (B^T d)], * elementwise, with

    B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
          [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
          [0 -1  1  0]         [1/2 -1/2  1/2]
          [0  1  0 -1]         [ 0    0    1 ]

Nested along rows and columns, a 2x2 tile of outputs comes from the 4x4 patch d of
inputs under it (patches overlap by 2) as Y = A^T [U * V] A with U = G g G^T and
V = B^T d B: 16 multiplications instead of 36. Over channels and filters the product
at each of the 16 positions e of the 4x4 is a matrix product, and that is where the
work goes (T tiles, C channels, F filters)::

    V[e]  (T, C)   every tile's transformed patch, position e, one row per tile
    U[e]  (C, F)   the transformed filters (computed once per call, in NumPy)
    M[e] = V[e] @ U[e]                      16 products, 2.25x fewer FLOPs than im2col's
    Z tile = A^T M A + b                    (and A = max(Z, 0), row by row as Z is written)

Backward, the same transforms run the other way (each is linear): with dY a tile of
dZ, dM = A dY A^T, then

    dU[e] = V[e]^T @ dM[e]                  summed over tiles: dW = G^T dU G
    dV[e] = dM[e] @ U[e]^T                  dX = the sum over tiles of B dV B^T,
                                            each on its own 4x4 patch
    db = the sum of dZ

The transforms are exact rearrangements of sums (halves and signs), so results differ
from the reference by rounding only: float64 within 1e-14 relative on the tests' grids.
An output grid of odd size gets one more row or column of tiles, computed and dropped
(backward, their dY is 0); patches past the padded image read zeros.

**When it pays** (``paths.py``): the 16 products are narrow (K = C channels), and the
transforms read and write every tile's 16 x (C + F) numbers, against im2col's one GEMM
of K = 9 C. So it wins where C x F is large: from 32 channels to 16 filters and more
(W7's second layer, 32 -> 64: forward 0.82x / 0.66x and backward 0.66x / 0.70x BLAS's
time, float32 / float64); with 8 channels it ties, with fewer it loses.

Layout and speed. Chunks of samples, each on one thread (``workers.share``), as in
``conv_gemm.py``; dW's and db's partial sums per chunk are added in chunk order, so the
bits do not depend on the number of threads. V and M are (16, T + 1, C or F): the
spare row puts the 16 positions of a tile 4 KB-unaligned apart (T x C x 4 bytes is a
multiple of 4096 at W7's shapes, and 16 streams that far apart fight for the same
cache sets: the input transform ran 3.7x slower). Every inner loop writes ONE array,
so that LLVM turns it into SIMD code (loops that wrote all 16 positions at once stayed
scalar: 3.2x slower), and runs along a whole row of tiles (below, the transforms).
"""

from __future__ import annotations

import numpy as np

from ..activation_codes import RELU
from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)
from . import workers
from . import buffers  # the large arrays, recycled across calls

KERNEL = {"cache": True, "nogil": True, "error_model": "numpy"}

G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])

# The transforms as tables of (index, sign) terms, one row of each matrix per row:
# B^T: row r of B^T d is d[BT_TERMS[r, 0]] + BT_SIGNS[r] * d[BT_TERMS[r, 1]]
BT_TERMS = np.array([[0, 2], [1, 2], [2, 1], [1, 3]], dtype=np.int64)
BT_SIGNS = np.array([-1.0, 1.0, -1.0, -1.0])
# A^T: row r of A^T m is m[i0] + s1 * m[i1] + s2 * m[i2]
AT_TERMS = np.array([[0, 1, 2], [1, 2, 3]], dtype=np.int64)
AT_SIGNS = np.array([[1.0, 1.0], [-1.0, -1.0]])
# A (4 x 2): row r of A g is s0 * g[i0] + s1 * g[i1]; index 2 is a row of zeros
A_TERMS = np.array([[0, 2], [0, 1], [0, 1], [1, 2]], dtype=np.int64)
A_SIGNS = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]])
# B (4 x 4) = (B^T)^T: row r of B v has B_COUNT[r] terms s * v[i]
B_TERMS = np.array([[0, 0, 0], [1, 2, 3], [0, 1, 2], [3, 0, 0]], dtype=np.int64)
B_SIGNS = np.array([[1.0, 0.0, 0.0], [1.0, -1.0, 1.0], [-1.0, 1.0, 1.0], [-1.0, 0.0, 0.0]])
B_COUNT = np.array([1, 3, 3, 1], dtype=np.int64)

# A chunk's M (16 x tiles x max(C, F) numbers) is about this many bytes at most: 1 MB
# measured best at W7's second layer (float64, 2 threads: 256 KB 1.15x, 512 KB 1.10x,
# 2 MB within noise).
CHUNK_BYTES = 1 << 20
SPARE = 1  # the spare row of V and M (module docstring)


# --------------------------------------------------------------------------- the transforms
# They go one row of tiles at a time: for one position e, the row's tiles lie side by
# side in V and M (tile after tile, channels innermost), so each formula is one loop
# along the whole row (tw x C numbers), long enough for SIMD lanes to pay (tile by tile,
# 32 float32 channels made two passes of 16 lanes a loop: the gradient's transform ran
# 1.9x slower). The image rows are kept with their even pixels first, then their odd
# ones: column j of tile x is pixel 2x + j, so for every tile of the row it sits at the
# same offset, ((j % 2) * (tw + 1) + j // 2) channels' widths along its half, and the
# row's patches are read as whole runs too. Every index below is unsigned (np.uint64):
# for a signed index Numba adds a test for negative values, which stops LLVM from
# vectorising (conv_gemm.py).


@njit(cache=True, inline="always")
def _pixel(x, half, C):
    """Where pixel x of an image row starts, in a row kept as even pixels then odd ones."""
    return np.uint64(((x % 2) * half + x // 2) * C)


@njit(**KERNEL)
def input_tiles(X, first, last, top, left, th, tw, image, V):
    """V (16, rows, C) <- B^T d B of every 4x4 patch d of samples first..last-1, a row of
    tiles at a time (th rows of tw a sample); ``image`` (2 th + 2, 2 tw + 2, C) is
    zero-padded scratch whose border stays zero, its rows even pixels first."""
    _, H, W, C = X.shape
    half = tw + 1
    Cu = np.uint64(C)
    S = np.uint64(V.shape[1]) * Cu  # from one position e to the next in V
    R = np.uint64(2 * half) * Cu  # from one image row to the next
    L = np.uint64(tw) * Cu  # a row of tiles, one position
    flat_image, out = image.reshape(image.size), V.reshape(V.size)
    t = np.uint64(0)
    for n in range(first, last):
        for r in range(H):
            row = np.uint64(r + top) * R
            pixels = X[n, r]
            for s in range(W):
                start = row + _pixel(s + left, half, C)
                for c in range(Cu):
                    flat_image[start + c] = pixels[s, c]
        for ty in range(th):
            for a in range(4):  # V[a, b] = the 2 x 2 terms of B^T's rows a and b, for the whole row
                row0 = np.uint64(2 * ty + BT_TERMS[a, 0]) * R
                row1 = np.uint64(2 * ty + BT_TERMS[a, 1]) * R
                sa = X.dtype.type(BT_SIGNS[a])
                for b in range(4):
                    col0, col1 = _pixel(BT_TERMS[b, 0], half, C), _pixel(BT_TERMS[b, 1], half, C)
                    sb = X.dtype.type(BT_SIGNS[b])
                    d00, d01, d10, d11 = row0 + col0, row0 + col1, row1 + col0, row1 + col1
                    o = np.uint64(a * 4 + b) * S + t * Cu
                    for q in range(L):
                        out[o + q] = ((flat_image[d00 + q] + sb * flat_image[d01 + q])
                                      + sa * (flat_image[d10 + q] + sb * flat_image[d11 + q]))
            t += np.uint64(tw)


@njit(**KERNEL)
def output_tiles(M, first, last, th, tw, b, relu, Z, A, row_Z):
    """Z (and A = max(Z, 0) with ``relu``) of samples first..last-1 <- A^T M A + b, the
    2 x 2 outputs of each tile that lie inside the output; ``row_Z`` (tw * F) is scratch:
    one output of every tile of a row."""
    _, oh, ow, F = Z.shape
    Fu = np.uint64(F)
    S = np.uint64(M.shape[1]) * Fu
    L = np.uint64(tw) * Fu
    m = M.reshape(M.size)
    zero = Z.dtype.type(0)
    t = np.uint64(0)
    for n in range(first, last):
        Zn, An = Z[n].reshape(oh * ow * F), A[n].reshape(oh * ow * F)
        for ty in range(th):
            tiles = t * Fu
            for a in range(2):
                y = 2 * ty + a
                if y >= oh:
                    continue
                r0 = tiles + np.uint64(AT_TERMS[a, 0] * 4) * S
                r1 = tiles + np.uint64(AT_TERMS[a, 1] * 4) * S
                r2 = tiles + np.uint64(AT_TERMS[a, 2] * 4) * S
                sa1, sa2 = Z.dtype.type(AT_SIGNS[a, 0]), Z.dtype.type(AT_SIGNS[a, 1])
                for bb in range(2):
                    c0, c1, c2 = (np.uint64(AT_TERMS[bb, 0]) * S, np.uint64(AT_TERMS[bb, 1]) * S,
                                  np.uint64(AT_TERMS[bb, 2]) * S)
                    sb1, sb2 = Z.dtype.type(AT_SIGNS[bb, 0]), Z.dtype.type(AT_SIGNS[bb, 1])
                    for q in range(L):
                        row0 = m[r0 + c0 + q] + sb1 * m[r0 + c1 + q] + sb2 * m[r0 + c2 + q]
                        row1 = m[r1 + c0 + q] + sb1 * m[r1 + c1 + q] + sb2 * m[r1 + c2 + q]
                        row2 = m[r2 + c0 + q] + sb1 * m[r2 + c1 + q] + sb2 * m[r2 + c2 + q]
                        row_Z[q] = row0 + sa1 * row1 + sa2 * row2
                    for tx in range(tw):  # each tile's output (y, 2 tx + bb), + b, into Z
                        x = 2 * tx + bb
                        if x >= ow:
                            continue
                        z, o = np.uint64((y * ow + x) * F), np.uint64(tx) * Fu
                        for f in range(Fu):
                            Zn[z + f] = row_Z[o + f] + b[f]
                if relu:  # the whole output row, in a loop of its own
                    start = np.uint64(y * ow * F)
                    for q in range(np.uint64(ow * F)):
                        value = Zn[start + q]
                        An[start + q] = value if value > zero else zero
            t += np.uint64(tw)


@njit(**KERNEL)
def gradient_tiles(given, A, relu, first, last, th, tw, dZ, db, dM, rows_dZ):
    """dM (16, rows, F) <- A dY A^T of every tile of samples first..last-1, and db += the
    sum of dZ. ``given`` is dZ, or with ``relu`` dA, and then dZ = dA where A > 0 is
    written to dZ on the way. ``rows_dZ`` (5, tw * F) is scratch: the four dZ values of
    every tile of a row (0 outside the output), then a row of zeros."""
    _, oh, ow, F = given.shape
    Fu = np.uint64(F)
    S = np.uint64(dM.shape[1]) * Fu
    L = np.uint64(tw) * Fu
    out, g = dM.reshape(dM.size), rows_dZ.reshape(rows_dZ.size)
    zero = given.dtype.type(0)
    g[np.uint64(4) * L:] = zero
    t = np.uint64(0)
    for n in range(first, last):
        Gn, An, Dn = given[n].reshape(oh * ow * F), A[n].reshape(oh * ow * F), dZ[n].reshape(oh * ow * F)
        for ty in range(th):
            for i in range(2):  # the tiles' rows of outputs: dZ (masked), db, then each tile's two
                y = 2 * ty + i
                if y >= oh:
                    g[np.uint64(2 * i) * L:np.uint64(2 * i + 2) * L] = zero
                    continue
                start = np.uint64(y * ow * F)
                if relu:
                    for q in range(np.uint64(ow * F)):
                        Dn[start + q] = Gn[start + q] if An[start + q] > zero else zero
                for x in range(ow):
                    pixel = start + np.uint64(x) * Fu
                    for f in range(Fu):
                        db[f] += Dn[pixel + f]
                for j in range(2):
                    row = np.uint64(2 * i + j) * L
                    for tx in range(tw):
                        x, o = 2 * tx + j, row + np.uint64(tx) * Fu
                        if x >= ow:
                            g[o:o + Fu] = zero
                            continue
                        pixel = start + np.uint64(x) * Fu
                        for f in range(Fu):
                            g[o + f] = Dn[pixel + f]
            tiles = t * Fu
            for a in range(4):  # dM[a, b] = the 2 x 2 terms of A's rows a and b, for the whole row
                sa0, sa1 = given.dtype.type(A_SIGNS[a, 0]), given.dtype.type(A_SIGNS[a, 1])
                for bb in range(4):
                    sb0, sb1 = given.dtype.type(A_SIGNS[bb, 0]), given.dtype.type(A_SIGNS[bb, 1])
                    g00 = _tile_row(A_TERMS[a, 0], A_TERMS[bb, 0]) * L
                    g01 = _tile_row(A_TERMS[a, 0], A_TERMS[bb, 1]) * L
                    g10 = _tile_row(A_TERMS[a, 1], A_TERMS[bb, 0]) * L
                    g11 = _tile_row(A_TERMS[a, 1], A_TERMS[bb, 1]) * L
                    o = np.uint64(a * 4 + bb) * S + tiles
                    for q in range(L):
                        out[o + q] = (sa0 * (sb0 * g[g00 + q] + sb1 * g[g01 + q])
                                      + sa1 * (sb0 * g[g10 + q] + sb1 * g[g11 + q]))
            t += np.uint64(tw)


@njit(cache=True, inline="always")
def _tile_row(i, j):
    """The row of rows_dZ holding dY[i, j] (i, j in 0, 1), or its row of zeros (index 2)."""
    return np.uint64(4 if i == 2 or j == 2 else i * 2 + j)


@njit(**KERNEL)
def scatter_tiles(dV, first, last, top, left, th, tw, dimage, dX):
    """dX of samples first..last-1 <- the sum over tiles of B dV B^T, each tile's on its
    own 4 x 4 patch of ``dimage`` (scratch, laid out as ``input_tiles``'s image), a row
    of tiles at a time, in a fixed order."""
    _, H, W, C = dX.shape
    half = tw + 1
    Cu = np.uint64(C)
    S = np.uint64(dV.shape[1]) * Cu
    R = np.uint64(2 * half) * Cu
    L = np.uint64(tw) * Cu
    v, flat = dV.reshape(dV.size), dimage.reshape(dimage.size)
    t = np.uint64(0)
    for n in range(first, last):
        flat[:] = 0
        for ty in range(th):
            tiles = t * Cu
            for a in range(4):
                for b in range(4):
                    pixel = np.uint64(2 * ty + a) * R + _pixel(b, half, C)  # column b of the row's first tile
                    for ka in range(B_COUNT[a]):
                        for kb in range(B_COUNT[b]):
                            sign = dX.dtype.type(B_SIGNS[a, ka] * B_SIGNS[b, kb])
                            e = np.uint64(B_TERMS[a, ka] * 4 + B_TERMS[b, kb]) * S + tiles
                            for q in range(L):
                                flat[pixel + q] += sign * v[e + q]
            t += np.uint64(tw)
        for r in range(H):
            row, pixels = np.uint64(r + top) * R, dX[n, r]
            for s in range(W):
                start = row + _pixel(s + left, half, C)
                for c in range(Cu):
                    pixels[s, c] = flat[start + c]


# --------------------------------------------------------------------------- the ops


def _require_3x3(W, strides):
    """The kernel computes 3x3 filters at stride 1 alone (paths.py sends no other)."""
    if tuple(W.shape[:2]) != (3, 3) or tuple(strides) != (1, 1):
        raise ValueError(f"conv_winograd: 3x3 filters at stride (1, 1) only, got {tuple(W.shape[:2])} filters "
                         f"at stride {tuple(strides)}")


def _geometry(X, W, padding):
    (m, H, Wd, C), F = X.shape, W.shape[3]
    (top, bottom), (left, right) = padding
    oh, ow = H + top + bottom - 2, Wd + left + right - 2
    return m, C, F, top, left, oh, ow, -(-oh // 2), -(-ow // 2)  # th x tw tiles cover the output


def samples_per_chunk(m, tiles, C, F, itemsize):
    """Samples per chunk: an even number of chunks (2 at least) of equal size, each's M
    under CHUNK_BYTES where a sample allows it; the shapes alone decide."""
    chunks = max(2, -(-m * 16 * tiles * max(C, F) * itemsize // CHUNK_BYTES))
    chunks += chunks % 2
    return max(1, -(-m // chunks))


def _transformed_filters(W, dtype):
    """U (16, C, F): G g G^T for every channel and filter, position e = 4 a + b."""
    C, F = W.shape[2:]
    return np.ascontiguousarray(np.einsum("ai,ijcf,bj->abcf", G, W, G).reshape(16, C, F), dtype=dtype)


def conv2d_forward(X, W, b, strides, padding):
    """Z (m, oh, ow, F), as ``nnxp.ops.conv.conv2d_forward`` (3x3 filters, stride 1)."""
    _require_3x3(W, strides)
    return _forward(X, W, b, padding, False)[0]


def conv2d_activation_forward(X, W, b, strides, padding, activation):
    """(Z, A), as ``conv_gemm.conv2d_activation_forward``: ReLU applied as Z is written."""
    _require_3x3(W, strides)
    return _forward(X, W, b, padding, activation == RELU)


def conv2d_backward(dZ, X, W, strides, padding, need_dX=True):
    """(dX, dW, db), as ``nnxp.ops.conv.conv2d_backward`` (dX None unless need_dX)."""
    _require_3x3(W, strides)
    return _backward(dZ, X, W, padding, need_dX, None)[:3]


def conv2d_activation_backward(dA, Z, A, X, W, strides, padding, need_dX, activation):
    """(dX, dW, db, dZ), as ``conv_gemm.conv2d_activation_backward``: for ReLU, dZ = dA
    where A > 0, formed tile by tile as dY is read; for the identity, dZ is dA."""
    _require_3x3(W, strides)
    return _backward(dA, X, W, padding, need_dX, A if activation == RELU else None)


def _chunk(c, per, m, th, tw, C, F, dtype):
    """Chunk c's samples first..last-1, its rows of tiles, and its scratch: the zero-padded
    image, V (16, rows + SPARE, C) and M or dM (16, rows + SPARE, F)."""
    first, last = c * per, min(m, (c + 1) * per)
    rows = (last - first) * th * tw
    image = np.zeros((2 * th + 2, 2 * tw + 2, C), dtype=dtype)
    return (first, last, rows, image, buffers.empty((16, rows + SPARE, C), dtype),
            buffers.empty((16, rows + SPARE, F), dtype))


def _forward(X, W, b, padding, relu):
    X = np.ascontiguousarray(X)
    m, C, F, top, left, oh, ow, th, tw = _geometry(X, W, padding)
    U = _transformed_filters(W, X.dtype)
    bias = np.zeros(F, dtype=X.dtype) if b is None else np.ascontiguousarray(b, dtype=X.dtype)
    Z = buffers.empty((m, oh, ow, F), X.dtype)
    A = buffers.empty(Z.shape, X.dtype) if relu else Z
    per = samples_per_chunk(m, th * tw, C, F, X.itemsize)

    def run(c):
        first, last, rows, image, V, M = _chunk(c, per, m, th, tw, C, F, X.dtype)
        input_tiles(X, first, last, top, left, th, tw, image, V)
        np.matmul(V[:, :rows], U, out=M[:, :rows])
        output_tiles(M, first, last, th, tw, bias, relu, Z, A, np.empty(tw * F, dtype=X.dtype))

    workers.share(run, -(-m // per))
    return Z, A


def _backward(dZ, X, W, padding, need_dX, relu_A):
    """(dX, dW, db, dZ). With ``relu_A`` (the forward's A = max(Z, 0)), the first argument
    is dA and dZ = dA where A > 0 is formed on the way."""
    X = np.ascontiguousarray(X)
    m, C, F, top, left, oh, ow, th, tw = _geometry(X, W, padding)
    U = _transformed_filters(W, X.dtype)
    U_T = np.ascontiguousarray(U.transpose(0, 2, 1))
    given = np.ascontiguousarray(dZ, dtype=X.dtype)
    relu = relu_A is not None
    dZ = buffers.empty(given.shape, X.dtype) if relu else given
    mask = np.ascontiguousarray(relu_A) if relu else given
    per = samples_per_chunk(m, th * tw, C, F, X.itemsize)
    chunks = -(-m // per)
    dU_parts = np.empty((chunks, 16, C, F), dtype=X.dtype)
    db_parts = np.zeros((chunks, F), dtype=X.dtype)
    dX = buffers.empty(X.shape, X.dtype) if need_dX else None

    def run(c):
        first, last, rows, image, V, dM = _chunk(c, per, m, th, tw, C, F, X.dtype)
        gradient_tiles(given, mask, relu, first, last, th, tw, dZ, db_parts[c], dM, np.empty((5, tw * F), X.dtype))
        input_tiles(X, first, last, top, left, th, tw, image, V)
        np.matmul(V[:, :rows].transpose(0, 2, 1), dM[:, :rows], out=dU_parts[c])
        if need_dX:
            np.matmul(dM[:, :rows], U_T, out=V[:, :rows])  # dV, in V's place: V is no longer needed
            scatter_tiles(V, first, last, top, left, th, tw, image, dX)

    workers.share(run, chunks)
    dU, db = dU_parts[0].copy(), db_parts[0].copy()
    for c in range(1, chunks):  # in chunk order: the same sums on any number of threads
        dU += dU_parts[c]
        db += db_parts[c]
    dW = np.einsum("ai,abcf,bj->ijcf", G, dU.reshape(4, 4, C, F), G).astype(X.dtype, copy=False)
    return dX, np.ascontiguousarray(dW), db, dZ
