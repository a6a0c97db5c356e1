"""Where the compiled kernels are kept between runs: a per-user folder, never the package.

Numba compiles a kernel at its first call (0.4 to 5 s per dtype) and, asked to cache
it (``cache=True``), writes the machine code to disk so that the next run loads it in
a fraction of a second. Left to itself, Numba writes that cache next to the source, in
the package's own ``__pycache__``, and that goes wrong twice:

* an install that cannot be written (a system or container install, a school lab, a
  shared machine) with a HOME that cannot be written either leaves Numba no folder,
  and it refuses at import: ``cannot cache function ...: no locator available``;
* files written into ``site-packages/nnxp/`` are not in pip's record of the install,
  so an uninstall leaves them, and with them a folder ``nnxp/`` without
  ``__init__.py``, which Python then imports as an empty namespace package in place
  of a later (editable) install.

So nnxp's kernels are cached in the first of these folders that can be written:

1. ``NNXP_CACHE_DIR``, when it is set;
2. the platform's per-user cache folder (``~/.cache/nnxp``, or under
   ``XDG_CACHE_HOME``; ``~/Library/Caches/nnxp`` on macOS; ``%LOCALAPPDATA%`` on
   Windows): the rule Numba follows for its own per-user cache, through the same
   ``appdirs`` module it ships;
3. a folder of this user's own in the temporary folder, ``nnxp-cache-<uid>``, made
   private and used only if it belongs to this user and no one else may write to it:
   a cache holds machine code that is loaded and run, and its index is a pickle, so
   a folder that another user could have prepared is never trusted.

Where none can be written, the kernels compile in memory at each run, and one warning
says so. ``nnxp info`` shows which folder is in use.

How, and why this way. Numba picks a cache folder per function by asking a list of
"locators" in turn (``numba.core.caching.CacheImpl._locator_classes``: the user's
``NUMBA_CACHE_DIR``, the source's ``__pycache__``, the per-user folder, ...). Setting
``NUMBA_CACHE_DIR`` would have been one line, but it moves the cache of *every* Numba
function in the process, the user's own included, and must be set before Numba is
imported. Instead our kernels, and only they, get a cache whose single locator points
to the folder above: ``njit`` below is ``numba.njit`` with the cache object that
``cache=True`` would have made (``Dispatcher.enable_caching``) replaced by one of
Numba's own cache classes with that locator. The files, their format and when they
go stale (a changed source, another Numba version or CPU) are Numba's; only the
folder is ours, and what counts as the source. Numba stamps a cached function with its
own file alone, but a kernel holds the machine code of every function it inlines or
calls: the recurrent kernels compile in ``cpu/fastmath.py``'s activations, and every
kernel the codes of ``activation_codes.py``. So a kernel's stamp covers the files of
its own folder and the shared modules of ``kernels/`` beside this one: an edit to any of
them compiles the kernels of that folder again, instead of loading stale code. The
CUDA kernels get the same treatment (``cuda_cached``).
"""

from __future__ import annotations

import functools
import os
import stat
import tempfile
import warnings

import numba
from numba.core.caching import (CompileResultCacheImpl, FunctionCache, _CacheLocator, _hash_source_file,
                                _SourceFileBackedLocatorMixin)
from numba.misc.appdirs import AppDirs

ENVIRONMENT = "NNXP_CACHE_DIR"


class KernelCacheWarning(RuntimeWarning):
    """No folder could hold the compiled kernels (or not the one asked for)."""


# --------------------------------------------------------------------------- the folder


@functools.lru_cache(maxsize=None)
def cache_folder() -> str | None:
    """The folder that holds nnxp's compiled kernels, or None (compiled in memory).

    Chosen once per process, in the order of the module docstring; warns at most once:
    where none can be used, or where ``NNXP_CACHE_DIR`` names one that cannot.
    """
    refused = []  # (what, why) of each candidate that could not be used
    for what, folder, distrust in _candidates():
        why = distrust or _unwritable(folder)
        if why is None:
            if refused and refused[0][0].startswith(ENVIRONMENT):
                _warn(f"nnxp: {_listed(refused)}; the compiled kernels are cached in {folder} instead")
            return folder
        refused.append((what, why))
    _warn(f"nnxp: no folder can hold the compiled kernels ({_listed(refused)}): they are compiled in memory "
          f"at every run, which costs seconds at the first use of each layer; set {ENVIRONMENT} to a folder "
          f"you can write to")
    return None


