"""Convolution and Pooling against PyTorch, over a generated grid of configurations.

Each configuration builds the nnxp layer on the backend under test (float64), copies its
weights into torch, and compares the forward output, dL/dX and every parameter gradient
for L = sum(A * R) with a random R, at relative error <= 1e-9 (max abs error divided
by the largest expected magnitude).

The grid covers filter sizes 1-5 (square and not), strides 1-3, every padding form
("valid", "same", int, (h, w) pair, ((top, bottom), (left, right))), odd image sizes,
1-4 channels, batch sizes 1 and 3, with and without bias; pools of 1-4 (square and not)
with strides smaller than, equal to and larger than the pool, in every mode, and max and
min pooling of images full of ties. Asymmetric
padding is emulated in torch with F.pad before the op; "same" with stride 1 uses torch's
own padding="same", with larger strides TensorFlow's rule written out here.
"""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest

from nnxp.backend import to_numpy
from nnxp.layers import Convolution, Pooling

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-9
IMAGES = [(7, 7), (5, 9), (9, 5), (11, 7), (7, 11)]  # odd sizes, square and not
ACTIVATIONS = {"identity": lambda z: z, "tanh": torch.tanh, "relu": torch.relu}


# --------------------------------------------------------------------------- the grids
def padding_forms(k: tuple[int, int], index: int):
    """Every padding form, with sizes that vary with the configuration index."""
    kh, kw = k
    ph, pw = index % kh, (index + 1) % kw  # each side < the window: valid for pooling too
    return ["valid", "same", index % min(kh, kw), (ph, pw), ((ph, (index + 2) % kh), ((index + 3) % kw, pw))]


def conv_configs() -> list[dict]:
    configs = []
    shapes = [(k, k) for k in range(1, 6)] + [(1, 3), (3, 2), (2, 5), (5, 4), (4, 1)]
    strides = [(1, 1), (2, 2), (3, 3), (1, 2), (3, 1)]
    for index, (k, s) in enumerate(itertools.product(shapes, strides)):
        for form, padding in enumerate(padding_forms(k, index)):
            if form not in (index % 5, (index + 2) % 5, (index + 4) % 5) and index >= 25:
                continue  # the square filters get every form, the others three of five
            n = len(configs)
            configs.append(dict(
                filter_size=k if k[0] != k[1] or n % 2 else k[0], strides=s if s[0] != s[1] or n % 3 else s[0],
                padding=padding, image=IMAGES[n % len(IMAGES)], channels=1 + n % 4, filters=1 + n % 3,
                batch=(1, 3)[n % 2], use_bias=n % 5 != 4, activation=("identity", "tanh", "relu")[n % 3]))
    return configs


def pool_configs() -> list[dict]:
    configs = []
    for size in [(1, 1), (2, 2), (3, 3), (4, 4), (2, 3), (3, 2)]:
        stride_choices = {(max(size[0] - 1, 1), max(size[1] - 1, 1)), size, (size[0] + 1, size[1] + 1), (1, 2)}
        for index, (s, mode) in enumerate(itertools.product(sorted(stride_choices), ("max", "mean", "min"))):
            forms = padding_forms(size, index)
            if size == (1, 1):
                forms = ["valid", "same"]  # a 1-pixel pool can take no padding
            for padding in forms:
                n = len(configs)
                configs.append(dict(pool_size=size if size[0] != size[1] or n % 2 else size[0],
                                    strides=s if n % 4 else None if s == size else s, padding=padding,
                                    mode=mode, image=IMAGES[n % len(IMAGES)], channels=1 + n % 4,
                                    batch=(1, 3)[n % 2]))
    # images of small integers: windows full of ties, where torch sends a max's gradient
    # to the first maximum (row-major), as nnxp does for max and min
    for size, s, padding, mode in itertools.product((2, 3), (1, 2), (0, 1), ("max", "min")):
        n = len(configs)
        configs.append(dict(pool_size=size, strides=s, padding=padding, mode=mode, image=IMAGES[n % len(IMAGES)],
                            channels=1 + n % 4, batch=(1, 3)[n % 2], ties=True))
    return configs


CONV_GRID, POOL_GRID = conv_configs(), pool_configs()
CHUNKS = 6


def chunks(grid):
    return [pytest.param(grid[i::CHUNKS], id=f"part{i}") for i in range(CHUNKS)]


