"""EpyNN's `lstm` package: the layer is in `models`."""

from .models import LSTM

__all__ = ["LSTM"]
