"""The recurrent ops with their matrix products on BLAS, for layers of many units.

The same maths, arguments and results as ``nnxp.ops.recurrent`` (read it first) and
the kernels of ``recurrent.py``, which run every product in Numba loops: fast for the
small layers of W3-W5 (u = 32), but a layer of 256 units spends its time in products
that BLAS runs 2-3 times faster (one core, float32: (64 x 256) @ (256 x 1024) at
116 GFLOP/s, against ~45 for the loops). Here each product of a step is one BLAS call,
and everything element-wise (gates, cell, state, and going back their derivatives) is
one Numba pass over the step's rows, the same formulas as ``recurrent.py``.

The products, for a chunk of s samples, T steps, n features, u units, G gates::

    before the loop    Z_rows  = X_rows @ U            (s*T, n) @ (n, G*u): every step's input side
    forward, step t    P       = h_{t-1} @ V           (s, u) @ (u, G*u), then the step's pass:
                                 Z_t += b + P  (GRU: the candidate's part apart), gates, h_t
    backward, step t   the step's pass: dZ_t (and GRU's dP_t) from dh_t = dH_t + what step
                                 t+1 sent, then what goes to step t-1:
                                 dh = dZ_t @ V^T  (GRU: dh z + dP_t @ V^T)
    after the loop     dU     += X_rows^T @ dZ_rows     (n, s*T) @ (s*T, G*u)
                       dV     += Hprev_rows^T @ dP_rows (u, s*T) @ (s*T, G*u), Hprev = H one step late
                                 (RNN, LSTM: dP = dZ, and the two are one product of n + u rows)
                       db     += sum of the dZ rows
                       dX_rows = dZ_rows @ U^T

Samples are independent, so the batch is cut into chunks of CHUNK_SAMPLES (fixed by the
batch size, never by the number of threads) and each chunk runs its whole sequence,
step after step, on one thread (``workers.share``: one BLAS thread per chunk, no two
thread pools on one core). The chunks' dU, dV and db are added in chunk order: the
same bits on any number of threads.
"""

from __future__ import annotations

import numpy as np

from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)
from . import workers
from .chunks import add_up
from . import buffers  # the large arrays, recycled across calls
from .fastmath import EXACT, INLINE, ONE, ZERO, activate, constants, derivative, exp_constants
from .recurrent import lstm_cell_backward, lstm_state, row_codes

STEP = {**EXACT, "nogil": True}  # no fastmath (see fastmath.py, EXACT); nogil: two threads run chunks at once

# Samples per chunk. One core's BLAS runs (s x 256) @ (256 x 1024) at 84, 102, 116 and
# 122 GFLOP/s for s = 16, 32, 64, 128 (float32; float64 26, 38, 48, 55): it packs the
# whole of V at every call, so a product of few rows pays that for little work. So
# chunks of up to 64 samples, but at least two chunks from 32 samples on (two cores).
MOST_SAMPLES, FEWEST_SAMPLES = 64, 16


