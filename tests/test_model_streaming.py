"""A data set larger than the device's memory is streamed to it batch by batch.

Without a GPU the path is proved on the ``strict`` backend, whose arrays are not NumPy
arrays: streamed sets stay NumPy on the host and every batch is copied over, and the
training must be exactly the same as with the data copied over whole.
"""

import numpy as np
import pytest

import nnxp
from nnxp.backend import Backend, backend_of
from nnxp.layers import Dense, Embedding


def _train(stream, epochs=3):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 5))
    labels = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = nnxp.Model([Embedding(X, labels, Y_encode=True, batch_size=16, seed=2, stream=stream),
                        Dense(8, "tanh"), Dense(2, "softmax")])
    model.initialize(loss="CCE", metrics=["accuracy"], seed=3, verbose=False)
    model.train(epochs=epochs, verbose=0)
    return model


def test_streamed_training_equals_training_on_the_device(array_backend):
    whole, streamed = _train(stream=False), _train(stream=True)
    assert backend_of(streamed.embedding.dtrain.X) == "cpu" and streamed.embedding.dtrain.on_host
    assert backend_of(whole.embedding.dtrain.X) == array_backend.name
    assert streamed.history.history == whole.history.history
    for a, b in zip(whole.layers[1:], streamed.layers[1:]):
        for name in a.p:
            np.testing.assert_array_equal(nnxp.to_numpy(a.p[name]), nnxp.to_numpy(b.p[name]))
    X = np.random.default_rng(1).standard_normal((7, 5))
    np.testing.assert_array_equal(whole.predict(X).probabilities, streamed.predict(X).probabilities)


def test_streamed_batches_arrive_one_at_a_time_on_the_backend(array_backend):
    model = _train(stream=True, epochs=1)
    batches = model.embedding.training_batches()
    assert len(batches) == 4  # 60 training samples in batches of 16: 16, 16, 16, 12
    sizes = []
    for batch in batches:
        assert backend_of(batch.X) == array_backend.name and backend_of(batch.Y) == array_backend.name
        sizes.append(batch.X.shape[0])
    assert sum(sizes) == len(model.embedding.dtrain) and sizes[-1] == len(model.embedding.dtrain) - 16 * (len(sizes) - 1)


@pytest.mark.parametrize("free_bytes, expected", [(10**9, False), (1000, True)])
def test_automatic_streaming_when_the_data_would_fill_half_the_device(monkeypatch, free_bytes, expected):
    monkeypatch.setattr(Backend, "free_memory", lambda self: free_bytes)
    model = _train(stream=None, epochs=1)
    assert model.embedding.dtrain.on_host is expected
