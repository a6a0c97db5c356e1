"""Numba CPU kernels for the recurrent ops: RNN, GRU and LSTM over whole sequences.

The maths, shapes and gate order are those of ``nnxp.ops.recurrent`` (read it
first); these functions take the same arrays and return the same results, with each
activation given as a small int code (``RECURRENT_ACTIVATIONS``; ``nnxp.ops`` keeps
the reference code for any other activation). How they are organised for speed:

* One compiled call runs whole sequences for a CHUNK of samples (``first`` to
  ``last``), step after step: the step's row of gate pre-activations
  Z = b + x_t U + h_{t-1} V, then every gate, the cell and h, in a few fused passes
  along the row; four samples at a time, whose products share the loads of U and V
  (SAMPLE GROUPS, below); going back the same per step, then dU, dV and db summed
  over the chunk's (sample, step) rows. Samples
  are independent, so going forward the serial version is one chunk and the parallel
  version gives each thread its own chunk (``prange`` over chunks): no thread ever
  waits for another before the end.
  Going back, the chunks are fixed by the batch size (``chunks.py``), each with its
  own partial dU, dV, db, added up in order at the end; the serial version runs them
  one after the other, the parallel one shares them out: the same sums on any number
  of threads, bit for bit. The parallel variants are separate functions because
  Numba's disk cache ignores the ``parallel`` flag. (On a machine whose cores are busy
  with other work, the end of a parallel loop waits for the slowest thread:
  ``numba.set_num_threads(1)`` keeps to the serial variants.)
* The maths inside the loops (the activations chosen by code, exp vectorised, the
  products in blocks of four, and which loops may fuse multiply-adds: FAST and EXACT)
  is in ``fastmath.py``; this file is the recurrence, and how it is cut for threads.
* The activations go gate by gate: each gate's block of a row (i, f, g, o of an
  LSTM) in its own loop, with its code fixed for the loop, so that LLVM drops the
  choices between formulas from the loop (one code per value, chosen inside it, took
  106 us for a step of 64 samples x 1024 gate values, float32; gate by gate 66 us,
  the same bits).
* Scratch arrays are allocated once per call, never per step (the large ones recycled
  from call to call: ``buffers.py``), and backward never writes to the forward caches
  (it can run twice on the same input).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ..activation_codes import RECURRENT_ACTIVATIONS  # noqa: F401  (the codes these kernels take)
from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)
from .chunks import add_up, gradient_chunks
from . import buffers  # the large arrays, recycled across calls
from .fastmath import (EXACT, INLINE, ONE, ZERO, activate, add_product, add_product_4, add_product_transposed,
                       add_product_transposed_4,
                       add_weight_gradients, constants, derivative, exp_constants)

# From this many samples on, and with more than one Numba thread, the parallel variant runs.
parallel_threshold = 8


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


# SAMPLE GROUPS. The forward kernels run their products for four samples at once
# (``add_product_4``: each row of U and V loaded once for four samples instead of once
# per sample; W3's forward, 32 samples x 20 steps x 32 units: float32 113 -> 92 us,
# float64 198 -> 124 us). A sample's sums are the same either way, but the groups are
# taken from sample 0 in fours whatever the chunks (a chunk starts on a multiple of
# four), so that no thread count could change which samples share a group. Going back,
# the same for dh = dZ_t V^T (and dX_t = dZ_t U^T): sixteen dot products a pass, four
# rows of V for four samples (``add_product_transposed_4``), the backward of W3-W5
# 0.96-0.99x / 0.87x (RNN, LSTM) and 0.82x / 0.86x (GRU), float32 / float64
# (interleaved, 2 threads). Its sums are split into SIMD lanes (``reassoc``) in their
# own way, so a sample's bits depend on whether it was in a group; the backward's
# chunks, and so its groups, are fixed by the batch size alone (``chunks.py``).
@njit(cache=True)
def _group_bounds(chunks, c, samples):
    """The samples of chunk c, each chunk's bounds rounded up to a multiple of four (the
    last chunk's to the batch's end): first, last."""
    first = min(samples, (c * samples // chunks + 3) // 4 * 4)
    last = min(samples, ((c + 1) * samples // chunks + 3) // 4 * 4)
    return first, last


@njit(**INLINE)
def _add_products_transposed(Out, to, D, td, W, s, group, zero):
    """Out[s + q, to] += D[s + q, td] @ W^T for the group's samples: four at once or one."""
    if group == 4:
        add_product_transposed_4(Out, to, D, td, W, s, zero)
    else:
        add_product_transposed(Out, s, to, D, s, td, W, zero)


