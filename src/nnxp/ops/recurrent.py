"""Recurrent loops over a whole sequence: RNN, GRU and LSTM, forward and backward.

Shapes: X (m, T, n) holds m sequences of T steps with n features; u is the number of
units, and each family has its number of gates (RNN 1, GRU 3, LSTM 4). The weights of
all gates sit side by side, so that ONE matrix product gives every gate of a step::

    U (n, gates*u)   input weights          columns [gate 1 | gate 2 | ...]
    V (u, gates*u)   recurrent weights
    b (gates*u,)     bias

The key to speed: the input side ``X @ U + b`` does not depend on the previous state,
so it is computed for all steps at once, before the time loop, as one big product.
Inside the loop only ``h @ V`` remains. Going back, the gradients of the gate
pre-activations dZ of every step are collected first; then dU, dV, db and dX are each
one big product after the loop (``sequences.py``)::

    dU = X^T dZ     dV = H_prev^T dZ     db = sum(dZ)     dX = dZ U^T

(summing over samples and steps; H_prev is H shifted one step, starting from zeros).
The initial state h_0 (and C_0) is zero. A first layer's dX feeds nothing: with
``need_dX=False`` the backward skips its product and returns None in its place.

The names of the arrays are the layers' (``fc``): Z the gate pre-activations of every
step, G the gate values (the activations of Z), H every hidden state, C (LSTM) every
cell state. Each op returns what its backward needs (its "caches") and takes the
gradient dH of EVERY step's hidden state: a layer that outputs only the last state
passes zeros for the other steps. Backward never changes its inputs, so it can be
called twice.

Equations are PyTorch's (``torch.nn.RNN``, ``torch.nn.GRU``, ``torch.nn.LSTM``), with
each activation replaceable; sigma is the gate activation (sigmoid by default). Each
family's step functions number its equations in their docstrings, and the lines of
code that compute them carry the same numbers: ``# (2)`` is equation (2).

The reference code below uses only Array API standard functions, so it runs on every
backend. Each op is a time loop around a small STEP function that does a step's
element-wise work (activations, cell update, and going back the gate derivatives):
``rnn_step_forward`` and friends; the products with V stay in the loop. With the
``numba`` kernel mode, and kernels that support every activation asked for
(``nnxp.ops.kernels_for``):

* on the CPU the whole call goes to the kernel of the same name, which runs whole
  sequences (``nnxp.kernels.cpu``);
* on the GPU the same time loop runs (``recurrent_gpu.py``), each step's product on
  cuBLAS and its element-wise work in ONE fused CUDA kernel, the step function's
  namesake in ``nnxp.kernels.cuda``: one kernel launch per step instead of one per
  array operation.

For any other activation the reference code runs instead (a fallback by design, not
an error).
"""

from __future__ import annotations

from ..backend import array_namespace

from . import kernels_for, recurrent_gpu, sum_rows
from .sequences import input_gradient, parameter_gradients, rows, shifted


# --------------------------------------------------------------------------- RNN


def rnn_step_forward(XU_t, P, activation):
    """One step forward, (Z_t, h_t), given its input side XU_t = x_t U + b and P = h_{t-1} V::

        (1) Z_t = x_t U + h_{t-1} V + b            (m, u)
        (2) h_t = f(Z_t)
    """
    Z = XU_t + P  # (1)
    return Z, activation(Z)  # (2)


def rnn_step_backward(dH_t, dh_next, Z, h, activation):
    """One step back, dZ_t, given dH_t from above and dh_next from step t+1::

        (3) dh_t = dH_t + dh_next                  what reaches h_t: from above, from step t+1
        (4) dZ_t = dh_t * f'(Z_t)
        (5) dh_next = dZ_t V^T                     what step t sends to h_{t-1} (in the loop)
    """
    return activation.backward(dH_t + dh_next, Z, h)  # (3), (4)


def rnn_forward(X, U, V, b, activation, kernel_mode: str = "reference"):
    """Every hidden state H (m, T, u) and the pre-activations Z (m, T, u)."""
    kernels = kernels_for(kernel_mode, X, (activation,))
    if kernels.whole_op:
        return kernels.run("rnn_forward", X, U, V, b)
    if kernels.on_device:
        return recurrent_gpu.rnn_forward(kernels, X, U, V, b)
    xp = array_namespace(X)
    XU = X @ U + b  # the input side of (1) for every step, in one product
    h = xp.zeros_like(XU[:, 0, :])
    Z_steps, H_steps = [], []
    for t in range(X.shape[1]):
        Z, h = rnn_step_forward(XU[:, t, :], h @ V, activation)  # (1), (2)
        Z_steps.append(Z)
        H_steps.append(h)
    return xp.stack(H_steps, axis=1), xp.stack(Z_steps, axis=1)


