"""``nnxp.npdl`` runs NumpyDL 0.4's documented code (004) and does what its text says.

The reference's examples run as printed but for their import lines; every documented
module, name, argument and default exists (SIGNATURES.md); and each is checked by value:
the activations against NumpyDL's own listed code, Dropout's p as the fraction kept, the
channels-first convolution and pooling against nnxp's on the transposed data, and a
NumpyDL-style model against the same nnxp model from one seed.
"""

from __future__ import annotations

import importlib
import inspect
import io
import math
from pathlib import Path

import numpy as np
import pytest

import nnxp
import nnxp.npdl as npdl
from builders import blobs, parameters
from nnxp import to_numpy
from nnxp import layers as core

SEEDS = Path(__file__).resolve().parent / "seeds"


def run_example(name: str) -> dict:
    """A copied code block, its imports pointed at nnxp.npdl, run; returns its namespace."""
    source = (SEEDS / name).read_text(encoding="utf-8")
    source = source.replace("import npdl\n", "import nnxp.npdl as npdl\n").replace("from npdl.", "from nnxp.npdl.")
    namespace: dict = {}
    exec(compile(source, str(SEEDS / name), "exec"), namespace)
    return namespace


@pytest.fixture(autouse=True)
def fresh_seed():
    """Each test starts with no package seed, and leaves none behind."""
    npdl.utils.set_rng(np.random)
    nnxp.set_seed(None)
    yield
    npdl.utils.set_rng(np.random)
    nnxp.set_seed(None)


# --------------------------------------------------------------------------- the examples
def test_the_objectives_example_runs_as_written_and_draws_the_weights_at_compile():
    model = run_example("npdl_objectives_example.py")["model"]
    first, second = model.layers
    assert (type(first), type(second)) == (npdl.layers.Dense, npdl.layers.Dense)
    assert to_numpy(first.W).shape == (50, 100) and to_numpy(second.W).shape == (100, 3)  # drawn at compile
    assert first.activation.name == "tanh" and second.activation.name == "softmax"  # Dense's default is tanh
    assert first.out_shape == (None, 100) and second.out_shape == (None, 3)
    assert isinstance(model.loss, npdl.objectives.SCCE) and model.optimizer.core.learning_rate == 0.005
    limit = math.sqrt(6 / (50 + 100))  # glorot_uniform, the default init
    assert np.abs(to_numpy(first.W)).max() <= limit and np.abs(to_numpy(first.W)).max() > 0.9 * limit


def test_the_optimizers_example_runs_as_written_and_trains():
    """The example stops at compile; a toy 10-way problem shows the network it built learns."""
    npdl.utils.set_seed(0)  # the example draws fresh weights: a seed set beforehand fixes them
    model = run_example("npdl_optimizers_example.py")["model"]
    assert [layer.n_out for layer in model.layers] == [100, 200, 100, 10]
    assert [layer.activation.name for layer in model.layers] == ["relu", "relu", "relu", "softmax"]
    assert model.layers[2].out_shape == (None, 100) and to_numpy(model.layers[1].W).shape == (100, 200)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, 50)) * 2
    labels = rng.integers(10, size=300)
    X = centres[labels] + rng.standard_normal((300, 50))
    log = io.StringIO()
    model.fit(X, npdl.utils.one_hot(labels, 10), max_iter=4, batch_size=32, file=log)
    history = model.network.history
    assert history["loss"][-1] < history["loss"][0]
    assert model.accuracy(model.predict(X), labels) > 0.5


