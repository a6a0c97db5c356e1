"""NumpyDL's objectives (``npdl.objectives``), each one nnxp loss underneath.

An objective has NumpyDL's two methods, ``forward(outputs, targets)`` (the loss) and
``backward(outputs, targets)`` (its gradient), computed by the nnxp loss ``.core``:

=================================  =========  ===========================================
NumpyDL                            nnxp loss  backward
=================================  =========  ===========================================
MeanSquaredError, MSE              MSE        dL/dA = 2 (p - t) / N
HellingerDistance, HeD             Hellinger  dL/dA
BinaryCrossEntropy, BCE            BCE        dL/dA
SoftmaxCategoricalCrossEntropy,    CCE        dL/dZ at the softmax's input: (p - t) / m
SCCE
=================================  =========  ===========================================

nnxp's losses are means over the batch (N elements, m samples), so their gradients carry
the 1 / N or 1 / m that NumpyDL's per-sample ``p - t`` leaves to the learning rate.
SCCE's gradient is the fused one (softmax and cross-entropy together), which is why a
NumpyDL ``Softmax`` passes gradients straight through. Targets may be one-hot or, for
SCCE and HeD, a vector of integer class indices. ``epsilon`` clips the outputs for the
logarithms, to [epsilon, 1 - epsilon].
"""

from __future__ import annotations

from array_api_compat import array_namespace

from .. import activations as _activations
from .. import losses as _core
from ..backend import to_numpy
from ..data import one_hot
from ..facades import takes


class Objective:
    """Base class: ``core`` is the nnxp loss."""

    core: _core.Loss = _core.MSE()
    takes_labels = False  # targets may be integer class indices

    def forward(self, outputs, targets):
        """The loss, a 0-d array: nnxp's mean over the batch."""
        return self.core(outputs, self._targets(outputs, targets))

    def backward(self, outputs, targets):
        """The gradient of ``forward`` with respect to the outputs."""
        return self.core.backward(outputs, self._targets(outputs, targets))

    def _targets(self, outputs, targets):
        """One-hot targets in the outputs' namespace, device and dtype."""
        xp = array_namespace(outputs)
        if self.takes_labels and targets.ndim == 1 and outputs.ndim == 2:
            return xp.asarray(one_hot(to_numpy(targets), n_classes=outputs.shape[1]), dtype=outputs.dtype)
        return targets

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanSquaredError(Objective):
    """mean (p - t)^2 over every element."""

    def __init__(self):
        self.core = _core.MSE()


class HellingerDistance(Objective):
    """1/m sum 1/2 (sqrt p - sqrt t)^2, between distributions p and t."""

    takes_labels = True

    def __init__(self):
        self.core = _core.Hellinger()


class BinaryCrossEntropy(Objective):
    """-mean t log p + (1 - t) log(1 - p)."""

    @takes(nnxp=_core.Loss)
    def __init__(self, epsilon=1e-11):
        self.epsilon = epsilon
        self.core = _core.BCE(epsilon=epsilon)


class SoftmaxCategoricalCrossEntropy(Objective):
    """-1/m sum t log p, for the outputs p of a softmax."""

    takes_labels = True

    @takes(nnxp=_core.Loss)
    def __init__(self, epsilon=1e-11):
        self.epsilon = epsilon
        self.core = _core.CCE(epsilon=epsilon)

    def backward(self, outputs, targets):
        """dL/dZ at the softmax's input, (p - t) / m: NumpyDL's p - t, over the batch."""
        return self.core.fused_backward(outputs, self._targets(outputs, targets), _activations.Softmax())


MSE = MeanSquaredError
HeD = HellingerDistance
BCE = BinaryCrossEntropy
SCCE = SoftmaxCategoricalCrossEntropy

_BY_NAME = {
    "mse": MSE, "mean_squared_error": MSE, "hed": HeD, "hellinger_distance": HeD, "bce": BCE,
    "binary_cross_entropy": BCE, "binary_crossentropy": BCE, "scce": SCCE,
    "softmax_categorical_cross_entropy": SCCE, "softmax_categorical_crossentropy": SCCE,
    "categorical_crossentropy": SCCE,
}


def get(objective) -> Objective:
    """An objective from its name ('scce', 'mse'...), a class or an object."""
    if isinstance(objective, Objective):
        return objective
    if isinstance(objective, type) and issubclass(objective, Objective):
        return objective()
    if isinstance(objective, str) and objective.lower() in _BY_NAME:
        return _BY_NAME[objective.lower()]()
    raise ValueError(f"npdl.objectives.get: unknown objective {objective!r}; expected one of {sorted(_BY_NAME)} "
                     f"or an npdl.objectives.Objective")


__all__ = ["Objective", "MeanSquaredError", "MSE", "HellingerDistance", "HeD", "BinaryCrossEntropy", "BCE",
           "SoftmaxCategoricalCrossEntropy", "SCCE", "get"]
