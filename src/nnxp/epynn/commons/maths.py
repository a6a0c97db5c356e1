"""EpyNN's maths (``epynn.commons.maths``): activations and initializers as functions.

Each activation is called EpyNN's way, ``f(x, deriv=False)``, and computed by nnxp's::

    relu(x)              A = nnxp's ReLU()(x)
    relu(x, deriv=True)  f'(x) element by element: nnxp's backward(1, x, A)
    softmax(x, True)     the Jacobian J[m, j, k] = dA_j / dx_k, one column per
                         basis vector through nnxp's softmax backward

Give them to a layer as its activation (``Dense(2, softmax)``): the layer runs the nnxp
activation of the same name. ``ELU_alpha``, ``LRELU_alpha`` and ``softmax_temperature``
come from ``se_hPars``: in a model, from the values in force for each layer; called
here, from the last ``activation_tune(se_hPars)`` (EpyNN's defaults at first).

``xavier`` is Glorot's normal initializer, N(0, 2 / (fan_in + fan_out)), and
``orthogonal`` an orthogonal matrix: nnxp's ``glorot_normal`` and ``orthogonal``. Called
here with a shape (and ``rng``), they draw an array; given to a layer
(``initialization=xavier``), the layer draws with them from its own seeded generator.
"""

from __future__ import annotations

import math

import numpy as np
from array_api_compat import array_namespace

from ... import activations as _activations
from ... import initializers as _initializers
from ...optimizers import clip_by_global_norm
from ..settings import se_hPars as _defaults

_tuning = {key: _defaults[key] for key in _activations.TUNING}  # what activation_tune set last


class Activation:
    """An EpyNN activation function, ``f(x, deriv=False)``, over an nnxp activation."""

    def __init__(self, name: str, doc: str):
        self.__name__ = self.name = name
        self.__doc__ = doc

    def core(self) -> _activations.Activation:
        """The nnxp activation, with the tuning in force here."""
        return _activations.tuned(_activations.get_activation(self.name), _tuning)

    def __call__(self, x, deriv=False):
        activation = self.core()
        A = activation(x)
        if not deriv:
            return A
        xp = array_namespace(x)
        if self.name == "softmax":
            return softmax_jacobian(activation, x, A)
        return activation.backward(xp.ones_like(x), x, A)

    def __repr__(self) -> str:
        return f"<EpyNN activation {self.name}>"


def softmax_jacobian(activation, Z, A):
    """J[..., j, k] = dA_j / dZ_k: column k is nnxp's backward of the basis vector e_k."""
    xp = array_namespace(Z)
    n = Z.shape[-1]
    basis = xp.eye(n, dtype=Z.dtype)
    rows = [activation.backward(xp.broadcast_to(basis[k], Z.shape), Z, A) for k in range(n)]  # d A_k / d Z
    return xp.stack(rows, axis=-2)


identity = Activation("identity", "A = x;  derivative 1.")
relu = Activation("relu", "A = max(x, 0);  derivative 1 where x > 0, else 0.")
lrelu = Activation("lrelu", "A = x where x > 0, else LRELU_alpha * x.")
elu = Activation("elu", "A = x where x > 0, else ELU_alpha * (exp(x) - 1).")
sigmoid = Activation("sigmoid", "A = 1 / (1 + exp(-x));  derivative A (1 - A).")
tanh = Activation("tanh", "A = tanh(x);  derivative 1 - A^2.")
softmax = Activation("softmax", "A = exp(x / T) / sum exp(x / T), T = softmax_temperature.")

ACTIVATIONS = {f.name: f for f in (identity, relu, lrelu, elu, sigmoid, tanh, softmax)}


def activation_name(activate) -> str:
    """nnxp's name for an activation given to a layer: one of the functions here (or its name)."""
    name = getattr(activate, "name", activate)
    if isinstance(name, str) and name in ACTIVATIONS:
        return name
    raise ValueError(f"an EpyNN activation is one of nnxp.epynn.commons.maths' functions "
                     f"{sorted(ACTIVATIONS)}, got {activate!r}")


def function_of(activation) -> Activation:
    """The EpyNN function for an nnxp activation (a layer's ``activate``)."""
    return ACTIVATIONS[activation.name]


def activation_tune(se_hPars) -> None:
    """Set ELU_alpha, LRELU_alpha and softmax_temperature for the functions called here."""
    _tuning.update({key: se_hPars[key] for key in _activations.TUNING if key in se_hPars})


# --------------------------------------------------------------------------- initializers
class Initialization:
    """An EpyNN initializer, ``f(shape, rng=np.random)``, over an nnxp initializer."""

    def __init__(self, name: str, core: str, doc: str):
        self.__name__, self.core, self.__doc__ = name, core, doc

    def __call__(self, shape, rng=np.random):
        shape = tuple(shape)
        fan_in, fan_out = fans(shape)
        return _initializers.get_initializer(self.core)(shape, rng, fan_in, fan_out)

    def __repr__(self) -> str:
        return f"<EpyNN initializer {self.__name__}>"


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out): (n, u) for a matrix; for a filter bank (..., d, u), the window
    times the depth d, and the window times the units u."""
    if len(shape) < 2:
        return shape[0], shape[0]
    window = math.prod(shape[:-2])
    return window * shape[-2], window * shape[-1]


xavier = Initialization("xavier", "glorot_normal", "Glorot's normal: N(0, 2 / (fan_in + fan_out)).")
orthogonal = Initialization("orthogonal", "orthogonal", "An orthogonal matrix (QR of a Gaussian one).")

INITIALIZATIONS = {f.__name__: f for f in (xavier, orthogonal)}


def initialization_name(initialization) -> str:
    """nnxp's name for an initializer given to a layer (xavier, orthogonal, or an nnxp name)."""
    if isinstance(initialization, Initialization):
        return initialization.core
    if isinstance(initialization, str):
        return INITIALIZATIONS[initialization].core if initialization in INITIALIZATIONS else initialization
    raise ValueError(f"an EpyNN initialization is xavier or orthogonal (nnxp.epynn.commons.maths) or an nnxp "
                     f"initializer's name, got {initialization!r}")


# --------------------------------------------------------------------------- gradients
def clip_gradient(layer, max_norm=0.25) -> None:
    """Scale the layer's gradients together so that their joint norm is at most max_norm."""
    names = list(layer.g)
    for name, gradient in zip(names, clip_by_global_norm([layer.g[n] for n in names], max_norm)):
        layer.g[name] = gradient


def hadamard(dA, dLinear):
    """dZ from dA and the activation's derivative: their element-wise product, or, for a
    Jacobian (one axis more, softmax's), dZ_k = sum_j dA_j J[j, k]."""
    if dLinear.ndim == dA.ndim + 1:
        xp = array_namespace(dA)
        return xp.sum(dA[..., :, None] * dLinear, axis=-2)
    return dA * dLinear


__all__ = ["identity", "relu", "lrelu", "elu", "sigmoid", "tanh", "softmax", "xavier", "orthogonal",
           "clip_gradient", "hadamard", "activation_tune"]