# --------------------------------------------------------------------------- every documented name
SIGNATURES = {  # SIGNATURES.md: the public names and their arguments with defaults
    "layers.Layer": {},
    "layers.Linear": {"n_out": None, "n_in": None, "init": "glorot_uniform"},
    "layers.Dense": {"n_out": None, "n_in": None, "init": "glorot_uniform", "activation": "tanh"},
    "layers.Softmax": {"n_out": None, "n_in": None, "init": "glorot_uniform"},
    "layers.Dropout": {"p": 0.0},
    "layers.Convolution": {"nb_filter": None, "filter_size": None, "input_shape": None, "stride": 1,
                           "init": "glorot_uniform", "activation": "relu"},
    "layers.Embedding": {"embed_words": None, "static": None, "input_size": None, "n_out": None, "nb_batch": None,
                         "nb_seq": None, "init": "uniform"},
    "layers.BatchNormal": {"epsilon": 1e-06, "momentum": 0.9, "axis": 0, "beta_init": "zero", "gamma_init": "one"},
    "layers.MeanPooling": {"pool_size": None},
    "layers.MaxPooling": {"pool_size": None},
    "layers.Recurrent": {"n_out": None, "n_in": None, "nb_batch": None, "nb_seq": None, "init": "glorot_uniform",
                         "inner_init": "orthogonal", "activation": "tanh", "return_sequence": False},
    "layers.SimpleRNN": {"kwargs": None},
    "layers.GRU": {"gate_activation": "sigmoid", "need_grad": True, "kwargs": None},
    "layers.LSTM": {"gate_activation": "sigmoid", "need_grad": True, "forget_bias_num": 1, "kwargs": None},
    "layers.BatchLSTM": {"gate_activation": "sigmoid", "need_grad": True, "forget_bias_num": 1, "kwargs": None},
    "layers.Flatten": {"outdim": 2},
    "layers.DimShuffle": {"axis": 1},
    "activations.Elliot": {"steepness": 1},
    "activations.SymmetricElliot": {"steepness": 1},
    "initializations.Uniform": {"scale": 0.05},
    "initializations.Normal": {"std": 0.01, "mean": 0.0},
    "initializations.Orthogonal": {"gain": 1.0},
    "objectives.BinaryCrossEntropy": {"epsilon": 1e-11},
    "objectives.SoftmaxCategoricalCrossEntropy": {"epsilon": 1e-11},
    "optimizers.Optimizer": {"lr": 0.001, "clip": -1, "decay": 0.0, "lr_min": 0.0, "lr_max": math.inf},
    "optimizers.Momentum": {"momentum": 0.9, "args": None, "kwargs": None},
    "optimizers.NesterovMomentum": {"momentum": 0.9, "args": None, "kwargs": None},
    "optimizers.Adagrad": {"epsilon": 1e-06, "args": None, "kwargs": None},
    "optimizers.RMSprop": {"rho": 0.9, "epsilon": 1e-06, "args": None, "kwargs": None},
    "optimizers.Adadelta": {"rho": 0.9, "epsilon": 1e-06, "args": None, "kwargs": None},
    "optimizers.Adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08, "args": None, "kwargs": None},
    "optimizers.Adamax": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08, "args": None, "kwargs": None},
    "model.Model": {"layers": None},
    "model.Model.fit": {"X": None, "Y": None, "max_iter": 100, "batch_size": 64, "shuffle": True,
                        "validation_split": 0.0, "validation_data": None, "file": None},
    "utils.one_hot": {"labels": None, "nb_classes": None},
    "utils.unhot": {"one_hot_labels": None},
    "utils.set_rng": {"rng": None}, "utils.set_seed": {"seed": None}, "utils.set_dtype": {"dtype": None},
}
NAMES = {
    "activations": ["Activation", "Sigmoid", "Tanh", "ReLU", "Linear", "Softmax", "Elliot", "SymmetricElliot",
                    "SoftPlus", "SoftSign", "get"],
    "initializations": ["Initializer", "Zero", "One", "Uniform", "Normal", "LecunUniform", "GlorotUniform",
                        "GlorotNormal", "HeNormal", "HeUniform", "Orthogonal", "get"],
    "objectives": ["Objective", "MeanSquaredError", "MSE", "HellingerDistance", "HeD", "BinaryCrossEntropy", "BCE",
                   "SoftmaxCategoricalCrossEntropy", "SCCE", "get"],
    "optimizers": ["Optimizer", "SGD", "Momentum", "NesterovMomentum", "Adagrad", "RMSprop", "Adadelta", "Adam",
                   "Adamax", "get"],
    "utils": ["one_hot", "unhot", "get_rng", "set_rng", "set_seed", "get_dtype", "set_dtype"],
    "utils.data": ["one_hot", "unhot"],
    "utils.random": ["get_rng", "set_rng", "set_seed", "get_dtype", "set_dtype"],
    "layers.base": ["Layer"], "layers.core": ["Linear", "Dense", "Softmax", "Dropout"],
    "layers.convolution": ["Convolution"], "layers.embedding": ["Embedding"],
    "layers.normalization": ["BatchNormal"], "layers.pooling": ["MeanPooling", "MaxPooling"],
    "layers.recurrent": ["Recurrent", "SimpleRNN", "GRU", "LSTM", "BatchLSTM"],
    "layers.shape": ["Flatten", "DimShuffle"],
}


def resolve(path: str):
    obj = npdl
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("path", sorted(SIGNATURES))
def test_every_documented_signature_has_its_arguments_and_defaults(path):
    target = resolve(path)
    function = target.__init__ if inspect.isclass(target) else target
    parameters = {name: p for name, p in inspect.signature(function).parameters.items() if name != "self"}
    assert list(parameters) == list(SIGNATURES[path]), path
    for name, default in SIGNATURES[path].items():
        p = parameters[name]
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or default is None and p.default is inspect.Parameter.empty:
            continue
        if path == "model.Model.fit" and name == "file":
            import sys

            assert p.default is sys.stdout or hasattr(p.default, "write")  # sys.stdout, bound at import
            continue
        assert p.default == default, f"{path}({name}=...)"


