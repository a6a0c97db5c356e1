"""Small offline datasets for the demo, the examples, the tests and the benchmarks.

Nothing here downloads anything. ``digits`` reads the 1797 8x8 handwritten digits that
ship inside scikit-learn; the ``synthetic_*`` functions generate learnable data from a
seed, the same on every machine (they define the benchmark workloads of
``shared/BENCHMARKS.md``).

``read_idx`` reads the IDX format in which MNIST is distributed (and ``write_idx`` writes
it). An IDX file is a header, then the numbers, all big-endian::

    bytes 0-1   0x00 0x00                      the magic number starts with two zeros,
    byte  2     the type code                  0x08 uint8, 0x09 int8, 0x0B int16,
                                               0x0C int32, 0x0D float32, 0x0E float64
    byte  3     the number of dimensions n     3 for images (count, rows, columns),
                                               1 for labels
    then        n sizes, 4 bytes each          e.g. 60000, 28, 28
    then        the values, row by row         prod(sizes) of them

so ``train-images-idx3-ubyte`` starts with 0x00000803: unsigned bytes, 3 dimensions. The
files are often kept gzip-compressed (``.gz``); ``read_idx`` opens both.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from .data import DataError
from .extras import require


def digits(shape: str = "flat"):
    """The scikit-learn digits, scaled to [0, 1]; returns (X, labels).

    ``shape``: ``"flat"`` gives X of shape (1797, 64), ``"image"`` (1797, 8, 8, 1) and
    ``"rows"`` (1797, 8, 8): a sequence of 8 rows of 8 pixels, for recurrent layers.
    """
    data = require("sklearn.datasets", "examples", "for the digits (they ship with it)").load_digits()
    X = data.data / 16.0
    reshape = {"flat": (-1, 64), "image": (-1, 8, 8, 1), "rows": (-1, 8, 8)}
    if shape not in reshape:
        raise ValueError(f"digits: shape must be one of {sorted(reshape)}, got {shape!r}")
    return X.reshape(reshape[shape]), data.target


def synthetic_images(n: int = 1024, size: int = 28, channels: int = 1, classes: int = 10, seed: int = 0):
    """n images (n, size, size, channels) in [0, 1] and their labels (n,).

    Each class has a smooth random template (a sum of a few Gaussian blobs); an image
    is its class template, shifted by up to 2 pixels, plus noise. A small CNN learns it.
    """
    rng = np.random.default_rng(seed)
    grid = np.arange(size)
    templates = np.zeros((classes, size, size, channels))
    for c in range(classes):
        for _ in range(3):
            cy, cx = rng.uniform(4, size - 4, size=2)
            width = rng.uniform(1.5, size / 6)
            blob = np.exp(-((grid[:, None] - cy) ** 2 + (grid[None, :] - cx) ** 2) / (2 * width**2))
            templates[c] += blob[:, :, None] * rng.uniform(0.5, 1.0, size=channels)
    labels = rng.integers(classes, size=n)
    shifts = rng.integers(-2, 3, size=(n, 2))
    images = np.empty((n, size, size, channels))
    for i, (label, (dy, dx)) in enumerate(zip(labels, shifts)):
        images[i] = np.roll(templates[label], (dy, dx), axis=(0, 1))
    images += rng.normal(0, 0.15, size=images.shape)
    return np.clip(images, 0, None) / max(images.max(), 1e-12), labels


def synthetic_sequences(n: int = 1024, steps: int = 20, features: int = 8, classes: int = 2, seed: int = 0):
    """n sequences (n, steps, features) and labels (n,): which of ``classes`` hidden
    oscillators drives them. Each class has its own frequency and feature mixing; the
    phase is random, so the class must be read from how the signal moves in time."""
    rng = np.random.default_rng(seed)
    frequencies = np.linspace(0.15, 0.45, classes)
    mixing = rng.normal(size=(classes, 2, features))
    labels = rng.integers(classes, size=n)
    t = np.arange(steps)[None, :]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    angle = 2 * np.pi * frequencies[labels][:, None] * t + phase
    waves = np.stack([np.sin(angle), np.cos(angle)], axis=-1)  # (n, steps, 2)
    X = np.einsum("nsk,nkf->nsf", waves, mixing[labels]) + rng.normal(0, 0.3, size=(n, steps, features))
    return X, labels


# --------------------------------------------------------------------------- IDX files

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"


class IDXFormatError(DataError):
    """A file is not a well-formed IDX file (the message says what is wrong and where)."""


def read_idx(path) -> np.ndarray:
    """The array held in an IDX file (gzip-compressed or not), in its own dtype and shape.

    Raises IDXFormatError, naming the file, for a bad magic number, an unknown type code,
    or a file shorter or longer than its header announces (a truncated download).
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        raw = file.read()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise IDXFormatError(f"{path}: a damaged gzip file ({error})") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise IDXFormatError(f"{path}: not an IDX file (its first bytes are {raw[:4].hex() or 'missing'}; "
                             f"an IDX file starts with 0000, its type code and its number of dimensions)")
    code, ndim = raw[2], raw[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise IDXFormatError(f"{path}: unknown IDX type code 0x{code:02X} (expected one of {known})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXFormatError(f"{path}: truncated in its header: {ndim} dimensions need {header} bytes, "
                             f"the file has {len(raw)}")
    shape = tuple(int(size) for size in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[code])
    expected = header + dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise IDXFormatError(f"{path}: {what}: shape {shape} of {dtype.name} needs {expected} bytes, "
                             f"the file has {len(raw)}")
    values = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def write_idx(path, array) -> str:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in .gz); returns the path."""
    array = np.asarray(array)
    codes = {np.dtype(t).newbyteorder("="): code for code, t in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise IDXFormatError(f"write_idx: IDX holds {', '.join(np.dtype(t).name for t in IDX_TYPES.values())}, "
                             f"not {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.astype(IDX_TYPES[code]).tobytes()
    path = os.fspath(path)
    with open(path, "wb") as file:
        file.write(gzip.compress(data) if path.endswith(".gz") else data)
    return path
