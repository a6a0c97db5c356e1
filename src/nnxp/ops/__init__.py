"""Operations too slow as plain array code: convolution, pooling, recurrent loops.

Each op comes as a forward and a backward function taking and returning arrays. Its
reference version, written only with Array API standard functions, is the one to read
and the one that runs on every backend. When the layer's backend runs in the
``numba`` kernel mode, the op hands the same arguments to the compiled kernel of the
same name instead: ``nnxp.kernels.cpu`` (numba.njit) for NumPy arrays,
``nnxp.kernels.cuda`` (numba.cuda.jit) for CuPy arrays. This module is the one place
where that choice is made.

The two kernel packages differ in one convention (``on_device``): the CPU kernels do
a whole op and return its results; the CUDA kernels, which may not call CuPy, fill
outputs that the op allocates, and leave the matrix products to the op (cuBLAS,
through ``xp.matmul``). So on the GPU, convolution is the reference's im2col + matrix
product with the two moves done by kernels, and a recurrent op is the reference's
time loop with each step's element-wise work done by one fused kernel.
"""

from __future__ import annotations

from ..backend import backend_of


def fast_kernels(kernels: str, array):
    """The compiled kernel module for ``array``'s backend, or None for the reference code.

    Numba is imported here, at the first call in ``numba`` mode, never before.
    """
    if kernels != "numba":
        return None
    where = backend_of(array)
    if where == "cpu":
        from ..kernels import cpu

        return cpu
    if where == "gpu":
        from ..kernels import cuda

        return cuda
    return None


def on_device(module) -> bool:
    """True for the CUDA kernels (outputs given by the op, matrix products left to it);
    False for the CPU kernels (each does its whole op) and for None."""
    return getattr(module, "ON_DEVICE", False)


def sum_rows(A):
    """sum(A, axis=0) of a tall matrix A (rows, k): the bias gradient of a layer, summed
    over every sample, pixel and step. Computed as the product ones(1, rows) @ A.

    The same sum, but a matrix product keeps every core of a GPU busy, whereas CuPy's
    reduction along the long axis gives one thread to each of the k columns: measured
    on an H100 for W7's first convolution, (262144, 32), 4.7 ms as a reduction, the
    larger part of the layer's whole forward and backward pass (7 ms). On the CPU it is
    one BLAS call, as fast as the reduction.
    """
    from array_api_compat import array_namespace, device

    xp = array_namespace(A)
    ones = xp.ones((1, A.shape[0]), dtype=A.dtype, device=device(A))
    return (ones @ A)[0, ...]

