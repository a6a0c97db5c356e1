"""Backends: choosing one (in code and from the environment), the clear error where the
GPU is missing, moving data and models between backends, and no silent float64."""

import importlib.util
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from builders import blobs, classifier, parameters
import nnxp
from nnxp import backend as backend_module
from nnxp.backend import BackendUnavailable, get_backend, make_backend, set_backend, to_numpy, use_backend
from nnxp.layers import Dense, Dropout, Embedding


@pytest.fixture(autouse=True)
def keep_current_backend():
    """Each test may set the backend; the next one finds it as it was."""
    saved = backend_module._current
    yield
    backend_module._current = saved


def test_set_get_and_use_backend():
    chosen = set_backend("cpu", dtype="float64", kernels="reference")
    assert get_backend() is chosen
    assert (chosen.name, chosen.dtype_name, chosen.kernel_mode) == ("cpu", "float64", "reference")
    assert chosen.kernels == chosen.kernel_mode  # under set_backend's name for it, too
    assert chosen.dtype == np.float64 and chosen.xp.__name__.endswith("numpy")
    with use_backend("strict") as inner:
        assert get_backend() is inner and inner.name == "strict" and inner.dtype_name == "float32"
        with use_backend("cpu", dtype=np.float32):
            assert get_backend().dtype_name == "float32"
        assert get_backend() is inner
    assert get_backend() is chosen
    with pytest.raises(ZeroDivisionError), use_backend("strict"):
        1 / 0
    assert get_backend() is chosen  # restored after an error too
    assert nnxp.set_dtype("float32").dtype_name == "float32" and get_backend().kernel_mode == "reference"
    assert set_backend(chosen) is chosen


def test_bad_choices_are_clear_errors():
    with pytest.raises(ValueError, match="unknown backend 'tpu'.*cpu.*gpu.*strict"):
        set_backend("tpu")
    with pytest.raises(ValueError, match="unsupported dtype.*float16"):
        set_backend("cpu", dtype="float16")
    with pytest.raises(ValueError, match="unknown kernel mode 'fast'"):
        set_backend("cpu", kernels="fast")
    with pytest.raises(BackendUnavailable, match="strict backend runs the reference code only"):
        set_backend("strict", kernels="numba")


def run_python(code, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NNXP_")}
    environment.update(env)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                            timeout=60)
    return result


def test_environment_variables_choose_the_backend():
    code = ("import nnxp, numpy as np; b = nnxp.get_backend(); x = b.asarray(np.ones(2));"
            "print(b.name, b.dtype_name, b.kernel_mode, type(x).__module__.split('.')[0], x.dtype)")
    result = run_python(code, NNXP_BACKEND="strict", NNXP_DTYPE="float64")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["strict", "float64", "reference", "array_api_strict", "array_api_strict.float64"]
    result = run_python(code, NNXP_BACKEND="cpu", NNXP_KERNELS="reference")
    assert result.stdout.split()[:4] == ["cpu", "float32", "reference", "numpy"], result.stderr
    result = run_python(code)
    assert result.stdout.split()[:2] == ["cpu", "float32"], result.stderr
    for variable, value, expected in (("NNXP_BACKEND", "cuda", "('cpu', 'gpu', 'strict')"),
                                      ("NNXP_DTYPE", "float16", "('float32', 'float64')"),
                                      ("NNXP_KERNELS", "fast", "('numba', 'reference')")):
        result = run_python(code, **{variable: value})  # the error names the variable that was wrong
        assert result.returncode != 0
        assert f"environment: {variable} must be one of {expected}, got '{value}'" in result.stderr, result.stderr


@pytest.fixture
def fresh_probes():
    backend_module._probed.clear()
    yield
    backend_module._probed.clear()


def test_gpu_without_cupy_says_what_is_missing_and_how_to_install(monkeypatch, fresh_probes):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "cupy" else real_find_spec(name, *args))
    with pytest.raises(BackendUnavailable) as error:
        set_backend("gpu")
    message = str(error.value)
    assert "'gpu'" in message and "CuPy is not installed" in message
    assert "pip install 'nnxp[gpu-cu12]'" in message and "gpu-cu13" in message
    assert nnxp.available_backends()["gpu"][0] is False


def test_gpu_with_cupy_but_no_device(monkeypatch, fresh_probes):
    fake = types.ModuleType("cupy")
    fake.__version__ = "0-fake"
    fake.cuda = types.SimpleNamespace(is_available=lambda: False)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: object() if name == "cupy" else real_find_spec(name, *args))
    with pytest.raises(BackendUnavailable, match="CuPy is installed but no CUDA device is usable"):
        make_backend("gpu")


def test_to_numpy_from_every_kind_of_input():
    x = np.arange(6.0).reshape(2, 3)
    assert to_numpy(x) is x
    assert to_numpy([[1, 2]]).tolist() == [[1, 2]] and to_numpy(2.5).shape == ()
    strict = make_backend("strict", "float64")
    y = strict.asarray(x)
    assert type(y).__module__.startswith("array_api_strict")
    back = to_numpy(y)
    assert isinstance(back, np.ndarray) and np.array_equal(back, x) and back.dtype == np.float64
    assert to_numpy(strict.xp.sum(y)).item() == 15.0
    assert strict.asarray(np.arange(3)).dtype == strict.xp.int64  # integers keep their kind


