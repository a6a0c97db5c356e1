"""Bad input gets a clear error that names what is wrong: the layer, what was expected
and what came. (Damaged model files are in test_io.py.)"""

import numpy as np
import pytest

from builders import blobs
from nnxp import DataError, DivergenceWarning, Model, NotInitialized, ShapeError, one_hot
from nnxp.layers import Dense, Embedding, Flatten


@pytest.fixture
def data(rng):
    return blobs(rng, m=30, features=4)


def initialized(layers, loss="CCE", **options):
    model = Model(layers)
    model.initialize(loss=loss, seed=0, verbose=False, **options)
    return model


def test_output_shape_that_does_not_fit_y(array_backend, data):
    X, labels = data
    with pytest.raises(ShapeError) as error:
        initialized([Embedding(X, labels, Y_encode=True), Dense(5, name="hidden"), Dense(2, "softmax", name="out")])
    message = str(error.value)
    assert "Dense layer 'out'" in message and "(20, 2)" in message and "(20, 3)" in message

    with pytest.raises(ShapeError, match=r"'out' gives shape \(20, 3\) but Y has shape \(20, 1\); "
                                         r"Y looks like integer labels: pass Y_encode=True"):
        initialized([Embedding(X, labels), Dense(3, "softmax", name="out")])

    images = np.random.default_rng(0).standard_normal((30, 3, 3))
    with pytest.raises(ShapeError, match=r"gives shape \(20, 3, 3\) but Y has shape \(20, 3\)"):
        initialized([Embedding(images, labels, Y_encode=True), Dense(3, "softmax")])  # forgot Flatten
    initialized([Embedding(images, labels, Y_encode=True), Flatten(), Dense(3, "softmax")])  # fine


def test_input_without_a_samples_axis(array_backend, data):
    X, labels = data
    with pytest.raises(ShapeError, match=r"Dense layer 'first' expects input of shape \(m, n\).*got \(20,\)"):
        initialized([Embedding(X[:, 0], labels, Y_encode=True), Dense(4, name="first"), Dense(3, "softmax")])


def test_predict_with_the_wrong_shape_names_the_layer_and_both_shapes(array_backend, data):
    X, labels = data
    model = initialized([Embedding(X, labels, Y_encode=True, name="pixels"), Dense(5), Dense(3, "softmax")])
    with pytest.raises(ShapeError, match=r"Embedding layer 'pixels' expects input of shape \(m, 4\), got \(3, 5\)"):
        model.predict(np.zeros((3, 5)))
    with pytest.raises(ShapeError, match=r"expects input of shape \(m, 4\), got \(3, 4, 1\)"):
        model.predict(np.zeros((3, 4, 1)))
    hidden = model.layers[1]
    with pytest.raises(ShapeError, match=r"Dense layer 'dense' expects input of shape \(m, 4\), got \(2, 6\)"):
        hidden.forward(model.backend.asarray(np.zeros((2, 6))))


def test_x_and_y_of_different_lengths(array_backend, data):
    X, labels = data
    with pytest.raises(DataError, match="Embedding: X and Y have different lengths: 30 samples in X, 29 in Y"):
        Embedding(X, labels[:-1])
    model = Model([Dense(3, "softmax")]).compile(loss="CCE")
    with pytest.raises(DataError, match="30 samples in X, 28 in Y"):
        model.fit(X, one_hot(labels[:-2]), verbose=0)
    with pytest.raises(DataError, match="validation data: X and Y have different lengths"):
        model.fit(X, one_hot(labels), validation_data=(X[:5], one_hot(labels[:4], n_classes=3)), verbose=0)
    trained = initialized([Embedding(X, labels, Y_encode=True), Dense(3, "softmax")])
    with pytest.raises(DataError, match="evaluate: X and Y have different lengths: 30 samples in X, 29 in Y"):
        trained.evaluate(X, labels[:-1])


def test_labels_out_of_range(array_backend, data):
    X, labels = data
    with pytest.raises(DataError, match=r"BCE needs targets in \[0.0, 1.0\], but the train set holds values "
                                        r"from 0.0 to 2.0: labels out of range"):
        initialized([Embedding(X, labels, relative_size=(1, 0, 0)), Dense(1, "sigmoid")], loss="BCE")
    with pytest.raises(DataError, match=r"label 3 is out of range; expected one of \[0, 1, 2\]"):
        one_hot(np.append(labels, 3), n_classes=3)
    model = initialized([Embedding(X, labels, Y_encode=True), Dense(3, "softmax")])
    with pytest.raises(DataError, match=r"label 7 is out of range; expected one of \[0, 1, 2\]"):
        model.evaluate(X[:2], [0, 7])  # a class the model never saw


