"""Numba CPU kernels for the recurrent ops: RNN, GRU and LSTM over whole sequences.

The maths, shapes and gate order are those of ``nnxp.ops.recurrent`` (read it
first); these functions take the same arrays and return the same results, with each
activation given as a small int code (``RECURRENT_ACTIVATIONS``; ``nnxp.ops`` keeps
the reference code for any other activation). How they are organised for speed:

* One compiled call runs a whole sequence for a CHUNK of samples (``first`` to
  ``last``): its input side x_t U + b, its recurrent side h_{t-1} V, its gates, and
  going back, dX and the sums that make dU, dV and db. Samples are independent, so
  the serial version is one chunk and the parallel version gives each thread its own
  chunk (``prange`` over chunks, each with its own partial sums of dU, dV, db, added
  up at the end): no thread waits for another between steps. The parallel variant is
  a separate function because Numba's disk cache ignores the ``parallel`` flag.
* No BLAS: at these sizes (u ~ 32) hand-written loops are about as fast, and a BLAS
  call between the parallel loops would have OpenBLAS's threads and Numba's fight
  over the cores (measured: 10x slower).
* Every inner loop runs along one contiguous row, which LLVM turns into SIMD code. A
  product ``h @ W`` adds four rows of W per pass (the row it builds is loaded and
  stored a quarter as often). An activation is chosen once per gate block. Indices
  into a gate block at an offset are unsigned (``np.uint64``): for a signed index,
  Numba adds a test for negative values that stops vectorisation.
* Sigmoid and tanh need exp, and the C library's exp (or tanh) is one value at a time:
  ``_exp_of_minus`` computes exp itself (below), vectorised, within 1 ulp of float64,
  for both dtypes. The kernels use ``error_model="numpy"`` (x / 0 gives inf instead of
  raising, which would stop vectorisation) and allow fused multiply-adds
  (``contract``): results differ from the reference code by rounding only.
* Scratch arrays are allocated once per call, never per step, and backward never
  writes to the forward caches (it can run twice on the same input).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

IDENTITY, SIGMOID, TANH, RELU, SOFTSIGN = 0, 1, 2, 3, 4
RECURRENT_ACTIVATIONS = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU,
                         "softsign": SOFTSIGN}

# From this many samples on, and with more than one Numba thread, the parallel variant runs.
parallel_threshold = 8

FAST = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}
INLINE = {**FAST, "inline": "always"}


def _chunks(samples: int) -> int:
    """How many chunks of samples run side by side: 1 (serial) or one per thread."""
    threads = numba.get_num_threads()
    return 1 if samples < parallel_threshold or threads < 2 else min(threads, samples)


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
# last. 2^n is built from its bits, exponent n + 1023 in bits 52.. of an int64, read
# back as a float64 through a view of the same memory (``scale``). Below EXP_FLOOR,
# exp(x) is taken as 0 (the values dropped are under 3e-308).

LOG2E = 1.4426950408889634
LN2_HI = 0.693145751953125
LN2_LO = 1.4286068203094173e-06
EXP_FLOOR = -708.0


@njit(**INLINE)
def _expm1_taylor(r):
    r2 = r * r
    r4 = r2 * r2
    q01 = 1.0 + r * 0.5
    q23 = 0.16666666666666666 + r * 0.041666666666666664
    q45 = 0.008333333333333333 + r * 0.001388888888888889
    q67 = 0.0001984126984126984 + r * 2.48015873015873e-05
    q89 = 2.7557319223985893e-06 + r * 2.755731922398589e-07
    q1011 = 2.505210838544172e-08 + r * 2.08767569878681e-09
    low = (q01 + r2 * q23) + r4 * (q45 + r2 * q67)
    high = (q89 + r2 * q1011) + r4 * (1.6059043836821613e-10 * r2)
    return r * (low + (r4 * r4) * high)


@njit(**INLINE)
def _exp_of_minus(factor, minus, Z, s, t, lo, hi, out, bits, scale):
    """out[j - lo] = exp(-factor |Z[s, t, j]|) - minus for lo <= j < hi, in float64
    (minus: 0.0 for exp, 1.0 for expm1)."""
    for j in range(lo, hi):
        x = max(-factor * abs(Z[s, t, j]), EXP_FLOOR)
        n = np.floor(x * LOG2E + 0.5)
        out[j - lo] = _expm1_taylor((x - n * LN2_HI) - n * LN2_LO)
        bits[j - lo] = (np.int64(np.int32(n)) + 1023) << 52
    for j in range(lo, hi):
        value = scale[j - lo] * out[j - lo] + (scale[j - lo] - minus)
        out[j - lo] = value if -factor * abs(Z[s, t, j]) > EXP_FLOOR else 0.0 - minus


# --------------------------------------------------------------------------- activations
# A[s, t, lo:hi] = f(Z[s, t, lo:hi]) for the samples of a chunk, and the derivative in
# place, dZ *= f'(Z) taken from the cached A (sigmoid, tanh) or Z (relu, softsign), as
# the reference activations do. With e = exp(-|z|) and m = expm1(-2|z|):
#   sigmoid(z) = 1 / (1 + e) for z >= 0, e / (1 + e) for z < 0   (no overflow)
#   tanh(|z|) = -m / (2 + m)                                     (no cancellation near 0)
# NaN stays NaN.


@njit(**FAST)
def _activate(code, Z, A, first, last, t, lo, hi, m, bits, scale):
    lo, hi = np.uint64(lo), np.uint64(hi)
    for s in range(first, last):
        if code == SIGMOID:
            _exp_of_minus(1.0, 0.0, Z, s, t, lo, hi, m, bits, scale)  # e
            for j in range(lo, hi):
                z, e = Z[s, t, j], m[j - lo]
                value = (1.0 if z >= 0 else e) / (1.0 + e)
                A[s, t, j] = value if z == z else z
        elif code == TANH:
            _exp_of_minus(2.0, 1.0, Z, s, t, lo, hi, m, bits, scale)  # m
            for j in range(lo, hi):
                z, value = Z[s, t, j], -m[j - lo] / (2.0 + m[j - lo])
                value = value if z >= 0 else -value
                A[s, t, j] = value if z == z else z
        elif code == RELU:
            for j in range(lo, hi):
                A[s, t, j] = Z[s, t, j] if Z[s, t, j] > 0 else 0.0
        elif code == SOFTSIGN:
            for j in range(lo, hi):
                A[s, t, j] = Z[s, t, j] / (1.0 + abs(Z[s, t, j]))
        else:
            for j in range(lo, hi):
                A[s, t, j] = Z[s, t, j]


@njit(**FAST)
def _times_derivative(code, dZ, Z, A, first, last, t, lo, hi):
    lo, hi = np.uint64(lo), np.uint64(hi)
    for s in range(first, last):
        if code == SIGMOID:
            for j in range(lo, hi):
                dZ[s, t, j] *= A[s, t, j] * (1.0 - A[s, t, j])
        elif code == TANH:
            for j in range(lo, hi):
                dZ[s, t, j] *= 1.0 - A[s, t, j] * A[s, t, j]
        elif code == RELU:
            for j in range(lo, hi):
                dZ[s, t, j] = dZ[s, t, j] if Z[s, t, j] > 0 else 0.0
        elif code == SOFTSIGN:
            for j in range(lo, hi):
                d = 1.0 + abs(Z[s, t, j])
                dZ[s, t, j] /= d * d


# --------------------------------------------------------------------------- products


@njit(**FAST)
def _add_product(Out, to, H, th, W, first, last):
    """Out[s, to] += H[s, th] @ W for the samples of a chunk, four rows of W per pass."""
    rows, width = W.shape
    for s in range(first, last):
        k = 0
        while k + 4 <= rows:
            h0, h1, h2, h3 = H[s, th, k], H[s, th, k + 1], H[s, th, k + 2], H[s, th, k + 3]
            for j in range(width):
                Out[s, to, j] += h0 * W[k, j] + h1 * W[k + 1, j] + h2 * W[k + 2, j] + h3 * W[k + 3, j]
            k += 4
        while k < rows:
            for j in range(width):
                Out[s, to, j] += H[s, th, k] * W[k, j]
            k += 1


@njit(**FAST)
def _add_outer(D, H, th, dZ, t, first, last):
    """D += H[s, th]^T dZ[s, t] summed over the samples of a chunk (a dU or dV)."""
    rows, width = D.shape
    for s in range(first, last):
        for k in range(rows):
            h = H[s, th, k]
            for j in range(width):
                D[k, j] += h * dZ[s, t, j]


@njit(**FAST)
def _set_input_side(Z, X, U, b, first, last, t):
    """Z[s, t] = x_t U + b for the samples of a chunk."""
    for s in range(first, last):
        for j in range(Z.shape[2]):
            Z[s, t, j] = b[j]
    _add_product(Z, t, X, t, U, first, last)


@njit(**FAST)
def _add_parameter_gradients(dX, dU, dV, db, X, H, dZ, dP, UT, first, last, t):
    """This step's share of dX, dU, dV, db (dZ: input side, dP: recurrent side)."""
    _add_product(dX, t, dZ, t, UT, first, last)  # dX_t = dZ_t U^T
    _add_outer(dU, X, t, dZ, t, first, last)  # dU += x_t^T dZ_t
    if t > 0:
        _add_outer(dV, H, t - 1, dP, t, first, last)  # dV += h_{t-1}^T dP_t
    for s in range(first, last):
        for j in range(db.shape[0]):
            db[j] += dZ[s, t, j]


