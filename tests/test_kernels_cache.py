"""The compiled kernels are cached in a per-user folder, never inside the package.

The folder is chosen once per process (``nnxp.kernels.cache.cache_folder``):
NNXP_CACHE_DIR, the platform's user cache folder, a private folder in the temporary
folder, or none (the kernels then compile in memory, with one warning). The last two
tests install nnxp as a wheel into a folder that cannot be written and train in it as
a user whose HOME cannot be written either, then reinstall it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import warnings

import pytest

from nnxp.kernels import cache

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def choose(monkeypatch, tmp_path):
    """cache_folder() as it would be chosen from scratch, with HOME, XDG_CACHE_HOME and
    the temporary folder inside tmp_path; the process's own choice is restored after."""
    monkeypatch.delenv(cache.ENVIRONMENT, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def chosen():
        cache.cache_folder.cache_clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            folder = cache.cache_folder()
        return folder, [str(w.message) for w in caught if issubclass(w.category, cache.KernelCacheWarning)]

    yield chosen
    monkeypatch.undo()
    cache.cache_folder.cache_clear()


def unwritable(tmp_path, name):
    """A path below a regular file: no one, root included, can make a folder there."""
    blocker = tmp_path / f"{name}-is-a-file"
    blocker.write_text("")
    return str(blocker / name)


def test_nnxp_cache_dir_comes_first(choose, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENVIRONMENT, str(tmp_path / "mine"))
    assert choose() == (str(tmp_path / "mine"), [])
    assert (tmp_path / "mine").is_dir()


def test_then_the_user_cache_folder(choose, tmp_path):
    folder, warned = choose()
    assert folder == str(tmp_path / "xdg" / "nnxp") and warned == []


def test_a_cache_dir_that_cannot_be_written_is_named_in_one_warning(choose, tmp_path, monkeypatch):
    bad = unwritable(tmp_path, "cache")
    monkeypatch.setenv(cache.ENVIRONMENT, bad)
    folder, warned = choose()
    assert folder == str(tmp_path / "xdg" / "nnxp")
    assert len(warned) == 1 and f"NNXP_CACHE_DIR={bad} cannot be written" in warned[0]
    assert f"cached in {folder} instead" in warned[0]


def test_then_a_private_folder_in_the_temporary_folder(choose, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", unwritable(tmp_path, "xdg"))
    folder, warned = choose()
    name = f"nnxp-cache-{os.getuid()}" if hasattr(os, "getuid") else "nnxp-cache"
    assert folder == str(tmp_path / "tmp" / name) and warned == []  # a working fallback is silent
    if hasattr(os, "getuid"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="the owner check is for POSIX temporary folders")
def test_a_temporary_folder_others_may_write_is_not_trusted(choose, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", unwritable(tmp_path, "xdg"))
    planted = tmp_path / "tmp" / f"nnxp-cache-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)  # anyone could have put machine code (and a pickle) there
    folder, warned = choose()
    assert folder is None and len(warned) == 1
    assert "is not a private folder of this user" in warned[0] and "drwxrwxrwx" in warned[0]


def test_without_any_folder_the_kernels_compile_in_memory_with_one_warning(choose, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", unwritable(tmp_path, "xdg"))
    monkeypatch.setattr(tempfile, "tempdir", unwritable(tmp_path, "tmp"))
    folder, warned = choose()
    assert folder is None and len(warned) == 1
    assert "compiled in memory at every run" in warned[0] and "set NNXP_CACHE_DIR" in warned[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning, whatever is compiled next

        @cache.njit(cache=True)
        def twice(x):
            return 2 * x

        assert twice(21) == 42
    assert type(twice._cache).__name__ == "NullCache"  # Numba's "no cache"


def test_every_cpu_kernel_is_cached_in_the_folder_never_the_package():
    from numba.core.dispatcher import Dispatcher

    from nnxp.kernels.cpu import conv, fastmath, pool, recurrent

    folder, package = cache.cache_folder(), os.path.dirname(os.path.abspath(conv.__file__))
    assert folder is not None and not folder.startswith(package)
    kernels = [value for module in (conv, fastmath, pool, recurrent) for value in vars(module).values()
               if isinstance(value, Dispatcher) and value.py_func.__module__ == module.__name__]
    assert len(kernels) >= 25
    for kernel in kernels:
        assert isinstance(kernel._cache, cache.NnxpFunctionCache), kernel.__name__
        assert kernel._cache._cache_path.startswith(folder + os.sep), kernel.__name__


def test_a_kernel_goes_stale_when_a_file_it_may_have_compiled_in_changes(tmp_path):
    """A kernel's stamp covers its own file, the files beside it (fastmath.py's activations
    are inlined into the recurrent kernels) and the shared files of kernels/
    (activation_codes.py): Numba's own stamp, its file alone, would load stale code."""
    from nnxp.kernels.cpu import recurrent

    folder = tmp_path / "kernels"
    folder.mkdir()
    (folder / "loops.py").write_text("def kernel():\n    return 1\n")
    (folder / "maths.py").write_text("ONE = 1\n")
    (folder / "notes.txt").write_text("not a source")

    def stamp():
        namespace = {}
        exec(compile((folder / "loops.py").read_text(), str(folder / "loops.py"), "exec"), namespace)
        return cache.NnxpCacheLocator(namespace["kernel"], str(folder / "loops.py")).get_source_stamp()

    before = stamp()
    (folder / "notes.txt").write_text("still not a source")
    assert stamp() == before
    (folder / "maths.py").write_text("ONE = 2\n")
    assert stamp() != before
    real = cache.NnxpCacheLocator(recurrent._rnn_forward_chunk.py_func, recurrent.__file__).get_source_stamp()
    covered = {os.path.basename(path) for path, _ in real}
    assert {"recurrent.py", "fastmath.py", "activation_codes.py"} <= covered


def test_the_cuda_kernels_are_cached_in_the_folder_too(tmp_path):
    """Numba-CUDA's real decorators (not the simulator this suite runs): no GPU is needed
    to decorate the kernels, only to run them."""
    pytest.importorskip("numba_cuda", reason="numba-cuda is not installed")
    script = textwrap.dedent("""
        import os
        from numba.cuda.dispatcher import CUDADispatcher
        from nnxp.kernels import cuda
        from nnxp.kernels.cache import cache_folder
        from nnxp.kernels.cuda import conv, pool, recurrent
        kernels = [value for module in (conv, pool, recurrent) for value in vars(module).values()
                   if isinstance(value, CUDADispatcher) and not value.targetoptions.get("device")]
        assert len(kernels) >= 10, kernels
        for kernel in kernels:
            assert type(kernel._cache).__name__ == "NnxpCUDACache", kernel
            assert kernel._cache._cache_path.startswith(cache_folder() + os.sep), kernel._cache._cache_path
        print(len(kernels), cache_folder())
    """)
    environment = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0", cache.ENVIRONMENT: str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
    if "CudaSupportError" in done.stderr or "cudadrv" in done.stderr and done.returncode:
        pytest.skip(f"numba-cuda cannot load without a CUDA runtime here: {done.stderr.splitlines()[-1]}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[1] == str(tmp_path / "cache")


def test_nnxp_info_says_where_the_cache_is(capsys):
    from nnxp import cli

    cli.main(["info"])
    assert f"kernel cache: {cache.cache_folder()}\n" in capsys.readouterr().out


# --------------------------------------------------------------------------- a real install


def build_wheel(tmp_path) -> str:
    """A wheel of this checkout, built from a copy (the checkout gets no build/ folder)."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed: a wheel cannot be built without the network")
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "kernels"):
        shutil.copytree(os.path.join(REPO, name), source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO, name), source / name)
    pip(["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source)])
    (wheel,) = (tmp_path / "dist").iterdir()
    return str(wheel)


def pip(arguments):
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *arguments],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def files_under(folder) -> set[str]:
    return {os.path.relpath(os.path.join(where, name), folder)
            for where, _, names in os.walk(folder) for name in names}


def installed_files(site) -> set[str]:
    """What pip recorded of the install: the files an uninstall removes."""
    (record,) = [os.path.join(site, d, "RECORD") for d in os.listdir(site) if d.endswith(".dist-info")]
    with open(record) as stream:
        paths = {os.path.normpath(line.rsplit(",", 2)[0]) for line in stream if line.strip()}
    return {path for path in paths if not path.startswith(os.pardir)}  # the scripts go elsewhere


def drop_privileges():
    """In the child, before it starts Python: give up every capability of root, which
    then obeys file modes like any user. Root keeps its uid, so it can still read the
    interpreter and the virtual environment wherever they live (a uid such as nobody
    cannot read a Python installed under /root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_SECUREBITS, PR_CAPBSET_DROP, NOROOT, NOROOT_LOCKED = 28, 24, 1, 2
    if libc.prctl(PR_SET_SECUREBITS, NOROOT | NOROOT_LOCKED, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECUREBITS) refused")
    for capability in range(64):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)


TRAIN = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import nnxp
    from nnxp.kernels.cache import cache_folder
    from nnxp.layers import LSTM, Convolution, Dense, Embedding, Flatten, Pooling

    site, must_be_read_only = sys.argv[1], sys.argv[2] == "read-only"
    assert os.path.dirname(nnxp.__file__) == os.path.join(site, "nnxp"), nnxp.__file__  # the install
    if must_be_read_only:  # the sandbox is real, or the test proves nothing
        for folder in (os.path.join(site, "nnxp", "kernels", "cpu"), os.environ["HOME"]):
            try:
                open(os.path.join(folder, "probe"), "w").close()
            except PermissionError:
                continue
            sys.exit(folder + " can be written: the test would prove nothing")
    nnxp.set_backend("cpu", dtype="float32", kernels="numba")
    rng = np.random.default_rng(0)
    images, sequences, labels = rng.standard_normal((6, 5, 5, 1)), rng.standard_normal((6, 4, 2)), np.arange(6) % 2
    losses = {}
    for name, data, body in (("cnn", images, [Convolution(2, 3), Pooling(2), Flatten()]),
                             ("lstm", sequences, [LSTM(3)])):
        model = nnxp.Model([Embedding(data, labels, Y_encode=True, batch_size=3, seed=0), *body,
                            Dense(2, "softmax")])
        model.initialize(loss="CCE", seed=0, verbose=False)
        losses[name] = model.train(epochs=2, verbose=0)["loss"]
    import contextlib, io
    from nnxp import cli
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        cli.main(["info"])  # which imports every kernel, and used to die here too
    info = [line for line in shown.getvalue().splitlines() if line.startswith("kernel cache:")]
    print(json.dumps({"cache": cache_folder(), "losses": losses, "info": info}))
""")


def run_installed(site, tmp_path, env, read_only: bool):
    environment = {key: value for key, value in os.environ.items()
                   if key not in (cache.ENVIRONMENT, "XDG_CACHE_HOME", "NUMBA_CACHE_DIR", "PYTHONPATH")}
    environment.update(env, PYTHONPATH=str(site))
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    try:
        done = subprocess.run([sys.executable, "-c", TRAIN, str(site), "read-only" if read_only else "writable"],
                              cwd=tmp_path, env=environment, capture_output=True, text=True,
                              preexec_fn=drop_privileges if read_only and root else None)
    except subprocess.SubprocessError as error:  # prctl refused: a container without CAP_SETPCAP
        pytest.skip(f"root's privileges cannot be dropped here, so no folder can be made read-only: {error}")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_read_only(folder):
    for where, names, files in os.walk(folder):
        for name in files:
            os.chmod(os.path.join(where, name), 0o444)
        os.chmod(where, 0o555)


def make_writable(folder):
    for where, names, files in os.walk(folder):
        os.chmod(where, 0o755)
        for name in files:
            os.chmod(os.path.join(where, name), 0o644)


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="file modes and privileges of POSIX")
def test_a_read_only_install_trains_and_a_reinstall_imports_the_real_package(tmp_path):
    wheel = build_wheel(tmp_path)
    site, home, temporary = tmp_path / "site", tmp_path / "home", tmp_path / "tmp"
    pip(["install", "--no-deps", "--target", str(site), wheel])
    home.mkdir(), temporary.mkdir()
    os.chmod(temporary, 0o1777)
    installed = files_under(site)
    make_read_only(site), os.chmod(home, 0o555)

    # 1. A read-only install, a HOME that cannot be written: the temporary folder holds the cache.
    try:
        cold = run_installed(site, tmp_path, {"HOME": str(home), "TMPDIR": str(temporary)}, read_only=True)
    finally:
        make_writable(site)
    assert cold["cache"] == str(temporary / f"nnxp-cache-{os.getuid()}")
    assert cold["info"] == [f"kernel cache: {cold['cache']}"]
    assert any(name.endswith(".nbi") for name in files_under(cold["cache"]))  # the kernels are cached there
    assert all(len(losses) == 2 for losses in cold["losses"].values())
    assert files_under(site) == installed  # nothing was written into the install

    # 2. A writable install, a warm run: still nothing inside the package but what pip put there.
    warm = run_installed(site, tmp_path, {"HOME": str(home), cache.ENVIRONMENT: cold["cache"]}, read_only=False)
    assert warm["losses"] == cold["losses"] and warm["cache"] == cold["cache"]
    leftovers = {path for path in files_under(site) - installed_files(site) if path.startswith("nnxp" + os.sep)}
    assert not leftovers, f"files an uninstall would leave behind: {sorted(leftovers)[:5]}"

    # 3. Uninstall as pip does (the recorded files, then the folders left empty), reinstall, import.
    for path in installed_files(site):
        os.remove(site / path)
    for where, _, _ in sorted(os.walk(site), key=lambda entry: -len(entry[0])):
        if not os.listdir(where) and where != str(site):
            os.rmdir(where)
    assert not (site / "nnxp").exists()  # no stray folder to become a namespace package
    pip(["install", "--no-deps", "--target", str(site), wheel])
    imported = subprocess.run([sys.executable, "-c", "import nnxp; print(nnxp.__file__, nnxp.Model.__name__)"],
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True)
    assert imported.stdout.split() == [str(site / "nnxp" / "__init__.py"), "Model"], imported.stderr
