"""Convolution: finite differences, repeated backward, errors, both model styles, saving,
and a small CNN that learns the sklearn digits."""

import numpy as np
import pytest

import nnxp
from gradcheck import check_layer_gradients
from nnxp.backend import to_numpy
from nnxp.layers import Convolution, Dense, Embedding, Flatten, Pooling, ShapeError


@pytest.mark.parametrize("options", [
    dict(filters=3, filter_size=3, padding="same", activation="tanh"),
    dict(filters=2, filter_size=(2, 3), strides=(2, 1), padding=((1, 0), (2, 1)), activation="sigmoid"),
    dict(filters=2, filter_size=1, strides=3, padding=1, activation="identity", use_bias=False),
    dict(filters=1, filter_size=(5, 4), strides=(3, 2), padding="same", activation="tanh"),
], ids=["same", "asymmetric", "1x1-stride3", "5x4-strided-same"])
def test_convolution_gradients(backend, options, rng):
    X = rng.standard_normal((2, 7, 6, 3))
    check_layer_gradients(Convolution(**options), X)


def test_two_backward_calls_give_the_same_result(backend, rng):
    layer = Convolution(4, 3, strides=2, padding="same", activation="tanh")
    X = backend.asarray(rng.standard_normal((3, 9, 7, 2)))
    layer.initialize(X, seed=0)
    dA = backend.asarray(rng.standard_normal(tuple(layer.forward(X).shape)))
    first = [to_numpy(layer.backward(dA))]
    layer.compute_gradients()
    first += [to_numpy(layer.g["dW"]).copy(), to_numpy(layer.g["db"]).copy()]
    second = [to_numpy(layer.backward(dA))]
    layer.compute_gradients()
    second += [to_numpy(layer.g["dW"]), to_numpy(layer.g["db"])]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_a_first_layer_can_skip_the_input_gradient(backend, rng):
    X = backend.asarray(rng.standard_normal((3, 8, 7, 2)))
    full, first = Convolution(3, 3, strides=(1, 2), padding=1), Convolution(3, 3, strides=(1, 2), padding=1)
    full.initialize(X, seed=5), first.initialize(X, seed=5)
    first.input_gradient = False
    dA = backend.asarray(rng.standard_normal(tuple(full.forward(X).shape)))
    first.forward(X)
    assert full.backward(dA) is not None and first.backward(dA) is None
    full.compute_gradients(), first.compute_gradients()
    for name in ("dW", "db"):
        np.testing.assert_allclose(to_numpy(first.g[name]), to_numpy(full.g[name]), rtol=1e-13)


