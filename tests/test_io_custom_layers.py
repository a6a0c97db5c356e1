"""A layer of your own (a Template subclass, as seed 002 teaches) trains, saves and
loads back through ``read_model(path, custom_layers={"Scale": Scale})``; a file never
makes nnxp import or run anything to find a class."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from builders import blobs, parameters
from nnxp import Model, ModelFileError, read_model
from nnxp.layers import Dense, Embedding, Template


class Scale(Template):
    """A learned scale per feature, starting at ``start``: A = X * w, dX = dA * w,
    dw = sum(dA * X, rows)."""

    def __init__(self, start: float = 1.0, name=None, se_hPars=None):
        super().__init__(name, se_hPars)
        self.start = float(start)

    def compute_shapes(self, X):
        super().compute_shapes(X)
        self.d["n"] = X.shape[-1]

    def initialize_parameters(self):
        n = self.d["n"]
        self.p["w"] = self.new_parameter((n,), "ones", fan_in=n, fan_out=n) * self.start

    def forward(self, X):
        self.check_input(X)
        self.fc["X"] = X
        A = X * self.p["w"]
        self.fc["A"] = A
        return A

    def backward(self, dA):
        self.bc["dA"] = dA
        self.bc["dX"] = dA * self.p["w"]
        return self.bc["dX"]

    def compute_gradients(self):
        xp = self.xp(self.bc["dA"])
        self.g["dw"] = xp.sum(self.bc["dA"] * self.fc["X"], axis=0)


@pytest.fixture
def trained(array_backend, rng, tmp_path):
    X, labels = blobs(rng, m=40, features=4)
    model = Model([Embedding(X, labels, Y_encode=True, batch_size=10, seed=0), Scale(start=0.5, name="scale"),
                   Dense(3, "softmax")])
    model.initialize(loss="CCE", optimizer="adam", seed=1, verbose=False, se_hPars={"learning_rate": 0.05})
    model.train(epochs=2, verbose=0)
    return model, X, model.write(tmp_path / "scaled.npz")


def test_a_user_layer_round_trips(trained):
    model, X, path = trained
    w = parameters(model)["1/w"]
    assert not np.allclose(w, 0.5)  # it learned
    loaded = read_model(path, custom_layers={"Scale": Scale})
    assert type(loaded.layers[1]) is Scale and loaded.layers[1].start == 0.5 and loaded.layers[1].name == "scale"
    for key, value in parameters(model).items():
        np.testing.assert_array_equal(parameters(loaded)[key], value, err_msg=key)
    np.testing.assert_array_equal(loaded.predict(X).probabilities, model.predict(X).probabilities)
    assert loaded.optimizer.state.keys() == model.optimizer.state.keys()  # Adam's moments of w too


def test_training_a_loaded_user_layer_goes_on_as_if_never_stopped(trained):
    model, X, path = trained
    loaded = read_model(path, custom_layers={"Scale": Scale})
    loaded.embedding.set_data(*_training_data(model))
    model.embedding.set_data(*_training_data(model))
    model.train(epochs=1, verbose=0), loaded.train(epochs=1, verbose=0)
    np.testing.assert_allclose(parameters(loaded)["1/w"], parameters(model)["1/w"], rtol=1e-12)


def _training_data(model):
    """The model's own data, as raw (X, labels) again."""
    X = np.concatenate([x for x, _ in model.embedding.host_sets.values()])
    Y = np.concatenate([y for _, y in model.embedding.host_sets.values()])
    return X, np.asarray(model.embedding.classes)[np.argmax(Y, axis=1)]


def test_an_unknown_class_names_the_custom_layers_argument(trained):
    _, _, path = trained
    with pytest.raises(ModelFileError, match=r"layer 1 is of class 'Scale', which is not a layer of nnxp; .*"
                                             r"read_model\(path, custom_layers=\{'Scale': Scale\}\)"):
        read_model(path)
    with pytest.raises(TypeError, match=r"custom_layers\['Scale'\] must be a Layer subclass, got 'Scale'"):
        read_model(path, custom_layers={"Scale": "Scale"})


def test_the_class_name_in_a_file_is_never_imported(trained, monkeypatch):
    """Even a class defined in a module that is loaded is not found by its name: only
    the classes passed are used."""
    _, _, path = trained
    monkeypatch.setattr(sys.modules[__name__], "Scale", Scale)  # importable as test_io_custom_layers.Scale
    with pytest.raises(ModelFileError, match="not a layer of nnxp"):
        read_model(path, custom_layers={"Other": Template})
