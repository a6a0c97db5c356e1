"""``nnxp.epynn`` runs EpyNN's documented workflow (000-003) and does what its text says.

The paper's ``train.py`` listing runs as printed but for its imports; EpyNN's module paths,
names, arguments and defaults exist (SIGNATURES.md); and each is checked by value: the
hyperparameters in force, EpyNN's meaning of ``verbose``, ``write``/``read_model`` in
``models/``, ``predict``'s data set, the layers' attributes and update rule, the maths,
loss, metric, schedule and io functions.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

import nnxp
from builders import blobs, parameters
from nnxp import to_numpy
from nnxp.epynn import (EpyNN, GRU, LSTM, RNN, Convolution, Dense, Dropout, Embedding, Flatten, Pooling, Template,
                        read_model, settings)
from nnxp.epynn.commons import io as epio
from nnxp.epynn.commons import library, loss, maths, metrics, schedule
from nnxp.epynn.commons.models import dataSet

SEEDS = Path(__file__).resolve().parent / "seeds"
DEFAULTS = {"learning_rate": 0.1, "schedule": "steady", "decay_k": 0, "cycle_epochs": 0, "cycle_descent": 0,
            "ELU_alpha": 1, "LRELU_alpha": 0.3, "softmax_temperature": 1}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working folder (EpyNN writes models/ and plots/ there), matplotlib headless."""
    monkeypatch.chdir(tmp_path)
    try:
        import matplotlib

        matplotlib.use("Agg")  # plot(pyplot=True) shows: never a window (nor a wait) in the tests
    except ImportError:  # the plot extra is missing: only the tests that plot need it
        yield tmp_path
        return
    yield tmp_path
    import matplotlib.pyplot

    matplotlib.pyplot.close("all")  # a shown figure stays in pyplot's list under Agg: leave none behind


def boolean_features(m: int = 60, seed: int = 1):
    """An offline stand-in for the dummy_boolean workflow's data, which the listing's
    unprinted lines 1-33 prepare: lists of 11 booleans, labelled 1 when most are True."""
    rng = np.random.default_rng(seed)
    X_features = rng.integers(0, 2, (m, 11)).astype(bool).tolist()
    return X_features, [int(sum(features) > 5) for features in X_features]