# --------------------------------------------------------------------------- RNN


@njit(**FAST)
def _rnn_forward_chunk(first, last, X, U, V, b, Z, H, code, m, bits, scale):
    for t in range(Z.shape[1]):
        _set_input_side(Z, X, U, b, first, last, t)
        if t > 0:
            _add_product(Z, t, H, t - 1, V, first, last)
        _activate(code, Z, H, first, last, t, 0, H.shape[2], m, bits, scale)


@njit(cache=True, parallel=True)
def _rnn_forward_parallel(chunks, X, U, V, b, Z, H, code, m, bits, scale):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _rnn_forward_chunk(first, last, X, U, V, b, Z, H, code, m[c], bits[c], scale[c])


@njit(**FAST)
def _rnn_backward_chunk(first, last, dH, X, UT, VT, H, Z, dZ, dh, dX, dU, dV, db, code):
    u = H.shape[2]
    for t in range(Z.shape[1] - 1, -1, -1):
        for s in range(first, last):
            for k in range(u):
                dZ[s, t, k] = dH[s, t, k] + dh[s, 0, k]  # dh: what step t+1 sent back
                dh[s, 0, k] = 0.0
        _times_derivative(code, dZ, Z, H, first, last, t, 0, u)
        if t > 0:
            _add_product(dh, 0, dZ, t, VT, first, last)
        _add_parameter_gradients(dX, dU, dV, db, X, H, dZ, dZ, UT, first, last, t)


