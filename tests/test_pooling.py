"""Pooling: finite differences, ties, padding in the mean, repeated backward and errors."""

import numpy as np
import pytest

from gradcheck import check_layer_gradients
from nnxp.backend import to_numpy
from nnxp.layers import Pooling, ShapeError

MODES = ["max", "mean", "min"]


def distinct(rng, shape):
    """Values 0.05 apart in random order: no window holds a near-tie, so finite
    differences never cross from one extreme to another."""
    return rng.permutation(np.arange(np.prod(shape)) * 0.05).reshape(shape)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("options", [
    dict(pool_size=3, strides=1, padding=1),  # overlapping windows, padded
    dict(pool_size=(2, 3), strides=(3, 2), padding=((1, 0), (0, 2))),  # stride > pool in height, asymmetric
    dict(pool_size=2, padding="same"),
], ids=["overlap", "asymmetric", "same"])
def test_pooling_gradients(backend, mode, options, rng):
    check_layer_gradients(Pooling(mode=mode, **options), distinct(rng, (2, 7, 5, 3)))


@pytest.mark.parametrize("mode", MODES)
def test_two_backward_calls_give_the_same_result(backend, mode, rng):
    layer = Pooling(3, strides=2, padding=1, mode=mode)
    X = backend.asarray(rng.integers(0, 3, (2, 7, 7, 2)) * 1.0)  # many ties
    layer.initialize(X)
    dA = backend.asarray(rng.standard_normal(tuple(layer.forward(X).shape)))
    first = to_numpy(layer.backward(dA)).copy()
    np.testing.assert_array_equal(to_numpy(layer.backward(dA)), first)


# --------------------------------------------------------------------------- ties
def first_extreme_gradient(X, dA, k, s, extreme):
    """The rule written out window by window: dA goes to the first extreme (row-major)."""
    dX = np.zeros_like(X)
    for n in range(X.shape[0]):
        for y in range(dA.shape[1]):
            for x in range(dA.shape[2]):
                for c in range(X.shape[3]):
                    window = X[n, y * s:y * s + k, x * s:x * s + k, c]
                    i, j = np.unravel_index(np.flatnonzero(window == extreme(window))[0], window.shape)
                    dX[n, y * s + i, x * s + j, c] += dA[n, y, x, c]
    return dX


@pytest.mark.parametrize("mode, extreme", [("max", np.max), ("min", np.min)])
def test_ties_send_the_gradient_to_the_first_extreme(backend, mode, extreme, rng):
    # a flat image: every window is one big tie, so each sends all to its top-left pixel
    flat = np.ones((1, 4, 4, 1))
    layer = Pooling(2, strides=1, mode=mode)
    layer.initialize(backend.asarray(flat))
    layer.forward(backend.asarray(flat))
    dA = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    expected = np.zeros((1, 4, 4, 1))
    expected[0, :3, :3, 0] = dA[0, :, :, 0]
    np.testing.assert_array_equal(to_numpy(layer.backward(backend.asarray(dA))), expected)

    # one window by hand: the extreme appears at (0, 1) and (1, 0); (0, 1) comes first
    window = np.array([[1.0, 3.0], [3.0, 2.0]]) if mode == "max" else np.array([[3.0, 1.0], [1.0, 2.0]])
    X = window.reshape(1, 2, 2, 1)
    layer = Pooling(2, mode=mode)
    layer.initialize(backend.asarray(X))
    layer.forward(backend.asarray(X))
    dX = to_numpy(layer.backward(backend.asarray(np.full((1, 1, 1, 1), 5.0))))
    np.testing.assert_array_equal(dX[0, :, :, 0], [[0.0, 5.0], [0.0, 0.0]])

    # many ties with overlapping windows against the rule written out
    X = rng.integers(0, 3, (2, 7, 6, 2)) * 1.0
    layer = Pooling(3, strides=2, mode=mode)
    layer.initialize(backend.asarray(X))
    A = to_numpy(layer.forward(backend.asarray(X)))
    dA = rng.standard_normal(A.shape)
    np.testing.assert_allclose(to_numpy(layer.backward(backend.asarray(dA))),
                               first_extreme_gradient(X, dA, 3, 2, extreme), rtol=1e-14, atol=1e-15)


def test_mean_counts_the_padded_zeros(backend):
    X = np.ones((1, 3, 3, 1))
    layer = Pooling(2, strides=2, padding=1, mode="mean")
    layer.initialize(backend.asarray(X))
    A = to_numpy(layer.forward(backend.asarray(X)))[0, :, :, 0]
    # windows over the padded 5x5 image: the corner holds 1 pixel, the edges 2, the centre 4
    np.testing.assert_allclose(A, [[0.25, 0.5], [0.5, 1.0]])
    dX = to_numpy(layer.backward(backend.asarray(np.ones((1, 2, 2, 1)))))[0, :, :, 0]
    np.testing.assert_allclose(dX, np.full((3, 3), 0.25))


def test_max_ignores_the_padding_even_for_negative_images(backend):
    X = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    layer = Pooling(2, strides=2, padding=1, mode="max")
    layer.initialize(backend.asarray(X))
    np.testing.assert_array_equal(to_numpy(layer.forward(backend.asarray(X)))[0, :, :, 0], [[-1, -2], [-4, -5]])


# --------------------------------------------------------------------------- errors
def test_shape_errors_name_the_layer_and_the_shapes(array_backend, rng):
    layer = Pooling(3, name="pool1")
    layer.initialize(array_backend.asarray(rng.standard_normal((1, 6, 6, 2))))
    with pytest.raises(ShapeError, match=r"pool1.*\(m, height, width, channels\).*\(6, 6\)"):
        layer.forward(array_backend.asarray(rng.standard_normal((6, 6))))
    with pytest.raises(ShapeError, match=r"pool1.*2 channels.*\(2, 6, 6, 1\)"):
        layer.forward(array_backend.asarray(rng.standard_normal((2, 6, 6, 1))))
    with pytest.raises(ShapeError, match=r"pool \(4, 4\).*padded image \(3, 5\)"):
        Pooling(4).initialize(array_backend.asarray(rng.standard_normal((1, 3, 5, 1))))


@pytest.mark.parametrize("options, message", [
    (dict(mode="median"), "mode must be one of"),
    (dict(pool_size=0), "pool_size must be a whole number >= 1, got 0"),
    (dict(strides=(1, 0)), "strides must be a whole number >= 1, got 0"),
    (dict(pool_size=2, padding=2), "smaller than the pool"),
    (dict(padding="full"), "padding must be 'valid', 'same'"),
])
def test_bad_options_raise_value_errors(options, message):
    with pytest.raises(ValueError, match=message) as error:
        Pooling(**options)
    assert str(error.value).startswith("Pooling:")


def test_strides_default_to_the_pool_size():
    assert Pooling((2, 3)).strides == (2, 3) and Pooling(2, strides=1).strides == (1, 1)
