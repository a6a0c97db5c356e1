"""Recurrent loops over a whole sequence: RNN, GRU and LSTM, forward and backward.

Shapes: X (m, T, n) holds m sequences of T steps with n features; u is the number of
units; G the number of gates (RNN 1, GRU 3, LSTM 4). The weights of all gates sit side
by side, so that ONE matrix product gives every gate of a step::

    U (n, G*u)   input weights          columns [gate 1 | gate 2 | ...]
    V (u, G*u)   recurrent weights
    b (G*u,)     bias

The key to speed: the input side ``X @ U + b`` does not depend on the previous state,
so it is computed for all steps at once, before the time loop, as one big product.
Inside the loop only ``h @ V`` remains. Going back, the gradients of the gate
pre-activations dZ of every step are collected first; then dU, dV, db and dX are each
one big product after the loop::

    dU = X^T dZ     dV = H_prev^T dZ     db = sum(dZ)     dX = dZ U^T

(summing over samples and steps; H_prev is H shifted one step, starting from zeros).
The initial state h_0 (and C_0) is zero.

Each op returns what its backward needs (its "caches") and takes the gradient dH of
EVERY step's hidden state: a layer that outputs only the last state passes zeros for
the other steps. Backward never changes its inputs, so it can be called twice.

Equations are PyTorch's (``torch.nn.RNN``, ``torch.nn.GRU``, ``torch.nn.LSTM``), with
each activation replaceable; sigma is the gate activation (sigmoid by default).

The reference code below uses only Array API standard functions, so it runs on every
backend. Each op is a time loop around a small STEP function that does a step's
element-wise work (activations, cell update, and going back the gate derivatives):
``rnn_step_forward`` and friends; the products with V stay in the loop. With the
``numba`` kernel mode, and kernels that support every activation asked for
(``RECURRENT_ACTIVATIONS`` of the kernel module):

* on the CPU the whole call goes to the kernel of the same name, which runs whole
  sequences (``nnxp.kernels.cpu``);
* on the GPU the same time loop runs (the last section, "the GPU time loops"), each
  step's product on cuBLAS and its element-wise work in ONE fused CUDA kernel, the
  step function's namesake in ``nnxp.kernels.cuda``: one kernel launch per step
  instead of one per array operation.

For any other activation the reference code runs instead (a fallback by design, not
an error).
"""

from __future__ import annotations

from array_api_compat import array_namespace

from . import fast_kernels, on_device, sum_rows


# --------------------------------------------------------------------------- dispatch


def kernel_for(kernels: str, X, activations):
    """(kernel module, activation codes) when a compiled kernel can do the work, else None.

    A kernel knows a fixed set of activations, each as a small int code. Any other
    activation (or one with parameters, such as LReLU's alpha) falls back to the
    reference code.
    """
    module = fast_kernels(kernels, X)
    supported = getattr(module, "RECURRENT_ACTIVATIONS", None)  # None: no recurrent kernels here
    if supported is None:
        return None
    codes = []
    for activation in activations:
        code = supported.get(activation.name)
        if code is None or activation.params():
            return None
        codes.append(code)
    return module, tuple(codes)


# --------------------------------------------------------------------------- helpers


def _shifted(H):
    """H_prev: each step's previous state, (m, T, u), zeros before the first step."""
    xp = array_namespace(H)
    start = xp.zeros_like(H[:, :1, :])
    return xp.concat([start, H[:, :-1, :]], axis=1)


def _rows(A):
    """(m, T, k) -> (m*T, k): every step of every sample as one row."""
    return array_namespace(A).reshape(A, (-1, A.shape[-1]))


def _parameter_gradients(X, H, dZ, dP=None):
    """dU, dV, db from the gate gradients of all steps (dP: recurrent side, if it differs)."""
    xp = array_namespace(X)
    dZ_rows = _rows(dZ)
    dP_rows = dZ_rows if dP is None else _rows(dP)
    dU = xp.matrix_transpose(_rows(X)) @ dZ_rows
    dV = xp.matrix_transpose(_rows(_shifted(H))) @ dP_rows
    db = sum_rows(dZ_rows)
    return dU, dV, db


