"""NumpyDL's optimizers (``npdl.optimizers``), each one nnxp optimizer underneath.

Every optimizer takes NumpyDL's common arguments, mapped onto nnxp's::

    lr=0.001     the learning rate                   learning_rate
    clip=-1      clip each gradient to [-clip, clip]  clip_value (None when clip <= 0)
    decay=0.0    lr / (1 + decay * steps taken)       decay
    lr_min=0.0   lr_max=inf: bounds of that rate     lr_min, lr_max (None for inf)

and its own (``momentum``, ``rho``, ``beta1``, ``beta2``, ``epsilon``). The update rules
are nnxp's (``nnxp.optimizers``, those of ``torch.optim``): NumpyDL's momentum forms keep
-lr v where nnxp keeps v, the same steps while the rate holds; its Adagrad and RMSprop put
epsilon under the square root, nnxp beside it (a difference in the epsilon-th digit).

``update(params, grads)`` moves a list of arrays in place, NumpyDL's way; a model compiled
with the optimizer trains with ``.core``, the nnxp optimizer, which the two share.
"""

from __future__ import annotations

import math

from .. import optimizers as _core
from ..facades import takes

_COMMON = {"learning_rate": "lr", "clip_value": "clip", "clip_norm": "clip"}


class Optimizer:
    """Base class: NumpyDL's common arguments; ``core`` is the nnxp optimizer."""

    nnxp = _core.SGD  # the nnxp class this one maps onto

    @takes(_COMMON, nnxp=_core.Optimizer)
    def __init__(self, lr=0.001, clip=-1, decay=0.0, lr_min=0.0, lr_max=math.inf):
        self.lr, self.clip, self.decay, self.lr_min, self.lr_max = lr, clip, decay, lr_min, lr_max
        self.iterations = 0
        self.core = self.nnxp(learning_rate=lr, clip_value=clip if clip > 0 else None, decay=decay, lr_min=lr_min,
                              lr_max=None if lr_max == math.inf else lr_max, **self.own())

    def own(self) -> dict:
        """The arguments of this optimizer's rule, under nnxp's names."""
        return {}

    def update(self, params, grads) -> None:
        """One step: each array of ``params`` moves in place, against its gradient."""
        holders = [{"value": param} for param in params]
        self.core.step([(str(i), holder, "value", grad, self.lr)
                        for i, (holder, grad) in enumerate(zip(holders, grads))])
        for param, holder in zip(params, holders):
            param[...] = holder["value"]
        self.iterations += 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr})"


class SGD(Optimizer):
    """param -= lr * gradient."""

    nnxp = _core.SGD


class Momentum(Optimizer):
    """velocity = momentum * velocity - lr * gradient;  param += velocity."""

    nnxp = _core.Momentum

    @takes(_COMMON, nnxp=_core.Momentum)
    def __init__(self, momentum=0.9, *args, **kwargs):
        self.momentum = momentum
        super().__init__(*args, **kwargs)

    def own(self):
        return {"momentum": self.momentum}


class NesterovMomentum(Momentum):
    """Momentum that looks ahead: param += momentum * velocity - lr * gradient."""

    nnxp = _core.Nesterov


class Adagrad(Optimizer):
    """Each rate divided by the root of the sum of its squared gradients."""

    nnxp = _core.Adagrad

    @takes(_COMMON, nnxp=_core.Adagrad)
    def __init__(self, epsilon=1e-06, *args, **kwargs):
        self.epsilon = epsilon
        super().__init__(*args, **kwargs)

    def own(self):
        return {"epsilon": self.epsilon}


class RMSprop(Optimizer):
    """Each rate divided by the root of a moving average of its squared gradients."""

    nnxp = _core.RMSprop

    @takes(_COMMON, nnxp=_core.RMSprop)
    def __init__(self, rho=0.9, epsilon=1e-06, *args, **kwargs):
        self.rho, self.epsilon = rho, epsilon
        super().__init__(*args, **kwargs)

    def own(self):
        return {"rho": self.rho, "epsilon": self.epsilon}


class Adadelta(RMSprop):
    """Rates from the ratio of the moving averages of past updates and gradients."""

    nnxp = _core.Adadelta


class Adam(Optimizer):
    """Moving averages of the gradient and its square, bias-corrected."""

    nnxp = _core.Adam

    @takes({**_COMMON, "beta_1": "beta1", "beta_2": "beta2"}, nnxp=_core.Adam)
    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-08, *args, **kwargs):
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        super().__init__(*args, **kwargs)

    def own(self):
        return {"beta_1": self.beta1, "beta_2": self.beta2, "epsilon": self.epsilon}


class Adamax(Adam):
    """Adam with the infinity norm in place of the squares."""

    nnxp = _core.Adamax


_BY_NAME = {"sgd": SGD, "momentum": Momentum, "nesterov_momentum": NesterovMomentum, "nesterov": NesterovMomentum,
            "adagrad": Adagrad, "rmsprop": RMSprop, "adadelta": Adadelta, "adam": Adam, "adamax": Adamax}


def get(optimizer) -> Optimizer:
    """An optimizer from its name ('sgd', 'adam'...), a class or an object."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        return optimizer()
    if isinstance(optimizer, str) and optimizer.lower() in _BY_NAME:
        return _BY_NAME[optimizer.lower()]()
    raise ValueError(f"npdl.optimizers.get: unknown optimizer {optimizer!r}; expected one of {sorted(_BY_NAME)} "
                     f"or an npdl.optimizers.Optimizer")


__all__ = ["Optimizer", "SGD", "Momentum", "NesterovMomentum", "Adagrad", "RMSprop", "Adadelta", "Adam", "Adamax",
           "get"]
