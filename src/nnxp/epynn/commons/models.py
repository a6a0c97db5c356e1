"""EpyNN's base layer and data set (``epynn.commons.models``) over nnxp's.

An EpyNN layer *is* an nnxp layer: the same contract (``compute_shapes``,
``initialize_parameters``, ``forward``, ``backward``, ``compute_gradients``) and the same
dicts a student inspects, keyed by the symbols of the maths::

    d   dimensions    fs, bs   forward and backward shapes    p, g   parameters, gradients
    fc, bc   forward and backward caches

This base adds EpyNN's names:

- ``se_hPars``: the hyperparameters in force for the layer, the model's (given to
  ``initialize``) overridden by the layer's own (given to the constructor);
- ``update_shapes(cache, shapes)``: record the shapes of a cache's arrays;
- ``update_parameters()``: one step of gradient descent on ``p``, with the layer's
  learning rate for the current epoch ``e`` (EpyNN's rule for every trainable layer). A
  model does not call it: nnxp's optimizer takes that step, with the same rate;
- ``activate`` (and a recurrent layer's gate activations): the EpyNN function
  (``nnxp.epynn.commons.maths``) of the layer's nnxp activation.

Subclass ``Layer`` (or ``Template``) for a layer of your own, as EpyNN's docs teach.

``dataSet(X_data, Y_data=None, name='dummy')`` holds a set: ``X``, ``Y``, the labels
``y``, the sample ``ids``, and after a prediction the outputs ``A`` and decisions ``P``.
"""

from __future__ import annotations

import numpy as np

from ... import layers as _core
from ...data import Dataset
from ...optimizers import SGD
from ...schedules import merged
from .maths import function_of

_GRADIENT_DESCENT = SGD()  # the update rule of update_parameters: theta - lr * g


class Layer(_core.Layer):
    """EpyNN's base layer (``epynn.commons.models.Layer``) on nnxp's."""

    e = 0  # the epoch being trained (the model sets it at every forward pass)
    _model_se_hPars: dict = {}  # the model's se_hPars, set by EpyNN.initialize

    def __init__(self, se_hPars=None):
        super().__init__(se_hPars=se_hPars)

    @property
    def o(self) -> dict:
        """Other scalars that fit no other dict (EpyNN's, rarely used)."""
        return self.__dict__.setdefault("_other", {})

    # ------------------------------------------------------------------ hyperparameters
    @property
    def se_hPars(self) -> dict:
        """The values in force: the model's, overridden by the layer's own."""
        return {**self._model_se_hPars, **self._own_se_hPars}

    @se_hPars.setter
    def se_hPars(self, values) -> None:
        self._own_se_hPars = dict(values or {})

    def get_config(self) -> dict:
        config = super().get_config()
        if "se_hPars" in config:
            config["se_hPars"] = dict(self._own_se_hPars)  # the file keeps the layer's own, not the model's
        return config

    @property
    def np_rng(self):
        """The layer's own seeded generator (nnxp's ``rng``)."""
        return self.rng

    # ------------------------------------------------------------------ EpyNN's methods
    def update_shapes(self, cache, shapes) -> None:
        """Record in ``shapes`` the shape of every array of ``cache`` (e.g. fc into fs)."""
        shapes.update({key: tuple(value.shape) for key, value in cache.items() if hasattr(value, "shape")})

    def update_parameters(self) -> None:
        """p <- p - lr * g for every learned parameter, lr the rate of epoch ``e``."""
        if not self.trainable:
            return
        rate = merged(self.se_hPars).rate(self.e)
        for name in self.p:
            if name not in self.buffers and "d" + name in self.g:
                self.p[name] = _GRADIENT_DESCENT.update(self.p[name], self.g["d" + name], {}, rate)

    @property
    def activate(self):
        """The EpyNN function of the layer's activation."""
        return function_of(self.activation)


class dataSet(Dataset):  # noqa: N801  (EpyNN's name)
    """A data set: X, Y, the labels y, the sample ids; A and P after a prediction."""

    def __init__(self, X_data, Y_data=None, name="dummy"):
        X = np.asarray(X_data)
        Y = None if Y_data is None else np.asarray(Y_data)
        labels = None
        if Y is not None:
            labels = np.argmax(Y, axis=-1) if Y.ndim > 1 and Y.shape[-1] > 1 else Y.reshape(len(Y), -1)[:, 0]
        super().__init__(name, X, Y, labels)
        self.ids = np.arange(len(X))


__all__ = ["Layer", "dataSet"]
