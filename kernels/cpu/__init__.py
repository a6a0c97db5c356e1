"""Numba CPU kernels (numba.njit): plain NumPy-typed loops, cached on disk.

Each public function has the name and the arguments of its ``nnxp.ops`` twin.

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

from .conv import conv2d_backward, conv2d_forward  # noqa: E402  (after the setting above)
from .pool import pool2d_backward, pool2d_forward  # noqa: E402
from ..activation_codes import RECURRENT_ACTIVATIONS  # noqa: E402
from .recurrent import (  # noqa: E402
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    rnn_backward,
    rnn_forward,
)

from .chunks import CHUNK_SAMPLES  # noqa: E402
from .pool import LANES  # noqa: E402
from .recurrent import parallel_threshold  # noqa: E402

# What ``nnxp.ops.warmup`` runs so that every compiled variant exists: a batch under the
# recurrent kernels' parallel_threshold (their serial variants) and one over it with two
# chunks of gradient sums (the parallel ones); pooling with fewer channels than its SIMD
# path needs, and with as many (LANES).
WARM_UP = {"samples": (max(1, parallel_threshold - 1), max(parallel_threshold, 2 * CHUNK_SAMPLES)),
           "channels": (1, LANES)}

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
rnn_forward, rnn_backward, gru_forward, gru_backward, lstm_forward, lstm_backward = map(
    _thread_safe, (rnn_forward, rnn_backward, gru_forward, gru_backward, lstm_forward, lstm_backward))

__all__ = ["WARM_UP", "conv2d_forward", "conv2d_backward", "pool2d_forward", "pool2d_backward", "RECURRENT_ACTIVATIONS",
           "rnn_forward", "rnn_backward", "gru_forward", "gru_backward", "lstm_forward", "lstm_backward"]
