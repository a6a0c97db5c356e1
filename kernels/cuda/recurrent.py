"""Recurrent layers on the GPU: one fused element-wise kernel per time step.

``nnxp.ops.recurrent`` runs the time loop and the matrix products (cuBLAS, through
CuPy): the input side ``X @ U + b`` of every step as one product before the loop, and
in the loop ``P = h_{t-1} @ V`` going forward, ``dZ_t @ V^T`` going back. Everything
element-wise in a step (every gate's activation, the cell update, the new state, and
going back every gate's derivative) is ONE kernel here: a step reads and writes each
value once, instead of once per array operation. The functions have the names of the
reference step functions in ``nnxp.ops.recurrent`` (read them for the maths).

Launched once per step, these kernels cost far more on the host than on the device:
numba-cuda converts every CuPy argument of a launch through DLPack (~30 us each on an
H100), and a launch with ten fresh per-step views cost ~300 us for a few microseconds
of GPU work. So a step kernel never gets per-step arrays. It takes the WHOLE sequence
buffers, (m, T, k) arrays that the op allocated once, and the step index ``t``; each
function below is called ONCE per op call with those buffers and the activation codes,
converts every buffer once into a Numba device array (``launch.device_array``: a view,
no copy), configures the launch once, and returns ``step(t)``, which launches the
kernel on step t with the same objects (~93 us for 8 device arrays, see launch.py).

What a step needs from the step before comes from the buffers: the previous state is
step t-1 of H (or C), zero at t = 0. The rest lives in small (m, u) or (m, gates*u) buffers
that the op and the kernels update in place between launches, all on one stream, so in
order: P (the op copies h_{t-1} V into it before each forward step), and going back
dh_next (what step t+1 sends to h_t) and, for the LSTM, dc (what it sends to C_t).
A kernel that reads and rewrites such a buffer does it in place: the thread of one
value reads it and then writes it, and no other thread touches it.

One thread per (sample, unit): the thread of unit k handles the value of k in every
gate (columns k, u + k, ... of the gate rows), so neighbouring threads touch
neighbouring columns and every access coalesces. Buffers may be strided views (dH from
the layer above): the kernels index them as they are.

Activations come as the codes of ``RECURRENT_ACTIVATIONS`` (``kernels/activation_codes.py``,
shared with the CPU kernels); the op keeps the reference step for any other. The formulas are the
reference's (stable sigmoid from exp(-|z|), the library's tanh), and every constant
takes the dtype of the data (``dtype.type(1)``): float32 stays float32.
"""

from __future__ import annotations

import math

from numba import cuda

from ..activation_codes import RECURRENT_ACTIVATIONS  # noqa: F401  (the codes these kernels take)
from ..activation_codes import RELU, SIGMOID, SOFTSIGN, TANH
from ..cache import cuda_cached
from .launch import device_array, launch


# --------------------------------------------------------------------------- launchers
# Shapes: m samples, T steps, u units; the gate buffers have gates*u columns, [gate 1 | ...].
# Each returns step(t); the kernel fills step t of the buffers named as outputs.


def _steps(kernel, states, buffers, codes):
    """step(t): ``kernel`` launched on step t of ``buffers``, one thread per (sample, unit)
    of ``states`` (m, T, u). The conversions and the launch configuration are made here,
    once; each step then pays only its launch."""
    views = tuple(device_array(buffer) for buffer in buffers)
    configured = launch(kernel, states.shape[0] * states.shape[2])
    return lambda t: configured(*views, t, *codes)


def rnn_step_forward(XU, P, Z, H, activation):
    """Step t: Z[:, t] = XU[:, t] + P and H[:, t] = f(Z[:, t]). XU, Z, H (m, T, u); P (m, u)."""
    return _steps(_rnn_forward, H, (XU, P, Z, H), (activation,))


def rnn_step_backward(dH, dh_next, Z, H, dZ, activation):
    """Step t: dZ[:, t] = (dH[:, t] + dh_next) f'(Z[:, t]). dH, Z, H, dZ (m, T, u); dh_next (m, u),
    which the op sets to dZ_t V^T before step t-1."""
    return _steps(_rnn_backward, H, (dH, dh_next, Z, H, dZ), (activation,))


