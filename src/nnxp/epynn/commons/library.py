"""EpyNN's library (``epynn.commons.library``): the working folders, models on disk.

- ``configure_directory(clear=False)`` makes ``datasets/``, ``models/`` and ``plots/``
  in the working folder. ``clear=True`` deletes nothing: nnxp never removes a user's
  files (a warning says so; empty the folders yourself).
- ``write_model(model, model_path=None)`` is ``model.write(model_path)``;
  ``read_model(model_path=None)`` reads one back, by default the newest ``.npz`` in
  ``models/``, as an ``EpyNN`` model with EpyNN's layers. The file is nnxp's: a JSON config
  and the arrays, with checksums; reading it never runs code.
- ``read_pickle``/``write_pickle`` are refused: unpickling a file runs whatever code it
  holds. They raise, naming ``read_model``/``write_model``.
- ``read_file(f)``: a text file's content. ``settings_verification()`` writes a
  ``settings.py`` holding EpyNN's default ``se_hPars`` into the working folder when there
  is none (a workflow then imports it), and leaves an existing one alone.
"""

from __future__ import annotations

import glob
import os
import pprint
import warnings

from ... import io as _io
from .. import settings

FOLDERS = ("datasets", "models", "plots")


def configure_directory(clear=False) -> None:
    """Make datasets/, models/ and plots/ in the working folder (nothing is deleted)."""
    if clear:
        warnings.warn("configure_directory(clear=True): nnxp deletes no files; the folders are left as they are",
                      stacklevel=2)
    for folder in FOLDERS:
        os.makedirs(folder, exist_ok=True)


def write_model(model, model_path=None) -> str:
    """Write ``model`` (to models/<uname>.npz by default); returns the path."""
    return model.write(model_path)


def newest_model(folder: str = "models") -> str:
    """The most recently written model file of ``folder``."""
    files = glob.glob(os.path.join(folder, "*.npz"))
    if not files:
        raise FileNotFoundError(f"read_model(): no model file (*.npz) in {os.path.abspath(folder)}; "
                                f"write one with model.write(), or give its path")
    return max(files, key=os.path.getmtime)


def read_model(model_path=None):
    """The model written at ``model_path`` (default: the newest in models/), as EpyNN's."""
    from ..network.models import EpyNN

    path = newest_model() if model_path is None else os.fspath(model_path)
    return as_epynn(_io.read_model(path), EpyNN)


def as_epynn(model, model_class):
    """A model read with nnxp's loader, given EpyNN's classes back.

    The file names nnxp's layers (an EpyNN layer saves as the nnxp layer it maps onto),
    and an EpyNN class adds only names to its nnxp class, no state but the split of
    ``se_hPars`` into the model's and the layer's own: so each object takes its EpyNN
    class again, and the layer's saved se_hPars become its own."""
    from ..layers import FACADES

    model.__class__ = model_class
    model.stamp()
    for layer in model.layers:
        facade = FACADES.get(type(layer))
        if facade is not None:
            own = layer.__dict__.pop("se_hPars", {})
            layer.__class__ = facade
            layer.se_hPars, layer._model_se_hPars = own, dict(model.se_hPars)
    return model


def read_pickle(f):
    """Refused: nnxp never unpickles (a pickle runs code). Use read_model(path)."""
    raise NotImplementedError(f"read_pickle({f!r}): nnxp never unpickles a file (unpickling runs any code the file "
                              f"holds); use read_model(path) for a model written by model.write(), or numpy.load "
                              f"(allow_pickle=False) / json for data")


def write_pickle(f, data):
    """Refused: nnxp writes no pickles. Use model.write(path) (or write_model)."""
    raise NotImplementedError(f"write_pickle({f!r}, ...): nnxp writes no pickles; use model.write(path) or "
                              f"write_model(model, path) for a model (.npz: JSON and arrays), numpy.save or json "
                              f"for data")


def read_file(f) -> str:
    """The text of the file ``f``."""
    with open(f, encoding="utf-8") as stream:
        return stream.read()


def settings_verification() -> None:
    """A settings.py with EpyNN's default se_hPars in the working folder, if none is there."""
    if os.path.exists("settings.py"):
        return
    with open("settings.py", "w", encoding="utf-8") as stream:
        stream.write('"""Hyperparameters of this workflow (EpyNN\'s defaults, written by nnxp.epynn)."""\n\n')
        stream.write(f"se_hPars = {pprint.pformat(settings.se_hPars, sort_dicts=False)}\n")


__all__ = ["configure_directory", "write_model", "read_model", "read_pickle", "write_pickle", "read_file",
           "settings_verification"]
