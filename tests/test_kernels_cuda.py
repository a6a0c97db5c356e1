"""The CUDA kernels (``nnxp.kernels.cuda``) through the GPU code path of every op.

Whole layers (forward, backward, parameter gradients) on the GPU path are compared with
the reference code: float64 within 1e-12 relative (max abs error over max abs value),
float32 within float32 rounding, on tiny shapes.

Without a GPU, Numba's CUDA simulator runs the kernels (``conftest.py`` chooses it
before numba loads), and the ``on_gpu_path`` fixture sends NumPy arrays down the GPU
path: ``nnxp.ops`` then picks ``nnxp.kernels.cuda`` for them, allocates the outputs
with ``xp.empty`` as it does from CuPy's pool, composes the matrix products, and the
kernels fill the outputs. The simulator would copy a NumPy argument as if to the
device, which needs a contiguous array; a GPU reads a CuPy view where it lies, and so
do these tests: each NumPy argument goes to the kernel as a simulated device view of
the same memory (``FakeCUDAArray``, strided views included), and the recurrent
kernels' one conversion per op call (``device_array``, ``cuda.as_cuda_array`` on a
GPU, absent from the simulator) makes the same views. Where a GPU is present the tests
marked ``gpu`` run the same comparisons on CuPy arrays.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

import nnxp
import nnxp.ops
from gradcheck import assert_close
from nnxp.activations import LReLU, get_activation
from nnxp.backend import GpuBackend, available_backends, to_numpy
from nnxp.layers import GRU, LSTM, RNN, Convolution, Pooling

cuda_kernels = pytest.importorskip("nnxp.kernels.cuda", reason="numba-cuda is not installed")
SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


# --------------------------------------------------------------------------- the GPU path on NumPy arrays


@pytest.fixture
def on_gpu_path(monkeypatch):
    """Layers on the ``cpu`` backend in the kernel mode "numba" take the GPU code path."""
    if not SIMULATOR:
        pytest.skip("a GPU is present: the gpu-marked tests run these comparisons on CuPy arrays")
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    from nnxp.kernels.cuda import conv, launch, pool, recurrent

    def device_views(kernel, count):
        configured = launch.launch(kernel, count)
        return lambda *args: configured(*(FakeCUDAArray(a) if isinstance(a, np.ndarray) else a for a in args))

    monkeypatch.setattr(nnxp.ops, "backend_class_of", lambda array: GpuBackend)  # every array goes to kernels.cuda
    for module in (conv, pool, recurrent):
        monkeypatch.setattr(module, "launch", device_views)
    monkeypatch.setattr(recurrent, "device_array", FakeCUDAArray)
    with nnxp.use_backend("cpu", dtype="float64", kernels="numba"):
        yield


def run_layer(make_layer, X_host, backend, dtype="float64", seed=0):
    """A, dX and every parameter gradient of a fresh layer (seeded) on ``backend``, on the host."""
    with nnxp.use_backend(backend, dtype=dtype) as chosen:
        X = chosen.asarray(X_host)
        layer = make_layer().initialize(X, seed=seed)
        A = layer.forward(X)
        dA = chosen.asarray(np.random.default_rng(seed + 1).standard_normal(tuple(A.shape)))
        dX = layer.backward(dA)
        layer.compute_gradients()
        results = {"A": to_numpy(A), **{name: to_numpy(g) for name, g in layer.g.items()}}
        if dX is not None:
            results["dX"] = to_numpy(dX)
        for key in ("Z", "C", "S", "G", "Hn", "H"):  # the forward caches that backward reads
            if key in layer.fc:
                results["fc " + key] = to_numpy(layer.fc[key])
        return results


def assert_layers_agree(make_layer, X_host, fast, reference, rtol, what):
    expected = run_layer(make_layer, X_host, reference, reference.dtype_name)
    actual = run_layer(make_layer, X_host, fast, fast.dtype_name)
    assert actual.keys() == expected.keys(), what
    for key, value in expected.items():
        assert actual[key].shape == value.shape and actual[key].dtype == value.dtype, f"{what}: {key}"
        assert_close(actual[key], value, rtol=rtol, atol=0.0, what=f"{what}: {key}")


# --------------------------------------------------------------------------- configurations (tiny)


def images(ties=False, seed=0):
    X = np.random.default_rng(seed).standard_normal((2, 5, 5, 2))
    return np.round(X) if ties else X  # rounded: many equal values in each pooling window


def sequences(seed=0):
    return np.random.default_rng(seed).standard_normal((2, 3, 2))


CONVOLUTIONS = {
    "3x3 valid": lambda: Convolution(3, 3),
    "2x3 stride (2,1) uneven padding": lambda: Convolution(2, (2, 3), strides=(2, 1), padding=((1, 0), (2, 1))),
    "3x3 stride 2 same, no bias": lambda: Convolution(3, 3, strides=2, padding="same", use_bias=False),
    "1x1 stride 3 (beyond the window)": lambda: Convolution(2, 1, strides=3, activation="tanh"),
}

POOLINGS = {
    "2 stride 2": dict(pool_size=2),
    "3 stride 1 padding 1 (overlapping)": dict(pool_size=3, strides=1, padding=1),
    "(2,3) stride (3,2) padding ((1,0),(0,2))": dict(pool_size=(2, 3), strides=(3, 2), padding=((1, 0), (0, 2))),
}

FAMILIES = {"RNN": (RNN, ("activation",)),
            "GRU": (GRU, ("activation", "reset_gate", "update_gate")),
            "LSTM": (LSTM, ("activation", "candidate_activation", "input_gate", "forget_gate", "output_gate"))}


def recurrent_cases():
    """Per family, every supported activation at every position once (a Latin square),
    with sequences=True and False in turn."""
    codes = sorted(cuda_kernels.RECURRENT_ACTIVATIONS)
    for family, (cls, names) in FAMILIES.items():
        for shift in range(len(codes)):
            chosen = {name: codes[(shift + k) % len(codes)] for k, name in enumerate(names)}
            sequences_on = shift % 2 == 0
            yield (f"{family} {chosen} sequences={sequences_on}",
                   lambda cls=cls, chosen=chosen, on=sequences_on: cls(3, sequences=on, **chosen))


# --------------------------------------------------------------------------- simulator: float64 parity


def test_convolution_layers_on_the_gpu_path(on_gpu_path):
    fast = nnxp.get_backend()
    reference = nnxp.backend.make_backend("cpu", "float64", "reference")
    for name, make in CONVOLUTIONS.items():
        assert_layers_agree(make, images(), fast, reference, 1e-12, f"Convolution {name}")


def test_first_convolution_layer_skips_dX(on_gpu_path, monkeypatch):
    from nnxp.kernels.cuda import conv

    def refuse(*args):
        raise AssertionError("col2im ran for a layer whose dX nobody needs")

    monkeypatch.setattr(conv, "col2im", refuse)
    monkeypatch.setattr(cuda_kernels, "col2im", refuse)
    X = images()
    layer = Convolution(2, 3, padding=1).initialize(X, seed=0)
    layer.input_gradient = False
    A = layer.forward(X)
    assert layer.backward(np.ones_like(A)) is None
    layer.compute_gradients()
    with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
        expected = Convolution(2, 3, padding=1).initialize(X, seed=0)
        expected.backward(np.ones_like(expected.forward(X)))
        expected.compute_gradients()
    for name in ("dW", "db"):
        assert_close(layer.g[name], expected.g[name], rtol=1e-12, atol=0.0, what=name)


@pytest.mark.parametrize("mode", ["max", "min", "mean"])
def test_pooling_layers_on_the_gpu_path(on_gpu_path, mode):
    fast = nnxp.get_backend()
    reference = nnxp.backend.make_backend("cpu", "float64", "reference")
    for (name, options), ties in itertools.product(POOLINGS.items(), (True, False)):
        make = lambda options=options: Pooling(mode=mode, **options)  # noqa: E731
        assert_layers_agree(make, images(ties=ties), fast, reference, 1e-12, f"Pooling {mode} {name} ties={ties}")


def test_recurrent_layers_on_the_gpu_path(on_gpu_path):
    fast = nnxp.get_backend()
    reference = nnxp.backend.make_backend("cpu", "float64", "reference")
    count = 0
    for name, make in recurrent_cases():
        assert_layers_agree(make, sequences(count), fast, reference, 1e-12, name)
        count += 1
    assert count == 15


def test_first_recurrent_layer_skips_dX(on_gpu_path):
    """A first layer's recurrent backward on the GPU path returns no dX, and the same
    parameter gradients as the reference's full backward."""
    for family, (cls, _) in FAMILIES.items():
        X = sequences()
        layer = cls(3, sequences=True).initialize(X, seed=0)
        layer.input_gradient = False
        A = layer.forward(X)
        assert layer.backward(np.ones_like(A)) is None, family
        layer.compute_gradients()
        with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
            expected = cls(3, sequences=True).initialize(X, seed=0)
            expected.backward(np.ones_like(expected.forward(X)))
            expected.compute_gradients()
        for name in expected.g:
            assert_close(layer.g[name], expected.g[name], rtol=1e-12, atol=0.0, what=f"{family} {name}")


