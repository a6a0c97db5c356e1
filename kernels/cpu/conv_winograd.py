"""Convolution by Winograd's minimal filtering, F(m x m, 3 x 3), for the CPU.

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

This is F(2, 3): the product of two polynomials (the filter's and the inputs') read at
the points 0, 1, -1 and infinity, multiplied there, and interpolated back. With more
points (0, 1, -1, 2, -2, infinity) the same construction gives F(4, 3): four outputs
from six inputs with 6 multiplications (``TRANSFORMS`` below holds both sets of
matrices). Nested along rows and columns, an m x m tile of outputs comes from the
(m + 2) x (m + 2) patch d of inputs under it (patches overlap by 2) as
Y = A^T [U * V] A with U = G g G^T and V = B^T d B: for F(2x2, 3x3) 16 multiplications
for 4 outputs, for F(4x4, 3x3) 36 for 16, against 9 an output directly. Over channels
and filters the product at each of the (m + 2)^2 positions e of the patch is a matrix
product, and that is where the work goes (T tiles, C channels, F filters)::

    V[e]  (T, C)   every tile's transformed patch, position e, one row per tile
    U[e]  (C, F)   the transformed filters (computed once per call, in NumPy)
    M[e] = V[e] @ U[e]                      (m + 2)^2 products: 2.25x (m = 2) or 4x (m = 4)
                                            fewer FLOPs than im2col's one
    Z tile = A^T M A + b                    (and A = max(Z, 0), row by row as Z is written)

Backward, the same transforms run the other way (each is linear): with dY a tile of
dZ, dM = A dY A^T, then

    dU[e] = V[e]^T @ dM[e]                  summed over tiles: dW = G^T dU G
    dV[e] = dM[e] @ U[e]^T                  dX = the sum over tiles of B dV B^T,
                                            each on its own patch
    db = the sum of dZ

The transforms are exact rearrangements of sums, so results differ from the reference
by rounding only; F(4x4)'s larger coefficients (up to 8, and 1/24) round more: float64
within 1e-13 relative on the tests' grids, float32 within 1e-5. An output grid whose
size is not a multiple of m gets one more row or column of tiles, computed and dropped
(backward, their dY is 0); patches past the padded image read zeros.

**When it pays** (``paths.py``): the products are narrow (K = C channels), and the
transforms read and write every tile's (m + 2)^2 x (C + F) numbers, against im2col's one
GEMM of K = 9 C. So it wins where C x F is large: from 32 channels to 16 filters and
more (W7's second layer, 32 -> 64), in float64 also from 8 channels to 32 filters; with
fewer it loses. Of the two tile sizes, F(4x4) reads and writes 36 numbers per 16 outputs
where F(2x2) moves 16 per 4: fewer products and less memory traffic, for transforms of
more terms (``TILE``).

Layout and speed. Chunks of samples, each on one thread (``workers.share``), as in
``conv_gemm.py``; dW's and db's partial sums per chunk are added in chunk order, so the
bits do not depend on the number of threads. V and M are ((m + 2)^2, T + 1, C or F):
the spare row puts the positions of a tile 4 KB-unaligned apart (at W7's shapes
T x C x 4 bytes is a multiple of 4096, and F(2x2)'s 16 streams that far apart fought
for the same cache sets: its input transform ran 3.7x slower). Every inner loop writes
ONE array, so that LLVM turns it into SIMD code (F(2x2)'s loops that wrote all 16
positions at once stayed scalar: 3.2x slower), and runs along a whole row of tiles
(below, the transforms).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..activation_codes import RELU
from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)
from . import workers
from . import buffers  # the large arrays, recycled across calls

KERNEL = {"cache": True, "nogil": True, "error_model": "numpy"}

# The matrices (B^T, G, A^T) of F(m x m, 3 x 3), by m. Any (B^T, G, A^T) with
# A^T [(G g) * (B^T d)] = the correlation of d with g works here; the tests check both.
TRANSFORMS = {
    2: (np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=float),
        np.array([[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]]),
        np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=float)),
    4: (np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                  [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=float),
        np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]),
        np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], dtype=float)),
}
# m, by dtype. W7's second layer, F(4x4) against the F(2x2) kernel of before (its own
# loops, written for its terms of +-1; 2 threads, interleaved): forward 0.83x / 0.88x the
# time, backward 0.74x / 0.74x (float32 / float64); these loops at m = 2 run 1.05-1.2x
# slower than that kernel did: F(2x2) stays for the lesson and the tests.
TILE = {"float32": 4, "float64": 4}

# A chunk's M ((m + 2)^2 x tiles x max(C, F) numbers) is about this many bytes at most:
# 2 MB measured best at W7's second layer with F(4x4) (2 threads, forward + backward:
# float64 512 KB 1.32x, 1 MB 1.17x, 4 MB 1.06x; float32 1-4 MB within 2%, 512 KB 1.07x).
CHUNK_BYTES = 1 << 21
SPARE = 1  # the spare row of V and M (module docstring)
TERMS = 5  # the most nonzero numbers in a row of the transforms (F(4x4)'s A^T and B)


@lru_cache(maxsize=None)
def tables(m: int, dtype: str):
    """The transforms of F(m x m, 3 x 3) as the kernels read them: for each of B^T, A^T,
    A = (A^T)^T and B = (B^T)^T, every row's nonzero terms as (column, coefficient)
    pairs, TERMS of them, the unused ones (column 0, coefficient 0) at the end. A row of
    B^T d is then sum_k coef[r, k] d[col[r, k]]: 1-5 terms, where a dense row would
    multiply 4-6 numbers, most by 0 or 1."""
    BT, _, AT = TRANSFORMS[m]
    out = []
    for matrix in (BT, AT, AT.T, BT.T):
        columns = np.zeros((matrix.shape[0], TERMS), dtype=np.int64)
        coefs = np.zeros((matrix.shape[0], TERMS), dtype=dtype)
        for r, row in enumerate(matrix):
            nonzero = np.flatnonzero(row)
            columns[r, :nonzero.size], coefs[r, :nonzero.size] = nonzero, row[nonzero]
        out += [columns, coefs]
    return tuple(out)  # bt columns, bt coefs, at ..., a ..., b ...


# --------------------------------------------------------------------------- the transforms
# They go one row of tiles at a time: for one position e, the row's tiles lie side by
# side in V and M (tile after tile, channels innermost), so each formula is one loop
# along the whole row (tw x C numbers), long enough for SIMD lanes to pay (tile by tile,
# 32 float32 channels made two passes of 16 lanes a loop: the gradient's transform ran
# 1.9x slower). A 2-D transform is two 1-D ones, rows then columns (X^T d X: first the
# rows of X^T d into scratch, then those times X), each a sum of a few terms (``tables``).
# The image rows are kept with their pixels grouped by x mod m: column j of tile x is
# pixel m x + j, so for every tile of the row it sits at the same offset,
# ((j % m) * (tw + 1) + j // m) channels' widths along the row, and the row's patches
# are read as whole runs too. Every index below is unsigned (np.uint64): for a signed
# index Numba adds a test for negative values, which stops LLVM from vectorising
# (conv_gemm.py).


@njit(cache=True, inline="always")
def _pixel(x, part, m, C):
    """Where pixel x of an image row starts, in a row kept as pixels grouped by x mod m,
    ``part`` pixels a group."""
    return np.uint64(((x % m) * part + x // m) * C)


@njit(cache=True, inline="always")
def _steps(tiles, m, tw):
    """For a tile array ((m+2)^2, rows, width) of a row of tw tiles: alpha = m + 2, the
    width (unsigned), S from one position e to the next, and L a row of tiles at one
    position."""
    width = np.uint64(tiles.shape[2])
    return m + 2, width, np.uint64(tiles.shape[1]) * width, np.uint64(tw) * width


@njit(cache=True, inline="always")
def _combine(out, o, src, base, stride, columns, coefs, r, L, accumulate):
    """out[o:o+L] = (or += with ``accumulate``) the sum over row r's terms k of
    coefs[r, k] * src[base + columns[r, k] * stride:][:L]: one row of a 1-D transform,
    for a whole row of tiles, in one loop that writes out alone (SIMD) and once. The
    row's count of terms is the same for every q, so its tests do not keep the loop
    from SIMD (and rows of 1-4 terms do not pay for 5: backward 0.96x, measured)."""
    count = 0
    for k in range(TERMS):
        if coefs[r, k] != 0:
            count = k + 1
    s0, s1, s2, s3, s4 = (base + np.uint64(columns[r, 0]) * stride, base + np.uint64(columns[r, 1]) * stride,
                          base + np.uint64(columns[r, 2]) * stride, base + np.uint64(columns[r, 3]) * stride,
                          base + np.uint64(columns[r, 4]) * stride)
    c0, c1, c2, c3, c4 = coefs[r, 0], coefs[r, 1], coefs[r, 2], coefs[r, 3], coefs[r, 4]
    for q in range(L):
        value = c0 * src[s0 + q]
        if count > 1:
            value += c1 * src[s1 + q]
        if count > 2:
            value += c2 * src[s2 + q]
        if count > 3:
            value += c3 * src[s3 + q]
        if count > 4:
            value += c4 * src[s4 + q]
        if accumulate:
            out[o + q] += value
        else:
            out[o + q] = value


@njit(**KERNEL)
def input_tiles(X, first, last, top, left, th, tw, m, bt_columns, bt_coefs, image, V):
    """V ((m+2)^2, rows, C) <- B^T d B of every (m+2) x (m+2) patch d of samples
    first..last-1, a row of tiles at a time (th rows of tw a sample); ``image``
    (m th + 2, m (tw + 1), C) is zero-padded scratch whose border stays zero, its rows'
    pixels grouped by x mod m."""
    _, H, W, C = X.shape
    alpha, Cu, S, L = _steps(V, m, tw)
    part = tw + 1
    R = np.uint64(m * part) * Cu  # from one image row to the next
    flat_image, out = image.reshape(image.size), V.reshape(V.size)
    rows = np.empty(alpha * alpha * tw * C, dtype=X.dtype)  # (B^T d)[a, j], a row of tiles
    t = np.uint64(0)
    for n in range(first, last):
        for r in range(H):
            row = np.uint64(r + top) * R
            pixels = X[n, r]
            for s in range(W):
                start = row + _pixel(s + left, part, m, C)
                for c in range(Cu):
                    flat_image[start + c] = pixels[s, c]
        for ty in range(th):
            patch_top = np.uint64(m * ty) * R
            for a in range(alpha):  # (B^T d)[a, j] = sum_i B^T[a, i] d[i, j]
                for j in range(alpha):
                    _combine(rows, np.uint64(a * alpha + j) * L, flat_image, patch_top + _pixel(j, part, m, C), R,
                             bt_columns, bt_coefs, a, L, False)
            for a in range(alpha):  # V[a, b] = sum_j B^T[b, j] (B^T d)[a, j]
                for b in range(alpha):
                    _combine(out, np.uint64(a * alpha + b) * S + t * Cu, rows, np.uint64(a * alpha) * L, L,
                             bt_columns, bt_coefs, b, L, False)
            t += np.uint64(tw)


@njit(**KERNEL)
def output_tiles(M, first, last, th, tw, m, at_columns, at_coefs, b, relu, Z, A):
    """Z (and A = max(Z, 0) with ``relu``) of samples first..last-1 <- A^T M A + b, the
    m x m outputs of each tile that lie inside the output."""
    _, oh, ow, F = Z.shape
    alpha, Fu, S, L = _steps(M, m, tw)
    flat_M = M.reshape(M.size)
    rows = np.empty(m * alpha * tw * F, dtype=Z.dtype)  # (A^T M)[a, j], a row of tiles
    row_Z = np.empty(tw * F, dtype=Z.dtype)  # one output of every tile of the row
    zero = Z.dtype.type(0)
    t = np.uint64(0)
    for n in range(first, last):
        Zn, An = Z[n].reshape(oh * ow * F), A[n].reshape(oh * ow * F)
        for ty in range(th):
            tiles = t * Fu
            for a in range(m):  # (A^T M)[a, j] = sum_i A^T[a, i] M[i, j]
                for j in range(alpha):
                    _combine(rows, np.uint64(a * alpha + j) * L, flat_M, tiles + np.uint64(j) * S,
                             np.uint64(alpha) * S, at_columns, at_coefs, a, L, False)
            for a in range(m):
                y = m * ty + a
                if y >= oh:
                    continue
                for bb in range(m):  # Y[a, bb] = sum_j A^T[bb, j] (A^T M)[a, j]
                    _combine(row_Z, np.uint64(0), rows, np.uint64(a * alpha) * L, L, at_columns, at_coefs, bb, L,
                             False)
                    for tx in range(tw):  # each tile's output (y, m tx + bb), + b, into Z
                        x = m * tx + bb
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
def gradient_tiles(given, A, relu, first, last, th, tw, m, a_columns, a_coefs, dZ, db, dM):
    """dM ((m+2)^2, rows, F) <- A dY A^T of every tile of samples first..last-1, and
    db += the sum of dZ. ``given`` is dZ, or with ``relu`` dA, and then dZ = dA where
    A > 0 is written to dZ on the way."""
    _, oh, ow, F = given.shape
    alpha, Fu, S, L = _steps(dM, m, tw)
    out = dM.reshape(dM.size)
    g = np.empty(m * m * tw * F, dtype=given.dtype)  # dY[i, j] of every tile of a row (0 outside the output)
    rows = np.empty(alpha * m * tw * F, dtype=given.dtype)  # (A dY)[a, j]
    zero = given.dtype.type(0)
    t = np.uint64(0)
    for n in range(first, last):
        Gn, An, Dn = given[n].reshape(oh * ow * F), A[n].reshape(oh * ow * F), dZ[n].reshape(oh * ow * F)
        for ty in range(th):
            for i in range(m):  # the tiles' rows of outputs: dZ (masked), db, then each tile's m
                y = m * ty + i
                if y >= oh:
                    g[np.uint64(i * m) * L:np.uint64(i * m + m) * L] = zero
                    continue
                start = np.uint64(y * ow * F)
                if relu:
                    for q in range(np.uint64(ow * F)):
                        Dn[start + q] = Gn[start + q] if An[start + q] > zero else zero
                for x in range(ow):
                    pixel = start + np.uint64(x) * Fu
                    for f in range(Fu):
                        db[f] += Dn[pixel + f]
                for j in range(m):
                    row = np.uint64(i * m + j) * L
                    for tx in range(tw):
                        x, o = m * tx + j, row + np.uint64(tx) * Fu
                        if x >= ow:
                            g[o:o + Fu] = zero
                            continue
                        pixel = start + np.uint64(x) * Fu
                        for f in range(Fu):
                            g[o + f] = Dn[pixel + f]
            for a in range(alpha):  # (A dY)[a, j] = sum_i A[a, i] dY[i, j]
                for j in range(m):
                    _combine(rows, np.uint64(a * m + j) * L, g, np.uint64(j) * L, np.uint64(m) * L,
                             a_columns, a_coefs, a, L, False)
            tiles = t * Fu
            for a in range(alpha):  # dM[a, b] = sum_j A[b, j] (A dY)[a, j]
                for bb in range(alpha):
                    _combine(out, np.uint64(a * alpha + bb) * S + tiles, rows, np.uint64(a * m) * L, L,
                             a_columns, a_coefs, bb, L, False)
            t += np.uint64(tw)


@njit(**KERNEL)
def scatter_tiles(dV, first, last, top, left, th, tw, m, b_columns, b_coefs, dimage, dX):
    """dX of samples first..last-1 <- the sum over tiles of B dV B^T, each tile's on its
    own patch of ``dimage`` (scratch, laid out as ``input_tiles``'s image), a row of
    tiles at a time, in a fixed order."""
    _, H, W, C = dX.shape
    alpha, Cu, S, L = _steps(dV, m, tw)
    part = tw + 1
    R = np.uint64(m * part) * Cu
    v, flat = dV.reshape(dV.size), dimage.reshape(dimage.size)
    rows = np.empty(alpha * alpha * tw * C, dtype=dX.dtype)  # (B dV)[i, b]
    t = np.uint64(0)
    for n in range(first, last):
        flat[:] = 0
        for ty in range(th):
            tiles = t * Cu
            for i in range(alpha):  # (B dV)[i, b] = sum_a B[i, a] dV[a, b]
                for b in range(alpha):
                    _combine(rows, np.uint64(i * alpha + b) * L, v, tiles + np.uint64(b) * S, np.uint64(alpha) * S,
                             b_columns, b_coefs, i, L, False)
            patch_top = np.uint64(m * ty) * R
            for i in range(alpha):  # the patch's d[i, j] += sum_b B[j, b] (B dV)[i, b]
                for j in range(alpha):
                    _combine(flat, patch_top + np.uint64(i) * R + _pixel(j, part, m, C), rows,
                             np.uint64(i * alpha) * L, L, b_columns, b_coefs, j, L, True)
            t += np.uint64(tw)
        for r in range(H):
            row, pixels = np.uint64(r + top) * R, dX[n, r]
            for s in range(W):
                start = row + _pixel(s + left, part, m, C)
                for c in range(Cu):
                    pixels[s, c] = flat[start + c]


# --------------------------------------------------------------------------- the ops


def _require_3x3(W, strides):
    """The kernel computes 3x3 filters at stride 1 alone (paths.py sends no other)."""
    if tuple(W.shape[:2]) != (3, 3) or tuple(strides) != (1, 1):
        raise ValueError(f"conv_winograd: 3x3 filters at stride (1, 1) only, got {tuple(W.shape[:2])} filters "
                         f"at stride {tuple(strides)}")


def _geometry(X, W, padding, m):
    (n, H, Wd, C), F = X.shape, W.shape[3]
    (top, bottom), (left, right) = padding
    oh, ow = H + top + bottom - 2, Wd + left + right - 2
    return n, C, F, top, left, oh, ow, -(-oh // m), -(-ow // m)  # th x tw tiles of m x m cover the output


def samples_per_chunk(n, tiles, C, F, itemsize, m=2):
    """Samples per chunk: an even number of chunks (2 at least) of equal size, each's M
    under CHUNK_BYTES where a sample allows it; the shapes alone decide."""
    chunks = max(2, -(-n * (m + 2) ** 2 * tiles * max(C, F) * itemsize // CHUNK_BYTES))
    chunks += chunks % 2
    return max(1, -(-n // chunks))


def _transformed_filters(W, G, dtype):
    """U ((m+2)^2, C, F): G g G^T for every channel and filter, position e = (m+2) a + b,
    as two matrix products over all C F filters at once (in float64, then cast)."""
    alpha, (C, F) = G.shape[0], W.shape[2:]
    GW = np.matmul(G, W.reshape(3, 3 * C * F)).reshape(alpha, 3, C * F)  # (G g)[a, j]
    return np.ascontiguousarray(np.matmul(G, GW).reshape(alpha * alpha, C, F), dtype=dtype)  # (G g G^T)[a, b]


def _filter_gradient(dU, G, dtype):
    """dW (3, 3, C, F) = G^T dU G from dU ((m+2)^2, C, F), as two matrix products."""
    alpha, (C, F) = G.shape[0], dU.shape[1:]
    GdU = np.matmul(G.T, dU.reshape(alpha, alpha * C * F)).reshape(3, alpha, C * F)  # (G^T dU)[i, b]
    return np.ascontiguousarray(np.matmul(G.T, GdU).reshape(3, 3, C, F), dtype=dtype)  # (G^T dU G)[i, j]


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


def _chunk(c, per, n, th, tw, m, C, F, dtype):
    """Chunk c's samples first..last-1, its rows of tiles, and its scratch: the zero-padded
    image, V ((m+2)^2, rows + SPARE, C) and M or dM ((m+2)^2, rows + SPARE, F)."""
    first, last = c * per, min(n, (c + 1) * per)
    rows, positions = (last - first) * th * tw, (m + 2) ** 2
    image = np.zeros((m * th + 2, m * (tw + 1), C), dtype=dtype)
    return (first, last, rows, image, buffers.empty((positions, rows + SPARE, C), dtype),
            buffers.empty((positions, rows + SPARE, F), dtype))


def _forward(X, W, b, padding, relu):
    X = np.ascontiguousarray(X)
    m = TILE[X.dtype.name]
    n, C, F, top, left, oh, ow, th, tw = _geometry(X, W, padding, m)
    bt_columns, bt_coefs, at_columns, at_coefs, _, _, _, _ = tables(m, X.dtype.name)
    U = _transformed_filters(W, TRANSFORMS[m][1], X.dtype)
    bias = np.zeros(F, dtype=X.dtype) if b is None else np.ascontiguousarray(b, dtype=X.dtype)
    Z = buffers.empty((n, oh, ow, F), X.dtype)
    A = buffers.empty(Z.shape, X.dtype) if relu else Z
    per = samples_per_chunk(n, th * tw, C, F, X.itemsize, m)

    def run(c):
        first, last, rows, image, V, M = _chunk(c, per, n, th, tw, m, C, F, X.dtype)
        input_tiles(X, first, last, top, left, th, tw, m, bt_columns, bt_coefs, image, V)
        np.matmul(V[:, :rows], U, out=M[:, :rows])
        output_tiles(M, first, last, th, tw, m, at_columns, at_coefs, bias, relu, Z, A)

    workers.share(run, -(-n // per))
    return Z, A


def _backward(dZ, X, W, padding, need_dX, relu_A):
    """(dX, dW, db, dZ). With ``relu_A`` (the forward's A = max(Z, 0)), the first argument
    is dA and dZ = dA where A > 0 is formed on the way."""
    X = np.ascontiguousarray(X)
    m = TILE[X.dtype.name]
    n, C, F, top, left, oh, ow, th, tw = _geometry(X, W, padding, m)
    bt_columns, bt_coefs, _, _, a_columns, a_coefs, b_columns, b_coefs = tables(m, X.dtype.name)
    G = TRANSFORMS[m][1]
    U = _transformed_filters(W, G, X.dtype)
    U_T = np.ascontiguousarray(U.transpose(0, 2, 1))
    given = np.ascontiguousarray(dZ, dtype=X.dtype)
    relu = relu_A is not None
    dZ = buffers.empty(given.shape, X.dtype) if relu else given
    mask = np.ascontiguousarray(relu_A) if relu else given
    per = samples_per_chunk(n, th * tw, C, F, X.itemsize, m)
    chunks = -(-n // per)
    dU_parts = np.empty((chunks, (m + 2) ** 2, C, F), dtype=X.dtype)
    db_parts = np.zeros((chunks, F), dtype=X.dtype)
    dX = buffers.empty(X.shape, X.dtype) if need_dX else None

    def run(c):
        first, last, rows, image, V, dM = _chunk(c, per, n, th, tw, m, C, F, X.dtype)
        gradient_tiles(given, mask, relu, first, last, th, tw, m, a_columns, a_coefs, dZ, db_parts[c], dM)
        input_tiles(X, first, last, top, left, th, tw, m, bt_columns, bt_coefs, image, V)
        np.matmul(V[:, :rows].transpose(0, 2, 1), dM[:, :rows], out=dU_parts[c])
        if need_dX:
            np.matmul(dM[:, :rows], U_T, out=V[:, :rows])  # dV, in V's place: V is no longer needed
            scatter_tiles(V, first, last, top, left, th, tw, m, b_columns, b_coefs, image, dX)

    workers.share(run, chunks)
    dU, db = dU_parts[0].copy(), db_parts[0].copy()
    for c in range(1, chunks):  # in chunk order: the same sums on any number of threads
        dU += dU_parts[c]
        db += db_parts[c]
    return dX, _filter_gradient(dU, G, X.dtype), db, dZ
