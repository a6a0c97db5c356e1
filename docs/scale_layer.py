"""Scale: a learned scale and shift for each feature, the worked example of the
"Adding a layer" page (the test suite checks its gradients on every backend).

Shapes: X (m, ..., n) -> A like X, with w (n,) and c (n,). Every axis but the last is a
row axis, as in BatchNorm.

Forward::

    A = X * w + c                    (w and c broadcast over the rows)

Backward, given dA = dL/dA::

    dX = dA * w

Gradients, summing over every row::

    dw = sum(dA * X, rows)           dc = sum(dA, rows)
"""

from __future__ import annotations

from nnxp.layers.base import Layer


class Scale(Layer):
    def __init__(self, name=None, se_hPars=None):
        super().__init__(name, se_hPars)

    def compute_shapes(self, X):
        super().compute_shapes(X)
        self.d["n"] = X.shape[-1]  # one scale and one shift per feature

    def initialize_parameters(self):
        n = self.d["n"]
        self.p["w"] = self.new_parameter((n,), "ones", fan_in=n, fan_out=n)  # start as the identity
        self.p["c"] = self.new_parameter((n,), "zeros", fan_in=n, fan_out=n)

    def forward(self, X):
        self.check_input(X)
        self.fc["X"] = X
        self.fc["A"] = X * self.p["w"] + self.p["c"]
        return self.fc["A"]

    def backward(self, dA):
        self.bc["dA"] = dA
        self.bc["dX"] = dA * self.p["w"]
        return self.bc["dX"]

    def compute_gradients(self):
        xp = self.xp(self.bc["dA"])
        rows = tuple(range(self.bc["dA"].ndim - 1))  # every axis but the features
        self.g["dw"] = xp.sum(self.bc["dA"] * self.fc["X"], axis=rows)
        self.g["dc"] = xp.sum(self.bc["dA"], axis=rows)
