"""Numba CPU kernels (numba.njit): plain NumPy-typed loops, cached on disk.

Each public function has the name and the arguments of its ``nnxp.ops`` twin.

Threads: the kernels run samples in parallel (``prange``) on Numba's thread pool,
which is OpenMP where available. OpenMP's worker threads, by default, keep spinning
for a while after each parallel loop, waiting for the next one. Between our loops the
main thread runs Python, NumPy and BLAS (Dense layers, the optimizer), and on a small
machine the spinning workers take the cores it needs: measured on 2 cores, training
the digits CNN of the tests took 9-14 s this way and 2.4 s with the workers asleep
(OMP_WAIT_POLICY=passive). So passive is set here, before Numba starts its pool,
unless the environment already says otherwise.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .conv import conv2d_backward, conv2d_forward  # noqa: E402  (after the setting above)
from .pool import pool2d_backward, pool2d_forward  # noqa: E402
from .recurrent import (  # noqa: E402
    RECURRENT_ACTIVATIONS,
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    rnn_backward,
    rnn_forward,
)

__all__ = ["conv2d_forward", "conv2d_backward", "pool2d_forward", "pool2d_backward", "RECURRENT_ACTIVATIONS",
           "rnn_forward", "rnn_backward", "gru_forward", "gru_backward", "lstm_forward", "lstm_backward"]