@njit(cache=True, parallel=True)
def _rnn_backward_parallel(chunks, dH, X, UT, VT, H, Z, dZ, dh, dX, dU, dV, db, code):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _rnn_backward_chunk(first, last, dH, X, UT, VT, H, Z, dZ, dh, dX, dU[c], dV[c], db[c], code)


def rnn_forward(X, U, V, b, activation):
    """As ``nnxp.ops.recurrent.rnn_forward``: (H, Z)."""
    (m, steps, _), width = X.shape, U.shape[1]
    Z = np.empty((m, steps, width), dtype=X.dtype)
    H = np.empty_like(Z)
    chunks = _chunks(m)
    scratch = _exp_scratch(chunks, width)
    X, U, V, b = _contiguous(X, U, V, b)
    if chunks == 1:
        _rnn_forward_chunk(0, m, X, U, V, b, Z, H, activation, *(a[0] for a in scratch))
    else:
        _rnn_forward_parallel(chunks, X, U, V, b, Z, H, activation, *scratch)
    return H, Z


def rnn_backward(dH, X, U, V, H, Z, activation):
    """As ``nnxp.ops.recurrent.rnn_backward``: (dX, dU, dV, db)."""
    m, u = X.shape[0], V.shape[0]
    chunks = _chunks(m)
    dZ, dh, dX, (dU, dV, db) = np.empty_like(Z), _zeros(X, m, 1, u), _zeros(X, *X.shape), _sums(X, chunks, U, V)
    dH, X, UT, VT = _contiguous(dH, X, U.T, V.T)
    if chunks == 1:
        _rnn_backward_chunk(0, m, dH, X, UT, VT, H, Z, dZ, dh, dX, dU[0], dV[0], db[0], activation)
    else:
        _rnn_backward_parallel(chunks, dH, X, UT, VT, H, Z, dZ, dh, dX, dU, dV, db, activation)
    return dX, dU.sum(axis=0), dV.sum(axis=0), db.sum(axis=0)


