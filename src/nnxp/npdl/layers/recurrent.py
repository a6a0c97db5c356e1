"""NumpyDL's recurrent layers (``npdl.layers.recurrent``) on nnxp's RNN, GRU and LSTM.

``Recurrent(n_out, n_in=None, nb_batch=None, nb_seq=None, init='glorot_uniform',
inner_init='orthogonal', activation='tanh', return_sequence=False)`` holds the arguments
they share, under nnxp's names::

    n_out            units                      init        initialization (input weights U)
    n_in, nb_seq     the input (nb_seq, n_in)   inner_init  recurrent_initialization (V)
    return_sequence  sequences                  activation  activation

==============================================  ============================================
NumpyDL                                         nnxp
==============================================  ============================================
SimpleRNN(**kwargs)                             RNN
GRU(gate_activation='sigmoid', need_grad, ...)  GRU(reset_gate=update_gate=gate_activation)
LSTM(gate_activation='sigmoid', need_grad,      LSTM(input_gate=forget_gate=output_gate=
forget_bias_num=1, ...), BatchLSTM(...)         gate_activation, forget_bias=forget_bias_num)
==============================================  ============================================

``need_grad=False`` freezes the layer (nnxp's ``trainable=False``). Sequences are
(samples, steps, features) in both. nnxp's recurrent layers start every sequence from
zero states and take no masks: NumpyDL's ``LSTM.forward(input, mask, c0, h0)`` accepts a
mask of ones and no initial states, and says so otherwise; unlike NumpyDL's LSTM, which
"does not support training", nnxp's trains (``BatchLSTM`` is the same layer).
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from .. import activations, initializations
from .base import Layer

_RECURRENT = {"units": "n_out", "sequences": "return_sequence", "initialization": "init",
              "recurrent_initialization": "inner_init"}


class Recurrent(Layer):
    """The arguments every NumpyDL recurrent layer takes (use SimpleRNN, GRU or LSTM)."""

    @takes(_RECURRENT, nnxp=_core.RNN)
    def __init__(self, n_out, n_in=None, nb_batch=None, nb_seq=None, init="glorot_uniform",
                 inner_init="orthogonal", activation="tanh", return_sequence=False):
        self.arguments = {"n_out": n_out, "n_in": n_in, "nb_batch": nb_batch, "nb_seq": nb_seq, "init": init,
                          "inner_init": inner_init, "activation": activation, "return_sequence": return_sequence}
        self.n_out, self.n_in, self.nb_batch, self.nb_seq = n_out, n_in, nb_batch, nb_seq
        self.return_sequence = return_sequence

    def core_arguments(self) -> dict:
        """The arguments of the nnxp layer, from NumpyDL's."""
        a = self.arguments
        return {"units": a["n_out"], "sequences": bool(a["return_sequence"]),
                "activation": activations.get(a["activation"]).core,
                "initialization": initializations.get(a["init"]).core,
                "recurrent_initialization": initializations.get(a["inner_init"]).core}

    def forward(self, input, *args, **kwargs):
        if type(self) is Recurrent:
            raise NotImplementedError("npdl.layers.Recurrent holds what the recurrent layers share: "
                                      "use SimpleRNN, GRU, LSTM or BatchLSTM")
        return super().forward(input)

    def input_shape(self):
        return None if self.n_in is None else (self.nb_seq, self.n_in)

    def output_shape(self, input_shape):
        steps = self.nb_seq if self.nb_seq is not None else None
        return (steps, self.units) if self.sequences else (self.units,)

    def compute_gradients(self):
        if self.trainable:  # need_grad=False: nothing to learn, nothing to compute
            super().compute_gradients()


class SimpleRNN(Recurrent, _core.RNN):
    """o_t = tanh(U x_t + W o_{t-1} + b): nnxp's RNN."""

    maps_onto = _core.RNN

    @takes(_RECURRENT, nnxp=_core.RNN)
    def __init__(self, **kwargs):
        Recurrent.__init__(self, **kwargs)
        _core.RNN.__init__(self, **self.core_arguments())


class GRU(Recurrent, _core.GRU):
    """Gated recurrent units: nnxp's GRU with both gates activated by ``gate_activation``."""

    maps_onto = _core.GRU

    @takes({**_RECURRENT, "reset_gate": "gate_activation", "update_gate": "gate_activation",
            "trainable": "need_grad"}, nnxp=_core.GRU)
    def __init__(self, gate_activation="sigmoid", need_grad=True, **kwargs):
        Recurrent.__init__(self, **kwargs)
        gate = activations.get(gate_activation).core
        _core.GRU.__init__(self, **self.core_arguments(), reset_gate=gate, update_gate=gate)
        self.arguments.update(gate_activation=gate_activation, need_grad=need_grad)
        self.gate_activation, self.need_grad, self.trainable = gate_activation, need_grad, bool(need_grad)


class LSTM(Recurrent, _core.LSTM):
    """Long short-term memory: nnxp's LSTM with the input, forget and output gates
    activated by ``gate_activation`` and the forget gate's bias starting at
    ``forget_bias_num``."""

    maps_onto = _core.LSTM

    @takes({**_RECURRENT, "input_gate": "gate_activation", "forget_gate": "gate_activation",
            "output_gate": "gate_activation", "forget_bias": "forget_bias_num", "trainable": "need_grad"},
           nnxp=_core.LSTM)
    def __init__(self, gate_activation="sigmoid", need_grad=True, forget_bias_num=1, **kwargs):
        Recurrent.__init__(self, **kwargs)
        gate = activations.get(gate_activation).core
        _core.LSTM.__init__(self, **self.core_arguments(), input_gate=gate, forget_gate=gate, output_gate=gate,
                            forget_bias=forget_bias_num)
        self.arguments.update(gate_activation=gate_activation, need_grad=need_grad, forget_bias_num=forget_bias_num)
        self.gate_activation, self.need_grad, self.trainable = gate_activation, need_grad, bool(need_grad)
        self.forget_bias_num = forget_bias_num

    def forward(self, input, mask=None, c0=None, h0=None):
        """Every sequence from zero states, every step counted (see the module)."""
        _no_masks_nor_states(self, mask=mask, c0=c0, h0=h0)
        return super().forward(input)


class BatchLSTM(LSTM):
    """NumpyDL's trainable LSTM: the same nnxp LSTM."""

    maps_onto = _core.LSTM

    def forward(self, input, c0=None, h0=None):
        _no_masks_nor_states(self, c0=c0, h0=h0)
        return Recurrent.forward(self, input)

    def backward(self, pre_grad, dcn=None, dh=None, *args, **kwargs):
        _no_masks_nor_states(self, dcn=dcn, dh=dh)
        return super().backward(pre_grad, *args, **kwargs)


def _no_masks_nor_states(layer, **given) -> None:
    """A NotImplementedError for a mask that is not all ones, or an initial state."""
    for name, value in given.items():
        if value is None:
            continue
        if name == "mask":
            from array_api_compat import array_namespace

            if bool(array_namespace(value).all(value == 1)):
                continue
        raise NotImplementedError(f"{layer.describe()}: nnxp's recurrent layers take no {name!r} (masks and "
                                  f"initial states are not supported: every sequence starts from zero states "
                                  f"and every step counts)")


__all__ = ["Recurrent", "SimpleRNN", "GRU", "LSTM", "BatchLSTM"]
