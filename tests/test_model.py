"""The model: back-propagation through a whole stack against finite differences, and the
two training loops (initialize/train and compile/fit) giving the same numbers on the
``strict`` backend as on ``cpu``."""

import numpy as np
import pytest

from builders import blobs, classifier, parameters
from gradcheck import assert_close, numerical_gradient
import nnxp
from nnxp import Model, NotInitialized, one_hot
from nnxp.backend import to_numpy
from nnxp.layers import Dense, Dropout, Embedding

STACKS = {  # name -> (loss, output activation, output units, targets)
    "softmax-CCE": ("CCE", "softmax", 3, "one-hot"),
    "sigmoid-BCE": ("BCE", "sigmoid", 1, "binary"),
    "tanh-MSE": ("MSE", "tanh", 2, "real"),
    "softmax-Hellinger": ("Hellinger", "softmax", 3, "one-hot"),
}


def targets(kind, labels, rng):
    if kind == "one-hot":
        return one_hot(labels, n_classes=3)
    if kind == "binary":
        return (labels == 1).astype(float)[:, None]
    return rng.uniform(-0.9, 0.9, (len(labels), 2))


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_whole_model_gradients_match_finite_differences(array_backend, stack, rng):
    loss, output, units, kind = STACKS[stack]
    X, labels = blobs(rng, m=7, features=4)
    Y = targets(kind, labels, rng)
    model = Model([Embedding(X, Y, relative_size=(1, 0, 0), seed=0), Dense(5, "tanh"), Dropout(0.3),
                   Dense(4, "elu"), Dense(units, output)])
    model.initialize(loss=loss, seed=1, verbose=False)
    dropout = model.layers[2]
    X_b, Y_b = model.embedding.dtrain.X, model.embedding.dtrain.Y

    def loss_value():
        dropout.random = array_backend.random(5)  # the same mask at every forward
        return float(to_numpy(model.loss(model.forward(X_b), Y_b)))

    dropout.random = array_backend.random(5)
    A = model.forward(X_b)
    dX = to_numpy(model.backward(*model.loss_gradient(A, Y_b)))
    assert np.any(to_numpy(dropout.fc["D"]) == 0)  # the mask does drop something
    checked = 0
    for index, layer in enumerate(model.layers):
        for name in list(layer.p):
            analytic = to_numpy(layer.g["d" + name]).copy()
            host = to_numpy(layer.p[name]).copy()

            def value(layer=layer, name=name, host=host):
                layer.p[name] = array_backend.asarray(host)
                return loss_value()

            indices, numeric = numerical_gradient(value, host, max_entries=15, rng=np.random.default_rng(index))
            layer.p[name] = array_backend.asarray(host)
            assert_close(analytic.reshape(-1)[indices], numeric, 1e-6, 1e-9, f"{stack}: {layer.describe()} d{name}")
            checked += 1
    assert checked == 6
    X_host = to_numpy(X_b).copy()

    def value_of_input():
        dropout.random = array_backend.random(5)
        return float(to_numpy(model.loss(model.forward(array_backend.asarray(X_host)), Y_b)))

    indices, numeric = numerical_gradient(value_of_input, X_host, max_entries=15)
    assert_close(dX.reshape(-1)[indices], numeric, 1e-6, 1e-9, f"{stack}: dL/dX")


# --------------------------------------------------------------------------- the loops


def train_loop(backend_name, X, labels):
    with nnxp.use_backend(backend_name, dtype="float64", kernels="reference"):
        model = classifier(X, labels, activation="relu", batch_size=8, extra_layers=[Dropout(0.2)],
                           relative_size=(2, 1, 1))
        model.initialize(loss="CCE", optimizer="adam", metrics=["accuracy", "fscore"], seed=3, verbose=False)
        model.train(epochs=3, verbose=0)
    return model


def fit_loop(backend_name, X, Y):
    with nnxp.use_backend(backend_name, dtype="float64", kernels="reference"):
        model = Model([Dense(6, "tanh"), Dropout(0.1), Dense(3, "softmax")])
        model.compile(loss="CCE", optimizer={"name": "momentum", "learning_rate": 0.05}, metrics=["accuracy"])
        model.fit(X, Y, epochs=2, batch_size=8, validation_split=0.25, seed=5, verbose=0)
        model.fit(X, Y, epochs=1, batch_size=8, validation_split=0.25, seed=5, verbose=0)  # goes on
    return model