@njit(**INLINE)
def activate_gates(s, t, Z, out, codes, begin, end, u, E):
    """out = f(Z) along the row (s, t) from value ``begin`` to ``end``, blocks of u
    values, each gate's block with its own code (GATE BY GATE, module docstring), and
    neighbouring blocks of the same code in one loop: an LSTM's i and f (both sigmoid
    by default) in one loop of 2u, a GRU's r and z too. A short loop pays for its
    set-up: W3's shapes, the GRU's forward 0.94x / 0.95x (float32 / float64), the
    LSTM's 0.98-1.04x / 0.97x, against a loop per gate (interleaved, the same bits)."""
    start = begin
    while start < end:
        code = codes[start]
        stop = start + u
        while stop < end and codes[stop] == code:
            stop += u
        for j in range(start, stop):
            out[s, t, j] = activate(code, Z[s, t, j], E)
        start = stop


# --------------------------------------------------------------------------- RNN


@njit(**INLINE)
def _add_products(Out, to, A, ta, W, s, group):
    """Out[s + q, to] += A[s + q, ta] @ W for the group's samples: four at once (one
    load of each row of W for the four, SAMPLE GROUPS) or one."""
    if group == 4:
        add_product_4(Out, to, A, ta, W, s)
    else:
        add_product(Out, s, to, A, s, ta, W)


@njit(**EXACT)
def _rnn_forward_chunk(first, last, X, U, V, b, Z, H, codes, K):
    u = np.uint64(H.shape[2])
    E = exp_constants(K)
    code = codes[0]  # one code for the whole row (see below, GATE BY GATE)
    s = first
    while s < last:
        group = 4 if s + 4 <= last else 1
        for t in range(Z.shape[1]):
            for q in range(group):
                for j in range(b.shape[0]):
                    Z[s + q, t, j] = b[j]
            _add_products(Z, t, X, t, U, s, group)
            if t > 0:
                _add_products(Z, t, H, t - 1, V, s, group)
            for q in range(group):
                for k in range(u):
                    H[s + q, t, k] = activate(code, Z[s + q, t, k], E)
        s += group


@njit(**EXACT, parallel=True)
def _rnn_forward_parallel(chunks, X, U, V, b, Z, H, codes, K):
    for c in prange(chunks):
        first, last = _group_bounds(chunks, c, Z.shape[0])
        _rnn_forward_chunk(first, last, X, U, V, b, Z, H, codes, K)


@njit(**EXACT)
def _rnn_backward_chunk(first, last, dH, X, U, V, H, Z, dZ, dh, dX, need_dX, dU, dV, db, code, K):
    """Samples first..last-1 going back, four at a time (SAMPLE GROUPS), the rest one by one."""
    u = np.uint64(H.shape[2])
    zero, one = K[ZERO], K[ONE]
    s = first
    while s < last:
        group = 4 if s + 4 <= last else 1
        for q in range(group):
            dh[s + q, 0, :] = 0.0  # what step t+1 sends back to h_t
        for t in range(Z.shape[1] - 1, -1, -1):
            for r in range(s, s + group):
                for k in range(u):
                    d = dH[r, t, k] + dh[r, 0, k]
                    dZ[r, t, k] = d * derivative(code, Z[r, t, k], H[r, t, k], zero, one)
                    dh[r, 0, k] = zero
            if t > 0:
                _add_products_transposed(dh, 0, dZ, t, V, s, group, zero)  # to h_{t-1}: dZ V^T
            if need_dX:  # a first layer's is not needed
                _add_products_transposed(dX, t, dZ, t, U, s, group, zero)  # dX_t = dZ_t U^T
        s += group
    add_weight_gradients(dU, db, X, 0, dZ, first, last)
    add_weight_gradients(dV, db[:0], H, 1, dZ, first, last)


