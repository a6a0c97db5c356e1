"""Small offline datasets for the demo, the examples, the tests and the benchmarks.

Nothing here downloads anything. ``digits`` reads the 1797 8x8 handwritten digits that
ship inside scikit-learn; the ``synthetic_*`` functions generate learnable data from a
seed, the same on every machine (they define the benchmark workloads of
``shared/BENCHMARKS.md``).
"""

from __future__ import annotations

import numpy as np


def digits(shape: str = "flat"):
    """The scikit-learn digits, scaled to [0, 1]; returns (X, labels).

    ``shape``: ``"flat"`` gives X of shape (1797, 64), ``"image"`` (1797, 8, 8, 1) and
    ``"rows"`` (1797, 8, 8): a sequence of 8 rows of 8 pixels, for recurrent layers.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("the digits come with scikit-learn: pip install 'nnxp[examples]'") from None
    data = load_digits()
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