def gru_step_forward(XU, P, bh, Z, G, Hn, H, activation, reset_gate, update_gate):
    """Step t of Z, G (m, T, 3u) = [Z_r|Z_z|Z_n], [r|z|n], and Hn, H (m, T, u); XU (m, T, 3u),
    P = h_{t-1} V (m, 3u), bh (u,)."""
    return _steps(_gru_forward, H, (XU, P, bh, Z, G, Hn, H),
                  (activation, reset_gate, update_gate))


def gru_step_backward(dH, dh_next, H, Z, G, Hn, dZ, dP, activation, reset_gate, update_gate):
    """Step t of dZ, dP (m, T, 3u) = [dZ_r|dZ_z|dZ_n], [dZ_r|dZ_z|dHn]. dh_next (m, u): read as
    what step t+1 sends to h_t, then overwritten with dh z, the direct part of dh_{t-1}
    (the op adds dP_t V^T before step t-1)."""
    return _steps(_gru_backward, H, (dH, dh_next, H, Z, G, Hn, dZ, dP),
                  (activation, reset_gate, update_gate))


def lstm_step_forward(XU, P, Z, G, C, S, H, activation, candidate_activation, input_gate, forget_gate,
                      output_gate):
    """Step t of Z, G (m, T, 4u) = [Z_i|Z_f|Z_g|Z_o], [i|f|g|o], and C, S, H (m, T, u); XU (m, T, 4u),
    P = h_{t-1} V (m, 4u)."""
    return _steps(_lstm_forward, H, (XU, P, Z, G, C, S, H),
                  (activation, candidate_activation, input_gate, forget_gate, output_gate))


def lstm_step_backward(dH, dh_next, dc, C, S, Z, G, dZ, activation, candidate_activation, input_gate,
                       forget_gate, output_gate):
    """Step t of dZ (m, T, 4u) = [dZ_i|dZ_f|dZ_g|dZ_o]. dh_next (m, u): what step t+1 sends to h_t
    (the op sets it to dZ_t V^T before step t-1). dc (m, u): read as dL/dC_t from step t+1,
    overwritten with dL/dC_{t-1} through the cell."""
    return _steps(_lstm_backward, C, (dH, dh_next, dc, C, S, Z, G, dZ),
                  (activation, candidate_activation, input_gate, forget_gate, output_gate))


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


# --------------------------------------------------------------------------- kernels
# Each thread: sample n, unit k, at step t. ``previous`` reads step t-1 of a state
# buffer, zero before the first step (the initial state).


@cuda.jit(device=True)
def _previous(states, n, t, k, zero):
    """states[n, t-1, k], or zero at t = 0."""
    return states[n, t - 1, k] if t > 0 else zero


# --------------------------------------------------------------------------- RNN


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _rnn_forward(XU, P, Z, H, t, code):
    e = cuda.grid(1)
    m, u = H.shape[0], H.shape[2]
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = H.dtype.type(1), H.dtype.type(0)
    z = XU[n, t, k] + P[n, k]
    Z[n, t, k] = z
    H[n, t, k] = _activate(code, z, one, zero)


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _rnn_backward(dH, dh_next, Z, H, dZ, t, code):
    e = cuda.grid(1)
    m, u = dZ.shape[0], dZ.shape[2]
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = dZ.dtype.type(1), dZ.dtype.type(0)
    dZ[n, t, k] = _backward(code, dH[n, t, k] + dh_next[n, k], Z[n, t, k], H[n, t, k], one, zero)


