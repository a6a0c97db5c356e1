"""EpyNN's `embedding` package: the layer is in `models`."""

from .models import Embedding

__all__ = ["Embedding"]
