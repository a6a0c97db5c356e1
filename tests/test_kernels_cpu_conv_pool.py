"""The Numba CPU kernels of convolution and pooling against the array-API reference.

Each op is called twice with the same NumPy arrays, kernel_mode="numba" and "reference":
float64 results agree to 1e-12 relative, float32 results to float32 precision. The
grids cover strides, every padding form, odd sizes, channel counts, ties in max and
min pooling, and the first-layer shortcut (need_dX=False). Convolution runs on each
of its CPU kernels (``conv_cpu_path``: the direct loops, im2col + BLAS in chunks of one
sample, and for 3x3 filters at stride 1 Winograd's), with and without the activation
applied by the kernel (ReLU, identity; tanh is applied after it).
"""

import itertools

import numpy as np
import pytest

from nnxp.backend import numba_available
from nnxp.activations import get_activation
from nnxp.ops.conv import conv2d_activation_backward, conv2d_activation_forward, conv2d_backward, conv2d_forward
from nnxp.ops.pool import MODES, pool2d_backward, pool2d_forward

pytestmark = pytest.mark.skipif(not numba_available(), reason="numba is not installed")


def taken():
    from nnxp.kernels.cpu.paths import taken

    return taken()

TOLERANCE = {np.float64: 1e-12, np.float32: 2e-5}


def relative_error(actual, expected) -> float:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    return float(np.abs(actual - expected).max(initial=0) / max(np.abs(expected).max(initial=0), 1e-30))


def conv_grid():
    paddings = [((0, 0), (0, 0)), ((1, 1), (1, 1)), ((2, 0), (1, 3)), ((0, 1), (2, 2))]
    for index, (k, s, padding) in enumerate(itertools.product([(1, 1), (3, 3), (2, 5), (5, 4)], [(1, 1), (2, 3), (3, 1)],
                                                               paddings)):
        yield dict(filters=(k, s, padding), batch=1 + 2 * (index % 2), image=((7, 9), (9, 7), (11, 5))[index % 3],
                   channels=1 + index % 4, F=1 + index % 5, bias=index % 3 != 0)


