"""Hostile and damaged model files: each ends in a ModelFileError that says what is
wrong, before anything large is read; and a fuzz test over truncations and flipped
bytes in which every outcome is the exact saved model or a ModelFileError.

Most files here are *forged*: edited and their checksums recomputed, as anyone can.
The checksums cannot catch those (docs/model.md says so); the other checks must.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

from builders import blobs
import nnxp
from nnxp import Model, ModelFileError, read_model
from nnxp.backend import to_numpy
from nnxp.saving import checksum
from nnxp.layers import Dense, Embedding


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small trained model (Adam state included) and its file."""
    with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
        X, labels = blobs(np.random.default_rng(0), m=30, features=4)
        model = Model([Embedding(X, labels, Y_encode=True, batch_size=10, seed=1), Dense(5, "relu"),
                       Dense(3, "softmax")])
        model.initialize(loss="CCE", optimizer="adam", seed=2, verbose=False)
        model.train(epochs=2, verbose=0)
        path = str(tmp_path_factory.mktemp("saved") / "model.npz")
        model.write(path)
    return model, path


def contents(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    return json.loads(arrays.pop("__config__").tobytes()), arrays


def forge(source, target, config_change=None, arrays_change=None, raw_config=None, checksums=True):
    """Copy a model file with its config and arrays edited, checksums recomputed."""
    config, arrays = contents(source)
    arrays.pop("__digest__")
    if arrays_change:
        arrays_change(arrays)
    if config_change:
        config = config_change(config) or config
    if checksums and isinstance(config, dict) and "checksums" in config:
        config["checksums"] = {key: checksum(value) for key, value in arrays.items()}
    config_bytes = raw_config if raw_config is not None else json.dumps(config).encode()
    arrays["__config__"] = np.frombuffer(config_bytes, dtype=np.uint8)
    arrays["__digest__"] = np.frombuffer(hashlib.sha256(config_bytes).hexdigest().encode(), dtype=np.uint8)
    np.savez(target, **arrays)
    return str(target)


def refused(path, *needles):
    with pytest.raises(ModelFileError) as error:
        read_model(path)
    message = str(error.value)
    assert str(path) in message, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# --------------------------------------------------------------------------- not a zip of ours


def test_a_folder_a_device_and_a_plain_npy_are_refused(tmp_path):
    refused(tmp_path, "is a folder")
    if os.path.exists("/dev/zero"):
        refused("/dev/zero", "is a device")  # read, it would never end
    np.save(tmp_path / "weights.npy", np.ones(3))
    refused(tmp_path / "weights.npy", "single NumPy array (.npy)")
    (tmp_path / "empty.npz").write_bytes(b"")
    refused(tmp_path / "empty.npz", "is empty")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(ModelFileError, read_model, fifo)),
                              daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "read_model waited on the FIFO"
    assert outcome and "is a FIFO" in str(outcome[0].value)


def central_directory(data: bytes) -> list[int]:
    """The offsets of the central directory entries of a zip (no archive comment)."""
    entries, offset = [], data.rfind(b"PK\x05\x06")
    count, start = struct.unpack_from("<H", data, offset + 10)[0], struct.unpack_from("<I", data, offset + 16)[0]
    if start == 0xFFFFFFFF or count == 0xFFFF:  # ZIP64: read the ZIP64 end record instead
        record = data.rfind(b"PK\x06\x06")
        count, start = struct.unpack_from("<Q", data, record + 32)[0], struct.unpack_from("<Q", data, record + 48)[0]
    for _ in range(count):
        assert data[start:start + 4] == b"PK\x01\x02"
        entries.append(start)
        names, extra, comment = struct.unpack_from("<HHH", data, start + 28)
        start += 46 + names + extra + comment
    return entries


def patched(saved_path, target, offset_in_entry, fmt, value, entry=2):
    data = bytearray(open(saved_path, "rb").read())
    struct.pack_into(fmt, data, central_directory(bytes(data))[entry] + offset_in_entry, value)
    target.write_bytes(bytes(data))
    return target


def test_damaged_zip_headers(saved, tmp_path):
    _, path = saved
    refused(patched(path, tmp_path / "version.npz", 6, "<H", 99), "zip file version")  # "needed to extract"
    refused(patched(path, tmp_path / "encrypted.npz", 8, "<H", 1), "is encrypted")
    refused(patched(path, tmp_path / "method.npz", 10, "<H", 8), "is compressed")
    refused(patched(path, tmp_path / "huge.npz", 20, "<I", 0xFFFFFF00), "more than the file holds")
    config, arrays = contents(path)
    np.savez_compressed(tmp_path / "deflated.npz", __config__=np.frombuffer(json.dumps(config).encode(), np.uint8),
                        **arrays)
    refused(tmp_path / "deflated.npz", "is compressed")


