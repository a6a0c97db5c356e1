"""The recurrent ops on the GPU: the reference time loop, one fused kernel per step.

On the GPU (CuPy arrays, kernel mode "numba") each op of ``recurrent.py`` runs its
time loop here: the loop of the reference, with the products on cuBLAS (xp.matmul)
and all the element-wise work of a step in ONE fused Numba-CUDA kernel, the step
function's namesake in ``nnxp.kernels.cuda``. There, a step
costs time on the host, not on the device (W8's LSTM step, 128 samples x 256 units,
is a few microseconds of GPU work). Measured per call on an H100 (numba-cuda 0.30.4,
CuPy 14.2, benchmarks/probes/gpu_launch_overhead.py):

   ~30 us   numba-cuda converting ONE CuPy argument of a launch (DLPack)
  ~287 us   a launch given 8 CuPy arrays;  ~93 us  given 8 Numba device arrays
   ~29 us   the step's product, (128 x 256) @ (256 x 1024);  ~2 us  a view H[:, t, :]

So no step hands the kernel a fresh CuPy array. Each op allocates every array of the
sequence once, (m, T, k), from CuPy's pool; the kernel module converts each ONCE per
call into a Numba device array (a view, no copy) and returns step(t), which launches
the kernel on step t of those same arrays. The step's product is a fresh CuPy array:
it is copied into a buffer converted with the others (``P[...] = h @ V``, basic
slicing assignment, one small device copy, ~10-15 us), which is cheaper than handing
it to the kernel (a conversion, ~30 us, at every step). The kernel reads the previous
state from step t-1 of the sequence (zeros before step 0, whose product is zero and
is skipped); going back, what a step sends to the one before lives in (m, u) buffers
that the op and the kernels update in place. One stream runs it all in order.
Expected per step: ~93 us of launch, ~29 us of product, ~15 us of copy, and likely
~10 us more because CuPy copies a strided operand (the row H[:, t-1, :] of the
sequence) before calling cuBLAS; before, ~300 us for the launch alone.

Each function has the name of the op it runs for (``nnxp.ops.recurrent.rnn_forward``
calls ``rnn_forward`` here with its ``Kernels``, ``nnxp.ops.kernels_for``) and returns
what the op returns; the shapes and the gate order are those of ``recurrent.py``.
"""

from __future__ import annotations

from ..backend import array_namespace

from . import sum_rows
from .sequences import input_gradient, parameter_gradients, rows


def _step_zeros(S):
    """Zeros shaped like one step S[:, t, :] of a sequence S (m, T, k): (m, k), contiguous."""
    return array_namespace(S).zeros((S.shape[0], S.shape[2]), dtype=S.dtype)


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


def rnn_forward(kernels, X, U, V, b):
    """``recurrent.rnn_forward`` on the GPU: (H, Z)."""
    xp = array_namespace(X)
    XU = X @ U + b
    Z, H = xp.empty_like(XU), xp.empty_like(XU)
    P = _step_zeros(XU)
    _run_forward(kernels.run("rnn_step_forward", XU, P, Z, H), P, H, V)
    return H, Z


def rnn_backward(kernels, dH, X, U, V, H, Z, need_dX=True):
    """``recurrent.rnn_backward`` on the GPU: (dX, dU, dV, db)."""
    xp = array_namespace(X)
    dZ = xp.empty_like(Z)
    dh_next = _step_zeros(H)
    _run_backward(kernels.run("rnn_step_backward", dH, dh_next, Z, H, dZ), dh_next, dZ, V)
    return (input_gradient(dZ, U, need_dX), *parameter_gradients(X, H, dZ))


def gru_forward(kernels, X, U, V, b, bh):
    """``recurrent.gru_forward`` on the GPU: (H, Z, G, Hn)."""
    xp = array_namespace(X)
    XU = X @ U + b
    states = (X.shape[0], X.shape[1], V.shape[0])  # (m, T, u)
    Z, G = xp.empty_like(XU), xp.empty_like(XU)
    Hn, H = xp.empty(states, dtype=XU.dtype), xp.empty(states, dtype=XU.dtype)
    P = _step_zeros(XU)
    _run_forward(kernels.run("gru_step_forward", XU, P, bh, Z, G, Hn, H), P, H, V)
    return H, Z, G, Hn


def gru_backward(kernels, dH, X, U, V, H, Z, G, Hn, need_dX=True):
    """``recurrent.gru_backward`` on the GPU: (dX, dU, dV, db, dbh). dh_next += dP_t V^T
    after each step but the first: the GRU's recurrent side is dP, not dZ."""
    xp = array_namespace(X)
    dZ, dP = xp.empty_like(Z), xp.empty_like(Z)
    dh_next = _step_zeros(H)
    step = kernels.run("gru_step_backward", dH, dh_next, H, Z, G, Hn, dZ, dP)
    V_T = xp.matrix_transpose(V)
    for t in reversed(range(X.shape[1])):
        step(t)  # leaves dh z, the direct path to h_{t-1}, in dh_next
        if t > 0:
            dh_next += dP[:, t, :] @ V_T
    dbh = sum_rows(rows(dP[:, :, 2 * V.shape[0]:]))
    return (input_gradient(dZ, U, need_dX), *parameter_gradients(X, H, dZ, dP), dbh)


def lstm_forward(kernels, X, U, V, b):
    """``recurrent.lstm_forward`` on the GPU: (H, C, S, Z, G)."""
    xp = array_namespace(X)
    XU = X @ U + b
    states = (X.shape[0], X.shape[1], V.shape[0])  # (m, T, u)
    Z, G = xp.empty_like(XU), xp.empty_like(XU)
    C, S, H = (xp.empty(states, dtype=XU.dtype) for _ in range(3))
    P = _step_zeros(XU)
    _run_forward(kernels.run("lstm_step_forward", XU, P, Z, G, C, S, H), P, H, V)
    return H, C, S, Z, G


def lstm_backward(kernels, dH, X, U, V, H, C, S, Z, G, need_dX=True):
    """``recurrent.lstm_backward`` on the GPU: (dX, dU, dV, db)."""
    xp = array_namespace(X)
    dZ = xp.empty_like(Z)
    dh_next, dc = _step_zeros(H), _step_zeros(H)  # dc: dL/dC from the step after, updated by the kernel
    _run_backward(kernels.run("lstm_step_backward", dH, dh_next, dc, C, S, Z, G, dZ), dh_next, dZ, V)
    return (input_gradient(dZ, U, need_dX), *parameter_gradients(X, H, dZ))
