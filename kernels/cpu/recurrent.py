"""Numba CPU kernels for the recurrent ops: RNN, GRU and LSTM over whole sequences.

The maths, shapes and gate order are those of ``nnxp.ops.recurrent`` (read it
first); these functions take the same arrays and return the same results, with each
activation given as a small int code (``RECURRENT_ACTIVATIONS``; ``nnxp.ops`` keeps
the reference code for any other activation). How they are organised for speed:

* One compiled call runs whole sequences for a CHUNK of samples (``first`` to
  ``last``), sample after sample, step after step: the step's row of gate
  pre-activations Z = b + x_t U + h_{t-1} V, then every gate, the cell and h, in a few
  fused passes along the row. Going back, the same per step, then dU, dV and db summed
  over the chunk's (sample, step) rows. Samples are independent, so going forward the
  serial version is one chunk and the parallel version gives each thread its own
  chunk (``prange`` over chunks): no thread ever waits for another before the end.
  Going back, the chunks are fixed by the batch size (``chunks.py``), each with its
  own partial dU, dV, db, added up in order at the end; the serial version runs them
  one after the other, the parallel one shares them out: the same sums on any number
  of threads, bit for bit. The parallel variants are separate functions because
  Numba's disk cache ignores the ``parallel`` flag. (On a machine whose cores are busy
  with other work, the end of a parallel loop waits for the slowest thread:
  ``numba.set_num_threads(1)`` keeps to the serial variants.)
* No BLAS: at these sizes (u ~ 32) these loops are about as fast, and a BLAS call next
  to the parallel loops has OpenBLAS's threads and Numba's fight over the cores
  (measured: 10x slower).
* Every inner loop runs along a contiguous row, which LLVM turns into SIMD code. A
  product ``h @ W`` adds four rows of W per pass; a product ``d @ W^T`` takes four dot
  products per pass. Each gate's activation is a formula with one division, chosen per
  value by its code without a branch. Indices at an offset are unsigned
  (``np.uint64``): for a signed index Numba adds a test for negative values, which
  stops vectorisation.
* Sigmoid and tanh need exp, and the C library's exp (or tanh) is one value at a time:
  ``_exp_term`` computes exp itself (below), vectorised, in the same pass as the
  activation, within 1 ulp for both dtypes. The kernels use ``error_model="numpy"``
  (x / 0 gives inf instead of raising, which would stop vectorisation); the products
  allow fused multiply-adds (``contract``) and, in sums, reordering (``reassoc``):
  results differ from the reference code by rounding only (see FAST and EXACT below).
* Scratch arrays are allocated once per call, never per step, and backward never
  writes to the forward caches (it can run twice on the same input).
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from numba import prange, types
from numba.extending import intrinsic, overload

from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)
from .chunks import gradient_chunks

IDENTITY, SIGMOID, TANH, RELU, SOFTSIGN = 0, 1, 2, 3, 4
RECURRENT_ACTIVATIONS = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU,
                         "softsign": SOFTSIGN}

# From this many samples on, and with more than one Numba thread, the parallel variant runs.
parallel_threshold = 8

# The products may fuse multiply-adds (``contract``); the step loops and the gate
# formulas inlined into them may not: Numba compiles a step loop once for the serial
# variant and once inside the parallel one (or loads either from its disk cache), and
# LLVM does not always fuse the same operations in both, so with ``contract`` the two
# gave results 1 ulp apart, depending on which was compiled or cached first. Without it
# they are bit-identical, whatever the path (tested), and as fast: the fused products
# are where contract pays (LSTM forward, float64, W3's shapes: 387 us, 383 with it
# everywhere, 438 with it nowhere).
FAST = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}
EXACT = {"cache": True, "error_model": "numpy"}
INLINE = {**EXACT, "inline": "always"}


def _parallel(samples: int) -> bool:
    """Whether the parallel variants run: enough samples, and more than one thread."""
    return samples >= parallel_threshold and numba.get_num_threads() >= 2


def _chunks(samples: int) -> int:
    """Going forward, how many chunks of samples run side by side: 1 (serial) or one
    per thread (each sample's numbers are its own: the split changes nothing)."""
    return min(numba.get_num_threads(), samples) if _parallel(samples) else 1


@njit(cache=True)
def _bounds(chunks, c, samples):
    """The samples of chunk c: first, last."""
    return c * samples // chunks, (c + 1) * samples // chunks


# --------------------------------------------------------------------------- exp, vectorised
# exp(x) and expm1(x) = exp(x) - 1 for x <= 0, computed so that they vectorise, and
# expm1 loses nothing near 0 (where exp(x) - 1 would cancel): x = n ln2 + r with
# n = round(x / ln2) and r in [-ln2/2, ln2/2] (ln 2 split into a short "hi" part, so
# that n * LN2_HI is exact, and the rest); exp(r) - 1 = r Q(r) with Q the Taylor series
# 1 + r/2 + ... + r^12/13! (relative error < 2e-16 there), summed by Estrin's scheme
# (pairs, then pairs of pairs: a short chain of dependent operations); then
# exp(x) = 2^n (r Q) + 2^n and expm1(x) = 2^n (r Q) + (2^n - 1), exact steps but the
# last. 2^n is built from its bits: exponent n + 1023 in bits 52.. of an int64, read as
# a float64 (float32: n + 127 in bits 23.. of an int32), one instruction that moves no
# data (``_float_from_bits``), so exp, 2^n and the activation are one pass along the row
# (an earlier version went through memory and three passes: the float32 LSTM step's
# activations took 164 us at W3's shapes against 119 now). Below EXP_FLOOR, exp(x) is
# taken as 0 (the values dropped are below the smallest normal number).

# Every constant a formula uses comes from K, an array of the data's dtype, so that
# float32 data is computed in float32 (eight values per AVX2 instruction, not four).
ZERO, ONE, TWO, HALF, LOG2E, LN2_HI, LN2_LO, EXP_FLOOR, TAYLOR = range(9)


@functools.lru_cache(maxsize=None)
def _constants(dtype):
    """K for float32 or float64 data (made once per dtype)."""
    dtype = np.dtype(dtype)
    single = dtype == np.float32
    floor = -87.0 if single else -708.0  # exp(floor) is about the smallest normal number
    taylor = [1.0 / math.factorial(k) for k in range(2, 14)]  # 1/2!, ..., 1/13!
    K = np.array([0.0, 1.0, 2.0, 0.5, 1.4426950408889634, 0.693145751953125, 1.4286068203094173e-06, floor]
                 + taylor, dtype=dtype)
    return K


def _expm1_taylor(r, q):
    """exp(r) - 1 = r (1 + r/2! + ... + r^12/13!) by Estrin's scheme, with
    q = (1/2!, 1/3!, ..., 1/13!, 1). Compiled per dtype, see below."""


@overload(_expm1_taylor, inline="always")
def _expm1_taylor_for(r, q):
    """float64 needs the series to r^12/13!; float32 stops at r^6/7!: what is left,
    |r|^7/8! < 5e-9 for |r| <= ln2/2, is below float32's precision (6e-8), and the
    shorter series makes the exponentials of a float32 LSTM step half as costly."""
    if r == types.float32:
        def series(r, q):
            r2 = r * r
            return r * (((q[12] + r * q[0]) + r2 * (q[1] + r * q[2])) + (r2 * r2) * ((q[3] + r * q[4]) + r2 * q[5]))
        return series

    def series(r, q):
        r2 = r * r
        r4 = r2 * r2
        low = ((q[12] + r * q[0]) + r2 * (q[1] + r * q[2])) + r4 * ((q[3] + r * q[4]) + r2 * (q[5] + r * q[6]))
        high = ((q[7] + r * q[8]) + r2 * (q[9] + r * q[10])) + r4 * q[11]
        return r * (low + (r4 * r4) * high)
    return series


@intrinsic
def _float_from_bits(typingctx, bits):
    """The float whose bits are those of the integer ``bits`` (int32 -> float32,
    int64 -> float64): an LLVM bitcast, which moves no data and vectorises."""
    floats = {types.int32: types.float32, types.int64: types.float64}
    if bits not in floats:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(signature.return_type))

    return floats[bits](bits), codegen


