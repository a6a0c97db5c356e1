"""Weight initializers, drawn on the host from a seeded NumPy Generator.

Drawing on the host and then copying to the device is what makes a classroom
comparison fair: one seed gives bit-identical starting weights on every backend.

The variance-scaling rules keep the size of the signal steady through the layers.
With fan_in inputs and fan_out outputs per unit (for a convolution both include the
filter area, kh * kw * channels)::

    name             distribution   scale
    glorot / xavier  uniform        limit = sqrt(6 / (fan_in + fan_out))
                     normal         std   = sqrt(2 / (fan_in + fan_out))
    he               uniform        limit = sqrt(6 / fan_in)
                     normal         std   = sqrt(2 / fan_in)
    lecun            uniform        limit = sqrt(3 / fan_in)
                     normal         std   = sqrt(1 / fan_in)

``orthogonal`` gives a matrix whose columns (or rows) are orthonormal: the default for
recurrent weights, whose repeated products then neither explode nor vanish at first.
"""

from __future__ import annotations

import math

import numpy as np


class Initializer:
    """``init(shape, rng, fan_in, fan_out)`` returns a float64 NumPy array."""

    name = "initializer"

    def __call__(self, shape, rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict:
        return {}

    def get_config(self) -> dict:
        return {"name": self.name, **self.params()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    name = "zeros"

    def __call__(self, shape, rng, fan_in, fan_out):
        return np.zeros(shape)


class Ones(Initializer):
    name = "ones"

    def __call__(self, shape, rng, fan_in, fan_out):
        return np.ones(shape)


class Uniform(Initializer):
    name = "uniform"

    def __init__(self, low: float = -0.05, high: float = 0.05):
        self.low, self.high = float(low), float(high)

    def params(self):
        return {"low": self.low, "high": self.high}

    def __call__(self, shape, rng, fan_in, fan_out):
        return rng.uniform(self.low, self.high, size=shape)


class Normal(Initializer):
    name = "normal"

    def __init__(self, mean: float = 0.0, std: float = 0.05):
        self.mean, self.std = float(mean), float(std)

    def params(self):
        return {"mean": self.mean, "std": self.std}

    def __call__(self, shape, rng, fan_in, fan_out):
        return rng.normal(self.mean, self.std, size=shape)


class VarianceScaling(Initializer):
    """Variance = scale / n, where n is fan_in, fan_out or their mean (see the table above)."""

    def __init__(self, scale: float, mode: str, distribution: str, name: str):
        self.scale, self.mode, self.distribution, self.name = scale, mode, distribution, name

    def __call__(self, shape, rng, fan_in, fan_out):
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(n, 1)
        if self.distribution == "uniform":
            limit = math.sqrt(3 * variance)  # a uniform on [-l, l] has variance l^2 / 3
            return rng.uniform(-limit, limit, size=shape)
        return rng.normal(0.0, math.sqrt(variance), size=shape)


class Orthogonal(Initializer):
    """An orthogonal matrix (times ``gain``), from the QR factorisation of a Gaussian one.

    The signs of R's diagonal are moved into Q so that the result is uniformly
    distributed over orthogonal matrices. Shapes of more than two axes are treated as
    (product of all but the last, last).
    """

    name = "orthogonal"

    def __init__(self, gain: float = 1.0):
        self.gain = float(gain)

    def params(self):
        return {"gain": self.gain}

    def __call__(self, shape, rng, fan_in, fan_out):
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        gaussian = rng.normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(gaussian)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)


def _scaling(name, scale, mode, distribution):
    return lambda: VarianceScaling(scale, mode, distribution, name)


INITIALIZERS = {
    "zeros": Zeros,
    "ones": Ones,
    "uniform": Uniform,
    "normal": Normal,
    "orthogonal": Orthogonal,
    "glorot_uniform": _scaling("glorot_uniform", 1.0, "fan_avg", "uniform"),
    "glorot_normal": _scaling("glorot_normal", 1.0, "fan_avg", "normal"),
    "he_uniform": _scaling("he_uniform", 2.0, "fan_in", "uniform"),
    "he_normal": _scaling("he_normal", 2.0, "fan_in", "normal"),
    "lecun_uniform": _scaling("lecun_uniform", 1.0, "fan_in", "uniform"),
    "lecun_normal": _scaling("lecun_normal", 1.0, "fan_in", "normal"),
}
_ALIASES = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal", "zero": "zeros", "one": "ones"}


def get_initializer(spec) -> Initializer:
    """An Initializer from a name (``"he_normal"``), a config dict or an object."""
    if isinstance(spec, Initializer):
        return spec
    params = {}
    if isinstance(spec, dict):
        params = dict(spec)
        spec = params.pop("name")
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key not in INITIALIZERS:
            raise ValueError(f"unknown initializer {spec!r}; expected one of {sorted(INITIALIZERS)}")
        return INITIALIZERS[key](**params)
    raise TypeError(f"an initializer is a name or an Initializer, not {type(spec).__name__}")


__all__ = ["Initializer", "get_initializer", "Zeros", "Ones", "Uniform", "Normal", "Orthogonal", "VarianceScaling"]
