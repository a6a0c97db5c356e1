"""NumpyDL's activations (``npdl.activations``), each one nnxp activation underneath.

An object with NumpyDL's two methods::

    forward(input)        A = f(input), remembered (``last_forward``)
    derivative(input=None) f'(input), of the last input when none is given:
                          nnxp's ``backward(1, Z, A)``, the element-wise derivative

``Softmax.derivative()`` is ones, as NumpyDL's: its gradient is the objective's
business (``SCCE.backward`` gives dL/dZ at the softmax's input, p - t), so a layer with a
softmax activation passes what it receives straight through.

A layer given one of these (or its name: ``'relu'``) runs the nnxp activation ``.core``.
"""

from __future__ import annotations

from array_api_compat import array_namespace

from .. import activations as _core
from ..facades import takes


class Activation:
    """Base class for activations: ``core`` is the nnxp activation that computes."""

    core: _core.Activation = _core.Identity()

    def __init__(self):
        self.last_input = self.last_forward = None

    def forward(self, input, *args, **kwargs):
        """A = f(input) (nnxp's formula, stable for every finite input)."""
        self.last_input, self.last_forward = input, self.core(input)
        return self.last_forward

    def derivative(self, input=None):
        """f'(input), element by element; of the last forward's input when none is given."""
        Z = self.last_input if input is None else input
        A = self.last_forward if input is None else self.core(Z)
        return self.core.backward(array_namespace(Z).ones_like(Z), Z, A)

    def to_json(self) -> dict:
        return self.core.get_config()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """1 / (1 + exp(-x));  derivative (1 - f) f."""

    def __init__(self):
        super().__init__()
        self.core = _core.Sigmoid()


class Tanh(Activation):
    """tanh(x);  derivative 1 - tanh^2."""

    def __init__(self):
        super().__init__()
        self.core = _core.Tanh()


class ReLU(Activation):
    """max(0, x);  derivative 1 where x > 0, else 0."""

    def __init__(self):
        super().__init__()
        self.core = _core.ReLU()


class Linear(Activation):
    """The identity;  derivative ones."""

    def __init__(self):
        super().__init__()
        self.core = _core.Identity()


class Softmax(Activation):
    """exp(x_j) / sum_k exp(x_k) along each row;  derivative ones (see the module)."""

    def __init__(self):
        super().__init__()
        self.core = _core.Softmax()

    def derivative(self, input=None):
        Z = self.last_input if input is None else input
        return array_namespace(Z).ones_like(Z)


class Elliot(Activation):
    """0.5 s x / (1 + |s x|) + 0.5, a cheap sigmoid of steepness s."""

    @takes(nnxp=_core.Elliot)
    def __init__(self, steepness=1):
        super().__init__()
        self.steepness = steepness
        self.core = _core.Elliot(steepness)


class SymmetricElliot(Activation):
    """s x / (1 + |s x|), a cheap tanh of steepness s."""

    @takes(nnxp=_core.SymmetricElliot)
    def __init__(self, steepness=1):
        super().__init__()
        self.steepness = steepness
        self.core = _core.SymmetricElliot(steepness)


class SoftPlus(Activation):
    """log(1 + exp(x));  derivative sigmoid(x)."""

    def __init__(self):
        super().__init__()
        self.core = _core.Softplus()


class SoftSign(Activation):
    """x / (1 + |x|);  derivative 1 / (1 + |x|)^2."""

    def __init__(self):
        super().__init__()
        self.core = _core.Softsign()


_BY_NAME = {
    "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "linear": Linear, "softmax": Softmax, "elliot": Elliot,
    "symmetric_elliot": SymmetricElliot, "softplus": SoftPlus, "softsign": SoftSign,
}
_BY_CORE = {"identity": "linear"}  # nnxp's names that NumpyDL spells otherwise


def get(activation) -> Activation:
    """An activation from its name ('relu', 'ReLU'), a class, an object, or the config
    dict ``to_json`` gives."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, type) and issubclass(activation, Activation):
        return activation()
    if isinstance(activation, dict):  # an nnxp config: the facade of its kind, with exactly that core
        made = get(_BY_CORE.get(activation["name"], activation["name"]))
        made.core = _core.get_activation(activation)
        return made
    if isinstance(activation, str) and activation.lower() in _BY_NAME:
        return _BY_NAME[activation.lower()]()
    raise ValueError(f"npdl.activations.get: unknown activation {activation!r}; expected one of {sorted(_BY_NAME)} "
                     f"or an npdl.activations.Activation")


__all__ = ["Activation", "Sigmoid", "Tanh", "ReLU", "Linear", "Softmax", "Elliot", "SymmetricElliot", "SoftPlus",
           "SoftSign", "get"]