# --------------------------------------------------------------------------- RNN
#   Z_t = x_t U + h_{t-1} V + b        (m, u)
#   h_t = f(Z_t)
# backward, with dh_t = dH_t + (gradient arriving from step t+1):
#   dZ_t = dh_t * f'(Z_t)        dh_{t-1} (from the recurrence) = dZ_t V^T


def rnn_step_forward(XU_t, P, activation):
    """One step, given its input side XU_t = x_t U + b and P = h_{t-1} V: (Z_t, h_t)."""
    Z = XU_t + P
    return Z, activation(Z)


def rnn_step_backward(dH_t, dh_next, Z, h, activation):
    """dZ_t, given dH_t from above and dh_next from step t+1."""
    return activation.backward(dH_t + dh_next, Z, h)


def rnn_forward(X, U, V, b, activation, kernels: str = "reference"):
    """Every hidden state H (m, T, u) and the pre-activations Z (m, T, u)."""
    fast = kernel_for(kernels, X, (activation,))
    if fast is not None:
        module, codes = fast
        if on_device(module):
            return _rnn_forward_gpu(module, codes, X, U, V, b)
        return module.rnn_forward(X, U, V, b, *codes)
    xp = array_namespace(X)
    XU = X @ U + b  # the input side of every step, in one product
    h = xp.zeros_like(XU[:, 0, :])
    Z_steps, H_steps = [], []
    for t in range(X.shape[1]):
        Z, h = rnn_step_forward(XU[:, t, :], h @ V, activation)
        Z_steps.append(Z)
        H_steps.append(h)
    return xp.stack(H_steps, axis=1), xp.stack(Z_steps, axis=1)


def rnn_backward(dH, X, U, V, H, Z, activation, kernels: str = "reference"):
    """(dX, dU, dV, db) given dH (m, T, u), the gradient of every hidden state."""
    fast = kernel_for(kernels, X, (activation,))
    if fast is not None:
        module, codes = fast
        if on_device(module):
            return _rnn_backward_gpu(module, codes, dH, X, U, V, H, Z)
        return module.rnn_backward(dH, X, U, V, H, Z, *codes)
    xp = array_namespace(X)
    V_T = xp.matrix_transpose(V)
    dh_next = xp.zeros_like(dH[:, 0, :])
    dZ_steps = [None] * X.shape[1]
    for t in reversed(range(X.shape[1])):
        dZ = rnn_step_backward(dH[:, t, :], dh_next, Z[:, t, :], H[:, t, :], activation)
        dh_next = dZ @ V_T
        dZ_steps[t] = dZ
    dZ = xp.stack(dZ_steps, axis=1)
    dX = dZ @ xp.matrix_transpose(U)
    return (dX, *_parameter_gradients(X, H, dZ))


# --------------------------------------------------------------------------- GRU
# Gate order r (reset), z (update), n (candidate). b holds b_ir + b_hr, b_iz + b_hz and
# b_in; bh is b_hn, the recurrent bias of the candidate, which sits inside the reset
# gate (PyTorch's form: the reset gate is applied after the recurrent product):
#   P_t   = h_{t-1} V                         (m, 3u)  recurrent side [P_r | P_z | P_n]
#   r_t   = sigma_r(x_t U_r + b_r + P_r)
#   z_t   = sigma_z(x_t U_z + b_z + P_z)
#   Hn_t  = P_n + bh                          the candidate's recurrent part
#   n_t   = f(x_t U_n + b_n + r_t * Hn_t)
#   h_t   = (1 - z_t) * n_t + z_t * h_{t-1}
# backward, with dh_t = dH_t + (gradient arriving from step t+1):
#   dn = dh (1 - z)      dz = dh (h_{t-1} - n)      dZ_n = dn f'(Z_n)
#   dr = dZ_n Hn         dHn = dZ_n r               dZ_r = dr sigma_r'   dZ_z = dz sigma_z'
#   input side  dZ = [dZ_r | dZ_z | dZ_n]     recurrent side  dP = [dZ_r | dZ_z | dHn]
#   dh_{t-1} = dh z + dP V^T        dV = H_prev^T dP      dbh = sum(dHn)