# --------------------------------------------------------------------------- GRU


@njit(**FAST)
def _gru_forward_chunk(first, last, X, U, V, b, bh, Z, H, A, Hn, P, code_n, code_r, code_z, m, bits, scale):
    u = np.uint64(H.shape[2])
    z0, n0 = u, u + u  # where the z and n blocks start in a row of 3u
    for t in range(Z.shape[1]):
        _set_input_side(Z, X, U, b, first, last, t)
        for s in range(first, last):
            for j in range(P.shape[2]):
                P[s, 0, j] = 0.0
        if t > 0:
            _add_product(P, 0, H, t - 1, V, first, last)  # P = h_{t-1} V = [P_r | P_z | P_n]
        for s in range(first, last):
            for j in range(n0):
                Z[s, t, j] += P[s, 0, j]
        _activate(code_r, Z, A, first, last, t, 0, z0, m, bits, scale)
        _activate(code_z, Z, A, first, last, t, z0, n0, m, bits, scale)
        for s in range(first, last):
            for k in range(u):
                Hn[s, t, k] = P[s, 0, n0 + k] + bh[k]
                Z[s, t, n0 + k] += A[s, t, k] * Hn[s, t, k]  # + r Hn
        _activate(code_n, Z, A, first, last, t, n0, n0 + u, m, bits, scale)
        for s in range(first, last):
            for k in range(u):
                h_prev = H[s, t - 1, k] if t > 0 else 0.0
                z, n = A[s, t, z0 + k], A[s, t, n0 + k]
                H[s, t, k] = (1.0 - z) * n + z * h_prev


@njit(cache=True, parallel=True)
def _gru_forward_parallel(chunks, X, U, V, b, bh, Z, H, A, Hn, P, code_n, code_r, code_z, m, bits, scale):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _gru_forward_chunk(first, last, X, U, V, b, bh, Z, H, A, Hn, P, code_n, code_r, code_z, m[c], bits[c],
                           scale[c])


