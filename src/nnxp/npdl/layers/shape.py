"""NumpyDL's shape layers (``npdl.layers.shape``): Flatten and DimShuffle.

``Flatten(outdim=2)`` is nnxp's ``Flatten(outdim)``: (m, c, h, w) -> (m, c * h * w) in
the order of NumpyDL's channels-first layout, so that the Dense layer after it sees the
features as NumpyDL lays them out. ``DimShuffle(axis=1)`` inserts an axis of length 1 at
``axis`` (and takes it out of the gradient): a reshape, no arithmetic.
"""

from __future__ import annotations

from array_api_compat import array_namespace

from ... import layers as _core
from ...facades import takes
from .base import Layer


class Flatten(Layer, _core.Flatten):
    """Keep the first outdim - 1 axes, flatten the rest into the last."""

    maps_onto = _core.Flatten

    @takes(nnxp=_core.Flatten)
    def __init__(self, outdim=2):
        self.arguments = {"outdim": outdim}
        _core.Flatten.__init__(self, outdim=outdim)

    def output_shape(self, input_shape):
        kept = input_shape[:self.outdim - 2] if self.outdim > 1 else ()
        rest = input_shape[len(kept):]
        size = 1
        for length in rest:
            size *= length
        return (*kept, size)


class DimShuffle(Layer):
    """A new axis of length 1 at ``axis``: (m, n) -> (m, n, 1) with axis=2."""

    @takes()
    def __init__(self, axis=1):
        super().__init__()
        self.axis = axis
        self.arguments = {"axis": axis}

    def forward(self, input, *args, **kwargs):
        if not self.fs:
            self.compute_shapes(input)
        self.fc["X"] = input
        self.fc["A"] = array_namespace(input).expand_dims(input, axis=self.axis)
        return self.fc["A"]

    def backward(self, pre_grad, *args, **kwargs):
        self.bc["dA"] = pre_grad
        self.bc["dX"] = array_namespace(pre_grad).squeeze(pre_grad, axis=self.axis)
        return self.bc["dX"]

    def output_shape(self, input_shape):
        shape = list(input_shape)
        shape.insert(self.axis - 1, 1)
        return tuple(shape)


__all__ = ["Flatten", "DimShuffle"]
