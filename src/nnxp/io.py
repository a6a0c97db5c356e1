"""Saving and loading models: one ``.npz`` file, never pickle.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, stored uncompressed)::

    __config__          the model as JSON (UTF-8 bytes): layers and their settings,
                        shapes, random-generator states, loss, metrics, optimizer,
                        hyperparameters, history, and a SHA-256 checksum of every array
    __digest__          the SHA-256 of __config__ itself
    p/<layer>/<name>    each parameter, e.g. p/1/W
    opt/<key>/<slot>    each optimizer state array, e.g. opt/1/W/m

This is format version 1, the same since nnxp 0.1.

What the checksums protect, and what they do not
------------------------------------------------
They catch *accidental* damage: a truncated download, a file cut short by a full disk,
a flipped bit. They do not protect against a *deliberate* edit: whoever changes a
number can recompute the checksums too. What protects against a hostile file is that
the reader trusts nothing in it. Before a single array is read it checks, in order:

1. the path: a regular file. A folder, a FIFO or a device is refused before it is
   opened (reading a FIFO would wait forever);
2. the zip directory: every member named once, inside the file, not encrypted and
   stored uncompressed, as nnxp writes them, so that no member can unpack to more than
   the file holds (a compressed member of a few kilobytes can claim gigabytes);
3. the config: at most ``MAX_CONFIG_BYTES``, its own checksum, UTF-8, JSON nested at
   most ``MAX_DEPTH`` deep, an object with every key of the format, of the right type;
4. each layer, built from its settings: the dimensions its own ``compute_shapes``
   finds for the input shape it saw must be the saved ones (an edited ``units`` is
   caught here), and they give the shape of each parameter (``Layer.parameter_shapes``,
   which draws nothing);
5. every array's ``.npy`` header: floats of the model's dtype (no Python objects,
   which would need pickle), exactly the shape its layer needs, and a member of
   exactly that many bytes; no member that the config does not name;
6. every array's checksum.

Layers are built only from the classes of ``nnxp.layers`` and those passed as
``custom_layers``: nothing named in a file is imported or run. So, whatever its bytes,
loading a file gives exactly the model that was saved, or a ``ModelFileError`` that
says what is wrong; and it never uses much more memory than the file's own size.

Writing is ``nnxp.saving``'s (``write_model``, re-exported here): to a temporary file in
the target's folder, renamed over the target at the end, so that a crash never leaves
half a model. It sits below ``nnxp.model`` (``Model.write`` calls it), this reader above
(it builds a Model): neither half imports the other's side.

A model saved on one backend loads on any other: arrays are stored on the host.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import struct
import warnings
import zipfile
import zlib

import numpy as np

from .backend import DTYPES, resolve
from .layers import LAYERS, Layer
from .losses import get_loss
from .metrics import get_metric
from .model import History, Model
from .optimizers import get_optimizer
from .saving import CONFIG, DIGEST, FORMAT, MAX_CONFIG_BYTES, VERSION, checksum, plain, write_model
from .schedules import merged

__all__ = ["ModelFileError", "read_model", "write_model", "FORMAT", "VERSION"]

MAX_DEPTH = 32  # a real config nests 9 deep (a layer's random-generator state)


class ModelFileError(ValueError):
    """A model file cannot be read: missing, truncated, edited, or not an nnxp model."""


# =========================================================================== reading


def read_model(path, backend=None, dtype=None, custom_layers: dict | None = None):
    """Load a model written by ``Model.write``, onto ``backend`` (default: the current
    one) in ``dtype`` (default: the dtype it was saved in).

    ``custom_layers`` maps the class names of your own layers to their classes, e.g.
    ``{"Scale": Scale}``: the file names a class, and only the classes of
    ``nnxp.layers`` and these are ever built from it.
    """
    classes = dict(LAYERS)
    for name, cls in (custom_layers or {}).items():
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise TypeError(f"read_model: custom_layers[{name!r}] must be a Layer subclass, got {cls!r}")
        classes[name] = cls
    path = os.path.expanduser(os.fspath(path))
    with _open_regular_file(path) as stream:
        archive = _zip(path, stream)
        members = _members(path, archive, os.fstat(stream.fileno()).st_size)
        config = _config(path, archive, members)
        _check_config(path, config)
        target = resolve(backend, dtype or config["backend"]["dtype"])
        model = Model(name=config["name"])
        model.layers = [_build_layer(path, index, entry, classes) for index, entry in enumerate(config["layers"])]
        _restore_training_settings(path, model, config)
        expected = _expected_arrays(path, model, config)
        arrays = _arrays(path, archive, members, expected, config)
    for index, layer in enumerate(model.layers):
        prefix = f"p/{index}/"
        layer.p = {key[len(prefix):]: target.asarray(value) for key, value in arrays.items() if key.startswith(prefix)}
    for key, value in arrays.items():
        if key.startswith("opt/"):
            parameter_key, slot = key[4:].rsplit("/", 1)
            model.optimizer.state.setdefault(parameter_key, {})[slot] = target.asarray(value)
    model.backend, model.initialized = target, True
    seeds = np.random.SeedSequence(model.seed).spawn(len(model.layers))
    for index, (layer, seed, entry) in enumerate(zip(model.layers, seeds, config["layers"])):
        layer.backend, layer.rng = target, np.random.default_rng(seed)
        if entry["state"]["random"] is not None:  # where the batch order and masks stood
            try:
                layer.set_random_state(entry["state"]["random"])
            except Exception as error:  # a state of the wrong generator, or made up
                raise ModelFileError(f"{path}: layer {index} has a random-generator state that cannot be "
                                     f"restored: {error}") from None
    return model


# --------------------------------------------------------------------------- 1. the file


def _open_regular_file(path: str):
    """The file open for reading, after making sure that it is a regular file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {path}") from None
    _require_regular(path, info)
    # O_NONBLOCK: were the path swapped for a FIFO since, opening it must not wait.
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        _require_regular(path, os.fstat(handle))
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def _require_regular(path: str, info) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ModelFileError(f"{path} is a folder, not a model file")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a plain file")
        raise ModelFileError(f"{path} is {kind}, not a model file: it is not opened")