# --------------------------------------------------------------------------- the paper's listing
def test_the_train_listing_of_the_paper_runs_as_written(workdir, capsys):
    X_features, Y_label = boolean_features()
    namespace = {"X_features": X_features, "Y_label": Y_label}
    # the listing's imports, EpyNN's module paths with nnxp. in front
    exec("from nnxp.epynn.embedding.models import Embedding\n"
         "from nnxp.epynn.dense.models import Dense\n"
         "from nnxp.epynn.network.models import EpyNN\n"
         "from nnxp.epynn.commons.library import read_model\n", namespace)
    listing = (SEEDS / "epynn_train_listing.py").read_text(encoding="utf-8")
    nnxp.set_seed(3)  # the listing draws fresh weights (EpyNN's seed=None): the default seed fixes them here
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-interactive.*")  # plot(path=False) shows; headless
            exec(compile(listing, str(SEEDS / "epynn_train_listing.py"), "exec"), namespace)
    finally:
        nnxp.set_seed(None)
    trained, model = namespace["dense"], namespace["model"]
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.strip()[:3].strip().isdigit() and "e-" in line]
    assert [int(row.split()[0]) for row in rows] == list(range(10, 101, 10))  # verbose=None: every tenth epoch
    assert "Perceptron_Dense-1-sigmoid" in out and "learning_rate=0.1" in out  # train initialized itself
    files = list((workdir / "models").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz" and not (workdir / "plots").exists()  # path=False: no plot
    assert isinstance(model, EpyNN) and [type(layer) for layer in model.layers] == [Embedding, Dense]
    assert model.loss.name == "MSE" and model.optimizer.name == "sgd" and model.history.epochs == 100
    assert model.layers[1].se_hPars == DEFAULTS  # the defaults, in force
    np.testing.assert_array_equal(to_numpy(model.layers[1].p["W"]), to_numpy(trained.p["W"]))
    dset = model.predict(X_features)
    assert dset.A.shape == (60, 1) and set(np.unique(dset.P)) <= {0, 1} and np.array_equal(dset.ids, np.arange(60))
    np.testing.assert_array_equal(dset.A, trained_outputs(namespace, X_features))  # the model read is the one trained
    assert model.history["loss"][-1] < 0.9 * model.history["loss"][0]  # and it learned (0.54-0.83 over 20 seeds)


def trained_outputs(namespace, X):
    """The outputs of the model the listing trained, before it was written and read."""
    embedding, dense = namespace["embedding"], namespace["dense"]
    A = embedding.forward(dense.active_backend().asarray(np.asarray(X, dtype=np.float64)))
    dense.training = False
    return to_numpy(dense.forward(A))


# --------------------------------------------------------------------------- names, paths, defaults
SIGNATURES = {  # SIGNATURES.md
    "embedding.models.Embedding": {"X_data": None, "Y_data": None, "relative_size": (2, 1, 0), "batch_size": None,
                                   "X_encode": False, "Y_encode": False, "X_scale": False},
    "dense.models.Dense": {"units": 1, "activate": maths.sigmoid, "initialization": maths.xavier, "se_hPars": None},
    "rnn.models.RNN": {"unit_cells": 1, "activate": maths.tanh, "initialization": maths.xavier,
                       "clip_gradients": True, "sequences": False, "se_hPars": None},
    "gru.models.GRU": {"unit_cells": 1, "activate": maths.tanh, "activate_update": maths.sigmoid,
                       "activate_reset": maths.sigmoid, "initialization": maths.orthogonal, "clip_gradients": False,
                       "sequences": False, "se_hPars": None},
    "lstm.models.LSTM": {"unit_cells": 1, "activate": maths.tanh, "activate_output": maths.sigmoid,
                         "activate_candidate": maths.tanh, "activate_input": maths.sigmoid,
                         "activate_forget": maths.sigmoid, "initialization": maths.orthogonal,
                         "clip_gradients": False, "sequences": False, "se_hPars": None},
    "convolution.models.Convolution": {"unit_filters": 1, "filter_size": (3, 3), "strides": None, "padding": 0,
                                       "activate": maths.relu, "initialization": maths.xavier, "use_bias": True,
                                       "se_hPars": None},
    "pooling.models.Pooling": {"pool_size": (2, 2), "strides": None, "pool": np.max},
    "dropout.models.Dropout": {"drop_prob": 0.5, "axis": ()},
    "flatten.models.Flatten": {},
    "template.models.Template": {},
    "commons.models.Layer": {"se_hPars": None},
    "commons.models.dataSet": {"X_data": None, "Y_data": None, "name": "dummy"},
    "network.models.EpyNN": {"layers": None, "name": "EpyNN"},
    "network.models.EpyNN.initialize": {"loss": "MSE", "se_hPars": DEFAULTS, "metrics": ["accuracy"], "seed": None,
                                        "params": True, "end": "\n"},
    "network.models.EpyNN.train": {"epochs": None, "verbose": None, "init_logs": True},
    "network.models.EpyNN.plot": {"pyplot": True, "path": None},
    "network.models.EpyNN.write": {"path": None},
    "network.models.EpyNN.predict": {"X_data": None, "X_encode": False, "X_scale": False},
    "network.models.EpyNN.forward": {"X": None}, "network.models.EpyNN.backward": {"dA": None},
    "network.models.EpyNN.batch_report": {"batch": None, "A": None},
    "commons.library.configure_directory": {"clear": False},
    "commons.library.write_model": {"model": None, "model_path": None},
    "commons.library.read_model": {"model_path": None},
    "commons.maths.clip_gradient": {"layer": None, "max_norm": 0.25},
    "commons.maths.xavier": {"shape": None, "rng": np.random},
    "commons.maths.relu": {"x": None, "deriv": False},
    "commons.loss.MSE": {"Y": None, "A": None, "deriv": False},
    "commons.metrics.NPV": {"Y": None, "A": None},
    "commons.io.padding": {"X_data": None, "padding": None, "forward": True},
    "commons.io.one_hot_encode_sequence": {"sequence": None, "element_to_idx": None, "elements_size": None},
}
MODULES = {
    "network.models": ["EpyNN"], "embedding.models": ["Embedding"], "dense.models": ["Dense"], "rnn.models": ["RNN"],
    "gru.models": ["GRU"], "lstm.models": ["LSTM"], "convolution.models": ["Convolution"],
    "pooling.models": ["Pooling"], "dropout.models": ["Dropout"], "flatten.models": ["Flatten"],
    "template.models": ["Template"], "commons.models": ["Layer", "dataSet"],
    "commons.maths": ["identity", "relu", "lrelu", "elu", "sigmoid", "tanh", "softmax", "xavier", "orthogonal",
                      "clip_gradient", "hadamard", "activation_tune"],
    "commons.io": ["index_elements_auto", "scale_features", "one_hot_encode", "one_hot_encode_sequence",
                   "one_hot_decode_sequence", "encode_dataset", "padding"],
    "commons.library": ["configure_directory", "write_model", "read_model", "read_file", "settings_verification",
                        "read_pickle", "write_pickle"],
    "commons.loss": ["MSE", "MAE", "MSLE", "CCE", "BCE"],
    "commons.metrics": ["accuracy", "recall", "precision", "NPV", "fscore", "specificity"],
    "commons.schedule": ["steady", "exp_decay", "lin_decay"], "settings": ["se_hPars"],
}


def resolve(path: str):
    module, _, rest = path.partition(".models.") if ".models." in path else path.rpartition(".")
    if ".models." in path:
        obj = importlib.import_module(f"nnxp.epynn.{module}.models")
        for part in rest.split("."):
            obj = getattr(obj, part)
        return obj
    return getattr(importlib.import_module(f"nnxp.epynn.{module}"), rest)


@pytest.mark.parametrize("path", sorted(SIGNATURES))
def test_every_documented_signature_has_its_arguments_and_defaults(path):
    target = resolve(path)
    function = target.__init__ if inspect.isclass(target) else target
    found = {name: p for name, p in inspect.signature(function).parameters.items() if name != "self"}
    assert list(found) == list(SIGNATURES[path]), path
    for name, default in SIGNATURES[path].items():
        if found[name].default is not inspect.Parameter.empty or default is not None:
            assert found[name].default == default, f"{path}({name}=...)"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_path_answers(module):
    imported = importlib.import_module(f"nnxp.epynn.{module}")
    for name in MODULES[module]:
        assert hasattr(imported, name), f"epynn.{module}.{name}"


def test_settings_hold_every_hyperparameter_with_epynns_default():
    assert settings.se_hPars == DEFAULTS
    assert EpyNN.initialize.__wrapped__.__defaults__[1] is settings.se_hPars  # the module's dict itself


def test_importing_initialize_changes_nothing(workdir):
    state, options = np.random.get_state()[1].copy(), np.get_printoptions()
    import nnxp.epynn.initialize  # noqa: F401

    importlib.reload(nnxp.epynn.initialize)
    assert list(workdir.iterdir()) == [] and np.array_equal(np.random.get_state()[1], state)
    assert np.get_printoptions() == options


# --------------------------------------------------------------------------- initialize, train
def classifier(X, labels, hidden_hpars=None):
    return EpyNN([Embedding(X, labels, Y_encode=True, batch_size=None), Dense(4, maths.elu, se_hPars=hidden_hpars),
                  Dense(3, maths.softmax)], name="blobs")


def test_initialize_puts_the_hyperparameters_in_force_on_every_layer(array_backend, rng):
    X, labels = blobs(rng, m=30)
    model = classifier(X, labels, hidden_hpars={"learning_rate": 0.5})
    hpars = {**DEFAULTS, "ELU_alpha": 0.7}
    model.initialize(loss="CCE", se_hPars=hpars, metrics=["accuracy", "NPV"], seed=1, params=True, end="\n")
    hidden, output = model.layers[1], model.layers[2]
    assert hidden.se_hPars == {**hpars, "learning_rate": 0.5} and output.se_hPars == hpars
    assert hidden.activation.alpha == 0.7 and hidden.activate is maths.elu  # ELU_alpha from se_hPars
    assert [m.name for m in model.metrics] == ["accuracy", "npv"]
    before = {i: {k: to_numpy(v).copy() for k, v in layer.p.items()} for i, layer in enumerate(model.layers)}
    A = model.forward(model.embedding.dtrain.X)
    model.backward(model.training_loss(model.embedding.dtrain.Y, A, deriv=True))  # EpyNN's backward steps too
    for index, rate in ((1, 0.5), (2, 0.1)):  # each layer at its own learning rate
        layer = model.layers[index]
        for name in layer.p:
            np.testing.assert_allclose(to_numpy(layer.p[name]), before[index][name] - rate * to_numpy(layer.g["d" + name]),
                                       rtol=1e-12, atol=1e-15)
    drawn = parameters(model)
    model.initialize(loss="CCE", se_hPars=hpars, seed=2, params=False)  # params=False: the parameters stay
    assert all(np.array_equal(v, drawn[k]) for k, v in parameters(model).items())
    with pytest.raises(ValueError, match="end must be"):
        model.initialize(end="\t")


def test_train_prints_every_verbose_epochs_and_evaluates_every_set(array_backend, rng, capsys):
    X, labels = blobs(rng, m=30)
    model = classifier(X, labels)
    model.initialize(loss="CCE", seed=0)
    capsys.readouterr()
    model.train(7, verbose=3, init_logs=False)
    out = capsys.readouterr().out
    rows = [int(line.split()[0]) for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert rows == [3, 6, 7] and "┃" not in out  # every 3rd epoch and the last; no table without init_logs
    assert model.history["loss"][-1] == pytest.approx(model.evaluate()["loss"], rel=1e-6)  # the exact training loss
    model.train(2, verbose=0)
    assert model.e == model.epoch == 9 and "┃" in capsys.readouterr().out  # init_logs: the table again


def test_predict_returns_a_data_set_with_ids_outputs_and_decisions(array_backend, rng):
    words = rng.choice(list("abcd"), size=(40, 5))
    labels = (words == "a").sum(1) > 1
    model = EpyNN([Embedding(words, labels.astype(int), X_encode=True, batch_size=8), Flatten(), Dense(1)])
    model.train(5, verbose=0, init_logs=False)
    dset = model.predict(words[:6], X_encode=True)
    assert isinstance(dset, dataSet) and np.array_equal(dset.ids, np.arange(6))
    expected = to_numpy(model.output(array_backend.asarray(nnxp.one_hot(words[:6], classes=list("abcd")))))
    np.testing.assert_allclose(dset.A, expected, rtol=1e-12)
    np.testing.assert_array_equal(dset.P, (expected[:, 0] >= 0.5).astype(int))
    assert model.embedding.e2i == {"a": 0, "b": 1, "c": 2, "d": 3} and model.embedding.d["e"] == 4
    assert model.embedding.i2e[2] == "c"
    with pytest.raises(ValueError, match="pass X_encode=True"):
        model.predict(words[:2])
    scaled = EpyNN([Embedding(np.arange(40.0).reshape(20, 2), np.arange(20) % 2, batch_size=5), Dense(1)])
    scaled.train(1, verbose=0, init_logs=False)
    raw = np.array([[10.0, 30.0], [20.0, 50.0]])
    by_range = scaled.predict(raw, X_scale=True)  # scaled by its own range, as EpyNN's scale_features
    np.testing.assert_allclose(by_range.X, (raw - 10) / 40)


# --------------------------------------------------------------------------- write, read
def test_write_and_read_model_use_models_and_give_epynns_classes_back(workdir, rng):
    X, labels = blobs(rng, m=30)
    model = classifier(X, labels, hidden_hpars={"learning_rate": 0.3})
    model.train(3, verbose=0, init_logs=False)
    first = Path(model.write())
    assert first.parent.name == "models" and first.name == f"{model.uname}.npz"
    os.utime(first, (1, 1))  # older
    later = EpyNN([Embedding(X, labels, Y_encode=True), Dense(3, maths.softmax)], name="later")
    later.train(1, verbose=0, init_logs=False)
    later.write()
    assert read_model().name == "later"  # the newest model in models/
    loaded = read_model(str(first))
    assert isinstance(loaded, EpyNN) and [type(layer) for layer in loaded.layers] == [Embedding, Dense, Dense]
    assert loaded.layers[1].se_hPars == {**DEFAULTS, "learning_rate": 0.3} and loaded.layers[2].se_hPars == DEFAULTS
    assert loaded.layers[1].activate is maths.elu
    np.testing.assert_allclose(loaded.predict(X).A, model.predict(X).A, rtol=1e-6)
    loaded.embedding.set_data(X, labels)  # a model file holds no data (EpyNN's pickle did): give it again
    loaded.train(1, verbose=0, init_logs=False)  # and it trains on
    assert loaded.history.epochs == 4
    folder = workdir / "elsewhere"
    assert Path(model.write(str(folder))) == folder / f"{model.uname}.npz"  # a path without extension: a folder
    assert Path(model.write(str(workdir / "named.npz"))).name == "named.npz"


def test_plot_maps_pyplot_and_path_onto_nnxps_plot(workdir, rng):
    from nnxp.epynn.network.models import plot_arguments

    assert plot_arguments(True, None, "u") == (os.path.join("plots", "u.png"), True)
    assert plot_arguments(False, False, "u") == (None, False)
    assert plot_arguments(False, "figs", "u") == (os.path.join("figs", "u.png"), False)
    X, labels = blobs(rng, m=20)
    model = classifier(X, labels)
    model.train(2, verbose=0, init_logs=False)
    model.plot(pyplot=False)
    assert (workdir / "plots" / f"{model.uname}.png").exists()


def test_the_library_makes_folders_deletes_nothing_and_refuses_pickles(workdir):
    library.configure_directory()
    assert sorted(p.name for p in workdir.iterdir()) == ["datasets", "models", "plots"]
    (workdir / "models" / "mine.txt").write_text("keep me")
    with pytest.warns(UserWarning, match="deletes no files"):
        library.configure_directory(clear=True)
    assert (workdir / "models" / "mine.txt").read_text() == "keep me"
    with pytest.raises(NotImplementedError, match="never unpickles.*use read_model"):
        library.read_pickle("model.pickle")
    with pytest.raises(NotImplementedError, match="writes no pickles.*model.write"):
        library.write_pickle("model.pickle", {})
    with pytest.raises(FileNotFoundError, match="no model file"):
        read_model()
    library.settings_verification()
    namespace: dict = {}
    exec((workdir / "settings.py").read_text(), namespace)
    assert namespace["se_hPars"] == DEFAULTS
    (workdir / "settings.py").write_text("se_hPars = {}\n")
    library.settings_verification()  # an existing one is left alone
    assert library.read_file("settings.py") == "se_hPars = {}\n"


# --------------------------------------------------------------------------- layers
def test_layers_take_epynns_arguments_and_defaults(array_backend):
    dense = Dense()
    assert (dense.units, dense.activation.name, dense.initialization) == (1, "sigmoid", "glorot_normal")
    assert Dense(2, maths.softmax).activation.name == "softmax"  # positionally, as EpyNN's docs write it
    conv = Convolution(unit_filters=2, filter_size=(2, 2))
    assert conv.filters == 2 and conv.strides == (2, 2) and conv.padding == ((0, 0), (0, 0))  # strides: the filter
    assert conv.activate is maths.relu and Convolution(strides=1).strides == (1, 1)
    assert Pooling(pool=np.mean).mode == "mean" and Pooling().pool is np.max and Pooling((3, 3)).strides == (3, 3)
    assert RNN().clip_gradients == 0.25 and RNN(clip_gradients=False).clip_gradients is None
    gru = GRU(3, activate_update=maths.tanh)
    assert gru.update_gate.name == "tanh" and gru.activate_reset is maths.sigmoid
    assert gru.recurrent_initialization == gru.initialization == "orthogonal"
    lstm = LSTM(2, activate_forget=maths.relu, sequences=True)
    assert lstm.forget_gate.name == "relu" and lstm.activate_candidate is maths.tanh and lstm.sequences
    assert Dropout().drop_prob == 0.5 and Flatten().outdim == 2
    with pytest.raises(TypeError, match=r"got an unknown argument 'activation': here it is 'activate' "
                                        r"\(nnxp.layers.Dense calls it 'activation'\)"):
        Dense(2, activation="relu")
    with pytest.raises(TypeError, match=r"'units': here it is 'unit_cells'"):
        RNN(units=3)
    with pytest.raises(ValueError, match="one of nnxp.epynn.commons.maths' functions"):
        Dense(2, activate=np.tanh)


def test_layer_attributes_and_epynns_update_rule(array_backend, rng):
    X = array_backend.asarray(rng.standard_normal((5, 3)))
    layer = Dense(4, maths.tanh, se_hPars={"learning_rate": 0.2, "schedule": "exp_decay", "decay_k": 0.5})
    layer.initialize(X, seed=0)
    A = layer.forward(X)
    layer.backward(array_backend.asarray(np.ones((5, 4))))
    layer.compute_gradients()
    assert layer.d == {"n": 3, "u": 4} and set(layer.fc) == {"X", "Z", "A"} and {"dA", "dZ", "dX"} <= set(layer.bc)
    layer.update_shapes(layer.fc, layer.fs)
    layer.update_shapes(layer.bc, layer.bs)
    assert layer.fs["A"] == (5, 4) and layer.bs["dX"] == (5, 3)
    np.testing.assert_allclose(to_numpy(A), np.tanh(to_numpy(layer.fc["Z"])), rtol=1e-14)
    before, gradient = to_numpy(layer.p["W"]).copy(), to_numpy(layer.g["dW"]).copy()
    layer.e = 2
    layer.update_parameters()  # p - lr_e g, lr_e = 0.2 exp(-0.5 * 2)
    np.testing.assert_allclose(to_numpy(layer.p["W"]), before - 0.2 * math.exp(-1.0) * gradient, rtol=1e-13)
    assert layer.np_rng is layer.rng and layer.o == {}


def test_a_template_subclass_of_epynns_docs_trains(array_backend, rng):
    class Scale(Template):
        """A = X * w: a learned scale per feature, written the way 002 teaches."""

        def compute_shapes(self, A):
            super().compute_shapes(A)
            self.d["f"] = A.shape[-1]

        def initialize_parameters(self):
            self.p["w"] = self.new_parameter((self.d["f"],), "ones", fan_in=1, fan_out=1)

        def forward(self, A):
            self.fc["X"] = A
            self.fc["A"] = A * self.p["w"]
            return self.fc["A"]

        def backward(self, dX):
            self.bc["dA"] = dX
            self.bc["dX"] = dX * self.p["w"]
            return self.bc["dX"]

        def compute_gradients(self):
            xp = self.xp(self.bc["dA"])
            self.g["dw"] = xp.sum(self.bc["dA"] * self.fc["X"], axis=0)

    X = rng.standard_normal((40, 3))
    Y = X * np.array([2.0, -1.0, 0.5])
    scale = Scale()
    model = EpyNN([Embedding(X, Y, batch_size=None), scale])
    model.initialize(loss="MSE", seed=0, se_hPars={**DEFAULTS, "learning_rate": 1.0})
    assert scale.d["m"] == 27 and scale.d["n"] == 3  # 002's shapes: m (2/3 of 40, rounded up), size of X over m
    model.train(60, verbose=0, init_logs=False)
    np.testing.assert_allclose(to_numpy(scale.p["w"]), [2.0, -1.0, 0.5], rtol=1e-3)


# --------------------------------------------------------------------------- commons
def test_the_maths_functions_are_nnxps_activations_and_initializers(rng):
    x = rng.standard_normal((4, 3)) * 2
    np.testing.assert_array_equal(maths.relu(x), np.maximum(x, 0))
    np.testing.assert_array_equal(maths.relu(x, deriv=True), (x > 0).astype(float))
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(maths.sigmoid(x, deriv=True), s * (1 - s), rtol=1e-13)
    np.testing.assert_allclose(maths.lrelu(x), np.where(x > 0, x, 0.3 * x), rtol=1e-15)
    maths.activation_tune({"ELU_alpha": 0.5})
    try:
        np.testing.assert_allclose(maths.elu(x), np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0))), rtol=1e-14)
    finally:
        maths.activation_tune(DEFAULTS)
    A = maths.softmax(x)
    J = maths.softmax(x, deriv=True)  # J[m, j, k] = dA_j / dx_k
    step = 1e-6
    for k in range(3):
        shifted = x.copy()
        shifted[:, k] += step
        np.testing.assert_allclose(J[:, :, k], (maths.softmax(shifted) - A) / step, atol=1e-5)
    dA = rng.standard_normal((4, 3))
    np.testing.assert_allclose(maths.hadamard(dA, J), nnxp.activations.Softmax().backward(dA, x, A), rtol=1e-12)
    np.testing.assert_allclose(maths.hadamard(dA, maths.tanh(x, deriv=True)), dA * (1 - np.tanh(x) ** 2), rtol=1e-13)
    W = maths.xavier((300, 200), rng=np.random.default_rng(0))
    assert W.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02) and abs(W.mean()) < 0.005
    Q = maths.orthogonal((5, 5), rng=np.random.default_rng(0))
    np.testing.assert_allclose(Q.T @ Q, np.eye(5), atol=1e-12)

    class Holder:
        g = {"dW": np.full((2, 2), 3.0), "db": np.full(2, 4.0)}

    holder = Holder()
    maths.clip_gradient(holder)
    total = math.sqrt(sum(float(np.sum(g * g)) for g in holder.g.values()))
    assert total == pytest.approx(0.25, rel=1e-5)


