"""Optimizers: how a parameter moves, given its gradient.

A layer computes gradients; the optimizer alone changes parameters. For each parameter
theta with gradient g at step t (counted from 1), learning rate lr, and state kept per
parameter (zeros at first)::

    SGD        theta -= lr g
    Momentum   v = mu v + g;                      theta -= lr v
    Nesterov   v = mu v + g;                      theta -= lr (g + mu v)
    Adagrad    s += g^2;                          theta -= lr g / (sqrt(s) + eps)
    RMSprop    s = rho s + (1 - rho) g^2;         theta -= lr g / (sqrt(s) + eps)
    Adadelta   s = rho s + (1 - rho) g^2
               d = sqrt(u + eps) / sqrt(s + eps) g
               u = rho u + (1 - rho) d^2;         theta -= lr d
    Adam       m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
               theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    Adamax     m = b1 m + (1 - b1) g;  u = max(b2 u, |g| + eps)
               theta -= lr / (1 - b1^t) m / u

These are the update rules of ``torch.optim`` (the tests check 5 steps against it).
Before the update, and for every optimizer, in this order::

    clip_value     g = clip(g, -clip_value, clip_value)
    clip_norm      g *= min(1, clip_norm / ||all gradients||)   (one norm for the model)
    weight_decay   g += weight_decay * theta        (L2 regularisation)

Clipping tames the gradient of the *loss*; the decay term is added after it, as
``torch.nn.utils.clip_grad_*_`` followed by ``torch.optim``'s ``weight_decay`` do.

The learning rate comes from the layer's schedule each epoch (see ``schedules``), so
the optimizer's own ``learning_rate`` is only the default for the model's se_hPars.
Within an epoch it may also decay with the steps (NumpyDL's ``decay``, Keras's old
time-based decay), and be kept within bounds; at step t (counted from 1)::

    lr_t = clip(lr / (1 + decay * (t - 1)), lr_min, lr_max)     (decay 0: lr_t = lr)
"""

from __future__ import annotations

import math

from .backend import array_namespace

from . import checks


class Optimizer:
    name = "optimizer"
    slots: tuple[str, ...] = ()  # the state kept for each parameter

    def __init__(self, learning_rate: float = 0.01, clip_norm=None, clip_value=None, weight_decay: float = 0.0,
                 decay: float = 0.0, lr_min: float = 0.0, lr_max=None):
        where = f"optimizer {self.name}"
        self.learning_rate = checks.finite_number("learning_rate", learning_rate, where, 0)
        self.clip_norm = checks.optional(checks.finite_number, "clip_norm", clip_norm, where, 0, low_open=True)
        self.clip_value = checks.optional(checks.finite_number, "clip_value", clip_value, where, 0, low_open=True)
        self.weight_decay = checks.finite_number("weight_decay", weight_decay, where, 0)
        self.decay = checks.finite_number("decay", decay, where, 0)
        self.lr_min = checks.finite_number("lr_min", lr_min, where, 0)
        self.lr_max = checks.optional(checks.finite_number, "lr_max", lr_max, where, self.lr_min)  # None: no bound
        self.t = 0  # steps taken
        self.state: dict[str, dict] = {}  # parameter key -> {slot name: array}

    # ------------------------------------------------------------------ one step
    def step(self, parameters) -> None:
        """Update every parameter in place of its holder.

        ``parameters`` is a list of ``(key, holder, name, grad, lr)``: the parameter is
        ``holder[name]`` (a layer's ``p`` dict), ``key`` names its state.
        """
        self.t += 1
        grads = [grad for *_, grad, _ in parameters]
        if self.clip_value is not None:
            grads = [array_namespace(g).clip(g, -self.clip_value, self.clip_value) for g in grads]
        if self.clip_norm is not None:
            grads = clip_by_global_norm(grads, self.clip_norm)
        if self.weight_decay:
            grads = [g + self.weight_decay * holder[name] for (_, holder, name, _, _), g in zip(parameters, grads)]
        for (key, holder, name, _, lr), grad in zip(parameters, grads):
            if key not in self.state:
                xp = array_namespace(grad)
                self.state[key] = {slot: xp.zeros_like(grad) for slot in self.slots}
            holder[name] = self.update(holder[name], grad, self.state[key], self.step_rate(lr))

    def step_rate(self, lr: float) -> float:
        """The rate of this step: ``lr`` decayed with the steps taken and kept in bounds."""
        rate = lr / (1 + self.decay * (self.t - 1)) if self.decay else lr
        return min(max(rate, self.lr_min), self.lr_max if self.lr_max is not None else math.inf)

    def update(self, theta, g, state: dict, lr: float):
        """The new value of one parameter; ``state`` is updated in place."""
        raise NotImplementedError

    # ------------------------------------------------------------------ saving
    def hyperparameters(self) -> dict:
        common = {"learning_rate": self.learning_rate, "clip_norm": self.clip_norm,
                  "clip_value": self.clip_value, "weight_decay": self.weight_decay,
                  "decay": self.decay, "lr_min": self.lr_min, "lr_max": self.lr_max}
        return {**common, **self.extra()}

    def extra(self) -> dict:
        return {}

    def get_config(self) -> dict:
        return {"name": self.name, **self.hyperparameters()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items() if v is not None)
        return f"{type(self).__name__}({args})"


def clip_by_global_norm(grads, max_norm: float):
    """Scale all gradients together so that their joint L2 norm is at most ``max_norm``.

    The scale stays an array on the device: no number travels to the host.
    """
    xp = array_namespace(grads[0])
    total = xp.sqrt(sum(xp.sum(g * g) for g in grads))
    scale = xp.minimum(max_norm / (total + 1e-6), 1.0)
    return [g * scale for g in grads]


