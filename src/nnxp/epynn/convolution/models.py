"""EpyNN's convolution (``epynn.convolution.models.Convolution``): nnxp's ``Convolution``.

``Convolution(unit_filters=1, filter_size=(3, 3), strides=None, padding=0,
activate=relu, initialization=xavier, use_bias=True, se_hPars=None)``: images are
(samples, height, width, channels) in both; ``strides=None`` means strides equal to the
filter size (windows side by side, as EpyNN's default); ``padding`` zeros on each side.
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ..commons.maths import activation_name, initialization_name, relu, xavier
from ..commons.models import Layer


class Convolution(Layer, _core.Convolution):
    """Filters sliding over images."""

    maps_onto = _core.Convolution

    @takes({"filters": "unit_filters", "activation": "activate"}, nnxp=_core.Convolution)
    def __init__(self, unit_filters=1, filter_size=(3, 3), strides=None, padding=0, activate=relu,
                 initialization=xavier, use_bias=True, se_hPars=None):
        _core.Convolution.__init__(self, unit_filters, filter_size, strides=filter_size if strides is None else strides,
                                   padding=padding, activation=activation_name(activate),
                                   initialization=initialization_name(initialization), use_bias=use_bias,
                                   se_hPars=se_hPars)
