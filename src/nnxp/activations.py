"""Activation functions and their derivatives.

A layer computes ``Z`` (say ``Z = X @ W + b``) and then ``A = f(Z)``. Going back, it is
given ``dA = dL/dA`` and needs ``dZ = dL/dZ``. For an element-wise ``f``::

    dZ = dA * f'(Z)

and for softmax, whose outputs depend on each other, the Jacobian-vector product::

    dZ = A * (dA - sum(dA * A, axis=-1)) / T

Each activation is a small object: ``act(Z)`` gives ``A``; ``act.backward(dA, Z, A)``
gives ``dZ`` (it may use ``Z`` or ``A``, whichever makes the derivative cheaper and
stabler). Every formula here is written so that no finite input overflows in float32
or float64: exponentials only ever see non-positive arguments.

Use them by name (``"relu"``) or as objects (``LReLU(alpha=0.1)``). EpyNN's
hyperparameters ``ELU_alpha``, ``LRELU_alpha`` and ``softmax_temperature``, given in a
model's or a layer's ``se_hPars``, set these parameters for every activation of that kind
in the layers they apply to (``tuned``).
"""

from __future__ import annotations


from .backend import array_namespace


class Activation:
    """Base class: subclasses define ``forward(Z)`` and ``backward(dA, Z, A)``."""

    name = "activation"

    def __call__(self, Z):
        return self.forward(Z)

    def forward(self, Z):
        raise NotImplementedError

    def backward(self, dA, Z, A):
        raise NotImplementedError

    def get_config(self) -> dict:
        """What ``get_activation`` needs to rebuild this object (saved in model files)."""
        return {"name": self.name, **self.params()}

    def params(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Activation) and self.get_config() == other.get_config()


class Identity(Activation):
    """A = Z (the linear output of a regression layer)."""

    name = "identity"

    def forward(self, Z):
        return Z

    def backward(self, dA, Z, A):
        return dA


class ReLU(Activation):
    """A = max(Z, 0);  A' = 1 where Z > 0, else 0."""

    name = "relu"

    def forward(self, Z):
        xp = array_namespace(Z)
        return xp.maximum(Z, xp.zeros_like(Z))  # (NumPy: 3x faster than with the scalar 0.0)

    def backward(self, dA, Z, A):
        xp = array_namespace(dA)
        # dA times the 0/1 mask: no data-dependent branch (NumPy's where with a random
        # mask is ~10x slower, its branches mispredicted half the time)
        return dA * xp.astype(Z > 0, dA.dtype)


class LReLU(Activation):
    """Leaky ReLU: A = Z where Z > 0, else alpha * Z;  A' = 1 or alpha."""

    name = "lrelu"

    def __init__(self, alpha: float = 0.3):
        self.alpha = float(alpha)

    def params(self):
        return {"alpha": self.alpha}

    def forward(self, Z):
        xp = array_namespace(Z)
        return xp.where(Z > 0, Z, self.alpha * Z)

    def backward(self, dA, Z, A):
        xp = array_namespace(dA)
        return xp.where(Z > 0, dA, self.alpha * dA)


class ELU(Activation):
    """A = Z where Z > 0, else alpha * (exp(Z) - 1);  A' = 1 or alpha * exp(Z).

    ``exp`` is only taken of min(Z, 0), so large positive Z cannot overflow.
    """

    name = "elu"

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def params(self):
        return {"alpha": self.alpha}

    def forward(self, Z):
        xp = array_namespace(Z)
        negative_part = xp.minimum(Z, 0.0)
        return xp.where(Z > 0, Z, self.alpha * xp.expm1(negative_part))

    def backward(self, dA, Z, A):
        xp = array_namespace(dA)
        negative_part = xp.minimum(Z, 0.0)
        return xp.where(Z > 0, dA, dA * self.alpha * xp.exp(negative_part))


def stable_sigmoid(Z):
    """1 / (1 + exp(-Z)) evaluated as exp(-|Z|) only, which never overflows.

    For Z >= 0 it is 1 / (1 + e) and for Z < 0 it is e / (1 + e), with e = exp(-|Z|).
    """
    xp = array_namespace(Z)
    e = xp.exp(-xp.abs(Z))
    return xp.where(Z >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Activation):
    """A = 1 / (1 + exp(-Z));  A' = A * (1 - A)."""

    name = "sigmoid"

    def forward(self, Z):
        return stable_sigmoid(Z)

    def backward(self, dA, Z, A):
        return dA * A * (1 - A)


class Tanh(Activation):
    """A = tanh(Z) (the library's, which saturates cleanly);  A' = 1 - A^2."""

    name = "tanh"

    def forward(self, Z):
        return array_namespace(Z).tanh(Z)

    def backward(self, dA, Z, A):
        return dA * (1 - A * A)