def trained(model, epochs=2):
    model.initialize(loss="CCE", optimizer="adam", seed=4, verbose=False)
    model.train(epochs=epochs, verbose=0)
    return model


def test_model_to_moves_parameters_state_and_data(rng):
    X, labels = blobs(rng, m=40)
    with use_backend("cpu", dtype="float64", kernels="reference"):
        reference = trained(classifier(X, labels, extra_layers=[Dropout(0.2)]))
        moved = trained(classifier(X, labels, extra_layers=[Dropout(0.2)]))
    moved.to("strict")  # the current backend is float32 now: the model keeps its float64
    assert moved.backend.name == "strict" and moved.backend.dtype_name == "float64"
    for layer in moved.layers:
        for value in layer.p.values():
            assert type(value).__module__.startswith("array_api_strict") and value.dtype == moved.backend.dtype
    for slots in moved.optimizer.state.values():
        for value in slots.values():
            assert type(value).__module__.startswith("array_api_strict")
    assert type(moved.embedding.dtrain.X).__module__.startswith("array_api_strict")
    np.testing.assert_allclose(moved.predict(X).probabilities, reference.predict(X).probabilities, rtol=1e-12)
    with use_backend("cpu", dtype="float64", kernels="reference"):
        reference.train(epochs=2, verbose=0)
    moved.train(epochs=2, verbose=0)  # training goes on where it was, on the new backend
    for key, value in parameters(reference).items():
        np.testing.assert_allclose(parameters(moved)[key], value, rtol=1e-10, atol=1e-12, err_msg=key)
    moved.to("cpu", dtype="float32")
    assert moved.backend.dtype_name == "float32" and moved.layers[1].p["W"].dtype == np.float32


def float32_models(X, labels, y_binary):
    """(what, model, loss, optimizer): each output activation and fused loss, dropout,
    optimizer state and every gradient modifier."""
    yield ("softmax+CCE, dropout, adam",
           classifier(X, labels, activation="relu", extra_layers=[Dropout(0.3), Dense(5, "elu")]), "CCE", "adam")
    rmsprop = {"name": "rmsprop", "clip_norm": 0.5, "clip_value": 0.1, "weight_decay": 0.01}
    yield ("sigmoid+BCE, rmsprop, clipping",
           nnxp.Model([Embedding(X, y_binary, batch_size=16, seed=1), Dense(4, "softplus"), Dense(1, "sigmoid")]),
           "BCE", rmsprop)
    yield ("tanh+MSE, nesterov",
           nnxp.Model([Embedding(X, y_binary, batch_size=16, seed=1), Dense(3, "lrelu"), Dense(1, "tanh")]),
           "MSE", "nesterov")


def test_float32_stays_float32_through_training(array_backend, rng):
    X, labels = blobs(rng, m=40)
    y_binary = (labels == 0).astype(float)
    with use_backend(array_backend.name, dtype="float32", kernels="reference"):
        for what, model, loss, optimizer in float32_models(X, labels, y_binary):
            model.initialize(loss=loss, optimizer=optimizer, metrics=["accuracy", "fscore", "MSE"], seed=0,
                             verbose=False)
            model.train(epochs=1, verbose=0)
            model.train_step(model.embedding.dtrain.X, model.embedding.dtrain.Y)  # caches of a training step
            expected = model.backend.dtype
            for layer in model.layers:
                for store in ("p", "g", "fc", "bc"):
                    for key, value in getattr(layer, store).items():
                        if value is None:  # bc["dA"] of an output layer given the fused dZ
                            continue
                        assert value.dtype == expected, f"{what}: {layer.describe()} {store}[{key!r}] is {value.dtype}"
            for key, slots in model.optimizer.state.items():
                for slot, value in slots.items():
                    assert value.dtype == expected, f"{what}: optimizer state {key}/{slot} is {value.dtype}"
            assert model.embedding.dtrain.X.dtype == expected
            assert model.predict(X).probabilities.dtype == np.float32
            assert all(isinstance(v[-1], float) for v in model.history.history.values())


def test_array_namespace_is_array_api_compat_s_remembered_per_type():
    """nnxp.backend.array_namespace answers as array_api_compat's, for every array type
    and mix of types (remembered per combination), and refuses what it refuses."""
    import array_api_compat

    cases = [(np.zeros(2),), (np.zeros(2, np.float32), np.ones(3)), (np.float32(1.0), np.zeros(1))]
    strict = importlib.util.find_spec("array_api_strict")
    if strict is not None:
        import array_api_strict

        cases.append((array_api_strict.asarray([1.0]),))
    for arrays in cases * 2:  # the second time from the cache
        assert backend_module.array_namespace(*arrays) is array_api_compat.array_namespace(*arrays)
    with pytest.raises(TypeError):
        backend_module.array_namespace([1.0, 2.0])
    with pytest.raises(TypeError):
        backend_module.array_namespace([1.0, 2.0])  # not cached as an answer
