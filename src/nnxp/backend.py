"""Backends: where the arrays live and which code runs on them.

A backend is one small, immutable object::

    Backend(name="cpu", dtype="float32", kernels="numba")
        .xp        the Array API namespace of its arrays (NumPy through array-api-compat)
        .device    the device new arrays are created on
        .dtype     the floating dtype of data and parameters (float32 unless asked)
        .kernels   "numba": the hot loops run in compiled kernels (Numba on cpu,
                   Numba-CUDA on gpu); "reference": the readable array-API code

There are three of them:

* ``cpu``    NumPy arrays; kernels ``numba`` (default where numba imports) or ``reference``.
* ``gpu``    CuPy arrays; kernels ``numba`` (Numba-CUDA) or ``reference``.
* ``strict`` array-api-strict arrays, reference code only. It has no speed and no
             extras: a layer that runs here uses nothing but the standard, which is
             how the tests prove that the layers do not depend on NumPy.

Choosing one::

    nnxp.set_backend("gpu", dtype="float64")       # for the rest of the script
    with nnxp.use_backend("cpu", kernels="reference"):
        ...                                         # for a block only
    NNXP_BACKEND=gpu NNXP_DTYPE=float64 python train.py

Layers never ask which backend they are on: they take ``xp`` from the arrays they
receive (``array_namespace(A)``). Only ``nnxp.ops`` reads ``kernels`` to pick a kernel,
and only this module imports CuPy or array-api-strict. Nothing heavy is imported
until a backend is first used, so ``import nnxp`` stays fast.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import checks

BACKENDS = ("cpu", "gpu", "strict")
DTYPES = ("float32", "float64")
KERNEL_MODES = ("numba", "reference")

GPU_INSTALL_HINT = (
    "install the GPU extra that matches your CUDA driver: "
    "pip install 'nnxp[gpu-cu12]' (CUDA 12) or pip install 'nnxp[gpu-cu13]' (CUDA 13)"
)


class BackendUnavailable(RuntimeError):
    """A backend was asked for that this machine cannot provide (the message says why)."""


# --------------------------------------------------------------------------- probing
# Each probe answers (available, reason) once per process: importing CuPy and asking
# the driver for a device is slow, and the answer does not change while we run.


@lru_cache(maxsize=None)
def _probe(name: str) -> tuple[bool, str]:
    if name == "cpu":
        return True, f"NumPy {np.__version__}"
    if name == "strict":
        if importlib.util.find_spec("array_api_strict") is None:
            return False, "array-api-strict is not installed (pip install array-api-strict)"
        return True, "array-api-strict " + importlib.import_module("array_api_strict").__version__
    if name == "gpu":
        return _probe_gpu()
    raise ValueError(f"unknown backend {name!r}; expected one of {BACKENDS}")


def _probe_gpu() -> tuple[bool, str]:
    if importlib.util.find_spec("cupy") is None:
        return False, f"CuPy is not installed; {GPU_INSTALL_HINT}"
    try:
        import cupy
    except Exception as error:  # a broken CuPy install raises all sorts of things
        return False, f"CuPy failed to import ({error}); {GPU_INSTALL_HINT}"
    try:
        # `import cupy` succeeds without a GPU; asking for a device is the real test.
        if not cupy.cuda.is_available():
            return False, "CuPy is installed but no CUDA device is usable (no GPU or no driver)"
        cupy.zeros(1)
    except Exception as error:
        return False, f"CuPy cannot use the GPU: {error}"
    return True, f"CuPy {cupy.__version__}"


@lru_cache(maxsize=None)
def numba_available() -> bool:
    """True where the Numba CPU kernels can run (numba is importable)."""
    return importlib.util.find_spec("numba") is not None


@lru_cache(maxsize=None)
def numba_cuda_available() -> bool:
    """True where Numba-CUDA can launch kernels (a GPU, or the CUDA simulator)."""
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:
        return False


def available_backends() -> dict[str, tuple[bool, str]]:
    """Every backend with (available, why or version), for ``nnxp info`` and errors."""
    return {name: _probe(name) for name in BACKENDS}


# --------------------------------------------------------------------------- the object


@dataclass(frozen=True)
class Backend:
    """One backend: a namespace, a device, a floating dtype and a kernel mode."""

    name: str
    dtype_name: str = "float32"
    kernels: str = "reference"

    @property
    def xp(self):
        return _namespace(self.name)

    @property
    def dtype(self):
        return getattr(self.xp, self.dtype_name)

    @property
    def device(self):
        if self.name == "gpu":
            import cupy

            return cupy.cuda.Device()
        if self.name == "strict":
            return self.xp.Device("CPU_DEVICE")
        return "cpu"

    # ------------------------------------------------------------------ moving data
    def asarray(self, x, dtype=None):
        """Bring host data (list, NumPy array, or any backend's array) onto this backend.

        Floating data takes the backend dtype unless ``dtype`` says otherwise; integer
        and boolean data keep their kind. This is the one place data crosses over.
        """
        host = to_numpy(x)
        if dtype is None:
            dtype = self.dtype if host.dtype.kind in "fc" or host.dtype == object else None
        elif isinstance(dtype, str):
            dtype = getattr(self.xp, dtype)
        if self.name == "gpu":
            import cupy

            return cupy.asarray(host, dtype=dtype)
        if self.name == "strict":
            host = np.ascontiguousarray(host)
            return self.xp.asarray(host, dtype=dtype)
        return np.asarray(host, dtype=dtype)

    def free_memory(self) -> int | None:
        """Bytes free on the device (None on the host, where memory is not the limit)."""
        if self.name != "gpu":
            return None
        import cupy

        return int(cupy.cuda.runtime.memGetInfo()[0])

    def random(self, seed: int | None) -> "RandomStream":
        """A seeded stream of uniform random arrays that live on this backend."""
        return RandomStream(self, seed)

    def synchronize(self) -> None:
        """Wait until the device has finished queued work (GPU timing needs this)."""
        if self.name == "gpu":
            import cupy

            cupy.cuda.get_current_stream().synchronize()

    def __str__(self) -> str:
        return f"{self.name} ({self.dtype_name}, kernels={self.kernels})"


class RandomStream:
    """Uniform random numbers on a backend (the Array API standard has no random module).

    On the GPU they are drawn by CuPy on the device, so a dropout mask costs no copy;
    elsewhere they come from a NumPy Generator. One seed, one sequence per backend.
    """

    def __init__(self, backend: Backend, seed: int | None):
        self.backend = backend
        if backend.name == "gpu":
            import cupy

            self._generator = cupy.random.default_rng(seed)
        else:
            self._generator = np.random.default_rng(seed)

    @property
    def state(self):
        """Where the stream stands, as JSON-ready data, so that a saved model resumes it;
        None on the GPU (CuPy's generator state cannot be read out)."""
        return None if self.backend.name == "gpu" else self._generator.bit_generator.state

    @state.setter
    def state(self, value) -> None:
        if value is not None and self.backend.name != "gpu":
            self._generator.bit_generator.state = value

    def uniform(self, shape, dtype=None):
        dtype_name = self.backend.dtype_name if dtype is None else _dtype_name(dtype)
        draw = self._generator.random(tuple(shape), dtype=dtype_name)
        if self.backend.name == "strict":
            return self.backend.asarray(draw, dtype=dtype_name)
        return draw


@lru_cache(maxsize=None)
def _namespace(name: str):
    if name == "cpu":
        import array_api_compat.numpy

        return array_api_compat.numpy
    if name == "gpu":
        import array_api_compat.cupy

        return array_api_compat.cupy
    import array_api_strict

    return array_api_strict


def _dtype_name(dtype) -> str:
    """'float32' from a string, a NumPy dtype or any namespace's dtype object."""
    if isinstance(dtype, str):
        name = dtype
    elif isinstance(dtype, type) and issubclass(dtype, np.generic):
        name = np.dtype(dtype).name
    else:
        name = getattr(dtype, "name", None) or str(dtype)
        name = name.rsplit(".", 1)[-1]
    if name not in DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}; expected one of {DTYPES}")
    return name


# --------------------------------------------------------------------------- choosing


def make_backend(name: str = "cpu", dtype=None, kernels: str | None = None) -> Backend:
    """Check that a backend is usable here and build it (raises BackendUnavailable)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {BACKENDS}")
    available, reason = _probe(name)
    if not available:
        raise BackendUnavailable(f"backend {name!r} is not available: {reason}")
    dtype_name = "float32" if dtype is None else _dtype_name(dtype)
    return Backend(name, dtype_name, _kernel_mode(name, kernels))


def _kernel_mode(name: str, kernels: str | None) -> str:
    if kernels is not None and kernels not in KERNEL_MODES:
        raise ValueError(f"unknown kernel mode {kernels!r}; expected one of {KERNEL_MODES}")
    if name == "strict":
        if kernels == "numba":
            raise BackendUnavailable("the strict backend runs the reference code only")
        return "reference"
    fast = numba_available() if name == "cpu" else numba_cuda_available()
    if kernels is None:
        return "numba" if fast else "reference"
    if kernels == "numba" and not fast:
        what = "numba" if name == "cpu" else f"numba-cuda with a GPU; {GPU_INSTALL_HINT}"
        raise BackendUnavailable(f"kernels='numba' on {name!r} needs {what}")
    return kernels


_current: Backend | None = None


def get_backend() -> Backend:
    """The backend in use: the last one set, else NNXP_BACKEND / NNXP_DTYPE / NNXP_KERNELS."""
    global _current
    if _current is None:
        _current = _from_environment()
        _apply_thread_policy(_current)
    return _current


def _from_environment() -> Backend:
    """The backend NNXP_BACKEND, NNXP_DTYPE and NNXP_KERNELS ask for; a bad value is an
    error that names its variable (the script itself may never mention a backend)."""
    name = checks.choice("NNXP_BACKEND", os.environ.get("NNXP_BACKEND") or "cpu", "environment", BACKENDS)
    dtype = checks.optional(checks.choice, "NNXP_DTYPE", os.environ.get("NNXP_DTYPE") or None, "environment", DTYPES)
    kernels = checks.optional(checks.choice, "NNXP_KERNELS", os.environ.get("NNXP_KERNELS") or None, "environment",
                              KERNEL_MODES)
    try:
        return make_backend(name, dtype, kernels)
    except BackendUnavailable as error:
        asked = f"NNXP_BACKEND={name}" + (f", NNXP_KERNELS={kernels}" if kernels else "")
        raise BackendUnavailable(f"{error} (asked for in the environment: {asked})") from None


def set_backend(name: str | Backend = "cpu", dtype=None, kernels: str | None = None) -> Backend:
    """Use this backend from now on; returns it. ``name`` may also be a Backend."""
    global _current
    _current = name if isinstance(name, Backend) else make_backend(name, dtype, kernels)
    _apply_thread_policy(_current)
    return _current


@contextlib.contextmanager
def use_backend(name: str | Backend = "cpu", dtype=None, kernels: str | None = None):
    """``with use_backend("gpu"):`` runs a block on a backend, then restores the last one."""
    global _current
    previous = _current
    try:
        yield set_backend(name, dtype, kernels)
    finally:
        _current = previous
        if previous is not None:
            _apply_thread_policy(previous)


def set_dtype(dtype) -> Backend:
    """Keep the current backend and kernels, change the floating dtype (NumpyDL's setting)."""
    current = get_backend()
    return set_backend(current.name, dtype, current.kernels)


def resolve(backend: str | Backend | None, dtype=None) -> Backend:
    """A Backend from a name, a Backend or None (the current one), with an optional dtype."""
    if backend is None:
        backend = get_backend()
    elif isinstance(backend, str):
        current = get_backend()
        kernels = current.kernels if current.name == backend else None
        backend = make_backend(backend, dtype or current.dtype_name, kernels)
    if dtype is not None and _dtype_name(dtype) != backend.dtype_name:
        backend = Backend(backend.name, _dtype_name(dtype), backend.kernels)
    return backend


# --------------------------------------------------------------------------- threads


_threads: int | None = None  # set_num_threads(n); None: every core
_blas_threads: int | None = None  # an explicit BLAS count, overriding the policy below


def set_num_threads(n: int, blas: int | None = None) -> None:
    """Use n CPU threads: Numba's kernels get n, and BLAS (matrix products) gets what the
    thread policy of the current backend gives it, or ``blas`` if that is set.

    The policy: on ``cpu`` with ``numba`` kernels, the kernels' parallel loops own the
    cores and BLAS runs on one thread; with ``reference`` kernels the matrix products
    carry the work and BLAS gets all n. The two pools never nest (no kernel calls BLAS),
    but OpenBLAS's idle threads spin on the cores that Numba's threads need: measured on
    2 cores, one LeNet epoch (W6) took 340 ms with both pools at 2 threads, 185 ms with
    BLAS at 1. Benchmarks call this to compare with PyTorch at the same thread count.
    """
    global _threads, _blas_threads
    n = checks.positive_int("n", n, "set_num_threads")
    blas = checks.optional(checks.positive_int, "blas", blas, "set_num_threads")
    _threads, _blas_threads = n, blas
    if numba_available():
        from .kernels import cpu  # noqa: F401  (sets how the pool's threads wait, before Numba starts it)
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _apply_thread_policy(get_backend())


def _apply_thread_policy(backend: Backend) -> None:
    """Set the BLAS threads for ``backend`` (see set_num_threads); other backends leave
    them alone."""
    if backend.name != "cpu":
        return
    from threadpoolctl import threadpool_limits

    n = _threads or os.cpu_count() or 1
    blas = _blas_threads or (1 if backend.kernels == "numba" else n)
    threadpool_limits(limits=blas, user_api="blas")


def thread_info() -> dict:
    """Thread counts in use: numba's pool and each BLAS/OpenMP library loaded; and how
    numba's idle workers wait (see ``nnxp.kernels.cpu``)."""
    info = {"cpu_count": os.cpu_count()}
    if numba_available():
        from .kernels import cpu  # noqa: F401  (its wait setting first: asking numba for threads starts its pool)
        import numba

        info["numba"] = numba.get_num_threads()
    if "OMP_WAIT_POLICY" in os.environ:
        info["idle workers (OMP_WAIT_POLICY)"] = os.environ["OMP_WAIT_POLICY"]
    elif "GOMP_SPINCOUNT" in os.environ:
        info["idle workers spin (GOMP_SPINCOUNT)"] = os.environ["GOMP_SPINCOUNT"]
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        info[f"{pool['internal_api']} ({pool['user_api']})"] = pool["num_threads"]
    return info


# --------------------------------------------------------------------------- host side


def to_numpy(x) -> np.ndarray:
    """Any backend's array (or a list, or a scalar) as a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    if hasattr(x, "__dlpack__") and not isinstance(x, np.generic):
        try:
            return np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError):
            pass
    return np.asarray(x)


def backend_of(x) -> str:
    """The name of the backend an array belongs to ("cpu", "gpu" or "strict")."""
    module = type(x).__module__
    if module.startswith("cupy"):
        return "gpu"
    if module.startswith("array_api_strict"):
        return "strict"
    return "cpu"
