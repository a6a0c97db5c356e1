"""Backends: where the arrays live and which code runs on them.

A backend is one small, immutable object, of one class per backend. Every class
answers the same questions (the interface, ``Backend``)::

    CpuBackend(dtype_name="float32", kernel_mode="numba")
        .name           "cpu"
        .xp             the Array API namespace of its arrays (NumPy through array-api-compat)
        .device         the device new arrays are created on
        .dtype          the floating dtype of data and parameters (float32 unless asked)
        .kernel_mode    "numba": the hot loops run in compiled kernels (Numba on cpu,
                        Numba-CUDA on gpu); "reference": the readable array-API code
        .asarray(x)     host data (or any backend's array) onto this backend
        .to_numpy(x)    any array back on the host, as NumPy
        .synchronize()  wait for the device (GPU timing needs it)
        .random(seed)   a seeded stream of uniform random arrays on this backend
        .kernel_package the compiled kernels of its arrays, which ``nnxp.ops`` imports
        .probe()        usable here? and why not (``nnxp info``, and the errors)

There are three of them, registered by name in ``BACKEND_CLASSES``:

* ``cpu``    NumPy arrays; kernels ``numba`` (default where numba imports) or ``reference``.
* ``gpu``    CuPy arrays; kernels ``numba`` (Numba-CUDA) or ``reference``.
* ``strict`` array-api-strict arrays, reference code only. It has no speed and no
             extras: a layer that runs here uses nothing but the standard, which is
             how the tests prove that the layers do not depend on NumPy.

A new backend is one new class here, registered with ``@registered``; nothing
elsewhere asks which backend it is on. Choosing one::

    nnxp.set_backend("gpu", dtype="float64")       # for the rest of the script
    with nnxp.use_backend("cpu", kernels="reference"):
        ...                                         # for a block only
    NNXP_BACKEND=gpu NNXP_DTYPE=float64 python train.py

(``kernels=`` is the name of the kernel mode in these calls and in ``NNXP_KERNELS``.)

Layers never ask which backend they are on: they take ``xp`` from the arrays they
receive (``array_namespace(A)``, below: array-api-compat's, remembered per array type). Only ``nnxp.ops`` reads the kernel mode to pick a
kernel, and only this module makes CuPy or array-api-strict arrays (``nnxp.distributed``
imports CuPy for NCCL alone). Nothing heavy is
imported until a backend is first used, so ``import nnxp`` stays fast. How many CPU
threads the kernels and BLAS use is ``nnxp.threads``'s business: it hears of every
change of backend here (``on_backend_change``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import ClassVar

import numpy as np

from . import checks

DTYPES = ("float32", "float64")
KERNEL_MODES = ("numba", "reference")

GPU_INSTALL_HINT = (
    "install the GPU extra that matches your CUDA driver: "
    "pip install 'nnxp[gpu-cu12]' (CUDA 12) or pip install 'nnxp[gpu-cu13]' (CUDA 13)"
)


class BackendUnavailable(RuntimeError):
    """A backend was asked for that this machine cannot provide (the message says why)."""


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


# --------------------------------------------------------------------------- the interface

# Each backend's probe answers (available, reason) once per process: importing CuPy and
# asking the driver for a device is slow, and the answer does not change while we run.
_probed: dict[str, tuple[bool, str]] = {}


@dataclass(frozen=True)
class Backend:
    """What every backend answers: a namespace, a device, a floating dtype, a kernel mode.

    Frozen (a backend never changes; set another one) and compared by value:
    ``Backend("cpu", "float32", "numba")`` is ``CpuBackend("cpu", "float32", "numba")``,
    equal to every other such, and usable as a dictionary key.
    """

    name: str
    dtype_name: str = "float32"
    kernel_mode: str = "reference"

    # What the class says about all its backends (overridden by each):
    kernel_package: ClassVar[str | None] = None  # its compiled kernels, imported by nnxp.ops
    array_module: ClassVar[str] = ""  # the library whose arrays it holds
    transport: ClassVar[str] = "mpi"  # how nnxp.distributed sums its arrays across processes
    accelerator: ClassVar[bool] = False  # its arrays live in an accelerator's memory
    thread_policy: ClassVar[bool] = False  # nnxp.threads shares the CPU's cores for it (kernels or BLAS)

    def __new__(cls, *args, **kwargs):
        if cls is Backend:  # Backend("gpu", ...) makes the class registered as "gpu"
            cls = backend_class(args[0] if args else kwargs["name"])
        return super().__new__(cls)

    def __post_init__(self):
        if self.name != type(self).name:
            raise ValueError(f"{type(self).__name__} is the {type(self).name!r} backend, not {self.name!r}")

    # ------------------------------------------------------------------ the class's questions
    @classmethod
    def probe(cls) -> tuple[bool, str]:
        """(usable here, the library's version or why not), asked once per process."""
        if cls.name not in _probed:
            _probed[cls.name] = cls._find()
        return _probed[cls.name]

    @classmethod
    def _find(cls) -> tuple[bool, str]:
        raise NotImplementedError

    @classmethod
    def compiled_kernels_available(cls) -> bool:
        """Whether the ``numba`` kernel mode can run here."""
        return False

    @classmethod
    def kernel_mode_for(cls, asked: str | None) -> str:
        """The kernel mode a new backend of this class runs in: ``asked``, or by default
        ``numba`` where its kernels can run, else ``reference``; BackendUnavailable where
        ``numba`` is asked for and cannot run."""
        fast = cls.compiled_kernels_available()
        if asked is None:
            return "numba" if fast else "reference"
        if asked == "numba" and not fast:
            raise BackendUnavailable(f"kernels='numba' on {cls.name!r} needs {cls._kernels_need()}")
        return asked

    @classmethod
    def _kernels_need(cls) -> str:
        return "compiled kernels, which it has none of"

    @classmethod
    def owns(cls, array) -> bool:
        """Whether ``array`` is one of this backend's arrays (by the library it comes from)."""
        return type(array).__module__.startswith(cls.array_module)

    @classmethod
    def device_info(cls) -> dict:
        """Its device's name, memory and drivers, for ``nnxp info`` (empty without one)."""
        return {}

    # ------------------------------------------------------------------ the instance
    @property
    def xp(self):
        """The Array API namespace of this backend's arrays."""
        raise NotImplementedError

    @property
    def dtype(self):
        return getattr(self.xp, self.dtype_name)

    @property
    def device(self):
        raise NotImplementedError

    @property
    def kernels(self) -> str:
        """The kernel mode, under the name ``set_backend(kernels=...)`` gives it."""
        return self.kernel_mode

    @property
    def target(self) -> str:
        """"cpu-numba", "gpu-reference", ...: the backend and kernel mode, as
        ``nnxp compare`` names what it compares."""
        return f"{self.name}-{self.kernel_mode}"

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
        return self._from_host(host, dtype)

    def _from_host(self, host: np.ndarray, dtype):
        raise NotImplementedError

    def to_numpy(self, x) -> np.ndarray:
        """An array (of any backend) on the host, as NumPy."""
        return to_numpy(x)

    def synchronize(self) -> None:
        """Wait until the device has finished queued work (GPU timing needs this); the
        host backends have none to wait for."""

    def free_memory(self) -> int | None:
        """Bytes free on the device (None on the host, where memory is not the limit)."""
        return None

    def random(self, seed: int | None) -> "RandomStream":
        """A seeded stream of uniform random arrays that live on this backend."""
        return RandomStream(self, seed)

    def __str__(self) -> str:
        return f"{self.name} ({self.dtype_name}, kernels={self.kernel_mode})"


class RandomStream:
    """Uniform random numbers on a backend (the Array API standard has no random module),
    from a NumPy Generator; one seed, one sequence. Where the stream stands (``state``)
    is JSON-ready data, so that a saved model resumes it."""

    def __init__(self, backend: Backend, seed: int | None):
        self.backend = backend
        self._generator = np.random.default_rng(seed)

    @property
    def state(self):
        return self._generator.bit_generator.state

    @state.setter
    def state(self, value) -> None:
        if value is not None:
            self._generator.bit_generator.state = value

    def resume(self, state) -> bool:
        """Go on from a ``state`` read before (a saved model's); True where that can be done."""
        self.state = state
        return True

    def uniform(self, shape, dtype=None):
        dtype_name = self.backend.dtype_name if dtype is None else _dtype_name(dtype)
        draw = self._generator.random(tuple(shape), dtype=dtype_name)
        return self.backend.asarray(draw, dtype=dtype_name)


# --------------------------------------------------------------------------- the registry

BACKEND_CLASSES: dict[str, type[Backend]] = {}  # name -> class, in the order `nnxp info` lists them


def registered(cls: type[Backend]) -> type[Backend]:
    """Register a backend class under its name: set_backend(name) finds it there."""
    BACKEND_CLASSES[cls.name] = cls
    return cls


def backend_class(name: str) -> type[Backend]:
    """The class of the backend called ``name`` (ValueError for an unknown one)."""
    if name not in BACKEND_CLASSES:
        raise ValueError(f"unknown backend {name!r}; expected one of {tuple(BACKEND_CLASSES)}")
    return BACKEND_CLASSES[name]


# --------------------------------------------------------------------------- the three backends


@registered
@dataclass(frozen=True)
class CpuBackend(Backend):
    """NumPy arrays on the host; the compiled kernels are Numba's (``nnxp.kernels.cpu``)."""

    name: str = "cpu"
    kernel_package: ClassVar[str] = "nnxp.kernels.cpu"
    array_module: ClassVar[str] = "numpy"
    thread_policy: ClassVar[bool] = True

    @classmethod
    def _find(cls):
        return True, f"NumPy {np.__version__}"

    @classmethod
    def compiled_kernels_available(cls) -> bool:
        return numba_available()

    @classmethod
    def _kernels_need(cls) -> str:
        return "numba"

    @property
    def xp(self):
        import array_api_compat.numpy

        return array_api_compat.numpy

    @property
    def device(self):
        return "cpu"

    def _from_host(self, host, dtype):
        return np.asarray(host, dtype=dtype)


@registered
@dataclass(frozen=True)
class GpuBackend(Backend):
    """CuPy arrays on a CUDA GPU; the compiled kernels are Numba-CUDA's (``nnxp.kernels.cuda``)."""

    name: str = "gpu"
    kernel_package: ClassVar[str] = "nnxp.kernels.cuda"
    array_module: ClassVar[str] = "cupy"
    transport: ClassVar[str] = "nccl"
    accelerator: ClassVar[bool] = True

    @classmethod
    def _find(cls):
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

    @classmethod
    def compiled_kernels_available(cls) -> bool:
        return numba_cuda_available()

    @classmethod
    def _kernels_need(cls) -> str:
        return f"numba-cuda with a GPU; {GPU_INSTALL_HINT}"

    @classmethod
    def device_info(cls) -> dict:
        """Device, memory, driver and CUDA runtime of the GPU CuPy uses (empty without one)."""
        if not cls.probe()[0]:
            return {}
        import cupy

        runtime = cupy.cuda.runtime
        properties = runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = properties["name"].decode() if isinstance(properties["name"], bytes) else properties["name"]

        def cuda_version(v: int) -> str:
            return f"{v // 1000}.{v % 1000 // 10}"

        return {"device": name, "memory": f"{properties['totalGlobalMem'] / 2**30:.0f} GiB",
                "driver (CUDA)": cuda_version(runtime.driverGetVersion()),
                "runtime (CUDA)": cuda_version(runtime.runtimeGetVersion())}

    @property
    def xp(self):
        import array_api_compat.cupy

        return array_api_compat.cupy

    @property
    def device(self):
        import cupy

        return cupy.cuda.Device()

    def _from_host(self, host, dtype):
        import cupy

        return cupy.asarray(host, dtype=dtype)

    def synchronize(self) -> None:
        import cupy

        cupy.cuda.get_current_stream().synchronize()

    def free_memory(self) -> int | None:
        import cupy

        return int(cupy.cuda.runtime.memGetInfo()[0])

    def random(self, seed: int | None) -> "DeviceRandomStream":
        return DeviceRandomStream(self, seed)


class DeviceRandomStream(RandomStream):
    """Uniform random numbers drawn by CuPy on the device, so that a dropout mask costs
    no copy. CuPy's generator state cannot be read out: ``state`` is None, and a saved
    state cannot be resumed (``resume`` says so; the layer then seeds a fresh stream)."""

    def __init__(self, backend: Backend, seed: int | None):
        self.backend, self._seed = backend, seed
        self._generator = None  # made at the first draw: a stream never drawn from costs the device nothing

    @property
    def state(self):
        return None

    @state.setter
    def state(self, value) -> None:
        pass  # nothing to restore it into

    def resume(self, state) -> bool:
        return False

    def uniform(self, shape, dtype=None):
        if self._generator is None:
            import cupy

            self._generator = cupy.random.default_rng(self._seed)
        dtype_name = self.backend.dtype_name if dtype is None else _dtype_name(dtype)
        return self._generator.random(tuple(shape), dtype=dtype_name)


@registered
@dataclass(frozen=True)
class StrictBackend(Backend):
    """array-api-strict arrays: the Array API standard and nothing more, reference code only."""

    name: str = "strict"
    array_module: ClassVar[str] = "array_api_strict"

    @classmethod
    def _find(cls):
        if importlib.util.find_spec("array_api_strict") is None:
            return False, "array-api-strict is not installed (pip install array-api-strict)"
        return True, "array-api-strict " + importlib.import_module("array_api_strict").__version__

    @classmethod
    def kernel_mode_for(cls, asked: str | None) -> str:
        if asked == "numba":
            raise BackendUnavailable("the strict backend runs the reference code only")
        return "reference"

    @property
    def xp(self):
        import array_api_strict

        return array_api_strict

    @property
    def device(self):
        return self.xp.Device("CPU_DEVICE")

    def _from_host(self, host, dtype):
        return self.xp.asarray(np.ascontiguousarray(host), dtype=dtype)


BACKENDS = tuple(BACKEND_CLASSES)  # ("cpu", "gpu", "strict")


def available_backends() -> dict[str, tuple[bool, str]]:
    """Every backend with (available, why or version), for ``nnxp info`` and errors."""
    return {name: cls.probe() for name, cls in BACKEND_CLASSES.items()}


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
    """Check that a backend is usable here and build it (raises BackendUnavailable).
    ``kernels`` is the kernel mode, "numba" or "reference" (default: numba where it runs)."""
    cls = backend_class(name)
    available, reason = cls.probe()
    if not available:
        raise BackendUnavailable(f"backend {name!r} is not available: {reason}")
    dtype_name = "float32" if dtype is None else _dtype_name(dtype)
    if kernels is not None and kernels not in KERNEL_MODES:
        raise ValueError(f"unknown kernel mode {kernels!r}; expected one of {KERNEL_MODES}")
    return cls(name, dtype_name, cls.kernel_mode_for(kernels))


_current: Backend | None = None

# Who hears of each backend that becomes the current one: nnxp.threads sets BLAS's threads
# for it. (This module imports none of them; they register here when they are imported.)
_listeners: list = []


def on_backend_change(listener) -> None:
    """Call ``listener(backend)`` whenever a backend becomes the current one."""
    _listeners.append(listener)


def _make_current(backend: Backend) -> Backend:
    global _current
    _current = backend
    for listener in _listeners:
        listener(backend)
    return backend


def get_backend() -> Backend:
    """The backend in use: the last one set, else NNXP_BACKEND / NNXP_DTYPE / NNXP_KERNELS."""
    if _current is None:
        _make_current(_from_environment())
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
    return _make_current(name if isinstance(name, Backend) else make_backend(name, dtype, kernels))


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
            _make_current(previous)


def set_dtype(dtype) -> Backend:
    """Keep the current backend and kernel mode, change the floating dtype (NumpyDL's setting)."""
    current = get_backend()
    return set_backend(current.name, dtype, current.kernel_mode)


def resolve(backend: str | Backend | None, dtype=None) -> Backend:
    """A Backend from a name, a Backend or None (the current one), with an optional dtype."""
    if backend is None:
        backend = get_backend()
    elif isinstance(backend, str):
        current = get_backend()
        kernel_mode = current.kernel_mode if current.name == backend else None
        backend = make_backend(backend, dtype or current.dtype_name, kernel_mode)
    if dtype is not None and _dtype_name(dtype) != backend.dtype_name:
        backend = replace(backend, dtype_name=_dtype_name(dtype))
    return backend


# --------------------------------------------------------------------------- namespaces

_namespaces: dict = {}  # the types of the arrays asked about -> their namespace


def array_namespace(*arrays):
    """The Array API namespace of ``arrays``: ``array_api_compat.array_namespace``,
    remembered for each combination of their types. The namespace of an array depends
    on its type only (NumPy's, CuPy's, array-api-strict's), and finding it costs ~0.7 us
    a call, a dozen calls a training step: on W1, whose whole step is ~70 us, the cache
    made an epoch 8% faster (4.04 -> 3.70 ms)."""
    key = tuple(map(type, arrays))
    namespace = _namespaces.get(key)
    if namespace is None:
        from array_api_compat import array_namespace as find

        namespace = _namespaces[key] = find(*arrays)
    return namespace


# --------------------------------------------------------------------------- host side


def to_numpy(x) -> np.ndarray:
    """Any backend's array (or a list, or a scalar) as a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and GpuBackend.owns(x):
        return x.get()
    if hasattr(x, "__dlpack__") and not isinstance(x, np.generic):
        try:
            return np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError):
            pass
    return np.asarray(x)


def backend_class_of(x) -> type[Backend]:
    """The class of the backend an array belongs to; the cpu backend's for NumPy arrays
    and for anything else that is not an array of another backend (lists, scalars)."""
    return next((cls for cls in BACKEND_CLASSES.values() if cls.owns(x)), CpuBackend)


def backend_of(x) -> str:
    """The name of the backend an array belongs to ("cpu", "gpu" or "strict")."""
    return backend_class_of(x).name
