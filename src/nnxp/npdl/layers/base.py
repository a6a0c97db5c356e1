"""NumpyDL's layer API (``npdl.layers.Layer``) on top of nnxp's layer contract.

Every npdl layer is an nnxp layer (it trains in an nnxp ``Model``, on every backend) that
also answers to NumpyDL's names::

    connect_to(prev_layer=None)   size the layer from prev_layer.out_shape (or its own
                                  n_in / input_shape) and draw its parameters
    forward(input)                the output, in NumpyDL's layout
    backward(pre_grad)            dL/d(input), given dL/d(output)
    params, grads, param_grads    lists: [W, b], [dW, db], [(W, dW), (b, db)]
    out_shape                     the output's shape, None for the samples
    to_json(), from_json(config)  the constructor arguments, and back

NumpyDL's layouts are not nnxp's everywhere: images are (samples, channels, height,
width), where nnxp's are (samples, height, width, channels). An npdl layer keeps its
seed's layout at its edges and nnxp's inside: ``to_core`` turns an input (or a gradient
from above) into what the nnxp layer computes on, ``from_core`` turns the nnxp layer's
output (or dX) back; both are the identity but for the image layers. The caches ``fc``,
``bc`` and the parameters ``p`` stay nnxp's (a convolution's W is (kh, kw, c, f)).

``grads`` are computed when first asked for after a ``backward`` (a model calls
``compute_gradients`` itself, and the work is not done twice).

Written to a model file (``model.network.write``), an npdl layer is the nnxp layer it maps
onto, and loads as that. A layer that computes in another layout than it shows
(channels-first images, or a BatchNormal over more than one axis) would come back as an
nnxp layer that reads its input otherwise: it refuses to be written (``layout_differs``).

A layer whose activation is a softmax takes ``pre_grad`` as the gradient at the
softmax's input, as NumpyDL's does (its softmax derivative is ones): pair it with SCCE,
whose ``backward`` gives exactly that.
"""

from __future__ import annotations

import numpy as np

from ... import layers as _core
from ..utils.random import draw_seed


class Layer(_core.Layer):
    """The base of NumpyDL's layers; subclass it for a layer of your own."""

    def __init__(self):
        super().__init__()

    # ------------------------------------------------------------------ the two layouts
    def to_core(self, X):
        """An input (or a gradient of the output) in nnxp's layout."""
        return X

    def from_core(self, A):
        """An output (or dL/dX) of the nnxp layer in NumpyDL's layout."""
        return A

    def input_shape(self):
        """The input shape without the samples, when the layer's arguments give it."""
        return None

    # ------------------------------------------------------------------ the contract, at the edges
    def compute_shapes(self, X):
        self.seen_shape = tuple(X.shape[1:])  # the input as NumpyDL shapes it
        super().compute_shapes(self.to_core(X))

    def forward(self, input, *args, **kwargs):
        if not self.p and not self.fs:  # used alone, never connected: sized by its first input
            self.initialize(input, seed=draw_seed())
        return self.from_core(super().forward(self.to_core(input)))

    def backward(self, pre_grad, *args, dZ=None, **kwargs):
        if dZ is None and self.passes_gradient_through():
            pre_grad, dZ = None, pre_grad  # the objective gave dL/dZ already (SCCE)
        dA = None if pre_grad is None else self.to_core(pre_grad)
        if dZ is not None:
            dX = super().backward(dA, dZ=self.to_core(dZ))
        else:
            dX = super().backward(dA)
        return None if dX is None else self.from_core(dX)

    def passes_gradient_through(self) -> bool:
        """True for an output layer with a softmax activation (see the module)."""
        activation = getattr(self, "activation", None)
        return getattr(self, "accepts_dZ", False) and getattr(activation, "name", None) == "softmax"

    def compute_gradients(self):
        super().compute_gradients()
        self._graded = self._last_backward()

    def _last_backward(self):
        """The array that identifies the last backward pass (its dZ, dA or dH)."""
        return next((self.bc[key] for key in ("dZ", "dA", "dH") if self.bc.get(key) is not None), None)

    # ------------------------------------------------------------------ NumpyDL's API
    def connect_to(self, prev_layer=None):
        """Size the layer from ``prev_layer.out_shape`` (or its own input size) and draw
        its parameters with a seed from the package generator."""
        if prev_layer is not None:
            shape = tuple(prev_layer.out_shape[1:])
        else:
            shape = self.input_shape()
            if shape is None:
                raise ValueError(f"{self.describe()}: the first layer needs its input size "
                                 f"(n_in, or input_shape for a convolution) to connect to nothing")
        probe = np.zeros((1, *[1 if size is None else size for size in shape]))
        self.initialize(self.active_backend().asarray(probe), seed=draw_seed())
        return self

    @property
    def params(self) -> list:
        """The learned parameters, in the order of ``p`` (W before b)."""
        return [value for name, value in self.p.items() if name not in self.buffers]

    @property
    def grads(self) -> list:
        """Their gradients from the last ``backward`` (computed now if not yet); none for a
        frozen layer (``need_grad=False``)."""
        if not self.trainable:
            return []
        if self.params and getattr(self, "_graded", None) is not self._last_backward():
            self.compute_gradients()
        return [self.g["d" + name] for name in self.p if name not in self.buffers]

    @property
    def param_grads(self) -> list:
        return list(zip(self.params, self.grads))

    @property
    def out_shape(self):
        """The output's shape, None for the samples (and for steps not fixed)."""
        if not self.fs:
            return None
        return (None, *self.output_shape(self.seen_shape))

    def output_shape(self, input_shape) -> tuple:
        """The output shape (without the samples) for an input of ``input_shape``."""
        return tuple(input_shape)

    def to_json(self) -> dict:
        """The constructor arguments, NumpyDL's names (activations and initializers as configs)."""
        return {name: _json(value) for name, value in getattr(self, "arguments", {}).items()}

    def layout_differs(self) -> bool:
        """True when the nnxp layer inside sees its input in another layout (see the module)."""
        return False

    def config_class(self) -> type:
        if self.layout_differs():
            raise NotImplementedError(
                f"{self.describe()} takes NumpyDL's layout (channels-first images, or normalises over more than "
                f"one axis) where the nnxp layer it maps onto takes nnxp's: a model file of nnxp layers cannot hold "
                f"it unchanged. Build the model from nnxp.layers (channels-last) to write it to a file")
        return super().config_class()

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self.to_json().items())
        return f"{type(self).__name__}({args})"

    @classmethod
    def from_json(cls, config: dict):
        return cls(**config)


def _json(value):
    return value.to_json() if hasattr(value, "to_json") else value


class Weights:
    """``W`` and ``b``: NumpyDL's names for the parameters of the layers that have them."""

    @property
    def W(self):
        return self.p.get("W")

    @W.setter
    def W(self, value):
        self.p["W"] = self.active_backend().asarray(value)

    @property
    def b(self):
        return self.p.get("b")

    @b.setter
    def b(self, value):
        self.p["b"] = self.active_backend().asarray(value)

    @property
    def dW(self):
        return self.grads[0] if self.params else None

    @property
    def db(self):
        return self.grads[1] if len(self.params) > 1 else None


# Images: NumpyDL's (m, c, h, w) against nnxp's (m, h, w, c)
def channels_last(X):
    return _permute(X, (0, 2, 3, 1))


def channels_first(A):
    return _permute(A, (0, 3, 1, 2))


def _permute(X, axes):
    from array_api_compat import array_namespace

    return array_namespace(X).permute_dims(X, axes)


__all__ = ["Layer"]
