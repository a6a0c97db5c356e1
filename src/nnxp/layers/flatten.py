"""Flatten: (m, d1, d2, ...) -> (m, d1 * d2 * ...), so that a Dense layer can follow
a convolution. Nothing is computed: forward and backward only reshape::

    A  = reshape(X, (m, -1))
    dX = reshape(dA, shape of X)

``outdim`` is the number of axes A keeps (NumpyDL's): the first outdim - 1 axes stay,
the rest are flattened into the last; the default, 2, gives (m, d1 * d2 * ...).
"""

from __future__ import annotations

from .base import Layer


class Flatten(Layer):
    def __init__(self, outdim: int = 2, name=None, se_hPars=None):
        super().__init__(name, se_hPars)
        if int(outdim) < 1:
            raise ValueError(f"Flatten: outdim must be >= 1, got {outdim}")
        self.outdim = int(outdim)

    def forward(self, X):
        self.check_input(X)
        self.fc["X"] = X
        self.fc["A"] = self.xp(X).reshape(X, (*X.shape[:self.outdim - 1], -1))
        return self.fc["A"]

    def backward(self, dA):
        self.bc["dA"] = dA
        self.bc["dX"] = self.xp(dA).reshape(dA, self.fc["X"].shape)
        return self.bc["dX"]
