"""Every bad argument is refused at once, by nnxp's own code, with one form of message:
``<where>: <name> must be <expected>, got <actual>`` (nnxp.checks)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from builders import blobs
import nnxp
from nnxp import DataError, Model, one_hot
from nnxp.layers import GRU, LSTM, RNN, Convolution, Dense, Embedding, Pooling, WordEmbedding

PACKAGE = os.path.dirname(os.path.abspath(nnxp.__file__))


def refused(kind, message, call, *args, **kwargs):
    """``call`` raises ``kind`` with exactly ``message``, from a line of nnxp's own code."""
    with pytest.raises(kind) as error:
        call(*args, **kwargs)
    assert str(error.value) == message
    assert str(error.traceback[-1].path).startswith(PACKAGE), error.traceback[-1].path
    return error


@pytest.fixture
def data(rng):
    X, labels = blobs(rng, m=24, features=3)
    return X, one_hot(labels)


def compiled():
    return Model([Dense(3, "softmax")]).compile(loss="CCE", optimizer="sgd")


def test_batch_size_and_epochs_of_fit(data):
    X, Y = data
    refused(TypeError, "fit: batch_size must be a whole number >= 1, got 2.5 (float)",
            compiled().fit, X, Y, batch_size=2.5, verbose=0)
    refused(TypeError, "fit: batch_size must be a whole number >= 1, got '16' (str)",
            compiled().fit, X, Y, batch_size="16", verbose=0)
    refused(ValueError, "fit: batch_size must be a whole number >= 1, got 0", compiled().fit, X, Y, batch_size=0)
    refused(TypeError, "fit: epochs must be a whole number >= 0, got 2.5 (float)", compiled().fit, X, Y, epochs=2.5)
    refused(ValueError, "fit: epochs must be a whole number >= 0, got -1", compiled().fit, X, Y, epochs=-1)
    model = compiled()
    model.fit(X, Y, epochs=np.int64(1), batch_size=np.int64(8), verbose=0)  # NumPy integers are whole numbers
    refused(ValueError, "train: epochs must be a whole number >= 0, got -2", model.train, epochs=-2)
    assert model.epoch == 1


def test_a_second_fit_without_targets(data):
    X, Y = data
    model = compiled()
    model.fit(X, Y, verbose=0)
    message = "fit: Y must be the targets of X (an array with one row per sample), got None"
    refused(DataError, message, model.fit, X, None, verbose=0)
    refused(DataError, message, compiled().fit, X, None, verbose=0)


@pytest.mark.parametrize("make, message", [
    (lambda: Dense("ten"), "Dense: units must be a whole number >= 1, got 'ten' (str)"),
    (lambda: Dense(2.5), "Dense: units must be a whole number >= 1, got 2.5 (float)"),
    (lambda: Dense(True), "Dense: units must be a whole number >= 1, got True (bool)"),
    (lambda: Convolution("8"), "Convolution: filters must be a whole number >= 1, got '8' (str)"),
    (lambda: Convolution(4, filter_size=2.5), "Convolution: filter_size must be a whole number >= 1, got 2.5 (float)"),
    (lambda: Pooling("2"), "Pooling: pool_size must be a whole number >= 1, got '2' (str)"),
    (lambda: LSTM(None), "LSTM: units must be a whole number >= 1, got None (NoneType)"),
    (lambda: GRU("4"), "GRU: units must be a whole number >= 1, got '4' (str)"),
    (lambda: RNN(4, clip_gradients="1"), "RNN: clip_gradients must be a finite number > 0, got '1' (str)"),
    (lambda: WordEmbedding("10", 3), "WordEmbedding: vocabulary_size must be a whole number >= 1, got '10' (str)"),
    (lambda: Embedding(batch_size=2.5), "Embedding: batch_size must be a whole number >= 1, got 2.5 (float)"),
])
def test_layer_sizes(make, message):
    refused(TypeError, message, make)


@pytest.mark.parametrize("seed, kind, shown", [(-1, ValueError, "-1"), ("abc", TypeError, "'abc' (str)"),
                                               (1.5, TypeError, "1.5 (float)")])