@pytest.mark.parametrize("module", sorted(NAMES))
def test_every_documented_module_path_answers_with_its_names(module):
    imported = importlib.import_module(f"nnxp.npdl.{module}")
    for name in NAMES[module]:
        assert hasattr(imported, name), f"npdl.{module}.{name}"
    assert npdl.objectives.MSE is npdl.objectives.MeanSquaredError and npdl.objectives.SCCE is \
        npdl.objectives.SoftmaxCategoricalCrossEntropy
    assert npdl.objectives.HeD is npdl.objectives.HellingerDistance and npdl.objectives.BCE is \
        npdl.objectives.BinaryCrossEntropy


# --------------------------------------------------------------------------- activations
def listed_activations() -> dict:
    """NumpyDL's own activation classes, as 004 lists them (the oracle)."""

    class Activation:
        def __init__(self):
            self.last_forward = None

    namespace = {"Activation": Activation, "np": np, "get_dtype": lambda: "float64"}
    exec(compile((SEEDS / "npdl_activation_listings.py").read_text(encoding="utf-8"), "listings", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", ["Tanh", "ReLU", "Linear", "Softmax", "Elliot", "SymmetricElliot", "SoftPlus",
                                  "SoftSign"])
def test_each_activation_computes_what_numpydls_listed_code_computes(name, rng):
    listed = listed_activations()[name]()
    ours = getattr(npdl.activations, name)()
    x = rng.standard_normal((6, 5)) * 3
    np.testing.assert_allclose(ours.forward(x), listed.forward(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ours.derivative(), listed.derivative(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.derivative(x), listed.derivative(), rtol=1e-12, atol=1e-15)  # given input


def test_sigmoid_steepness_and_get(rng):
    x = rng.standard_normal(7) * 4
    sigmoid = npdl.activations.Sigmoid()
    expected = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(sigmoid.forward(x), expected, rtol=1e-14)
    np.testing.assert_allclose(sigmoid.derivative(), expected * (1 - expected), rtol=1e-13)
    steep = npdl.activations.Elliot(steepness=2.5)
    np.testing.assert_allclose(steep.forward(x), 0.5 * 2.5 * x / (1 + np.abs(2.5 * x)) + 0.5, rtol=1e-14)
    assert isinstance(npdl.activations.get("ReLU"), npdl.activations.ReLU)
    assert npdl.activations.get(npdl.activations.Tanh).core.name == "tanh"
    assert npdl.activations.get(steep.to_json()).core.steepness == 2.5
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        npdl.activations.get("relu6")


# --------------------------------------------------------------------------- initializers
def test_initializers_draw_numpydls_distributions_from_the_package_generator():
    npdl.utils.set_seed(3)
    first = npdl.initializations.GlorotUniform()((400, 600))
    npdl.utils.set_seed(3)
    again = npdl.initializations.GlorotUniform()((400, 600))
    np.testing.assert_array_equal(first, again)
    limit = math.sqrt(6 / 1000)
    assert first.dtype == np.float32 and np.abs(first).max() <= limit and first.std() == pytest.approx(
        limit / math.sqrt(3), rel=0.01)
    conv = npdl.initializations.HeNormal()((32, 3, 5, 5))  # NumpyDL's (filters, channels, kh, kw)
    assert conv.std() == pytest.approx(math.sqrt(2 / (3 * 25)), rel=0.02)
    assert npdl.initializations.Normal()((300, 300)).std() == pytest.approx(0.01, rel=0.02)
    uniform = npdl.initializations.Uniform(scale=0.2)((300, 300))
    assert uniform.min() >= -0.2 and uniform.max() <= 0.2 and uniform.max() > 0.19
    q = npdl.initializations.Orthogonal(gain=2.0)((6, 6)).astype(np.float64)
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(6), atol=1e-5)
    assert np.all(npdl.initializations.get("zero")((2, 3)) == 0) and np.all(npdl.initializations.One()((2,)) == 1)
    lecun = npdl.initializations.LecunUniform()((500, 10))
    assert np.abs(lecun).max() <= math.sqrt(3 / 500)


# --------------------------------------------------------------------------- objectives
def test_objectives_compute_nnxps_batch_means_with_numpydls_signatures(rng):
    p = rng.uniform(0.05, 1, (8, 4))
    p /= p.sum(1, keepdims=True)
    labels = rng.integers(4, size=8)
    t = np.eye(4)[labels]
    scce = npdl.objectives.SCCE()
    assert float(scce.forward(p, t)) == pytest.approx(-np.mean(np.sum(t * np.log(p), axis=1)), rel=1e-13)
    np.testing.assert_allclose(scce.backward(p, t), (p - t) / 8, rtol=1e-13)  # NumpyDL's p - t, over the batch
    np.testing.assert_allclose(scce.backward(p, labels), (p - t) / 8, rtol=1e-13)  # integer targets too
    assert float(scce.forward(p, labels)) == pytest.approx(float(scce.forward(p, t)), rel=1e-14)
    mse = npdl.objectives.MSE()
    assert float(mse.forward(p, t)) == pytest.approx(np.mean((p - t) ** 2), rel=1e-13)
    np.testing.assert_allclose(mse.backward(p, t), 2 * (p - t) / p.size, rtol=1e-13)
    hed = npdl.objectives.HeD()
    assert float(hed.forward(p, t)) == pytest.approx(np.sum((np.sqrt(p) - t) ** 2) / 16, rel=1e-12)
    q = rng.uniform(0.1, 0.9, (5, 1))
    y = (rng.uniform(size=(5, 1)) > 0.5).astype(float)
    bce = npdl.objectives.BCE()
    assert float(bce.forward(q, y)) == pytest.approx(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)), rel=1e-13)
    np.testing.assert_allclose(bce.backward(q, y), (q - y) / (q * (1 - q) * 5), rtol=1e-12)
    assert float(npdl.objectives.SCCE(epsilon=1e-3).forward(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))) == \
        pytest.approx(-math.log(1e-3))
    assert isinstance(npdl.objectives.get("scce"), npdl.objectives.SCCE)