@njit(**FAST)
def _gru_backward_chunk(first, last, dH, X, UT, VT, H, Z, A, Hn, dZ, dP, dh, dX, dU, dV, db, dbh,
                        code_n, code_r, code_z):
    u = np.uint64(H.shape[2])
    z0, n0 = u, u + u
    for t in range(Z.shape[1] - 1, -1, -1):
        for s in range(first, last):
            for k in range(u):
                h_prev = H[s, t - 1, k] if t > 0 else 0.0
                z, n = A[s, t, z0 + k], A[s, t, n0 + k]
                d = dH[s, t, k] + dh[s, 0, k]  # the whole dL/dh_t
                dZ[s, t, n0 + k] = d * (1.0 - z)  # dn
                dZ[s, t, z0 + k] = d * (h_prev - n)  # dz
                dh[s, 0, k] = d * z  # the direct path h_{t-1} -> h_t
        _times_derivative(code_n, dZ, Z, A, first, last, t, n0, n0 + u)
        _times_derivative(code_z, dZ, Z, A, first, last, t, z0, n0)
        for s in range(first, last):
            for k in range(u):
                dP[s, t, n0 + k] = dZ[s, t, n0 + k] * A[s, t, k]  # dHn = dZ_n r
                dZ[s, t, k] = dZ[s, t, n0 + k] * Hn[s, t, k]  # dr = dZ_n Hn
                dbh[k] += dP[s, t, n0 + k]
        _times_derivative(code_r, dZ, Z, A, first, last, t, 0, z0)
        for s in range(first, last):
            for j in range(n0):
                dP[s, t, j] = dZ[s, t, j]
        _add_product(dh, 0, dP, t, VT, first, last)
        _add_parameter_gradients(dX, dU, dV, db, X, H, dZ, dP, UT, first, last, t)


@njit(cache=True, parallel=True)
def _gru_backward_parallel(chunks, dH, X, UT, VT, H, Z, A, Hn, dZ, dP, dh, dX, dU, dV, db, dbh,
                           code_n, code_r, code_z):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _gru_backward_chunk(first, last, dH, X, UT, VT, H, Z, A, Hn, dZ, dP, dh, dX, dU[c], dV[c], db[c], dbh[c],
                            code_n, code_r, code_z)


def gru_forward(X, U, V, b, bh, activation, reset_gate, update_gate):
    """As ``nnxp.ops.recurrent.gru_forward``: (H, Z, A, Hn)."""
    (m, steps, _), u = X.shape, V.shape[0]
    Z = np.empty((m, steps, 3 * u), dtype=X.dtype)
    H, A, Hn = np.empty((m, steps, u), dtype=X.dtype), np.empty_like(Z), np.empty((m, steps, u), dtype=X.dtype)
    P = np.empty((m, 1, 3 * u), dtype=X.dtype)  # this step's recurrent side
    chunks = _chunks(m)
    scratch = _exp_scratch(chunks, u)
    X, U, V, b, bh = _contiguous(X, U, V, b, bh)
    codes = (activation, reset_gate, update_gate)
    if chunks == 1:
        _gru_forward_chunk(0, m, X, U, V, b, bh, Z, H, A, Hn, P, *codes, *(a[0] for a in scratch))
    else:
        _gru_forward_parallel(chunks, X, U, V, b, bh, Z, H, A, Hn, P, *codes, *scratch)
    return H, Z, A, Hn


def gru_backward(dH, X, U, V, H, Z, A, Hn, activation, reset_gate, update_gate):
    """As ``nnxp.ops.recurrent.gru_backward``: (dX, dU, dV, db, dbh)."""
    m, u = X.shape[0], V.shape[0]
    chunks = _chunks(m)
    dZ, dP, dh, dX = np.empty_like(Z), np.empty_like(Z), _zeros(X, m, 1, u), _zeros(X, *X.shape)
    (dU, dV, db), dbh = _sums(X, chunks, U, V), _zeros(X, chunks, u)
    dH, X, UT, VT = _contiguous(dH, X, U.T, V.T)
    codes = (activation, reset_gate, update_gate)
    if chunks == 1:
        _gru_backward_chunk(0, m, dH, X, UT, VT, H, Z, A, Hn, dZ, dP, dh, dX, dU[0], dV[0], db[0], dbh[0], *codes)
    else:
        _gru_backward_parallel(chunks, dH, X, UT, VT, H, Z, A, Hn, dZ, dP, dh, dX, dU, dV, db, dbh, *codes)
    return dX, dU.sum(axis=0), dV.sum(axis=0), db.sum(axis=0), dbh.sum(axis=0)


