"""EpyNN's `flatten` package: the layer is in `models`."""

from .models import Flatten

__all__ = ["Flatten"]
