"""The Numba CPU kernels of the recurrent ops against the reference code.

float64: every output of forward (caches included) and backward within 1e-12
relative (max abs error over max abs value), over a grid of families, supported
activations, batch sizes (serial and parallel variants) and steps; float32 within
float32 rounding; on both CPU kernels (``cpu_path``: the direct loops, and BLAS
products with Numba steps, in chunks of two samples). Activations the kernels do not
support fall back to the reference code, and the kernels' own exp-based sigmoid and
tanh are checked value by value.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gradcheck import assert_close
from nnxp.activations import LReLU, get_activation
from nnxp.ops import REFERENCE, kernels_for
from nnxp.ops import recurrent as ops

numba = pytest.importorskip("numba")
kernels = pytest.importorskip("nnxp.kernels.cpu.recurrent")
from nnxp.kernels.activation_codes import RECURRENT_ACTIVATIONS, SIGMOID, TANH  # noqa: E402
from nnxp.kernels.cpu.paths import taken  # noqa: E402

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
N_ACTIVATIONS = {"rnn": 1, "gru": 3, "lstm": 5}
SUPPORTED = sorted(RECURRENT_ACTIVATIONS)


def problem(family, m, steps, n, u, dtype, seed):
    rng = np.random.default_rng(seed)
    G = GATES[family]
    arrays = {"X": rng.standard_normal((m, steps, n)), "U": 0.5 * rng.standard_normal((n, G * u)),
              "V": 0.5 * rng.standard_normal((u, G * u)), "b": 0.3 * rng.standard_normal(G * u),
              "dH": rng.standard_normal((m, steps, u))}
    if family == "gru":
        arrays["bh"] = 0.3 * rng.standard_normal(u)
    return {k: v.astype(dtype) for k, v in arrays.items()}


def run(family, arrays, activations, mode, last_only=False):
    """Forward outputs and backward outputs of one op, as a flat list of arrays."""
    forward, backward = getattr(ops, f"{family}_forward"), getattr(ops, f"{family}_backward")
    a = arrays
    inputs = (a["X"], a["U"], a["V"], a["b"]) + ((a["bh"],) if family == "gru" else ())
    caches = forward(*inputs, *activations, kernel_mode=mode)
    dH = a["dH"].copy()
    if last_only:  # sequences=False: only the last step receives a gradient
        dH[:, :-1, :] = 0
    grads = backward(dH, a["X"], a["U"], a["V"], *caches, *activations, kernel_mode=mode)
    return list(caches) + list(grads)


def activation_sets(family, seed):
    """Every supported activation at every position at least once, the rest shuffled."""
    rng = np.random.default_rng(seed)
    count = N_ACTIVATIONS[family]
    columns = [rng.permutation(SUPPORTED) for _ in range(count)]
    return [tuple(get_activation(columns[p][i]) for p in range(count)) for i in range(len(SUPPORTED))]


CASES = list(itertools.product(GATES, [(1, 4), (3, 1), (5, 6), (9, 3), (16, 5)]))


@pytest.mark.parametrize("family,shape", CASES, ids=[f"{f}-m{m}-T{T}" for f, (m, T) in CASES])
def test_numba_matches_reference_float64(family, shape, monkeypatch, cpu_path):
    m, steps = shape
    monkeypatch.setattr(kernels, "parallel_threshold", 8)  # m = 9 and 16 run the parallel variant
    for index, activations in enumerate(activation_sets(family, seed=m * 10 + steps)):
        arrays = problem(family, m, steps, n=3, u=5, dtype=np.float64, seed=index)
        last_only = index % 2 == 1
        expected = run(family, arrays, activations, "reference", last_only)
        actual = run(family, arrays, activations, "numba", last_only)
        names = [a.name for a in activations]
        for k, (a, e) in enumerate(zip(actual, expected)):
            assert a.shape == e.shape and a.dtype == e.dtype
            assert_close(a, e, rtol=1e-12, atol=0.0, what=f"{family} {names} output {k}")
    assert {path for _, path in taken()} == {cpu_path}, "another path ran than the one forced"


@pytest.mark.parametrize("family", GATES)
def test_numba_matches_reference_float32(family, cpu_path):
    for index, activations in enumerate(activation_sets(family, seed=7)):
        arrays = problem(family, 12, 7, n=4, u=6, dtype=np.float32, seed=index)
        expected = run(family, arrays, activations, "reference")
        actual = run(family, arrays, activations, "numba")
        for k, (a, e) in enumerate(zip(actual, expected)):
            assert a.dtype == np.float32, "float32 in, float32 out"
            assert_close(a, e, rtol=2e-5, atol=0.0, what=f"{family} output {k}")
    assert {path for _, path in taken()} == {cpu_path}


@pytest.mark.parametrize("family", GATES)
def test_a_first_layer_skips_dX_and_keeps_every_other_gradient(family, monkeypatch, cpu_path):
    """need_dX=False (a first layer): dX is None, and every other output of backward is
    the same, bit for bit, as with dX, on the reference and on the kernels (both
    variants: m = 9 runs the parallel one)."""
    monkeypatch.setattr(kernels, "parallel_threshold", 8)
    activations = tuple(get_activation("sigmoid" if k else "tanh") for k in range(N_ACTIVATIONS[family]))
    backward = getattr(ops, f"{family}_backward")
    for m, mode in itertools.product((3, 9), ("reference", "numba")):
        a = problem(family, m, 4, n=3, u=5, dtype=np.float64, seed=m)
        inputs = (a["X"], a["U"], a["V"], a["b"]) + ((a["bh"],) if family == "gru" else ())
        caches = getattr(ops, f"{family}_forward")(*inputs, *activations, kernel_mode=mode)
        full = [x.copy() for x in backward(a["dH"], a["X"], a["U"], a["V"], *caches, *activations, kernel_mode=mode)]
        first = backward(a["dH"], a["X"], a["U"], a["V"], *caches, *activations, need_dX=False, kernel_mode=mode)
        assert first[0] is None and full[0].shape == a["X"].shape, (family, mode)
        for k, (without, with_dX) in enumerate(zip(first[1:], full[1:]), start=1):
            np.testing.assert_array_equal(without, with_dX, err_msg=f"{family} {mode} m={m} output {k}")


@pytest.mark.parametrize("family", GATES)
def test_serial_and_parallel_variants_agree(family, monkeypatch):
    arrays = problem(family, 10, 4, n=3, u=4, dtype=np.float64, seed=3)
    activations = tuple(get_activation("sigmoid" if k else "tanh") for k in range(N_ACTIVATIONS[family]))
    results = []
    for threshold in (10**9, 1):  # serial, then parallel
        monkeypatch.setattr(kernels, "parallel_threshold", threshold)
        results.append(run(family, arrays, activations, "numba"))
    for k, (serial, parallel) in enumerate(zip(*results)):
        # the caches and dX: the same arithmetic, sample by sample; dU, dV, db...: sums
        # over the samples in the same fixed chunks (kernels/cpu/chunks.py), added in order
        np.testing.assert_array_equal(serial, parallel, err_msg=f"{family} output {k}")


@pytest.mark.parametrize("family", GATES)
def test_unsupported_activation_falls_back_to_the_reference(family, monkeypatch):
    activations = [get_activation("sigmoid")] * N_ACTIVATIONS[family]
    activations[0] = LReLU(0.1)  # not in RECURRENT_ACTIVATIONS: the kernels cannot do it
    assert kernels_for("numba", np.zeros(1), activations) is REFERENCE
    assert kernels_for("numba", np.zeros(1), [get_activation("tanh")]).whole_op

    def refuse(*args):
        raise AssertionError("the compiled kernel was called for an activation it does not support")

    for name in (f"{family}_forward", f"{family}_backward"):
        monkeypatch.setattr(kernels, name, refuse)
    arrays = problem(family, 3, 4, n=2, u=3, dtype=np.float64, seed=0)
    for actual, expected in zip(run(family, arrays, activations, "numba"),
                                run(family, arrays, activations, "reference")):
        np.testing.assert_array_equal(actual, expected)


def kernel_activation(code, z):
    """f(z) as the kernels compute it: an RNN step with U = I, V = 0 and b = 0 gives
    h = f(x) for every value of x."""
    n = z.size
    X = z.reshape(1, 1, n)
    U, V, b = np.eye(n, dtype=z.dtype), np.zeros((n, n), dtype=z.dtype), np.zeros(n, dtype=z.dtype)
    return kernels.rnn_forward(X, U, V, b, code)[0].ravel()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_sigmoid_and_tanh_value_by_value(dtype):
    """The kernels' exp-based sigmoid and tanh against exact values (mpmath), from tiny
    to huge inputs: a few ulp relative, except results under 1e-300 (float32: subnormal),
    which may be 0; NaN stays NaN."""
    mpmath = pytest.importorskip("mpmath")
    magnitudes = np.concatenate([[0.0, 1e-300, 1e-20, 1e-8, 0.17, 0.18, 0.35], np.geomspace(1e-3, 800, 200)])
    z = np.concatenate([magnitudes, -magnitudes]).astype(dtype)
    exact = {SIGMOID: lambda x: 1 / (1 + mpmath.exp(-x)), TANH: mpmath.tanh}
    eps = np.finfo(dtype).eps
    smallest = 1e-300 if dtype == np.float64 else np.finfo(dtype).tiny  # below: may be flushed to 0
    for code, function in exact.items():
        a = kernel_activation(code, z)
        reference = np.array([float(function(mpmath.mpf(float(x)))) for x in z])
        big = np.abs(reference) > smallest
        relative = np.abs(a[big] - reference[big]) / np.abs(reference[big])
        assert relative.max() <= 4 * eps, f"code {code}: worst relative error {relative.max() / eps:.1f} ulp"
        assert np.all(np.abs(a[~big]) <= smallest)
        assert np.isnan(kernel_activation(code, np.array([np.nan], dtype=dtype))[0]), "NaN in, NaN out"