def test_same_padding_keeps_ceil_of_size_over_stride(array_backend, rng):
    for size, k, s in [(7, 3, 1), (8, 4, 1), (7, 2, 2), (9, 5, 3), (10, 3, 3)]:
        layer = Convolution(2, k, strides=s, padding="same")
        X = array_backend.asarray(rng.standard_normal((1, size, size + 2, 1)))
        layer.initialize(X, seed=0)
        assert tuple(layer.forward(X).shape) == (1, -(-size // s), -(-(size + 2) // s), 2)


def test_fused_dZ_bypasses_the_activation(array_backend, rng):
    """As an output layer the model hands dL/dZ directly: backward(dA, dZ) must use dZ as is."""
    X = array_backend.asarray(rng.standard_normal((2, 5, 5, 2)))
    fused, plain = Convolution(3, 2, activation="softmax"), Convolution(3, 2, activation="identity")
    fused.initialize(X, seed=4), plain.initialize(X, seed=4)
    fused.forward(X), plain.forward(X)
    dZ = array_backend.asarray(rng.standard_normal((2, 4, 4, 3)))
    np.testing.assert_allclose(to_numpy(fused.backward(None, dZ=dZ)), to_numpy(plain.backward(dZ)), rtol=1e-14)
    fused.compute_gradients(), plain.compute_gradients()
    np.testing.assert_allclose(to_numpy(fused.g["dW"]), to_numpy(plain.g["dW"]), rtol=1e-14)


# --------------------------------------------------------------------------- errors
def test_shape_errors_name_the_layer_and_the_shapes(array_backend, rng):
    layer = Convolution(2, 3, name="conv1")
    layer.initialize(array_backend.asarray(rng.standard_normal((2, 6, 6, 3))), seed=0)
    with pytest.raises(ShapeError, match=r"conv1.*\(m, height, width, channels\).*\(2, 6, 6\)"):
        layer.forward(array_backend.asarray(rng.standard_normal((2, 6, 6))))
    with pytest.raises(ShapeError, match=r"conv1.*3 channels.*\(m, height, width, 3\).*\(2, 6, 6, 4\)"):
        layer.forward(array_backend.asarray(rng.standard_normal((2, 6, 6, 4))))
    big = Convolution(2, (5, 3), padding=1, name="big")
    with pytest.raises(ShapeError, match=r"big.*filter \(5, 3\).*padded image \(4, 6\)"):
        big.initialize(array_backend.asarray(rng.standard_normal((1, 2, 4, 1))), seed=0)


@pytest.mark.parametrize("options, message", [
    (dict(filters=0), "filters must be a whole number >= 1, got 0"),
    (dict(filter_size=(3, 0)), "filter_size must be a whole number >= 1, got 0"),
    (dict(filter_size=(3, 3, 3)), r"filter_size must be a whole number >= 1 or a \(height, width\) pair"),
    (dict(strides=0), "strides must be a whole number >= 1, got 0"),
    (dict(padding="full"), "padding must be 'valid', 'same'"),
    (dict(padding=-1), "padding must be"),
    (dict(padding=((1, 2, 3), (0, 0))), "padding must be"),
    (dict(activation="nope"), "nope"),
])
def test_bad_options_raise_value_errors(options, message):
    with pytest.raises(ValueError, match=message) as error:
        Convolution(**options)
    assert "Convolution" in str(error.value) or options.get("activation")


# --------------------------------------------------------------------------- in a model
def images(rng, n=60):
    """Small 6x6 images of two classes: a bright row or a bright column."""
    X = rng.uniform(0, 0.3, (n, 6, 6, 1))
    Y = rng.integers(0, 2, n)
    where = rng.integers(0, 6, n)
    for i in range(n):
        if Y[i]:
            X[i, where[i], :, 0] += 1
        else:
            X[i, :, where[i], 0] += 1
    return X, Y


def cnn():
    return [Convolution(4, 3, padding="same", activation="relu"), Pooling(2, mode="max"),
            Convolution(3, (2, 2), strides=1, padding=((0, 1), (1, 0)), activation="tanh"),
            Pooling(2, strides=1, mode="mean"), Flatten(), Dense(2, "softmax")]


def test_epynn_style_model_trains_summarises_and_saves(array_backend, rng, tmp_path, capsys):
    X, Y = images(rng)
    model = nnxp.Model([Embedding(X, Y, Y_encode=True, batch_size=16, seed=0), *cnn()])
    model.initialize(loss="CCE", optimizer="adam", se_hPars={"learning_rate": 0.01}, seed=3, verbose=True)
    table = capsys.readouterr().out
    assert "Convolution" in table and "Pooling" in table and "(16, 6, 6, 4)" in table and "W (3, 3, 1, 4)" in table
    history = model.train(epochs=3, verbose=0)
    assert history["loss"][-1] < history["loss"][0]
    model.summary()
    assert "(16, 3, 3, 4)" in capsys.readouterr().out  # after the first pooling

    path = model.write(tmp_path / "cnn.npz")
    loaded = nnxp.read_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert loaded.layers[3].padding == ((0, 1), (1, 0)) and loaded.layers[4].mode == "mean"
    np.testing.assert_allclose(loaded.predict(X).probabilities, model.predict(X).probabilities, rtol=1e-12)


def test_keras_style_model_fits(array_backend, rng):
    X, Y = images(rng)
    model = nnxp.Model()
    for layer in cnn():
        model.add(layer)
    model.compile(loss="CCE", optimizer="adam", seed=2)
    history = model.fit(X, nnxp.one_hot(Y), epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert history.epochs == 3 and history["loss"][-1] < history["loss"][0]
    assert model.predict(X).probabilities.shape == (len(X), 2)


def test_cnn_learns_the_digits():
    """A small CNN on sklearn's 8x8 digits reaches >= 97% accuracy on held-out images."""
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X, Y = (digits.images / 16.0)[..., None], digits.target
    with nnxp.use_backend("cpu"):
        model = nnxp.Model([
            Embedding(X, Y, Y_encode=True, relative_size=(3, 0, 1), batch_size=32, seed=0),
            Convolution(16, 3, padding="same", activation="relu"), Pooling(2), Flatten(), Dense(10, "softmax")])
        model.initialize(loss="CCE", optimizer="adam", se_hPars={"learning_rate": 0.005}, seed=0, verbose=False)
        history = model.train(epochs=12, verbose=0)
    assert history["test_accuracy"][-1] >= 0.97


def test_training_skips_the_first_layers_input_gradient_but_model_backward_gives_it(array_backend, rng):
    """A first convolution's dX feeds nothing, so a training step skips it; asked for
    explicitly, model.backward still returns dL/dX."""
    X = rng.standard_normal((6, 5, 5, 1))
    model = nnxp.Model([Embedding(X, np.arange(6) % 2, Y_encode=True, relative_size=(1, 0, 0), batch_size=6),
                        Convolution(2, 3),
                        Flatten(), Dense(2, "softmax")])
    model.initialize(loss="CCE", seed=0, verbose=False)
    batch = next(iter(model.embedding.training_batches()))
    model.train_step(batch.X, batch.Y)
    assert model.layers[1].bc["dX"] is None and "dW" in model.layers[1].g
    A = model.forward(batch.X)
    dX = model.backward(*model.loss_gradient(A, batch.Y))
    assert tuple(dX.shape) == (6, 5, 5, 1) and model.layers[1].input_gradient is True
