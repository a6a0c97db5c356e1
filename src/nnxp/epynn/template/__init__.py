"""EpyNN's `template` package: the layer is in `models`."""

from .models import Template

__all__ = ["Template"]
