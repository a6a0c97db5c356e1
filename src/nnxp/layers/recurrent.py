"""What RNN, GRU and LSTM share: shapes, weights, the last-state option, clipping.

A recurrent layer reads sequences X (m, steps, n) and keeps u units of state. Its
gates (``d["gates"]``: RNN 1, GRU 3, LSTM 4) have their weights side by side::

    p["U"]  (n, gates*u)   input weights        drawn with ``initialization`` (glorot_uniform)
    p["V"]  (u, gates*u)   recurrent weights    each gate's (u, u) block drawn with
                                                ``recurrent_initialization`` (orthogonal)
    p["b"]  (gates*u,)     bias                 zeros

so one matrix product gives every gate of a step. (``fc["G"]`` is something else: the
gate VALUES of every step, in GRU and LSTM.) The loop itself lives in
``nnxp.ops.recurrent`` (reference code, or a compiled kernel).

Output: every step's hidden state H (m, steps, u) when ``sequences=True``, else only
the last one, h_T (m, u). Going back, the layer hands the op the gradient of every
hidden state: dA itself, or zeros with dA at the last step.

``clip_gradients``: None, or a maximum norm; the layer's parameter gradients are then
scaled together so that their joint L2 norm is at most that (one scale, kept on the
device).
"""

from __future__ import annotations

from .. import checks
from ..activations import get_activation
from ..optimizers import clip_by_global_norm
from .base import Layer, ShapeError, _shape_str


class Recurrent(Layer):
    gates = 1  # how many gates share the weight matrices (d["gates"])
    gate_names: tuple[str, ...] = ()  # the constructor arguments that hold an activation

    def __init__(self, units: int, sequences: bool, initialization, recurrent_initialization, clip_gradients,
                 name, se_hPars):
        super().__init__(name, se_hPars)
        kind = type(self).__name__
        self.units = checks.positive_int("units", units, kind)
        self.sequences = bool(sequences)
        self.initialization = initialization
        self.recurrent_initialization = recurrent_initialization
        self.clip_gradients = checks.optional(checks.finite_number, "clip_gradients", clip_gradients, kind, 0,
                                              low_open=True)

    def set_activations(self, **activations) -> None:
        """Keep each activation argument as an attribute of the same name (an Activation)."""
        for name, spec in activations.items():
            setattr(self, name, get_activation(spec))

    # ------------------------------------------------------------------ shapes
    def check_sequences(self, X) -> None:
        """A ShapeError unless X is (samples, steps, features) with the features seen at
        initialization (the number of steps may change from batch to batch)."""
        if X.ndim != 3:
            raise ShapeError(f"{self.describe()} expects sequences of shape (m, steps, features), "
                             f"got {X.ndim}-D input of shape {_shape_str(X.shape)}")
        expected = self.d.get("n")
        if expected is not None and X.shape[2] != expected:
            raise ShapeError(f"{self.describe()} expects input of shape (m, steps, {expected}), "
                             f"got {_shape_str(X.shape)}")

    def compute_shapes(self, X):
        self.check_sequences(X)
        super().compute_shapes(X)
        self.d["m"], self.d["s"], self.d["n"] = X.shape
        self.d["u"], self.d["gates"] = self.units, self.gates

    def initialize_parameters(self):
        n, u, gates = self.d["n"], self.d["u"], self.gates
        self.p["U"] = self.new_parameter((n, gates * u), self.initialization, fan_in=n, fan_out=gates * u)
        self.p["V"] = self.new_parameter((u, gates * u), self.recurrent_initialization, fan_in=u, fan_out=u,
                                         blocks=gates)  # one (u, u) block per gate
        self.p["b"] = self.new_parameter((gates * u,), "zeros", fan_in=n, fan_out=gates * u)

    # ------------------------------------------------------------------ the output
    def output(self, H):
        """A: every hidden state (sequences=True) or the last one."""
        self.fc["H"] = H
        self.fc["A"] = H if self.sequences else H[:, -1, :]
        return self.fc["A"]

    def hidden_gradient(self, dA):
        """dH (m, steps, u): dA itself, or zeros with dA at the last step."""
        self.bc["dA"] = dA
        if self.sequences:
            dH = dA
        else:
            dH = self.xp(dA).zeros_like(self.fc["H"])
            dH[:, -1, :] = dA  # (basic slice assignment is in the standard)
        self.bc["dH"] = dH
        return dH

    def keep_gradients(self, dX, **parameter_gradients):
        """Record dX, and the parameter gradients the op found on the way back
        (``dU=..., dV=...``: in bc, until compute_gradients hands them to g)."""
        self.bc["dX"] = dX
        self.bc.update(parameter_gradients)
        return dX

    def compute_gradients(self):
        names = list(self.p)
        gradients = [self.bc["d" + name] for name in names]
        if self.clip_gradients is not None:
            gradients = clip_by_global_norm(gradients, self.clip_gradients)
        self.g = {"d" + name: gradient for name, gradient in zip(names, gradients)}
