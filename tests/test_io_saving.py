"""Saving behaves as a plain write would: permissions, symbolic links, ``~``, a missing
folder; the leftovers of killed writes are cleaned up, never a running write's; NumPy
scalars in the settings save as plain numbers, and what cannot be saved is named."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from builders import blobs
import nnxp
from nnxp import Model, read_model
from nnxp.layers import Dense, Dropout, Embedding

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and processes")


@pytest.fixture
def model(rng):
    X, labels = blobs(rng, m=20, features=3)
    model = Model([Embedding(X, labels, Y_encode=True, batch_size=10, seed=0), Dense(3, "softmax")])
    model.initialize(loss="CCE", seed=0, verbose=False)
    return model


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@posix
@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_0666_less_the_umask(model, tmp_path, umask, expected):
    previous = os.umask(umask)
    try:
        path = model.write(tmp_path / "model.npz")
    finally:
        os.umask(previous)
    assert mode(path) == expected


@posix
def test_an_overwritten_file_keeps_its_mode(model, tmp_path):
    path = tmp_path / "model.npz"
    for kept in (0o640, 0o644, 0o600):
        model.write(path)
        os.chmod(path, kept)
        model.write(path)
        assert mode(path) == kept


@posix
def test_writing_through_a_symbolic_link_writes_its_target(model, tmp_path):
    (tmp_path / "models").mkdir()
    target, link = tmp_path / "models" / "real.npz", tmp_path / "latest.npz"
    link.symlink_to(target)  # a link to a file that does not exist yet
    model.write(link)
    assert link.is_symlink() and target.is_file()
    model.train(epochs=1, verbose=0)
    model.write(link)  # and again, now that the target exists
    assert link.is_symlink() and read_model(target).epoch == 1
    assert sorted(os.listdir(tmp_path / "models")) == ["real.npz"]


def test_a_tilde_is_the_home_folder(model, tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))  # what expanduser reads on Windows
    monkeypatch.chdir(work)
    written = model.write("~/model.npz")
    assert written == str(home / "model.npz") and (home / "model.npz").is_file()
    assert os.listdir(work) == []  # no folder named "~"
    assert read_model("~/model.npz").name == model.name


def test_a_missing_folder_is_an_error_that_names_it(model, tmp_path):
    with pytest.raises(FileNotFoundError, match=f"the folder {tmp_path / 'absent'} does not exist"):
        model.write(tmp_path / "absent" / "model.npz")
    assert os.listdir(tmp_path) == []
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        model.write(tmp_path)


# --------------------------------------------------------------------------- killed writes


KILLED_WRITE = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from builders import blobs
    from nnxp import Model
    from nnxp.layers import Dense, Embedding
    X, labels = blobs(np.random.default_rng(0), m=20, features=3)
    model = Model([Embedding(X, labels, Y_encode=True, seed=0), Dense(3, "softmax")])
    model.initialize(loss="CCE", seed=0, verbose=False)

    def killed_midway(stream, **arrays):
        stream.write(b"PK half a model")
        stream.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    np.savez = killed_midway
    model.write(sys.argv[1])
""")


