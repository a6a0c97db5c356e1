"""EpyNN's flatten (``epynn.flatten.models.Flatten``): nnxp's ``Flatten``:
(m, d1, d2, ...) -> (m, d1 * d2 * ...)."""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ..commons.models import Layer


class Flatten(Layer, _core.Flatten):
    """Reshape each sample to a row."""

    maps_onto = _core.Flatten

    @takes(nnxp=_core.Flatten)
    def __init__(self):
        _core.Flatten.__init__(self)