# --------------------------------------------------------------------------- LSTM


@njit(**FAST)
def _lstm_forward_chunk(first, last, X, U, V, b, Z, H, C, S, A, code_c, code_g, code_i, code_f, code_o,
                        m, bits, scale):
    u = np.uint64(H.shape[2])
    f0, g0, o0 = u, u + u, u + u + u  # where the f, g and o blocks start in a row of 4u
    for t in range(Z.shape[1]):
        _set_input_side(Z, X, U, b, first, last, t)
        if t > 0:
            _add_product(Z, t, H, t - 1, V, first, last)
        _activate(code_i, Z, A, first, last, t, 0, f0, m, bits, scale)
        _activate(code_f, Z, A, first, last, t, f0, g0, m, bits, scale)
        _activate(code_g, Z, A, first, last, t, g0, o0, m, bits, scale)
        _activate(code_o, Z, A, first, last, t, o0, o0 + u, m, bits, scale)
        for s in range(first, last):
            for k in range(u):
                c_prev = C[s, t - 1, k] if t > 0 else 0.0
                C[s, t, k] = A[s, t, f0 + k] * c_prev + A[s, t, k] * A[s, t, g0 + k]  # f C + i g
        _activate(code_c, C, S, first, last, t, 0, u, m, bits, scale)
        for s in range(first, last):
            for k in range(u):
                H[s, t, k] = A[s, t, o0 + k] * S[s, t, k]  # o S


@njit(cache=True, parallel=True)
def _lstm_forward_parallel(chunks, X, U, V, b, Z, H, C, S, A, code_c, code_g, code_i, code_f, code_o,
                           m, bits, scale):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _lstm_forward_chunk(first, last, X, U, V, b, Z, H, C, S, A, code_c, code_g, code_i, code_f, code_o,
                            m[c], bits[c], scale[c])


@njit(**FAST)
def _lstm_backward_chunk(first, last, dH, X, UT, VT, H, C, S, Z, A, dZ, dS, dh, dc, dX, dU, dV, db,
                         code_c, code_g, code_i, code_f, code_o):
    u = np.uint64(C.shape[2])
    f0, g0, o0 = u, u + u, u + u + u
    for t in range(Z.shape[1] - 1, -1, -1):
        for s in range(first, last):
            for k in range(u):
                dh[s, 0, k] += dH[s, t, k]  # now the whole dL/dh_t
                dS[s, t, k] = dh[s, 0, k] * A[s, t, o0 + k]  # dL/dS = dh o
        _times_derivative(code_c, dS, C, S, first, last, t, 0, u)  # dS fc'(C)
        for s in range(first, last):
            for k in range(u):
                c_prev = C[s, t - 1, k] if t > 0 else 0.0
                d_c = dc[s, 0, k] + dS[s, t, k]  # dL/dC_t (dc: what step t+1 sent back)
                dZ[s, t, k] = d_c * A[s, t, g0 + k]  # di = dC g
                dZ[s, t, f0 + k] = d_c * c_prev  # df = dC C_{t-1}
                dZ[s, t, g0 + k] = d_c * A[s, t, k]  # dg = dC i
                dZ[s, t, o0 + k] = dh[s, 0, k] * S[s, t, k]  # do = dh S
                dc[s, 0, k] = d_c * A[s, t, f0 + k]  # to C_{t-1}: dC f
                dh[s, 0, k] = 0.0
        _times_derivative(code_i, dZ, Z, A, first, last, t, 0, f0)
        _times_derivative(code_f, dZ, Z, A, first, last, t, f0, g0)
        _times_derivative(code_g, dZ, Z, A, first, last, t, g0, o0)
        _times_derivative(code_o, dZ, Z, A, first, last, t, o0, o0 + u)
        if t > 0:
            _add_product(dh, 0, dZ, t, VT, first, last)  # to h_{t-1}: dZ V^T
        _add_parameter_gradients(dX, dU, dV, db, X, H, dZ, dZ, UT, first, last, t)