def rnn_backward(dH, X, U, V, H, Z, activation, need_dX: bool = True, kernel_mode: str = "reference"):
    """(dX, dU, dV, db) given dH (m, T, u), the gradient of every hidden state::

        (6) dX = dZ U^T      dU = X^T dZ      dV = H_prev^T dZ      db = sum(dZ)
    """
    kernels = kernels_for(kernel_mode, X, (activation,))
    if kernels.whole_op:
        return kernels.run("rnn_backward", dH, X, U, V, H, Z, need_dX=need_dX)
    if kernels.on_device:
        return recurrent_gpu.rnn_backward(kernels, dH, X, U, V, H, Z, need_dX)
    xp = array_namespace(X)
    V_T = xp.matrix_transpose(V)
    dh_next = xp.zeros_like(dH[:, 0, :])
    dZ_steps = [None] * X.shape[1]
    for t in reversed(range(X.shape[1])):
        dZ = rnn_step_backward(dH[:, t, :], dh_next, Z[:, t, :], H[:, t, :], activation)  # (3), (4)
        dh_next = dZ @ V_T  # (5)
        dZ_steps[t] = dZ
    dZ = xp.stack(dZ_steps, axis=1)
    return (input_gradient(dZ, U, need_dX), *parameter_gradients(X, H, dZ))  # (6)


# --------------------------------------------------------------------------- GRU
# Gate order r (reset), z (update), n (candidate). b holds b_ir + b_hr, b_iz + b_hz and
# b_in; bh is b_hn, the recurrent bias of the candidate, which sits inside the reset
# gate (PyTorch's form: the reset gate is applied after the recurrent product).


def gru_step_forward(XU_t, P, h_prev, bh, activation, reset_gate, update_gate):
    """One step, given XU_t = x_t U + b, P = h_{t-1} V = [P_r | P_z | P_n] and h_{t-1}:
    (Z_t, G_t, Hn_t, h_t), with Z_t = [Z_r|Z_z|Z_n] and G_t = [r|z|n], (m, 3u)::

        (1) r_t  = sigma_r(x_t U_r + b_r + P_r)
        (2) z_t  = sigma_z(x_t U_z + b_z + P_z)
        (3) Hn_t = P_n + bh                          the candidate's recurrent part
        (4) n_t  = f(x_t U_n + b_n + r_t * Hn_t)     the reset gate acts AFTER the product
        (5) h_t  = (1 - z_t) * n_t + z_t * h_{t-1}
    """
    xp = array_namespace(P)
    u = h_prev.shape[1]
    Z_r = XU_t[:, :u] + P[:, :u]
    Z_z = XU_t[:, u:2 * u] + P[:, u:2 * u]
    r, z = reset_gate(Z_r), update_gate(Z_z)  # (1), (2)
    Hn = P[:, 2 * u:] + bh  # (3)
    Z_n = XU_t[:, 2 * u:] + r * Hn
    n = activation(Z_n)  # (4)
    h = (1 - z) * n + z * h_prev  # (5)
    return xp.concat([Z_r, Z_z, Z_n], axis=-1), xp.concat([r, z, n], axis=-1), Hn, h


def gru_step_backward(dH_t, dh_next, h_prev, Z, G, Hn, activation, reset_gate, update_gate):
    """One step back: (dZ_t, dP_t, dh z), with dh_t = dH_t + dh_next (from above and from
    step t+1)::

        (6) dZ_n = dh (1 - z) f'(Z_n)               dZ_z = dh (h_{t-1} - n) sigma_z'
        (7) dHn  = dZ_n r                           dZ_r = dZ_n Hn sigma_r'
        (8) input side dZ_t = [dZ_r | dZ_z | dZ_n], recurrent side dP_t = [dZ_r | dZ_z | dHn]
        (9) dh_{t-1} = dh z + dP_t V^T              (dh z returned; dP_t V^T in the loop)
    """
    xp = array_namespace(dh_next)
    u = h_prev.shape[1]
    dh = dH_t + dh_next
    r, z, n = G[:, :u], G[:, u:2 * u], G[:, 2 * u:]
    dZ_n = activation.backward(dh * (1 - z), Z[:, 2 * u:], n)  # (6)
    dHn = dZ_n * r  # (7)
    dZ_r = reset_gate.backward(dZ_n * Hn, Z[:, :u], r)  # (7)
    dZ_z = update_gate.backward(dh * (h_prev - n), Z[:, u:2 * u], z)  # (6)
    return xp.concat([dZ_r, dZ_z, dZ_n], axis=-1), xp.concat([dZ_r, dZ_z, dHn], axis=-1), dh * z  # (8), (9)