def pool_grid():
    paddings = [((0, 0), (0, 0)), ((1, 0), (0, 1)), ((1, 1), (1, 1))]
    for index, (k, s, padding, mode) in enumerate(itertools.product([(2, 2), (3, 3), (2, 3)], [(1, 1), (2, 2), (3, 2), (4, 4)],
                                                                     paddings, MODES)):
        yield dict(window=(k, s, padding), mode=mode, batch=1 + 2 * (index % 2), image=((7, 9), (9, 7))[index % 2],
                   channels=(1, 2, 8, 16)[index % 4], ties=index % 3 == 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_conv_kernels_match_the_reference(dtype, rng, conv_cpu_path):
    failures, count, ran = [], 0, set()
    taken()  # forget the ops before this test
    for index, config in enumerate(conv_grid()):
        k, s, padding = config["filters"]
        X = rng.standard_normal((config["batch"], *config["image"], config["channels"])).astype(dtype)
        W = rng.standard_normal((*k, config["channels"], config["F"])).astype(dtype)
        b = rng.standard_normal(config["F"]).astype(dtype) if config["bias"] else None
        Z = {mode: conv2d_forward(X, W, b, s, padding, kernel_mode=mode) for mode in ("numba", "reference")}
        dZ = rng.standard_normal(Z["reference"].shape).astype(dtype)
        grads = {mode: conv2d_backward(dZ, X, W, s, padding, kernel_mode=mode) for mode in ("numba", "reference")}
        first_layer = conv2d_backward(dZ, X, W, s, padding, need_dX=False, kernel_mode="numba")
        errors = {"Z": relative_error(Z["numba"], Z["reference"])}
        errors.update({name: relative_error(a, r) for name, a, r in zip(("dX", "dW", "db"), grads["numba"], grads["reference"])})
        errors["dW without dX"] = relative_error(first_layer[1], grads["reference"][1])
        if first_layer[0] is not None or grads["reference"][0] is None:
            errors["need_dX"] = np.inf
        activation = get_activation(("relu", "identity", "tanh")[index % 3])
        need_dX = index % 4 != 3
        forward = {mode: conv2d_activation_forward(X, W, b, s, padding, activation, kernel_mode=mode)
                   for mode in ("numba", "reference")}
        backward = {mode: conv2d_activation_backward(dZ, *forward[mode], X, W, s, padding, activation, need_dX,
                                                     kernel_mode=mode) for mode in ("numba", "reference")}
        outputs = ("Z", "A", "dX", "dW", "db", "dZ")
        for name, a, r in zip(outputs, forward["numba"] + backward["numba"], forward["reference"] + backward["reference"]):
            errors[f"{activation.name} {name}"] = 0.0 if a is None and r is None else relative_error(a, r)
        bad = {name: f"{e:.1e}" for name, e in errors.items() if not e <= TOLERANCE[dtype]}
        if bad:
            failures.append(f"{config}: {bad}")
        count += 1
        ran.update(path for _, path in taken())  # taken() keeps the last 64 ops: asked per config
    assert count >= 40 and not failures, "\n".join(failures)
    if conv_cpu_path == "winograd":  # the grid's 3x3 filters at stride 1 on it, the others on BLAS
        assert ran == {"winograd", "blas"}, ran
    else:
        assert ran == {conv_cpu_path}, "another path ran than the one forced"


WINOGRAD_SHAPES = [  # (m, H, W, C, F, padding): odd and even outputs, channels for the SIMD loops, chunks
    (4, 9, 8, 32, 64, ((1, 1), (1, 1))), (3, 6, 7, 16, 8, ((0, 0), (0, 0))), (5, 5, 5, 3, 32, ((2, 1), (0, 2))),
    (2, 1, 1, 2, 3, ((1, 1), (1, 1)))]


@pytest.mark.parametrize("tile", [2, 4], ids=["F(2x2)", "F(4x4)"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shape", WINOGRAD_SHAPES, ids=lambda s: "x".join(map(str, s[:5])))
def test_winograd_matches_the_reference_with_wide_channels_and_several_chunks(dtype, shape, tile, rng, monkeypatch):
    """Winograd's kernel (kernels/cpu/conv_winograd.py), with either tile size, at the
    channel counts its rule sends there and at sizes that are no multiple of the tile (a
    row or column of tiles partly outside the output), in chunks of one and of two
    samples: Z, A, dZ, dX, dW and db as the reference gives them, and a first layer's dW
    without dX."""
    from nnxp.kernels.cpu import conv_winograd, paths

    m, H, W_, C, F, padding = shape
    monkeypatch.setitem(conv_winograd.TILE, np.dtype(dtype).name, tile)
    X = rng.standard_normal((m, H, W_, C)).astype(dtype)
    W = (rng.standard_normal((3, 3, C, F)) / np.sqrt(9 * C)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    relu = get_activation("relu")
    reference = conv2d_activation_forward(X, W, b, (1, 1), padding, relu, kernel_mode="reference")
    dA = rng.standard_normal(reference[0].shape).astype(dtype)
    expected = reference + conv2d_activation_backward(dA, *reference, X, W, (1, 1), padding, relu, True,
                                                      kernel_mode="reference")
    (_, oh, ow, _), positions = reference[0].shape, (tile + 2) ** 2
    tiles = -(-oh // tile) * -(-ow // tile)
    for chunk_bytes in (1, positions * tiles * max(C, F) * X.itemsize * 2):  # one sample a chunk; two
        monkeypatch.setattr(conv_winograd, "CHUNK_BYTES", chunk_bytes)
        with paths.forced("winograd"):
            forward = conv2d_activation_forward(X, W, b, (1, 1), padding, relu, kernel_mode="numba")
            got = forward + conv2d_activation_backward(dA, *forward, X, W, (1, 1), padding, relu, True,
                                                       kernel_mode="numba")
            first_layer = conv2d_backward(got[5], X, W, (1, 1), padding, need_dX=False, kernel_mode="numba")
            assert {path for _, path in taken()} == {"winograd"}
        errors = {name: relative_error(a, r) for name, a, r in zip(("Z", "A", "dX", "dW", "db", "dZ"), got, expected)}
        errors["dW without dX"] = relative_error(first_layer[1], expected[3])
        assert first_layer[0] is None
        assert max(errors.values()) <= TOLERANCE[dtype], (chunk_bytes, errors)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_pool_kernels_match_the_reference(dtype, rng):
    failures, count = [], 0
    for config in pool_grid():
        k, s, padding = config["window"]
        X = rng.standard_normal((config["batch"], *config["image"], config["channels"]))
        X = (np.round(X) if config["ties"] else X).astype(dtype)
        A = {mode: pool2d_forward(X, k, s, padding, config["mode"], kernel_mode=mode) for mode in ("numba", "reference")}
        dA = rng.standard_normal(A["reference"].shape).astype(dtype)
        dX = {mode: pool2d_backward(dA, X, k, s, padding, config["mode"], kernel_mode=mode) for mode in ("numba", "reference")}
        # given the forward's output, the kernel finds max / min pixels by equality (8+ channels)
        dX_from_A = pool2d_backward(dA, X, k, s, padding, config["mode"], kernel_mode="numba", A=A["numba"])
        errors = {"A": relative_error(A["numba"], A["reference"]), "dX": relative_error(dX["numba"], dX["reference"]),
                  "dX from A": relative_error(dX_from_A, dX["reference"])}
        bad = {name: f"{e:.1e}" for name, e in errors.items() if not e <= TOLERANCE[dtype]}
        if bad:
            failures.append(f"{config}: {bad}")
        count += 1
    assert count >= 100 and not failures, "\n".join(failures)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_pooling_over_tiling_windows_matches_the_reference(dtype, rng):
    """Windows that tile the image: 2x2 ones through the kernels that write each pixel
    once (window by window under 8 channels, pixel by pixel from 16),
    and 3x2 ones through the others. The backward equals the reference bit for bit, with
    ties (the first equal pixel wins), images that whole windows do not cover (their rows
    and columns get 0), min pooling, and a NaN in a window (its first pixel gets dA, as
    the other paths); each 2x2 kernel also writes into NaNs: every pixel is written."""
    from nnxp.kernels.cpu import pool

    kernels = {"tiles": pool.pool_backward_tiles, "2x2": pool.pool_backward_2x2}
    ran = set()
    for size, image, channels, mode in itertools.product(
            [(2, 2), (3, 2)], [(8, 8), (7, 9)], [1, 6, pool.LANES, pool.TILE_LANES, 32], ["max", "min"]):
        X = np.round(rng.standard_normal((2, *image, channels)) * 2).astype(dtype)  # many ties
        no_padding = ((0, 0), (0, 0))
        kernel = pool.backward_kernel(channels, size, size, no_padding)
        assert (kernel in kernels) == (size == (2, 2) and channels != pool.LANES), kernel
        A = pool2d_forward(X, size, size, no_padding, mode, kernel_mode="numba")
        dA = rng.standard_normal(A.shape).astype(dtype)
        reference = pool2d_backward(dA, X, size, size, no_padding, mode, kernel_mode="reference")
        tiled = pool2d_backward(dA, X, size, size, no_padding, mode, kernel_mode="numba", A=A)
        np.testing.assert_array_equal(tiled, reference, err_msg=f"{size} {image} {channels} {mode}")
        if kernel in kernels:
            written = np.full(X.shape, np.nan, dtype)
            kernels[kernel](dA, X, A, written)
            np.testing.assert_array_equal(written, reference, err_msg=f"{image} {channels} {mode} into NaNs")
            ran.add(kernel)
    assert ran == set(kernels)
    for channels in (6, pool.TILE_LANES):  # the window-by-window and the pixel-by-pixel kernels
        X = rng.standard_normal((1, 5, 4, channels)).astype(dtype)
        X[0, 1, 1, 3] = np.nan  # the last pixel of window (0, 0), channel 3
        A = pool.pool2d_forward(X, (2, 2), (2, 2), ((0, 0), (0, 0)), "max")
        dA = np.ones(A.shape, dtype)
        tiled = pool.pool2d_backward(dA, X, (2, 2), (2, 2), ((0, 0), (0, 0)), "max", A=A).copy()
        other = pool.buffers.zeros(X.shape, dtype)
        pool.pool_backward_from_output(dA, X, A, 2, 2, 2, 2, 0, 0, other)
        np.testing.assert_array_equal(tiled, other)
        assert tiled.sum() == A.size  # every window sent its dA somewhere, once


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_pooling_forward_over_2x2_tiles_is_the_general_loops_bit_for_bit(dtype, rng):
    """The 2x2 forward kernel gives the general loops' A exactly, for max and min, with
    ties, an odd image (its last row and column in no window) and NaNs anywhere in a
    window (never kept by either, first tap included)."""
    from nnxp.kernels.cpu import pool

    for channels, mode in itertools.product([1, 6, pool.LANES, 32], ["max", "min"]):
        X = np.round(rng.standard_normal((3, 7, 9, channels)) * 2).astype(dtype)
        X[0, 0, 0, 0] = X[1, 3, 5, channels - 1] = X[2, 2:4, 2:4, 0] = np.nan  # a first tap, a last, a whole window
        sign = X.dtype.type(-1 if mode == "min" else 1)
        fast, loops = (np.full((3, 3, 4, channels), 7.0, dtype) for _ in range(2))
        pool.pool_forward_2x2(X, sign, fast)
        pool.pool_forward_loops(X, 2, 2, 2, 2, 0, 0, pool.MODE_CODES[mode], loops)
        np.testing.assert_array_equal(fast, loops, err_msg=f"{channels} {mode}")
        np.testing.assert_array_equal(pool.pool2d_forward(X, (2, 2), (2, 2), ((0, 0), (0, 0)), mode), loops)


def test_kernels_are_cached_on_disk():
    from numba.core.caching import FunctionCache

    from nnxp.kernels.cpu import conv, pool

    for kernel in (conv.conv_forward_taps, conv.conv_backward_taps, conv.load_flat,
                   pool.pool_forward_loops, pool.pool_backward_loops, pool.pool_backward_from_output,
                   pool.pool_backward_tiles, pool.pool_backward_2x2, pool.pool_forward_2x2):
        assert isinstance(kernel._cache, FunctionCache), f"{kernel.__name__} is not cached"


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_transforms_compute_the_correlation_and_their_tables_hold_every_term(tile, rng):
    """F(m, 3)'s matrices: A^T [(G g) * (B^T d)] is the correlation of the m + 2 inputs d
    with the 3 taps g, in 1-D and nested in 2-D; and the kernels' term tables rebuild
    each matrix (no nonzero term left out by the padding to TERMS)."""
    from nnxp.kernels.cpu import conv_winograd

    BT, G, AT = conv_winograd.TRANSFORMS[tile]
    d, g = rng.standard_normal(tile + 2), rng.standard_normal(3)
    np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), [d[i:i + 3] @ g for i in range(tile)], rtol=0, atol=1e-13)
    D, K = rng.standard_normal((tile + 2, tile + 2)), rng.standard_normal((3, 3))
    direct = [[(D[i:i + 3, j:j + 3] * K).sum() for j in range(tile)] for i in range(tile)]
    np.testing.assert_allclose(AT @ ((G @ K @ G.T) * (BT @ D @ BT.T)) @ AT.T, direct, rtol=0, atol=1e-12)
    tables = conv_winograd.tables(tile, "float64")
    for matrix, columns, coefs in zip((BT, AT, AT.T, BT.T), tables[0::2], tables[1::2]):
        rebuilt = np.zeros_like(matrix)
        for r in range(matrix.shape[0]):
            np.add.at(rebuilt[r], columns[r], coefs[r])
        np.testing.assert_array_equal(rebuilt, matrix)


def test_winograd_refuses_what_it_does_not_compute():
    """Called directly with filters or strides it cannot take, Winograd's kernel says so
    (the rule never sends them: forced, they go to BLAS, test above)."""
    from nnxp.kernels.cpu import conv_winograd

    X = np.zeros((1, 6, 6, 2))
    with pytest.raises(ValueError, match=r"3x3 filters at stride \(1, 1\) only, got \(5, 5\)"):
        conv_winograd.conv2d_forward(X, np.zeros((5, 5, 2, 3)), None, (1, 1), ((0, 0), (0, 0)))
    with pytest.raises(ValueError, match=r"at stride \(2, 2\)"):
        conv_winograd.conv2d_backward(np.zeros((1, 2, 2, 3)), X, np.zeros((3, 3, 2, 3)), (2, 2), ((0, 0), (0, 0)))


def test_a_path_that_does_not_exist_is_refused_with_the_three_named(monkeypatch):
    """NNXP_CPU_PATH (and ``forced``, for tests) take direct, blas or winograd; anything else
    is an error that names the variable, the choices and the value."""
    from nnxp.kernels.cpu import paths

    with pytest.raises(ValueError, match=r"path must be one of \('direct', 'blas', 'winograd'\) or None, got 'fast'"):
        with paths.forced("fast"):
            pass
    monkeypatch.setenv("NNXP_CPU_PATH", "fast")
    with pytest.raises(ValueError, match=r"NNXP_CPU_PATH must be one of \('direct', 'blas', 'winograd'\) or unset, "
                                         r"got 'fast'"):
        paths.conv_path((1, 6, 6, 32), (3, 3, 32, 64), "float32")
    monkeypatch.setenv("NNXP_CPU_PATH", "winograd")  # forced: 3x3 at stride 1 by Winograd, the rest on BLAS
    assert paths.conv_path((1, 6, 6, 1), (3, 3, 1, 2), "float32") == "winograd"
    assert paths.conv_path((1, 6, 6, 1), (3, 3, 1, 2), "float32", (2, 2)) == "blas"
    assert paths.conv_path((1, 6, 6, 1), (5, 5, 1, 2), "float64") == "blas"
    assert paths.recurrent_path(4, 8, 4, "float32") == "blas"
