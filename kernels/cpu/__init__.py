"""Numba CPU kernels (numba.njit): plain NumPy-typed loops, cached on disk.

Each public function has the name and the arguments of its ``nnxp.ops`` twin. Each
op has two kernels, the direct loops (``conv.py``, ``recurrent.py``) and one with its
matrix products on BLAS (``conv_gemm.py``, ``recurrent_blas.py``), and convolutions of
3x3 filters at stride 1 a third, Winograd's (``conv_winograd.py``); the functions below
pick one per call, by the shapes and the dtype (``paths.py`` has the rule and its
measurements), and note which ran. Pooling has one kernel (``pool.py``).

Threads: the kernels run samples in parallel (``prange``) on Numba's thread pool,
which is OpenMP where available. After each parallel loop OpenMP's workers spin for a
while, waiting for the next one, and then sleep. How long they spin matters on a small
machine, where the main thread runs Python, NumPy and BLAS (Dense layers, the
optimizer) between our loops:

* spinning long (GNU OpenMP's default, 300000 turns) while BLAS also ran on every
  core took the cores the main thread needed: training the digits CNN of the tests
  took 9-14 s, against 2.4 s with the workers asleep (``OMP_WAIT_POLICY=passive``);
* asleep, every parallel loop pays for waking them: 9-14 us a loop, measured on 2 cores,
  against 2 us when they still spin;
* so they spin briefly (``GOMP_SPINCOUNT=20000``, well under a millisecond) and then
  sleep. With BLAS on one thread beside the kernels (``nnxp.set_num_threads``), that
  made W2 float64 about 8% and W3 float32 up to 6% faster than passive, and the digits
  CNN no slower.

Set here, before Numba starts its pool, unless the environment already says how the
workers should wait (``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``).

Several Python threads may call the kernels at once (two threads predicting with one
model). Numba's OpenMP and TBB pools take that; its last fallback, ``workqueue`` (where
neither library is found, e.g. macOS without libomp), is not thread-safe: a second
call while one runs aborts the whole process. There, and only there, the kernels
below run one call at a time.
"""

import functools
import os
import threading

if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "20000")

from . import conv, conv_gemm, conv_winograd, recurrent, recurrent_blas  # noqa: E402  (after the setting above)
from .paths import BLAS, CONV_PATHS, DIRECT, PATHS, WINOGRAD, conv_path, forced, note, recurrent_path  # noqa: E402
from .pool import pool2d_backward, pool2d_forward  # noqa: E402
from ..activation_codes import IDENTITY, RECURRENT_ACTIVATIONS, RELU  # noqa: E402

# The activations a convolution's kernels apply in their last pass over Z (and whose
# derivative they apply as they read dA); any other runs after the kernel, in nnxp.ops.
CONV_ACTIVATIONS = {"identity": IDENTITY, "relu": RELU}


# --------------------------------------------------------------------------- the path of each call


_CONV_KERNELS = {DIRECT: conv, BLAS: conv_gemm, WINOGRAD: conv_winograd}


def _conv(op, X, W, strides):
    """The convolution kernel module for these shapes (paths.conv_path), noted."""
    return _CONV_KERNELS[note(op, conv_path(X.shape, W.shape, X.dtype, strides))]


def conv2d_forward(X, W, b, strides, padding):
    return _conv("conv2d_forward", X, W, strides).conv2d_forward(X, W, b, strides, padding)


def conv2d_activation_forward(X, W, b, strides, padding, activation):
    return _conv("conv2d_forward", X, W, strides).conv2d_activation_forward(X, W, b, strides, padding, activation)


def conv2d_backward(dZ, X, W, strides, padding, need_dX=True):
    return _conv("conv2d_backward", X, W, strides).conv2d_backward(dZ, X, W, strides, padding, need_dX)


def conv2d_activation_backward(dA, Z, A, X, W, strides, padding, need_dX, activation):
    return _conv("conv2d_backward", X, W, strides).conv2d_activation_backward(dA, Z, A, X, W, strides, padding,
                                                                              need_dX, activation)


