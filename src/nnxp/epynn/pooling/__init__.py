"""EpyNN's `pooling` package: the layer is in `models`."""

from .models import Pooling

__all__ = ["Pooling"]
