"""EpyNN's long short-term memory (``epynn.lstm.models.LSTM``): nnxp's ``LSTM``.

``LSTM(unit_cells=1, activate=tanh, activate_output=sigmoid, activate_candidate=tanh,
activate_input=sigmoid, activate_forget=sigmoid, initialization=orthogonal,
clip_gradients=False, sequences=False, se_hPars=None)``: the gates' activations are
nnxp's ``output_gate``, ``candidate_activation``, ``input_gate`` and ``forget_gate``;
``activate`` acts on the cell state; ``initialization`` draws U and V.
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ..commons.maths import activation_name, function_of, initialization_name, orthogonal, sigmoid, tanh
from ..commons.models import Layer
from ..rnn.models import _RECURRENT, clip_norm


class LSTM(Layer, _core.LSTM):
    """Long short-term memory."""

    maps_onto = _core.LSTM

    @takes({**_RECURRENT, "output_gate": "activate_output", "candidate_activation": "activate_candidate",
            "input_gate": "activate_input", "forget_gate": "activate_forget"}, nnxp=_core.LSTM)
    def __init__(self, unit_cells=1, activate=tanh, activate_output=sigmoid, activate_candidate=tanh,
                 activate_input=sigmoid, activate_forget=sigmoid, initialization=orthogonal, clip_gradients=False,
                 sequences=False, se_hPars=None):
        init = initialization_name(initialization)
        _core.LSTM.__init__(self, unit_cells, sequences=sequences, activation=activation_name(activate),
                            candidate_activation=activation_name(activate_candidate),
                            input_gate=activation_name(activate_input), forget_gate=activation_name(activate_forget),
                            output_gate=activation_name(activate_output), initialization=init,
                            recurrent_initialization=init, clip_gradients=clip_norm(clip_gradients),
                            se_hPars=se_hPars)

    @property
    def activate_output(self):
        return function_of(self.output_gate)

    @property
    def activate_candidate(self):
        return function_of(self.candidate_activation)

    @property
    def activate_input(self):
        return function_of(self.input_gate)

    @property
    def activate_forget(self):
        return function_of(self.forget_gate)
