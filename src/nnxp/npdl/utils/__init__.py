"""NumpyDL's utilities (``npdl.utils``): one-hot encoding, the random generator, the dtype."""

from . import data, random
from .data import one_hot, unhot
from .random import get_dtype, get_rng, set_dtype, set_rng, set_seed

__all__ = ["data", "random", "one_hot", "unhot", "get_rng", "set_rng", "set_seed", "get_dtype", "set_dtype"]