class Softmax(Activation):
    """A_i = exp(Z_i / T) / sum_j exp(Z_j / T) over the last axis.

    The maximum is subtracted first (it cancels in the ratio) so every exponent is
    <= 0. A temperature T > 1 flattens the distribution, T < 1 sharpens it.
    Backward is the Jacobian-vector product  dZ = A * (dA - sum(dA * A)) / T.
    """

    name = "softmax"

    def __init__(self, temperature: float = 1.0):
        if temperature <= 0:
            raise ValueError(f"softmax temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def params(self):
        return {"temperature": self.temperature}

    def forward(self, Z):
        xp = array_namespace(Z)
        shifted = Z - xp.max(Z, axis=-1, keepdims=True)
        if self.temperature != 1.0:  # dividing by 1 changes no bit, and costs a pass (~2 us a batch)
            shifted = shifted / self.temperature
        E = xp.exp(shifted)
        return E / xp.sum(E, axis=-1, keepdims=True)

    def backward(self, dA, Z, A):
        xp = array_namespace(dA)
        weighted_mean = xp.sum(dA * A, axis=-1, keepdims=True)
        return A * (dA - weighted_mean) / self.temperature


class Softplus(Activation):
    """A = log(1 + exp(Z)) = max(Z, 0) + log1p(exp(-|Z|));  A' = sigmoid(Z)."""

    name = "softplus"

    def forward(self, Z):
        xp = array_namespace(Z)
        return xp.maximum(Z, 0.0) + xp.log1p(xp.exp(-xp.abs(Z)))

    def backward(self, dA, Z, A):
        return dA * stable_sigmoid(Z)


class Softsign(Activation):
    """A = Z / (1 + |Z|);  A' = 1 / (1 + |Z|)^2."""

    name = "softsign"

    def forward(self, Z):
        return Z / (1 + array_namespace(Z).abs(Z))

    def backward(self, dA, Z, A):
        denominator = 1 + array_namespace(Z).abs(Z)
        return dA / denominator / denominator  # not / denominator**2: that overflows in float32


class Elliot(Activation):
    """Elliot's cheap sigmoid:  A = 0.5 * sZ / (1 + |sZ|) + 0.5, in (0, 1).

    A' = 0.5 * s / (1 + |sZ|)^2, with steepness s (1 by default).
    """

    name = "elliot"

    def __init__(self, steepness: float = 1.0):
        self.steepness = float(steepness)

    def params(self):
        return {"steepness": self.steepness}

    def forward(self, Z):
        sZ = self.steepness * Z
        return 0.5 * sZ / (1 + array_namespace(Z).abs(sZ)) + 0.5

    def backward(self, dA, Z, A):
        denominator = 1 + array_namespace(Z).abs(self.steepness * Z)
        return dA * (0.5 * self.steepness) / denominator / denominator  # no overflowing square


class SymmetricElliot(Activation):
    """Elliot's cheap tanh:  A = sZ / (1 + |sZ|), in (-1, 1);  A' = s / (1 + |sZ|)^2.

    With s = 1 it is softsign.
    """

    name = "symmetric_elliot"

    def __init__(self, steepness: float = 1.0):
        self.steepness = float(steepness)

    def params(self):
        return {"steepness": self.steepness}

    def forward(self, Z):
        sZ = self.steepness * Z
        return sZ / (1 + array_namespace(Z).abs(sZ))

    def backward(self, dA, Z, A):
        denominator = 1 + array_namespace(Z).abs(self.steepness * Z)
        return dA * self.steepness / denominator / denominator  # no overflowing square


ACTIVATIONS = {
    cls.name: cls
    for cls in (Identity, ReLU, LReLU, ELU, Sigmoid, Tanh, Softmax, Softplus, Softsign, Elliot, SymmetricElliot)
}
# Common spellings that users type.
ALIASES = {"linear": "identity", "leaky_relu": "lrelu", "leakyrelu": "lrelu", "none": "identity"}


def get_activation(spec) -> Activation:
    """An Activation from a name (``"relu"``), a config dict, an object or None (identity)."""
    if spec is None:
        return Identity()
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, dict):
        params = dict(spec)
        return _lookup(params.pop("name"))(**params)
    if isinstance(spec, str):
        return _lookup(spec)()
    if isinstance(spec, type) and issubclass(spec, Activation):
        return spec()
    raise TypeError(f"an activation is a name, a dict or an Activation, not {type(spec).__name__}")


def _lookup(name: str) -> type:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]


# se_hPars key -> (the activation it tunes, the parameter it sets)
TUNING = {"ELU_alpha": ("elu", "alpha"), "LRELU_alpha": ("lrelu", "alpha"),
          "softmax_temperature": ("softmax", "temperature")}


def tuned(activation: Activation, hpars: dict) -> Activation:
    """``activation`` with the parameter that ``hpars`` sets for its kind, or itself
    when ``hpars`` says nothing about it."""
    for key, (name, parameter) in TUNING.items():
        if activation.name == name and key in hpars and hpars[key] != activation.params()[parameter]:
            return get_activation({**activation.get_config(), parameter: hpars[key]})
    return activation


__all__ = [cls.__name__ for cls in ACTIVATIONS.values()] + ["Activation", "get_activation", "stable_sigmoid",
                                                             "tuned", "TUNING"]