def test_unsupported_activation_falls_back_to_the_reference_step(on_gpu_path, monkeypatch):
    def refuse(*args):
        raise AssertionError("a CUDA step kernel ran for an activation it does not support")

    for family, direction in itertools.product(("rnn", "gru", "lstm"), ("forward", "backward")):
        monkeypatch.setattr(cuda_kernels, f"{family}_step_{direction}", refuse)
    fast = nnxp.get_backend()
    reference = nnxp.backend.make_backend("cpu", "float64", "reference")
    for family, (cls, names) in FAMILIES.items():
        make = lambda cls=cls, names=names: cls(3, sequences=True, **{names[-1]: LReLU(0.2)})  # noqa: E731
        assert_layers_agree(make, sequences(), fast, reference, 0.0, f"{family} with LReLU")


def recurrent_op_calls(family, rng, T=4, layout=lambda a: a):
    """(forward call, backward call given the caches) of one family's ops on tiny float64
    arrays, tanh everywhere; ``layout`` is applied to every array argument but the weights."""
    from nnxp.ops import recurrent as ops

    gates, count = {"rnn": (1, 1), "gru": (3, 3), "lstm": (4, 5)}[family]
    m, n, u = 2, 3, 2
    X, dH = rng.standard_normal((m, T, n)), rng.standard_normal((m, T, u))
    U, V = rng.standard_normal((n, gates * u)), rng.standard_normal((u, gates * u))
    b = rng.standard_normal(gates * u)
    extra = (rng.standard_normal(u),) if family == "gru" else ()
    tanh = [get_activation("tanh")] * count
    forward, backward = getattr(ops, f"{family}_forward"), getattr(ops, f"{family}_backward")
    return (lambda mode: forward(layout(X), U, V, b, *extra, *tanh, kernel_mode=mode),
            lambda caches, mode: backward(layout(dH), layout(X), U, V, *map(layout, caches), *tanh,
                                          kernel_mode=mode))


