"""EpyNN's `dropout` package: the layer is in `models`."""

from .models import Dropout

__all__ = ["Dropout"]
