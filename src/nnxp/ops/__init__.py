"""Operations too slow as plain array code: convolution, pooling, recurrent loops.

Each op comes as a forward and a backward function taking and returning arrays. Its
reference version, written only with Array API standard functions, is the one to read
and the one that runs on every backend. When the layer's backend runs in the
``numba`` kernel mode, the op hands the same arguments to the compiled kernel of the
same name instead: ``nnxp.kernels.cpu`` (numba.njit) for NumPy arrays,
``nnxp.kernels.cuda`` (numba.cuda.jit) for CuPy arrays. ``kernels_for``, below, is
the one place where that choice is made; every op starts by asking it.

The two kernel packages differ in one convention (``on_device``): the CPU kernels do
a whole op and return its results; the CUDA kernels, which may not call CuPy, fill
outputs that the op allocates, and leave the matrix products to the op (cuBLAS,
through ``xp.matmul``). So on the GPU, convolution is the reference's im2col + matrix
product with the two moves done by kernels, and a recurrent op is the reference's
time loop with each step's element-wise work done by one fused kernel
(``recurrent_gpu.py``).

The files: ``conv.py`` and ``pool.py`` (with ``windows.py``, the sliding-window
arithmetic and moves they share), ``recurrent.py`` (the reference RNN, GRU and LSTM,
with ``sequences.py``, what the reference and the GPU loops share), ``recurrent_gpu.py``
(the GPU time loops) and ``warmup.py`` (every kernel compiled ahead of time).
"""

from __future__ import annotations

import importlib
import sys
from typing import NamedTuple

from array_api_compat import device  # not A.device: NumPy's arrays have it from 2.0 only

from ..backend import array_namespace, backend_class_of


class Kernels(NamedTuple):
    """The compiled kernels an op hands its work to.

    ``module`` is the kernel package of the arrays' backend (``nnxp.kernels.cpu`` or
    ``nnxp.kernels.cuda``), or None, and then the reference code runs; ``codes`` are the
    op's activations as that package's integer codes (``RECURRENT_ACTIVATIONS``)."""

    module: object = None
    codes: tuple = ()

    @property
    def whole_op(self) -> bool:
        """A CPU kernel of the op's own name does the whole op, from the op's arguments."""
        return self.module is not None and not self.on_device

    @property
    def on_device(self) -> bool:
        """CUDA kernels: the op allocates what they fill, and does the matrix products."""
        return getattr(self.module, "ON_DEVICE", False)

    def run(self, name: str, *arguments, **options):
        """The kernel ``name`` of the module, given the arguments, then the codes (and
        ``options`` by name, e.g. need_dX)."""
        return getattr(self.module, name)(*arguments, *self.codes, **options)


REFERENCE = Kernels()  # no kernels: the reference code runs


def kernels_for(kernel_mode: str, array, activations=()) -> Kernels:
    """The kernels for an op on ``array`` (and these activations), or REFERENCE.

    In the ``reference`` mode, on the ``strict`` backend, or for an activation that the
    kernels do not know (each knows a fixed set, as small int codes; one with parameters,
    such as LReLU's alpha, is not among them), the reference code runs: a fallback by
    design, not an error. Numba is imported here, at the first call in the ``numba``
    mode, never before.
    """
    module = kernel_module(kernel_mode, array)
    if module is None:
        return REFERENCE
    known = getattr(module, "RECURRENT_ACTIVATIONS", {})
    codes = []
    for activation in activations:
        code = known.get(activation.name)
        if code is None or activation.params():
            return REFERENCE
        codes.append(code)
    return Kernels(module, tuple(codes))


def kernel_module(kernel_mode: str, array):
    """The compiled kernel package for ``array``'s backend in the ``numba`` mode, else None:
    the one that backend's class names (``kernel_package``; the strict backend has none)."""
    if kernel_mode != "numba":
        return None
    package = backend_class_of(array).kernel_package
    return None if package is None else importlib.import_module(package)


def paths_taken() -> list[tuple[str, str]]:
    """Which of its kernels each CPU op of this thread ran since the last call, as (op,
    path) pairs, path "direct" (Numba loops), "blas" (BLAS products) or "winograd" (a
    3x3 convolution by Winograd's transforms and BLAS products); the CPU
    kernels choose by the shapes (``nnxp.kernels.cpu.paths``). Empty where no CPU kernel
    ran (the reference code, the GPU), and never imports the kernels to say so."""
    package = sys.modules.get("nnxp.kernels.cpu")
    return [] if package is None else package.paths.taken()


def sum_rows(A):
    """sum(A, axis=0) of a tall matrix A (rows, k): the bias gradient of a layer, summed
    over every sample, pixel and step. Computed as the product ones(1, rows) @ A.

    The same sum, but a matrix product keeps every core of a GPU busy, whereas CuPy's
    reduction along the long axis gives one thread to each of the k columns: measured
    on an H100 for W7's first convolution, (262144, 32), 4.7 ms as a reduction, the
    larger part of the layer's whole forward and backward pass (7 ms). On the CPU it is
    one BLAS call, as fast as the reduction.

    The row of ones is made once per shape, dtype and device and kept (``_ones_row``):
    a layer asks for the same one at every batch, and making it cost 3/4 of the call
    (10.4 against 2.5 us for the product alone, a Dense layer's (32, 10) on the CPU;
    W1's step is ~230 us).
    """
    xp = array_namespace(A)
    return (_ones_row(xp, A.shape[0], A.dtype, device(A)) @ A)[0, ...]


_ONES: dict = {}  # (namespace, rows, dtype, device) -> ones (1, rows); read-only once made
_ONES_KEPT = 64  # rows of ones kept at most (one or two per layer and batch size)


def _ones_row(xp, rows, dtype, where):
    """ones (1, rows) of ``dtype`` on device ``where``, made once and kept. Nothing
    writes into it: every use is a matrix product that makes a new array."""
    try:
        key = (xp.__name__, rows, dtype, where)
        ones = _ONES.get(key)
    except TypeError:  # a device or dtype that cannot be a key: make it each time
        return xp.ones((1, rows), dtype=dtype, device=where)
    if ones is None:
        if len(_ONES) >= _ONES_KEPT:
            _ONES.clear()
        ones = _ONES[key] = xp.ones((1, rows), dtype=dtype, device=where)
    return ones
