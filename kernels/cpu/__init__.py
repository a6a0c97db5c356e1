"""Numba CPU kernels (numba.njit): plain NumPy-typed loops, cached on disk."""

from .recurrent import (
    RECURRENT_ACTIVATIONS,
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    rnn_backward,
    rnn_forward,
)
