"""Saving and loading models: one ``.npz`` file, never pickle.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) holding::

    __config__          the model as JSON (UTF-8 bytes): layers and their settings,
                        shapes, random-generator states, loss, metrics, optimizer,
                        hyperparameters, history, and a SHA-256 checksum of every array
    __digest__          the SHA-256 of __config__ itself
    p/<layer>/<name>    each parameter, e.g. p/1/W
    opt/<key>/<slot>    each optimizer state array, e.g. opt/1/W/m

Loading reads arrays with ``allow_pickle=False`` and builds layers only from the
classes in ``nnxp.layers``: a model file cannot run code. Any change to the file after
it was written (a truncated download, an edited number) fails a checksum and raises a
``ModelFileError`` that says what does not match. Writing goes to a temporary file
that is renamed over the target at the end, so a crash never leaves half a model.

A model saved on one backend loads on any other: arrays are stored on the host.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile

import numpy as np

from .backend import resolve, to_numpy

FORMAT, VERSION = "nnxp-model", 1


class ModelFileError(ValueError):
    """A model file cannot be read: missing, truncated, edited, or not an nnxp model."""


def _sha256(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write_model(model, path) -> str:
    """Write ``model`` to ``path`` atomically; returns the path."""
    model._require("write")
    arrays = {}
    for index, layer in enumerate(model.layers):
        for name, value in layer.p.items():
            arrays[f"p/{index}/{name}"] = to_numpy(value)
    for key, slots in model.optimizer.state.items():
        for slot, value in slots.items():
            arrays[f"opt/{key}/{slot}"] = to_numpy(value)
    config = {
        "format": FORMAT,
        "version": VERSION,
        "name": model.name,
        "backend": {"name": model.backend.name, "dtype": model.backend.dtype_name, "kernels": model.backend.kernels},
        "layers": [_layer_entry(layer) for layer in model.layers],
        "loss": model.loss.get_config(),
        "metrics": [metric.name for metric in model.metrics],
        "optimizer": {**model.optimizer.get_config(), "t": model.optimizer.t},
        "se_hPars": model.se_hPars,
        "seed": model.seed,
        "epoch": model.epoch,
        "history": model.history.history,
        "checksums": {key: _sha256(value) for key, value in arrays.items()},
    }
    config_bytes = json.dumps(config, indent=1).encode()
    arrays["__config__"] = np.frombuffer(config_bytes, dtype=np.uint8)
    arrays["__digest__"] = np.frombuffer(hashlib.sha256(config_bytes).hexdigest().encode(), dtype=np.uint8)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".nnxp-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def _layer_entry(layer) -> dict:
    shapes = {"d": layer.d, "fs": {k: list(v) for k, v in layer.fs.items()},
              "bs": {k: list(v) for k, v in layer.bs.items()}, "random": layer.random_state()}
    return {"class": layer.config_class().__name__, "config": layer.get_config(), "state": _plain(shapes)}


def _plain(value):
    """JSON-ready copies of the small dicts of dimensions (NumPy ints become ints)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------- reading


def read_model(path, backend=None, dtype=None):
    """Load a model written by ``Model.write``, onto ``backend`` (default: the current
    one) in ``dtype`` (default: the dtype it was saved in)."""
    from .layers import LAYERS, Embedding
    from .losses import get_loss
    from .metrics import get_metric
    from .model import History, Model
    from .optimizers import get_optimizer

    arrays, config = _open(path)
    target = resolve(backend, dtype or config["backend"]["dtype"])
    model = Model(name=config["name"])
    for index, entry in enumerate(config["layers"]):
        cls = LAYERS.get(entry["class"])
        if cls is None:
            raise ModelFileError(f"{path}: layer {index} has unknown class {entry['class']!r}")
        try:
            layer = cls.from_config(entry["config"]) if cls is Embedding else cls(**entry["config"])
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"{path}: layer {index} ({entry['class']}) has a bad config: {error}") from None
        layer.d = entry["state"]["d"]
        layer.fs = {k: tuple(v) for k, v in entry["state"]["fs"].items()}
        layer.bs = {k: tuple(v) for k, v in entry["state"]["bs"].items()}
        prefix = f"p/{index}/"
        layer.p = {key[len(prefix):]: target.asarray(value) for key, value in arrays.items() if key.startswith(prefix)}
        model.layers.append(layer)
    model.loss = get_loss(config["loss"])
    model.metrics = []
    for name in config["metrics"]:
        try:
            model.metrics.append(get_metric(name))
        except ValueError:
            warnings.warn(f"{path}: custom metric {name!r} cannot be restored; it is left out", stacklevel=2)
    optimizer_config = dict(config["optimizer"])
    steps = optimizer_config.pop("t")
    model.optimizer = get_optimizer(optimizer_config)
    model.optimizer.t = steps
    for key, value in arrays.items():
        if key.startswith("opt/"):
            parameter_key, slot = key[4:].rsplit("/", 1)
            model.optimizer.state.setdefault(parameter_key, {})[slot] = target.asarray(value)
    model.se_hPars, model.seed, model.epoch = config["se_hPars"], config["seed"], config["epoch"]
    model.history = History(config["history"])
    model.backend, model.initialized = target, True
    for layer, seed, entry in zip(model.layers, np.random.SeedSequence(model.seed).spawn(len(model.layers)),
                                  config["layers"]):
        layer.backend, layer.rng = target, np.random.default_rng(seed)
        if entry["state"].get("random") is not None:  # where the batch order and masks stood
            layer.set_random_state(entry["state"]["random"])
    return model


def _open(path):
    """The arrays and the config of a model file, each checked against its checksum."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path}")
    try:
        # Our own handle: np.load leaves its file open when the zip cannot be parsed.
        with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError) as error:
        raise ModelFileError(f"{path} is not a readable nnxp model file (truncated or damaged?): {error}") from None
    if "__config__" not in arrays or "__digest__" not in arrays:
        raise ModelFileError(f"{path} is an .npz file but not an nnxp model (no __config__)")
    config_bytes = arrays.pop("__config__").tobytes()
    digest = arrays.pop("__digest__").tobytes().decode(errors="replace")
    if hashlib.sha256(config_bytes).hexdigest() != digest:
        raise ModelFileError(f"{path}: the model config was changed after it was written (checksum mismatch)")
    try:
        config = json.loads(config_bytes)
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: the model config is not valid JSON: {error}") from None
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise ModelFileError(f"{path}: not an nnxp model file of version {VERSION} "
                             f"(format {config.get('format')!r}, version {config.get('version')!r})")
    expected = config["checksums"]
    if set(expected) != set(arrays):
        missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
        raise ModelFileError(f"{path}: arrays do not match the config (missing {missing}, unexpected {extra})")
    for key, value in arrays.items():
        if _sha256(value) != expected[key]:
            raise ModelFileError(f"{path}: array {key} was changed after it was written (checksum mismatch)")
    return arrays, config
