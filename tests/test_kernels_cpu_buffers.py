"""The CPU kernels' recycled arrays (``nnxp.kernels.cpu.buffers``): an array comes back
only when nothing else holds it, so a cache keeps its numbers while it is in use."""

from __future__ import annotations

import numpy as np
import pytest

buffers = pytest.importorskip("nnxp.kernels.cpu.buffers")

LARGE = (512, 1024)  # 2 MB of float32: over MIN_BYTES


def test_an_array_comes_back_only_when_nothing_holds_it():
    first = buffers.empty(LARGE, np.float32)
    second = buffers.empty(LARGE, np.float32)
    assert first is not second  # both in use
    address = id(first)
    view = first[:, 3]  # a view holds its base
    del first
    assert id(buffers.empty(LARGE, np.float32)) != address
    del view
    again = buffers.empty(LARGE, np.float32)
    assert id(again) == address, "a free array is handed out again"
    assert buffers.empty(LARGE, np.float64).dtype == np.float64  # another key, another array
    zeros = buffers.zeros((300, 1024), np.float32)
    zeros[:] = 7
    del zeros
    assert not buffers.zeros((300, 1024), np.float32).any()


def test_small_arrays_are_not_pooled_and_the_pool_is_bounded(monkeypatch):
    buffers.release()
    small = buffers.empty((10, 10), np.float64)
    assert small.shape == (10, 10) and buffers.held() == 0
    monkeypatch.setattr(buffers, "MAX_BYTES", 5 * 2**20)
    for rows in range(256, 256 + 40 * 8, 8):  # 40 shapes of ~1-2 MB, each freed at once
        buffers.empty((rows, 1024), np.float32)
    assert buffers.held() <= 5 * 2**20 + 2 * 2**20
    buffers.release()
    assert buffers.held() == 0


def test_a_layer_keeps_its_caches_while_the_next_batch_runs():
    """An LSTM of 256 units (large arrays, the BLAS kernels): the caches of one forward,
    held by the caller, are not overwritten by the next forward on other data."""
    pytest.importorskip("numba")
    import nnxp
    from nnxp.layers import LSTM

    rng = np.random.default_rng(0)
    with nnxp.use_backend("cpu", dtype="float32", kernels="numba"):
        layer = LSTM(256, sequences=True)
        X = rng.standard_normal((64, 20, 8)).astype(np.float32)
        layer.initialize(X, seed=0)
        layer.forward(X)
        kept = {key: value for key, value in layer.fc.items()}
        copies = {key: np.array(value) for key, value in kept.items()}
        for _ in range(3):
            layer.forward(X[::-1].copy())
        for key, value in kept.items():
            np.testing.assert_array_equal(value, copies[key], err_msg=f"fc[{key!r}] was overwritten")