def _power_of_two(n):
    """2^n for a whole number n held as a float, in n's dtype. Compiled per dtype, below."""


@overload(_power_of_two, inline="always")
def _power_of_two_for(n):
    if n == types.float32:
        return lambda n: _float_from_bits(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))
    return lambda n: _float_from_bits(np.int64((np.int64(n) + np.int64(1023)) << np.int64(52)))


@njit(**INLINE)
def _exp_constants(K):
    """What _exp_term needs from K, as a tuple, read once before a loop: a load from K
    inside a loop, which might alias the arrays written there, would stop vectorisation."""
    one = K[ONE]
    q = (K[TAYLOR], K[TAYLOR + 1], K[TAYLOR + 2], K[TAYLOR + 3], K[TAYLOR + 4], K[TAYLOR + 5], K[TAYLOR + 6],
         K[TAYLOR + 7], K[TAYLOR + 8], K[TAYLOR + 9], K[TAYLOR + 10], K[TAYLOR + 11], one)
    return K[ZERO], one, K[TWO], K[HALF], K[EXP_FLOOR], K[LOG2E], K[LN2_HI], K[LN2_LO], q


@njit(**INLINE)
def _exp_term(code, z, E):
    """What the activation of code ``code`` needs from exp: exp(-|z|) for sigmoid,
    expm1(-2|z|) for tanh (0 for the others)."""
    zero, one, two, half, floor, log2e, ln2_hi, ln2_lo, q = E
    factor = one if code == SIGMOID else (two if code == TANH else zero)
    minus = one if code == TANH else zero  # expm1 = exp - 1
    x = max(-factor * abs(z), floor)
    n = np.floor(x * log2e + half)
    scale = _power_of_two(n)
    value = scale * _expm1_taylor((x - n * ln2_hi) - n * ln2_lo, q) + (scale - minus)
    return value if -factor * abs(z) > floor else zero - minus