def gru_forward(X, U, V, b, bh, activation, reset_gate, update_gate, kernel_mode: str = "reference"):
    """H (m, T, u); Z (m, T, 3u) gate pre-activations; G (m, T, 3u) gate values [r|z|n];
    Hn (m, T, u) the candidate's recurrent part."""
    activations = (activation, reset_gate, update_gate)
    kernels = kernels_for(kernel_mode, X, activations)
    if kernels.whole_op:
        return kernels.run("gru_forward", X, U, V, b, bh)
    if kernels.on_device:
        return recurrent_gpu.gru_forward(kernels, X, U, V, b, bh)
    xp = array_namespace(X)
    u = V.shape[0]
    XU = X @ U + b  # the input sides of (1), (2), (4) for every step, in one product
    h = xp.zeros_like(XU[:, 0, :u])
    steps = {"H": [], "Z": [], "G": [], "Hn": []}
    for t in range(X.shape[1]):
        Z, G, Hn, h = gru_step_forward(XU[:, t, :], h @ V, h, bh, *activations)  # (1) - (5)
        for key, value in zip(("Z", "G", "Hn", "H"), (Z, G, Hn, h)):
            steps[key].append(value)
    return tuple(xp.stack(steps[key], axis=1) for key in ("H", "Z", "G", "Hn"))


def gru_backward(dH, X, U, V, H, Z, G, Hn, activation, reset_gate, update_gate, need_dX: bool = True,
                 kernel_mode: str = "reference"):
    """(dX, dU, dV, db, dbh) given dH (m, T, u), the gradient of every hidden state::

        (10) dX = dZ U^T     dU = X^T dZ     db = sum(dZ)     dV = H_prev^T dP     dbh = sum(dHn)
    """
    activations = (activation, reset_gate, update_gate)
    kernels = kernels_for(kernel_mode, X, activations)
    if kernels.whole_op:
        return kernels.run("gru_backward", dH, X, U, V, H, Z, G, Hn, need_dX=need_dX)
    if kernels.on_device:
        return recurrent_gpu.gru_backward(kernels, dH, X, U, V, H, Z, G, Hn, need_dX)
    xp = array_namespace(X)
    u = V.shape[0]
    V_T = xp.matrix_transpose(V)
    H_prev = shifted(H)
    dh_next = xp.zeros_like(dH[:, 0, :])
    dZ_steps, dP_steps = [None] * X.shape[1], [None] * X.shape[1]
    for t in reversed(range(X.shape[1])):
        dZ, dP, dh_direct = gru_step_backward(dH[:, t, :], dh_next, H_prev[:, t, :], Z[:, t, :], G[:, t, :],
                                              Hn[:, t, :], *activations)  # (6) - (8)
        dh_next = dh_direct + dP @ V_T  # (9)
        dZ_steps[t], dP_steps[t] = dZ, dP
    dZ, dP = xp.stack(dZ_steps, axis=1), xp.stack(dP_steps, axis=1)
    dX = input_gradient(dZ, U, need_dX)  # (10)
    dU, dV, db = parameter_gradients(X, H, dZ, dP)  # (10)
    dbh = sum_rows(rows(dP[:, :, 2 * u:]))  # (10)
    return dX, dU, dV, db, dbh


# --------------------------------------------------------------------------- LSTM
# Gate order i (input), f (forget), g (candidate), o (output), PyTorch's.


def lstm_step_forward(XU_t, P, c_prev, activation, candidate_activation, input_gate, forget_gate, output_gate):
    """One step, given XU_t = x_t U + b, P = h_{t-1} V and C_{t-1}: (Z_t, G_t, C_t, S_t, h_t)
    with Z_t = [Z_i|Z_f|Z_g|Z_o] and G_t = [i|f|g|o], (m, 4u)::

        (1) Z_t = x_t U + h_{t-1} V + b                        (m, 4u), every gate at once
        (2) i = sigma_i(Z_i)   f = sigma_f(Z_f)   g = f_g(Z_g)   o = sigma_o(Z_o)
        (3) C_t = f * C_{t-1} + i * g                          the cell state
        (4) S_t = f_c(C_t)                                     the cell's output activation
        (5) h_t = o * S_t
    """
    xp = array_namespace(P)
    u = c_prev.shape[1]
    Z = XU_t + P  # (1)
    gates = (input_gate, forget_gate, candidate_activation, output_gate)
    i, f, g, o = (gate(Z[:, k * u:(k + 1) * u]) for k, gate in enumerate(gates))  # (2)
    c = f * c_prev + i * g  # (3)
    s = activation(c)  # (4)
    return Z, xp.concat([i, f, g, o], axis=-1), c, s, o * s  # (5)


