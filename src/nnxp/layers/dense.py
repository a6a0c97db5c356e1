"""Dense: every input connected to every unit.

Shapes: X (m, n) -> A (m, u), with W (n, u) and b (u,). Extra leading axes are
allowed, (m, steps, n) -> (m, steps, u): the same W is applied at every step.

Forward::

    Z = X @ W + b
    A = f(Z)

Backward, given dA = dL/dA::

    dZ = dA * f'(Z)        (or the fused dZ that softmax + CCE hands over)
    dX = dZ @ W.T

Gradients, summing over every row (each sample, and each step)::

    dW = X.T @ dZ
    db = sum(dZ, rows)
"""

from __future__ import annotations

from .. import checks
from ..activations import get_activation
from ..ops import sum_rows
from ..initializers import get_initializer
from .base import Layer, ShapeError, _shape_str


class Dense(Layer):
    accepts_dZ = True  # backward(dA, dZ=...) takes the fused output gradient

    def __init__(self, units: int = 1, activation="sigmoid", initialization="glorot_uniform",
                 use_bias: bool = True, name=None, se_hPars=None):
        super().__init__(name, se_hPars)
        self.units = checks.positive_int("units", units, "Dense")
        self.activation = get_activation(activation)
        get_initializer(initialization)  # an unknown name fails here, not at initialize
        self.initialization = initialization
        self.use_bias = use_bias

    def compute_shapes(self, X):
        if X.ndim < 2:
            raise ShapeError(f"{self.describe()} expects input of shape (m, n) or (m, ..., n), one row per sample, "
                             f"got {_shape_str(X.shape)}")
        super().compute_shapes(X)
        self.d["n"], self.d["u"] = X.shape[-1], self.units

    def initialize_parameters(self):
        n, u = self.d["n"], self.d["u"]
        self.p["W"] = self.new_parameter((n, u), self.initialization, fan_in=n, fan_out=u)
        if self.use_bias:
            self.p["b"] = self.new_parameter((u,), "zeros", fan_in=n, fan_out=u)

    def forward(self, X):
        self.check_input(X)
        fc = self.fc
        fc["X"] = X
        Z = X @ self.p["W"]
        if self.use_bias:
            Z = Z + self.p["b"]
        fc["Z"] = Z
        fc["A"] = self.activation(Z)
        return fc["A"]

    def backward(self, dA, dZ=None):
        """dZ, when given, is dL/dZ already (the fused softmax + cross-entropy gradient).
        A first layer (``input_gradient`` False) skips dX: nothing uses it."""
        dZ = self.activation_backward(dA, dZ)
        self.bc["dX"] = dZ @ self.xp(dZ).matrix_transpose(self.p["W"]) if self.input_gradient else None
        return self.bc["dX"]

    def compute_gradients(self):
        xp = self.xp(self.bc["dZ"])
        X_rows, dZ_rows = self.fc["X"], self.bc["dZ"]
        if X_rows.ndim > 2:  # (m, steps, n) -> (m * steps, n)
            X_rows, dZ_rows = xp.reshape(X_rows, (-1, self.d["n"])), xp.reshape(dZ_rows, (-1, self.d["u"]))
        self.g["dW"] = xp.matrix_transpose(X_rows) @ dZ_rows
        if self.use_bias:
            self.g["db"] = sum_rows(dZ_rows)  # sum over the rows (see nnxp.ops.sum_rows)