# Everything the zipfile module and the .npy header parser raise on damaged bytes.
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, ValueError, EOFError,
           OSError, struct.error, zlib.error, UnicodeDecodeError, KeyError, IndexError, OverflowError, TypeError)


def _zip(path: str, stream) -> zipfile.ZipFile:
    head = stream.read(6)
    stream.seek(0)
    if not head:
        raise ModelFileError(f"{path} is empty: not an nnxp model file (truncated?)")
    if head == b"\x93NUMPY":
        raise ModelFileError(f"{path} is a single NumPy array (.npy), not an nnxp model file (.npz)")
    try:
        return zipfile.ZipFile(stream)
    except _DAMAGE as error:
        raise ModelFileError(f"{path} is not a readable nnxp model file (truncated or damaged?): {error}") from None


def _members(path: str, archive: zipfile.ZipFile, size: int) -> dict[str, zipfile.ZipInfo]:
    """Name (without .npy) -> its entry in the zip directory, once checked (point 2)."""
    members = {}
    for info in archive.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        problem = None
        if name in members:
            problem = "appears twice"
        elif info.flag_bits & 0x1:
            problem = "is encrypted"
        elif info.compress_type != zipfile.ZIP_STORED:
            problem = (f"is compressed (method {info.compress_type}); nnxp stores arrays uncompressed, and a "
                       f"compressed member can claim any size")
        elif info.file_size != info.compress_size or info.header_offset + info.compress_size > size:
            problem = f"claims {info.file_size} bytes, more than the file holds (damaged or truncated?)"
        if problem:
            raise ModelFileError(f"{path}: the member {info.filename!r} {problem}")
        members[name] = info
    if CONFIG not in members or DIGEST not in members:
        raise ModelFileError(f"{path} is an .npz file but not an nnxp model (no {CONFIG})")
    return members


# --------------------------------------------------------------------------- 2. the config


