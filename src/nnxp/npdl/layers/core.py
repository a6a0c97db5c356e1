"""NumpyDL's core layers (``npdl.layers.core``): Linear, Dense, Softmax, Dropout.

==========================================  ===============================================
NumpyDL                                     nnxp
==========================================  ===============================================
Linear(n_out, n_in=None, init)              Dense(n_out, activation="identity")
Dense(n_out, n_in=None, init, activation)   Dense(n_out, activation) (default tanh here)
Softmax(n_out, n_in=None, init)             Dense(n_out, activation="softmax")
Dropout(p=0.0): p is the fraction KEPT      Dropout(drop_prob=1 - p): the fraction dropped
==========================================  ===============================================

``init`` defaults to 'glorot_uniform', as in nnxp. ``Dropout`` keeps each input with
probability p and scales the kept ones by 1 / p (inverted dropout, as nnxp's); a p outside
(0, 1), the default 0.0 included, switches it off, as in NumpyDL. ``forward(input,
train=False)`` is the identity (evaluation).
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from .. import activations, initializations
from .base import Layer, Weights

_DENSE = {"units": "n_out", "initialization": "init"}


class Linear(Weights, Layer, _core.Dense):
    """A fully connected layer without activation: input @ W + b."""

    maps_onto = _core.Dense

    @takes(_DENSE, nnxp=_core.Dense)
    def __init__(self, n_out, n_in=None, init="glorot_uniform"):
        self.arguments = {"n_out": n_out, "n_in": n_in, "init": init}
        _core.Dense.__init__(self, units=n_out, activation="identity", initialization=initializations.get(init).core)
        self.n_out, self.n_in, self.init = n_out, n_in, init

    def input_shape(self):
        return None if self.n_in is None else (self.n_in,)

    def output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)


class Dense(Linear):
    """A fully connected layer: activation(input @ W + b)."""

    maps_onto = _core.Dense

    @takes(_DENSE, nnxp=_core.Dense)
    def __init__(self, n_out, n_in=None, init="glorot_uniform", activation="tanh"):
        super().__init__(n_out, n_in, init)
        self.arguments["activation"] = activation
        self.activation = activations.get(activation).core


class Softmax(Linear):
    """A fully connected layer with a softmax: softmax(input @ W + b)."""

    maps_onto = _core.Dense

    @takes(_DENSE, nnxp=_core.Dense)
    def __init__(self, n_out, n_in=None, init="glorot_uniform"):
        super().__init__(n_out, n_in, init)
        self.activation = activations.Softmax().core


class Dropout(Layer, _core.Dropout):
    """Keeps each input with probability p (the fraction kept, NumpyDL's meaning)."""

    maps_onto = _core.Dropout

    @takes({"drop_prob": "p (the fraction KEPT: p = 1 - drop_prob)"}, nnxp=_core.Dropout)
    def __init__(self, p=0.0):
        if not 0 <= p <= 1:
            raise ValueError(f"npdl.layers.Dropout: p, the fraction of the inputs kept, must be in [0, 1], got {p}")
        self.arguments = {"p": p}
        _core.Dropout.__init__(self, drop_prob=1 - p if 0 < p < 1 else 0.0)
        self.p_kept = p

    def forward(self, input, train=None, *args, **kwargs):
        """``train=False``: evaluation, the identity; None: the model's mode."""
        if train is None:
            return super().forward(input)
        mode, self.training = self.training, bool(train)
        try:
            return super().forward(input)
        finally:
            self.training = mode


__all__ = ["Linear", "Dense", "Softmax", "Dropout"]