def test_recurrent_ops_convert_once_then_launch_once_per_step(on_gpu_path, monkeypatch):
    """Per op call: every buffer becomes a device array once and the launch is configured
    once; then one launch per step (forward 0..T-1, backward T-1..0) with the step index
    and the SAME device arrays, never a host array to convert at the launch."""
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    from nnxp.kernels.cuda import recurrent

    events = []
    convert, configure = recurrent.device_array, recurrent.launch

    def counted_convert(array):
        events.append(("convert",))
        return convert(array)

    def counted_launch(kernel, count):
        events.append(("configure",))
        configured = configure(kernel, count)

        def run(*args):
            assert not any(isinstance(a, np.ndarray) for a in args), "a host array at a launch"
            arrays = [a for a in args if isinstance(a, FakeCUDAArray)]
            t = args[len(arrays)]  # the step index follows the arrays
            events.append(("launch", t, tuple(id(a) for a in arrays)))
            return configured(*args)

        return run

    monkeypatch.setattr(recurrent, "device_array", counted_convert)
    monkeypatch.setattr(recurrent, "launch", counted_launch)
    T = 4
    for family in ("rnn", "gru", "lstm"):
        forward, backward = recurrent_op_calls(family, np.random.default_rng(0), T)
        for direction, order in (("forward", list(range(T))), ("backward", list(reversed(range(T))))):
            events.clear()
            if direction == "forward":
                caches = forward("numba")
            else:
                backward(caches, "numba")
            kinds = [event[0] for event in events]
            converted = kinds.count("convert")
            what = f"{family} {direction}: {kinds}"
            assert kinds == ["convert"] * converted + ["configure"] + ["launch"] * T, what
            launches = [event[1:] for event in events if event[0] == "launch"]
            assert [t for t, _ in launches] == order, what
            assert len({arrays for _, arrays in launches}) == 1, f"{what}: other device arrays at some step"
            assert len(launches[0][1]) == converted, f"{what}: an array argument that was not converted"


def test_recurrent_ops_read_strided_views_on_the_gpu_path(on_gpu_path):
    """X, dH and every cache handed to the ops as strided views (every other column of a
    wider array): the kernels index them where they lie, as a GPU does CuPy views."""
    def strided(a):
        wide = np.full(a.shape[:-1] + (2 * a.shape[-1],), np.nan)
        wide[..., ::2] = a
        return wide[..., ::2]

    for family in ("rnn", "gru", "lstm"):
        forward, backward = recurrent_op_calls(family, np.random.default_rng(1), layout=strided)
        expected_caches = forward("reference")
        expected_gradients = backward(expected_caches, "reference")
        for what, expected, actual in (("forward", expected_caches, forward("numba")),
                                       ("backward", expected_gradients, backward(expected_caches, "numba"))):
            assert len(actual) == len(expected), f"{family} {what}"
            for k, (value, result) in enumerate(zip(expected, actual)):
                assert_close(result, value, rtol=1e-12, atol=0.0, what=f"{family} {what}, result {k}")