def _recurrent(op, X, V, gates):
    """The recurrent kernel module for these shapes (paths.recurrent_path), noted."""
    path = recurrent_path(X.shape[0], V.shape[0], gates, X.dtype)
    return recurrent_blas if note(op, path) == BLAS else recurrent


def rnn_forward(X, U, V, b, activation):
    return _recurrent("rnn_forward", X, V, 1).rnn_forward(X, U, V, b, activation)


def rnn_backward(dH, X, U, V, H, Z, activation, need_dX=True):
    return _recurrent("rnn_backward", X, V, 1).rnn_backward(dH, X, U, V, H, Z, activation, need_dX)


def gru_forward(X, U, V, b, bh, activation, reset_gate, update_gate):
    return _recurrent("gru_forward", X, V, 3).gru_forward(X, U, V, b, bh, activation, reset_gate, update_gate)


def gru_backward(dH, X, U, V, H, Z, G, Hn, activation, reset_gate, update_gate, need_dX=True):
    return _recurrent("gru_backward", X, V, 3).gru_backward(dH, X, U, V, H, Z, G, Hn, activation, reset_gate,
                                                            update_gate, need_dX)


def lstm_forward(X, U, V, b, activation, candidate_activation, input_gate, forget_gate, output_gate):
    codes = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    return _recurrent("lstm_forward", X, V, 4).lstm_forward(X, U, V, b, *codes)


def lstm_backward(dH, X, U, V, H, C, S, Z, G, activation, candidate_activation, input_gate, forget_gate,
                  output_gate, need_dX=True):
    codes = (activation, candidate_activation, input_gate, forget_gate, output_gate)
    return _recurrent("lstm_backward", X, V, 4).lstm_backward(dH, X, U, V, H, C, S, Z, G, *codes, need_dX)


from .chunks import CHUNK_SAMPLES  # noqa: E402
from .pool import LANES, TILE_LANES  # noqa: E402
from .recurrent import parallel_threshold  # noqa: E402

# What ``nnxp.ops.warmup`` runs so that every compiled variant exists: a batch under the
# recurrent kernels' parallel_threshold (their serial variants) and one over it with two
# chunks of gradient sums (the parallel ones); pooling with fewer channels than its SIMD
# paths need, and with as many as each (LANES, TILE_LANES); each op on each of its
# kernels (``forced``), convolution on its three.
WARM_UP = {"samples": (max(1, parallel_threshold - 1), max(parallel_threshold, 2 * CHUNK_SAMPLES)),
           "channels": (1, LANES, TILE_LANES), "paths": PATHS, "conv paths": CONV_PATHS}

_one_at_a_time = threading.Lock()


@functools.lru_cache(maxsize=None)
def _pool_is_thread_safe() -> bool:
    import numba

    numba.get_num_threads()  # starts the pool, which settles the threading layer
    return numba.threading_layer() != "workqueue"


def _thread_safe(kernel):
    """The kernel, run one call at a time where Numba's pool is not thread-safe."""
    @functools.wraps(kernel)
    def run(*args, **kwargs):
        if _pool_is_thread_safe():
            return kernel(*args, **kwargs)
        with _one_at_a_time:
            return kernel(*args, **kwargs)

    return run


conv2d_forward, conv2d_backward, pool2d_forward, pool2d_backward = map(
    _thread_safe, (conv2d_forward, conv2d_backward, pool2d_forward, pool2d_backward))
conv2d_activation_forward, conv2d_activation_backward = map(
    _thread_safe, (conv2d_activation_forward, conv2d_activation_backward))
rnn_forward, rnn_backward, gru_forward, gru_backward, lstm_forward, lstm_backward = map(
    _thread_safe, (rnn_forward, rnn_backward, gru_forward, gru_backward, lstm_forward, lstm_backward))

__all__ = ["WARM_UP", "PATHS", "CONV_PATHS", "forced", "conv2d_forward", "conv2d_backward", "conv2d_activation_forward", "conv2d_activation_backward",
           "CONV_ACTIVATIONS", "pool2d_forward", "pool2d_backward", "RECURRENT_ACTIVATIONS",
           "rnn_forward", "rnn_backward", "gru_forward", "gru_backward", "lstm_forward", "lstm_backward"]
