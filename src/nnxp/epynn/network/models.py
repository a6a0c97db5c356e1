"""EpyNN's model (``epynn.network.models.EpyNN``): nnxp's ``Model`` with EpyNN's methods.

::

    model = EpyNN(layers=[embedding, dense], name='Perceptron')
    model.initialize(loss='MSE', se_hPars=settings.se_hPars, metrics=['accuracy'], seed=1)
    model.train(epochs=100)            initializes with the defaults first, if needed
    model.plot(path=False)             show the curves, write no file
    model.write()                      models/<uname>.npz
    model = read_model()               the newest model in models/
    dset = model.predict(X_data)       dset.A the outputs, dset.P the decisions

What each EpyNN method is in nnxp:

- ``initialize(loss, se_hPars, metrics, seed, params, end)``: nnxp's ``initialize`` with
  gradient descent (``optimizer='sgd'``) at the rates of ``se_hPars`` (EpyNN's defaults:
  0.1, steady). ``params=False`` keeps the parameters the layers have. ``end`` is
  accepted ('\\n' or '\\r'): nnxp prints its shape table either way.
- ``train(epochs, verbose=None, init_logs=True)``: ``epochs`` more epochs; a row of
  the report every ``verbose`` epochs (None: every tenth of them); ``init_logs`` prints
  the shape table first. After each epoch every set, the training set too, is evaluated
  with the epoch's final weights (``train_metrics='exact'``, EpyNN's way).
- ``forward(X)``: every layer in turn (each learns the epoch, ``layer.e``).
  ``backward(dA)``: the gradients of every layer, then one step of the optimizer: what
  EpyNN's backward and its layers' ``update_parameters`` do together.
- ``write(path=None)``, ``plot(pyplot=True, path=None)``: into ``models/`` and ``plots/``
  (see ``nnxp.epynn.commons.library.configure_directory``), named ``uname``; a path with
  an extension is the file, one without a folder; ``path=False`` writes no plot.
- ``predict(X_data, X_encode=False, X_scale=False)``: a ``dataSet`` with ``ids``, ``X``,
  the outputs ``A`` and the decisions ``P`` (argmax of several outputs, else A >= 0.5).
  ``X_encode`` one-hot encodes X with the Embedding's elements, ``X_scale`` scales X
  into [0, 1] by its own range (EpyNN's ``scale_features``: mind that range).
- ``evaluate()``, ``report()``, ``batch_report(batch, A)``: the sets' loss and metrics,
  the table of epochs, one batch's loss and metrics on one line.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ... import model as _core
from ...backend import to_numpy
from ...data import one_hot
from ...facades import takes
from ...metrics import decisions
from .. import settings
from ..commons.loss import LOSSES
from ..commons.metrics import METRICS
from ..commons.models import Layer, dataSet
from ..commons.io import scale_features


class EpyNN(_core.Model):
    """A network: an Embedding, the layers, and the loss they are trained on."""

    @takes(nnxp=_core.Model)
    def __init__(self, layers, name="EpyNN"):
        super().__init__(layers, name)
        self.stamp()

    def stamp(self) -> None:
        """ts, the creation time, and uname, the name of the model's files."""
        self.ts = int(time.time())
        self.uname = f"{self.ts}_{self.name}"

    @property
    def e(self) -> int:
        """The epochs trained so far (nnxp's ``epoch``)."""
        return self.epoch

    # ------------------------------------------------------------------ setting up
    @takes({"verbose": "end"}, nnxp=_core.Model.initialize)
    def initialize(self, loss="MSE", se_hPars=settings.se_hPars, metrics=["accuracy"], seed=None, params=True,
                   end="\n"):
        """Draw the parameters (unless ``params=False``), check every shape, print the table."""
        return self._initialize(loss, se_hPars, metrics, seed, params, end, logs=True)

    def _initialize(self, loss, se_hPars, metrics, seed, params, end, logs):
        if end not in ("\n", "\r"):
            raise ValueError(f"EpyNN.initialize: end must be '\\n' or '\\r', got {end!r}")
        kept = [dict(layer.p) for layer in self.layers] if not params and self.initialized else None
        hpars = {**settings.se_hPars, **dict(se_hPars or {})}
        for layer in self.layers:
            if isinstance(layer, Layer):
                layer._model_se_hPars = hpars  # layer.se_hPars shows the values in force
        super().initialize(loss=_name(loss, LOSSES), metrics=[_name(m, METRICS) for m in metrics], seed=seed,
                           se_hPars=hpars, optimizer="sgd", verbose=logs)
        if kept is not None:  # params=False: the layers keep what they had
            for layer, parameters in zip(self.layers, kept):
                layer.p = parameters
        return self

    # ------------------------------------------------------------------ training
    @takes({"every": "verbose"}, nnxp=_core.Model.train)
    def train(self, epochs, verbose=None, init_logs=True):
        """Train ``epochs`` more epochs; a report row every ``verbose`` epochs."""
        if not self.initialized:
            self._initialize("MSE", settings.se_hPars, ["accuracy"], None, True, "\n", logs=init_logs)
        elif init_logs:
            self.summary()
        every = max(epochs // 10, 1) if verbose is None else int(verbose)
        return super().train(epochs, verbose=1 if every > 0 else 0, train_metrics="exact", every=max(every, 1))

    def forward(self, X):
        """Every layer's forward in turn; each layer learns the epoch (``layer.e``)."""
        for layer in self.layers:
            layer.e = self.epoch
        return super().forward(X)

    def backward(self, dA):
        """Every layer's backward and gradients, then one optimizer step (EpyNN's backward
        updates the parameters)."""
        dX = super().backward(dA)
        self.optimizer.step(self._parameters())
        return dX

    def training_loss(self, Y, A, deriv=False):
        """The loss of A against Y, or its gradient dL/dA with deriv=True."""
        return self.loss.backward(A, Y) if deriv else self.loss(A, Y)

    def batch_report(self, batch, A) -> None:
        """One line: this batch's loss and metrics (it reads them from the device)."""
        values = [("loss", self.loss(A, batch.Y))] + [(m.name, m(A, batch.Y)) for m in self.metrics]
        print(" ".join(f"{name} {float(to_numpy(v)):.4f}" for name, v in values), end="\r")

    # ------------------------------------------------------------------ the rest
    @takes({"show": "pyplot"}, nnxp=_core.Model.plot)
    def plot(self, pyplot=True, path=None):
        """The training curves: shown when ``pyplot``; written to plots/ (or ``path``),
        not written with ``path=False``."""
        file, show = plot_arguments(pyplot, path, self.uname)
        return super().plot(file, show=show)

    def write(self, path=None) -> str:
        """Write the model (JSON config and arrays, never pickle) to models/ or ``path``.

        A folder to write into (models/, or a path without an extension) is made when
        missing, as EpyNN does; the folder of a file you name must exist, as for
        ``nnxp.Model.write``."""
        file = file_path(path, "models", self.uname, ".npz")
        if path is None or not os.path.splitext(os.fspath(path))[1]:
            os.makedirs(os.path.dirname(file), exist_ok=True)
        return super().write(file)

    @takes(nnxp=_core.Model.predict)
    def predict(self, X_data, X_encode=False, X_scale=False):
        """A dataSet of X_data with its outputs ``A`` and decisions ``P``."""
        self._require("predict")
        X = np.asarray(X_data)
        if X_encode:  # with the elements the Embedding numbered (EpyNN's e2i)
            X = one_hot(X, classes=self.embedding.vocabulary) if self.embedding.vocabulary is not None else X
        elif X.dtype.kind not in "biuf":
            raise ValueError("EpyNN.predict: X_data holds elements, not numbers: pass X_encode=True to encode "
                             "them as the training data was")
        if X_scale:
            X = scale_features(X)
        dset = dataSet(X)
        A = self.output(self.backend.asarray(X.astype(np.float64)))
        dset.A, dset.P = to_numpy(A), to_numpy(decisions(A))
        return dset


def _name(spec, known: dict):
    """A loss or metric given as one of EpyNN's functions, as its name."""
    name = getattr(spec, "name", None)
    return name if name in known else spec


def file_path(path, folder: str, uname: str, extension: str):
    """Where EpyNN writes: ``folder/uname.ext`` by default; a path with an extension is
    the file itself, one without a folder to write ``uname.ext`` into."""
    if path is None:
        return os.path.join(folder, uname + extension)
    path = os.fspath(path)
    return path if os.path.splitext(path)[1] else os.path.join(path, uname + extension)


def plot_arguments(pyplot, path, uname: str):
    """EpyNN's ``plot(pyplot, path)`` as nnxp's ``plot(path, show)``: show when pyplot;
    write to plots/uname.png (path None), to ``path``, or nowhere (path False)."""
    file = None if path is False else file_path(path, "plots", uname, ".png")
    return file, bool(pyplot)


__all__ = ["EpyNN"]
