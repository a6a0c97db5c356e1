"""Model files: a faithful round trip, training that goes on after loading as if it had
never stopped, any backend to any other, atomic writes, no pickle, and clear errors for
damaged files."""

import json
import os
import zipfile

import numpy as np
import pytest

from builders import blobs, parameters
import nnxp
from nnxp import Model, ModelFileError, NotInitialized, read_model
from nnxp.backend import to_numpy
from nnxp.layers import Dense, Dropout, Embedding


def word_labels(labels):
    return np.array(["ant", "bee", "cow"])[labels]


def make_model(X, labels, dropout=0.0):
    """String labels (Y_encode), scaled X, a seeded split with a test set, Adam."""
    layers = [Embedding(X, word_labels(labels), Y_encode=True, X_scale=True, relative_size=(3, 1, 1),
                        batch_size=8, seed=11),
              Dense(6, "relu", se_hPars={"learning_rate": 0.02}), Dense(3, "softmax")]
    if dropout:
        layers.insert(2, Dropout(dropout))
    model = Model(layers, name="io-test")
    model.initialize(loss="CCE", optimizer={"name": "adam", "beta_1": 0.8}, metrics=["accuracy", "MSE"], seed=2,
                     se_hPars={"learning_rate": 0.05, "schedule": "exp_decay", "decay_k": 0.1}, verbose=False)
    return model


@pytest.fixture
def data(rng):
    return blobs(rng, m=50)


def test_round_trip_restores_everything(array_backend, data, tmp_path):
    X, labels = data
    model = make_model(X, labels)
    model.train(epochs=3, verbose=0)
    path = model.write(tmp_path / "model.npz")
    loaded = read_model(path)
    assert loaded.backend.name == array_backend.name and loaded.backend.dtype_name == "float64"
    assert loaded.name == "io-test" and loaded.epoch == 3 and loaded.seed == 2
    assert loaded.history.history == model.history.history
    assert loaded.se_hPars == model.se_hPars and loaded.layers[1].se_hPars == {"learning_rate": 0.02}
    assert [m.name for m in loaded.metrics] == ["accuracy", "MSE"] and loaded.loss.name == "CCE"
    assert loaded.optimizer.get_config() == model.optimizer.get_config() and loaded.optimizer.t == model.optimizer.t
    assert loaded.optimizer.state.keys() == model.optimizer.state.keys()
    for key, slots in model.optimizer.state.items():
        for slot, value in slots.items():
            assert np.array_equal(to_numpy(loaded.optimizer.state[key][slot]), to_numpy(value)), f"{key}/{slot}"
    assert [layer.get_config() for layer in loaded.layers[1:]] == [layer.get_config() for layer in model.layers[1:]]
    assert loaded.embedding.classes == ["ant", "bee", "cow"] and loaded.embedding.scaler == model.embedding.scaler
    for key, value in parameters(model).items():
        assert np.array_equal(parameters(loaded)[key], value), key
    new = X[:9] * 1.1
    expected, got = model.predict(new), loaded.predict(new)
    np.testing.assert_array_equal(got.probabilities, expected.probabilities)
    assert got.labels.tolist() == expected.labels.tolist() and set(got.labels) <= {"ant", "bee", "cow"}


@pytest.mark.parametrize("dropout", [0.0, 0.3], ids=["dense", "with-dropout"])
def test_training_goes_on_after_loading_as_if_never_stopped(array_backend, data, tmp_path, dropout):
    X, labels = data
    straight = make_model(X, labels, dropout)
    straight.train(epochs=4, verbose=0)

    halves = make_model(X, labels, dropout)
    halves.train(epochs=2, verbose=0)
    loaded = read_model(halves.write(tmp_path / "half.npz"))
    loaded.embedding.set_data(X, word_labels(labels))  # the data is not in the file
    loaded.train(epochs=2, verbose=0)

    for key, value in parameters(straight).items():
        np.testing.assert_allclose(parameters(loaded)[key], value, rtol=1e-12, atol=1e-14, err_msg=key)
    for key, values in straight.history.history.items():
        np.testing.assert_allclose(loaded.history[key], values, rtol=1e-12, err_msg=key)


@pytest.mark.parametrize("source, target", [("cpu", "strict"), ("strict", "cpu")])
def test_a_model_saved_on_one_backend_loads_on_the_other(source, target, data, tmp_path):
    pytest.importorskip("array_api_strict")
    X, labels = data
    with nnxp.use_backend(source, dtype="float64", kernels="reference"):
        model = make_model(X, labels)
        model.train(epochs=1, verbose=0)
        path = model.write(tmp_path / "model.npz")
        expected = model.predict(X).probabilities
    with nnxp.use_backend(target, dtype="float32"):
        loaded = read_model(path)  # the dtype it was saved in, on the current backend
        assert loaded.backend.name == target and loaded.backend.dtype_name == "float64"
        module = "array_api_strict" if target == "strict" else "numpy"
        assert type(loaded.layers[1].p["W"]).__module__.startswith(module)
        np.testing.assert_allclose(loaded.predict(X).probabilities, expected, rtol=1e-12)
        as32 = read_model(path, dtype="float32")
        assert as32.layers[1].p["W"].dtype == as32.backend.dtype and as32.backend.dtype_name == "float32"
        np.testing.assert_allclose(as32.predict(X).probabilities, expected, rtol=1e-4, atol=1e-6)
    other = read_model(path, backend=source)
    assert other.backend.name == source


