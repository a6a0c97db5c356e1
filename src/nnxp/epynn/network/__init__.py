"""EpyNN's `network` package: the model is in `models`."""

from .models import EpyNN

__all__ = ["EpyNN"]