def gru_step_forward(XU_t, P, h_prev, bh, activation, reset_gate, update_gate):
    """One step, given XU_t = x_t U + b, P = h_{t-1} V and h_{t-1}: (Z_t, A_t, Hn_t, h_t)
    with Z_t = [Z_r|Z_z|Z_n] and A_t = [r|z|n], (m, 3u)."""
    xp = array_namespace(P)
    u = h_prev.shape[1]
    Z_r = XU_t[:, :u] + P[:, :u]
    Z_z = XU_t[:, u:2 * u] + P[:, u:2 * u]
    r, z = reset_gate(Z_r), update_gate(Z_z)
    Hn = P[:, 2 * u:] + bh
    Z_n = XU_t[:, 2 * u:] + r * Hn
    n = activation(Z_n)
    h = (1 - z) * n + z * h_prev
    return xp.concat([Z_r, Z_z, Z_n], axis=-1), xp.concat([r, z, n], axis=-1), Hn, h


def gru_step_backward(dH_t, dh_next, h_prev, Z, A, Hn, activation, reset_gate, update_gate):
    """One step back: (dZ_t, dP_t, dh z), dZ_t = [dZ_r|dZ_z|dZ_n] for the input side,
    dP_t = [dZ_r|dZ_z|dHn] for the recurrent side, and dh z the direct path to h_{t-1}."""
    xp = array_namespace(dh_next)
    u = h_prev.shape[1]
    dh = dH_t + dh_next
    r, z, n = A[:, :u], A[:, u:2 * u], A[:, 2 * u:]
    dZ_n = activation.backward(dh * (1 - z), Z[:, 2 * u:], n)
    dHn = dZ_n * r
    dZ_r = reset_gate.backward(dZ_n * Hn, Z[:, :u], r)
    dZ_z = update_gate.backward(dh * (h_prev - n), Z[:, u:2 * u], z)
    return xp.concat([dZ_r, dZ_z, dZ_n], axis=-1), xp.concat([dZ_r, dZ_z, dHn], axis=-1), dh * z


def gru_forward(X, U, V, b, bh, activation, reset_gate, update_gate, kernels: str = "reference"):
    """H (m, T, u); Z (m, T, 3u) gate pre-activations; A (m, T, 3u) gate values [r|z|n];
    Hn (m, T, u) the candidate's recurrent part."""
    activations = (activation, reset_gate, update_gate)
    fast = kernel_for(kernels, X, activations)
    if fast is not None:
        module, codes = fast
        if on_device(module):
            return _gru_forward_gpu(module, codes, X, U, V, b, bh)
        return module.gru_forward(X, U, V, b, bh, *codes)
    xp = array_namespace(X)
    u = V.shape[0]
    XU = X @ U + b
    h = xp.zeros_like(XU[:, 0, :u])
    steps = {"H": [], "Z": [], "A": [], "Hn": []}
    for t in range(X.shape[1]):
        Z, A, Hn, h = gru_step_forward(XU[:, t, :], h @ V, h, bh, *activations)
        for key, value in zip(("Z", "A", "Hn", "H"), (Z, A, Hn, h)):
            steps[key].append(value)
    return tuple(xp.stack(steps[key], axis=1) for key in ("H", "Z", "A", "Hn"))


def gru_backward(dH, X, U, V, H, Z, A, Hn, activation, reset_gate, update_gate, kernels: str = "reference"):
    """(dX, dU, dV, db, dbh) given dH (m, T, u), the gradient of every hidden state."""
    activations = (activation, reset_gate, update_gate)
    fast = kernel_for(kernels, X, activations)
    if fast is not None:
        module, codes = fast
        if on_device(module):
            return _gru_backward_gpu(module, codes, dH, X, U, V, H, Z, A, Hn)
        return module.gru_backward(dH, X, U, V, H, Z, A, Hn, *codes)
    xp = array_namespace(X)
    u = V.shape[0]
    V_T = xp.matrix_transpose(V)
    H_prev = _shifted(H)
    dh_next = xp.zeros_like(dH[:, 0, :])
    dZ_steps, dP_steps = [None] * X.shape[1], [None] * X.shape[1]
    for t in reversed(range(X.shape[1])):
        dZ, dP, dh_direct = gru_step_backward(dH[:, t, :], dh_next, H_prev[:, t, :], Z[:, t, :], A[:, t, :],
                                              Hn[:, t, :], *activations)
        dh_next = dh_direct + dP @ V_T
        dZ_steps[t], dP_steps[t] = dZ, dP
    dZ, dP = xp.stack(dZ_steps, axis=1), xp.stack(dP_steps, axis=1)
    dX = dZ @ xp.matrix_transpose(U)
    dU, dV, db = _parameter_gradients(X, H, dZ, dP)
    dbh = sum_rows(_rows(dP[:, :, 2 * u:]))
    return dX, dU, dV, db, dbh


