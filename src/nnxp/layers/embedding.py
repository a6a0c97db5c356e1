"""Embedding: the input layer, which holds the data and prepares it.

It is the first layer of every model. Given the raw data it:

1. checks it (one row per sample, as many X as Y, no NaN);
2. one-hot encodes X (``X_encode``: tokens such as characters -> vectors, one per
   distinct token) and Y (``Y_encode``: labels -> one column per distinct label);
3. shuffles it with ``seed`` and splits it into training, validation and test sets in
   the ratios of ``relative_size`` (EpyNN's (2, 1, 0): 2/3 train, 1/3 validation);
   without a seed of its own it takes the model's at ``initialize``, so that one seed
   makes the whole run reproducible;
4. scales X to [0, 1] (``X_scale``) with the min and max of the training set;
5. once a model binds it to a backend, copies each set there *once* (``dtrain``,
   ``dval``, ``dtest``) and, each epoch, deals the training set out in shuffled
   mini-batches of ``batch_size`` (the last, smaller batch is kept).

``stream`` decides where the sets live: None (the default) keeps them on the device
unless they would fill more than half of its free memory; True keeps them on the host
and copies one mini-batch at a time (a data set larger than the GPU still trains);
False always copies them over whole.

In the network it is the identity: A = X, dX = dA. The vocabulary, the classes and the
scale are saved with the model, so ``model.predict`` prepares new raw data the same way.

(The layer that looks up learned word vectors for token ids is ``WordEmbedding``.)
"""

from __future__ import annotations

import numpy as np

from ..data import (DataError, Dataset, MinMaxScaler, StreamedBatches, as_host_array, batch_slices, check_fits,
                    check_pair, one_hot, split_indices)
from .. import checks
from .base import Layer

SET_NAMES = ("dtrain", "dval", "dtest")