@njit(cache=True, parallel=True)
def _lstm_backward_parallel(chunks, dH, X, UT, VT, H, C, S, Z, A, dZ, dS, dh, dc, dX, dU, dV, db,
                            code_c, code_g, code_i, code_f, code_o):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _lstm_backward_chunk(first, last, dH, X, UT, VT, H, C, S, Z, A, dZ, dS, dh, dc, dX, dU[c], dV[c], db[c],
                             code_c, code_g, code_i, code_f, code_o)


def lstm_forward(X, U, V, b, activation, candidate_activation, input_gate, forget_gate, output_gate):
    """As ``nnxp.ops.recurrent.lstm_forward``: (H, C, S, Z, A)."""
    (m, steps, _), u = X.shape, V.shape[0]
    Z = np.empty((m, steps, 4 * u), dtype=X.dtype)
    H = np.empty((m, steps, u), dtype=X.dtype)
    C, S, A = np.empty_like(H), np.empty_like(H), np.empty_like(Z)
    chunks = _chunks(m)
    scratch = _exp_scratch(chunks, u)
    X, U, V, b = _contiguous(X, U, V, b)
    codes = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    if chunks == 1:
        _lstm_forward_chunk(0, m, X, U, V, b, Z, H, C, S, A, *codes, *(a[0] for a in scratch))
    else:
        _lstm_forward_parallel(chunks, X, U, V, b, Z, H, C, S, A, *codes, *scratch)
    return H, C, S, Z, A


def lstm_backward(dH, X, U, V, H, C, S, Z, A, activation, candidate_activation, input_gate, forget_gate,
                  output_gate):
    """As ``nnxp.ops.recurrent.lstm_backward``: (dX, dU, dV, db)."""
    m, u = X.shape[0], V.shape[0]
    chunks = _chunks(m)
    dZ, dS, dX = np.empty_like(Z), np.empty_like(C), _zeros(X, *X.shape)
    dh, dc, (dU, dV, db) = _zeros(X, m, 1, u), _zeros(X, m, 1, u), _sums(X, chunks, U, V)
    dH, X, UT, VT = _contiguous(dH, X, U.T, V.T)
    codes = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    if chunks == 1:
        _lstm_backward_chunk(0, m, dH, X, UT, VT, H, C, S, Z, A, dZ, dS, dh, dc, dX, dU[0], dV[0], db[0], *codes)
    else:
        _lstm_backward_parallel(chunks, dH, X, UT, VT, H, C, S, Z, A, dZ, dS, dh, dc, dX, dU, dV, db, *codes)
    return dX, dU.sum(axis=0), dV.sum(axis=0), db.sum(axis=0)


# --------------------------------------------------------------------------- allocation


def _contiguous(*arrays):
    return tuple(np.ascontiguousarray(a) for a in arrays)


def _zeros(like, *shape):
    return np.zeros(shape, dtype=like.dtype)


def _sums(like, chunks, U, V):
    """Zeroed partial sums of dU, dV and db, one set per chunk."""
    return _zeros(like, chunks, *U.shape), _zeros(like, chunks, *V.shape), _zeros(like, chunks, U.shape[1])


def _exp_scratch(chunks: int, width: int):
    """Scratch rows for _exp_of_minus, one per chunk: its result (float64), the int64
    bits of 2^n, and their float64 view."""
    m = np.empty((chunks, width))
    bits = np.empty((chunks, width), dtype=np.int64)
    return m, bits, bits.view(np.float64)