def lstm_step_backward(dH_t, dh_next, dc_next, c_prev, c, s, Z, G, activation, candidate_activation, input_gate,
                       forget_gate, output_gate):
    """One step back: (dZ_t, dC_{t-1}), given dH_t from above, and dh_next and dc_next
    from step t+1; dZ_t = [dZ_i|dZ_f|dZ_g|dZ_o], dC_{t-1} the part through the cell::

        (6) dh = dH_t + dh_next                 dC = dc_next + (dh o) f_c'(C_t)
        (7) do = dh S      di = dC g      df = dC C_{t-1}      dg = dC i
        (8) dZ = [di sigma_i' | df sigma_f' | dg f_g' | do sigma_o']
        (9) dC_{t-1} = dC f                     dh_{t-1} = dZ V^T (in the loop)
    """
    xp = array_namespace(dh_next)
    u = c_prev.shape[1]
    dh = dH_t + dh_next  # (6)
    i, f, g, o = (G[:, k * u:(k + 1) * u] for k in range(4))
    dC = dc_next + activation.backward(dh * o, c, s)  # (6)
    d_gates = (dC * g, dC * c_prev, dC * i, dh * s)  # (7) d i, d f, d g, d o
    gates = (input_gate, forget_gate, candidate_activation, output_gate)
    dZ = xp.concat([gate.backward(d_gate, Z[:, k * u:(k + 1) * u], G[:, k * u:(k + 1) * u])
                    for k, (gate, d_gate) in enumerate(zip(gates, d_gates))], axis=-1)  # (8)
    return dZ, dC * f  # (9)


def lstm_forward(X, U, V, b, activation, candidate_activation, input_gate, forget_gate, output_gate,
                 kernel_mode: str = "reference"):
    """H (m, T, u); C (m, T, u) cell states; S (m, T, u) = f_c(C); Z (m, T, 4u) gate
    pre-activations; G (m, T, 4u) gate values [i|f|g|o]."""
    activations = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    kernels = kernels_for(kernel_mode, X, activations)
    if kernels.whole_op:
        return kernels.run("lstm_forward", X, U, V, b)
    if kernels.on_device:
        return recurrent_gpu.lstm_forward(kernels, X, U, V, b)
    xp = array_namespace(X)
    u = V.shape[0]
    XU = X @ U + b  # the input side of (1) for every step, in one product
    h = xp.zeros_like(XU[:, 0, :u])
    c = xp.zeros_like(h)
    steps = {"H": [], "C": [], "S": [], "Z": [], "G": []}
    for t in range(X.shape[1]):
        Z, G, c, s, h = lstm_step_forward(XU[:, t, :], h @ V, c, *activations)  # (1) - (5)
        for key, value in zip(("Z", "G", "C", "S", "H"), (Z, G, c, s, h)):
            steps[key].append(value)
    return tuple(xp.stack(steps[key], axis=1) for key in ("H", "C", "S", "Z", "G"))


def lstm_backward(dH, X, U, V, H, C, S, Z, G, activation, candidate_activation, input_gate, forget_gate,
                  output_gate, need_dX: bool = True, kernel_mode: str = "reference"):
    """(dX, dU, dV, db) given dH (m, T, u), the gradient of every hidden state::

        (10) dX = dZ U^T      dU = X^T dZ      dV = H_prev^T dZ      db = sum(dZ)
    """
    activations = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    kernels = kernels_for(kernel_mode, X, activations)
    if kernels.whole_op:
        return kernels.run("lstm_backward", dH, X, U, V, H, C, S, Z, G, need_dX=need_dX)
    if kernels.on_device:
        return recurrent_gpu.lstm_backward(kernels, dH, X, U, V, H, C, S, Z, G, need_dX)
    xp = array_namespace(X)
    V_T = xp.matrix_transpose(V)
    C_prev = shifted(C)
    dh_next = xp.zeros_like(dH[:, 0, :])
    dc_next = xp.zeros_like(dh_next)
    dZ_steps = [None] * X.shape[1]
    for t in reversed(range(X.shape[1])):
        dZ, dc_next = lstm_step_backward(dH[:, t, :], dh_next, dc_next, C_prev[:, t, :], C[:, t, :], S[:, t, :],
                                         Z[:, t, :], G[:, t, :], *activations)  # (6) - (9)
        dh_next = dZ @ V_T  # (9)
        dZ_steps[t] = dZ
    dZ = xp.stack(dZ_steps, axis=1)
    return (input_gradient(dZ, U, need_dX), *parameter_gradients(X, H, dZ))  # (10)
