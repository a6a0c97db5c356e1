"""NumpyDL's pooling layers (``npdl.layers.pooling``) on nnxp's, channels first.

``MeanPooling(pool_size)`` and ``MaxPooling(pool_size)`` are nnxp's ``Pooling(pool_size,
mode="mean" | "max")``: windows side by side (the stride is the pool size), no padding,
on images (samples, channels, height, width) as NumpyDL takes them; inside, nnxp pools
(samples, height, width, channels) (see ``convolution``).
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ...ops.windows import output_size
from .base import Layer
from .convolution import ChannelsFirst


class _Pooling(ChannelsFirst, Layer, _core.Pooling):
    maps_onto = _core.Pooling
    mode = "max"

    def __init__(self, pool_size):
        self.arguments = {"pool_size": pool_size}
        _core.Pooling.__init__(self, pool_size=pool_size, mode=self.mode)

    def output_shape(self, input_shape):
        c, h, w = input_shape
        return (c, *output_size((h, w), self.pool_size, self.strides, ((0, 0), (0, 0))))


class MeanPooling(_Pooling):
    """The mean of each window, channel by channel."""

    maps_onto = _core.Pooling

    @takes(nnxp=_core.Pooling)
    def __init__(self, pool_size):
        self.mode = "mean"
        super().__init__(pool_size)


class MaxPooling(_Pooling):
    """The largest value of each window, channel by channel."""

    maps_onto = _core.Pooling

    @takes(nnxp=_core.Pooling)
    def __init__(self, pool_size):
        self.mode = "max"
        super().__init__(pool_size)


__all__ = ["MeanPooling", "MaxPooling"]