class SGD(Optimizer):
    name = "sgd"

    def update(self, theta, g, state, lr):
        return theta - lr * g


class Momentum(Optimizer):
    name = "momentum"
    slots = ("v",)

    def __init__(self, learning_rate=0.01, momentum=0.9, **common):
        super().__init__(learning_rate, **common)
        self.momentum = checks.finite_number("momentum", momentum, f"optimizer {self.name}", 0)

    def extra(self):
        return {"momentum": self.momentum}

    def update(self, theta, g, state, lr):
        state["v"] = self.momentum * state["v"] + g
        return theta - lr * self._direction(g, state["v"])

    def _direction(self, g, v):
        return v


class Nesterov(Momentum):
    """Momentum that looks ahead: the step uses the gradient plus the new velocity."""

    name = "nesterov"

    def _direction(self, g, v):
        return g + self.momentum * v


class Adagrad(Optimizer):
    name = "adagrad"
    slots = ("s",)

    def __init__(self, learning_rate=0.01, epsilon=1e-10, **common):
        super().__init__(learning_rate, **common)
        self.epsilon = checks.finite_number("epsilon", epsilon, f"optimizer {self.name}", 0, low_open=True)

    def extra(self):
        return {"epsilon": self.epsilon}

    def update(self, theta, g, state, lr):
        xp = array_namespace(g)
        state["s"] = state["s"] + g * g
        return theta - lr * g / (xp.sqrt(state["s"]) + self.epsilon)


class RMSprop(Optimizer):
    name = "rmsprop"
    slots = ("s",)

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, **common):
        super().__init__(learning_rate, **common)
        self.rho, self.epsilon = _decay_and_epsilon(self.name, rho, epsilon)

    def extra(self):
        return {"rho": self.rho, "epsilon": self.epsilon}

    def update(self, theta, g, state, lr):
        xp = array_namespace(g)
        state["s"] = self.rho * state["s"] + (1 - self.rho) * g * g
        return theta - lr * g / (xp.sqrt(state["s"]) + self.epsilon)


class Adadelta(Optimizer):
    name = "adadelta"
    slots = ("s", "u")

    def __init__(self, learning_rate=1.0, rho=0.9, epsilon=1e-6, **common):
        super().__init__(learning_rate, **common)
        self.rho, self.epsilon = _decay_and_epsilon(self.name, rho, epsilon)

    def extra(self):
        return {"rho": self.rho, "epsilon": self.epsilon}

    def update(self, theta, g, state, lr):
        xp = array_namespace(g)
        rho, eps = self.rho, self.epsilon
        state["s"] = rho * state["s"] + (1 - rho) * g * g
        delta = xp.sqrt(state["u"] + eps) / xp.sqrt(state["s"] + eps) * g
        state["u"] = rho * state["u"] + (1 - rho) * delta * delta
        return theta - lr * delta


class Adam(Optimizer):
    name = "adam"
    slots = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **common):
        super().__init__(learning_rate, **common)
        where = f"optimizer {self.name}"
        self.beta_1 = checks.finite_number("beta_1", beta_1, where, 0, 1, high_open=True)
        self.beta_2, self.epsilon = _decay_and_epsilon(self.name, beta_2, epsilon, "beta_2")

    def extra(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def update(self, theta, g, state, lr):
        xp = array_namespace(g)
        b1, b2 = self.beta_1, self.beta_2
        state["m"] = b1 * state["m"] + (1 - b1) * g
        state["v"] = b2 * state["v"] + (1 - b2) * g * g
        m_hat = state["m"] / (1 - b1**self.t)
        v_hat = state["v"] / (1 - b2**self.t)
        return theta - lr * m_hat / (xp.sqrt(v_hat) + self.epsilon)


class Adamax(Adam):
    """Adam with the infinity norm: u tracks the largest recent |g| instead of g^2."""

    name = "adamax"
    slots = ("m", "u")

    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **common):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **common)

    def update(self, theta, g, state, lr):
        xp = array_namespace(g)
        b1 = self.beta_1
        state["m"] = b1 * state["m"] + (1 - b1) * g
        state["u"] = xp.maximum(self.beta_2 * state["u"], xp.abs(g) + self.epsilon)
        return theta - lr / (1 - b1**self.t) * state["m"] / state["u"]


def _decay_and_epsilon(optimizer: str, decay, epsilon, decay_name: str = "rho") -> tuple[float, float]:
    """A decay rate in [0, 1) and an epsilon > 0, checked."""
    where = f"optimizer {optimizer}"
    return (checks.finite_number(decay_name, decay, where, 0, 1, high_open=True),
            checks.finite_number("epsilon", epsilon, where, 0, low_open=True))


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Nesterov, Adagrad, RMSprop, Adadelta, Adam, Adamax)}


def get_optimizer(spec) -> Optimizer:
    """An Optimizer from a name (``"adam"``), a config dict, a class or an object."""
    if spec is None:
        return SGD()
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, type) and issubclass(spec, Optimizer):
        return spec()
    params = {}
    if isinstance(spec, dict):
        params = dict(spec)
        spec = params.pop("name")
    if isinstance(spec, str):
        cls = OPTIMIZERS.get(spec.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {spec!r}; expected one of {sorted(OPTIMIZERS)}")
        return cls(**params)
    raise TypeError(f"an optimizer is a name or an Optimizer, not {type(spec).__name__}")


__all__ = ["Optimizer", "get_optimizer", "clip_by_global_norm", *[cls.__name__ for cls in OPTIMIZERS.values()]]
