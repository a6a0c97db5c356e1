"""Data preparation on the host: one-hot encoding, scaling, splits and mini-batches.

Everything here works on NumPy arrays before the data meets a backend, with one
exception: ``Dataset`` holds the backend copy of a split so that training never copies
data to the device more than once. The steps, in the order ``Embedding`` runs them::

    X, Y  --validate-->  encode (one-hot)  -->  scale X to [0, 1]
          --shuffle with the seed-->  split train / val / test  -->  Dataset x3
    each epoch: permute the training set  -->  slices of batch_size (the last may be smaller)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """The data given to nnxp cannot be used as it is (the message says why)."""


# --------------------------------------------------------------------------- encoding


def one_hot(labels, n_classes: int | None = None, classes=None) -> np.ndarray:
    """Integer (or any hashable) labels of shape (m,) as a one-hot array of shape (m, n).

    ``classes`` fixes the list of labels (and so the column order); else the sorted
    unique labels are used, or ``range(n_classes)`` for integer labels when given.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if classes is None:
        if n_classes is not None and labels.dtype.kind in "iu":
            classes = np.arange(n_classes)
        else:
            classes = np.unique(labels)
    classes = np.asarray(classes)
    index = {label.item() if hasattr(label, "item") else label: i for i, label in enumerate(classes)}
    columns = np.empty(labels.shape, dtype=np.int64)
    for position, label in np.ndenumerate(labels):
        key = label.item() if hasattr(label, "item") else label
        if key not in index:
            raise DataError(f"one_hot: label {key!r} is out of range; expected one of {classes.tolist()[:20]}")
        columns[position] = index[key]
    encoded = np.zeros(labels.shape + (len(classes),), dtype=np.float64)
    np.put_along_axis(encoded, columns[..., None], 1.0, axis=-1)
    return encoded


def unhot(encoded, classes=None) -> np.ndarray:
    """The labels of a one-hot (or probability) array: argmax over the last axis."""
    positions = np.argmax(np.asarray(encoded), axis=-1)
    return positions if classes is None else np.asarray(classes)[positions]


@dataclass
class MinMaxScaler:
    """X -> (X - min) / (max - min) with the min and max of the training data.

    One global min and max, as EpyNN does: the scale of the features relative to each
    other is kept. The two numbers are saved with the model, so predictions on new data
    are scaled the same way.
    """

    minimum: float = 0.0
    maximum: float = 1.0

    @classmethod
    def fit(cls, X) -> "MinMaxScaler":
        X = np.asarray(X, dtype=np.float64)
        return cls(float(X.min()), float(X.max()))

    def __call__(self, X) -> np.ndarray:
        span = self.maximum - self.minimum
        return (np.asarray(X, dtype=np.float64) - self.minimum) / (span if span > 0 else 1.0)


# --------------------------------------------------------------------------- checking


def check_pair(X, Y, where: str = "data") -> None:
    """X and Y must have one row per sample, the same number of each, and no NaN."""
    if X.ndim == 0 or X.shape[0] == 0:
        raise DataError(f"{where}: X must hold at least one sample, got shape {X.shape}")
    if Y is not None and len(Y) != len(X):
        raise DataError(f"{where}: X and Y have different lengths: {len(X)} samples in X, {len(Y)} in Y")
    for label, array in (("X", X), ("Y", Y)):
        if array is not None and array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            bad = np.argwhere(~np.isfinite(array))[0]
            raise DataError(f"{where}: {label} contains NaN or infinity (first at index {tuple(bad.tolist())})")


def check_fits(array: np.ndarray, dtype_name: str, what: str, show_index: bool = True) -> None:
    """Floating data must fit the backend's dtype: a float64 value beyond float32's range
    (about 3.4e38) would silently become inf on a float32 backend. (``show_index``: the
    array is in the user's order, so its index means something to them.)"""
    if dtype_name != "float32" or array.dtype.kind != "f" or array.dtype.itemsize <= 4 or not array.size:
        return
    limit = float(np.finfo(np.float32).max)
    beyond = np.abs(array) > limit
    if np.any(beyond):
        first = tuple(np.argwhere(beyond)[0].tolist())
        where = f" (at index {first})" if show_index else ""
        raise DataError(f"{what} holds {array[first]:.3g}{where}, beyond the range of float32 (+-{limit:.3g}): "
                        f"on this float32 backend it would become inf; scale the data, or use dtype='float64'")


