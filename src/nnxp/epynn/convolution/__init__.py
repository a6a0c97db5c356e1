"""EpyNN's `convolution` package: the layer is in `models`."""

from .models import Convolution

__all__ = ["Convolution"]