# --------------------------------------------------------------------------- activations
# a = f(z) from z and e = what _exp_term gives, and f'(z) from z and a (as the reference
# activations do), each as a formula chosen by the code, without a branch:
#   sigmoid   1 / (1 + e) for z >= 0, e / (1 + e) for z < 0      f' = a (1 - a)
#   tanh      -m / (2 + m), sign of z (m = expm1(-2|z|))         f' = 1 - a^2
#   relu      max(z, 0)                                          f' = 1 if z > 0 else 0
#   softsign  z / (1 + |z|)                                      f' = (1 - |a|)^2
#   identity  z                                                  f' = 1
# NaN stays NaN.


@njit(**INLINE)
def _activation(code, z, e, zero, one, two):
    # One expression of choices, not if/elif: LLVM vectorises choices, not branches.
    positive = z >= 0
    top = (one if positive else e) if code == SIGMOID else (
        (-e if positive else e) if code == TANH else ((z if z > 0 else zero) if code == RELU else z))
    bottom = (one + e) if code == SIGMOID else (
        (two + e) if code == TANH else ((one + abs(z)) if code == SOFTSIGN else one))
    value = top / bottom
    return value if z == z else z


@njit(**INLINE)
def _activate(code, z, E):
    """f(z) for the activation of code ``code`` (E: _exp_constants)."""
    return _activation(code, z, _exp_term(code, z, E), E[0], E[1], E[2])


@njit(**INLINE)
def _derivative(code, z, a, zero, one):
    return (a * (one - a)) if code == SIGMOID else (
        (one - a * a) if code == TANH else (
            (one if z > 0 else zero) if code == RELU else (
                ((one - abs(a)) * (one - abs(a))) if code == SOFTSIGN else one)))


# --------------------------------------------------------------------------- products


