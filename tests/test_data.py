"""Data preparation: one-hot, splits, mini-batches, encoding and scaling, and predict
preparing new data the way the training data was prepared."""

import numpy as np
import pytest

from builders import blobs, classifier
import nnxp
from nnxp import DataError, one_hot, unhot
from nnxp.backend import to_numpy
from nnxp.data import MinMaxScaler, batch_slices, split_indices
from nnxp.layers import Dense, Embedding


def test_one_hot_and_unhot_round_trip():
    labels = np.array([2, 0, 1, 2])
    encoded = one_hot(labels)
    assert encoded.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert unhot(encoded).tolist() == labels.tolist()
    assert one_hot(labels, n_classes=5).shape == (4, 5)
    words = np.array(["cat", "dog", "ant", "dog"])
    encoded = one_hot(words)  # sorted classes: ant, cat, dog
    assert encoded.argmax(1).tolist() == [1, 2, 0, 2]
    assert unhot(encoded, classes=["ant", "cat", "dog"]).tolist() == words.tolist()
    assert one_hot(labels[:, None]).shape == (4, 3)  # a column of labels is labels
    sequences = np.array([["a", "b"], ["b", "c"]])
    assert one_hot(sequences).shape == (2, 2, 3)
    with pytest.raises(DataError, match="label 3 is out of range; expected one of \\[0, 1, 2\\]"):
        one_hot([0, 3], n_classes=3)
    with pytest.raises(DataError, match="'z' is out of range"):
        one_hot(["a", "z"], classes=["a", "b"])


