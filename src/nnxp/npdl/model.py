"""NumpyDL's model (``npdl.model.Model``): a linear stack of layers, trained by nnxp.

::

    model = Model()                      or Model([layer, layer, ...])
    model.add(layer)
    model.compile(loss=SCCE(), optimizer=SGD(lr=0.005))
    model.fit(X, Y, max_iter=100, batch_size=64, validation_split=0.1)
    model.predict(X)                     the outputs, an array
    model.accuracy(outputs, targets)     the share of right answers

``compile`` builds the nnxp ``Model`` that does the work, ``model.network``, with the
objective's and the optimizer's nnxp twins. When the first layer knows its input size
(``n_in``, or ``input_shape`` for a convolution) the weights are drawn there and then,
from the seed of ``npdl.utils.set_seed`` (nnxp's default seed), as NumpyDL draws them at
compile; otherwise at the first ``fit``, from the first batch.

``fit`` trains for ``max_iter`` epochs, NumpyDL's way, on nnxp's loop:

- ``validation_split`` holds out the last int(m * validation_split) samples, before any
  shuffling (``validation_data=(X, Y)`` replaces it);
- ``shuffle`` deals the training samples in a new order every epoch;
- each epoch prints one line to ``file``: the training loss and accuracy (the means over
  the epoch's batches, as NumpyDL reports them) and the validation ones;
- the last, smaller batch of an epoch is trained on too (NumpyDL 0.4 leaves it out).

Integer class labels may stand for one-hot targets with a softmax output and SCCE.
"""

from __future__ import annotations

import sys

import numpy as np

from .. import model as _core
from ..backend import to_numpy
from ..data import one_hot
from ..facades import takes
from ..layers import Layer as _CoreLayer
from ..metrics import accuracy as _accuracy
from . import objectives, optimizers
from .utils.random import model_seed


class Model:
    """A linear stack of layers (npdl's or nnxp's), trained by an nnxp ``Model``."""

    @takes(nnxp=_core.Model)
    def __init__(self, layers=None):
        self.layers: list = []
        for layer in layers or []:
            self.add(layer)
        self.loss = self.optimizer = None
        self.network: _core.Model | None = None  # the nnxp model, made by compile

    def add(self, layer) -> None:
        """Append a layer."""
        if not isinstance(layer, _CoreLayer):
            raise TypeError(f"npdl.model.Model.add takes a layer (npdl.layers), not {type(layer).__name__}")
        self.layers.append(layer)

    @takes(nnxp=_core.Model.compile)
    def compile(self, loss=None, optimizer=None):
        """Choose the objective (default SCCE()) and the optimizer (default SGD())."""
        if not self.layers:
            raise ValueError("npdl.model.Model.compile: add layers first")
        self.loss = objectives.get(loss if loss is not None else objectives.SCCE())
        self.optimizer = optimizers.get(optimizer if optimizer is not None else optimizers.SGD())
        self.network = _core.Model(list(self.layers), name="npdl")
        self.network.compile(loss=self.loss.core, optimizer=self.optimizer.core, metrics=["accuracy"],
                             seed=model_seed())
        if self._input_shape() is not None:
            self.network.build(self._input_shape())  # NumpyDL draws the weights here

    def _input_shape(self):
        """The input shape (without the samples) when compile can draw the weights: the first
        layer knows it whole, and the last gives one row of targets per sample."""
        first, last = self.layers[0], self.layers[-1]
        shape = first.input_shape() if hasattr(first, "input_shape") else None
        if shape is None or None in shape or not getattr(last, "units", None) or getattr(last, "sequences", False):
            return None
        return shape

    @takes({"epochs": "max_iter", "verbose": "file"}, nnxp=_core.Model.fit)
    def fit(self, X, Y, max_iter=100, batch_size=64, shuffle=True, validation_split=0., validation_data=None,
            file=sys.stdout):
        """Train for ``max_iter`` epochs; one line per epoch to ``file``. Returns the nnxp History."""
        if self.network is None:
            raise _core.NotInitialized("call model.compile(loss=..., optimizer=...) before fit")
        X, Y = np.asarray(X), np.asarray(Y)
        if validation_data is None and 0 < validation_split < 1:
            held = int(Y.shape[0] * validation_split)  # NumpyDL's share: the last int(m * split) rows
            if held:
                X, Y, validation_data = X[:-held], Y[:-held], (X[-held:], Y[-held:])
        history = self.network.history
        for epoch in range(max_iter):
            if epoch == 0:
                history = self.network.fit(X, Y, epochs=1, batch_size=batch_size, validation_data=validation_data,
                                           shuffle=shuffle, verbose=0)
            else:
                self.network.train(1, verbose=0, train_metrics="batches")
            print(self._epoch_line(), file=file)
        return history

    def _epoch_line(self) -> str:
        h = self.network.history
        line = f"iter {self.network.epoch}, train-[loss {h['loss'][-1]:.4f}, acc {h['accuracy'][-1]:.4f}]; "
        if "val_loss" in h:
            line += f"valid-[loss {h['val_loss'][-1]:.4f}, acc {h['val_accuracy'][-1]:.4f}]; "
        return line

    def predict(self, X):
        """The network's outputs for X, as a NumPy array (evaluation mode: no Dropout)."""
        if self.network is None or not self.network.initialized:
            raise _core.NotInitialized("compile the model (and fit it) before predict")
        X = self.network.embedding.prepare_X(X)  # checked and made floating, as fit's data was
        return to_numpy(self.network.output(self.network.backend.asarray(X)))

    def accuracy(self, outputs, targets) -> float:
        """The share of rows whose largest output is the target class (one-hot targets or
        integer labels)."""
        outputs, targets = np.asarray(to_numpy(outputs)), np.asarray(to_numpy(targets))
        if targets.ndim == 1 and outputs.ndim == 2 and outputs.shape[1] > 1:
            targets = one_hot(targets, n_classes=outputs.shape[1])
        return float(_accuracy(outputs, targets))

    def evaluate(self, X, Y):
        """Not in NumpyDL 0.4 either."""
        raise NotImplementedError("npdl.model.Model.evaluate is not implemented in NumpyDL 0.4; use "
                                  "model.accuracy(model.predict(X), Y), or model.network.evaluate(X, Y) for "
                                  "nnxp's loss and metrics")


__all__ = ["Model"]
