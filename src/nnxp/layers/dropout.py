"""Dropout: switch off a random share of the signal while training.

Each element is kept with probability q = 1 - drop_prob. Kept elements are scaled by
1 / q ("inverted dropout") so that the expected output equals the input, and at
evaluation and prediction the layer is the identity::

    training:    D ~ Bernoulli(q),   A = X * D / q,   dX = dA * D / q
    evaluation:  A = X,              dX = dA

``axis`` lists axes along which the mask is shared: for sequences (m, steps, features),
``axis=(1,)`` drops the same features at every step. The mask comes from a random
stream on the backend, seeded per layer.
"""

from __future__ import annotations

from .. import checks
from .base import Layer


class Dropout(Layer):
    def __init__(self, drop_prob: float = 0.5, axis=(), name=None, se_hPars=None):
        super().__init__(name, se_hPars)
        self.drop_prob = checks.finite_number("drop_prob", drop_prob, "Dropout", 0, 1, high_open=True)
        axes = (axis,) if checks.is_whole(axis) else axis
        self.axis = tuple(checks.positive_int("axis", a, "Dropout") for a in axes)  # never 0: the samples
        self.random = None  # the masks' random stream on the backend, made at first use

    def bind(self, backend, rng=None):
        # Moved to another backend (no new generator): the masks go on where they were.
        state = self.random.state if rng is None and self.random is not None else None
        super().bind(backend, rng)
        self.random = None  # the next mask is drawn on the new backend
        self._resume_stream(state)

    def _mask_stream(self):
        if self.random is None:  # seeded from the layer's generator: reproducible
            self.random = self.active_backend().random(int(self.rng.integers(2**31)))
        return self.random

    def _resume_stream(self, state) -> None:
        """Go on drawing masks from a saved ``state``, where the backend's stream can (the
        GPU's cannot: the next mask then comes from a fresh stream, seeded as ever)."""
        if state is not None:
            stream = self.active_backend().random(None)
            if stream.resume(state):
                self.random = stream

    def random_state(self) -> dict:
        return {**super().random_state(), "masks": None if self.random is None else self.random.state}

    def set_random_state(self, state: dict) -> None:
        super().set_random_state(state)
        self.random = None
        self._resume_stream(state.get("masks"))

    def forward(self, X):
        self.fc["X"] = X
        if not self.training or self.drop_prob == 0:
            self.fc["A"] = X
            return X
        if any(not 0 < a < X.ndim for a in self.axis):
            raise ValueError(f"{self.describe()}: axis {self.axis} must name axes 1..{X.ndim - 1} of {X.shape}")
        mask_shape = [1 if i in self.axis else s for i, s in enumerate(X.shape)]
        keep = 1 - self.drop_prob
        uniform = self._mask_stream().uniform(mask_shape, dtype=X.dtype)
        self.fc["D"] = self.xp(X).astype(uniform < keep, X.dtype) / keep
        self.fc["A"] = X * self.fc["D"]
        return self.fc["A"]

    def backward(self, dA):
        self.bc["dA"] = dA
        self.bc["dX"] = dA * self.fc["D"] if self.training and self.drop_prob > 0 else dA
        return self.bc["dX"]

