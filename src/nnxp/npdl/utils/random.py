"""NumpyDL's random and dtype settings (``npdl.utils.random``), mapped onto nnxp's.

NumpyDL keeps one package-level generator (``get_rng``/``set_rng``) and one dtype. Here:

- ``set_seed(seed)`` seeds NumPy's global generator (as NumpyDL does), makes the package
  generator ``RandomState(seed)`` and sets nnxp's default seed (``nnxp.set_seed``), so
  that a model compiled afterwards draws the weights an nnxp model compiled with the same
  seed draws, on every backend;
- ``set_rng(rng)``: a model compiled without a seed set draws its seed from ``rng``;
  a layer connected alone (``connect_to``) always does;
- ``get_dtype``/``set_dtype`` are the current nnxp backend's dtype (float32 by default).
"""

from __future__ import annotations

import numpy as np

from ... import backend as _backend
from ... import model as _model

_rng = np.random  # NumpyDL's default: NumPy's global generator


def get_rng():
    """The package-level generator: what ``set_rng`` set, else ``numpy.random``."""
    return _rng


def set_rng(rng) -> None:
    """Set the package-level generator (``numpy.random`` or a ``RandomState``)."""
    global _rng
    _rng = rng


def set_seed(seed) -> None:
    """Seed NumPy, the package generator and nnxp's default seed."""
    global _rng
    np.random.seed(seed)
    _rng = np.random.RandomState(seed)
    _model.set_seed(seed)


def get_dtype() -> str:
    """The dtype arrays are made in: the current backend's ('float32' unless set)."""
    return _backend.get_backend().dtype_name


def set_dtype(dtype) -> None:
    """Make ``dtype`` the current backend's dtype ('float32' or 'float64')."""
    _backend.set_dtype(dtype)


def draw_seed() -> int:
    """A seed for nnxp's per-layer generators, drawn from the package generator."""
    return int(_rng.randint(0, 2**31 - 1))


def model_seed():
    """The seed a compiled model uses: nnxp's default seed if one is set (``set_seed``),
    else one drawn from a generator given to ``set_rng``, else None (fresh weights)."""
    if _model.default_seed() is not None or _rng is np.random:
        return None
    return draw_seed()


__all__ = ["get_rng", "set_rng", "set_seed", "get_dtype", "set_dtype"]
