"""EpyNN's `gru` package: the layer is in `models`."""

from .models import GRU

__all__ = ["GRU"]