def test_seeds(data, seed, kind, shown):
    X, Y = data
    expected = "must be None or a whole number >= 0, got " + shown
    refused(kind, f"set_seed: seed {expected}", nnxp.set_seed, seed)
    refused(kind, f"Embedding: seed {expected}", Embedding, X, Y, seed=seed)
    refused(kind, f"initialize: seed {expected}",
            Model([Embedding(X, Y), Dense(3, "softmax")]).initialize, loss="CCE", seed=seed, verbose=False)
    refused(kind, f"compile: seed {expected}", Model([Dense(3, "softmax")]).compile, loss="CCE", seed=seed)
    refused(kind, f"fit: seed {expected}", compiled().fit, X, Y, seed=seed)
    refused(kind, f"Dense.initialize: seed {expected}", Dense(2).initialize, X, seed=seed)
    nnxp.set_seed(None)


@pytest.mark.parametrize("rate, kind, shown", [("0.1", TypeError, "'0.1' (str)"), (math.nan, ValueError, "nan"),
                                               (math.inf, ValueError, "inf"), (-0.1, ValueError, "-0.1")])
def test_learning_rates(data, rate, kind, shown):
    X, Y = data
    model = Model([Embedding(X, Y), Dense(3, "softmax")])
    refused(kind, f"se_hPars: learning_rate must be a finite number >= 0, got {shown}",
            model.initialize, loss="CCE", se_hPars={"learning_rate": rate}, verbose=False)
    refused(kind, f"optimizer adam: learning_rate must be a finite number >= 0, got {shown}",
            model.initialize, loss="CCE", optimizer={"name": "adam", "learning_rate": rate}, verbose=False)
    refused(kind, f"se_hPars: learning_rate must be a finite number >= 0, got {shown}",
            Model([Embedding(X, Y), Dense(3, "softmax", se_hPars={"learning_rate": rate})]).initialize,
            loss="CCE", verbose=False)


def test_msle_targets_at_or_below_minus_one(rng):
    X = rng.standard_normal((20, 3))
    Y = rng.uniform(0, 2, (20, 1))
    Y[7] = -1.0  # log(1 + Y) = -inf
    model = Model([Embedding(X, Y, relative_size=(1, 0, 0)), Dense(1, "linear")])
    refused(DataError, "MSLE needs targets in (-1.0, inf], but the train set holds values from -1.0 to "
                       f"{Y.max()}: labels out of range", model.initialize, loss="MSLE", verbose=False)
    Y[7] = -0.5
    Model([Embedding(X, Y, relative_size=(1, 0, 0)), Dense(1, "linear")]).initialize(loss="MSLE", verbose=False)


def test_float64_data_beyond_float32(rng):
    X, Y = rng.standard_normal((20, 3)), one_hot(rng.integers(3, size=20), n_classes=3)
    X[4, 2] = 1e39
    with nnxp.use_backend("cpu", dtype="float32", kernels="reference"):
        model = Model([Embedding(X, Y, relative_size=(1, 0, 0)), Dense(3, "softmax")])
        refused(DataError, "Embedding: the train set's X holds 1e+39, beyond the range of float32 (+-3.4e+38): on "
                           "this float32 backend it would become inf; scale the data, or use dtype='float64'",
                model.initialize, loss="CCE", verbose=False)
        X[4, 2] = 0.5
        model = Model([Embedding(X, Y, relative_size=(1, 0, 0)), Dense(3, "softmax")])
        model.initialize(loss="CCE", verbose=False)
        refused(DataError, "predict: X holds -2e+39 (at index (0, 0)), beyond the range of float32 (+-3.4e+38): on "
                           "this float32 backend it would become inf; scale the data, or use dtype='float64'",
                model.predict, np.full((2, 3), -2e39))
    with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
        X[4, 2] = 1e39  # float64 holds it
        Model([Embedding(X, Y, relative_size=(1, 0, 0)), Dense(3, "softmax")]).initialize(loss="CCE", verbose=False)


def test_thread_counts():
    refused(TypeError, "set_num_threads: n must be a whole number >= 1, got '2' (str)", nnxp.set_num_threads, "2")
    refused(ValueError, "set_num_threads: blas must be a whole number >= 1, got 0", nnxp.set_num_threads, 1, blas=0)
