"""Writing a model to its file: the config, the arrays and their checksums, atomically.

The file (``nnxp.io`` describes the format, and the reader that trusts nothing in it)
is a NumPy ``.npz`` archive: the model's settings as JSON in ``__config__``, the
SHA-256 of that JSON in ``__digest__``, and every parameter and optimizer state array
on the host, each with its checksum in the config. Never pickle: a file holds numbers,
strings, lists and dicts, and ``plain`` refuses anything else, naming the setting.

Writing goes to a temporary file in the target's folder, renamed over the target at
the end, so that a crash never leaves half a model (see ``_write_atomically``).

``Model.write`` calls ``write_model`` here; the reader, ``nnxp.io.read_model``, builds
a Model. So this module sits below ``nnxp.model`` and the reader above it, and no two
of the three import each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import stat
import time

import numpy as np

from .backend import to_numpy

FORMAT, VERSION = "nnxp-model", 1
MAX_CONFIG_BYTES = 32 * 2**20  # far above any real model's (a few kilobytes to a megabyte of history)
CONFIG, DIGEST = "__config__", "__digest__"


def checksum(array: np.ndarray) -> str:
    """The SHA-256 of an array's dtype, shape and bytes, as the config keeps it."""
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write_model(model, path) -> str:
    """Write ``model`` to ``path`` atomically; returns the path (``~`` expanded).

    As a plain write would: a new file gets the permissions 0666 less the umask, an
    overwritten one keeps its own; through a symbolic link the link's target is
    written. The folder must exist (an error names it otherwise).
    """
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
        "backend": {"name": model.backend.name, "dtype": model.backend.dtype_name, "kernels": model.backend.kernel_mode},
        "layers": [_layer_entry(index, layer) for index, layer in enumerate(model.layers)],
        "loss": model.loss.get_config(),
        "metrics": [metric.name for metric in model.metrics],
        "optimizer": {**model.optimizer.get_config(), "t": model.optimizer.t},
        "se_hPars": model.se_hPars,
        "seed": model.seed,
        "epoch": model.epoch,
        "history": model.history.history,
        "checksums": {key: checksum(value) for key, value in arrays.items()},
    }
    config_bytes = json.dumps(plain(config, "the model"), indent=1).encode()
    if len(config_bytes) > MAX_CONFIG_BYTES:
        raise ValueError(f"the model's settings take {len(config_bytes)} bytes as JSON, more than a model file "
                         f"may hold ({MAX_CONFIG_BYTES}): is a large array among the settings?")
    arrays[CONFIG] = np.frombuffer(config_bytes, dtype=np.uint8)
    arrays[DIGEST] = np.frombuffer(hashlib.sha256(config_bytes).hexdigest().encode(), dtype=np.uint8)
    path = os.path.expanduser(os.fspath(path))
    _write_atomically(os.path.realpath(path), path, lambda stream: np.savez(stream, **arrays))
    return path


def _layer_entry(index: int, layer) -> dict:
    shapes = {"d": layer.d, "fs": {k: list(v) for k, v in layer.fs.items()},
              "bs": {k: list(v) for k, v in layer.bs.items()}, "random": layer.random_state()}
    where = f"layer {index} ({type(layer).__name__})"
    return {"class": layer.config_class().__name__, "config": plain(layer.get_config(), f"{where} setting"),
            "state": plain(shapes, f"{where} state")}


def plain(value, where: str):
    """A JSON-ready copy of ``value``: NumPy scalars become Python numbers (and NumPy
    arrays lists), tuples lists; anything else JSON cannot hold is an error that names
    the setting (``where``)."""
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            if isinstance(key, np.generic):
                key = key.item()
            if not isinstance(key, str):
                raise TypeError(f"cannot save {where}: its key {key!r} is not a string")
            copy[key] = plain(item, f"{where}[{key!r}]")
        return copy
    if isinstance(value, (list, tuple)):
        return [plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), where)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save {where} = {value!r}: a model file holds numbers, strings, lists and dicts "
                    f"(as JSON), not {type(value).__name__}")


# --------------------------------------------------------------------------- the atomic write

# A temporary file is named after its target, this machine and the writing process:
# ".<target>.nnxp-<host>-<pid>-<random>.tmp". A write killed midway leaves one behind,
# so each write first removes those of its folder whose writer is surely gone:
# * same machine and a process id that no longer runs: that write has ended;
# * or not modified for STALE_AFTER seconds: a live write adds to its file without
#   pause (a few seconds even for a large model), so an hour of silence means its
#   writer is gone, on another machine of a shared folder too, or its process id was
#   reused. (A writer frozen for that long would find its file gone and fail, leaving
#   the old model in place.)
# Only names of that form are touched, and the ".nnxp-XXXXXXXX.tmp" of nnxp 0.1, by age.
STALE_AFTER = 3600.0
_TEMPORARY = re.compile(r"^\..+\.nnxp-(?P<host>[A-Za-z0-9_-]{1,40})-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")
_TEMPORARY_V01 = re.compile(r"^\.nnxp-[a-z0-9_]{8}\.tmp$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"


def _write_atomically(target: str, given: str, fill) -> None:
    """Write ``target`` through a temporary file that ``fill(stream)`` fills; ``given``
    is the path as the caller wrote it, for the messages."""
    folder, name = os.path.split(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write the model to {given}: the folder {folder} does not exist")
    if os.path.isdir(target):
        raise IsADirectoryError(f"cannot write the model to {given}: it is a folder")
    _remove_stale_temporaries(folder)
    temporary = os.path.join(folder, f".{name[:100]}.nnxp-{_host()}-{os.getpid()}-{os.urandom(4).hex()}.tmp")
    # 0o666 and the umask, as open() would; an existing target keeps its own mode.
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        if os.path.exists(target) and hasattr(os, "fchmod"):
            os.fchmod(handle, stat.S_IMODE(os.stat(target).st_mode))
        with os.fdopen(handle, "wb") as stream:
            fill(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _remove_stale_temporaries(folder: str) -> None:
    """Remove the temporary files of writes to ``folder`` that were killed (see above)."""
    now, host = time.time(), _host()
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        ours, old = _TEMPORARY.match(name), _TEMPORARY_V01.match(name)
        if not (ours or old):
            continue
        path = os.path.join(folder, name)
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                continue
            writer_gone = ours is not None and ours["host"] == host and not _running(int(ours["pid"]))
            if writer_gone or now - info.st_mtime > STALE_AFTER:
                os.remove(path)
        except OSError:  # removed meanwhile by another writer, or not ours to remove
            continue


def _running(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":  # (on Windows, os.kill(pid, 0) would stop the process)
        return True
    try:
        os.kill(pid, 0)  # signal 0: "does it exist?", nothing is sent
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):  # another user's process, or no way to ask
        return True
    return True