def _config(path: str, archive, members) -> dict:
    """The config, once its size, checksum, encoding, JSON and depth are checked (point 3)."""
    config_bytes = _read_bytes(path, archive, members[CONFIG], CONFIG, MAX_CONFIG_BYTES)
    digest = _read_bytes(path, archive, members[DIGEST], DIGEST, 64)
    if hashlib.sha256(config_bytes).hexdigest().encode() != digest:
        raise ModelFileError(f"{path}: the model config was changed after it was written (checksum mismatch)")
    try:
        text = config_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelFileError(f"{path}: the model config is not UTF-8 text: {error}") from None
    try:
        config = json.loads(text)
    except RecursionError:
        raise ModelFileError(f"{path}: the model config is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, or an integer of thousands of digits
        raise ModelFileError(f"{path}: the model config is not valid JSON: {error}") from None
    if _depth(config) > MAX_DEPTH:
        raise ModelFileError(f"{path}: the model config is nested more than {MAX_DEPTH} deep")
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: the model config is not a JSON object but a {type(config).__name__}")
    return config


def _read_bytes(path: str, archive, info, name: str, limit: int) -> bytes:
    """The bytes of a small uint8 array member (the config, the digest)."""
    header_size, dtype, shape, _ = _npy_header(path, archive, info, name)
    if dtype != np.uint8 or len(shape) != 1 or shape[0] > limit or header_size + shape[0] != info.file_size:
        raise ModelFileError(f"{path}: {name} is not the byte string of an nnxp model (dtype {dtype}, "
                             f"shape {shape}, at most {limit} bytes)")
    return _read_data(path, archive, info, name, header_size, shape[0])


def _depth(value) -> int:
    """How deep lists and objects nest in a parsed JSON value (without recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _check_config(path: str, config: dict) -> None:
    """Every key of the format, of the right type and range (point 3)."""
    def need(where, container, key, kinds, what):
        if key not in container:
            raise ModelFileError(f"{path}: the model config has no {where}{key!r}")
        value = container[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
            raise ModelFileError(f"{path}: the config's {where}{key!r} must be {what}, got {value!r:.80}")
        return value

    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise ModelFileError(f"{path}: not an nnxp model file of version {VERSION} "
                             f"(format {config.get('format')!r:.40}, version {config.get('version')!r:.40})")
    need("", config, "name", str, "a string")
    backend = need("", config, "backend", dict, "an object")
    if need("backend ", backend, "dtype", str, "a string") not in DTYPES:
        raise ModelFileError(f"{path}: the config's backend dtype must be one of {DTYPES}, got {backend['dtype']!r}")
    for index, entry in enumerate(need("", config, "layers", list, "a list")):
        where = f"layer {index} "
        if not isinstance(entry, dict):
            raise ModelFileError(f"{path}: {where}in the config is not an object")
        need(where, entry, "class", str, "a class name")
        need(where, entry, "config", dict, "an object")
        state = need(where, entry, "state", dict, "an object")
        need(where + "state ", state, "d", dict, "an object")
        for shapes in ("fs", "bs"):
            for key, shape in need(where + "state ", state, shapes, dict, "an object").items():
                if not (isinstance(shape, list) and all(_is_count(s) for s in shape)):
                    raise ModelFileError(f"{path}: {where}shape {shapes}[{key!r}] must be a list of sizes, "
                                         f"got {shape!r:.80}")
        need(where + "state ", state, "random", (dict, type(None)), "an object or null")
    need("", config, "loss", (dict, str), "an object")
    if not all(isinstance(m, str) for m in need("", config, "metrics", list, "a list of names")):
        raise ModelFileError(f"{path}: the config's metrics must be names, got {config['metrics']!r:.80}")
    optimizer = need("", config, "optimizer", dict, "an object")
    need("optimizer ", optimizer, "name", str, "a name")
    if not _is_count(need("optimizer ", optimizer, "t", int, "a step count")):
        raise ModelFileError(f"{path}: the optimizer's step count must be >= 0, got {optimizer['t']}")
    need("", config, "se_hPars", dict, "an object")
    seed = need("", config, "seed", (int, type(None)), "an integer >= 0 or null")
    if seed is not None and seed < 0:
        raise ModelFileError(f"{path}: the config's seed must be >= 0 or null, got {seed}")
    if not _is_count(need("", config, "epoch", int, "a number of epochs")):
        raise ModelFileError(f"{path}: the config's epoch must be >= 0, got {config['epoch']}")
    for key, values in need("", config, "history", dict, "an object").items():
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            raise ModelFileError(f"{path}: history[{key!r}] must be a list of numbers, got {values!r:.80}")
    for key, value in need("", config, "checksums", dict, "an object").items():
        if not (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value)):
            raise ModelFileError(f"{path}: the checksum of {key!r} is not a SHA-256, got {value!r:.80}")


def _tuple(kinds) -> tuple:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- 3. the layers it describes


def _build_layer(path: str, index: int, entry: dict, classes: dict):
    """A layer of a class nnxp knows (or the caller gave), from its saved settings."""
    name = entry["class"]
    cls = classes.get(name)
    if cls is None:
        shown = name if name.isidentifier() and len(name) < 80 else "YourLayer"
        raise ModelFileError(f"{path}: layer {index} is of class {name!r:.80}, which is not a layer of nnxp; "
                             f"for a layer of your own, pass its class: "
                             f"read_model(path, custom_layers={{{shown!r}: {shown}}})")
    try:
        from_config = getattr(cls, "from_config", None)
        layer = from_config(entry["config"]) if from_config else cls(**entry["config"])
        layer.d = entry["state"]["d"]
        layer.fs = {k: tuple(v) for k, v in entry["state"]["fs"].items()}
        layer.bs = {k: tuple(v) for k, v in entry["state"]["bs"].items()}
    except Exception as error:  # whatever a constructor raises on settings that make no sense
        raise ModelFileError(f"{path}: layer {index} ({name}) has a bad config: {error}") from None
    return layer


def _restore_training_settings(path: str, model, config: dict) -> None:
    """Loss, metrics, optimizer, hyperparameters, seed and history, each checked."""
    try:
        model.loss = get_loss(config["loss"])
        optimizer_config = dict(config["optimizer"])
        steps = optimizer_config.pop("t")
        model.optimizer = get_optimizer(optimizer_config)
        for layer in model.layers:
            merged(config["se_hPars"], layer.se_hPars).rate(config["epoch"])  # the schedule makes sense
    except Exception as error:
        raise ModelFileError(f"{path}: the loss, optimizer or learning-rate settings are bad: {error}") from None
    model.optimizer.t = steps
    model.metrics = []
    for name in config["metrics"]:
        try:
            model.metrics.append(get_metric(name))
        except ValueError:
            warnings.warn(f"{path}: custom metric {name!r} cannot be restored; it is left out", stacklevel=3)
    model.se_hPars, model.seed, model.epoch = config["se_hPars"], config["seed"], config["epoch"]
    model.history = History(config["history"])


def _check_dimensions(path: str, index: int, layer) -> None:
    """The dimensions ``d`` that the layer's own ``compute_shapes`` finds for the input
    it saw (``fs["X"]``, given as a stand-in that takes no memory) must be the saved
    ones: settings and dimensions that disagree (``units`` edited, say) are refused."""
    name, saved_d, saved_fs = type(layer).__name__, layer.d, layer.fs
    if "X" not in saved_fs:
        raise ModelFileError(f"{path}: layer {index} ({name}) has no input shape (state fs['X'])")
    layer.d, layer.fs = {}, {}
    try:
        layer.compute_shapes(np.broadcast_to(np.zeros(()), saved_fs["X"]))
        found = plain(layer.d, "d")
    except Exception as error:  # settings that do not fit the input at all
        raise ModelFileError(f"{path}: layer {index} ({name}) does not fit its input of shape {saved_fs['X']}: "
                             f"{error}") from None
    finally:
        layer.d, layer.fs = saved_d, saved_fs
    saved_d = layer.d = _current_names(saved_d, found)
    if found != saved_d:
        raise ModelFileError(f"{path}: layer {index} ({name}) has the dimensions {saved_d!r:.200}, but its "
                             f"settings give {found!r:.200} for its input of shape {saved_fs['X']}")


# Dimensions renamed since format 1 was fixed: old name -> new name. A file written
# before holds the old one; it is read under the new one here, and nowhere else.
RENAMED_DIMENSIONS = {"G": "gates"}  # a recurrent layer's number of gates (fc["G"] is its gate values)


def _current_names(saved: dict, found: dict) -> dict:
    """The saved dimensions with each old name (``RENAMED_DIMENSIONS``) that the layer no
    longer uses, but whose new name it does, renamed; in their saved order."""
    renamed = {old: new for old, new in RENAMED_DIMENSIONS.items()
               if old in saved and new not in saved and new in found and old not in found}
    return {renamed.get(key, key): value for key, value in saved.items()}


def _expected_arrays(path: str, model, config: dict) -> dict[str, tuple[int, ...]]:
    """The shape of every array the model needs: each layer's parameters, and the
    optimizer's slots of the parameters it moves."""
    expected = {}
    for index, layer in enumerate(model.layers):
        _check_dimensions(path, index, layer)
        try:
            shapes = layer.parameter_shapes()
        except Exception as error:  # dimensions in d that are missing or make no sense
            raise ModelFileError(f"{path}: layer {index} ({type(layer).__name__}) has dimensions that do not "
                                 f"make its parameters: {error}") from None
        for name, shape in shapes.items():
            expected[f"p/{index}/{name}"] = shape
    for key in config["checksums"]:
        if key.startswith("opt/"):
            parameter, _, slot = key[4:].rpartition("/")
            index, _, name = parameter.partition("/")
            layer = model.layers[int(index)] if index.isdigit() and int(index) < len(model.layers) else None
            learned = layer is not None and layer.trainable and name not in layer.buffers
            if not (learned and f"p/{parameter}" in expected and slot in model.optimizer.slots):
                raise ModelFileError(f"{path}: the optimizer state {key!r} belongs to no parameter that "
                                     f"{model.optimizer.name} moves")
            expected[key] = expected[f"p/{parameter}"]
    named = set(config["checksums"])
    needed = {key for key in expected if key.startswith("p/")}
    if not needed <= named or not named <= set(expected):
        raise ModelFileError(f"{path}: arrays do not match the config (missing {sorted(needed - named)}, "
                             f"unexpected {sorted(named - set(expected))})")
    return {key: shape for key, shape in expected.items() if key in named}


# --------------------------------------------------------------------------- 4. the arrays


def _arrays(path: str, archive, members: dict, expected: dict, config: dict) -> dict[str, np.ndarray]:
    """Every array, once the members match the config and each header its layer (points 5, 6)."""
    stored = set(members) - {CONFIG, DIGEST}
    if stored != set(expected):
        missing, extra = sorted(set(expected) - stored), sorted(stored - set(expected))
        raise ModelFileError(f"{path}: arrays do not match the config (missing {missing}, unexpected {extra})")
    dtype = np.dtype(config["backend"]["dtype"])
    headers = {}
    for key, shape in expected.items():
        info = members[key]
        header_size, found, found_shape, fortran = _npy_header(path, archive, info, key)
        if found.hasobject:
            raise ModelFileError(f"{path}: array {key} holds Python objects, which would need pickle to load: "
                                 f"refused")
        if found.newbyteorder("=") != dtype.newbyteorder("=") or found.kind != "f":
            raise ModelFileError(f"{path}: array {key} is {found}, but the model's arrays are {dtype}")
        if found_shape != tuple(shape):
            raise ModelFileError(f"{path}: array {key} has shape {found_shape}, but its layer needs {tuple(shape)}")
        size = int(np.prod(found_shape, dtype=np.int64)) * found.itemsize
        if header_size + size != info.file_size:
            raise ModelFileError(f"{path}: array {key} takes {info.file_size - header_size} bytes instead of {size}")
        headers[key] = (header_size, found, found_shape, fortran, size)
    arrays = {}
    for key, (header_size, found, shape, fortran, size) in headers.items():
        data = _read_data(path, archive, members[key], key, header_size, size)
        array = np.frombuffer(data, dtype=found).reshape(shape, order="F" if fortran else "C")
        if checksum(array) != config["checksums"][key]:
            raise ModelFileError(f"{path}: array {key} was changed after it was written (checksum mismatch)")
        arrays[key] = array
    return arrays


def _npy_header(path: str, archive, info, name: str):
    """(header size, dtype, shape, fortran order) of a member's .npy header, read alone."""
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f".npy format version {version} is not one NumPy writes for numbers")
            return member.tell(), dtype, tuple(shape), fortran
    except _DAMAGE as error:
        raise ModelFileError(f"{path}: the array {name} cannot be read (damaged?): {error}") from None


def _read_data(path: str, archive, info, name: str, offset: int, size: int) -> bytearray:
    """``size`` bytes of a member after its header, into a writable buffer."""
    data = bytearray(size)
    try:
        with archive.open(info) as member:
            member.seek(offset)
            view, filled = memoryview(data), 0
            while filled < size:
                got = member.readinto(view[filled:])
                if not got:
                    raise EOFError("the member ends early")
                filled += got
            if member.read(1):
                raise ValueError("the member is longer than its header says")
    except _DAMAGE as error:
        raise ModelFileError(f"{path}: the array {name} cannot be read (damaged or truncated?): {error}") from None
    return data