@njit(**EXACT)
def _rnn_backward_serial(chunks, dH, X, U, V, H, Z, dZ, dh, dX, need_dX, dU, dV, db, code, K):
    for c in range(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _rnn_backward_chunk(first, last, dH, X, U, V, H, Z, dZ, dh, dX, need_dX, dU[c], dV[c], db[c], code, K)
    add_up(dU)
    add_up(dV)
    add_up(db)


@njit(**EXACT, parallel=True)
def _rnn_backward_parallel(chunks, dH, X, U, V, H, Z, dZ, dh, dX, need_dX, dU, dV, db, code, K):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _rnn_backward_chunk(first, last, dH, X, U, V, H, Z, dZ, dh, dX, need_dX, dU[c], dV[c], db[c], code, K)
    add_up(dU)
    add_up(dV)
    add_up(db)


def rnn_forward(X, U, V, b, activation):
    """As ``nnxp.ops.recurrent.rnn_forward``: (H, Z)."""
    (m, steps, _), u = X.shape, V.shape[0]
    Z = buffers.empty((m, steps, u), X.dtype)
    H = buffers.empty(Z.shape, X.dtype)
    chunks, K = _chunks(m), constants(X.dtype)
    X, U, V, b = _contiguous(X, U, V, b)
    codes = row_codes(u, X.dtype, activation)
    if chunks == 1:
        _rnn_forward_chunk(0, m, X, U, V, b, Z, H, codes, K)
    else:
        _rnn_forward_parallel(chunks, X, U, V, b, Z, H, codes, K)
    return H, Z


def rnn_backward(dH, X, U, V, H, Z, activation, need_dX=True):
    """As ``nnxp.ops.recurrent.rnn_backward``: (dX, dU, dV, db), dX None unless need_dX."""
    m, u = X.shape[0], V.shape[0]
    chunks, K = gradient_chunks(m), constants(X.dtype)
    dZ, dh, dX = buffers.empty(Z.shape, X.dtype), _zeros(X, m, 1, u), _input_gradient(X, need_dX)
    dU, dV, db = _sums(X, chunks, U, V)
    dH, X, U, V = _contiguous(dH, X, U, V)
    backward = _rnn_backward_parallel if _parallel(m) and chunks > 1 else _rnn_backward_serial
    backward(chunks, dH, X, U, V, H, Z, dZ, dh, dX, need_dX, dU, dV, db, activation, K)
    return (dX if need_dX else None), dU[0], dV[0], db[0]  # the sums (add_up)


# --------------------------------------------------------------------------- GRU


@njit(**EXACT)
def _gru_forward_chunk(first, last, X, U, V, b, bh, Z, H, G, Hn, P, codes, K):
    u = np.uint64(H.shape[2])
    zero, one = K[ZERO], K[ONE]
    E = exp_constants(K)
    z0, n0 = u, u + u  # where the z and n blocks start in a row of 3u
    code_n = codes[n0]
    s = first
    while s < last:
        group = 4 if s + 4 <= last else 1
        for t in range(Z.shape[1]):
            for q in range(group):
                for j in range(b.shape[0]):
                    Z[s + q, t, j] = b[j]
                for j in range(P.shape[2]):
                    P[s + q, 0, j] = zero
            _add_products(Z, t, X, t, U, s, group)
            if t > 0:
                _add_products(P, 0, H, t - 1, V, s, group)  # P = h_{t-1} V = [P_r | P_z | P_n]
            for q in range(group):
                _gru_cell(s + q, t, Z, H, G, Hn, P, bh, codes, code_n, E, zero, one, u)
        s += group


@njit(**INLINE)
def _gru_cell(s, t, Z, H, G, Hn, P, bh, codes, code_n, E, zero, one, u):
    """Step t of sample s, given Z[s, t] = b + x_t U and P[s, 0] = h_{t-1} V: r, z, n, h_t."""
    z0, n0 = u, u + u
    for j in range(n0):
        Z[s, t, j] += P[s, 0, j]
    activate_gates(s, t, Z, G, codes, np.uint64(0), n0, u, E)  # r, z
    for k in range(u):
        Hn[s, t, k] = P[s, 0, n0 + k] + bh[k]
        Z[s, t, n0 + k] += G[s, t, k] * Hn[s, t, k]  # + r Hn
    for k in range(u):
        n = activate(code_n, Z[s, t, n0 + k], E)
        z = G[s, t, z0 + k]
        h_prev = H[s, t - 1, k] if t > 0 else zero
        G[s, t, n0 + k] = n
        H[s, t, k] = (one - z) * n + z * h_prev


@njit(**EXACT, parallel=True)
def _gru_forward_parallel(chunks, X, U, V, b, bh, Z, H, G, Hn, P, codes, K):
    for c in prange(chunks):
        first, last = _group_bounds(chunks, c, Z.shape[0])
        _gru_forward_chunk(first, last, X, U, V, b, bh, Z, H, G, Hn, P, codes, K)


@njit(**EXACT)
def _gru_backward_chunk(first, last, dH, X, U, V, H, Z, G, Hn, dZ, dP, dh, dX, need_dX, dU, dV, db, dbh,
                        code_n, code_r, code_z, K):
    """Samples first..last-1 going back, four at a time (SAMPLE GROUPS), the rest one by one."""
    u = np.uint64(H.shape[2])
    zero, one = K[ZERO], K[ONE]
    s = first
    while s < last:
        group = 4 if s + 4 <= last else 1
        for q in range(group):
            dh[s + q, 0, :] = 0.0  # what step t+1 sends back to h_t
        for t in range(Z.shape[1] - 1, -1, -1):
            for r in range(s, s + group):
                _gru_cell_backward(r, t, dH, H, Z, G, Hn, dZ, dP, dh, dbh, code_n, code_r, code_z, zero, one, u)
            _add_products_transposed(dh, 0, dP, t, V, s, group, zero)  # + dP V^T
            if need_dX:  # a first layer's is not needed
                _add_products_transposed(dX, t, dZ, t, U, s, group, zero)  # dX_t = dZ_t U^T
        s += group
    add_weight_gradients(dU, db, X, 0, dZ, first, last)
    add_weight_gradients(dV, db[:0], H, 1, dP, first, last)


@njit(**INLINE)
def _gru_cell_backward(s, t, dH, H, Z, G, Hn, dZ, dP, dh, dbh, code_n, code_r, code_z, zero, one, u):
    """Step t of sample s going back: dZ_t and dP_t from dL/dh_t (dH_t plus what step t+1
    sent, in dh); then dh holds d z, the direct path to h_{t-1}, for dP_t V^T to add to."""
    z0, n0 = u, u + u
    for k in range(u):
        r, z, n = G[s, t, k], G[s, t, z0 + k], G[s, t, n0 + k]
        h_prev = H[s, t - 1, k] if t > 0 else zero
        d = dH[s, t, k] + dh[s, 0, k]  # the whole dL/dh_t
        dz_n = d * (one - z) * derivative(code_n, Z[s, t, n0 + k], n, zero, one)
        dz_z = d * (h_prev - n) * derivative(code_z, Z[s, t, z0 + k], z, zero, one)
        dz_r = dz_n * Hn[s, t, k] * derivative(code_r, Z[s, t, k], r, zero, one)
        dZ[s, t, k], dZ[s, t, z0 + k], dZ[s, t, n0 + k] = dz_r, dz_z, dz_n
        dP[s, t, k], dP[s, t, z0 + k], dP[s, t, n0 + k] = dz_r, dz_z, dz_n * r  # dHn = dZ_n r
        dh[s, 0, k] = d * z  # the direct path h_{t-1} -> h_t
    for k in range(u):
        dbh[k] += dP[s, t, n0 + k]


@njit(**EXACT)
def _gru_backward_serial(chunks, dH, X, U, V, H, Z, G, Hn, dZ, dP, dh, dX, need_dX, dU, dV, db, dbh,
                         code_n, code_r, code_z, K):
    for c in range(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _gru_backward_chunk(first, last, dH, X, U, V, H, Z, G, Hn, dZ, dP, dh, dX, need_dX, dU[c], dV[c], db[c], dbh[c],
                            code_n, code_r, code_z, K)
    add_up(dU)
    add_up(dV)
    add_up(db)
    add_up(dbh)


@njit(**EXACT, parallel=True)
def _gru_backward_parallel(chunks, dH, X, U, V, H, Z, G, Hn, dZ, dP, dh, dX, need_dX, dU, dV, db, dbh,
                           code_n, code_r, code_z, K):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _gru_backward_chunk(first, last, dH, X, U, V, H, Z, G, Hn, dZ, dP, dh, dX, need_dX, dU[c], dV[c], db[c], dbh[c],
                            code_n, code_r, code_z, K)
    add_up(dU)
    add_up(dV)
    add_up(db)
    add_up(dbh)


def gru_forward(X, U, V, b, bh, activation, reset_gate, update_gate):
    """As ``nnxp.ops.recurrent.gru_forward``: (H, Z, G, Hn)."""
    (m, steps, _), u = X.shape, V.shape[0]
    Z = buffers.empty((m, steps, 3 * u), X.dtype)
    H, G, Hn = buffers.empty((m, steps, u), X.dtype), buffers.empty(Z.shape, X.dtype), buffers.empty((m, steps, u), X.dtype)
    P = np.empty((m, 1, 3 * u), dtype=X.dtype)  # this step's recurrent side
    chunks, K = _chunks(m), constants(X.dtype)
    X, U, V, b, bh = _contiguous(X, U, V, b, bh)
    codes = row_codes(u, X.dtype, reset_gate, update_gate, activation)
    if chunks == 1:
        _gru_forward_chunk(0, m, X, U, V, b, bh, Z, H, G, Hn, P, codes, K)
    else:
        _gru_forward_parallel(chunks, X, U, V, b, bh, Z, H, G, Hn, P, codes, K)
    return H, Z, G, Hn


def gru_backward(dH, X, U, V, H, Z, G, Hn, activation, reset_gate, update_gate, need_dX=True):
    """As ``nnxp.ops.recurrent.gru_backward``: (dX, dU, dV, db, dbh), dX None unless need_dX."""
    m, u = X.shape[0], V.shape[0]
    chunks, K = gradient_chunks(m), constants(X.dtype)
    dZ, dP = buffers.empty(Z.shape, X.dtype), buffers.empty(Z.shape, X.dtype)
    dh, dX = _zeros(X, m, 1, u), _input_gradient(X, need_dX)
    (dU, dV, db), dbh = _sums(X, chunks, U, V), _zeros(X, chunks, u)
    dH, X, U, V = _contiguous(dH, X, U, V)
    codes = (activation, reset_gate, update_gate)
    backward = _gru_backward_parallel if _parallel(m) and chunks > 1 else _gru_backward_serial
    backward(chunks, dH, X, U, V, H, Z, G, Hn, dZ, dP, dh, dX, need_dX, dU, dV, db, dbh, *codes, K)
    return (dX if need_dX else None), dU[0], dV[0], db[0], dbh[0]  # the sums (add_up)


# --------------------------------------------------------------------------- LSTM


@njit(**INLINE)
def _lstm_cell(s, t, Z, H, C, S, G, codes, code_c, E, zero, u):
    """Step t of sample s, given its row Z[s, t] = b + x_t U + h_{t-1} V: the gates, C_t, S_t, h_t."""
    activate_gates(s, t, Z, G, codes, np.uint64(0), u + u + u + u, u, E)  # i, f, g, o
    lstm_state(s, t, C, S, H, G, code_c, E, zero, u)


@njit(**INLINE)
def lstm_state(s, t, C, S, H, G, code_c, E, zero, u):
    """From the gates i, f, g, o of step t of sample s: C_t = f C_{t-1} + i g, S_t = the
    cell activation of C_t, h_t = o S_t (also the BLAS kernel's, recurrent_blas.py)."""
    f0, g0, o0 = u, u + u, u + u + u
    for k in range(u):
        c_prev = C[s, t - 1, k] if t > 0 else zero
        C[s, t, k] = G[s, t, f0 + k] * c_prev + G[s, t, k] * G[s, t, g0 + k]  # f C + i g
    for k in range(u):
        S[s, t, k] = activate(code_c, C[s, t, k], E)
        H[s, t, k] = G[s, t, o0 + k] * S[s, t, k]  # o S


@njit(**EXACT)
def _lstm_forward_chunk(first, last, X, U, V, b, Z, H, C, S, G, codes, code_c, K):
    """Samples first..last-1, four at a time (SAMPLE GROUPS, above), the rest one by one."""
    u = np.uint64(H.shape[2])
    zero = K[ZERO]
    E = exp_constants(K)
    s = first
    while s < last:
        group = 4 if s + 4 <= last else 1
        for t in range(Z.shape[1]):
            for q in range(group):
                for j in range(b.shape[0]):
                    Z[s + q, t, j] = b[j]
            _add_products(Z, t, X, t, U, s, group)
            if t > 0:
                _add_products(Z, t, H, t - 1, V, s, group)
            for q in range(group):
                _lstm_cell(s + q, t, Z, H, C, S, G, codes, code_c, E, zero, u)
        s += group


@njit(**EXACT, parallel=True)
def _lstm_forward_parallel(chunks, X, U, V, b, Z, H, C, S, G, codes, code_c, K):
    for c in prange(chunks):
        first, last = _group_bounds(chunks, c, Z.shape[0])
        _lstm_forward_chunk(first, last, X, U, V, b, Z, H, C, S, G, codes, code_c, K)


@njit(**INLINE)
def lstm_cell_backward(dH_t, dh, dc, C_t, C_before, S_t, Z_t, G_t, dZ_t, code_c, code_g, code_i, code_f, code_o,
                       zero, one, u):
    """One step of one sample going back, on its rows (also the BLAS kernel's,
    recurrent_blas.py): dZ_t from dL/dh_t (dH_t plus what step t+1 sent, in dh) and
    what step t+1 sent to C_t (in dc); then dc holds what goes to C_{t-1}, and dh is
    zeroed for dZ_t V^T. ``C_before`` is C_{t-1}, or None at the first step (C_{-1} = 0).

    Gate by gate, as going forward: each loop applies one derivative, whose code is
    fixed for the loop, so that LLVM takes the choice of formula out of it (one loop for
    every gate, choosing per value, measured 1.3x slower on W3, float32). dh and dc hold
    dL/dh_t and dL/dC_t in between; every value is the same product, in the same order,
    as in one loop."""
    f0, g0, o0 = u, u + u, u + u + u
    for k in range(u):
        dh[k] += dH_t[k]  # the whole dL/dh_t
    for k in range(u):  # dL/dC_t
        dc[k] = dc[k] + dh[k] * G_t[o0 + k] * derivative(code_c, C_t[k], S_t[k], zero, one)
    for k in range(u):
        dZ_t[k] = dc[k] * G_t[g0 + k] * derivative(code_i, Z_t[k], G_t[k], zero, one)
    for k in range(u):
        c_prev = zero if C_before is None else C_before[k]
        dZ_t[f0 + k] = dc[k] * c_prev * derivative(code_f, Z_t[f0 + k], G_t[f0 + k], zero, one)
    for k in range(u):
        dZ_t[g0 + k] = dc[k] * G_t[k] * derivative(code_g, Z_t[g0 + k], G_t[g0 + k], zero, one)
    for k in range(u):
        dZ_t[o0 + k] = dh[k] * S_t[k] * derivative(code_o, Z_t[o0 + k], G_t[o0 + k], zero, one)
    for k in range(u):
        dc[k] = dc[k] * G_t[f0 + k]  # to C_{t-1}
        dh[k] = zero


@njit(**EXACT)
def _lstm_backward_chunk(first, last, dH, X, U, V, H, C, S, Z, G, dZ, dh, dc, dX, need_dX, dU, dV, db,
                         code_c, code_g, code_i, code_f, code_o, K):
    """Samples first..last-1 going back, four at a time (SAMPLE GROUPS), the rest one by one."""
    u = np.uint64(C.shape[2])
    zero, one = K[ZERO], K[ONE]
    s = first
    while s < last:
        group = 4 if s + 4 <= last else 1
        for q in range(group):
            dh[s + q, 0, :] = 0.0  # what step t+1 sends back to h_t ...
            dc[s + q, 0, :] = 0.0  # ... and to C_t
        for t in range(Z.shape[1] - 1, -1, -1):
            for r in range(s, s + group):
                C_before = C[r, t - 1] if t > 0 else None
                lstm_cell_backward(dH[r, t], dh[r, 0], dc[r, 0], C[r, t], C_before, S[r, t], Z[r, t], G[r, t],
                                   dZ[r, t], code_c, code_g, code_i, code_f, code_o, zero, one, u)
            if t > 0:
                _add_products_transposed(dh, 0, dZ, t, V, s, group, zero)  # to h_{t-1}: dZ V^T
            if need_dX:  # a first layer's is not needed
                _add_products_transposed(dX, t, dZ, t, U, s, group, zero)  # dX_t = dZ_t U^T
        s += group
    add_weight_gradients(dU, db, X, 0, dZ, first, last)
    add_weight_gradients(dV, db[:0], H, 1, dZ, first, last)


@njit(**EXACT)
def _lstm_backward_serial(chunks, dH, X, U, V, H, C, S, Z, G, dZ, dh, dc, dX, need_dX, dU, dV, db,
                          code_c, code_g, code_i, code_f, code_o, K):
    for c in range(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _lstm_backward_chunk(first, last, dH, X, U, V, H, C, S, Z, G, dZ, dh, dc, dX, need_dX, dU[c], dV[c], db[c],
                             code_c, code_g, code_i, code_f, code_o, K)
    add_up(dU)
    add_up(dV)
    add_up(db)


@njit(**EXACT, parallel=True)
def _lstm_backward_parallel(chunks, dH, X, U, V, H, C, S, Z, G, dZ, dh, dc, dX, need_dX, dU, dV, db,
                            code_c, code_g, code_i, code_f, code_o, K):
    for c in prange(chunks):
        first, last = _bounds(chunks, c, Z.shape[0])
        _lstm_backward_chunk(first, last, dH, X, U, V, H, C, S, Z, G, dZ, dh, dc, dX, need_dX, dU[c], dV[c], db[c],
                             code_c, code_g, code_i, code_f, code_o, K)
    add_up(dU)
    add_up(dV)
    add_up(db)


def lstm_forward(X, U, V, b, activation, candidate_activation, input_gate, forget_gate, output_gate):
    """As ``nnxp.ops.recurrent.lstm_forward``: (H, C, S, Z, G)."""
    (m, steps, _), u = X.shape, V.shape[0]
    Z = buffers.empty((m, steps, 4 * u), X.dtype)
    H = buffers.empty((m, steps, u), X.dtype)
    C, S, G = buffers.empty(H.shape, X.dtype), buffers.empty(H.shape, X.dtype), buffers.empty(Z.shape, X.dtype)
    chunks, K = _chunks(m), constants(X.dtype)
    X, U, V, b = _contiguous(X, U, V, b)
    codes = row_codes(u, X.dtype, input_gate, forget_gate, candidate_activation, output_gate)
    if chunks == 1:
        _lstm_forward_chunk(0, m, X, U, V, b, Z, H, C, S, G, codes, activation, K)
    else:
        _lstm_forward_parallel(chunks, X, U, V, b, Z, H, C, S, G, codes, activation, K)
    return H, C, S, Z, G


def lstm_backward(dH, X, U, V, H, C, S, Z, G, activation, candidate_activation, input_gate, forget_gate,
                  output_gate, need_dX=True):
    """As ``nnxp.ops.recurrent.lstm_backward``: (dX, dU, dV, db), dX None unless need_dX."""
    m, u = X.shape[0], V.shape[0]
    chunks, K = gradient_chunks(m), constants(X.dtype)
    dZ, dX = buffers.empty(Z.shape, X.dtype), _input_gradient(X, need_dX)
    dh, dc, (dU, dV, db) = _zeros(X, m, 1, u), _zeros(X, m, 1, u), _sums(X, chunks, U, V)
    dH, X, U, V = _contiguous(dH, X, U, V)
    codes = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    backward = _lstm_backward_parallel if _parallel(m) and chunks > 1 else _lstm_backward_serial
    backward(chunks, dH, X, U, V, H, C, S, Z, G, dZ, dh, dc, dX, need_dX, dU, dV, db, *codes, K)
    return (dX if need_dX else None), dU[0], dV[0], db[0]  # the sums (add_up)


# --------------------------------------------------------------------------- allocation


def row_codes(units, dtype, *gate_codes):
    """The activation code of every value in a row of gates, each gate's code units
    times, as integers as wide as the data (so that SIMD lanes line up)."""
    return np.repeat(np.asarray(gate_codes, dtype=np.int32 if dtype == np.float32 else np.int64), units)


def _contiguous(*arrays):
    return tuple(np.ascontiguousarray(a) for a in arrays)


def _zeros(like, *shape):
    return buffers.zeros(shape, like.dtype)


def _input_gradient(X, need_dX):
    """dX zeroed (the kernels add each step's share), or where a first layer needs none,
    an empty array in its place, which the kernels never touch."""
    return _zeros(X, *X.shape) if need_dX else np.empty((0, 0, 0), dtype=X.dtype)


def _sums(like, chunks, U, V):
    """Zeroed partial sums of dU, dV and db, one set per chunk."""
    return _zeros(like, chunks, *U.shape), _zeros(like, chunks, *V.shape), _zeros(like, chunks, U.shape[1])