# --------------------------------------------------------------------------- optimizers
def test_optimizers_follow_their_documented_update_rules_in_place():
    w, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    sgd = npdl.optimizers.SGD(lr=0.1)
    params = [w.copy()]
    held = params[0]
    sgd.update(params, [g])
    assert params[0] is held  # in place, NumpyDL's way
    np.testing.assert_allclose(held, w - 0.1 * g, rtol=1e-15)
    momentum, nesterov = npdl.optimizers.Momentum(0.9, lr=0.1), npdl.optimizers.NesterovMomentum(lr=0.1)
    p_m, p_n, velocity = [w.copy()], [w.copy()], np.zeros(2)
    expected_m, expected_n = w.copy(), w.copy()
    for step in range(3):
        gradient = g * (step + 1)
        momentum.update(p_m, [gradient])
        nesterov.update(p_n, [gradient])
        velocity = 0.9 * velocity - 0.1 * gradient  # velocity := momentum * velocity - lr * gradient
        expected_m = expected_m + velocity  # param := param + velocity
        expected_n = expected_n + 0.9 * velocity - 0.1 * gradient  # param += momentum * velocity - lr * gradient
    np.testing.assert_allclose(p_m[0], expected_m, rtol=1e-14)
    np.testing.assert_allclose(p_n[0], expected_n, rtol=1e-14)


def test_optimizer_arguments_map_onto_nnxps():
    clipped = npdl.optimizers.SGD(lr=1.0, clip=0.5)
    params = [np.array([0.0, 0.0])]
    clipped.update(params, [np.array([2.0, -0.1])])
    np.testing.assert_allclose(params[0], [-0.5, 0.1])  # each gradient clipped to [-clip, clip]
    decayed = npdl.optimizers.SGD(lr=1.0, decay=1.0, lr_min=0.3)
    params = [np.zeros(1)]
    for _ in range(4):
        decayed.update(params, [np.ones(1)])
    np.testing.assert_allclose(params[0], [-(1 + 1 / 2 + 1 / 3 + 0.3)])  # lr / (1 + decay t), at least lr_min
    adam = npdl.optimizers.Adam(beta1=0.8, beta2=0.99, epsilon=1e-7, lr=0.01)
    assert (adam.core.beta_1, adam.core.beta_2, adam.core.epsilon, adam.core.learning_rate) == (0.8, 0.99, 1e-7, 0.01)
    rms = npdl.optimizers.get("rmsprop")
    assert (rms.core.name, rms.core.rho, rms.core.epsilon, rms.core.learning_rate) == ("rmsprop", 0.9, 1e-6, 0.001)
    assert npdl.optimizers.Adadelta().core.name == "adadelta" and npdl.optimizers.Adamax().core.name == "adamax"
    assert npdl.optimizers.Adagrad(epsilon=1e-4).core.epsilon == 1e-4 and npdl.optimizers.Optimizer().core.lr_max is None