# --------------------------------------------------------------------------- LSTM
# Gate order i (input), f (forget), g (candidate), o (output), PyTorch's:
#   Z_t = x_t U + h_{t-1} V + b                 (m, 4u) = [Z_i | Z_f | Z_g | Z_o]
#   i = sigma_i(Z_i)   f = sigma_f(Z_f)   g = f_g(Z_g)   o = sigma_o(Z_o)
#   C_t = f * C_{t-1} + i * g                   the cell state
#   S_t = f_c(C_t)                              the cell's output activation
#   h_t = o * S_t
# backward, with dh_t = dH_t + (from step t+1) and dC_t = (from step t+1) + ...:
#   do = dh S        dC = dC_next + (dh o) f_c'(C)
#   di = dC g        df = dC C_{t-1}       dg = dC i       dC_{t-1} = dC f
#   dZ = [di sigma_i' | df sigma_f' | dg f_g' | do sigma_o']      dh_{t-1} = dZ V^T


def lstm_step_forward(XU_t, P, c_prev, activation, candidate_activation, input_gate, forget_gate, output_gate):
    """One step, given XU_t = x_t U + b, P = h_{t-1} V and C_{t-1}: (Z_t, A_t, C_t, S_t, h_t)
    with Z_t = [Z_i|Z_f|Z_g|Z_o] and A_t = [i|f|g|o], (m, 4u)."""
    xp = array_namespace(P)
    u = c_prev.shape[1]
    Z = XU_t + P
    gates = (input_gate, forget_gate, candidate_activation, output_gate)
    i, f, g, o = (gate(Z[:, k * u:(k + 1) * u]) for k, gate in enumerate(gates))
    c = f * c_prev + i * g
    s = activation(c)
    return Z, xp.concat([i, f, g, o], axis=-1), c, s, o * s


def lstm_step_backward(dH_t, dh_next, dc_next, c_prev, c, s, Z, A, activation, candidate_activation, input_gate,
                       forget_gate, output_gate):
    """One step back: (dZ_t, dC_{t-1}), given dH_t from above, and dh_next and dc_next
    from step t+1; dZ_t = [dZ_i|dZ_f|dZ_g|dZ_o], dC_{t-1} the part through the cell."""
    xp = array_namespace(dh_next)
    u = c_prev.shape[1]
    dh = dH_t + dh_next
    i, f, g, o = (A[:, k * u:(k + 1) * u] for k in range(4))
    dC = dc_next + activation.backward(dh * o, c, s)
    d_gates = (dC * g, dC * c_prev, dC * i, dh * s)  # d i, d f, d g, d o
    gates = (input_gate, forget_gate, candidate_activation, output_gate)
    dZ = xp.concat([gate.backward(d_gate, Z[:, k * u:(k + 1) * u], A[:, k * u:(k + 1) * u])
                    for k, (gate, d_gate) in enumerate(zip(gates, d_gates))], axis=-1)
    return dZ, dC * f