def as_host_array(data, name: str) -> np.ndarray:
    """Lists, tuples and arrays of any backend as one NumPy array (converted once, here)."""
    from .backend import to_numpy

    try:
        array = to_numpy(data) if hasattr(data, "shape") else np.asarray(data)
    except ValueError as error:  # ragged lists
        raise DataError(f"{name} cannot be made into an array: {error}") from None
    if array.dtype == object:
        raise DataError(f"{name} must be rectangular (same length in every row), got ragged data")
    return array


# --------------------------------------------------------------------------- splitting


def split_indices(m: int, relative_size, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle range(m) and cut it into parts proportional to ``relative_size``.

    (2, 1, 0) gives two thirds for training, one third for validation and no test set.
    Rounding goes to the training set, so every sample is used exactly once.
    """
    sizes = np.asarray(relative_size, dtype=np.float64)
    if sizes.ndim != 1 or sizes.size != 3 or np.any(sizes < 0) or sizes[0] <= 0:
        raise DataError(f"relative_size must be (train, val, test) with train > 0, got {tuple(relative_size)}")
    counts = np.floor(m * sizes / sizes.sum()).astype(int)
    counts[0] = m - counts[1:].sum()
    order = rng.permutation(m)
    return np.split(order, np.cumsum(counts)[:2])


def holdout_last(X, Y, fraction: float):
    """Keras's ``validation_split``: the last samples held out, before any shuffling.

    ``floor(m * (1 - fraction))`` rows train, the rest validate, each part in its order
    (a time series stays one). Returns ``(X_train, Y_train, (X_val, Y_val))``, with None
    for the validation part when nothing is held out.
    """
    m = len(X)
    train = int(np.floor(m * (1.0 - fraction)))
    if fraction <= 0 or train >= m:
        return X, Y, None
    if train < 1:
        raise DataError(f"validation_split={fraction} leaves no training sample out of {m}")
    return X[:train], None if Y is None else Y[:train], (X[train:], None if Y is None else Y[train:])


# --------------------------------------------------------------------------- datasets


@dataclass
class Dataset:
    """One split of the data on the backend.

    X, Y   inputs and targets (backend arrays; Y may be None for prediction)
    y      integer labels (argmax of one-hot Y), on the host, for reports
    A, P   the last outputs and decisions computed for this set (by evaluate)
    """

    name: str
    X: object
    Y: object = None
    y: np.ndarray | None = None
    A: object = None
    P: object = None
    metrics: dict = field(default_factory=dict)
    on_host: bool = False  # streamed: X and Y stay NumPy arrays, copied over batch by batch

    def __len__(self) -> int:
        return int(self.X.shape[0])


class StreamedBatches:
    """Mini-batches of a data set kept on the host, copied to the backend one at a time.

    Only one batch lives on the device at once, so a data set larger than the device's
    memory trains all the same (each batch then costs one host-to-device copy).
    """

    def __init__(self, X, Y, order, batch_size, backend):
        self.X, self.Y, self.order, self.backend = X, Y, order, backend
        self.slices = batch_slices(len(order), batch_size)

    def __len__(self) -> int:
        return len(self.slices)

    def __iter__(self):
        for i, piece in enumerate(self.slices):
            rows = self.order[piece]
            Y = None if self.Y is None else self.backend.asarray(self.Y[rows])
            yield Dataset(f"batch {i}", self.backend.asarray(self.X[rows]), Y)


def batch_slices(m: int, batch_size: int | None) -> list[slice]:
    """Consecutive slices of ``batch_size`` over m samples; the last one may be shorter."""
    if batch_size is None or batch_size >= m:
        return [slice(0, m)]
    if batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    return [slice(start, min(start + batch_size, m)) for start in range(0, m, batch_size)]