@pytest.mark.parametrize("m, relative_size", [(100, (2, 1, 1)), (103, (2, 1, 1)), (10, (2, 1, 0)), (7, (1, 0, 0))])
def test_split_uses_every_sample_once_in_the_ratios(m, relative_size):
    parts = split_indices(m, relative_size, np.random.default_rng(0))
    sizes = np.array([len(p) for p in parts])
    assert sorted(np.concatenate(parts).tolist()) == list(range(m))
    shares = np.array(relative_size) / sum(relative_size)
    assert np.all(np.abs(sizes - m * shares) < len(parts) - 1 + 1e-9)
    assert sizes[1:].tolist() == np.floor(m * shares[1:]).astype(int).tolist()  # rounding goes to training
    again = split_indices(m, relative_size, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    with pytest.raises(DataError, match="relative_size"):
        split_indices(m, (0, 1, 1), np.random.default_rng(0))


def test_batch_slices_keep_the_last_smaller_batch():
    assert [(s.start, s.stop) for s in batch_slices(53, 10)] == [(0, 10), (10, 20), (20, 30), (30, 40),
                                                                  (40, 50), (50, 53)]
    assert batch_slices(5, None) == [slice(0, 5)] and batch_slices(5, 8) == [slice(0, 5)]
    with pytest.raises(DataError, match="batch_size must be >= 1"):
        batch_slices(5, 0)


def sample_ids(dataset):
    """Column 0 of X holds each sample's id: which samples are in this set, in order."""
    return to_numpy(dataset.X)[:, 0].round().astype(int).tolist()


def make_embedding(backend, m=103, batch_size=10, seed=1, **options):
    X = np.column_stack([np.arange(m), np.arange(m) % 3])  # id, label
    embedding = Embedding(X, X[:, 1], Y_encode=True, relative_size=(2, 1, 1), batch_size=batch_size,
                          seed=seed, **options)
    embedding.bind(backend)
    return embedding


def test_embedding_splits_and_batches(array_backend):
    embedding = make_embedding(array_backend)
    train, val, test = embedding.dtrain, embedding.dval, embedding.dtest
    assert (len(train), len(val), len(test)) == (53, 25, 25)
    everything = sample_ids(train) + sample_ids(val) + sample_ids(test)
    assert sorted(everything) == list(range(103))
    assert sample_ids(train) != sorted(sample_ids(train))  # shuffled before the split

    epochs = [embedding.training_batches() for _ in range(3)]
    for batches in epochs:
        assert [len(b) for b in batches] == [10, 10, 10, 10, 10, 3]  # the last, smaller batch is kept
        ids = [i for b in batches for i in sample_ids(b)]
        assert sorted(ids) == sorted(sample_ids(train))  # every training sample once per epoch
        for batch in batches:  # rows of X and Y stay together
            labels = to_numpy(batch.Y).argmax(1).tolist()
            assert labels == [i % 3 for i in sample_ids(batch)]
    orders = [[i for b in batches for i in sample_ids(b)] for batches in epochs]
    assert orders[0] != orders[1] != orders[2]  # reshuffled each epoch

    twin = make_embedding(array_backend)
    assert [[sample_ids(b) for b in twin.training_batches()] for _ in range(3)] == \
        [[sample_ids(b) for b in batches] for batches in epochs]  # seeded
    other = make_embedding(array_backend, seed=2)
    assert sample_ids(other.dtrain) != sample_ids(train)

    fixed = make_embedding(array_backend, shuffle=False)
    first, second = fixed.training_batches(), fixed.training_batches()
    assert [sample_ids(b) for b in first] == [sample_ids(b) for b in second]
    assert [i for b in first for i in sample_ids(b)] == sample_ids(fixed.dtrain)


def test_x_scale_uses_the_training_set_only(array_backend):
    raw = make_embedding(array_backend, batch_size=None)
    scaled = make_embedding(array_backend, batch_size=None, X_scale=True)  # same seed: same split
    train = raw.host_sets["dtrain"][0]
    low, high = train.min(), train.max()
    assert scaled.scaler == MinMaxScaler(float(low), float(high))
    for name in ("dtrain", "dval", "dtest"):
        np.testing.assert_allclose(scaled.host_sets[name][0], (raw.host_sets[name][0] - low) / (high - low))
    np.testing.assert_allclose(to_numpy(scaled.dval.X), scaled.host_sets["dval"][0])
    assert scaled.host_sets["dtrain"][0].max() == 1 and scaled.host_sets["dtrain"][0].min() == 0
    assert max(scaled.host_sets["dval"][0].max(), scaled.host_sets["dtest"][0].max()) > 1  # not refitted


def test_encoding_and_predict_prepare_new_data_the_same_way(array_backend, rng):
    """Characters in, words out: X one-hot (X_encode), Y labels one-hot (Y_encode), and
    predict / evaluate on raw data give what the network gives on prepared data."""
    alphabet = np.array(list("abcd"))
    X = alphabet[rng.integers(4, size=(40, 3))]  # 40 sequences of 3 characters
    words = np.where((X == "a").sum(1) > 0, "has-a", "no-a")
    embedding = Embedding(X, words, X_encode=True, Y_encode=True, X_scale=True, batch_size=8, seed=0)
    model = nnxp.Model([embedding, nnxp.layers.Flatten(), Dense(4, "tanh"), Dense(2, "softmax")])
    model.initialize(loss="CCE", seed=0, verbose=False)
    assert embedding.vocabulary == ["a", "b", "c", "d"] and embedding.classes == ["has-a", "no-a"]
    assert tuple(embedding.dtrain.X.shape[1:]) == (3, 4)
    model.train(epochs=2, verbose=0)

    new = alphabet[rng.integers(4, size=(7, 3))]
    prepared = embedding.scaler(one_hot(new, classes=embedding.vocabulary))
    expected = to_numpy(model.output(model.backend.asarray(prepared)))
    prediction = model.predict(new)
    np.testing.assert_allclose(prediction.probabilities, expected, rtol=1e-12)
    assert prediction.decisions.tolist() == expected.argmax(1).tolist()
    assert prediction.labels.tolist() == [embedding.classes[i] for i in expected.argmax(1)]

    new_words = np.where((new == "a").sum(1) > 0, "has-a", "no-a")
    values = model.evaluate(new, new_words)
    Y = one_hot(new_words, classes=embedding.classes)
    assert values["loss"] == pytest.approx(float(to_numpy(model.loss(model.backend.asarray(expected),
                                                                       model.backend.asarray(Y)))), rel=1e-12)
    assert values["accuracy"] == pytest.approx(np.mean(expected.argmax(1) == Y.argmax(1)))


def test_evaluate_on_given_data_matches_the_history(array_backend, rng):
    X, labels = blobs(rng, m=30)
    model = classifier(X, labels, relative_size=(1, 0, 0), batch_size=None)
    model.initialize(loss="CCE", metrics=["accuracy", "MSE"], seed=0, verbose=False)
    model.train(epochs=1, verbose=0)
    values = model.evaluate(X, labels)
    assert values["loss"] == pytest.approx(model.history["loss"][-1], rel=1e-12)
    assert values["MSE"] == pytest.approx(model.history["MSE"][-1], rel=1e-12)