# --------------------------------------------------------------------------- GRU


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _gru_forward(XU, P, bh, Z, G, Hn, H, t, code_n, code_r, code_z):
    e = cuda.grid(1)
    m, u = H.shape[0], H.shape[2]
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = H.dtype.type(1), H.dtype.type(0)
    z_r = XU[n, t, k] + P[n, k]
    z_z = XU[n, t, u + k] + P[n, u + k]
    r = _activate(code_r, z_r, one, zero)
    z = _activate(code_z, z_z, one, zero)
    hn = P[n, 2 * u + k] + bh[k]  # the candidate's recurrent part, before the reset gate
    z_n = XU[n, t, 2 * u + k] + r * hn
    candidate = _activate(code_n, z_n, one, zero)
    Z[n, t, k], Z[n, t, u + k], Z[n, t, 2 * u + k] = z_r, z_z, z_n
    G[n, t, k], G[n, t, u + k], G[n, t, 2 * u + k] = r, z, candidate
    Hn[n, t, k] = hn
    H[n, t, k] = (one - z) * candidate + z * _previous(H, n, t, k, zero)


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _gru_backward(dH, dh_next, H, Z, G, Hn, dZ, dP, t, code_n, code_r, code_z):
    e = cuda.grid(1)
    m, u = H.shape[0], H.shape[2]
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = H.dtype.type(1), H.dtype.type(0)
    r, z, candidate = G[n, t, k], G[n, t, u + k], G[n, t, 2 * u + k]
    dh = dH[n, t, k] + dh_next[n, k]
    dz_n = _backward(code_n, dh * (one - z), Z[n, t, 2 * u + k], candidate, one, zero)
    dhn = dz_n * r
    dz_r = _backward(code_r, dz_n * Hn[n, t, k], Z[n, t, k], r, one, zero)
    dz_z = _backward(code_z, dh * (_previous(H, n, t, k, zero) - candidate), Z[n, t, u + k], z, one, zero)
    dZ[n, t, k], dZ[n, t, u + k], dZ[n, t, 2 * u + k] = dz_r, dz_z, dz_n
    dP[n, t, k], dP[n, t, u + k], dP[n, t, 2 * u + k] = dz_r, dz_z, dhn
    dh_next[n, k] = dh * z  # in place: the direct part of dh_{t-1}


# --------------------------------------------------------------------------- LSTM


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _lstm_forward(XU, P, Z, G, C, S, H, t, code_c, code_g, code_i, code_f, code_o):
    e = cuda.grid(1)
    m, u = H.shape[0], H.shape[2]
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = H.dtype.type(1), H.dtype.type(0)
    z_i = XU[n, t, k] + P[n, k]
    z_f = XU[n, t, u + k] + P[n, u + k]
    z_g = XU[n, t, 2 * u + k] + P[n, 2 * u + k]
    z_o = XU[n, t, 3 * u + k] + P[n, 3 * u + k]
    i = _activate(code_i, z_i, one, zero)
    f = _activate(code_f, z_f, one, zero)
    g = _activate(code_g, z_g, one, zero)
    o = _activate(code_o, z_o, one, zero)
    cell = f * _previous(C, n, t, k, zero) + i * g
    shown = _activate(code_c, cell, one, zero)
    Z[n, t, k], Z[n, t, u + k], Z[n, t, 2 * u + k], Z[n, t, 3 * u + k] = z_i, z_f, z_g, z_o
    G[n, t, k], G[n, t, u + k], G[n, t, 2 * u + k], G[n, t, 3 * u + k] = i, f, g, o
    C[n, t, k] = cell
    S[n, t, k] = shown
    H[n, t, k] = o * shown


@cuda_cached  # in nnxp's cache folder, never the package (kernels/cache.py)
@cuda.jit
def _lstm_backward(dH, dh_next, dc, C, S, Z, G, dZ, t, code_c, code_g, code_i, code_f, code_o):
    e = cuda.grid(1)
    m, u = C.shape[0], C.shape[2]
    if e >= m * u:
        return
    n, k = e // u, e % u
    one, zero = C.dtype.type(1), C.dtype.type(0)
    i, f, g, o = G[n, t, k], G[n, t, u + k], G[n, t, 2 * u + k], G[n, t, 3 * u + k]
    dh = dH[n, t, k] + dh_next[n, k]
    dcell = dc[n, k] + _backward(code_c, dh * o, C[n, t, k], S[n, t, k], one, zero)  # the whole dL/dC_t
    dZ[n, t, k] = _backward(code_i, dcell * g, Z[n, t, k], i, one, zero)
    dZ[n, t, u + k] = _backward(code_f, dcell * _previous(C, n, t, k, zero), Z[n, t, u + k], f, one, zero)
    dZ[n, t, 2 * u + k] = _backward(code_g, dcell * i, Z[n, t, 2 * u + k], g, one, zero)
    dZ[n, t, 3 * u + k] = _backward(code_o, dh * S[n, t, k], Z[n, t, 3 * u + k], o, one, zero)
    dc[n, k] = dcell * f  # in place: dL/dC_{t-1} through the cell
