"""Dropout, Flatten and Template: gradients against finite differences (Dropout with its
mask held fixed), and what each does in training and in evaluation."""

import numpy as np
import pytest

from gradcheck import check_layer_gradients
import nnxp
from nnxp.backend import to_numpy
from nnxp.layers import Dropout, Flatten, ShapeError, Template


def fixed_mask(layer, seed=11):
    """Reset the layer's random stream so that every forward draws the same mask."""
    def reset():
        layer.random = layer.active_backend().random(seed)
    return reset


@pytest.mark.parametrize("axis", [(), (1,)], ids=["elementwise", "shared-over-steps"])
def test_dropout_gradients_with_a_fixed_mask(array_backend, axis, rng):
    layer = Dropout(0.4, axis=axis)
    X = rng.standard_normal((6, 3, 5))
    check_layer_gradients(layer, X, before_forward=fixed_mask(layer))
    D = to_numpy(layer.fc["D"])
    assert set(np.unique(D).tolist()) == {0.0, 1 / 0.6}  # kept elements scaled by 1 / q
    if axis:
        assert D.shape == (6, 1, 5)  # one mask for every step


def test_dropout_keeps_the_expected_share_and_is_identity_in_evaluation(array_backend, rng):
    layer = Dropout(0.25)
    X = array_backend.asarray(np.ones((200, 50)))
    layer.initialize(X, seed=3)
    A = to_numpy(layer.forward(X))
    assert np.mean(A > 0) == pytest.approx(0.75, abs=0.01)
    assert A.mean() == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the expectation
    second = to_numpy(layer.forward(X))
    assert not np.array_equal(A, second)  # a new mask each step
    dA = array_backend.asarray(rng.standard_normal((200, 50)))
    np.testing.assert_array_equal(to_numpy(layer.backward(dA)), to_numpy(dA) * second)
    layer.training = False
    assert np.array_equal(to_numpy(layer.forward(X)), to_numpy(X))
    assert np.array_equal(to_numpy(layer.backward(dA)), to_numpy(dA))


def test_dropout_masks_are_seeded_and_the_same_on_every_backend(rng):
    X = rng.standard_normal((8, 6))
    masks = []
    for name in ("cpu", "strict", "cpu"):
        with nnxp.use_backend(name, dtype="float64") as backend:
            layer = Dropout(0.5)
            layer.initialize(backend.asarray(X), seed=9)
            masks.append(to_numpy(layer.forward(backend.asarray(X))).copy())
    assert np.array_equal(masks[0], masks[1]) and np.array_equal(masks[0], masks[2])


def test_dropout_resumes_its_masks_where_the_stream_can_and_seeds_afresh_where_it_cannot(rng):
    """The mask stream answers whether a saved state can be restored (``resume``): on the
    host it can, and the masks go on where they were; the GPU's stream (CuPy's, whose
    state cannot be read out) cannot, and the layer seeds a fresh stream from its own
    generator at the next mask, as it did before it ever drew one."""
    from nnxp.backend import GpuBackend

    X = nnxp.get_backend().asarray(rng.standard_normal((8, 6)))
    layer = Dropout(0.5).initialize(X, seed=3)
    layer.forward(X)
    saved = layer.random_state()
    expected = to_numpy(layer.forward(X)).copy()
    layer.set_random_state(saved)
    assert np.array_equal(to_numpy(layer.forward(X)), expected)  # resumed: the same next mask

    gpu = GpuBackend("gpu", "float64", "numba")  # its stream is made without touching a GPU
    stream = gpu.random(1)
    assert stream.state is None and stream.resume(saved["masks"]) is False
    layer.backend = gpu
    layer.set_random_state(saved)
    assert layer.random is None  # the next mask seeds a stream from the layer's generator


def test_dropout_options_are_checked():
    with pytest.raises(ValueError, match="Dropout: drop_prob must be a finite number in \\[0, 1\\), got 1.0"):
        Dropout(1.0)
    layer = Dropout(0.5, axis=(2,))
    X = nnxp.get_backend().asarray(np.ones((2, 3)))
    layer.initialize(X, seed=0)
    with pytest.raises(ValueError, match="axis \\(2,\\) must name axes 1..1"):
        layer.forward(X)


def test_flatten_and_template_gradients(array_backend, rng):
    X = rng.standard_normal((3, 2, 4, 2))
    flatten = Flatten()
    check_layer_gradients(flatten, X)
    assert tuple(flatten.fc["A"].shape) == (3, 16)
    template = Template()
    check_layer_gradients(template, X)
    assert template.d == {"m": 3, "n": 16} and template.fs["X"] == (3, 2, 4, 2)  # n = size of X over m
    with pytest.raises(ShapeError, match=r"Flatten layer expects input of shape \(m, 2, 4, 2\), got \(3, 4, 4\)"):
        flatten.forward(array_backend.asarray(np.zeros((3, 4, 4))))