def test_loss_metric_and_schedule_functions_compute_nnxps_values(rng):
    A = rng.uniform(0.05, 0.95, (6, 1))
    Y = (rng.uniform(size=(6, 1)) > 0.5).astype(float)
    assert float(loss.MSE(Y, A)) == pytest.approx(np.mean((A - Y) ** 2), rel=1e-13)
    np.testing.assert_allclose(loss.MSE(Y, A, deriv=True), 2 * (A - Y) / 6, rtol=1e-13)
    assert float(loss.BCE(Y, A)) == pytest.approx(-np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A)), rel=1e-13)
    assert float(loss.MAE(Y, A)) == pytest.approx(np.mean(np.abs(A - Y)), rel=1e-13)
    predicted, truth = (A[:, 0] >= 0.5), Y[:, 0] == 1
    tn, fn = np.sum(~predicted & ~truth), np.sum(~predicted & truth)
    assert float(metrics.NPV(Y, A)) == pytest.approx(tn / max(tn + fn, 1))
    assert float(metrics.accuracy(Y, A)) == pytest.approx(np.mean(predicted == truth))
    hpars = {**DEFAULTS, "decay_k": 0.1, "cycle_epochs": 3, "cycle_descent": 0.5, "epochs": 6}
    np.testing.assert_allclose(schedule.exp_decay(hpars),
                               [0.1 * 0.5 ** (e // 3) * math.exp(-0.1 * (e % 3)) for e in range(6)], rtol=1e-14)
    np.testing.assert_allclose(schedule.lin_decay(hpars), [0.1 * 0.5 ** (e // 3) / (1 + 0.1 * (e % 3))
                                                            for e in range(6)], rtol=1e-14)
    assert schedule.steady({"learning_rate": 0.3, "epochs": 2}) == [0.3, 0.3]
    with pytest.raises(KeyError, match="needs 'epochs'"):
        schedule.steady(DEFAULTS)


def test_the_io_functions_encode_scale_and_pad():
    element_to_idx, idx_to_element, size = epio.index_elements_auto([["b", "a"], ["c", "a"]])
    assert element_to_idx == {"a": 0, "b": 1, "c": 2} and idx_to_element[1] == "b" and size == 3
    np.testing.assert_array_equal(epio.one_hot_encode(2, 4), [0, 0, 1, 0])
    encoded = epio.one_hot_encode_sequence(["c", "a"], element_to_idx, size)
    np.testing.assert_array_equal(encoded, [[0, 0, 1], [1, 0, 0]])
    assert epio.one_hot_decode_sequence(encoded, idx_to_element) == ["c", "a"]
    assert epio.encode_dataset([["b", "a"], ["c", "a"]], element_to_idx, size).shape == (2, 2, 3)
    np.testing.assert_allclose(epio.scale_features([[2.0, 4.0], [6.0, 10.0]]), [[0, 0.25], [0.5, 1]])
    images = np.ones((1, 2, 3, 1))
    padded = epio.padding(images, 1)
    assert padded.shape == (1, 4, 5, 1) and padded.sum() == 6 and padded[0, 0, 0, 0] == 0
    np.testing.assert_array_equal(epio.padding(padded, 1, forward=False), images)


def test_embedding_and_data_set_as_epynn_names_them(array_backend, rng):
    X, labels = blobs(rng, m=30)
    embedding = Embedding(X, labels, (1, 1, 1), 4, False, True)  # EpyNN's order: batch_size fourth
    assert embedding.batch_size == 4 and embedding.Y_encode and not embedding.X_encode
    model = EpyNN([embedding, Dense(3, maths.softmax)])
    model.initialize(loss="CCE", seed=0)
    batches = embedding.training_batches()
    assert embedding.batch_dtrain is batches and [len(b) for b in batches] == [4, 4, 2]
    dset = dataSet(X[:3], nnxp.one_hot(labels[:3], n_classes=3), name="few")
    assert dset.name == "few" and dset.y.tolist() == labels[:3].tolist() and dset.ids.tolist() == [0, 1, 2]


def test_report_and_batch_report_print_the_numbers_of_the_model(array_backend, rng, capsys):
    X, labels = blobs(rng, m=30)
    model = classifier(X, labels)
    model.train(2, verbose=0, init_logs=False)
    capsys.readouterr()
    model.report()
    table = capsys.readouterr().out
    assert f"{model.history['val_loss'][-1]:.4f}" in table and "2" in table
    batch = model.embedding.training_batches()[0]
    A = model.forward(batch.X)
    model.batch_report(batch, A)
    line = capsys.readouterr().out
    expected = float(to_numpy(model.loss(A, batch.Y)))
    assert line.endswith("\r") and f"loss {expected:.4f}" in line and "accuracy" in line


def test_the_docs_page_names_every_documented_name_and_the_traps():
    page = (Path(__file__).resolve().parents[1] / "docs" / "seeds-epynn.md").read_text(encoding="utf-8")
    names = {path.split(".")[-1] for path in SIGNATURES} | {name for group in MODULES.values() for name in group}
    names |= set(DEFAULTS)
    missing = sorted(name for name in names if f"`{name}" not in page and f" {name}" not in page)
    assert missing == [], f"docs/seeds-epynn.md does not name {missing}"
    for trap in ("0.1, steady", "never a pickle", "deletes nothing", "means over the epoch's batches"):
        assert trap in page, trap