def lstm_forward(X, U, V, b, activation, candidate_activation, input_gate, forget_gate, output_gate,
                 kernels: str = "reference"):
    """H (m, T, u); C (m, T, u) cell states; S (m, T, u) = f_c(C); Z (m, T, 4u) gate
    pre-activations; A (m, T, 4u) gate values [i|f|g|o]."""
    activations = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    fast = kernel_for(kernels, X, activations)
    if fast is not None:
        module, codes = fast
        if on_device(module):
            return _lstm_forward_gpu(module, codes, X, U, V, b)
        return module.lstm_forward(X, U, V, b, *codes)
    xp = array_namespace(X)
    u = V.shape[0]
    XU = X @ U + b
    h = xp.zeros_like(XU[:, 0, :u])
    c = xp.zeros_like(h)
    steps = {"H": [], "C": [], "S": [], "Z": [], "A": []}
    for t in range(X.shape[1]):
        Z, A, c, s, h = lstm_step_forward(XU[:, t, :], h @ V, c, *activations)
        for key, value in zip(("Z", "A", "C", "S", "H"), (Z, A, c, s, h)):
            steps[key].append(value)
    return tuple(xp.stack(steps[key], axis=1) for key in ("H", "C", "S", "Z", "A"))


def lstm_backward(dH, X, U, V, H, C, S, Z, A, activation, candidate_activation, input_gate, forget_gate,
                  output_gate, kernels: str = "reference"):
    """(dX, dU, dV, db) given dH (m, T, u), the gradient of every hidden state."""
    activations = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    fast = kernel_for(kernels, X, activations)
    if fast is not None:
        module, codes = fast
        if on_device(module):
            return _lstm_backward_gpu(module, codes, dH, X, U, V, H, C, S, Z, A)
        return module.lstm_backward(dH, X, U, V, H, C, S, Z, A, *codes)
    xp = array_namespace(X)
    V_T = xp.matrix_transpose(V)
    C_prev = _shifted(C)
    dh_next = xp.zeros_like(dH[:, 0, :])
    dc_next = xp.zeros_like(dh_next)
    dZ_steps = [None] * X.shape[1]
    for t in reversed(range(X.shape[1])):
        dZ, dc_next = lstm_step_backward(dH[:, t, :], dh_next, dc_next, C_prev[:, t, :], C[:, t, :], S[:, t, :],
                                         Z[:, t, :], A[:, t, :], *activations)
        dh_next = dZ @ V_T
        dZ_steps[t] = dZ
    dZ = xp.stack(dZ_steps, axis=1)
    dX = dZ @ xp.matrix_transpose(U)
    return (dX, *_parameter_gradients(X, H, dZ))


# --------------------------------------------------------------------------- the GPU time loops
# On the GPU (CuPy arrays, kernels="numba") each op runs the time loop above, with the
# products on cuBLAS (xp.matmul) and all the element-wise work of a step in ONE fused
# Numba-CUDA kernel, the step function's namesake in nnxp.kernels.cuda. There, a step
# costs time on the host, not on the device (W8's LSTM step, 128 samples x 256 units,
# is a few microseconds of GPU work). Measured per call on an H100 (numba-cuda 0.30.4,
# CuPy 14.2, benchmarks/gpu_launch_overhead.py):
#
#    ~30 us   numba-cuda converting ONE CuPy argument of a launch (DLPack)
#   ~287 us   a launch given 8 CuPy arrays;  ~93 us  given 8 Numba device arrays
#    ~29 us   the step's product, (128 x 256) @ (256 x 1024);  ~2 us  a view A[:, t, :]
#
# So no step hands the kernel a fresh CuPy array. Each op allocates every array of the
# sequence once, (m, T, k), from CuPy's pool; the kernel module converts each ONCE per
# call into a Numba device array (a view, no copy) and returns step(t), which launches
# the kernel on step t of those same arrays. The step's product is a fresh CuPy array:
# it is copied into a buffer converted with the others (``P[...] = h @ V``, basic
# slicing assignment, one small device copy, ~10-15 us), which is cheaper than handing
# it to the kernel (a conversion, ~30 us, at every step). The kernel reads the previous
# state from step t-1 of the sequence (zeros before step 0, whose product is zero and
# is skipped); going back, what a step sends to the one before lives in (m, u) buffers
# that the op and the kernels update in place. One stream runs it all in order.
# Expected per step: ~93 us of launch, ~29 us of product, ~15 us of copy, and likely
# ~10 us more because CuPy copies a strided operand (the row H[:, t-1, :] of the
# sequence) before calling cuBLAS; before, ~300 us for the launch alone.


def _step_zeros(A):
    """Zeros shaped like one step A[:, t, :] of a sequence A (m, T, k): (m, k), contiguous."""
    return array_namespace(A).zeros((A.shape[0], A.shape[2]), dtype=A.dtype)