def chunk_count(m: int) -> int:
    """How many chunks a batch of m samples is cut into: the batch size alone decides
    (32 -> 2 of 16, 128 -> 2 of 64, 256 -> 4 of 64)."""
    per = min(MOST_SAMPLES, max(FEWEST_SAMPLES, m // 2))
    return max(1, m // per)


def _bounds(c: int, chunks: int, m: int) -> tuple[int, int]:
    return c * m // chunks, (c + 1) * m // chunks


# --------------------------------------------------------------------------- shared steps


@njit(**STEP)
def _shifted_rows(H, first, last, out):
    """out (s*T, u) <- H one step late: row (s, t) is H[s, t-1], zeros at t = 0."""
    T, u = H.shape[1], np.uint64(H.shape[2])
    row = 0
    for s in range(first, last):
        for k in range(u):
            out[row, k] = 0
        row += 1
        for t in range(1, T):
            for k in range(u):
                out[row, k] = H[s, t - 1, k]
            row += 1


@njit(**STEP)
def _row_sums(rows, out):
    """out += the sum of the rows of rows (r, k), in row order."""
    k = np.uint64(rows.shape[1])
    for q in range(rows.shape[0]):
        for j in range(k):
            out[j] += rows[q, j]


def _input_gradient(X, need_dX):
    """dX (every row written by its chunk), or None where a first layer needs none."""
    return buffers.empty(X.shape, X.dtype) if need_dX else None


def _weight_gradients(X, H, dZ, dP, first, last, dU, dV, db, dX, U):
    """The chunk's dU, dV, db (partial sums) and its rows of dX (unless dX is None: a
    first layer's), by BLAS (module docstring). Where dU and dV multiply the same rows
    (RNN, LSTM: dP is dZ) they are one product, [X_rows | Hprev_rows]^T @ dZ_rows: dU's
    own, with its n = 32 rows, ran at half BLAS's speed (W8, float32, one core: dU 2.4 ms
    and dV 10.1 apart, 10.8 ms as one)."""
    s, T, n = last - first, X.shape[1], X.shape[2]
    dZ_rows = dZ[first:last].reshape(s * T, -1)
    X_rows = X[first:last].reshape(s * T, n)
    if dP is None:
        rows = buffers.empty((s * T, n + H.shape[2]), H.dtype)
        rows[:, :n] = X_rows
        _shifted_rows(H, first, last, rows[:, n:])
        both = np.matmul(rows.T, dZ_rows)  # (n + u, G u): dU's rows, then dV's
        dU[...], dV[...] = both[:n], both[n:]
    else:
        np.matmul(X_rows.T, dZ_rows, out=dU)
        H_prev = buffers.empty((s * T, H.shape[2]), H.dtype)
        _shifted_rows(H, first, last, H_prev)
        np.matmul(H_prev.T, dP[first:last].reshape(s * T, -1), out=dV)
    _row_sums(dZ_rows, db)
    if dX is not None:
        np.matmul(dZ_rows, U.T, out=dX[first:last].reshape(s * T, -1))


def _partials(chunks, *shapes, dtype):
    return tuple(np.zeros((chunks, *shape), dtype=dtype) for shape in shapes)


def _summed(parts):
    """The partial sums added in chunk order (``chunks.add_up``, as the direct kernels')."""
    add_up(parts)
    return parts[0]


def _transposed(V):
    """V^T, contiguous: the backward's dh = dZ_t @ V^T runs 1.15-1.5x faster on it than on
    the view V.T (OpenBLAS, one core, (64 x 1024) @ (1024 x 256): float32 175 against 116
    GFLOP/s, float64 79 against 69), for one copy of V per call."""
    return np.ascontiguousarray(V.T)


def _prepared(X, *weights):
    X = np.ascontiguousarray(X)
    return (X, *(np.ascontiguousarray(w, dtype=X.dtype) for w in weights))


@njit(**INLINE)
def _add_and_activate(s, row, t, starts, u, Z, P, b, out, codes, E):
    """For each block of u values starting at ``starts`` in the row Z[s, t]: z = Z + b + P
    (P = h_{t-1} V, not read at t = 0), kept in Z, and out = f(z) by the block's code:
    gate by gate, each gate's code fixed for its loop (module docstring of recurrent.py)."""
    for start in starts:
        code = codes[start]
        for k in range(u):
            j = start + k
            z = Z[s, t, j] + b[j]
            if t > 0:
                z += P[row, j]
            Z[s, t, j] = z
            out[s, t, j] = activate(code, z, E)


# --------------------------------------------------------------------------- RNN


@njit(**STEP)
def _rnn_step_forward(t, first, last, Z, P, b, H, codes, K):
    """Z_t += b + P (P = h_{t-1} V; not read at t = 0), h_t = f(Z_t)."""
    u = np.uint64(H.shape[2])
    E = exp_constants(K)
    for s in range(first, last):
        _add_and_activate(s, s - first, t, (np.uint64(0),), u, Z, P, b, H, codes, E)  # one block: h_t


@njit(**STEP)
def _rnn_step_backward(t, first, last, dH, dh, Z, H, dZ, code, K):
    """dZ_t = (dH_t + dh) f'(Z_t), dh being what step t+1 sent (zeros at the last step)."""
    u = np.uint64(H.shape[2])
    zero, one = K[ZERO], K[ONE]
    for s in range(first, last):
        row = s - first
        for k in range(u):
            dZ[s, t, k] = (dH[s, t, k] + dh[row, k]) * derivative(code, Z[s, t, k], H[s, t, k], zero, one)


def rnn_forward(X, U, V, b, activation):
    """As ``nnxp.ops.recurrent.rnn_forward``: (H, Z)."""
    X, U, V, b = _prepared(X, U, V, b)
    (m, T, _), u = X.shape, V.shape[0]
    Z, H = buffers.empty((m, T, u), X.dtype), buffers.empty((m, T, u), X.dtype)
    K, codes, chunks = constants(X.dtype), row_codes(u, X.dtype, activation), chunk_count(m)

    def run(c):
        first, last = _bounds(c, chunks, m)
        np.matmul(X[first:last].reshape(-1, X.shape[2]), U, out=Z[first:last].reshape(-1, u))
        P = np.empty((last - first, u), dtype=X.dtype)
        for t in range(T):
            if t > 0:
                np.matmul(H[first:last, t - 1], V, out=P)
            _rnn_step_forward(t, first, last, Z, P, b, H, codes, K)

    workers.share(run, chunks)
    return H, Z


def rnn_backward(dH, X, U, V, H, Z, activation, need_dX=True):
    """As ``nnxp.ops.recurrent.rnn_backward``: (dX, dU, dV, db), dX None unless need_dX."""
    X, U, V, dH = _prepared(X, U, V, dH)
    (m, T, n), u = X.shape, V.shape[0]
    K, chunks = constants(X.dtype), chunk_count(m)
    dZ, dX = buffers.empty(Z.shape, X.dtype), _input_gradient(X, need_dX)
    dU, dV, db = _partials(chunks, U.shape, V.shape, (u,), dtype=X.dtype)

    V_T = _transposed(V)
    def run(c):
        first, last = _bounds(c, chunks, m)
        dh = np.zeros((last - first, u), dtype=X.dtype)
        for t in range(T - 1, -1, -1):
            _rnn_step_backward(t, first, last, dH, dh, Z, H, dZ, activation, K)
            if t > 0:
                np.matmul(dZ[first:last, t], V_T, out=dh)
        _weight_gradients(X, H, dZ, None, first, last, dU[c], dV[c], db[c], dX, U)

    workers.share(run, chunks)
    return dX, _summed(dU), _summed(dV), _summed(db)


# --------------------------------------------------------------------------- GRU


@njit(**STEP)
def _gru_step_forward(t, first, last, Z, P, b, bh, G, Hn, H, codes, K):
    """Gates r, z from Z_t + b + P; Hn = P_n + bh; Z_n += b_n + r Hn; n; h_t (P not read at t = 0)."""
    u = np.uint64(H.shape[2])
    zero, one = K[ZERO], K[ONE]
    E = exp_constants(K)
    z0, n0 = u, u + u
    code_n = codes[n0]
    for s in range(first, last):
        row = s - first
        _add_and_activate(s, row, t, (np.uint64(0), z0), u, Z, P, b, G, codes, E)  # r, z
        for k in range(u):
            hn = (P[row, n0 + k] if t > 0 else zero) + bh[k]
            Hn[s, t, k] = hn
            zn = (Z[s, t, n0 + k] + b[n0 + k]) + G[s, t, k] * hn
            Z[s, t, n0 + k] = zn
            n = activate(code_n, zn, E)
            update = G[s, t, z0 + k]
            h_prev = H[s, t - 1, k] if t > 0 else zero
            G[s, t, n0 + k] = n
            H[s, t, k] = (one - update) * n + update * h_prev


@njit(**STEP)
def _gru_step_backward(t, first, last, dH, dh, H, Z, G, Hn, dZ, dP, code_n, code_r, code_z, K):
    """dZ_t, dP_t from dh_t = dH_t + dh; leaves dh z (the direct path to h_{t-1}) in dh."""
    u = np.uint64(H.shape[2])
    zero, one = K[ZERO], K[ONE]
    z0, n0 = u, u + u
    for s in range(first, last):
        row = s - first
        for k in range(u):
            r, z, n = G[s, t, k], G[s, t, z0 + k], G[s, t, n0 + k]
            h_prev = H[s, t - 1, k] if t > 0 else zero
            d = dH[s, t, k] + dh[row, k]
            dz_n = d * (one - z) * derivative(code_n, Z[s, t, n0 + k], n, zero, one)
            dz_z = d * (h_prev - n) * derivative(code_z, Z[s, t, z0 + k], z, zero, one)
            dz_r = dz_n * Hn[s, t, k] * derivative(code_r, Z[s, t, k], r, zero, one)
            dZ[s, t, k], dZ[s, t, z0 + k], dZ[s, t, n0 + k] = dz_r, dz_z, dz_n
            dP[s, t, k], dP[s, t, z0 + k], dP[s, t, n0 + k] = dz_r, dz_z, dz_n * r
            dh[row, k] = d * z


def gru_forward(X, U, V, b, bh, activation, reset_gate, update_gate):
    """As ``nnxp.ops.recurrent.gru_forward``: (H, Z, G, Hn)."""
    X, U, V, b, bh = _prepared(X, U, V, b, bh)
    (m, T, _), u = X.shape, V.shape[0]
    Z, G = buffers.empty((m, T, 3 * u), X.dtype), buffers.empty((m, T, 3 * u), X.dtype)
    H, Hn = buffers.empty((m, T, u), X.dtype), buffers.empty((m, T, u), X.dtype)
    K, chunks = constants(X.dtype), chunk_count(m)
    codes = row_codes(u, X.dtype, reset_gate, update_gate, activation)

    def run(c):
        first, last = _bounds(c, chunks, m)
        np.matmul(X[first:last].reshape(-1, X.shape[2]), U, out=Z[first:last].reshape(-1, 3 * u))
        P = np.empty((last - first, 3 * u), dtype=X.dtype)
        for t in range(T):
            if t > 0:
                np.matmul(H[first:last, t - 1], V, out=P)
            _gru_step_forward(t, first, last, Z, P, b, bh, G, Hn, H, codes, K)

    workers.share(run, chunks)
    return H, Z, G, Hn


def gru_backward(dH, X, U, V, H, Z, G, Hn, activation, reset_gate, update_gate, need_dX=True):
    """As ``nnxp.ops.recurrent.gru_backward``: (dX, dU, dV, db, dbh), dX None unless need_dX."""
    X, U, V, dH = _prepared(X, U, V, dH)
    (m, T, n), u = X.shape, V.shape[0]
    K, chunks = constants(X.dtype), chunk_count(m)
    dZ, dP, dX = buffers.empty(Z.shape, X.dtype), buffers.empty(Z.shape, X.dtype), _input_gradient(X, need_dX)
    dU, dV, db, dbh = _partials(chunks, U.shape, V.shape, (3 * u,), (u,), dtype=X.dtype)

    V_T = _transposed(V)
    def run(c):
        first, last = _bounds(c, chunks, m)
        dh = np.zeros((last - first, u), dtype=X.dtype)
        through_V = np.empty_like(dh)
        for t in range(T - 1, -1, -1):
            _gru_step_backward(t, first, last, dH, dh, H, Z, G, Hn, dZ, dP, activation, reset_gate, update_gate, K)
            np.matmul(dP[first:last, t], V_T, out=through_V)
            dh += through_V
        _weight_gradients(X, H, dZ, dP, first, last, dU[c], dV[c], db[c], dX, U)
        _row_sums(dP[first:last, :, 2 * u:].reshape(-1, u), dbh[c])

    workers.share(run, chunks)
    return dX, _summed(dU), _summed(dV), _summed(db), _summed(dbh)


# --------------------------------------------------------------------------- LSTM


@njit(**STEP)
def _lstm_step_forward(t, first, last, Z, P, b, G, C, S, H, codes, code_c, K):
    """Z_t += b + P (P = h_{t-1} V; not read at t = 0); gates i, f, g, o; C_t, S_t, h_t."""
    u = np.uint64(H.shape[2])
    zero = K[ZERO]
    E = exp_constants(K)
    f0, g0, o0 = u, u + u, u + u + u
    for s in range(first, last):
        _add_and_activate(s, s - first, t, (np.uint64(0), f0, g0, o0), u, Z, P, b, G, codes, E)  # i, f, g, o
        lstm_state(s, t, C, S, H, G, code_c, E, zero, u)  # C_t, S_t, h_t, as recurrent.py


@njit(**STEP)
def _lstm_step_backward(t, first, last, dH, dh, dc, C, S, Z, G, dZ, code_c, code_g, code_i, code_f, code_o, K):
    """dZ_t from dh_t = dH_t + dh and the cell's dc (both from step t+1); dc <- dC_t f."""
    u = np.uint64(C.shape[2])
    zero, one = K[ZERO], K[ONE]
    for s in range(first, last):
        C_before = C[s, t - 1] if t > 0 else None
        lstm_cell_backward(dH[s, t], dh[s - first], dc[s - first], C[s, t], C_before, S[s, t], Z[s, t], G[s, t],
                           dZ[s, t], code_c, code_g, code_i, code_f, code_o, zero, one, u)  # as recurrent.py


def lstm_forward(X, U, V, b, activation, candidate_activation, input_gate, forget_gate, output_gate):
    """As ``nnxp.ops.recurrent.lstm_forward``: (H, C, S, Z, G)."""
    X, U, V, b = _prepared(X, U, V, b)
    (m, T, _), u = X.shape, V.shape[0]
    Z, G = buffers.empty((m, T, 4 * u), X.dtype), buffers.empty((m, T, 4 * u), X.dtype)
    H, C, S = (buffers.empty((m, T, u), X.dtype) for _ in range(3))
    K, chunks = constants(X.dtype), chunk_count(m)
    codes = row_codes(u, X.dtype, input_gate, forget_gate, candidate_activation, output_gate)

    def run(c):
        first, last = _bounds(c, chunks, m)
        np.matmul(X[first:last].reshape(-1, X.shape[2]), U, out=Z[first:last].reshape(-1, 4 * u))
        P = np.empty((last - first, 4 * u), dtype=X.dtype)
        for t in range(T):
            if t > 0:
                np.matmul(H[first:last, t - 1], V, out=P)
            _lstm_step_forward(t, first, last, Z, P, b, G, C, S, H, codes, activation, K)

    workers.share(run, chunks)
    return H, C, S, Z, G


def lstm_backward(dH, X, U, V, H, C, S, Z, G, activation, candidate_activation, input_gate, forget_gate,
                  output_gate, need_dX=True):
    """As ``nnxp.ops.recurrent.lstm_backward``: (dX, dU, dV, db), dX None unless need_dX."""
    X, U, V, dH = _prepared(X, U, V, dH)
    (m, T, n), u = X.shape, V.shape[0]
    K, chunks = constants(X.dtype), chunk_count(m)
    dZ, dX = buffers.empty(Z.shape, X.dtype), _input_gradient(X, need_dX)
    dU, dV, db = _partials(chunks, U.shape, V.shape, (4 * u,), dtype=X.dtype)
    codes = (activation, candidate_activation, input_gate, forget_gate, output_gate)

    V_T = _transposed(V)
    def run(c):
        first, last = _bounds(c, chunks, m)
        dh, dc = np.zeros((last - first, u), dtype=X.dtype), np.zeros((last - first, u), dtype=X.dtype)
        for t in range(T - 1, -1, -1):
            _lstm_step_backward(t, first, last, dH, dh, dc, C, S, Z, G, dZ, *codes, K)
            if t > 0:
                np.matmul(dZ[first:last, t], V_T, out=dh)
        _weight_gradients(X, H, dZ, None, first, last, dU[c], dV[c], db[c], dX, U)

    workers.share(run, chunks)
    return dX, _summed(dU), _summed(dV), _summed(db)