# --------------------------------------------------------------------------- layers used alone
def test_a_dense_layer_used_alone_connects_forwards_and_backwards(array_backend, rng):
    first = npdl.layers.Dense(4, n_in=3)
    first.connect_to()
    second = npdl.layers.Dense(2, activation="sigmoid")
    second.connect_to(first)
    assert first.out_shape == (None, 4) and to_numpy(second.W).shape == (4, 2) and to_numpy(second.b).shape == (2,)
    X = array_backend.asarray(rng.standard_normal((5, 3)))
    W, b = to_numpy(first.W), to_numpy(first.b)
    A = first.forward(X)
    np.testing.assert_allclose(to_numpy(A), np.tanh(to_numpy(X) @ W + b), rtol=1e-13)
    dA = rng.standard_normal((5, 4))
    dX = first.backward(array_backend.asarray(dA))
    dZ = dA * (1 - to_numpy(A) ** 2)
    np.testing.assert_allclose(to_numpy(dX), dZ @ W.T, rtol=1e-12)
    dW, db = first.grads  # computed on demand after backward
    np.testing.assert_allclose(to_numpy(dW), to_numpy(X).T @ dZ, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(db), dZ.sum(0), rtol=1e-12)
    assert [to_numpy(p).shape for p, _ in first.param_grads] == [(3, 4), (4,)] and first.params[0] is first.W
    linear = npdl.layers.Linear(3, n_in=2)
    Z = linear.forward(array_backend.asarray(np.ones((1, 2))))  # sized by its first input, never connected
    np.testing.assert_allclose(to_numpy(Z), np.ones((1, 2)) @ to_numpy(linear.W) + to_numpy(linear.b), rtol=1e-14)
    assert npdl.layers.Dense.from_json(first.to_json()).n_out == 4


def test_a_softmax_layer_takes_the_gradient_scce_gives_at_its_input(rng):
    layer = npdl.layers.Softmax(3, n_in=4)
    layer.connect_to()
    X, labels = rng.standard_normal((6, 4)), rng.integers(3, size=6)
    outputs = layer.forward(X)
    np.testing.assert_allclose(outputs.sum(1), 1.0)
    dX = layer.backward(npdl.objectives.SCCE().backward(outputs, labels))
    twin = core.Dense(3, "softmax").initialize(X)
    twin.p = dict(layer.p)
    A = twin.forward(X)
    expected = twin.backward(None, dZ=nnxp.losses.CCE().fused_backward(A, np.eye(3)[labels], twin.activation))
    np.testing.assert_allclose(dX, expected, rtol=1e-13)  # the exact gradient of the mean cross-entropy


def test_dropout_p_is_the_fraction_kept(array_backend):
    npdl.utils.set_seed(4)  # the layer's masks come from the package generator: a fixed draw
    layer = npdl.layers.Dropout(p=0.8)
    X = array_backend.asarray(np.ones((200, 100)))
    A = to_numpy(layer.forward(X))
    kept = np.mean(A != 0)
    assert abs(kept - 0.8) < 3 * math.sqrt(0.8 * 0.2 / A.size)  # within three standard errors
    np.testing.assert_allclose(A[A != 0], 1 / 0.8)  # the kept ones scaled by 1 / p
    np.testing.assert_array_equal(to_numpy(layer.forward(X, train=False)), np.ones((200, 100)))
    dX = to_numpy(layer.backward(X))
    np.testing.assert_array_equal(dX != 0, A != 0)
    assert layer.drop_prob == pytest.approx(0.2) and npdl.layers.Dropout().drop_prob == 0  # p=0: no dropout
    with pytest.raises(TypeError, match=r"unknown argument 'drop_prob': here it is 'p \(the fraction KEPT"):
        npdl.layers.Dropout(drop_prob=0.2)


