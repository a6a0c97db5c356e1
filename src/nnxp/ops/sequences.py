"""What the recurrent ops share, on whole sequences: rows, the previous states, and the
parameter gradients summed over every sample and step.

Shapes: X (m, T, n) the inputs, H (m, T, u) every hidden state, dZ (m, T, G*u) the
gradients of every step's gate pre-activations. The gradients of the weights are sums
over the samples AND the steps, so each is ONE product of two tall matrices, taken
after the time loop::

    dU = X^T dZ        dV = H_prev^T dP        db = sum(dZ)

where every (sample, step) is a row (``rows``), and H_prev is H shifted by one step,
starting from the zero state (``shifted``). dP, the recurrent side's gradients, is dZ
for RNN and LSTM; the GRU's differs (its reset gate acts after the product).

The reference time loops (``recurrent.py``) and the GPU ones (``recurrent_gpu.py``)
both end here, which is why these live in a module of their own.
"""

from __future__ import annotations

from ..backend import array_namespace

from . import sum_rows


def shifted(H):
    """H_prev: each step's previous state, (m, T, u), zeros before the first step."""
    xp = array_namespace(H)
    start = xp.zeros_like(H[:, :1, :])
    return xp.concat([start, H[:, :-1, :]], axis=1)


def rows(A):
    """(m, T, k) -> (m*T, k): every step of every sample as one row."""
    return array_namespace(A).reshape(A, (-1, A.shape[-1]))


def parameter_gradients(X, H, dZ, dP=None):
    """dU, dV, db from the gate gradients of all steps (dP: recurrent side, if it differs)."""
    xp = array_namespace(X)
    dZ_rows = rows(dZ)
    dP_rows = dZ_rows if dP is None else rows(dP)
    dU = xp.matrix_transpose(rows(X)) @ dZ_rows
    dV = xp.matrix_transpose(rows(shifted(H))) @ dP_rows
    db = sum_rows(dZ_rows)
    return dU, dV, db


def input_gradient(dZ, U, need_dX=True):
    """dX = dZ U^T (m, T, n), or None where a first layer needs none (``need_dX``)."""
    return dZ @ array_namespace(dZ).matrix_transpose(U) if need_dX else None