def path_bytes(path):
    with open(path, "rb") as stream:
        return stream.read()


def test_write_is_atomic(array_backend, data, tmp_path, monkeypatch):
    X, labels = data
    model = make_model(X, labels)
    path = model.write(tmp_path / "model.npz")
    before = path_bytes(path)
    model.train(epochs=1, verbose=0)

    def half_then_crash(stream, **arrays):
        stream.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        model.write(path)
    monkeypatch.undo()
    assert path_bytes(path) == before  # the old model is intact
    assert os.listdir(tmp_path) == ["model.npz"]  # and no temporary file is left behind
    assert read_model(path).epoch == 0


def test_files_never_unpickle(array_backend, data, tmp_path):
    X, labels = data
    path = make_model(X, labels).write(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    assert all(value.dtype != object for value in arrays.values())
    arrays["p/1/W"] = np.array([{"evil": "payload"}], dtype=object)  # would need pickle to load
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(ModelFileError, match="pickled.npz") as error:
        read_model(tmp_path / "pickled.npz")
    assert "pickle" in str(error.value).lower()


def rewrite(source, target, change):
    """Copy a model file, letting ``change(arrays)`` edit its arrays on the way."""
    with np.load(source, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    change(arrays)
    np.savez(target, **arrays)


def test_damaged_files_are_clear_errors(array_backend, data, tmp_path):
    X, labels = data
    path = make_model(X, labels).write(tmp_path / "model.npz")
    content = path_bytes(path)

    for size in (0, 10, len(content) // 3, len(content) // 2, len(content) - 30):
        cut = tmp_path / f"cut{size}.npz"
        cut.write_bytes(content[:size])
        with pytest.raises(ModelFileError, match=f"cut{size}.npz.*(truncated|damaged|not)"):
            read_model(cut)

    def edit_weight(arrays):
        arrays["p/1/W"] = arrays["p/1/W"].copy()
        arrays["p/1/W"][0, 0] += 1e-3

    rewrite(path, tmp_path / "weights.npz", edit_weight)
    with pytest.raises(ModelFileError, match="array p/1/W was changed after it was written"):
        read_model(tmp_path / "weights.npz")

    def edit_config(arrays):
        config = json.loads(arrays["__config__"].tobytes())
        config["layers"][1]["config"]["units"] = 7
        arrays["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)

    rewrite(path, tmp_path / "config.npz", edit_config)
    with pytest.raises(ModelFileError, match="config was changed after it was written"):
        read_model(tmp_path / "config.npz")

    rewrite(path, tmp_path / "missing.npz", lambda arrays: arrays.pop("p/2/b"))
    with pytest.raises(ModelFileError, match=r"missing \['p/2/b'\]"):
        read_model(tmp_path / "missing.npz")

    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    with pytest.raises(ModelFileError, match="not an nnxp model"):
        read_model(tmp_path / "other.npz")
    with zipfile.ZipFile(tmp_path / "text.npz", "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ModelFileError):
        read_model(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError, match="no model file at"):
        read_model(tmp_path / "absent.npz")


def test_write_needs_an_initialized_model(tmp_path):
    with pytest.raises(NotInitialized, match="before write"):
        Model([Dense(2)]).write(tmp_path / "x.npz")


def test_the_foundation_layers_round_trip(array_backend, rng, tmp_path):
    from nnxp.layers import LAYERS, Flatten, Template

    X = rng.standard_normal((30, 4, 3))
    y = rng.integers(2, size=30).astype(float)
    model = Model([Embedding(X, y, batch_size=10, seed=0), Template(name="pass"), Dropout(0.2, axis=(1,)),
                   Dense(3, {"name": "lrelu", "alpha": 0.2}, initialization={"name": "normal", "std": 0.3}),
                   Flatten(), Dense(1, "sigmoid", use_bias=False)])
    assert {"Embedding", "Template", "Dropout", "Dense", "Flatten"} <= set(LAYERS)  # rebuilt by class name
    model.initialize(loss="BCE", optimizer="rmsprop", seed=1, verbose=False)
    model.train(epochs=1, verbose=0)
    loaded = read_model(model.write(tmp_path / "all.npz"))
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    assert loaded.layers[2].axis == (1,) and loaded.layers[3].activation.alpha == 0.2
    np.testing.assert_array_equal(loaded.predict(X).probabilities, model.predict(X).probabilities)
