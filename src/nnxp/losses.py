"""Loss functions: how far the output A is from the target Y, and dL/dA.

Every loss is a mean, so its size does not grow with the batch:

* element-wise losses (MSE, MAE, MSLE, BCE) average over all N elements of A;
* distribution losses (CCE, Hellinger) sum over the last axis (the classes) and
  average over the R rows (samples, or samples x steps for sequences).

=========  ===========================================  ===================================
name       L                                            dL/dA
=========  ===========================================  ===================================
MSE        mean (A - Y)^2                               2 (A - Y) / N
MAE        mean |A - Y|                                 sign(A - Y) / N
MSLE       mean (log(1 + A) - log(1 + Y))^2             2 (log(1+A) - log(1+Y)) / ((1+A) N)
BCE        -mean Y log A + (1 - Y) log(1 - A)           (A - Y) / (A (1 - A) N)
CCE        -1/R sum Y log A                             -Y / (A R)
Hellinger  1/R sum 1/2 (sqrt A - sqrt Y)^2              (sqrt A - sqrt Y) / (2 sqrt(A) R)
=========  ===========================================  ===================================

Logs and square roots see A clipped to [eps, 1 - eps] (eps = the dtype's machine
epsilon, or the loss's own ``epsilon`` when given: NumpyDL's 1e-11), so a confident
wrong answer gives a large, finite loss instead of inf.

Two pairs are *fused*: after softmax, CCE's gradient with respect to Z collapses to
``(A - Y) / (R T)``, and after sigmoid, BCE's to ``(A - Y) / N``. The model uses these
directly: they are cheaper and they never divide by a tiny A.

Hellinger is the squared Hellinger distance between the distributions A and Y (the
smooth form; the distance itself has an undefined gradient where A = Y).
"""

from __future__ import annotations

import math

from .backend import array_namespace


