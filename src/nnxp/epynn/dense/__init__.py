"""EpyNN's `dense` package: the layer is in `models`."""

from .models import Dense

__all__ = ["Dense"]
