"""EpyNN's `rnn` package: the layer is in `models`."""

from .models import RNN

__all__ = ["RNN"]