class Loss:
    """Base class: ``loss(A, Y)`` is a 0-d array; ``loss.backward(A, Y)`` is dL/dA."""

    name = "loss"
    fused_activation: str | None = None  # the output activation this loss fuses with
    target_range: tuple[float, float] | None = None  # allowed values of Y, when bounded
    target_above = False  # True: Y must be strictly above the low end (MSLE's log(1 + Y))

    def __init__(self, epsilon: float | None = None):
        if epsilon is not None and not 0 < epsilon < 0.5:
            raise ValueError(f"{self.name}: epsilon must be None or in (0, 0.5), got {epsilon}")
        self.epsilon = None if epsilon is None else float(epsilon)  # None: the dtype's machine epsilon

    def __call__(self, A, Y):
        return self.forward(A, Y)

    def forward(self, A, Y):
        raise NotImplementedError

    def backward(self, A, Y):
        raise NotImplementedError

    def fuses_with(self, activation) -> bool:
        return activation is not None and getattr(activation, "name", None) == self.fused_activation

    def fused_backward(self, A, Y, activation):
        """dL/dZ through the fused output activation (only where ``fuses_with`` holds)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name} if self.epsilon is None else {"name": self.name, "epsilon": self.epsilon}

    def clip(self, A, low: bool = True, high: bool = False):
        """A clipped to [eps, 1 - eps] (either side optional): eps is ``epsilon``, or A's
        dtype's machine epsilon."""
        xp = array_namespace(A)
        eps = float(xp.finfo(A.dtype).eps) if self.epsilon is None else self.epsilon
        return xp.clip(A, eps if low else None, 1 - eps if high else None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if self.epsilon is None else f"{type(self).__name__}(epsilon={self.epsilon})"


def _rows(A) -> int:
    """The number of distributions in A: every axis but the last."""
    return A.size // A.shape[-1] if A.ndim else 1


class MSE(Loss):
    name = "MSE"

    def forward(self, A, Y):
        xp = array_namespace(A)
        return xp.mean((A - Y) ** 2)

    def backward(self, A, Y):
        return 2 * (A - Y) / A.size


class MAE(Loss):
    name = "MAE"

    def forward(self, A, Y):
        xp = array_namespace(A)
        return xp.mean(xp.abs(A - Y))

    def backward(self, A, Y):
        return array_namespace(A).sign(A - Y) / A.size


class MSLE(Loss):
    """Mean squared log error; A is clipped just above -1, where log(1 + A) is defined.
    Y cannot be clipped (it is the truth): targets at or below -1 are refused."""

    name = "MSLE"
    target_range, target_above = (-1.0, math.inf), True

    def _log_gap(self, A, Y):
        xp = array_namespace(A)
        A = xp.clip(A, -1 + float(xp.finfo(A.dtype).eps), None)
        return xp.log1p(A) - xp.log1p(Y), A

    def forward(self, A, Y):
        gap, _ = self._log_gap(A, Y)
        return array_namespace(A).mean(gap**2)

    def backward(self, A, Y):
        gap, A = self._log_gap(A, Y)
        return 2 * gap / ((1 + A) * A.size)


class BCE(Loss):
    name = "BCE"
    fused_activation = "sigmoid"
    target_range = (0.0, 1.0)

    def forward(self, A, Y):
        xp = array_namespace(A)
        A = self.clip(A, high=True)
        return -xp.mean(Y * xp.log(A) + (1 - Y) * xp.log(1 - A))

    def backward(self, A, Y):
        A = self.clip(A, high=True)
        return (A - Y) / (A * (1 - A) * A.size)

    def fused_backward(self, A, Y, activation):
        return (A - Y) / A.size


class CCE(Loss):
    name = "CCE"
    fused_activation = "softmax"
    target_range = (0.0, 1.0)

    def forward(self, A, Y):
        xp = array_namespace(A)
        return -xp.sum(Y * xp.log(self.clip(A))) / _rows(A)

    def backward(self, A, Y):
        return -Y / (self.clip(A) * _rows(A))

    def fused_backward(self, A, Y, activation):
        # softmax's Jacobian times -Y/A gives A * sum(Y) - Y; sum(Y) = 1 for one-hot
        # or smoothed labels, but keeping it makes the identity exact for any Y.
        xp = array_namespace(A)
        total = xp.sum(Y, axis=-1, keepdims=True)
        return (A * total - Y) / (_rows(A) * activation.temperature)


class Hellinger(Loss):
    name = "Hellinger"
    target_range = (0.0, 1.0)

    def forward(self, A, Y):
        xp = array_namespace(A)
        gap = xp.sqrt(self.clip(A)) - xp.sqrt(Y)
        return xp.sum(gap * gap) / (2 * _rows(A))

    def backward(self, A, Y):
        xp = array_namespace(A)
        root_A = xp.sqrt(self.clip(A))
        return (root_A - xp.sqrt(Y)) / (2 * root_A * _rows(A))


LOSSES = {cls.name: cls for cls in (MSE, MAE, MSLE, BCE, CCE, Hellinger)}
_BY_LOWER = {name.lower(): cls for name, cls in LOSSES.items()}
_BY_LOWER.update(
    {
        "mean_squared_error": MSE,
        "mean_absolute_error": MAE,
        "mean_squared_logarithmic_error": MSLE,
        "binary_crossentropy": BCE,
        "categorical_crossentropy": CCE,
        "hellinger_distance": Hellinger,
    }
)


def get_loss(spec) -> Loss:
    """A Loss from a name (``"CCE"``, ``"categorical_crossentropy"``), a dict or an object."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, type) and issubclass(spec, Loss):
        return spec()
    params = {}
    if isinstance(spec, dict):
        params = dict(spec)
        spec = params.pop("name")
    if isinstance(spec, str):
        cls = _BY_LOWER.get(spec.lower())
        if cls is None:
            raise ValueError(f"unknown loss {spec!r}; expected one of {sorted(LOSSES)}")
        return cls(**params)
    raise TypeError(f"a loss is a name or a Loss, not {type(spec).__name__}")


__all__ = ["Loss", "get_loss", "LOSSES"] + list(LOSSES)