def temporaries(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


@posix
def test_the_next_write_removes_what_killed_writes_left(model, tmp_path):
    from nnxp.saving import _host

    path = tmp_path / "model.npz"
    tests = os.path.dirname(os.path.abspath(__file__))
    for attempt in range(3):
        killed = subprocess.Popen([sys.executable, "-c", KILLED_WRITE, str(path), tests], stderr=subprocess.PIPE)
        assert killed.wait() == -signal.SIGKILL, killed.stderr.read()
        # each write first removed the file its killed predecessor left: one is left, the last one's
        (left,) = temporaries(tmp_path)
        assert left == f".model.npz.nnxp-{_host()}-{killed.pid}-{left[-12:-4]}.tmp", attempt
    assert not path.exists()
    model.write(path)
    assert os.listdir(tmp_path) == ["model.npz"]


@posix
def test_a_running_write_and_files_not_ours_are_left_alone(model, tmp_path):
    from nnxp.saving import STALE_AFTER, _host

    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # its process id now names no process (until the system reuses it)
    try:
        host = _host()
        names = {
            f".model.npz.nnxp-{host}-{running.pid}-0123abcd.tmp": "kept",  # its writer still runs
            f".model.npz.nnxp-{host}-{ended.pid}-0123abcd.tmp": "removed",  # its writer is gone
            f".model.npz.nnxp-otherhost-{ended.pid}-0123abcd.tmp": "kept",  # another machine's, recent
            f".model.npz.nnxp-otherhost-1-89abcdef.tmp": "old",  # another machine's, an hour silent
            ".nnxp-abcd1234.tmp": "kept",  # nnxp 0.1's name, recent
            ".nnxp-wxyz5678.tmp": "old",  # nnxp 0.1's name, an hour silent
            ".notes.tmp": "old",  # not a name nnxp makes: never touched
            "model.nnxp-x.tmp": "old",
        }
        for name, fate in names.items():
            (tmp_path / name).write_bytes(b"partial")
            if fate == "old":
                then = time.time() - STALE_AFTER - 60
                os.utime(tmp_path / name, (then, then))
        model.write(tmp_path / "model.npz")
    finally:
        running.kill()
        running.wait()
    expected = sorted(name for name, fate in names.items()
                      if fate == "kept" or (fate == "old" and not name.startswith(".model.npz.nnxp-")
                                            and not name.startswith(".nnxp-")))
    assert temporaries(tmp_path) == expected


# --------------------------------------------------------------------------- what the settings hold


def test_numpy_scalars_in_the_settings_save_as_plain_numbers(rng, tmp_path):
    X, _ = blobs(rng, m=20, features=3)
    labels = np.array([np.int64(v) for v in rng.integers(3, size=20)])  # NumPy integers as labels
    model = Model([Embedding(X, labels, Y_encode=True, batch_size=np.int64(10), seed=np.int64(3)),
                   Dense(np.int64(4), se_hPars={"learning_rate": np.float32(0.5)}), Dropout(np.float64(0.1)),
                   Dense(3, "softmax")])
    model.initialize(loss="CCE", seed=np.int64(1), se_hPars={"learning_rate": np.float32(0.01)}, verbose=False)
    model.train(epochs=1, verbose=0)
    path = model.write(tmp_path / "model.npz")
    with np.load(path) as archive:
        config = json.loads(archive["__config__"].tobytes())
    assert config["seed"] == 1 and type(config["seed"]) is int
    assert config["se_hPars"]["learning_rate"] == pytest.approx(0.01) and type(config["se_hPars"]["learning_rate"]) is float
    assert config["layers"][1]["config"]["se_hPars"] == {"learning_rate": 0.5}
    assert config["layers"][0]["config"]["classes"] == [0, 1, 2] and config["layers"][0]["config"]["seed"] == 3
    loaded = read_model(path)
    assert loaded.seed == 1 and loaded.embedding.classes == [0, 1, 2]
    np.testing.assert_array_equal(loaded.predict(X).probabilities, model.predict(X).probabilities)


def test_a_setting_that_cannot_be_saved_is_named(model, tmp_path):
    path = model.write(tmp_path / "model.npz")
    before = pathlib.Path(path).read_bytes()
    model.layers[1].name = pathlib.PurePosixPath("out")  # a layer name that is not a string
    with pytest.raises(TypeError, match=r"cannot save layer 1 \(Dense\) setting\['name'\] = PurePosixPath\('out'\)"):
        model.write(path)
    model.layers[1].name = "out"
    model.se_hPars["note"] = {1, 2}
    with pytest.raises(TypeError, match=r"cannot save the model\['se_hPars'\]\['note'\] = \{1, 2\}.*not set"):
        model.write(path)
    assert pathlib.Path(path).read_bytes() == before  # the file on disk is untouched
