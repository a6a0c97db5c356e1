"""Template: the smallest complete layer, and the place to start a new one.

It passes its input through unchanged (A = X, dX = dA) while going through every step
of the contract in ``base.py``. To write a layer of your own, copy this file and:

1. keep each constructor argument as an attribute of the same name (saving needs it);
2. in ``compute_shapes``, read the sizes you need from X into ``self.d``;
3. in ``initialize_parameters``, draw ``self.p[...]`` with ``self.new_parameter``;
4. in ``forward``, cache what backward will need in ``self.fc`` and return A;
5. in ``backward``, cache in ``self.bc`` and return dX (dL/dX) for the layer before;
6. in ``compute_gradients``, fill ``self.g["d" + name]`` for every ``self.p[name]``;
7. import it in ``layers/__init__.py`` and add a gradient check in ``tests/``.

Use only ``xp = self.xp(X)`` functions of the Array API standard on arrays, so the layer
runs on every backend; the test suite runs each layer on the ``strict`` backend to
prove it.
"""

from __future__ import annotations

from .base import Layer


class Template(Layer):
    def __init__(self, name=None, se_hPars=None):
        super().__init__(name, se_hPars)

    def compute_shapes(self, X):
        super().compute_shapes(X)  # fs["X"] = (m, ...): any number of axes
        self.d["m"] = X.shape[0]  # the number of samples (rows) in the batch
        self.d["n"] = X.size // X.shape[0]  # features per sample: the size of X over m

    def initialize_parameters(self):
        pass  # a layer with weights would draw them here, e.g. self.p["W"] = self.new_parameter(...)

    def forward(self, X):
        self.check_input(X)
        self.fc["X"] = self.fc["A"] = X
        return X

    def backward(self, dA):
        self.bc["dA"] = self.bc["dX"] = dA
        return dA

    def compute_gradients(self):
        pass  # for each p["W"], set g["dW"] here