# --------------------------------------------------------------------------- simulator: float32


def test_float32_stays_float32_on_the_gpu_path(on_gpu_path):
    """Every kernel at least once in float32 (the simulator computes in Python floats, so
    this checks types and layout; that no float64 arithmetic is compiled into a float32
    kernel is checked on the PTX, in test_kernels_cuda_ptx.py)."""
    fast = nnxp.backend.Backend("cpu", "float32", "numba")
    reference = nnxp.backend.Backend("cpu", "float32", "reference")
    layers = {"Convolution": (lambda: Convolution(2, 3, strides=2, padding=1), images()),
              "Pooling max": (lambda: Pooling(3, strides=2, padding=1), images(ties=True)),
              "Pooling mean": (lambda: Pooling(2, mode="mean"), images()),
              "RNN": (lambda: RNN(3, sequences=True), sequences()),
              "GRU": (lambda: GRU(3), sequences()),
              "LSTM": (lambda: LSTM(3), sequences())}
    for name, (make, X) in layers.items():
        assert_layers_agree(make, X.astype(np.float32), fast, reference, 2e-6, f"{name} float32")


# --------------------------------------------------------------------------- kernels and the CPU's


def test_activation_codes_are_the_cpu_kernels_own():
    """One table, kernels/activation_codes.py, for both kernel packages; every name in
    it is an activation of nnxp, and no two share a code."""
    from nnxp.kernels import activation_codes, cpu

    assert cuda_kernels.RECURRENT_ACTIVATIONS is activation_codes.RECURRENT_ACTIVATIONS
    assert cpu.RECURRENT_ACTIVATIONS is activation_codes.RECURRENT_ACTIVATIONS
    assert len(set(activation_codes.RECURRENT_ACTIVATIONS.values())) == len(activation_codes.RECURRENT_ACTIVATIONS)
    for name in activation_codes.RECURRENT_ACTIVATIONS:
        assert get_activation(name).name == name


def test_launch_configuration():
    from nnxp.kernels.cuda.launch import THREADS, launch

    class Kernel:
        def __getitem__(self, config):
            return config

    assert launch(Kernel(), 10) == (1, 32)  # a warp for ten values
    assert launch(Kernel(), THREADS * 3 + 1) == (4, THREADS)
    assert launch(Kernel(), 0) == (1, 32)
    assert THREADS % 32 == 0 and 128 <= THREADS <= 1024


# --------------------------------------------------------------------------- on a GPU (CuPy arrays)


def _gpu_backends(dtype):
    available, why = available_backends()["gpu"]
    if not available:
        pytest.skip(f"backend 'gpu' unavailable: {why}")
    return (nnxp.backend.make_backend("gpu", dtype, "numba"), nnxp.backend.make_backend("cpu", dtype, "reference"))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_layer_on_cupy_matches_the_reference(dtype):
    fast, reference = _gpu_backends(dtype)
    rtol, cast = (1e-12, np.float64) if dtype == "float64" else (2e-5, np.float32)
    cases = [(f"Convolution {n}", m, images()) for n, m in CONVOLUTIONS.items()]
    cases += [(f"Pooling {mode} {n}", lambda o=o, mode=mode: Pooling(mode=mode, **o), images(ties=True))
              for (n, o), mode in itertools.product(POOLINGS.items(), ("max", "min", "mean"))]
    cases += [(n, m, sequences()) for n, m in recurrent_cases()]
    for name, make, X in cases:
        assert_layers_agree(make, X.astype(cast), fast, reference, rtol, f"{name} on CuPy")


@pytest.mark.gpu
def test_a_training_epoch_never_waits_for_the_device():
    """No host synchronisation inside an epoch: CuPy raises if anything reads a value back."""
    _gpu_backends("float32")
    cupyx = pytest.importorskip("cupyx")
    if not hasattr(cupyx, "allow_synchronize"):
        pytest.skip("this CuPy has no cupyx.allow_synchronize to detect synchronisation with")
    from nnxp.workloads import WORKLOADS, nnxp_model

    for workload in ("W2", "W3"):
        with nnxp.use_backend("gpu", dtype="float32", kernels="numba") as backend:
            model = nnxp_model(WORKLOADS[workload], shrink=8)
            model.train_epoch()  # compiles the kernels
            backend.synchronize()
            with cupyx.allow_synchronize(False):
                model.train_epoch()
            backend.synchronize()