def test_the_convolution_takes_channels_first_images_and_equals_nnxps_on_the_transposed_data(backend, rng):
    X = rng.standard_normal((3, 2, 7, 6))  # (samples, channels, height, width)
    conv = npdl.layers.Convolution(4, (3, 2), input_shape=(2, 7, 6), stride=2, activation="tanh")
    conv.connect_to()
    assert conv.out_shape == (None, 4, 3, 3)
    A = conv.forward(backend.asarray(X))
    twin = core.Convolution(4, (3, 2), strides=2, activation="tanh").initialize(backend.asarray(X.transpose(0, 2, 3, 1)))
    twin.p = dict(conv.p)
    B = twin.forward(backend.asarray(X.transpose(0, 2, 3, 1)))
    np.testing.assert_allclose(to_numpy(A), to_numpy(B).transpose(0, 3, 1, 2), rtol=1e-12)
    dA = rng.standard_normal(tuple(A.shape))
    dX = conv.backward(backend.asarray(dA))
    twin.backward(backend.asarray(dA.transpose(0, 2, 3, 1)))
    twin.compute_gradients()
    np.testing.assert_allclose(to_numpy(dX), to_numpy(twin.bc["dX"]).transpose(0, 3, 1, 2), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(conv.grads[0]), to_numpy(twin.g["dW"]), rtol=1e-12)
    for pool_class, mode in ((npdl.layers.MaxPooling, "max"), (npdl.layers.MeanPooling, "mean")):
        pool = pool_class((2, 2))
        P = pool.forward(A)
        expected = core.Pooling(2, mode=mode).initialize(B).forward(B)
        np.testing.assert_allclose(to_numpy(P), to_numpy(expected).transpose(0, 3, 1, 2), rtol=1e-13)
        assert pool.out_shape == (None, 4, 1, 1)
        assert tuple(pool.backward(P).shape) == tuple(A.shape)


def test_flatten_keeps_numpydls_order_and_dimshuffle_adds_an_axis(array_backend, rng):
    X = rng.standard_normal((2, 3, 4, 5))
    flat = npdl.layers.Flatten()
    np.testing.assert_array_equal(to_numpy(flat.forward(array_backend.asarray(X))), X.reshape(2, 60))
    assert flat.out_shape == (None, 60)
    three = npdl.layers.Flatten(outdim=3)
    assert tuple(three.forward(array_backend.asarray(X)).shape) == (2, 3, 20) and three.out_shape == (None, 3, 20)
    shuffle = npdl.layers.DimShuffle(axis=2)
    Y = shuffle.forward(array_backend.asarray(X[:, :, 0, 0]))
    assert tuple(Y.shape) == (2, 3, 1) and tuple(shuffle.backward(Y).shape) == (2, 3)
    assert shuffle.out_shape == (None, 3, 1)


@pytest.mark.parametrize("axis", [0, 1])
def test_batchnormal_normalizes_what_its_axis_says(array_backend, rng, axis):
    X = rng.standard_normal((8, 3, 2, 2)) * 4 + 1
    layer = npdl.layers.BatchNormal(axis=axis)
    A = to_numpy(layer.forward(array_backend.asarray(X)))
    over = (0,) if axis == 0 else (0, 2, 3)  # each element over the samples, or each channel over the rest
    np.testing.assert_allclose(A.mean(axis=over), 0, atol=1e-12)
    np.testing.assert_allclose(A.var(axis=over), 1, rtol=1e-4)
    assert tuple(layer.backward(array_backend.asarray(A)).shape) == X.shape
    flat = npdl.layers.BatchNormal(epsilon=1e-5, momentum=0.8, gamma_init="zero")
    assert np.all(to_numpy(flat.forward(array_backend.asarray(X[:, :, 0, 0]))) == 0)  # gamma starts at 0
    assert flat.momentum == 0.8 and flat.epsilon == 1e-5


def test_embedding_looks_up_word_vectors_and_keeps_pretrained_ones(array_backend, rng):
    layer = npdl.layers.Embedding(input_size=10, n_out=4, nb_seq=3)
    layer.connect_to()
    ids = np.array([[1, 2, 3], [9, 9, 0]])
    A = to_numpy(layer.forward(array_backend.asarray(ids)))
    np.testing.assert_array_equal(A, to_numpy(layer.W)[ids])
    assert layer.out_shape == (None, 3, 4) and layer.trainable
    assert np.abs(to_numpy(layer.W)).max() <= 0.05  # Uniform(0.05), the default
    vectors = rng.standard_normal((10, 4))
    pretrained = npdl.layers.Embedding(embed_words=vectors)
    np.testing.assert_array_equal(to_numpy(pretrained.forward(array_backend.asarray(ids))), vectors[ids])
    assert not pretrained.trainable and npdl.layers.Embedding(embed_words=vectors, static=False).trainable


