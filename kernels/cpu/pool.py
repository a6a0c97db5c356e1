"""Pooling kernels for the CPU (numba.njit), the compiled twins of ``nnxp.ops.pool``.

Same arguments, same results as the reference: X (m, H, W, C), pool_size (ph, pw),
strides (sh, sw), padding ((top, bottom), (left, right)), mode "max", "min" or "mean".

The padding is never built: a window tap that falls outside the image is skipped,
which is what -inf (max) or +inf (min) padding would give; mean divides by ph * pw
whatever the window holds, so padded pixels count as zeros (PyTorch's
count_include_pad=True), as in the reference. Min pooling is max pooling with every
value negated (negation is exact): one code path, ``sign`` = -1.

Forward works one output row (n, y) at a time and one window tap (i, j) at a time,
over every window of that row, channels innermost (they lie next to each other in
memory). Backward, for max and min, walks each window's taps in row-major order and
keeps the flat index of the extreme, replacing it only for a strictly greater value:
the first of equal values stays, the reference's tie rule. It then adds dA there.
The updates are selects, not branches (on random data branches mispredict half the
time, which measured 3x slower). Samples run in parallel (``prange``); each writes
only its own A or dX.

Given the forward's output A, backward for max and min can find each window's pixel
without comparing the window's values with each other: it is the first one equal to
A (the forward kept a value only when strictly greater, so the first of equal values
is the one it kept). Walking the taps from last to first, ``winner = here if equal``
ends on the first. This walk runs along the channels, like the forward, so it uses
SIMD lanes where there are enough channels to fill them (8 float32 values in AVX2):
for 8 channels and more it measured 1.7-2x faster (W2's pooling, 32x26x26x8: 177 ->
101 us); for fewer, the per-window loops above are faster (6 channels: 305 against
369 us), and they run.

The 2x2 windows that tile the image (stride 2, no padding: every CNN of the workloads
and of most lessons) need neither the zeros nor the scattered additions: each pixel
lies in one window, so backward writes dX once, dA where the pixel is its window's
first one equal to A and 0 elsewhere. Two kernels do it, with their loops over the
taps fixed at 2 and 2, so that the compiler writes them out (with the pool's size as
a variable the same loops measured 1.2-2x slower):

* ``pool_backward_tiles``, pixel after pixel along the rows, the channels innermost,
  for 16 channels and more: W7's first pooling (256x32x32x32, float32) 4.6 -> 1.7 ms
  against that walk, and against the same loops with the size variable W6's second
  0.53-0.64x, W7's 0.83-0.97x. With fewer channels the walk above runs instead: a loop
  of 8 channels is one SIMD pass of 8 float32 lanes, and whether LLVM runs it in SIMD
  registers or in its scalar remainder depends on the processor. On an AVX2 machine
  (znver3) this kernel took 3.3 ns a pixel with 8 or 12 channels against 0.4 with 16 or
  more (W2's pooling 566 us, the walk 155, float32), on AVX-512 ones 91 us against
  the walk's 101: the walk is the safe choice (with 8 float64 channels this kernel
  already ran 5x slower than the walk there);
* ``pool_backward_2x2``, window after window, for fewer channels, which fill no SIMD
  lane: W6's first pooling (6 channels) 273-416 -> 132-186 us, float32 and float64,
  against the per-window loops above, which first write zeros and then add.

Which kernel runs, for max and min given A: ``backward_kernel`` below. Forward, max and
min over those 2x2 windows take a window's two pixels of a row together
(``pool_forward_2x2``: compared in registers, A's row read and written once per window
row instead of once per tap): against the loops above W2's 0.56x (float32) and 0.53x
(float64), W6's first 0.44x and 0.54x, W7's first 0.96x and 0.67x, its second 0.74x and
0.58x (all four taps of a window at once measured faster on the small layers but 1.14x
slower on W7's first, whose 33 MB it then reads as two streams).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)
from . import buffers  # the large arrays, recycled across calls

MODE_CODES = {"max": 0, "min": 1, "mean": 2}
MEAN = 2


def pool2d_forward(X, pool_size, strides, padding, mode):
    """A (m, oh, ow, C), as ``nnxp.ops.pool.pool2d_forward``."""
    X = np.ascontiguousarray(X)
    (ph, pw), (sh, sw), ((top, bottom), (left, right)) = pool_size, strides, padding
    m, H, W, C = X.shape
    A = buffers.empty((m, (H + top + bottom - ph) // sh + 1, (W + left + right - pw) // sw + 1, C), X.dtype)
    if mode != "mean" and tiles_2x2(pool_size, strides, padding):  # max / min over the 2x2 windows of most CNNs
        pool_forward_2x2(X, X.dtype.type(-1 if mode == "min" else 1), A)
    else:
        pool_forward_loops(X, ph, pw, sh, sw, top, left, MODE_CODES[mode], A)
    return A


# From this many channels on, backward finds max / min pixels from A along the
# channels (see above).
LANES = 8
# From this many on, 2x2 tiling windows go pixel by pixel (see above).
TILE_LANES = 16


def pool2d_backward(dA, X, pool_size, strides, padding, mode, A=None):
    """dX (m, H, W, C), as ``nnxp.ops.pool.pool2d_backward``."""
    X = np.ascontiguousarray(X)
    dA = np.ascontiguousarray(dA, dtype=X.dtype)
    (ph, pw), (sh, sw), ((top, _), (left, _)) = pool_size, strides, padding
    kernel = backward_kernel(X.shape[3], pool_size, strides, padding) if A is not None else "loops"
    if mode == "mean" or kernel == "loops":
        dX = buffers.zeros(X.shape, X.dtype)
        pool_backward_loops(dA, X, ph, pw, sh, sw, top, left, MODE_CODES[mode], dX)
        return dX
    A = np.ascontiguousarray(A, dtype=X.dtype)
    if kernel == "from output":
        dX = buffers.zeros(X.shape, X.dtype)
        pool_backward_from_output(dA, X, A, ph, pw, sh, sw, top, left, dX)
        return dX
    dX = buffers.empty(X.shape, X.dtype)  # every pixel written: no zeros first
    (pool_backward_tiles if kernel == "tiles" else pool_backward_2x2)(dA, X, A, dX)
    return dX


def backward_kernel(channels, pool_size, strides, padding) -> str:
    """Which kernel does max and min pooling's backward, given the forward's A (the
    module docstring): for 2x2 windows that tile the image, "2x2" under 8 channels and
    "tiles" from 16; "from output" (the walk along the channels) for any other window
    with 8 channels or more; "loops" (window by window, zeros first) for the rest. The
    same rule in both dtypes."""
    if tiles_2x2(pool_size, strides, padding):
        if channels < LANES:
            return "2x2"
        if channels >= TILE_LANES:
            return "tiles"
    return "from output" if channels >= LANES else "loops"


def tiles_2x2(pool_size, strides, padding) -> bool:
    """2x2 windows side by side: stride 2 and no padding (the pooling of every CNN in
    the workloads)."""
    return tuple(pool_size) == (2, 2) == tuple(strides) and all(side == 0 for pair in padding for side in pair)


@njit(parallel=True, cache=True)
def pool_forward_loops(X, ph, pw, sh, sw, top, left, mode, A):
    """A[n, y, x, c] = max / min / mean of the window at (sh*y - top, sw*x - left)."""
    m, H, W, C = X.shape
    _, oh, ow, _ = A.shape
    sign = X.dtype.type(-1 if mode == 1 else 1)
    start = 0.0 if mode == MEAN else -np.inf
    rows, out_rows = X.reshape(m, H, W * C), A.reshape(m, oh, ow * C)  # pixel (r, s, c) at [r, s * C + c]
    for n in prange(m):
        for y in range(oh):
            out = out_rows[n, y]
            out[:] = start
            for i in range(max(0, top - sh * y), min(ph, H + top - sh * y)):  # window rows inside the image
                row = rows[n, sh * y - top + i]
                for j in range(pw):
                    for x in range(ow):
                        s = sw * x - left + j
                        if s < 0 or s >= W:  # (a test here runs faster than a narrower range)
                            continue
                        if mode == MEAN:
                            for c in range(C):
                                out[x * C + c] += row[s * C + c]
                        else:
                            for c in range(C):
                                value, kept = sign * row[s * C + c], out[x * C + c]
                                out[x * C + c] = value if value > kept else kept
            for k in range(ow * C):
                out[k] = out[k] / (ph * pw) if mode == MEAN else sign * out[k]


@njit(parallel=True, cache=True)
def pool_forward_2x2(X, sign, A):
    """A for max (sign 1) and min (sign -1) over 2x2 windows that tile the image: for each
    of the window's two rows, its two pixels compared with what A holds, in registers.
    The same comparisons as ``pool_forward_loops``, from -inf, tap by tap in row-major
    order, a value kept only when strictly greater: the same A, bit for bit (a NaN is
    never kept, there as here)."""
    m, H, W, C = X.shape
    _, oh, ow, _ = A.shape
    rows, out_rows = X.reshape(m, H, W * C), A.reshape(m, oh, ow * C)
    lowest = X.dtype.type(-np.inf)
    for n in prange(m):
        for y in range(oh):
            out = out_rows[n, y]
            for i in range(2):  # the window's top row, then its bottom row: each read once, in order
                row = rows[n, 2 * y + i]
                for x in range(ow):
                    left, right = 2 * x * C, (2 * x + 1) * C  # the window's two pixels, channel 0
                    for c in range(C):
                        best = lowest if i == 0 else sign * out[x * C + c]
                        value = sign * row[left + c]
                        best = value if value > best else best
                        value = sign * row[right + c]
                        best = value if value > best else best
                        out[x * C + c] = sign * best


@njit(parallel=True, cache=True)
def pool_backward_loops(dA, X, ph, pw, sh, sw, top, left, mode, dX):
    """dX: each window sends dA to its first extreme pixel (max, min) or shares it out (mean)."""
    m, H, W, C = X.shape
    _, oh, ow, _ = dA.shape
    sign = X.dtype.type(-1 if mode == 1 else 1)
    for n in prange(m):
        pixels, gradients = X[n].reshape(H * W * C), dX[n].reshape(H * W * C)  # flat views of sample n
        for y in range(oh):
            i0, i1 = max(0, top - sh * y), min(ph, H + top - sh * y)  # window rows inside the image
            for x in range(ow):
                j0, j1 = max(0, left - sw * x), min(pw, W + left - sw * x)
                corner = ((sh * y - top) * W + sw * x - left) * C  # flat index of tap (0, 0), channel 0
                for c in range(C):
                    if mode == MEAN:
                        share = dA[n, y, x, c] / (ph * pw)
                        for i in range(i0, i1):
                            for j in range(j0, j1):
                                gradients[corner + (i * W + j) * C + c] += share
                        continue
                    chosen = corner + (i0 * W + j0) * C + c
                    best = sign * pixels[chosen]
                    for i in range(i0, i1):
                        for j in range(j0, j1):
                            p = corner + (i * W + j) * C + c
                            value = sign * pixels[p]
                            better = value > best  # strictly: the first of equal values stays
                            best = value if better else best
                            chosen = p if better else chosen
                    gradients[chosen] += dA[n, y, x, c]


@njit(parallel=True, cache=True)
def pool_backward_from_output(dA, X, A, ph, pw, sh, sw, top, left, dX):
    """dX for max and min: each window sends dA to its first pixel equal to A."""
    m, H, W, C = X.shape
    _, oh, ow, _ = A.shape
    rows, out_rows, grad_rows = X.reshape(m, H, W * C), A.reshape(m, oh, ow * C), dA.reshape(m, oh, ow * C)
    for n in prange(m):
        gradients = dX[n].reshape(H * W * C)
        winner = np.empty(ow * C, dtype=np.int64)  # for each window of row y: a flat index into sample n
        for y in range(oh):
            out = out_rows[n, y]
            i0, i1 = max(0, top - sh * y), min(ph, H + top - sh * y)  # window rows inside the image
            for x in range(ow):  # the first tap inside the image, kept if no value equals A (NaN)
                corner = ((sh * y - top + i0) * W + max(0, sw * x - left)) * C
                for c in range(C):
                    winner[x * C + c] = corner + c
            for i in range(i1 - 1, i0 - 1, -1):  # last tap first: the first equal one is the last kept
                r = sh * y - top + i
                row = rows[n, r]
                for j in range(pw - 1, -1, -1):
                    for x in range(ow):
                        s = sw * x - left + j
                        if s < 0 or s >= W:
                            continue
                        pixel = (r * W + s) * C
                        for c in range(C):
                            equal = row[s * C + c] == out[x * C + c]
                            winner[x * C + c] = pixel + c if equal else winner[x * C + c]
            grads = grad_rows[n, y]
            for k in range(ow * C):
                gradients[winner[k]] += grads[k]


@njit(cache=True, inline="always")
def _tile_rows(dA, X, A, dX):
    """The 2x2 tiling kernels' views, one row of numbers per image row: X, dX (m, H, W * C)
    and A, dA (m, oh, ow * C); and the columns of whole windows in a row of X."""
    m, H, W, C = X.shape
    _, oh, ow, _ = A.shape
    return (X.reshape(m, H, W * C), dX.reshape(m, H, W * C), A.reshape(m, oh, ow * C),
            dA.reshape(m, oh, ow * C), ow * 2 * C)


@njit(parallel=True, cache=True)
def pool_backward_tiles(dA, X, A, dX):
    """dX for max and min over 2x2 windows that tile the image: each pixel gets its
    window's dA if it is the window's first pixel equal to A, else 0.

    dX is written once, pixel after pixel along the rows (no zeros written first, no
    scattered additions): ``taken`` says, for each window of the output row, whether
    an earlier tap already equalled A. The rows and columns past the last whole window
    get 0. A window with no pixel equal to A (NaN) sends dA to its first pixel, as
    ``pool_backward_from_output`` does."""
    m, H, W, C = X.shape
    oh, ow = A.shape[1], A.shape[2]
    zero = X.dtype.type(0)
    rows, dX_rows, out_rows, grad_rows, covered = _tile_rows(dA, X, A, dX)
    for n in prange(m):
        taken = np.empty(ow * C, dtype=np.bool_)
        for y in range(oh):
            out, grads = out_rows[n, y], grad_rows[n, y]
            taken[:] = False
            for i in range(2):
                row, gradients = rows[n, 2 * y + i], dX_rows[n, 2 * y + i]
                for x in range(ow):
                    for j in range(2):
                        pixel = (2 * x + j) * C
                        for c in range(C):
                            k = x * C + c
                            equal = row[pixel + c] == out[k]
                            first = equal > taken[k]  # equal, and not taken: no branch
                            gradients[pixel + c] = grads[k] if first else zero
                            taken[k] = taken[k] | equal
                gradients[covered:] = zero
            corner = dX_rows[n, 2 * y]
            for x in range(ow):
                for c in range(C):
                    if not taken[x * C + c]:  # NaN in the window: its first pixel
                        corner[2 * x * C + c] += grads[x * C + c]
        for r in range(2 * oh, H):
            dX_rows[n, r, :] = zero


@njit(parallel=True, cache=True)
def pool_backward_2x2(dA, X, A, dX):
    """dX for max and min over 2x2 windows that tile the image, window by window: each of
    its four pixels gets dA if it is the first one equal to A, else 0 (a window with no
    pixel equal to A, NaN, sends dA to its first pixel). As ``pool_backward_tiles``,
    every pixel is written once; the rows and columns past the last whole window get 0."""
    m, H, W, C = X.shape
    oh, ow = A.shape[1], A.shape[2]
    zero = X.dtype.type(0)
    rows, dX_rows, out_rows, grad_rows, covered = _tile_rows(dA, X, A, dX)
    for n in prange(m):
        for y in range(oh):
            out, grads = out_rows[n, y], grad_rows[n, y]
            for x in range(ow):
                for c in range(C):
                    kept, gradient, taken = out[x * C + c], grads[x * C + c], False
                    for i in range(2):  # the taps in row-major order: the first equal one wins
                        row, gradients = rows[n, 2 * y + i], dX_rows[n, 2 * y + i]
                        for j in range(2):
                            pixel = (2 * x + j) * C + c
                            equal = row[pixel] == kept
                            gradients[pixel] = gradient if equal > taken else zero  # equal, not taken: no branch
                            taken = taken | equal
                    if not taken:  # NaN in the window: its first pixel
                        dX_rows[n, 2 * y, 2 * x * C + c] = gradient
            dX_rows[n, 2 * y, covered:] = zero
            dX_rows[n, 2 * y + 1, covered:] = zero
        for r in range(2 * oh, H):
            dX_rows[n, r, :] = zero
