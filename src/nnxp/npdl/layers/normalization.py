"""NumpyDL's batch normalization (``npdl.layers.normalization``) on nnxp's ``BatchNorm``.

``BatchNormal(epsilon=1e-06, momentum=0.9, axis=0, beta_init='zero', gamma_init='one')``
is ``BatchNorm(momentum, epsilon, gamma_initialization, beta_initialization)``.
``momentum`` is the share of the running statistics kept at each step, in both. The
``axis`` says what is normalised together, mapped onto nnxp's "one feature per index of
the last axis, over every other":

- ``axis=0``: every input element, over the samples. (m, n) is nnxp's layout already;
  (m, c, h, w) is flattened to (m, c * h * w) for nnxp and shaped back after;
- ``axis=1``: each index of axis 1 (an image's channel), over the samples and every other
  axis: axis 1 is moved last for nnxp, and back after.
"""

from __future__ import annotations

from array_api_compat import array_namespace

from ... import layers as _core
from ...facades import takes
from .. import initializations
from .base import Layer


class BatchNormal(Layer, _core.BatchNorm):
    """Normalise over the batch, then scale (gamma) and shift (beta)."""

    maps_onto = _core.BatchNorm

    @takes({"gamma_initialization": "gamma_init", "beta_initialization": "beta_init"}, nnxp=_core.BatchNorm)
    def __init__(self, epsilon=1e-06, momentum=0.9, axis=0, beta_init="zero", gamma_init="one"):
        if axis not in (0, 1):
            raise ValueError(f"npdl.layers.BatchNormal: axis must be 0 (each element) or 1 (each channel), got {axis}")
        self.arguments = {"epsilon": epsilon, "momentum": momentum, "axis": axis, "beta_init": beta_init,
                          "gamma_init": gamma_init}
        _core.BatchNorm.__init__(self, momentum=momentum, epsilon=epsilon,
                                 gamma_initialization=initializations.get(gamma_init).core,
                                 beta_initialization=initializations.get(beta_init).core)
        self.axis = axis

    def layout_differs(self) -> bool:
        return len(getattr(self, "seen_shape", ())) > 1  # an image's or a sequence's axes, reshaped for nnxp

    def to_core(self, X):
        xp = array_namespace(X)
        if X.ndim <= 2:
            return X
        if self.axis == 0:
            return xp.reshape(X, (X.shape[0], -1))
        return xp.permute_dims(X, (0, *range(2, X.ndim), 1))

    def from_core(self, A):
        xp = array_namespace(A)
        shape = (A.shape[0], *self.seen_shape)
        if len(shape) <= 2:
            return A
        if self.axis == 0:
            return xp.reshape(A, shape)
        return xp.permute_dims(A, (0, A.ndim - 1, *range(1, A.ndim - 1)))


__all__ = ["BatchNormal"]