def test_recurrent_layers_map_onto_nnxps(array_backend, rng):
    X = rng.standard_normal((2, 5, 3))
    rnn = npdl.layers.SimpleRNN(n_out=4, n_in=3, nb_seq=5, return_sequence=True)
    rnn.connect_to()
    assert rnn.out_shape == (None, 5, 4) and rnn.sequences
    twin = core.RNN(4, sequences=True).initialize(array_backend.asarray(X))
    twin.p = dict(rnn.p)
    np.testing.assert_allclose(to_numpy(rnn.forward(array_backend.asarray(X))),
                               to_numpy(twin.forward(array_backend.asarray(X))), rtol=1e-13)
    lstm = npdl.layers.LSTM(n_out=2, n_in=3)
    lstm.connect_to()
    np.testing.assert_array_equal(to_numpy(lstm.p["b"]), [0, 0, 1, 1, 0, 0, 0, 0])  # forget_bias_num=1
    assert lstm.out_shape == (None, 2) and lstm.input_gate.name == lstm.forget_gate.name == "sigmoid"
    ones = array_backend.asarray(np.ones((2, 5)))
    assert tuple(lstm.forward(array_backend.asarray(X), ones).shape) == (2, 2)  # a mask of ones: every step
    with pytest.raises(NotImplementedError, match="take no 'mask'"):
        lstm.forward(array_backend.asarray(X), array_backend.asarray(np.zeros((2, 5))))
    with pytest.raises(NotImplementedError, match="take no 'h0'"):
        npdl.layers.BatchLSTM(n_out=2, n_in=3).forward(array_backend.asarray(X), h0=ones)
    gru = npdl.layers.GRU(gate_activation="tanh", need_grad=False, n_out=2, n_in=3)
    assert gru.reset_gate.name == gru.update_gate.name == "tanh" and not gru.trainable
    gru.forward(array_backend.asarray(X))
    gru.backward(array_backend.asarray(np.ones((2, 2))))
    assert gru.grads == [] and len(gru.params) == 4  # need_grad=False: nothing learned, nothing computed
    with pytest.raises(NotImplementedError, match="use SimpleRNN, GRU, LSTM or BatchLSTM"):
        npdl.layers.Recurrent(3, n_in=2).forward(X)


# --------------------------------------------------------------------------- the model
def npdl_stack():
    model = npdl.model.Model([npdl.layers.Dense(6, n_in=4, activation="relu"), npdl.layers.Dropout(0.9),
                              npdl.layers.Softmax(3)])
    model.compile(loss=npdl.objectives.SCCE(), optimizer=npdl.optimizers.Momentum(lr=0.05))
    return model


def test_a_numpydl_model_and_the_same_nnxp_model_from_one_seed_train_to_the_same_weights(rng):
    X, labels = blobs(rng, m=40)
    Y = npdl.utils.one_hot(labels)
    npdl.utils.set_seed(11)
    ours = npdl_stack()
    drawn = parameters(ours.network)  # NumpyDL draws them at compile
    ours.fit(X, Y, max_iter=2, batch_size=8, file=io.StringIO())
    nnxp.set_seed(None)
    twin = nnxp.Model([core.Dense(6, "relu"), core.Dropout(0.1), core.Dense(3, "softmax")])
    twin.compile(loss="CCE", optimizer={"name": "momentum", "learning_rate": 0.05, "momentum": 0.9}, seed=11)
    twin.fit(X, Y, epochs=0, batch_size=8, verbose=0)
    for key, value in parameters(twin).items():
        np.testing.assert_array_equal(drawn[key], value, err_msg=key)  # the same initial weights
    twin.train(2, verbose=0, train_metrics="batches")
    for key, value in parameters(twin).items():
        np.testing.assert_array_equal(parameters(ours.network)[key], value, err_msg=key)
    assert ours.network.history.history == twin.history.history


def test_fit_holds_out_the_last_rows_prints_each_epoch_and_predicts_arrays(rng):
    X, labels = blobs(rng, m=50)
    model = npdl_stack()
    log = io.StringIO()
    model.fit(X, labels, max_iter=3, batch_size=16, validation_split=0.1, file=log)
    lines = log.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].startswith("iter 1, train-[loss ") and "valid-[loss" in lines[2]
    np.testing.assert_array_equal(to_numpy(model.network.embedding.dval.X), X[45:].astype(np.float32))  # int(50 * 0.1)
    history = model.network.history
    assert f"{history['val_accuracy'][-1]:.4f}" in lines[-1]
    outputs = model.predict(X)
    assert isinstance(outputs, np.ndarray) and outputs.shape == (50, 3)
    np.testing.assert_allclose(outputs.sum(1), 1, rtol=1e-5)
    assert model.accuracy(outputs, labels) == pytest.approx(np.mean(outputs.argmax(1) == labels))
    assert model.accuracy(outputs, npdl.utils.one_hot(labels)) == model.accuracy(outputs, labels)
    with pytest.raises(NotImplementedError, match="not implemented in NumpyDL 0.4"):
        model.evaluate(X, labels)


