"""EpyNN's recurrent layer (``epynn.rnn.models.RNN``): nnxp's ``RNN``.

``RNN(unit_cells=1, activate=tanh, initialization=xavier, clip_gradients=True,
sequences=False, se_hPars=None)``: ``initialization`` draws both the input weights U and
the recurrent V; ``clip_gradients=True`` scales the layer's gradients to a joint norm of
at most 0.25 (``maths.clip_gradient``'s default), False leaves them; ``sequences=True``
returns every hidden state, else the last.
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ..commons.maths import activation_name, initialization_name, tanh, xavier
from ..commons.models import Layer

_RECURRENT = {"units": "unit_cells", "activation": "activate", "recurrent_initialization": "initialization"}


def clip_norm(clip_gradients):
    """EpyNN's clip_gradients (True: 0.25, False: off, or a norm) as nnxp's maximum norm."""
    if clip_gradients is True:
        return 0.25
    return None if clip_gradients is False or clip_gradients is None else float(clip_gradients)


class RNN(Layer, _core.RNN):
    """The simple (Elman) recurrent layer."""

    maps_onto = _core.RNN

    @takes(_RECURRENT, nnxp=_core.RNN)
    def __init__(self, unit_cells=1, activate=tanh, initialization=xavier, clip_gradients=True, sequences=False,
                 se_hPars=None):
        init = initialization_name(initialization)
        _core.RNN.__init__(self, unit_cells, sequences=sequences, activation=activation_name(activate),
                           initialization=init, recurrent_initialization=init,
                           clip_gradients=clip_norm(clip_gradients), se_hPars=se_hPars)
