"""The model: a list of layers, a loss and an optimizer, and the loop that trains them.

One training step on a mini-batch (X, Y)::

    A = forward(X)               each layer in turn:   X -> layer.forward -> A
    dA, dZ = loss_gradient(A, Y) dL/dA, or dL/dZ directly when the output fuses
    backward(dA, dZ)             each layer in reverse: dA -> layer.backward -> dX,
                                 and layer.compute_gradients() fills layer.g
    optimizer.step(...)          every parameter moves, with its layer's learning rate

An epoch is one pass over the training batches; after it, every set (train, val, test)
is evaluated with the layers in evaluation mode and one row joins the history.

Two ways to use the same class:

EpyNN style (the data lives in the first layer)::

    model = Model([Embedding(X, Y, Y_encode=True, batch_size=32), Dense(10, "softmax")])
    model.initialize(loss="CCE", seed=1, se_hPars={"learning_rate": 0.1})
    model.train(epochs=20)

Keras / NumpyDL style::

    model = Model(); model.add(Dense(10, "softmax"))
    model.compile(loss="CCE", optimizer="adam")
    history = model.fit(X, Y, epochs=20, batch_size=32, validation_split=0.2)
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from . import checks, report
from .backend import backend_class_of, get_backend, resolve, to_numpy
from .data import DataError, Dataset, as_host_array, batch_slices, holdout_last
from .layers import Embedding, Layer, ShapeError
from .layers.base import call_mode
from .losses import get_loss
from .metrics import RunningMeans, decisions, get_metric
from .optimizers import get_optimizer
from .saving import write_model
from .schedules import merged


_default_seed: int | None = None

# Data-parallel training (nnxp.distributed) installs a strategy here that gives this process its
# share of each batch and sums the gradients of all the shares; without one, a process trains on
# whole batches alone. (distributed imports model, never the reverse.)
_data_parallel = None


def set_data_parallel(strategy) -> None:
    """Install (or, with None, remove) the data-parallel strategy of ``nnxp.distributed``."""
    global _data_parallel
    _data_parallel = strategy


def _main_process() -> bool:
    """Only the main process prints and writes files; on one process, that is this one."""
    return _data_parallel is None or _data_parallel.is_main


def set_seed(seed: int | None) -> None:
    """The seed that ``initialize``/``compile`` use when given none (NumpyDL's setting).

    A seed fixes the initial weights (on every backend) and the order of the batches.
    """
    global _default_seed
    _default_seed = checks.seed("seed", seed, "set_seed")


def _check_fit_arguments(Y, epochs, batch_size, seed) -> None:
    """fit's arguments, refused at once with a message that names them (nnxp.checks)."""
    if Y is None:  # the first fit would stop at "no Y_data", a second one deep inside
        raise DataError("fit: Y must be the targets of X (an array with one row per sample), got None")
    checks.count("epochs", epochs, "fit")
    checks.optional(checks.positive_int, "batch_size", batch_size, "fit")
    checks.seed("seed", seed, "fit")


def default_seed() -> int | None:
    """The seed ``set_seed`` set (None: each model draws fresh weights)."""
    return _default_seed


class NotInitialized(RuntimeError):
    """The model was used before ``initialize`` (or ``compile`` + ``fit``) set it up."""


class DivergenceWarning(RuntimeWarning):
    """The loss stopped being a finite number; training was stopped."""


class Prediction(NamedTuple):
    """What ``predict`` returns: output probabilities, the decided class index per
    sample, and the decided label (the original label when Y was encoded)."""

    probabilities: np.ndarray
    decisions: np.ndarray
    labels: np.ndarray

    @property
    def A(self):  # EpyNN's name for the outputs
        return self.probabilities

    @property
    def P(self):  # EpyNN's name for the decisions
        return self.decisions


class History:
    """Per-epoch values, Keras-style: ``history["val_accuracy"][-1]``.

    Keys: ``lr`` (the first trainable layer's rate), ``loss`` and every metric for the
    training set, the same prefixed ``val_`` and ``test_`` for the other sets.
    """

    def __init__(self, history: dict | None = None):
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}

    def record(self, values: dict) -> None:
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))

    @property
    def epochs(self) -> int:
        return len(self.history.get("loss", []))

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def __repr__(self):
        return f"History({self.epochs} epochs: {sorted(self.history)})"


