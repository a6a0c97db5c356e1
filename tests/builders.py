"""Small data sets and models shared by the model-level tests (fast: tens of samples)."""

from __future__ import annotations

import numpy as np

from nnxp import Model
from nnxp.layers import Dense, Embedding


def blobs(rng, m: int = 60, features: int = 4, classes: int = 3):
    """m points around `classes` random centres: (X (m, features), integer labels (m,))."""
    centres = rng.standard_normal((classes, features)) * 3
    labels = rng.integers(classes, size=m)
    return centres[labels] + rng.standard_normal((m, features)), labels


def classifier(X, labels, hidden: int = 6, activation: str = "tanh", batch_size=16, seed: int = 3,
               relative_size=(2, 1, 0), extra_layers=(), **embedding_options) -> Model:
    """Embedding (one-hot Y) -> Dense(hidden) -> [extra layers] -> Dense(classes, softmax)."""
    classes = len(np.unique(labels))
    embedding = Embedding(X, labels, Y_encode=True, batch_size=batch_size, seed=seed,
                          relative_size=relative_size, **embedding_options)
    return Model([embedding, Dense(hidden, activation), *extra_layers, Dense(classes, "softmax")])


def parameters(model) -> dict[str, np.ndarray]:
    """Every parameter of a model as host arrays, keyed 'layer index/name'."""
    from nnxp.backend import to_numpy

    return {f"{i}/{k}": to_numpy(v).copy() for i, layer in enumerate(model.layers) for k, v in layer.p.items()}
