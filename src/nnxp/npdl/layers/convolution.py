"""NumpyDL's convolution (``npdl.layers.convolution``) on nnxp's, channels first.

``Convolution(nb_filter, filter_size, input_shape=None, stride=1, init, activation)`` is
nnxp's ``Convolution(filters=nb_filter, filter_size, strides=stride, padding="valid",
activation, initialization=init)`` with NumpyDL's layout at its edges: it takes images
(samples, channels, height, width) and gives (samples, nb_filter, oh, ow). Inside,
nnxp's layer computes on (samples, height, width, channels): the input is transposed on
the way in, the output on the way out (and the gradients the other way). ``input_shape``
is (channels, height, width), for a first layer. ``W`` is nnxp's (kh, kw, channels,
filters); NumpyDL's (filters, channels, kh, kw) is ``W.transpose(3, 2, 0, 1)``.
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ...ops.windows import output_size
from .. import activations, initializations
from .base import Layer, Weights, channels_first, channels_last


class ChannelsFirst:
    """The image layout at the edges of an npdl image layer (inputs and outputs 4-D)."""

    def to_core(self, X):
        return channels_last(X) if X.ndim == 4 else X

    def from_core(self, A):
        return channels_first(A) if A.ndim == 4 else A

    def layout_differs(self) -> bool:
        return True


class Convolution(ChannelsFirst, Weights, Layer, _core.Convolution):
    """Filters sliding over channels-first images, without padding."""

    maps_onto = _core.Convolution

    @takes({"filters": "nb_filter", "strides": "stride", "initialization": "init"}, nnxp=_core.Convolution)
    def __init__(self, nb_filter, filter_size, input_shape=None, stride=1, init="glorot_uniform", activation="relu"):
        self.arguments = {"nb_filter": nb_filter, "filter_size": filter_size, "input_shape": input_shape,
                          "stride": stride, "init": init, "activation": activation}
        _core.Convolution.__init__(self, filters=nb_filter, filter_size=filter_size, strides=stride, padding="valid",
                                   activation=activations.get(activation).core,
                                   initialization=initializations.get(init).core)
        self.nb_filter, self.stride, self.init = nb_filter, stride, init
        self.declared_input_shape = None if input_shape is None else tuple(input_shape)

    def input_shape(self):
        return self.declared_input_shape

    def output_shape(self, input_shape):
        c, h, w = input_shape
        oh, ow = output_size((h, w), self.filter_size, self.strides, ((0, 0), (0, 0)))
        return (self.filters, oh, ow)


__all__ = ["Convolution"]