class Model:
    def __init__(self, layers=None, name: str = "Model"):
        self.name = name
        self.layers: list[Layer] = []
        for layer in layers or []:
            self.add(layer)
        self.loss = self.optimizer = self.backend = None
        self.metrics: list = []
        self.se_hPars: dict = {}
        self.seed = None
        self.history = History()
        self.epoch = 0  # epochs trained so far
        self.initialized = False
        self._compiled: dict | None = None
        self._rates: list[float] = []

    # ================================================================== building
    def add(self, layer: Layer) -> "Model":
        if not isinstance(layer, Layer):
            raise TypeError(f"Model.add takes a layer (nnxp.layers), not {type(layer).__name__}")
        if isinstance(layer, Embedding) and self.layers:
            raise ValueError("the Embedding (input) layer must come first in the model")
        self.layers.append(layer)
        return self

    @property
    def embedding(self) -> Embedding | None:
        first = self.layers[0] if self.layers else None
        return first if isinstance(first, Embedding) else None

    @property
    def network(self) -> list[Layer]:
        """The layers after the Embedding: the ones that compute."""
        return self.layers[1:] if self.embedding is not None else list(self.layers)

    def initialize(self, loss="MSE", metrics=("accuracy",), seed=None, se_hPars=None, optimizer=None,
                   verbose: bool = True) -> "Model":
        """Bind the model to the current backend, draw its parameters and check every shape.

        A dry forward and backward pass on the first batch records each layer's shapes
        (printed as a table when ``verbose``) and finds any mismatch now, naming the layer,
        rather than in the middle of training.
        """
        self._check_layers()
        self.loss = get_loss(loss)
        self.metrics = [get_metric(m) for m in metrics]
        self.optimizer = get_optimizer(optimizer)
        self.se_hPars = {"learning_rate": self.optimizer.learning_rate, **(se_hPars or {})}
        self.seed = _default_seed if seed is None else checks.seed("seed", seed, "initialize")
        self.backend = get_backend()
        self._name_layers()
        for layer in self.layers:  # ELU_alpha, LRELU_alpha, softmax_temperature, where se_hPars set them
            layer.tune_activations({**self.se_hPars, **layer.se_hPars})
        seeds = np.random.SeedSequence(self.seed).spawn(len(self.layers))
        for layer, layer_seed in zip(self.layers, seeds):
            layer.bind(self.backend, np.random.default_rng(layer_seed))
            layer.training = True
        first = self.embedding.first_batch()  # in order: the batches' random stream is left untouched
        A, drawn = first.X, []
        for layer in self.layers:
            A = self._dry_forward(layer, A, drawn)
        self._check_output(A, first.Y)
        Model.backward(self, *self.loss_gradient(A, first.Y))  # gradients only (EpyNN's backward also steps)
        for layer, (parameters, random_state) in zip(self.layers, drawn):
            layer.record_shapes()
            layer.p = parameters  # the dry pass must leave no trace (BatchNorm's running stats,
            layer.set_random_state(random_state)  # Dropout's masks: training draws as if it had not run)
        self._rates = [merged(self.se_hPars, layer.se_hPars).rate(0) for layer in self.layers]
        self.history, self.epoch, self.initialized = History(), 0, True
        if verbose and _main_process():
            report.print_shapes(self)
        return self

    def _check_layers(self) -> None:
        if self.embedding is None:
            raise ValueError("the first layer must be an Embedding that holds the data (or use compile + fit)")
        if len(self.layers) < 2:
            raise ValueError("the model needs at least one layer after the Embedding")
        for layer in self.layers[1:]:
            if isinstance(layer, Embedding):
                raise ValueError("only the first layer may be an Embedding")

    def _name_layers(self) -> None:
        taken = {layer.name for layer in self.layers if layer.name}
        for index, layer in enumerate(self.layers):
            if not layer.name:
                base = type(layer).__name__.lower()
                layer.name = base if base not in taken else f"{base}_{index}"
                taken.add(layer.name)

    def _dry_forward(self, layer: Layer, A, drawn: list):
        """Shapes, parameters and one forward pass of ``layer``; the freshly drawn
        parameters and where the layer's random generators then stand are appended to
        ``drawn``."""
        try:
            layer.compute_shapes(A)
            layer.initialize_parameters()
            drawn.append((dict(layer.p), layer.random_state()))
            return layer.forward(A)
        except ShapeError:
            raise
        except (ValueError, TypeError, IndexError) as error:  # e.g. a matmul of mismatched shapes
            hint = " (add a Flatten layer before it?)" if A.ndim > 2 and getattr(layer, "units", None) else ""
            raise ShapeError(f"{layer.describe()} failed on input of shape {tuple(A.shape)}{hint}: {error}") from error

    def _check_output(self, A, Y) -> None:
        output = self.network[-1]
        if Y is None:
            raise DataError("the Embedding has no Y_data: a model needs targets to train")
        if tuple(A.shape) != tuple(Y.shape):
            hint = self._labels_hint() if Y.shape[-1] == 1 and A.shape[-1] > 1 else ""
            raise ShapeError(f"the output {output.describe()} gives shape {tuple(A.shape)} "
                             f"but Y has shape {tuple(Y.shape)}{hint}")
        if self.loss.name == "CCE" and getattr(getattr(output, "activation", None), "name", None) != "softmax":
            raise ValueError(f"CCE needs a softmax output, but {output.describe()} uses "
                             f"{getattr(output, 'activation', None)!r}; use activation='softmax'")
        if self.loss.target_range is not None:
            low, high = self.loss.target_range
            above = self.loss.target_above  # an open interval at the low end
            for name, (_, Y_host) in self.embedding.host_sets.items():
                too_low = Y_host is not None and Y_host.size and (Y_host.min() <= low if above else Y_host.min() < low)
                if too_low or (Y_host is not None and Y_host.size and Y_host.max() > high):
                    raise DataError(f"{self.loss.name} needs targets in {'(' if above else '['}{low}, {high}], but "
                                    f"the {name[1:]} set holds values from {Y_host.min()} to {Y_host.max()}: "
                                    f"labels out of range")

    def _labels_hint(self) -> str:
        """What to do with integer labels: the Keras route (compile + fit) and the EpyNN
        route (an Embedding) take them differently."""
        if self._compiled is not None:
            return ("; Y looks like integer labels: fit encodes them itself for a softmax output with loss "
                    "'CCE', else one-hot them (nnxp.one_hot)")
        return "; Y looks like integer labels: pass Y_encode=True to the Embedding or one-hot them (nnxp.one_hot)"

    # ================================================================== one step
    def forward(self, X, training: bool | None = None):
        """Run X through every layer; returns the output A (a backend array).

        ``training`` None: each layer in its own mode (a training step's forward, whose
        caches backward reads). False or True: that mode for this call only; evaluation
        (False) also keeps the caches to the call, so that threads may share the model.
        """
        if training is not None:
            with call_mode(training, private_caches=not training):
                return self.forward(X)
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def loss_gradient(self, A, Y):
        """(dA, None), or (None, dZ) when the loss fuses with the output activation."""
        output = self.network[-1]
        activation = getattr(output, "activation", None)
        if getattr(output, "accepts_dZ", False) and self.loss.fuses_with(activation):
            return None, self.loss.fused_backward(A, Y, activation)
        return self.loss.backward(A, Y), None

    def backward(self, dA=None, dZ=None, input_gradient: bool = True):
        """Back-propagate through every layer, filling each layer's gradients ``g``.

        Give dA (dL/dA of the output), or dZ for an output layer that accepts it.
        Parameters do not change here: that is the optimizer's job. Returns dL/dX, or
        None with ``input_gradient=False``, which lets the first layer skip computing it
        (training does: nothing uses it, and for a first convolution it is a whole pass).
        """
        first = self.network[0]
        first.input_gradient = input_gradient
        try:
            output, *rest = reversed(self.network)
            dX = output.backward(dA, dZ=dZ) if dZ is not None else output.backward(dA)
            output.compute_gradients()
            for layer in rest:
                dX = layer.backward(dX)
                layer.compute_gradients()
        finally:
            first.input_gradient = True
        return dX if input_gradient else None

    def train_step(self, X, Y):
        """Forward, backward and one optimizer step on one mini-batch; returns the output A
        (computed before the step: what the batch's loss and metrics are measured on).

        Under ``nnxp.distributed`` this process computes the gradients of its share of the
        batch only (and A is the output of that share), and the strategy sums the gradients
        of every share before the step."""
        if _data_parallel is not None:
            X, Y = _data_parallel.share(self, X, Y)
        A = self.forward(X)
        Model.backward(self, *self.loss_gradient(A, Y), input_gradient=False)  # gradients only
        if _data_parallel is not None:
            _data_parallel.sum_gradients(self)
        self.optimizer.step(self._parameters())
        return A

    def _parameters(self):
        """(key, holder, name, gradient, learning rate) for every parameter the optimizer
        moves: those of trainable layers, less their buffers (BatchNorm's running
        statistics live in p, to be saved, but are not learned)."""
        return [
            (f"{index}/{name}", layer.p, name, layer.g["d" + name], self._rates[index])
            for index, layer in enumerate(self.layers)
            if layer.trainable
            for name in layer.p
            if name not in layer.buffers
        ]

    # ================================================================== training
    def train(self, epochs: int = 1, verbose: int = 1, train_metrics: str = "exact", every: int = 1) -> History:
        """Train for ``epochs`` more epochs; evaluate after each; return the history.

        How the training set's loss and metrics are measured (``train_metrics``):

        - ``"exact"`` (EpyNN's way, the default here): after each epoch every set, the
          training set too, is evaluated again with the epoch's final weights, in
          evaluation mode (no Dropout);
        - ``"batches"`` (Keras's way, ``fit``'s default): the sample-weighted mean of what
          the epoch's training steps computed (``nnxp.metrics.RunningMeans``): no second
          pass over the training set, but each batch is measured with the weights of its
          own step, Dropout on. The validation and test sets are evaluated in both.

        A model not yet initialized initializes itself first, as EpyNN's train does: with
        the settings of ``compile`` if it was compiled, else with the defaults of
        ``initialize``. ``every``: print a row every that many epochs (and the last).
        """
        if train_metrics not in ("exact", "batches"):
            raise ValueError(f"train_metrics must be 'exact' or 'batches', got {train_metrics!r}")
        epochs = checks.count("epochs", epochs, "train")
        if not self.initialized:
            Model.initialize(self, **dict(self._compiled or {}), verbose=bool(verbose))
        reporter = report.EpochReporter(self, epochs, verbose if _main_process() else 0, every)
        for _ in range(epochs):
            self._rates = [merged(self.se_hPars, layer.se_hPars).rate(self.epoch) for layer in self.layers]
            self.set_training(True)
            batches = self.embedding.training_batches()
            running = RunningMeans(self.loss, self.metrics) if train_metrics == "batches" else None
            with reporter.progress(len(batches)) as advance:
                for batch in batches:
                    A = self.train_step(batch.X, batch.Y)
                    if running is not None:
                        self._count_batch(running, A, batch.Y)
                    advance()
            values = self.evaluate() if running is None else self._evaluate_held_out(running)
            values["lr"] = self._first_rate()
            self.history.record(values)
            self.epoch += 1
            reporter.epoch_done(values)
            if not math.isfinite(values["loss"]):
                message = (f"the training loss became {values['loss']} at epoch {self.epoch}: training stopped. "
                           f"Try a smaller learning rate (now {values['lr']:.3g}).")
                reporter.stopped(message)
                warnings.warn(message, DivergenceWarning, stacklevel=2)
                break
        reporter.close()
        return self.history

    def train_epoch(self) -> None:
        """One pass over the training batches, nothing else (the benchmarks time this)."""
        self._require("train")
        self.set_training(True)
        for batch in self.embedding.training_batches():
            self.train_step(batch.X, batch.Y)

    def _first_rate(self) -> float:
        trainable = [rate for layer, rate in zip(self.layers, self._rates) if layer.p and layer.trainable]
        return trainable[0] if trainable else self.se_hPars["learning_rate"]

    def set_training(self, training: bool) -> None:
        for layer in self.layers:
            layer.training = training

    # ================================================================== evaluating
    def evaluate(self, X=None, Y=None) -> dict[str, float]:
        """Loss and metrics, as Python floats.

        With no arguments, on every set of the Embedding (keys ``loss``, ``val_loss``,
        ``test_loss``...; each set keeps its outputs in ``.A`` and decisions in ``.P``).
        With (X, Y), on that data (keys ``loss``, ``accuracy``...).
        """
        self._require("evaluate")
        if X is not None:
            if Y is None:
                raise DataError("evaluate(X, Y) needs the targets Y as well as X")
            X, Y = self.embedding.prepare(X, Y, "evaluate")
            return self._measure([Dataset("given", self.backend.asarray(X), self.backend.asarray(Y))], {"given": ""})
        return self._measure(self.embedding.datasets, report.SET_PREFIX)

    def _count_batch(self, running: RunningMeans, A, Y) -> None:
        """Add a training step's output A (for targets Y) to the epoch's running means; under
        ``nnxp.distributed``, A is this process's share of the batch."""
        if _data_parallel is None:
            running.add(A, Y)
        else:
            _data_parallel.add_share(running, A, Y)

    def _evaluate_held_out(self, running: RunningMeans) -> dict[str, float]:
        """The training values from the batches' running means (every process's, under
        ``nnxp.distributed``), the other sets evaluated."""
        self._require("evaluate")
        if _data_parallel is not None:
            _data_parallel.sum_running(self, running)
        held_out = [dataset for dataset in self.embedding.datasets if dataset.name != "dtrain"]
        return self._measure(held_out, report.SET_PREFIX, running.means())

    def _measure(self, datasets, prefixes, known: dict | None = None) -> dict[str, float]:
        """Loss and metrics of each dataset, plus the ``known`` values (0-d device arrays),
        brought to the host together: one copy."""
        names, values = list(known or {}), list((known or {}).values())
        for dataset in datasets:
            A = dataset.A = self.output(dataset.X)
            dataset.P = decisions(A)
            Y = self.backend.asarray(dataset.Y) if dataset.on_host else dataset.Y  # targets are small
            prefix = prefixes[dataset.name]
            names.append(prefix + "loss")
            values.append(self.loss(A, Y))
            for metric in self.metrics:
                names.append(prefix + metric.name)
                values.append(metric(A, Y))
        xp = self.backend.xp
        numbers = to_numpy(xp.stack([xp.astype(v, self.backend.dtype) for v in values]))  # one copy per epoch
        return dict(zip(names, numbers.tolist()))

    def output(self, X, batch_size: int | None = None):
        """The network's output for X, in evaluation mode, in chunks. X is a backend
        array, or a host array of a streamed set (then each chunk is copied over)."""
        streamed = backend_class_of(X) is not type(self.backend)  # X held on the host, for another backend
        size = checks.optional(checks.positive_int, "batch_size", batch_size, "predict") or \
            max(self.embedding.batch_size or 0, 1024)
        # Model.forward itself: a subclass's forward (EpyNN's) may take no `training`
        chunks = [Model.forward(self, self.backend.asarray(X[s, ...]) if streamed else X[s, ...], training=False)
                  for s in batch_slices(X.shape[0], size)]
        return chunks[0] if len(chunks) == 1 else self.backend.xp.concat(chunks, axis=0)

    def predict(self, X, batch_size: int | None = None) -> Prediction:
        """Probabilities, decisions and labels for new raw X, as NumPy arrays.

        X is prepared the way the training data was (one-hot, scaling).
        """
        self._require("predict")
        A = to_numpy(self.output(self.backend.asarray(self.embedding.prepare_X(X)), batch_size))
        chosen = to_numpy(decisions(self.backend.asarray(A)))
        classes = self.embedding.classes
        labels = np.asarray(classes)[chosen] if classes is not None else chosen
        return Prediction(A, chosen, labels)

    # ================================================================== Keras style
    def compile(self, loss="MSE", optimizer="sgd", metrics=("accuracy",), se_hPars=None, seed=None) -> "Model":
        """Choose the loss, optimizer and metrics; the weights are drawn at the first ``fit``."""
        get_loss(loss), get_optimizer(optimizer), [get_metric(m) for m in metrics]  # fail early on typos
        checks.seed("seed", seed, "compile")
        self._compiled = {"loss": loss, "optimizer": optimizer, "metrics": metrics, "se_hPars": se_hPars, "seed": seed}
        self.initialized = False
        return self

    def fit(self, X, Y, epochs: int = 1, batch_size: int | None = 32, validation_split: float = 0.0,
            validation_data=None, shuffle: bool = True, seed=None, verbose: int = 1,
            train_metrics: str = "batches") -> History:
        """Train on (X, Y) as Keras does; returns the History (one entry per epoch, all so far).

        - ``validation_split`` holds out the *last* samples of X and Y, taken before any
          shuffling; ``validation_data=(X_val, Y_val)`` replaces it.
        - ``shuffle`` deals the training rows in a new order every epoch; ``shuffle=False``
          keeps their order (a time series stays one).
        - Integer class labels, Y of shape (m,) or (m, 1), are accepted for a softmax output
          with loss CCE (Keras's sparse labels): they are one-hot encoded as
          ``Embedding(Y_encode=True)`` would, labels 0..units-1 as the column numbers.
        - The training loss and metrics of an epoch are the means over its batches
          (``train_metrics="batches"``); ``"exact"`` evaluates the training set again
          after each epoch, as ``train`` does (see ``train``).
        """
        _check_fit_arguments(Y, epochs, batch_size, seed)
        if not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        X, Y = as_host_array(X, "fit: X"), as_host_array(Y, "fit: Y")
        if validation_data is None:
            X, Y, validation_data = holdout_last(X, Y, validation_split)
        embedding = self.embedding
        if embedding is None:
            if seed is None:  # the split must be as reproducible as the weights
                seed = (self._compiled or {}).get("seed")
                seed = _default_seed if seed is None else seed
            embedding = Embedding(batch_size=batch_size, seed=seed, shuffle=shuffle)
            self.layers.insert(0, embedding)
        embedding.batch_size, embedding.shuffle = batch_size, shuffle
        embedding.relative_size = (1, 0, 0)  # the split is made above, in order
        self._encode_labels(embedding, Y, validation_data)
        embedding.set_data(X, Y, validation=validation_data, ordered=True)
        if not self.initialized:
            if self._compiled is None:
                raise NotInitialized("call model.compile(loss=..., optimizer=...) before fit")
            settings = dict(self._compiled)
            settings["seed"] = settings["seed"] if settings["seed"] is not None else seed
            self.initialize(**settings, verbose=verbose >= 2)
        else:
            self._check_output(self.output(embedding.dtrain.X[:1, ...]), embedding.dtrain.Y[:1, ...])
        return self.train(epochs, verbose, train_metrics=train_metrics)

    def _encode_labels(self, embedding: Embedding, Y, validation) -> None:
        """Keras's sparse labels: integer class labels Y, (m,) or (m, 1), for a softmax
        output trained with CCE (or an Embedding already told Y_encode) are one-hot
        encoded by the Embedding. Labels 0..units-1 name the columns (so that a class
        absent from Y keeps its column); any others are taken in sorted order."""
        labels_like = Y.ndim == 1 or (Y.ndim == 2 and Y.shape[1] == 1)
        output = self.layers[-1]
        loss = self.loss if self.initialized else get_loss((self._compiled or {}).get("loss", "MSE"))
        softmax = getattr(getattr(output, "activation", None), "name", None) == "softmax"
        if labels_like and Y.dtype.kind in "iu" and softmax and loss.name == "CCE":
            embedding.Y_encode = True
        elif not labels_like:
            embedding.Y_encode = False  # one-hot (or real) targets: nothing to encode
        # (other labels keep the Embedding's own Y_encode: a user's, for string labels, stays)
        if embedding.Y_encode and embedding.classes is None and Y.dtype.kind in "iu":
            labels = np.unique(np.concatenate([Y.reshape(-1)] + ([] if validation is None else
                                                                 [np.asarray(validation[1]).reshape(-1)])))
            units = getattr(output, "units", None)
            in_range = units is not None and labels.min() >= 0 and labels.max() < units
            embedding.classes = list(range(units)) if in_range else labels.tolist()

    def build(self, input_shape, seed=None) -> "Model":
        """Keras-style: draw the weights for inputs of ``input_shape`` (without the batch
        axis) before any data is seen, e.g. to call ``summary()``."""
        output_units = getattr(self.layers[-1], "units", None) if self.layers else None
        if output_units is None:
            raise ValueError("build: the last layer must have units (e.g. Dense) to size the targets")
        if self._compiled is None:
            self.compile()
        settings = dict(self._compiled)
        settings["seed"] = seed if seed is not None else settings["seed"]
        batches_seed = _default_seed if settings["seed"] is None else settings["seed"]  # as fit's Embedding has
        probe = Embedding(np.zeros((2, *input_shape)), np.zeros((2, output_units)), relative_size=(1, 0, 0),
                          seed=batches_seed)
        if self.embedding is None:
            self.layers.insert(0, probe)
        else:
            self.layers[0] = probe
        self.initialize(**settings, verbose=False)
        return self

    def summary(self) -> None:
        """Print the table of layers, shapes and parameter counts (on the main process only,
        under ``nnxp.distributed``)."""
        self._require("summary")
        if _main_process():
            report.print_shapes(self)

    # ================================================================== the rest
    def report(self) -> None:
        """Print the table of every epoch so far (on the main process only, under
        ``nnxp.distributed``: every rank holds the same history)."""
        if _main_process():
            report.print_history(self)

    def plot(self, path=None, show: bool = False):
        """Plot the loss and metrics per epoch on a figure of its own; write it to ``path``
        when given, show it when ``show``; return it (a notebook cell ending with
        ``model.plot()`` displays it). The user's matplotlib backend is left as it was.
        Under ``nnxp.distributed`` only the main process plots (it returns None elsewhere)."""
        return report.plot_history(self, path, show) if _main_process() else None

    def profile(self, **options):
        """Time each layer's forward and backward, the loss and the optimizer step of one
        training step, on this model's backend: ``nnxp.profile.profile(model, **options)``."""
        from .profile import profile

        return profile(self, **options)

    def write(self, path) -> str:
        """Save to one file: a JSON config plus the weights and optimizer state (.npz).
        Under ``nnxp.distributed`` only the main process writes (every rank holds the same)."""
        return write_model(self, path) if _main_process() else str(path)

    def to(self, backend, dtype=None) -> "Model":
        """Move the parameters, optimizer state and data to another backend (or dtype).

        Given a backend name and no dtype, the model keeps its own dtype."""
        if dtype is None and isinstance(backend, str) and self.backend is not None:
            dtype = self.backend.dtype_name
        target = resolve(backend, dtype)
        for layer in self.layers:
            layer.p = {k: target.asarray(v) for k, v in layer.p.items()}
            layer.bind(target)
        if self.optimizer is not None:
            self.optimizer.state = {
                key: {slot: target.asarray(value) for slot, value in slots.items()}
                for key, slots in self.optimizer.state.items()
            }
        self.backend = target
        return self

    def _require(self, action: str) -> None:
        if not self.initialized:
            raise NotInitialized(f"call model.initialize(...) (or compile + fit) before {action}")

    def __repr__(self) -> str:
        return f"Model({self.name!r}, {len(self.layers)} layers, backend={self.backend})"

