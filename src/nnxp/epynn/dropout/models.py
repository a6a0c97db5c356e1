"""EpyNN's dropout (``epynn.dropout.models.Dropout``): nnxp's ``Dropout``.

``Dropout(drop_prob=0.5, axis=())``: each element is dropped with probability drop_prob
while training (the kept ones scaled by 1 / (1 - drop_prob)), and the layer is the
identity at evaluation and prediction. ``axis`` shares the mask along those axes.
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ..commons.models import Layer


class Dropout(Layer, _core.Dropout):
    """Switch off a random share of the signal while training."""

    maps_onto = _core.Dropout

    @takes(nnxp=_core.Dropout)
    def __init__(self, drop_prob=0.5, axis=()):
        _core.Dropout.__init__(self, drop_prob, axis)
