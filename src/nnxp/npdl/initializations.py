"""NumpyDL's initializers (``npdl.initializations``), each one nnxp initializer underneath.

NumpyDL calls an initializer with a size and gets an array::

    GlorotUniform()((50, 100))     weights for 50 inputs and 100 outputs

The fans come from the size as NumpyDL reads it: (fan_in, fan_out) for two axes; for a
convolution's (filters, channels, kh, kw), fan_in = channels * kh * kw and fan_out =
filters * kh * kw; otherwise both are the square root of the size. The numbers are drawn
from the package generator (``npdl.utils.get_rng``) by nnxp's initializer ``.core``, in
the current dtype. A layer given one of these (or its name) draws with ``.core`` and the
layer's own seeded generator, as every nnxp layer does.

Defaults are NumpyDL's: ``Uniform(scale=0.05)`` is U(-0.05, 0.05), ``Normal(std=0.01)``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import initializers as _core
from ..facades import takes
from .utils.random import get_dtype, get_rng


class Initializer:
    """Base class: ``core`` is the nnxp initializer that draws."""

    core: _core.Initializer = _core.Zeros()

    def __call__(self, size):
        size = (size,) if isinstance(size, int) else tuple(size)
        fan_in, fan_out = decompose_size(size)
        return self.core(size, get_rng(), fan_in, fan_out).astype(get_dtype())

    def to_json(self) -> dict:
        return self.core.get_config()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def decompose_size(size) -> tuple[float, float]:
    """(fan_in, fan_out) from a size, as NumpyDL reads it (see the module)."""
    if len(size) == 2:
        return size[0], size[1]
    if len(size) >= 3:
        receptive = int(np.prod(size[2:]))
        return size[1] * receptive, size[0] * receptive
    root = math.sqrt(int(np.prod(size)))
    return root, root


def _scaling(name: str) -> _core.Initializer:
    return _core.get_initializer(name)


class Zero(Initializer):
    def __init__(self):
        self.core = _core.Zeros()


class One(Initializer):
    def __init__(self):
        self.core = _core.Ones()


class Uniform(Initializer):
    """U(-scale, scale)."""

    @takes({"low": "scale", "high": "scale"}, nnxp=_core.Uniform)
    def __init__(self, scale=0.05):
        self.scale = scale
        self.core = _core.Uniform(-scale, scale)


class Normal(Initializer):
    """N(mean, std^2)."""

    @takes(nnxp=_core.Normal)
    def __init__(self, std=0.01, mean=0.0):
        self.std, self.mean = std, mean
        self.core = _core.Normal(mean, std)


class LecunUniform(Initializer):
    """U(-l, l), l = sqrt(3 / fan_in)."""

    def __init__(self):
        self.core = _scaling("lecun_uniform")


class GlorotUniform(Initializer):
    """U(-l, l), l = sqrt(6 / (fan_in + fan_out))."""

    def __init__(self):
        self.core = _scaling("glorot_uniform")


class GlorotNormal(Initializer):
    """N(0, 2 / (fan_in + fan_out))."""

    def __init__(self):
        self.core = _scaling("glorot_normal")


class HeNormal(Initializer):
    """N(0, 2 / fan_in)."""

    def __init__(self):
        self.core = _scaling("he_normal")


class HeUniform(Initializer):
    """U(-l, l), l = sqrt(6 / fan_in)."""

    def __init__(self):
        self.core = _scaling("he_uniform")


class Orthogonal(Initializer):
    """An orthogonal matrix times ``gain``."""

    @takes(nnxp=_core.Orthogonal)
    def __init__(self, gain=1.0):
        self.gain = gain
        self.core = _core.Orthogonal(gain)


_BY_NAME = {
    "zero": Zero, "one": One, "uniform": Uniform, "normal": Normal, "lecun_uniform": LecunUniform,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
    "he_uniform": HeUniform, "orthogonal": Orthogonal,
}


def get(initialization) -> Initializer:
    """An initializer from its name ('glorot_uniform'), a class or an object."""
    if isinstance(initialization, Initializer):
        return initialization
    if isinstance(initialization, type) and issubclass(initialization, Initializer):
        return initialization()
    if isinstance(initialization, str) and initialization.lower() in _BY_NAME:
        return _BY_NAME[initialization.lower()]()
    raise ValueError(f"npdl.initializations.get: unknown initializer {initialization!r}; "
                     f"expected one of {sorted(_BY_NAME)} or an npdl.initializations.Initializer")


__all__ = ["Initializer", "Zero", "One", "Uniform", "Normal", "LecunUniform", "GlorotUniform", "GlorotNormal",
           "HeNormal", "HeUniform", "Orthogonal", "get"]
