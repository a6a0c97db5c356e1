"""Initializers: the statistics of each rule, orthogonality, and one seed giving the
same weights (and predictions) on every backend."""

import math

import numpy as np
import pytest

from builders import blobs, classifier, parameters
import nnxp
from nnxp.initializers import INITIALIZERS, Orthogonal, get_initializer

FAN_IN, FAN_OUT = 300, 200
SHAPE = (FAN_IN, FAN_OUT)  # 60 000 draws: the standard error of a std is ~0.3 %

# name -> (distribution, variance) as the initializers docstring states them
SCALING = {
    "glorot_uniform": ("uniform", 2 / (FAN_IN + FAN_OUT)),
    "glorot_normal": ("normal", 2 / (FAN_IN + FAN_OUT)),
    "he_uniform": ("uniform", 2 / FAN_IN),
    "he_normal": ("normal", 2 / FAN_IN),
    "lecun_uniform": ("uniform", 1 / FAN_IN),
    "lecun_normal": ("normal", 1 / FAN_IN),
}


@pytest.mark.parametrize("name", sorted(SCALING))
def test_variance_scaling_statistics(name):
    distribution, variance = SCALING[name]
    W = get_initializer(name)(SHAPE, np.random.default_rng(0), FAN_IN, FAN_OUT)
    assert W.shape == SHAPE and W.dtype == np.float64
    std = math.sqrt(variance)
    assert abs(W.mean()) < 4 * std / math.sqrt(W.size)
    assert W.std() == pytest.approx(std, rel=0.02)
    if distribution == "uniform":
        limit = math.sqrt(3 * variance)  # e.g. glorot: sqrt(6 / (fan_in + fan_out))
        assert np.abs(W).max() <= limit
        assert np.abs(W).max() > 0.999 * limit
    else:
        assert np.abs(W).max() > 3.5 * std  # a normal, not a truncated one
        kurtosis = ((W - W.mean()) ** 4).mean() / W.var() ** 2
        assert kurtosis == pytest.approx(3.0, abs=0.1)


def test_simple_rules():
    rng = np.random.default_rng(0)
    assert np.all(get_initializer("zeros")((3, 2), rng, 3, 2) == 0)
    assert np.all(get_initializer("ones")((3, 2), rng, 3, 2) == 1)
    U = get_initializer({"name": "uniform", "low": -0.2, "high": 0.5})(SHAPE, rng, 1, 1)
    assert U.min() >= -0.2 and U.max() < 0.5 and U.mean() == pytest.approx(0.15, abs=0.005)
    N = get_initializer({"name": "normal", "mean": 1.0, "std": 0.3})(SHAPE, rng, 1, 1)
    assert N.mean() == pytest.approx(1.0, abs=0.005) and N.std() == pytest.approx(0.3, rel=0.02)


@pytest.mark.parametrize("shape", [(30, 8), (8, 30), (12, 12), (3, 4, 10)], ids=["tall", "wide", "square", "3d"])
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_orthogonal(shape, gain):
    W = Orthogonal(gain)(shape, np.random.default_rng(1), 0, 0)
    assert W.shape == shape
    M = W.reshape(-1, shape[-1]) / gain
    rows, cols = M.shape
    gram = M.T @ M if rows >= cols else M @ M.T  # orthonormal columns (tall) or rows (wide)
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)
    other = Orthogonal(gain)(shape, np.random.default_rng(2), 0, 0)
    assert not np.allclose(W, other)


def test_every_initializer_is_reproducible_and_named():
    for name in INITIALIZERS:
        first = get_initializer(name)((5, 4), np.random.default_rng(3), 5, 4)
        again = get_initializer(get_initializer(name).get_config())((5, 4), np.random.default_rng(3), 5, 4)
        assert np.array_equal(first, again), name
    assert get_initializer("xavier_uniform").name == "glorot_uniform"
    with pytest.raises(ValueError, match="unknown initializer 'glorot'") as error:
        get_initializer("glorot")
    assert "glorot_uniform" in str(error.value)


def initialized_model(backend_name, seed, X, labels):
    with nnxp.use_backend(backend_name, dtype="float64", kernels="reference"):
        model = classifier(X, labels, activation="relu")
        model.initialize(loss="CCE", seed=seed, verbose=False)
    return model


def test_one_seed_same_weights_and_predictions_on_cpu_and_strict(rng):
    pytest.importorskip("array_api_strict")
    X, labels = blobs(rng, m=30)
    cpu, strict = initialized_model("cpu", 5, X, labels), initialized_model("strict", 5, X, labels)
    assert strict.backend.name == "strict" and type(strict.layers[1].p["W"]).__module__.startswith("array_api_strict")
    weights_cpu, weights_strict = parameters(cpu), parameters(strict)
    assert weights_cpu.keys() == weights_strict.keys() and len(weights_cpu) == 4
    for key in weights_cpu:
        assert np.array_equal(weights_cpu[key], weights_strict[key]), key
    np.testing.assert_array_equal(strict.predict(X).probabilities, cpu.predict(X).probabilities)
    other = initialized_model("cpu", 6, X, labels)
    assert not np.array_equal(parameters(other)["1/W"], weights_cpu["1/W"])
    assert np.array_equal(parameters(initialized_model("cpu", 5, X, labels))["1/W"], weights_cpu["1/W"])
