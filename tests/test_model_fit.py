"""``Model.fit`` keeps Keras's promises: the validation rows are the last ones, taken
before any shuffling; ``shuffle=False`` keeps the order of the rows; integer class
labels train exactly as their one-hot encoding does; and the epoch's training loss and
metrics are the sample-weighted means of what the training steps computed."""

import numpy as np
import pytest

from builders import blobs, parameters
import nnxp
from nnxp import Model, ShapeError, one_hot, to_numpy
from nnxp.layers import Dense, Dropout


def compiled(seed=0, output="softmax", loss="CCE", dropout=0.0):
    layers = [Dense(5, "tanh")] + ([Dropout(dropout)] if dropout else []) + [Dense(3, output)]
    return Model(layers).compile(loss=loss, optimizer={"name": "sgd", "learning_rate": 0.1}, seed=seed)


def rows(dataset):
    return to_numpy(dataset.X)


@pytest.mark.parametrize("shuffle", [False, True])
def test_validation_split_holds_out_the_last_rows_before_any_shuffling(array_backend, rng, shuffle):
    X, labels = blobs(rng, m=40)
    model = compiled()
    model.fit(X, one_hot(labels), epochs=1, batch_size=8, validation_split=0.25, shuffle=shuffle, verbose=0)
    np.testing.assert_array_equal(rows(model.embedding.dval), X[30:])  # floor(40 * 0.75) = 30 rows train
    np.testing.assert_array_equal(rows(model.embedding.dtrain), X[:30])  # in their order
    assert len(model.embedding.dtest) == 0


def test_shuffle_false_keeps_the_order_of_the_rows_in_every_epoch(array_backend, rng):
    X, labels = blobs(rng, m=30)
    model = compiled()
    model.fit(X, one_hot(labels), epochs=2, batch_size=7, shuffle=False, verbose=0)
    for _ in range(2):
        batches = model.embedding.training_batches()
        assert [len(b) for b in batches] == [7, 7, 7, 7, 2]
        np.testing.assert_array_equal(np.concatenate([rows(b) for b in batches]), X)  # a time series stays one
    shuffled = compiled()
    shuffled.fit(X, one_hot(labels), epochs=1, batch_size=7, shuffle=True, verbose=0)
    dealt = np.concatenate([rows(b) for b in shuffled.embedding.training_batches()])
    assert not np.array_equal(dealt, X) and np.array_equal(np.sort(dealt, axis=0), np.sort(X, axis=0))


