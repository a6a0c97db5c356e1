"""Recurrent layers on the GPU: one fused element-wise kernel per time step.

``nnxp.ops.recurrent`` runs the time loop and the matrix products (cuBLAS, through
CuPy): the input side ``X @ U + b`` of every step as one product before the loop, and
in the loop ``P = h_{t-1} @ V`` going forward, ``dZ_t @ V^T`` going back. Everything
element-wise in a step (every gate's activation, the cell update, the new state, and
going back every gate's derivative) is ONE kernel here: a step reads and writes each
value once, instead of once per array operation. The functions have the names and
the arguments of the reference step functions in ``nnxp.ops.recurrent`` (read them
for the maths), then the outputs the op allocated, then the activation codes in
place of the activations.

One thread per (sample, unit): the thread of unit k handles the value of k in every
gate (columns k, u + k, ... of the gate rows), so neighbouring threads touch
neighbouring columns and every access coalesces. Rows of a step may be strided views
into (m, T, G*u) arrays: the kernels index them as they are.

Activations come as the codes of ``RECURRENT_ACTIVATIONS`` (those of the CPU
kernels); the op keeps the reference step for any other. The formulas are the
reference's (stable sigmoid from exp(-|z|), the library's tanh), and every constant
takes the dtype of the data (``dtype.type(1)``): float32 stays float32.
"""

from __future__ import annotations

import math

from numba import cuda

from .launch import launch

IDENTITY, SIGMOID, TANH, RELU, SOFTSIGN = 0, 1, 2, 3, 4
RECURRENT_ACTIVATIONS = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU,
                         "softsign": SOFTSIGN}


# --------------------------------------------------------------------------- launchers


def rnn_step_forward(XU_t, P, Z, h, activation):
    """Z = XU_t + P and h = f(Z), each (m, u)."""
    launch(_rnn_forward, h.size)(XU_t, P, Z, h, activation)


def rnn_step_backward(dH_t, dh_next, Z, h, dZ, activation):
    """dZ = (dH_t + dh_next) f'(Z), (m, u)."""
    launch(_rnn_backward, dZ.size)(dH_t, dh_next, Z, h, dZ, activation)


def gru_step_forward(XU_t, P, h_prev, bh, Z, A, Hn, h, activation, reset_gate, update_gate):
    """Z, A (m, 3u) = [Z_r|Z_z|Z_n], [r|z|n]; Hn, h (m, u)."""
    launch(_gru_forward, h.size)(XU_t, P, h_prev, bh, Z, A, Hn, h, activation, reset_gate, update_gate)


def gru_step_backward(dH_t, dh_next, h_prev, Z, A, Hn, dZ, dP, dh_direct, activation, reset_gate, update_gate):
    """dZ, dP (m, 3u) = [dZ_r|dZ_z|dZ_n], [dZ_r|dZ_z|dHn]; dh_direct = dh z (m, u)."""
    launch(_gru_backward, dh_direct.size)(dH_t, dh_next, h_prev, Z, A, Hn, dZ, dP, dh_direct,
                                          activation, reset_gate, update_gate)


def lstm_step_forward(XU_t, P, c_prev, Z, A, c, s, h, activation, candidate_activation, input_gate, forget_gate,
                      output_gate):
    """Z, A (m, 4u) = [Z_i|Z_f|Z_g|Z_o], [i|f|g|o]; c, s, h (m, u)."""
    launch(_lstm_forward, h.size)(XU_t, P, c_prev, Z, A, c, s, h, activation, candidate_activation, input_gate,
                                  forget_gate, output_gate)


def lstm_step_backward(dH_t, dh_next, dc_next, c_prev, c, s, Z, A, dZ, dc_prev, activation, candidate_activation,
                       input_gate, forget_gate, output_gate):
    """dZ (m, 4u) = [dZ_i|dZ_f|dZ_g|dZ_o]; dc_prev = dL/dC_{t-1} through the cell (m, u)."""
    launch(_lstm_backward, dc_prev.size)(dH_t, dh_next, dc_next, c_prev, c, s, Z, A, dZ, dc_prev, activation,
                                         candidate_activation, input_gate, forget_gate, output_gate)


# --------------------------------------------------------------------------- activations
# The reference formulas (nnxp.activations), chosen by code. ``one`` and ``zero``
# carry the dtype of the data.


@cuda.jit(device=True)
def _activate(code, z, one, zero):
    """f(z)."""
    if code == SIGMOID:
        e = math.exp(-abs(z))  # never overflows
        return one / (one + e) if z >= zero else e / (one + e)
    if code == TANH:
        return math.tanh(z)
    if code == RELU:
        return zero if z <= zero else z  # (NaN stays NaN, as with maximum)
    if code == SOFTSIGN:
        return z / (one + abs(z))
    return z


@cuda.jit(device=True)
def _backward(code, d, z, a, one, zero):
    """d f'(z), from z and a = f(z) as the reference's ``backward(dA, Z, A)``."""
    if code == SIGMOID:
        return d * a * (one - a)
    if code == TANH:
        return d * (one - a * a)
    if code == RELU:
        return d * (one if z > zero else zero)
    if code == SOFTSIGN:
        denominator = one + abs(z)
        return d / denominator / denominator
    return d


# --------------------------------------------------------------------------- RNN