@pytest.mark.parametrize("loop", ["initialize-train", "compile-fit"])
def test_loops_give_the_same_result_on_strict_and_cpu(loop, rng):
    pytest.importorskip("array_api_strict")
    X, labels = blobs(rng, m=40)
    if loop == "initialize-train":
        cpu, strict = train_loop("cpu", X, labels), train_loop("strict", X, labels)
        keys = {"loss", "accuracy", "fscore", "val_loss", "test_loss", "test_fscore", "lr"}
    else:
        Y = one_hot(labels)
        cpu, strict = fit_loop("cpu", X, Y), fit_loop("strict", X, Y)
        keys = {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert strict.backend.name == "strict" and type(strict.layers[1].p["W"]).__module__.startswith("array_api_strict")
    assert keys <= set(cpu.history.history) and cpu.history.history.keys() == strict.history.history.keys()
    assert cpu.history.epochs == 3 and cpu.epoch == 3
    for key, values in cpu.history.history.items():
        np.testing.assert_allclose(strict.history[key], values, rtol=1e-10, atol=1e-12, err_msg=key)
    reference = parameters(cpu)
    for key, value in parameters(strict).items():
        np.testing.assert_allclose(value, reference[key], rtol=1e-10, atol=1e-12, err_msg=key)
        assert not np.array_equal(value, parameters(strict)[key] * 0), key
    assert cpu.history["loss"][-1] < cpu.history["loss"][0]  # it learnt something


def test_same_seed_same_training_and_reinitialize_starts_over(rng):
    X, labels = blobs(rng, m=30)
    with nnxp.use_backend("cpu", dtype="float64"):
        first = train_loop("cpu", X, labels)
        second = train_loop("cpu", X, labels)
        assert first.history.history == second.history.history
        first.initialize(loss="CCE", optimizer="adam", metrics=["accuracy", "fscore"], seed=3, verbose=False)
        assert first.history.epochs == 0 and first.epoch == 0
        first.train(epochs=3, verbose=0)
        assert first.history.history == second.history.history  # the batch order starts over too


def test_fit_uses_validation_data_and_keeps_the_history(array_backend, rng):
    X, labels = blobs(rng, m=40)
    Xv, labels_v = blobs(np.random.default_rng(1), m=10)
    model = Model([Dense(5, "relu"), Dense(3, "softmax")])
    with pytest.raises(NotInitialized, match="compile"):
        model.fit(X, one_hot(labels), verbose=0)
    model = Model([Dense(5, "relu"), Dense(3, "softmax")]).compile(loss="CCE", optimizer="adam", seed=0)
    history = model.fit(X, one_hot(labels), epochs=2, validation_data=(Xv, one_hot(labels_v, n_classes=3)),
                        verbose=0)
    assert history is model.history and history.epochs == 2
    assert len(model.embedding.dval) == 10 and len(model.embedding.dtrain) == 40
    val = model.evaluate(Xv, one_hot(labels_v, n_classes=3))
    assert history["val_loss"][-1] == pytest.approx(val["loss"], rel=1e-6)
    model.fit(X, one_hot(labels), epochs=1, verbose=0)
    assert model.history.epochs == 3 and "val_loss" in model.history
    assert model.history.epochs == len(model.history["lr"])


def test_initialize_prints_the_shape_table_and_names_layers(array_backend, rng, capsys):
    X, labels = blobs(rng, m=20)
    model = classifier(X, labels, hidden=7, extra_layers=[Dense(4, "relu", name="middle")])
    model.initialize(loss="CCE", seed=0, verbose=True)
    table = capsys.readouterr().out
    assert [layer.name for layer in model.layers] == ["embedding", "dense", "middle", "dense_3"]
    for needle in ("dense_3", "middle", "W (4, 7)", "(14, 7)", "softmax", "CCE"):
        assert needle in table, needle
    assert model.layers[1].fs["X"] == (14, 4) and model.layers[1].fs["A"] == (14, 7)


def test_predict_returns_host_arrays_in_evaluation_mode(array_backend, rng):
    X, labels = blobs(rng, m=30)
    model = classifier(X, labels, extra_layers=[Dropout(0.5)])
    model.initialize(loss="CCE", seed=0, verbose=False)
    first, second = model.predict(X), model.predict(X, batch_size=7)
    assert isinstance(first.probabilities, np.ndarray) and first.probabilities.shape == (30, 3)
    np.testing.assert_allclose(first.probabilities, second.probabilities, rtol=1e-12)  # no dropout, chunks agree
    np.testing.assert_allclose(first.probabilities.sum(1), 1.0)
    assert first.labels.tolist() == first.decisions.tolist() == first.probabilities.argmax(1).tolist()
    assert all(layer.training for layer in model.layers)  # training mode restored


def test_compile_seed_alone_makes_fit_reproducible(rng):
    """No seed given to fit: the compile seed fixes the weights, the split and the batches."""
    X, labels = blobs(rng, m=40)

    def run():
        model = Model([Dense(5, "relu"), Dense(3, "softmax")]).compile(loss="CCE", seed=7)
        model.fit(X, one_hot(labels), epochs=2, batch_size=8, validation_split=0.25, verbose=0)
        return model.history.history

    assert run() == run()


def test_set_seed_is_the_default_seed(rng):
    X, labels = blobs(rng, m=20)
    try:
        nnxp.set_seed(21)
        first = classifier(X, labels).initialize(loss="CCE", verbose=False)
        second = classifier(X, labels).initialize(loss="CCE", verbose=False)
        assert first.seed == 21
        assert all(np.array_equal(v, parameters(second)[k]) for k, v in parameters(first).items())
    finally:
        nnxp.set_seed(None)
    third = classifier(X, labels).initialize(loss="CCE", verbose=False)
    assert not np.array_equal(parameters(third)["1/W"], parameters(first)["1/W"])


def test_model_seed_makes_a_seedless_embedding_reproducible(array_backend):
    """Embedding(X, Y) without its own seed splits and shuffles with the model's seed."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    Y = (X[:, 0] > 0).astype(int)
    runs = []
    for _ in range(2):
        model = nnxp.Model([Embedding(X, Y, batch_size=8), Dense(1, "sigmoid")])
        model.initialize(loss="BCE", seed=7, verbose=False)
        model.train(epochs=2, verbose=0)
        runs.append((nnxp.to_numpy(model.embedding.dval.X), model.history["val_loss"]))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
