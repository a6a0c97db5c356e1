"""RNN, GRU and LSTM learn: digits read row by row, and a memory task.

Float32 on the CPU backend with its default kernels (numba where installed).
"""

from __future__ import annotations

import numpy as np
import pytest

import nnxp
from nnxp.layers import GRU, LSTM, RNN, Dense, Embedding

pytestmark = pytest.mark.slow


@pytest.fixture
def cpu_float32():
    with nnxp.use_backend("cpu", dtype="float32") as backend:
        yield backend


def test_lstm_reads_digits_row_by_row(cpu_float32):
    """sklearn's 8x8 digits as 8 steps of 8 pixels (X / 16): >= 90% on the test set."""
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    model = nnxp.Model([Embedding(digits.images / 16.0, digits.target, Y_encode=True, relative_size=(3, 0, 1),
                                  batch_size=32, seed=0), LSTM(32), Dense(10, "softmax")])
    model.initialize(loss="CCE", optimizer="adam", seed=0, se_hPars={"learning_rate": 0.01}, verbose=False)
    model.train(epochs=8, verbose=0)
    assert model.history["test_accuracy"][-1] >= 0.90, model.history["test_accuracy"]


def memory_task(rng, m, steps=10):
    """The class (0 or 1) is the sign of the first step; 9 steps of noise follow, so the
    layer must carry it along. Chance is 50%."""
    y = rng.integers(0, 2, m)
    X = 0.5 * rng.standard_normal((m, steps, 1))
    X[:, 0, 0] = (2 * y - 1) * rng.uniform(0.5, 1.5, m)
    return X, nnxp.one_hot(y)


@pytest.mark.parametrize("layer_class", [GRU, RNN])
def test_gru_and_rnn_remember_the_first_step(cpu_float32, layer_class):
    X, Y = memory_task(np.random.default_rng(0), 1000)
    X_test, Y_test = memory_task(np.random.default_rng(1), 400)
    model = nnxp.Model()
    model.add(layer_class(16))
    model.add(Dense(2, "softmax"))
    model.compile(loss="CCE", optimizer=nnxp.optimizers.Adam(0.01), seed=1)
    model.fit(X, Y, epochs=5, batch_size=32, verbose=0)
    accuracy = model.evaluate(X_test, Y_test)["accuracy"]
    assert accuracy >= 0.90, f"{layer_class.__name__}: test accuracy {accuracy:.3f} (chance 0.5)"
