"""nnxp: read how a network learns, and see what a GPU changes.

The public names, nothing else. Start with ``nnxp.Model`` and ``nnxp.layers``; the
module docstrings carry the maths (``help(nnxp.layers.Dense)``).
"""

from .backend import (
    Backend,
    BackendUnavailable,
    available_backends,
    get_backend,
    set_backend,
    set_dtype,
    to_numpy,
    use_backend,
)
from .threads import set_num_threads, thread_info
from .data import DataError, one_hot, unhot
from .extras import MissingExtra
from .io import ModelFileError, read_model
from .layers import ShapeError
from .model import DivergenceWarning, History, Model, NotInitialized, Prediction, set_seed
from . import activations, initializers, layers, losses, metrics, optimizers, schedules

__version__ = "0.1.0"

__all__ = [
    "Backend", "BackendUnavailable", "available_backends", "get_backend", "set_backend", "use_backend",
    "set_dtype", "set_num_threads", "thread_info",
    "to_numpy", "DataError", "MissingExtra", "one_hot", "unhot", "ModelFileError", "read_model", "ShapeError",
    "DivergenceWarning", "History", "Model", "NotInitialized", "Prediction", "set_seed",
    "activations", "initializers", "layers", "losses", "metrics", "optimizers", "schedules",
]