def test_integer_labels_train_exactly_as_their_one_hot_encoding(array_backend, rng):
    X, labels = blobs(rng, m=36)
    sparse, dense = compiled(), compiled()
    sparse.fit(X, labels, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    dense.fit(X, one_hot(labels), epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    assert sparse.history.history == dense.history.history
    for key, value in parameters(dense).items():
        np.testing.assert_array_equal(parameters(sparse)[key], value, err_msg=key)
    assert sparse.history["loss"][-1] < sparse.history["loss"][0]
    np.testing.assert_array_equal(sparse.predict(X).labels, dense.predict(X).labels)
    column = compiled()
    column.fit(X, labels[:, None], epochs=3, batch_size=8, validation_split=0.25, verbose=0)  # (m, 1) too
    assert column.history.history == dense.history.history


def test_labels_name_the_columns_so_that_a_missing_class_keeps_its_column(array_backend, rng):
    X, labels = blobs(rng, m=30)
    labels = np.where(labels == 1, 2, labels)  # no sample of class 1
    model = compiled()
    model.fit(X, labels, epochs=1, verbose=0)
    assert model.embedding.classes == [0, 1, 2]
    np.testing.assert_array_equal(to_numpy(model.embedding.dtrain.Y), one_hot(labels, n_classes=3))
    assert set(model.predict(X).labels.tolist()) <= {0, 1, 2}


def test_the_epoch_training_metrics_are_the_weighted_means_of_the_batches(array_backend, rng):
    """Replay the epoch step by step on a twin model: the history holds the sample-weighted
    mean of the batch losses and accuracies computed before each step."""
    X, labels = blobs(rng, m=30)
    Y = one_hot(labels)
    model = compiled()
    model.compile(loss="CCE", optimizer={"name": "sgd", "learning_rate": 0.1}, metrics=["accuracy"], seed=0)
    model.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    twin = compiled()
    twin.compile(loss="CCE", optimizer={"name": "sgd", "learning_rate": 0.1}, metrics=["accuracy"], seed=0)
    twin.fit(X, Y, epochs=0, batch_size=8, shuffle=False, verbose=0)  # initialized, not trained
    losses, accuracies, sizes = [], [], []
    for batch in twin.embedding.training_batches():
        A = twin.forward(batch.X)
        losses.append(float(to_numpy(twin.loss(A, batch.Y))))
        accuracies.append(float(to_numpy(nnxp.metrics.accuracy(A, batch.Y))))
        sizes.append(len(batch))
        twin.train_step(batch.X, batch.Y)
    assert sizes == [8, 8, 8, 6]
    assert model.history["loss"][0] == pytest.approx(np.average(losses, weights=sizes), rel=1e-6)
    assert model.history["accuracy"][0] == pytest.approx(np.average(accuracies, weights=sizes), rel=1e-6)
    exact = model.evaluate(X, Y)["loss"]  # with the weights after the epoch: another number
    assert abs(exact - model.history["loss"][0]) > 1e-3
    for key, value in parameters(twin).items():
        np.testing.assert_allclose(parameters(model)[key], value, rtol=1e-12, err_msg=key)


def test_exact_training_metrics_on_request_evaluate_the_training_set_again(array_backend, rng):
    X, labels = blobs(rng, m=30)
    model = compiled(dropout=0.4)
    model.fit(X, labels, epochs=2, batch_size=8, validation_split=0.2, verbose=0, train_metrics="exact")
    train_X, train_labels = X[:24], labels[:24]
    # evaluate prepares raw data as fit did: the integer labels are encoded again
    assert model.history["loss"][-1] == pytest.approx(model.evaluate(train_X, train_labels)["loss"], rel=1e-6)
    assert model.history["val_loss"][-1] == pytest.approx(model.evaluate(X[24:], labels[24:])["loss"], rel=1e-6)
    with pytest.raises(ValueError, match="train_metrics must be 'exact' or 'batches', got 'all'"):
        model.fit(X, labels, train_metrics="all", verbose=0)


def test_the_label_hint_of_fit_no_longer_suggests_y_encode(array_backend, rng):
    X, labels = blobs(rng, m=20)
    model = compiled(output="sigmoid", loss="MSE")
    with pytest.raises(ShapeError, match="fit encodes them itself for a softmax output") as caught:
        model.fit(X, labels, verbose=0)
    assert "Y_encode" not in str(caught.value)


def test_train_initializes_a_compiled_model_with_its_settings(array_backend, rng):
    from nnxp.layers import Embedding

    X, labels = blobs(rng, m=20)
    model = Model([Embedding(X, labels, Y_encode=True, seed=0), Dense(3, "softmax")])
    model.compile(loss="CCE", optimizer="adam", seed=4)
    model.train(2, verbose=0)
    assert model.loss.name == "CCE" and model.optimizer.name == "adam" and model.seed == 4
    assert model.history.epochs == 2


def test_a_model_built_before_fit_trains_as_one_initialized_by_fit(array_backend, rng):
    """initialize's dry pass leaves no trace: neither the batch order nor Dropout's masks
    depend on the batch it ran on (build runs it on two rows of zeros)."""
    X, labels = blobs(rng, m=30)
    built = compiled(seed=5, dropout=0.5).build((4,))
    built.fit(X, labels, epochs=2, batch_size=8, verbose=0)
    direct = compiled(seed=5, dropout=0.5)
    direct.fit(X, labels, epochs=2, batch_size=8, verbose=0)
    assert built.history.history == direct.history.history
    for key, value in parameters(direct).items():
        np.testing.assert_array_equal(parameters(built)[key], value, err_msg=key)


def test_an_embedding_told_y_encode_keeps_it_for_string_labels(array_backend, rng):
    from nnxp.layers import Embedding

    X, labels = blobs(rng, m=24)
    names = np.array(["ant", "bee", "cat"])[labels]
    model = Model([Embedding(X, names, Y_encode=True, seed=0), Dense(3, "softmax")])
    model.compile(loss="CCE", seed=0)
    model.fit(X, names, epochs=1, verbose=0)
    assert model.embedding.classes == ["ant", "bee", "cat"]
    assert set(model.predict(X).labels.tolist()) <= {"ant", "bee", "cat"}
    model.fit(X, one_hot(labels), epochs=1, verbose=0)  # one-hot targets: nothing left to encode
    assert not model.embedding.Y_encode
