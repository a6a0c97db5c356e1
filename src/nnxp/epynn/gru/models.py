"""EpyNN's gated recurrent unit (``epynn.gru.models.GRU``): nnxp's ``GRU``.

``GRU(unit_cells=1, activate=tanh, activate_update=sigmoid, activate_reset=sigmoid,
initialization=orthogonal, clip_gradients=False, sequences=False, se_hPars=None)``:
``activate_update`` and ``activate_reset`` are nnxp's ``update_gate`` and ``reset_gate``;
``initialization`` draws U and V. nnxp's GRU is PyTorch's (its docstring has the maths).
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ..commons.maths import activation_name, function_of, initialization_name, orthogonal, sigmoid, tanh
from ..commons.models import Layer
from ..rnn.models import _RECURRENT, clip_norm


class GRU(Layer, _core.GRU):
    """Gated recurrent units."""

    maps_onto = _core.GRU

    @takes({**_RECURRENT, "update_gate": "activate_update", "reset_gate": "activate_reset"}, nnxp=_core.GRU)
    def __init__(self, unit_cells=1, activate=tanh, activate_update=sigmoid, activate_reset=sigmoid,
                 initialization=orthogonal, clip_gradients=False, sequences=False, se_hPars=None):
        init = initialization_name(initialization)
        _core.GRU.__init__(self, unit_cells, sequences=sequences, activation=activation_name(activate),
                           reset_gate=activation_name(activate_reset), update_gate=activation_name(activate_update),
                           initialization=init, recurrent_initialization=init,
                           clip_gradients=clip_norm(clip_gradients), se_hPars=se_hPars)

    @property
    def activate_update(self):
        return function_of(self.update_gate)

    @property
    def activate_reset(self):
        return function_of(self.reset_gate)