def test_nan_in_the_data(array_backend, data):
    X, labels = data
    bad = X.copy()
    bad[4, 2] = np.nan
    with pytest.raises(DataError, match=r"Embedding: X contains NaN or infinity \(first at index \(4, 2\)\)"):
        Embedding(bad, labels)
    Y = one_hot(labels)
    Y[7, 0] = np.inf
    with pytest.raises(DataError, match=r"Embedding: Y contains NaN or infinity \(first at index \(7, 0\)\)"):
        Embedding(X, Y)
    model = initialized([Embedding(X, labels, Y_encode=True), Dense(3, "softmax")])
    with pytest.raises(DataError, match=r"predict: X contains NaN"):
        model.predict(bad)


def test_unknown_names(array_backend, data):
    X, labels = data
    with pytest.raises(ValueError, match="unknown activation 'rellu'; expected one of .*'relu'"):
        Dense(3, "rellu")
    with pytest.raises(ValueError, match="unknown initializer 'gloria'; expected one of .*'glorot_uniform'"):
        Dense(3, initialization="gloria")
    layers = [Embedding(X, labels, Y_encode=True), Dense(3, "softmax")]
    with pytest.raises(ValueError, match="unknown loss 'CEE'; expected one of .*'CCE'"):
        initialized(layers, loss="CEE")
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; expected one of .*'adam'"):
        initialized(layers, optimizer="adamm")
    with pytest.raises(ValueError, match="unknown metric 'acc_score'"):
        initialized(layers, metrics=["acc_score"])
    with pytest.raises(ValueError, match="unknown hyperparameter 'lr' in se_hPars"):
        initialized(layers, se_hPars={"lr": 0.1})
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        Model([Dense(3)]).compile(optimizer="adamm")  # compile fails at once, not at fit


def test_cce_needs_a_softmax_output(array_backend, data):
    X, labels = data
    with pytest.raises(ValueError, match="CCE needs a softmax output, but Dense layer 'scores' uses Sigmoid"):
        initialized([Embedding(X, labels, Y_encode=True), Dense(3, "sigmoid", name="scores")])


def test_use_before_initialize(data):
    X, labels = data
    model = Model([Embedding(X, labels, Y_encode=True), Dense(3, "softmax")])
    for action, call in (("predict", lambda: model.predict(X)), ("evaluate", lambda: model.evaluate())):
        with pytest.raises(NotInitialized, match=f"call model.initialize.*before {action}"):
            call()
    model.train(1, verbose=0)  # train, as EpyNN's, initializes with the defaults first
    assert model.initialized and model.loss.name == "MSE" and model.history.epochs == 1
    with pytest.raises(ValueError, match="first layer must be an Embedding"):
        Model([Dense(3)]).initialize()
    with pytest.raises(DataError, match="no Y_data"):
        initialized([Embedding(X), Dense(3)], loss="MSE")


def test_divergence_stops_training_naming_the_epoch_and_keeps_the_history(array_backend, rng):
    X = rng.standard_normal((40, 3)) * 50
    Y = X @ rng.standard_normal((3, 2))
    model = Model([Embedding(X, Y, batch_size=8, seed=0), Dense(16, "relu"), Dense(2, "identity")])
    model.initialize(loss="MSE", optimizer={"name": "sgd", "learning_rate": 5.0}, seed=0, verbose=False)
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning) as caught:
        history = model.train(epochs=50, verbose=0)
    message = str(caught[0].message)
    stopped = model.epoch
    assert stopped < 50
    assert f"at epoch {stopped}: training stopped" in message and "learning rate" in message
    assert history.epochs == stopped and len(history["val_loss"]) == stopped  # every epoch so far is kept
    assert not np.isfinite(history["loss"][-1]) and all(np.isfinite(history["loss"][:-1]))


def test_data_that_is_not_a_numeric_table(array_backend):
    with pytest.raises(DataError, match="Embedding: X_data (cannot be made into an array|must be rectangular)"):
        Embedding([[1.0, 2.0], [3.0]], [0, 1])
    with pytest.raises(DataError, match="X_data holds <U1 values, not numbers; set X_encode=True"):
        Embedding(np.array([["a", "b"], ["c", "d"]]), [0, 1])
    with pytest.raises(DataError, match="Y_data holds <U3 values, not numbers; set Y_encode=True"):
        Embedding(np.zeros((2, 2)), ["cat", "dog"])
    with pytest.raises(DataError, match="X must hold at least one sample"):
        Embedding(np.zeros((0, 3)), np.zeros(0))