@njit(**FAST)
def _add_product(Out, so, to, H, sh, th, W):
    """Out[so, to] += H[sh, th] @ W, adding four rows of W per pass along the output."""
    rows, width = W.shape
    k = 0
    while k + 4 <= rows:
        h0, h1, h2, h3 = H[sh, th, k], H[sh, th, k + 1], H[sh, th, k + 2], H[sh, th, k + 3]
        for j in range(width):
            Out[so, to, j] += h0 * W[k, j] + h1 * W[k + 1, j] + h2 * W[k + 2, j] + h3 * W[k + 3, j]
        k += 4
    while k < rows:
        for j in range(width):
            Out[so, to, j] += H[sh, th, k] * W[k, j]
        k += 1


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _add_product_transposed(Out, so, to, D, s, t, W, zero):
    """Out[so, to] += D[s, t] @ W^T: four dot products with rows of W per pass along D
    (``reassoc`` lets LLVM split each sum into SIMD lanes)."""
    rows, width = W.shape
    k = 0
    while k + 4 <= rows:
        a0 = a1 = a2 = a3 = zero
        for j in range(width):
            d = D[s, t, j]
            a0 += W[k, j] * d
            a1 += W[k + 1, j] * d
            a2 += W[k + 2, j] * d
            a3 += W[k + 3, j] * d
        Out[so, to, k] += a0
        Out[so, to, k + 1] += a1
        Out[so, to, k + 2] += a2
        Out[so, to, k + 3] += a3
        k += 4
    while k < rows:
        a = zero
        for j in range(width):
            a += W[k, j] * D[s, t, j]
        Out[so, to, k] += a
        k += 1


@njit(**FAST)
def _add_weight_gradients(dW, db, H, shift, dZ, first, last):
    """dW += sum over the chunk's (s, t) rows of H[s, t - shift]^T dZ[s, t] (rows with
    t - shift < 0 count as zeros), and db += the sum of the dZ rows when db has any
    length. Four steps per pass: dW is loaded and stored a quarter as often."""
    steps = dZ.shape[1]
    rows, width = dW.shape
    for s in range(first, last):
        for t in range(steps if db.shape[0] else 0):
            for j in range(db.shape[0]):
                db[j] += dZ[s, t, j]
        t = shift
        while t + 4 <= steps:
            for k in range(rows):
                h0, h1 = H[s, t - shift, k], H[s, t + 1 - shift, k]
                h2, h3 = H[s, t + 2 - shift, k], H[s, t + 3 - shift, k]
                for j in range(width):
                    dW[k, j] += h0 * dZ[s, t, j] + h1 * dZ[s, t + 1, j] + h2 * dZ[s, t + 2, j] + h3 * dZ[s, t + 3, j]
            t += 4
        while t < steps:
            for k in range(rows):
                for j in range(width):
                    dW[k, j] += H[s, t - shift, k] * dZ[s, t, j]
            t += 1


# --------------------------------------------------------------------------- RNN


@njit(**EXACT)
def _rnn_forward_chunk(first, last, X, U, V, b, Z, H, codes, K):
    u = np.uint64(H.shape[2])
    E = _exp_constants(K)
    for s in range(first, last):
        for t in range(Z.shape[1]):
            for j in range(b.shape[0]):
                Z[s, t, j] = b[j]
            _add_product(Z, s, t, X, s, t, U)
            if t > 0:
                _add_product(Z, s, t, H, s, t - 1, V)
            for k in range(u):
                H[s, t, k] = _activate(codes[k], Z[s, t, k], E)


@njit(**EXACT, parallel=True)
def _rnn_forward_parallel(chunks, X, U, V, b, Z, H, codes, K):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _rnn_forward_chunk(first, last, X, U, V, b, Z, H, codes, K)


@njit(**EXACT)
def _rnn_backward_chunk(first, last, dH, X, U, V, H, Z, dZ, dh, dX, dU, dV, db, code, K):
    u = np.uint64(H.shape[2])
    zero, one = K[ZERO], K[ONE]
    for s in range(first, last):
        dh[s, 0, :] = 0.0  # what step t+1 sends back to h_t
        for t in range(Z.shape[1] - 1, -1, -1):
            for k in range(u):
                d = dH[s, t, k] + dh[s, 0, k]
                dZ[s, t, k] = d * _derivative(code, Z[s, t, k], H[s, t, k], zero, one)
                dh[s, 0, k] = zero
            if t > 0:
                _add_product_transposed(dh, s, 0, dZ, s, t, V, K[ZERO])  # to h_{t-1}: dZ V^T
            _add_product_transposed(dX, s, t, dZ, s, t, U, K[ZERO])  # dX_t = dZ_t U^T
    _add_weight_gradients(dU, db, X, 0, dZ, first, last)
    _add_weight_gradients(dV, db[:0], H, 1, dZ, first, last)