def _candidates():
    """(what to call it, folder, why it is not trusted or None), in the order of use."""
    asked = os.environ.get(ENVIRONMENT)
    if asked:
        yield f"{ENVIRONMENT}={asked}", os.path.abspath(os.path.expanduser(asked)), None
    try:
        user = AppDirs(appname="nnxp", appauthor=False).user_cache_dir
    except Exception:  # no HOME at all
        user = None
    if user:
        yield user, user, None
    try:
        base = tempfile.gettempdir()
    except OSError:  # "no usable temporary directory"
        return
    if not hasattr(os, "getuid"):  # Windows: the temporary folder is per user already
        yield base, os.path.join(base, "nnxp-cache"), None
        return
    folder = os.path.join(base, f"nnxp-cache-{os.getuid()}")
    yield folder, folder, _private_folder_problem(folder)


def _private_folder_problem(folder: str) -> str | None:
    """Make ``folder`` (mode 0700) if it does not exist; None if it is a folder of this
    user's that no one else may write to, else why not (see the module docstring)."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError as error:
        return f"cannot be made ({error.strerror or error})"
    info = os.lstat(folder)  # lstat: a link planted in its place is not followed
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return (f"is not a private folder of this user (owner {info.st_uid}, "
                f"mode {stat.filemode(info.st_mode)})")
    return None


def _unwritable(folder: str) -> str | None:
    """None if ``folder`` exists (or can be made) and takes a file; else why not.
    (The test Numba itself makes of a cache folder.)"""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        return f"cannot be written ({error.strerror or error})"
    return None


def _listed(refused) -> str:
    return "; ".join(f"{what} {why}" for what, why in refused)


def _warn(message: str) -> None:
    warnings.warn(message, KernelCacheWarning, stacklevel=3)


# --------------------------------------------------------------------------- Numba's side


class NnxpCacheLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
    """Numba's locator for a kernel of nnxp: the cache folder above, then one
    subfolder per source folder (``cpu_<hash of its path>``, Numba's own naming), so
    that two installs of nnxp never share files."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(cache_folder(), self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        """The contents of every source the kernel may have compiled in (see the module
        docstring): its folder's files and the shared files of ``kernels/``, by name."""
        folder = os.path.dirname(os.path.abspath(self._py_file))
        shared = os.path.dirname(os.path.abspath(__file__))
        return tuple((path, _stamp(path)) for path in _sources(folder) + _sources(shared))


def _sources(folder: str) -> list[str]:
    return sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".py"))


def _stamp(path: str) -> bytes:
    """Numba's own stamp of one file (a hash of its bytes, remembered per size and time)."""
    info = os.stat(path)
    return _hash_source_file(path, info.st_mtime, info.st_size)


class _CompileResultCacheImpl(CompileResultCacheImpl):
    _locator_classes = [NnxpCacheLocator]


class NnxpFunctionCache(FunctionCache):
    """Numba's cache of compiled CPU functions, kept in ``cache_folder()``."""

    _impl_class = _CompileResultCacheImpl


def njit(*args, cache: bool = False, **options):
    """``numba.njit``, where ``cache=True`` caches in ``cache_folder()`` (or, where
    there is none, compiles in memory) instead of inside the package."""
    if args and callable(args[0]):  # used bare: @njit
        return njit(cache=cache, **options)(args[0])

    def decorate(function):
        dispatcher = numba.njit(*args, **options)(function)
        if cache and cache_folder() is not None:
            dispatcher._cache = NnxpFunctionCache(dispatcher.py_func)  # what cache=True would set, our folder
        return dispatcher

    return decorate


def cuda_cached(dispatcher):
    """Give a ``numba.cuda.jit`` kernel (made without ``cache=True``) the same cache.
    Under Numba's CUDA simulator there is nothing to cache: the kernel is returned as it is."""
    if cache_folder() is not None and hasattr(dispatcher, "enable_caching"):
        dispatcher._cache = _cuda_cache_class()(dispatcher.py_func)
    return dispatcher


@functools.lru_cache(maxsize=None)
def _cuda_cache_class():
    """Numba-CUDA's kernel cache, kept in ``cache_folder()`` (numba-cuda has its own
    copy of the cache classes; the locator is the same)."""
    from numba.cuda.dispatcher import CUDACache, CUDACacheImpl

    class _CUDACacheImpl(CUDACacheImpl):
        _locator_classes = [NnxpCacheLocator]

    class NnxpCUDACache(CUDACache):
        _impl_class = _CUDACacheImpl

    return NnxpCUDACache