def _run_forward(step, P, H, V):
    """step(0) ... step(T-1), with P = h_{t-1} V before each (P starts as h_0 V = 0)."""
    for t in range(H.shape[1]):
        if t > 0:
            P[...] = H[:, t - 1, :] @ V
        step(t)


def _run_backward(step, dh_next, dZ, V):
    """step(T-1) ... step(0), with dh_next = dZ_t V^T, what step t sends to h_{t-1}, after
    each (RNN and LSTM: h_{t-1} reaches step t only through Z_t). dh_next starts as zeros."""
    V_T = array_namespace(V).matrix_transpose(V)
    for t in reversed(range(dZ.shape[1])):
        step(t)
        if t > 0:
            dh_next[...] = dZ[:, t, :] @ V_T


def _rnn_forward_gpu(module, codes, X, U, V, b):
    xp = array_namespace(X)
    XU = X @ U + b
    Z, H = xp.empty_like(XU), xp.empty_like(XU)
    P = _step_zeros(XU)
    _run_forward(module.rnn_step_forward(XU, P, Z, H, *codes), P, H, V)
    return H, Z


def _rnn_backward_gpu(module, codes, dH, X, U, V, H, Z):
    xp = array_namespace(X)
    dZ = xp.empty_like(Z)
    dh_next = _step_zeros(H)
    _run_backward(module.rnn_step_backward(dH, dh_next, Z, H, dZ, *codes), dh_next, dZ, V)
    return (dZ @ xp.matrix_transpose(U), *_parameter_gradients(X, H, dZ))


def _gru_forward_gpu(module, codes, X, U, V, b, bh):
    xp = array_namespace(X)
    XU = X @ U + b
    states = (X.shape[0], X.shape[1], V.shape[0])  # (m, T, u)
    Z, A = xp.empty_like(XU), xp.empty_like(XU)
    Hn, H = xp.empty(states, dtype=XU.dtype), xp.empty(states, dtype=XU.dtype)
    P = _step_zeros(XU)
    _run_forward(module.gru_step_forward(XU, P, bh, Z, A, Hn, H, *codes), P, H, V)
    return H, Z, A, Hn


def _gru_backward_gpu(module, codes, dH, X, U, V, H, Z, A, Hn):
    xp = array_namespace(X)
    dZ, dP = xp.empty_like(Z), xp.empty_like(Z)
    dh_next = _step_zeros(H)
    step = module.gru_step_backward(dH, dh_next, H, Z, A, Hn, dZ, dP, *codes)
    V_T = xp.matrix_transpose(V)
    for t in reversed(range(X.shape[1])):
        step(t)  # leaves dh z, the direct path to h_{t-1}, in dh_next
        if t > 0:
            dh_next += dP[:, t, :] @ V_T
    dbh = sum_rows(_rows(dP[:, :, 2 * V.shape[0]:]))
    return (dZ @ xp.matrix_transpose(U), *_parameter_gradients(X, H, dZ, dP), dbh)


def _lstm_forward_gpu(module, codes, X, U, V, b):
    xp = array_namespace(X)
    XU = X @ U + b
    states = (X.shape[0], X.shape[1], V.shape[0])  # (m, T, u)
    Z, A = xp.empty_like(XU), xp.empty_like(XU)
    C, S, H = (xp.empty(states, dtype=XU.dtype) for _ in range(3))
    P = _step_zeros(XU)
    _run_forward(module.lstm_step_forward(XU, P, Z, A, C, S, H, *codes), P, H, V)
    return H, C, S, Z, A


def _lstm_backward_gpu(module, codes, dH, X, U, V, H, C, S, Z, A):
    xp = array_namespace(X)
    dZ = xp.empty_like(Z)
    dh_next, dc = _step_zeros(H), _step_zeros(H)  # dc: dL/dC from the step after, updated by the kernel
    _run_backward(module.lstm_step_backward(dH, dh_next, dc, C, S, Z, A, dZ, *codes), dh_next, dZ, V)
    return (dZ @ xp.matrix_transpose(U), *_parameter_gradients(X, H, dZ))