class Embedding(Layer):
    def __init__(self, X_data=None, Y_data=None, relative_size=(2, 1, 0), X_encode=False, Y_encode=False,
                 X_scale=False, batch_size=None, seed=None, shuffle=True, stream=None, name=None, se_hPars=None):
        super().__init__(name, se_hPars)
        self.relative_size = tuple(relative_size)
        self.X_encode, self.Y_encode, self.X_scale = bool(X_encode), bool(Y_encode), bool(X_scale)
        self.batch_size = checks.optional(checks.positive_int, "batch_size", batch_size, "Embedding")
        self.seed, self.shuffle, self.stream = checks.seed("seed", seed, "Embedding"), bool(shuffle), stream
        self.vocabulary = None  # the tokens of X, when X_encode
        self.classes = None  # the labels of Y, when Y_encode
        self.scaler = None  # MinMaxScaler, when X_scale
        self.host_sets: dict[str, tuple] = {}  # set name -> (X, Y) NumPy arrays
        self._prepared = None  # (X, Y, validation or None, ordered): encoded, before the split
        self.dtrain = self.dval = self.dtest = None
        self._batch_rng = np.random.default_rng(seed)
        if X_data is not None:
            self.set_data(X_data, Y_data)

    # ------------------------------------------------------------------ host side
    def set_data(self, X_data, Y_data=None, validation=None, ordered: bool = False) -> None:
        """Prepare raw data and split it (or take ``validation=(X, Y)`` as the validation set).

        ``ordered=True``: the data is the training set as it stands, rows in their order,
        nothing held out but ``validation`` (``Model.fit`` has made its split already)."""
        X, Y = self._encode(*self._checked(X_data, Y_data, "Embedding"))
        if validation is not None:
            validation = self._encode(*self._checked(*validation, "validation data"))
        self._prepared = (X, Y, validation, bool(ordered))
        self._split(np.random.default_rng(self.seed))
        if self.backend is not None:  # already part of a model: move the new data over now
            self.bind(self.backend)

    def _split(self, rng: np.random.Generator) -> None:
        """Cut the prepared data into the three sets; fit the scaler on the training set."""
        X, Y, validation, ordered = self._prepared
        if validation is not None or ordered:
            empty = (X[:0], None if Y is None else Y[:0])
            parts = {"dtrain": (X, Y), "dval": validation or empty, "dtest": empty}
        else:
            indices = split_indices(len(X), self.relative_size, rng)
            parts = {name: (X[i], None if Y is None else Y[i]) for name, i in zip(SET_NAMES, indices)}
        if self.X_scale:
            self.scaler = MinMaxScaler.fit(parts["dtrain"][0])
            parts = {name: (self.scaler(x), y) for name, (x, y) in parts.items()}
        self.host_sets = parts
        self.dtrain = self.dval = self.dtest = None

    @staticmethod
    def _checked(X_data, Y_data, where):
        X = as_host_array(X_data, f"{where}: X_data")
        Y = None if Y_data is None else as_host_array(Y_data, f"{where}: Y_data")
        check_pair(X, Y, where)
        return X, Y

    def _encode(self, X, Y):
        if self.X_encode:
            if self.vocabulary is None:
                self.vocabulary = np.unique(X).tolist()
            X = one_hot(X, classes=self.vocabulary)
        elif X.dtype.kind not in "biuf":
            raise DataError(f"Embedding: X_data holds {X.dtype} values, not numbers; set X_encode=True to one-hot them")
        if Y is not None and self.Y_encode:
            if self.classes is None:
                self.classes = np.unique(Y).tolist()
            Y = one_hot(Y, classes=self.classes)
        elif Y is not None and Y.dtype.kind not in "biuf":
            raise DataError(f"Embedding: Y_data holds {Y.dtype} values, not numbers; set Y_encode=True to one-hot them")
        elif Y is not None and Y.ndim == 1:
            Y = Y[:, None]  # one target per sample: a column
        return X.astype(np.float64), None if Y is None else Y.astype(np.float64)

    def prepare(self, X_data, Y_data=None, where: str = "evaluate") -> tuple:
        """New raw data prepared as the training data was: checked (lengths, NaN),
        encoded with the saved vocabulary and classes, X scaled. Returns (X, Y)."""
        X, Y = self._encode(*self._checked(X_data, Y_data, where))
        X = self.scaler(X) if self.scaler is not None else X
        if self.backend is not None:
            self._check_fits(X, Y, where + ": ")
        return X, Y

    def _check_fits(self, X, Y, where: str, show_index: bool = True) -> None:
        """Refuse floats that the backend's dtype cannot hold (see ``data.check_fits``)."""
        check_fits(X, self.backend.dtype_name, f"{where}X", show_index)
        if Y is not None:
            check_fits(Y, self.backend.dtype_name, f"{where}Y", show_index)

    def prepare_X(self, X_data) -> np.ndarray:
        """New raw inputs prepared as the training data was (encoded, scaled)."""
        return self.prepare(X_data, None, "predict")[0]

    # ------------------------------------------------------------------ on the backend
    def bind(self, backend, rng=None) -> None:
        """Copy each set onto the backend, once (a loaded model's Embedding has none).

        A model that (re)initializes passes its seeded generator: the batch order then
        starts over, from ``seed`` or, without one, from the model's seed."""
        super().bind(backend, rng)
        if rng is not None:
            if self.seed is None and self._prepared is not None:
                self._split(rng)  # an Embedding without a seed takes the model's: reproducible
            self._batch_rng = np.random.default_rng(self.seed) if self.seed is not None else rng
        streamed = self._streams(backend)
        for name, (X, Y) in self.host_sets.items():
            self._check_fits(X, Y, f"Embedding: the {name[1:]} set's ", show_index=False)  # shuffled: no index
            labels = None if Y is None else (np.argmax(Y, axis=-1) if Y.shape[-1] > 1 else Y[..., 0])
            if streamed:  # kept on the host, in the backend's precision, for batch-by-batch copies
                X, Y = X.astype(backend.dtype_name), None if Y is None else Y.astype(backend.dtype_name)
                dataset = Dataset(name, X, Y, labels, on_host=True)
            else:
                dataset = Dataset(name, backend.asarray(X), None if Y is None else backend.asarray(Y), labels)
            setattr(self, name, dataset)

    def _streams(self, backend) -> bool:
        """Whether the sets stay on the host (see ``stream`` in the module docstring)."""
        if self.stream is not None:
            return bool(self.stream)
        free = backend.free_memory()
        size = sum(x.size + (0 if y is None else y.size) for x, y in self.host_sets.values())
        return free is not None and size * np.dtype(backend.dtype_name).itemsize > free / 2

    @property
    def datasets(self) -> list[Dataset]:
        """The non-empty sets among dtrain, dval and dtest."""
        return [d for d in (self.dtrain, self.dval, self.dtest) if d is not None and len(d)]

    def training_batches(self) -> list[Dataset]:
        """This epoch's mini-batches: the training set in a new order, cut in slices."""
        self._require_data()
        X, Y = self.dtrain.X, self.dtrain.Y
        if self.dtrain.on_host:
            order = self._batch_rng.permutation(len(X)) if self.shuffle else np.arange(len(X))
            return StreamedBatches(X, Y, order, self.batch_size, self.backend)
        if self.shuffle:
            xp = self.xp(X)
            order = self.backend.asarray(self._batch_rng.permutation(len(self.dtrain)))
            X = xp.take(X, order, axis=0)
            Y = None if Y is None else xp.take(Y, order, axis=0)
        return [Dataset(f"batch {i}", X[s, ...], None if Y is None else Y[s, ...])
                for i, s in enumerate(batch_slices(X.shape[0], self.batch_size))]

    def first_batch(self) -> Dataset:
        """The first batch_size training rows, in their order: what ``Model.initialize``
        checks the shapes on. No random number is drawn, so the epochs' batches are the
        same whether or not a model was initialized first."""
        self._require_data()
        rows = slice(0, len(self.dtrain) if self.batch_size is None else min(self.batch_size, len(self.dtrain)))
        X, Y = self.dtrain.X[rows, ...], None if self.dtrain.Y is None else self.dtrain.Y[rows, ...]
        if self.dtrain.on_host:
            X, Y = self.backend.asarray(X), None if Y is None else self.backend.asarray(Y)
        return Dataset("batch 0", X, Y)

    def _require_data(self) -> None:
        if self.dtrain is None:
            raise DataError("Embedding has no data: give X_data (and Y_data), embedding.set_data(X, Y), "
                            "or use model.fit(X, Y)")

    # ------------------------------------------------------------------ as a layer
    def forward(self, X):
        self.check_input(X)  # new data for predict must look like the training data
        self.fc["X"] = self.fc["A"] = X
        return X

    def backward(self, dA):
        self.bc["dA"] = self.bc["dX"] = dA
        return dA

    def random_state(self) -> dict:
        """The layer's generator and the batch-shuffling one: a resumed run deals the
        batches of its next epoch as an unbroken run would."""
        return {**super().random_state(), "batches": self._batch_rng.bit_generator.state}

    def set_random_state(self, state: dict) -> None:
        super().set_random_state(state)
        if state.get("batches") is not None:
            self._batch_rng = np.random.default_rng()
            self._batch_rng.bit_generator.state = state["batches"]

    def get_config(self) -> dict:
        """The preparation settings and what was learnt from the data; never the data."""
        return {
            "relative_size": list(self.relative_size), "X_encode": self.X_encode, "Y_encode": self.Y_encode,
            "X_scale": self.X_scale, "batch_size": self.batch_size, "seed": self.seed, "shuffle": self.shuffle,
            "stream": self.stream,
            "name": self.name, "se_hPars": self.se_hPars, "vocabulary": self.vocabulary, "classes": self.classes,
            "scale": None if self.scaler is None else [self.scaler.minimum, self.scaler.maximum],
        }

    @classmethod
    def from_config(cls, config: dict) -> "Embedding":
        config = dict(config)
        vocabulary, classes, scale = config.pop("vocabulary"), config.pop("classes"), config.pop("scale")
        layer = cls(**config)
        layer.vocabulary, layer.classes = vocabulary, classes
        layer.scaler = None if scale is None else MinMaxScaler(*scale)
        return layer