def test_a_compressed_array_cannot_inflate_memory(saved, tmp_path):
    """A few hundred kilobytes that would unpack to 100 MB: refused from the zip directory alone."""
    _, path = saved
    config, arrays = contents(path)
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w") as archive:
        for key, value in arrays.items():
            if key != "p/1/W":
                archive.writestr(key + ".npy", _npy(value))
        entry = zipfile.ZipInfo("p/1/W.npy")
        entry.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(entry, "w", force_zip64=True) as member:
            member.write(_npy_header({"descr": "<f8", "fortran_order": False, "shape": (12_500_000,)}))
            for _ in range(100):
                member.write(bytes(2**20))
    assert os.path.getsize(tmp_path / "bomb.npz") < 500_000
    tracemalloc.start()
    try:
        refused(tmp_path / "bomb.npz", "is compressed")
        assert tracemalloc.get_traced_memory()[1] < 5_000_000
    finally:
        tracemalloc.stop()


def _npy_header(header: dict) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def _npy(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# --------------------------------------------------------------------------- the config


def test_a_config_that_is_not_an_object_or_lacks_keys(saved, tmp_path):
    _, path = saved
    refused(forge(path, tmp_path / "list.npz", raw_config=b"[1, 2, 3]"), "is not a JSON object but a list")
    refused(forge(path, tmp_path / "text.npz", raw_config=b"\xff\xfe not utf-8"), "is not UTF-8")
    refused(forge(path, tmp_path / "json.npz", raw_config=b'{"format": '), "is not valid JSON")
    for key in ("backend", "layers", "optimizer", "history", "checksums"):
        refused(forge(path, tmp_path / f"no-{key}.npz", lambda c, key=key: c.pop(key) and None),
                f"has no '{key}'")
    refused(forge(path, tmp_path / "no-d.npz", lambda c: c["layers"][1]["state"].pop("d") and None),
            "has no layer 1 state 'd'")


def test_deep_nesting_is_refused(saved, tmp_path):
    _, path = saved

    def nest(depth):
        def change(config):
            value = 0.1
            for _ in range(depth):
                value = {"deeper": value}
            config["se_hPars"]["extra"] = value
        return change

    refused(forge(path, tmp_path / "deep.npz", nest(40)), "nested more than 32 deep")
    deep = b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    refused(forge(path, tmp_path / "deeper.npz", raw_config=deep), "nested too deeply")


def test_numbers_out_of_range_and_of_the_wrong_type(saved, tmp_path):
    _, path = saved

    def edit(**changes):
        def change(config):
            for key, value in changes.items():
                config[key] = value
        return change

    refused(forge(path, tmp_path / "epochs.npz", edit(epoch=-3)), "epoch must be >= 0, got -3")
    refused(forge(path, tmp_path / "epochs2.npz", edit(epoch="two")), "'epoch' must be a number of epochs")
    refused(forge(path, tmp_path / "seed.npz", edit(seed=-1)), "seed must be >= 0")
    refused(forge(path, tmp_path / "history.npz", edit(history={"loss": [0.5, "NaN?"]})),
            "history['loss'] must be a list of numbers")
    refused(forge(path, tmp_path / "history2.npz", edit(history={"loss": 0.5})), "must be a list of numbers")
    refused(forge(path, tmp_path / "dtype.npz", lambda c: c["backend"].update(dtype="float16")),
            "backend dtype must be one of")
    refused(forge(path, tmp_path / "steps.npz", lambda c: c["optimizer"].update(t=-1)), "step count must be >= 0")
    refused(forge(path, tmp_path / "rate.npz", lambda c: c["se_hPars"].update(learning_rate="fast")),
            "learning-rate settings are bad")
    refused(forge(path, tmp_path / "units.npz", lambda c: c["layers"][1]["config"].update(units="ten")),
            "layer 1 (Dense) has a bad config")
    refused(forge(path, tmp_path / "class.npz", lambda c: c["layers"][1].update({"class": "os.system"})),
            "class 'os.system', which is not a layer of nnxp", "custom_layers=")


# --------------------------------------------------------------------------- the arrays


def test_arrays_must_be_what_the_layers_need(saved, tmp_path):
    _, path = saved

    def replace(key, value):
        return lambda arrays: arrays.__setitem__(key, value)

    refused(forge(path, tmp_path / "shape.npz", arrays_change=replace("p/1/W", np.zeros((3, 5)))),
            "array p/1/W has shape (3, 5), but its layer needs (4, 5)")
    refused(forge(path, tmp_path / "units.npz", lambda c: c["layers"][1]["config"].update(units=6)),
            "layer 1 (Dense) has the dimensions {'n': 4, 'u': 5}, but its settings give {'n': 4, 'u': 6}")
    refused(forge(path, tmp_path / "f32.npz", arrays_change=replace("p/1/W", np.zeros((4, 5), np.float32))),
            "array p/1/W is float32, but the model's arrays are float64")
    refused(forge(path, tmp_path / "int.npz", arrays_change=replace("p/1/b", np.zeros(5, np.int64))),
            "array p/1/b is int64")
    def huge_input(config):
        config["layers"][1]["state"]["d"]["n"] = 10**12
        config["layers"][1]["state"]["fs"]["X"] = [10, 10**12]

    refused(forge(path, tmp_path / "huge.npz", huge_input), "array p/1/W has shape (4, 5), but its layer needs "
            "(1000000000000, 5)")
    refused(forge(path, tmp_path / "extra.npz", arrays_change=replace("notes", np.zeros(3))),
            "unexpected ['notes']")
    refused(forge(path, tmp_path / "opt.npz", arrays_change=replace("opt/1/W/z", np.zeros((4, 5)))),
            "the optimizer state 'opt/1/W/z' belongs to no parameter that adam moves")
    refused(forge(path, tmp_path / "gone.npz", arrays_change=lambda arrays: arrays.pop("p/2/b")),
            "missing ['p/2/b']")


def test_a_declared_8_terabyte_array_is_refused_before_reading(saved, tmp_path):
    """The header claims 10**12 numbers, the member holds none of them: the header's
    shape is checked against the layer before any data is read."""
    _, path = saved
    config, arrays = contents(path)
    config_bytes = json.dumps(config).encode()
    arrays["__digest__"] = np.frombuffer(hashlib.sha256(config_bytes).hexdigest().encode(), np.uint8)
    with zipfile.ZipFile(tmp_path / "8tb.npz", "w") as archive:
        for key, value in arrays.items():
            big = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
            archive.writestr(key + ".npy", _npy_header(big) if key == "p/1/W" else _npy(value))
        archive.writestr("__config__.npy", _npy(np.frombuffer(config_bytes, np.uint8)))
    tracemalloc.start()
    try:
        refused(tmp_path / "8tb.npz", "array p/1/W has shape (1000000000000,), but its layer needs (4, 5)")
        assert tracemalloc.get_traced_memory()[1] < 5_000_000
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------- fuzz


def snapshot(model) -> dict:
    """Everything a model file holds, comparable with ==."""
    return {
        "config": [(type(layer).__name__, layer.get_config()) for layer in model.layers],
        "p": {f"{i}/{k}": to_numpy(v).tobytes() for i, layer in enumerate(model.layers) for k, v in layer.p.items()},
        "opt": {f"{key}/{slot}": to_numpy(v).tobytes() for key, slots in model.optimizer.state.items()
                for slot, v in slots.items()},
        "rest": (model.name, model.epoch, model.seed, model.history.history, model.se_hPars, model.optimizer.t,
                 model.optimizer.get_config(), model.loss.name, [m.name for m in model.metrics]),
        "random": [layer.random_state() for layer in model.layers],
    }


def test_fuzz_truncations_and_flipped_bytes(saved, tmp_path):
    """400 seeded damages: each load gives the exact saved model or a ModelFileError,
    never another exception, and never allocates more than a few times the file."""
    model, path = saved
    original = open(path, "rb").read()
    with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
        expected = snapshot(read_model(path))
    assert expected == snapshot(model)
    rng = np.random.default_rng(11)
    directory = central_directory(original)[0]
    cases = [("cut", int(n)) for n in rng.integers(0, len(original), 100)]
    cases += [("flip", int(n)) for n in rng.integers(0, len(original), 200)]
    cases += [("flip", int(n)) for n in rng.integers(directory, len(original), 100)]  # the zip directory
    outcomes = {"same": 0, "refused": 0}
    target = tmp_path / "damaged.npz"
    tracemalloc.start()
    try:
        for kind, where in cases:
            data = bytearray(original[:where]) if kind == "cut" else bytearray(original)
            if kind == "flip":
                data[where] ^= int(rng.integers(1, 256))
            target.write_bytes(bytes(data))
            tracemalloc.reset_peak()
            try:
                with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
                    loaded = read_model(target)
            except ModelFileError:
                outcomes["refused"] += 1
            else:
                assert snapshot(loaded) == expected, f"{kind} at {where} loaded a different model"
                outcomes["same"] += 1
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < 20 * len(original) + 2_000_000, f"{kind} at {where}: {peak} bytes"
    finally:
        tracemalloc.stop()
    assert outcomes["refused"] > 300 and sum(outcomes.values()) == 400, outcomes
