"""Every compiled kernel ahead of time: each op once forward and backward, in both dtypes.

Numba compiles a kernel at its first call for each dtype (float32, float64), seconds
each, and then keeps it in its disk cache (``nnxp.kernels.cache``), from which a later
run loads it in a fraction of a second. ``nnxp warmup`` runs ``warm_up`` once, so that
the first epoch of a class demo does not pay for the compiling.

A kernel package may compile more than one variant of a kernel: the CPU's recurrent
kernels have a serial and a parallel variant, chosen by the batch size, and its max
pooling backward has kernels chosen by the channels (under 8, from 8, from 16) and the
windows. The package itself says which batch sizes and channel counts reach all of
them (its ``WARM_UP``), and every op runs at each, on tiny inputs, through the same
dispatch as a layer's call. The CPU's convolution and recurrent ops also have two
kernels each, the direct loops and one with BLAS products, chosen by the shapes: every
op runs on each (``WARM_UP["paths"]``, forced with the package's ``forced``), a
convolution also on Winograd's (``WARM_UP["conv paths"]``) and with ReLU applied by the
kernel.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..activations import get_activation
from . import kernel_module
from .conv import conv2d_activation_backward, conv2d_activation_forward, conv2d_backward, conv2d_forward
from .pool import MODES, pool2d_backward, pool2d_forward
from .recurrent import gru_backward, gru_forward, lstm_backward, lstm_forward, rnn_backward, rnn_forward

# The recurrent layers' default activations. The kernels take them as codes, which are
# data: any supported activation compiles the same kernels.
RECURRENT = {"rnn": (rnn_forward, rnn_backward, 1, ("tanh",)),
             "gru": (gru_forward, gru_backward, 3, ("tanh", "sigmoid", "sigmoid")),
             "lstm": (lstm_forward, lstm_backward, 4, ("tanh", "tanh", "sigmoid", "sigmoid", "sigmoid"))}


def warm_up(backend) -> list[str]:
    """Run every op forward and backward on ``backend`` (in its dtype) in the ``numba``
    kernel mode, at each batch size and channel count of its kernels' ``WARM_UP``;
    returns what ran, e.g. ``"lstm, 16 samples"``. Nothing runs where the backend has
    no compiled kernels."""
    module = kernel_module("numba", backend.asarray(np.zeros(1)))
    if module is None:
        return []
    rng = np.random.default_rng(0)
    done = []
    for samples in module.WARM_UP["samples"]:
        images = backend.asarray(rng.standard_normal((samples, 6, 6, 2)))
        sequences = backend.asarray(rng.standard_normal((samples, 4, 3)))
        paths = module.WARM_UP.get("paths", (None,))  # None: the package has one kernel per op
        for path in module.WARM_UP.get("conv paths", paths):
            on = f", {path}" if path else ""
            with module.forced(path) if path else contextlib.nullcontext():
                _convolution(backend, rng, images)
                done.append(f"conv2d, {samples} samples{on}")
                if path not in paths:  # a convolution's own kernel (Winograd's)
                    continue
                for family in RECURRENT:
                    _recurrent(backend, rng, sequences, family)
                    done.append(f"{family}, {samples} samples{on}")
        for mode in MODES:
            _pooling(backend, images, mode)
            done.append(f"pool2d {mode}, {samples} samples")
    for channels in module.WARM_UP["channels"]:
        wide = backend.asarray(rng.standard_normal((2, 4, 4, channels)))
        for mode in MODES:
            _pooling(backend, wide, mode)
            done.append(f"pool2d {mode}, {channels} channels")
    return done


def _convolution(backend, rng, X) -> None:
    """Both paddings, with and without a bias, dX needed or not (a first layer's), with
    and without the activation (ReLU) applied by the kernel."""
    W = backend.asarray(rng.standard_normal((3, 3, X.shape[3], 3)))
    relu = get_activation("relu")
    for b, padding in ((backend.asarray(np.zeros(3)), ((1, 1), (1, 1))), (None, ((0, 0), (0, 0)))):
        Z = conv2d_forward(X, W, b, (1, 1), padding, kernel_mode="numba")
        Z, A = conv2d_activation_forward(X, W, b, (1, 1), padding, relu, kernel_mode="numba")
        for need_dX in (True, False):
            conv2d_backward(backend.xp.ones_like(Z), X, W, (1, 1), padding, need_dX, kernel_mode="numba")
            conv2d_activation_backward(backend.xp.ones_like(Z), Z, A, X, W, (1, 1), padding, relu, need_dX,
                                       kernel_mode="numba")


def _pooling(backend, X, mode: str) -> None:
    """Forward, then backward with the forward's output (the CPU's faster paths take it),
    for 2x2 windows side by side and overlapping (stride 1): the CPU has kernels for each."""
    for strides in ((2, 2), (1, 1)):
        A = pool2d_forward(X, (2, 2), strides, ((0, 0), (0, 0)), mode, kernel_mode="numba")
        pool2d_backward(backend.xp.ones_like(A), X, (2, 2), strides, ((0, 0), (0, 0)), mode, kernel_mode="numba",
                        A=A)


def _recurrent(backend, rng, X, family: str) -> None:
    forward, backward, gates, names = RECURRENT[family]
    n, u = X.shape[2], 4
    U = backend.asarray(rng.standard_normal((n, gates * u)))
    V = backend.asarray(rng.standard_normal((u, gates * u)))
    b = backend.asarray(np.zeros(gates * u))
    extra = (backend.asarray(np.zeros(u)),) if family == "gru" else ()  # the GRU's bh
    activations = [get_activation(name) for name in names]
    caches = forward(X, U, V, b, *extra, *activations, kernel_mode="numba")
    dH = backend.xp.ones_like(caches[0])  # the gradient of every hidden state
    backward(dH, X, U, V, *caches, *activations, kernel_mode="numba")