def test_a_convolutional_model_trains_on_channels_first_images(rng):
    X = rng.standard_normal((24, 1, 6, 6))
    labels = (X[:, 0, :3].sum((1, 2)) > X[:, 0, 3:].sum((1, 2))).astype(int)
    npdl.utils.set_seed(2)
    model = npdl.model.Model()
    model.add(npdl.layers.Convolution(3, (3, 3), input_shape=(1, 6, 6)))
    model.add(npdl.layers.MaxPooling((2, 2)))
    model.add(npdl.layers.Flatten())
    model.add(npdl.layers.Softmax(2))
    model.compile(loss="scce", optimizer=npdl.optimizers.Adam(lr=0.01))
    assert [layer.out_shape for layer in model.layers] == [(None, 3, 4, 4), (None, 3, 2, 2), (None, 12), (None, 2)]
    model.fit(X, labels, max_iter=5, batch_size=8, file=io.StringIO())
    assert model.network.history["loss"][-1] < model.network.history["loss"][0]


def test_unknown_arguments_name_themselves_and_the_names_here():
    with pytest.raises(TypeError, match=r"npdl.layers.Dense\(\) got an unknown argument 'units': here it is "
                                        r"'n_out' \(nnxp.layers.Dense calls it 'units'\)"):
        npdl.layers.Dense(10, units=10)
    with pytest.raises(TypeError, match=r"'use_bias': it is nnxp's own \(nnxp.layers.Dense\(use_bias=...\)\)"):
        npdl.layers.Dense(10, use_bias=False)
    with pytest.raises(TypeError, match=r"'learning_rate': here it is 'lr'"):
        npdl.optimizers.SGD(learning_rate=0.1)
    with pytest.raises(TypeError, match=r"'epochs': here it is 'max_iter'"):
        npdl_stack().fit(np.zeros((4, 4)), np.zeros(4), epochs=3)
    with pytest.raises(TypeError, match=r"'activaton'.*Its arguments: n_out, n_in, init, activation"):
        npdl.layers.Dense(10, activaton="relu")


def test_utils_one_hot_random_and_dtype():
    np.testing.assert_array_equal(npdl.utils.one_hot([0, 2, 1], 4), np.eye(4)[[0, 2, 1]])
    np.testing.assert_array_equal(npdl.utils.unhot(np.eye(3)[[2, 0]]), [2, 0])
    np.testing.assert_array_equal(npdl.utils.data.one_hot(["b", "a"]), [[0, 1], [1, 0]])
    assert npdl.utils.get_rng() is np.random
    generator = np.random.RandomState(0)
    npdl.utils.set_rng(generator)
    assert npdl.utils.random.get_rng() is generator
    assert npdl.utils.get_dtype() == "float32"
    try:
        npdl.utils.set_dtype("float64")
        assert npdl.utils.get_dtype() == "float64" and nnxp.get_backend().dtype_name == "float64"
    finally:
        npdl.utils.set_dtype("float32")


def test_the_docs_page_names_every_documented_name_and_the_traps():
    page = (Path(__file__).resolve().parents[1] / "docs" / "seeds-npdl.md").read_text(encoding="utf-8")
    names = {path.split(".")[-1] for path in SIGNATURES} | {name for group in NAMES.values() for name in group}
    missing = sorted(name for name in names if f"`{name}" not in page and f" {name}" not in page)
    assert missing == [], f"docs/seeds-npdl.md does not name {missing}"
    for trap in ("p is the fraction kept", "channels first", "channels last", "batch means", "drop_prob"):
        assert trap in page, trap


def test_a_dense_model_written_to_a_file_loads_as_nnxp_layers_and_an_image_one_refuses(tmp_path, rng):
    X, labels = blobs(rng, m=30)
    model = npdl_stack()
    model.fit(X, labels, max_iter=2, batch_size=8, file=io.StringIO())
    back = nnxp.read_model(model.network.write(tmp_path / "dense.npz"))
    assert [type(layer) for layer in back.layers] == [core.Embedding, core.Dense, core.Dropout, core.Dense]
    np.testing.assert_array_equal(to_numpy(back.output(back.backend.asarray(X))), model.predict(X))
    images = npdl.model.Model([npdl.layers.Convolution(2, (3, 3), input_shape=(1, 5, 5)), npdl.layers.Flatten(),
                               npdl.layers.Softmax(2)])
    images.compile()
    images.fit(rng.standard_normal((8, 1, 5, 5)), np.arange(8) % 2, max_iter=1, file=io.StringIO())
    with pytest.raises(NotImplementedError, match="channels-first images.*Build the model from nnxp.layers"):
        images.network.write(tmp_path / "images.npz")
    assert not (tmp_path / "images.npz").exists()
    assert repr(npdl.layers.Dense(3, n_in=2)) == "Dense(n_out=3, n_in=2, init='glorot_uniform', activation='tanh')"