@njit(**EXACT)
def _rnn_backward_serial(chunks, dH, X, U, V, H, Z, dZ, dh, dX, dU, dV, db, code, K):
    for c in range(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _rnn_backward_chunk(first, last, dH, X, U, V, H, Z, dZ, dh, dX, dU[c], dV[c], db[c], code, K)


@njit(**EXACT, parallel=True)
def _rnn_backward_parallel(chunks, dH, X, U, V, H, Z, dZ, dh, dX, dU, dV, db, code, K):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _rnn_backward_chunk(first, last, dH, X, U, V, H, Z, dZ, dh, dX, dU[c], dV[c], db[c], code, K)


def rnn_forward(X, U, V, b, activation):
    """As ``nnxp.ops.recurrent.rnn_forward``: (H, Z)."""
    (m, steps, _), u = X.shape, V.shape[0]
    Z = np.empty((m, steps, u), dtype=X.dtype)
    H = np.empty_like(Z)
    chunks, K = _chunks(m), _constants(X.dtype)
    X, U, V, b = _contiguous(X, U, V, b)
    codes = _row_codes(u, X.dtype, activation)
    if chunks == 1:
        _rnn_forward_chunk(0, m, X, U, V, b, Z, H, codes, K)
    else:
        _rnn_forward_parallel(chunks, X, U, V, b, Z, H, codes, K)
    return H, Z


def rnn_backward(dH, X, U, V, H, Z, activation):
    """As ``nnxp.ops.recurrent.rnn_backward``: (dX, dU, dV, db)."""
    m, u = X.shape[0], V.shape[0]
    chunks, K = gradient_chunks(m), _constants(X.dtype)
    dZ, dh, dX, (dU, dV, db) = np.empty_like(Z), _zeros(X, m, 1, u), _zeros(X, *X.shape), _sums(X, chunks, U, V)
    dH, X, U, V = _contiguous(dH, X, U, V)
    backward = _rnn_backward_parallel if _parallel(m) and chunks > 1 else _rnn_backward_serial
    backward(chunks, dH, X, U, V, H, Z, dZ, dh, dX, dU, dV, db, activation, K)
    return dX, dU.sum(axis=0), dV.sum(axis=0), db.sum(axis=0)


# --------------------------------------------------------------------------- GRU


@njit(**EXACT)
def _gru_forward_chunk(first, last, X, U, V, b, bh, Z, H, A, Hn, P, codes, K):
    u = np.uint64(H.shape[2])
    zero, one = K[ZERO], K[ONE]
    E = _exp_constants(K)
    z0, n0 = u, u + u  # where the z and n blocks start in a row of 3u
    for s in range(first, last):
        for t in range(Z.shape[1]):
            for j in range(b.shape[0]):
                Z[s, t, j] = b[j]
            _add_product(Z, s, t, X, s, t, U)
            for j in range(P.shape[2]):
                P[s, 0, j] = zero
            if t > 0:
                _add_product(P, s, 0, H, s, t - 1, V)  # P = h_{t-1} V = [P_r | P_z | P_n]
            for j in range(n0):
                Z[s, t, j] += P[s, 0, j]
            for j in range(n0):
                A[s, t, j] = _activate(codes[j], Z[s, t, j], E)  # r, z
            for k in range(u):
                Hn[s, t, k] = P[s, 0, n0 + k] + bh[k]
                Z[s, t, n0 + k] += A[s, t, k] * Hn[s, t, k]  # + r Hn
            for k in range(u):
                n = _activate(codes[n0 + k], Z[s, t, n0 + k], E)
                z = A[s, t, z0 + k]
                h_prev = H[s, t - 1, k] if t > 0 else zero
                A[s, t, n0 + k] = n
                H[s, t, k] = (one - z) * n + z * h_prev


@njit(**EXACT, parallel=True)
def _gru_forward_parallel(chunks, X, U, V, b, bh, Z, H, A, Hn, P, codes, K):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _gru_forward_chunk(first, last, X, U, V, b, bh, Z, H, A, Hn, P, codes, K)


@njit(**EXACT)
def _gru_backward_chunk(first, last, dH, X, U, V, H, Z, A, Hn, dZ, dP, dh, dX, dU, dV, db, dbh,
                        code_n, code_r, code_z, K):
    u = np.uint64(H.shape[2])
    zero, one = K[ZERO], K[ONE]
    z0, n0 = u, u + u
    for s in range(first, last):
        dh[s, 0, :] = 0.0  # what step t+1 sends back to h_t
        for t in range(Z.shape[1] - 1, -1, -1):
            for k in range(u):
                r, z, n = A[s, t, k], A[s, t, z0 + k], A[s, t, n0 + k]
                h_prev = H[s, t - 1, k] if t > 0 else zero
                d = dH[s, t, k] + dh[s, 0, k]  # the whole dL/dh_t
                dz_n = d * (one - z) * _derivative(code_n, Z[s, t, n0 + k], n, zero, one)
                dz_z = d * (h_prev - n) * _derivative(code_z, Z[s, t, z0 + k], z, zero, one)
                dz_r = dz_n * Hn[s, t, k] * _derivative(code_r, Z[s, t, k], r, zero, one)
                dZ[s, t, k], dZ[s, t, z0 + k], dZ[s, t, n0 + k] = dz_r, dz_z, dz_n
                dP[s, t, k], dP[s, t, z0 + k], dP[s, t, n0 + k] = dz_r, dz_z, dz_n * r  # dHn = dZ_n r
                dh[s, 0, k] = d * z  # the direct path h_{t-1} -> h_t
            _add_product_transposed(dh, s, 0, dP, s, t, V, K[ZERO])  # + dP V^T
            _add_product_transposed(dX, s, t, dZ, s, t, U, K[ZERO])  # dX_t = dZ_t U^T
            for k in range(u):
                dbh[k] += dP[s, t, n0 + k]
    _add_weight_gradients(dU, db, X, 0, dZ, first, last)
    _add_weight_gradients(dV, db[:0], H, 1, dP, first, last)


@njit(**EXACT)
def _gru_backward_serial(chunks, dH, X, U, V, H, Z, A, Hn, dZ, dP, dh, dX, dU, dV, db, dbh,
                         code_n, code_r, code_z, K):
    for c in range(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _gru_backward_chunk(first, last, dH, X, U, V, H, Z, A, Hn, dZ, dP, dh, dX, dU[c], dV[c], db[c], dbh[c],
                            code_n, code_r, code_z, K)


@njit(**EXACT, parallel=True)
def _gru_backward_parallel(chunks, dH, X, U, V, H, Z, A, Hn, dZ, dP, dh, dX, dU, dV, db, dbh,
                           code_n, code_r, code_z, K):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _gru_backward_chunk(first, last, dH, X, U, V, H, Z, A, Hn, dZ, dP, dh, dX, dU[c], dV[c], db[c], dbh[c],
                            code_n, code_r, code_z, K)


def gru_forward(X, U, V, b, bh, activation, reset_gate, update_gate):
    """As ``nnxp.ops.recurrent.gru_forward``: (H, Z, A, Hn)."""
    (m, steps, _), u = X.shape, V.shape[0]
    Z = np.empty((m, steps, 3 * u), dtype=X.dtype)
    H, A, Hn = np.empty((m, steps, u), dtype=X.dtype), np.empty_like(Z), np.empty((m, steps, u), dtype=X.dtype)
    P = np.empty((m, 1, 3 * u), dtype=X.dtype)  # this step's recurrent side
    chunks, K = _chunks(m), _constants(X.dtype)
    X, U, V, b, bh = _contiguous(X, U, V, b, bh)
    codes = _row_codes(u, X.dtype, reset_gate, update_gate, activation)
    if chunks == 1:
        _gru_forward_chunk(0, m, X, U, V, b, bh, Z, H, A, Hn, P, codes, K)
    else:
        _gru_forward_parallel(chunks, X, U, V, b, bh, Z, H, A, Hn, P, codes, K)
    return H, Z, A, Hn


def gru_backward(dH, X, U, V, H, Z, A, Hn, activation, reset_gate, update_gate):
    """As ``nnxp.ops.recurrent.gru_backward``: (dX, dU, dV, db, dbh)."""
    m, u = X.shape[0], V.shape[0]
    chunks, K = gradient_chunks(m), _constants(X.dtype)
    dZ, dP, dh, dX = np.empty_like(Z), np.empty_like(Z), _zeros(X, m, 1, u), _zeros(X, *X.shape)
    (dU, dV, db), dbh = _sums(X, chunks, U, V), _zeros(X, chunks, u)
    dH, X, U, V = _contiguous(dH, X, U, V)
    codes = (activation, reset_gate, update_gate)
    backward = _gru_backward_parallel if _parallel(m) and chunks > 1 else _gru_backward_serial
    backward(chunks, dH, X, U, V, H, Z, A, Hn, dZ, dP, dh, dX, dU, dV, db, dbh, *codes, K)
    return dX, dU.sum(axis=0), dV.sum(axis=0), db.sum(axis=0), dbh.sum(axis=0)


# --------------------------------------------------------------------------- LSTM


@njit(**EXACT)
def _lstm_forward_chunk(first, last, X, U, V, b, Z, H, C, S, A, codes, code_c, K):
    u = np.uint64(H.shape[2])
    zero = K[ZERO]
    E = _exp_constants(K)
    f0, g0, o0 = u, u + u, u + u + u  # where the f, g and o blocks start in a row of 4u
    for s in range(first, last):
        for t in range(Z.shape[1]):
            for j in range(b.shape[0]):
                Z[s, t, j] = b[j]
            _add_product(Z, s, t, X, s, t, U)
            if t > 0:
                _add_product(Z, s, t, H, s, t - 1, V)
            for j in range(o0 + u):
                A[s, t, j] = _activate(codes[j], Z[s, t, j], E)  # i, f, g, o
            for k in range(u):
                c_prev = C[s, t - 1, k] if t > 0 else zero
                C[s, t, k] = A[s, t, f0 + k] * c_prev + A[s, t, k] * A[s, t, g0 + k]  # f C + i g
            for k in range(u):
                S[s, t, k] = _activate(code_c, C[s, t, k], E)
                H[s, t, k] = A[s, t, o0 + k] * S[s, t, k]  # o S


@njit(**EXACT, parallel=True)
def _lstm_forward_parallel(chunks, X, U, V, b, Z, H, C, S, A, codes, code_c, K):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _lstm_forward_chunk(first, last, X, U, V, b, Z, H, C, S, A, codes, code_c, K)


@njit(**EXACT)
def _lstm_backward_chunk(first, last, dH, X, U, V, H, C, S, Z, A, dZ, dh, dc, dX, dU, dV, db,
                         code_c, code_g, code_i, code_f, code_o, K):
    u = np.uint64(C.shape[2])
    zero, one = K[ZERO], K[ONE]
    f0, g0, o0 = u, u + u, u + u + u
    for s in range(first, last):
        dh[s, 0, :] = 0.0  # what step t+1 sends back to h_t ...
        dc[s, 0, :] = 0.0  # ... and to C_t
        for t in range(Z.shape[1] - 1, -1, -1):
            for k in range(u):
                i, f, g, o = A[s, t, k], A[s, t, f0 + k], A[s, t, g0 + k], A[s, t, o0 + k]
                c_prev = C[s, t - 1, k] if t > 0 else zero
                d = dH[s, t, k] + dh[s, 0, k]  # the whole dL/dh_t
                dC = dc[s, 0, k] + d * o * _derivative(code_c, C[s, t, k], S[s, t, k], zero, one)  # dL/dC_t
                dZ[s, t, k] = dC * g * _derivative(code_i, Z[s, t, k], i, zero, one)
                dZ[s, t, f0 + k] = dC * c_prev * _derivative(code_f, Z[s, t, f0 + k], f, zero, one)
                dZ[s, t, g0 + k] = dC * i * _derivative(code_g, Z[s, t, g0 + k], g, zero, one)
                dZ[s, t, o0 + k] = d * S[s, t, k] * _derivative(code_o, Z[s, t, o0 + k], o, zero, one)
                dc[s, 0, k] = dC * f  # to C_{t-1}
                dh[s, 0, k] = zero
            if t > 0:
                _add_product_transposed(dh, s, 0, dZ, s, t, V, K[ZERO])  # to h_{t-1}: dZ V^T
            _add_product_transposed(dX, s, t, dZ, s, t, U, K[ZERO])  # dX_t = dZ_t U^T
    _add_weight_gradients(dU, db, X, 0, dZ, first, last)
    _add_weight_gradients(dV, db[:0], H, 1, dZ, first, last)


@njit(**EXACT)
def _lstm_backward_serial(chunks, dH, X, U, V, H, C, S, Z, A, dZ, dh, dc, dX, dU, dV, db,
                          code_c, code_g, code_i, code_f, code_o, K):
    for c in range(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _lstm_backward_chunk(first, last, dH, X, U, V, H, C, S, Z, A, dZ, dh, dc, dX, dU[c], dV[c], db[c],
                             code_c, code_g, code_i, code_f, code_o, K)


@njit(**EXACT, parallel=True)
def _lstm_backward_parallel(chunks, dH, X, U, V, H, C, S, Z, A, dZ, dh, dc, dX, dU, dV, db,
                            code_c, code_g, code_i, code_f, code_o, K):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _lstm_backward_chunk(first, last, dH, X, U, V, H, C, S, Z, A, dZ, dh, dc, dX, dU[c], dV[c], db[c],
                             code_c, code_g, code_i, code_f, code_o, K)


def lstm_forward(X, U, V, b, activation, candidate_activation, input_gate, forget_gate, output_gate):
    """As ``nnxp.ops.recurrent.lstm_forward``: (H, C, S, Z, A)."""
    (m, steps, _), u = X.shape, V.shape[0]
    Z = np.empty((m, steps, 4 * u), dtype=X.dtype)
    H = np.empty((m, steps, u), dtype=X.dtype)
    C, S, A = np.empty_like(H), np.empty_like(H), np.empty_like(Z)
    chunks, K = _chunks(m), _constants(X.dtype)
    X, U, V, b = _contiguous(X, U, V, b)
    codes = _row_codes(u, X.dtype, input_gate, forget_gate, candidate_activation, output_gate)
    if chunks == 1:
        _lstm_forward_chunk(0, m, X, U, V, b, Z, H, C, S, A, codes, activation, K)
    else:
        _lstm_forward_parallel(chunks, X, U, V, b, Z, H, C, S, A, codes, activation, K)
    return H, C, S, Z, A


def lstm_backward(dH, X, U, V, H, C, S, Z, A, activation, candidate_activation, input_gate, forget_gate,
                  output_gate):
    """As ``nnxp.ops.recurrent.lstm_backward``: (dX, dU, dV, db)."""
    m, u = X.shape[0], V.shape[0]
    chunks, K = gradient_chunks(m), _constants(X.dtype)
    dZ, dX = np.empty_like(Z), _zeros(X, *X.shape)
    dh, dc, (dU, dV, db) = _zeros(X, m, 1, u), _zeros(X, m, 1, u), _sums(X, chunks, U, V)
    dH, X, U, V = _contiguous(dH, X, U, V)
    codes = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    backward = _lstm_backward_parallel if _parallel(m) and chunks > 1 else _lstm_backward_serial
    backward(chunks, dH, X, U, V, H, C, S, Z, A, dZ, dh, dc, dX, dU, dV, db, *codes, K)
    return dX, dU.sum(axis=0), dV.sum(axis=0), db.sum(axis=0)


# --------------------------------------------------------------------------- allocation


def _row_codes(units, dtype, *gate_codes):
    """The activation code of every value in a row of gates, each gate's code units
    times, as integers as wide as the data (so that SIMD lanes line up)."""
    return np.repeat(np.asarray(gate_codes, dtype=np.int32 if dtype == np.float32 else np.int64), units)


def _contiguous(*arrays):
    return tuple(np.ascontiguousarray(a) for a in arrays)


def _zeros(like, *shape):
    return np.zeros(shape, dtype=like.dtype)


def _sums(like, chunks, U, V):
    """Zeroed partial sums of dU, dV and db, one set per chunk."""
    return _zeros(like, chunks, *U.shape), _zeros(like, chunks, *V.shape), _zeros(like, chunks, U.shape[1])