@cuda.jit(cache=True)
def _rnn_forward(XU_t, P, Z, h, code):
    e = cuda.grid(1)
    m, u = h.shape
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = h.dtype.type(1), h.dtype.type(0)
    z = XU_t[n, k] + P[n, k]
    Z[n, k] = z
    h[n, k] = _activate(code, z, one, zero)


@cuda.jit(cache=True)
def _rnn_backward(dH_t, dh_next, Z, h, dZ, code):
    e = cuda.grid(1)
    m, u = dZ.shape
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = dZ.dtype.type(1), dZ.dtype.type(0)
    dZ[n, k] = _backward(code, dH_t[n, k] + dh_next[n, k], Z[n, k], h[n, k], one, zero)


# --------------------------------------------------------------------------- GRU


@cuda.jit(cache=True)
def _gru_forward(XU_t, P, h_prev, bh, Z, A, Hn, h, code_n, code_r, code_z):
    e = cuda.grid(1)
    m, u = h.shape
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = h.dtype.type(1), h.dtype.type(0)
    z_r = XU_t[n, k] + P[n, k]
    z_z = XU_t[n, u + k] + P[n, u + k]
    r = _activate(code_r, z_r, one, zero)
    z = _activate(code_z, z_z, one, zero)
    hn = P[n, 2 * u + k] + bh[k]  # the candidate's recurrent part, before the reset gate
    z_n = XU_t[n, 2 * u + k] + r * hn
    candidate = _activate(code_n, z_n, one, zero)
    Z[n, k], Z[n, u + k], Z[n, 2 * u + k] = z_r, z_z, z_n
    A[n, k], A[n, u + k], A[n, 2 * u + k] = r, z, candidate
    Hn[n, k] = hn
    h[n, k] = (one - z) * candidate + z * h_prev[n, k]


@cuda.jit(cache=True)
def _gru_backward(dH_t, dh_next, h_prev, Z, A, Hn, dZ, dP, dh_direct, code_n, code_r, code_z):
    e = cuda.grid(1)
    m, u = dh_direct.shape
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = dh_direct.dtype.type(1), dh_direct.dtype.type(0)
    r, z, candidate = A[n, k], A[n, u + k], A[n, 2 * u + k]
    dh = dH_t[n, k] + dh_next[n, k]
    dz_n = _backward(code_n, dh * (one - z), Z[n, 2 * u + k], candidate, one, zero)
    dhn = dz_n * r
    dz_r = _backward(code_r, dz_n * Hn[n, k], Z[n, k], r, one, zero)
    dz_z = _backward(code_z, dh * (h_prev[n, k] - candidate), Z[n, u + k], z, one, zero)
    dZ[n, k], dZ[n, u + k], dZ[n, 2 * u + k] = dz_r, dz_z, dz_n
    dP[n, k], dP[n, u + k], dP[n, 2 * u + k] = dz_r, dz_z, dhn
    dh_direct[n, k] = dh * z


# --------------------------------------------------------------------------- LSTM


@cuda.jit(cache=True)
def _lstm_forward(XU_t, P, c_prev, Z, A, c, s, h, code_c, code_g, code_i, code_f, code_o):
    e = cuda.grid(1)
    m, u = h.shape
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = h.dtype.type(1), h.dtype.type(0)
    z_i = XU_t[n, k] + P[n, k]
    z_f = XU_t[n, u + k] + P[n, u + k]
    z_g = XU_t[n, 2 * u + k] + P[n, 2 * u + k]
    z_o = XU_t[n, 3 * u + k] + P[n, 3 * u + k]
    i = _activate(code_i, z_i, one, zero)
    f = _activate(code_f, z_f, one, zero)
    g = _activate(code_g, z_g, one, zero)
    o = _activate(code_o, z_o, one, zero)
    cell = f * c_prev[n, k] + i * g
    shown = _activate(code_c, cell, one, zero)
    Z[n, k], Z[n, u + k], Z[n, 2 * u + k], Z[n, 3 * u + k] = z_i, z_f, z_g, z_o
    A[n, k], A[n, u + k], A[n, 2 * u + k], A[n, 3 * u + k] = i, f, g, o
    c[n, k] = cell
    s[n, k] = shown
    h[n, k] = o * shown


@cuda.jit(cache=True)
def _lstm_backward(dH_t, dh_next, dc_next, c_prev, c, s, Z, A, dZ, dc_prev, code_c, code_g, code_i, code_f, code_o):
    e = cuda.grid(1)
    m, u = dc_prev.shape
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = dc_prev.dtype.type(1), dc_prev.dtype.type(0)
    i, f, g, o = A[n, k], A[n, u + k], A[n, 2 * u + k], A[n, 3 * u + k]
    dh = dH_t[n, k] + dh_next[n, k]
    dc = dc_next[n, k] + _backward(code_c, dh * o, c[n, k], s[n, k], one, zero)  # the whole dL/dC_t
    dZ[n, k] = _backward(code_i, dc * g, Z[n, k], i, one, zero)
    dZ[n, u + k] = _backward(code_f, dc * c_prev[n, k], Z[n, u + k], f, one, zero)
    dZ[n, 2 * u + k] = _backward(code_g, dc * i, Z[n, 2 * u + k], g, one, zero)
    dZ[n, 3 * u + k] = _backward(code_o, dh * s[n, k], Z[n, 3 * u + k], o, one, zero)
    dc_prev[n, k] = dc * f