# --------------------------------------------------------------------------- torch side
def pairs(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def tf_same(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding, written out independently of nnxp."""
    total = max((math.ceil(size / s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def torch_padding(padding, image, k, s):
    """(native padding argument for torch, or None; explicit (t, b, l, r) for F.pad, or None)."""
    if padding == "valid":
        return 0, None
    if padding == "same":
        if s == (1, 1):
            return "same", None
        (t, b), (l, r) = tf_same(image[0], k[0], s[0]), tf_same(image[1], k[1], s[1])
        return 0, (t, b, l, r)
    if isinstance(padding, int) or all(isinstance(p, int) for p in padding):
        return pairs(padding), None
    (t, b), (l, r) = padding
    return 0, (t, b, l, r)


def to_torch(images: np.ndarray):
    return torch.tensor(images).permute(0, 3, 1, 2).contiguous().requires_grad_()  # NHWC -> NCHW


def from_torch(tensor) -> np.ndarray:
    return tensor.detach().permute(0, 2, 3, 1).numpy()


def torch_conv(config, X, W, b, R):
    k, s = pairs(config["filter_size"]), pairs(config["strides"])
    native, explicit = torch_padding(config["padding"], config["image"], k, s)
    Xt = to_torch(X)
    Wt = torch.tensor(W).permute(3, 2, 0, 1).contiguous().requires_grad_()  # (kh, kw, C, F) -> (F, C, kh, kw)
    bt = None if b is None else torch.tensor(b).requires_grad_()
    inputs = Xt if explicit is None else F.pad(Xt, (explicit[2], explicit[3], explicit[0], explicit[1]))
    Z = F.conv2d(inputs, Wt, bt, stride=s, padding=native)
    A = ACTIVATIONS[config["activation"]](Z)
    (A * to_torch(R).detach()).sum().backward()
    grads = {"dW": Wt.grad.permute(2, 3, 1, 0).numpy()}
    if bt is not None:
        grads["db"] = bt.grad.numpy()
    return from_torch(A), from_torch(Xt.grad), grads


def torch_pool(config, X, R):
    k = pairs(config["pool_size"])
    s = k if config["strides"] is None else pairs(config["strides"])
    native, explicit = torch_padding(config["padding"], config["image"], k, s)
    if native == "same" or (native != 0 and any(p > kk // 2 for p, kk in zip(native, k))):
        # torch pools take no "same" and at most half the window: pad explicitly
        ph, pw = (0, 0) if native == "same" else native
        if native == "same":
            (t, b), (l, r) = tf_same(config["image"][0], k[0], s[0]), tf_same(config["image"][1], k[1], s[1])
        else:
            t, b, l, r = ph, ph, pw, pw
        native, explicit = 0, (t, b, l, r)
    Xt = to_torch(X)
    fill = {"max": -math.inf, "min": math.inf, "mean": 0.0}[config["mode"]]
    inputs = Xt if explicit is None else F.pad(Xt, (explicit[2], explicit[3], explicit[0], explicit[1]), value=fill)
    if config["mode"] == "max":
        A = F.max_pool2d(inputs, k, s, native)
    elif config["mode"] == "min":
        A = -F.max_pool2d(-inputs, k, s, native)
    else:
        A = F.avg_pool2d(inputs, k, s, native, count_include_pad=True)
    (A * to_torch(R).detach()).sum().backward()
    return from_torch(A), from_torch(Xt.grad)


# --------------------------------------------------------------------------- comparing
_counted: set[tuple[str, str]] = set()


def count_once(parity_log, family: str, key: str) -> None:
    """Each configuration is counted once, however many backends compare it."""
    if (family, key) not in _counted:
        _counted.add((family, key))
        parity_log.add(family)


def relative_error(actual, expected) -> float:
    expected = np.asarray(expected)
    if tuple(np.shape(actual)) != expected.shape:
        return math.inf
    return float(np.abs(to_numpy(actual) - expected).max(initial=0.0) / max(np.abs(expected).max(initial=0.0), 1e-300))


def run_grid(grid, compare, family, backend, parity_log):
    failures = []
    for config in grid:
        errors = compare(config, backend)
        bad = {what: f"{error:.2e}" for what, error in errors.items() if not error <= RTOL}
        if bad:
            failures.append(f"{config}: {bad}")
        count_once(parity_log, family, repr(config))
    assert not failures, f"{len(failures)} of {len(grid)} configurations differ from torch:\n" + "\n".join(failures)


def compare_conv(config, backend):
    rng = np.random.default_rng(zlib.crc32(repr(config).encode()))
    X = rng.standard_normal((config["batch"], *config["image"], config["channels"]))
    layer = Convolution(config["filters"], config["filter_size"], config["strides"], config["padding"],
                        activation=config["activation"], use_bias=config["use_bias"])
    layer.initialize(backend.asarray(X), seed=1)
    if config["use_bias"]:  # zeros at initialization: give the bias values worth comparing
        layer.p["b"] = backend.asarray(rng.standard_normal(config["filters"]))
    A = layer.forward(backend.asarray(X))
    R = rng.standard_normal(tuple(A.shape))
    dX = layer.backward(backend.asarray(R))
    layer.compute_gradients()
    b = to_numpy(layer.p["b"]) if config["use_bias"] else None
    A_t, dX_t, grads_t = torch_conv(config, X, to_numpy(layer.p["W"]), b, R)
    errors = {"A": relative_error(A, A_t), "dX": relative_error(dX, dX_t)}
    errors.update({name: relative_error(layer.g[name], value) for name, value in grads_t.items()})
    if set(layer.g) != set(grads_t):
        errors["gradient names"] = math.inf
    return errors


def compare_pool(config, backend):
    rng = np.random.default_rng(zlib.crc32(repr(config).encode()))
    X = rng.standard_normal((config["batch"], *config["image"], config["channels"]))
    if config.get("ties"):
        X = np.round(X)
    layer = Pooling(config["pool_size"], config["strides"], config["padding"], config["mode"])
    layer.initialize(backend.asarray(X))
    A = layer.forward(backend.asarray(X))
    R = rng.standard_normal(tuple(A.shape))
    dX = layer.backward(backend.asarray(R))
    A_t, dX_t = torch_pool(config, X, R)
    return {"A": relative_error(A, A_t), "dX": relative_error(dX, dX_t)}


# --------------------------------------------------------------------------- the tests
def test_the_grids_cover_what_the_issue_asks():
    assert len(CONV_GRID) + len(POOL_GRID) >= 200
    sizes = {k for c in CONV_GRID for k in pairs(c["filter_size"])}
    strides = {s for c in CONV_GRID for s in pairs(c["strides"])}
    kinds = {type(c["padding"]).__name__ + (c["padding"] if isinstance(c["padding"], str) else "") for c in CONV_GRID}
    assert sizes == {1, 2, 3, 4, 5} and strides == {1, 2, 3}
    assert kinds == {"strvalid", "strsame", "int", "tuple"} and any(
        isinstance(c["padding"], tuple) and isinstance(c["padding"][0], tuple) for c in CONV_GRID)
    assert {c["channels"] for c in CONV_GRID} == {1, 2, 3, 4} and {c["batch"] for c in CONV_GRID} == {1, 3}
    relations = set()
    for c in POOL_GRID:
        k, s = pairs(c["pool_size"]), pairs(c["strides"] or c["pool_size"])
        relations |= {(ss > kk) - (ss < kk) for kk, ss in zip(k, s)}
    assert relations == {-1, 0, 1}  # stride smaller than, equal to and larger than the pool
    assert {c["mode"] for c in POOL_GRID} == {"max", "mean", "min"}


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own note on its copy
@pytest.mark.parametrize("grid", chunks(CONV_GRID))
def test_convolution_matches_torch(backend, grid, parity_log):
    run_grid(grid, compare_conv, "conv", backend, parity_log)


@pytest.mark.torch
@pytest.mark.parametrize("grid", chunks(POOL_GRID))
def test_pooling_matches_torch(backend, grid, parity_log):
    run_grid(grid, compare_pool, "pool", backend, parity_log)


# Winograd's CPU kernel (kernels/cpu/conv_winograd.py) is chosen by its rule at 32 channels
# and 64 filters of 3x3: layers that wide, with the numba kernels, against torch.
WINOGRAD_GRID = [dict(batch=3, image=(9, 8), channels=32, filters=64, filter_size=3, strides=1, padding="same",
                      activation="relu", use_bias=True),
                 dict(batch=2, image=(7, 7), channels=32, filters=64, filter_size=3, strides=1, padding="valid",
                      activation="tanh", use_bias=False)]


@pytest.mark.torch
def test_winograd_convolution_matches_torch(parity_log):
    pytest.importorskip("numba")
    import nnxp
    from nnxp.kernels.cpu import paths

    with nnxp.use_backend("cpu", dtype="float64", kernels="numba") as backend:
        paths.taken()  # forget the ops before this test
        run_grid(WINOGRAD_GRID, compare_conv, "conv", backend, parity_log)
        assert {path for _, path in paths.taken()} == {"winograd"}
