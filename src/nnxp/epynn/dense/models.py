"""EpyNN's fully connected layer (``epynn.dense.models.Dense``): nnxp's ``Dense``.

``Dense(units=1, activate=sigmoid, initialization=xavier, se_hPars=None)``: EpyNN's
defaults (one sigmoid unit, Glorot-normal weights); ``activate`` is one of the
functions of ``nnxp.epynn.commons.maths`` (``Dense(2, softmax)``). A = activate(X W + b).
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ..commons.maths import activation_name, initialization_name, sigmoid, xavier
from ..commons.models import Layer


class Dense(Layer, _core.Dense):
    """Every input connected to every unit."""

    maps_onto = _core.Dense

    @takes({"activation": "activate"}, nnxp=_core.Dense)
    def __init__(self, units=1, activate=sigmoid, initialization=xavier, se_hPars=None):
        _core.Dense.__init__(self, units, activation=activation_name(activate),
                             initialization=initialization_name(initialization), se_hPars=se_hPars)
