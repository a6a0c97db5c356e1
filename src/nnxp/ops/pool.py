"""2-D pooling (max, min, mean), forward and backward.

Shapes: X (m, H, W, C) -> A (m, oh, ow, C); each channel is pooled on its own.
``pool_size`` (ph, pw) and ``strides`` (sh, sw) are pairs (windows overlap when a stride
is smaller than the pool); ``padding`` is ((top, bottom), (left, right)) in pixels.
Xp is X padded with a value no window can pick: -inf for max, +inf for min, and 0 for
mean, where the padded zeros *count* in the average (PyTorch's count_include_pad=True):

    A[n, y, x, c] = max / min / mean over i < ph, j < pw of Xp[n, sh*y + i, sw*x + j, c]

Backward, given dA = dL/dA::

    mean:       every pixel of a window receives dA / (ph * pw)
    max, min:   ONE pixel of each window receives dA, the others nothing: the one
                holding the extreme, the FIRST in row-major order when several are
                equal (PyTorch's rule for max); argmax and argmin pick exactly it

and each pixel sums what it receives from every window that covers it (col2im).

Each function hands its arguments unchanged to the compiled kernel of the same name
when ``kernel_mode`` asks for one (see ``nnxp.ops``); on the GPU it also hands over the
output, allocated here. What follows is the reference, in the steps it numbers::

    (1) windows = im2col(Xp)                       (m, oh, ow, ph*pw, C)
    (2) A = max / min / mean of each window        over its ph*pw values
    (3) dcols = what each window's pixels receive  (the rule above)
    (4) dX = col2im(dcols), with the padding cut off
"""

from __future__ import annotations

from ..backend import array_namespace

from . import kernels_for
from .windows import col2im, crop_images, im2col, output_size, pad_images

MODES = ("max", "mean", "min")
_PAD_VALUE = {"max": -float("inf"), "min": float("inf"), "mean": 0.0}


def pool2d_forward(X, pool_size, strides, padding, mode: str, kernel_mode: str = "reference"):
    """A (m, oh, ow, C): the max, min or mean of each window of X (m, H, W, C)."""
    kernels = kernels_for(kernel_mode, X)
    if kernels.whole_op:
        return kernels.run("pool2d_forward", X, pool_size, strides, padding, mode)
    xp = array_namespace(X)
    if kernels.on_device:  # the CUDA kernel fills an array from CuPy's memory pool
        A = xp.empty((X.shape[0], *output_size(tuple(X.shape[1:3]), pool_size, strides, padding), X.shape[3]),
                     dtype=X.dtype)
        kernels.run("pool2d_forward", X, pool_size, strides, padding, mode, A)
        return A
    windows = im2col(pad_images(X, padding, _PAD_VALUE[mode]), pool_size, strides)  # (1) (m, oh, ow, ph*pw, C)
    if mode == "max":  # (2)
        return xp.max(windows, axis=3)
    if mode == "min":
        return xp.min(windows, axis=3)
    return xp.mean(windows, axis=3)


def pool2d_backward(dA, X, pool_size, strides, padding, mode: str, kernel_mode: str = "reference", A=None):
    """dX (m, H, W, C) from dA = dL/dA (m, oh, ow, C) and the forward's X.

    A, the forward's output, is optional: the CPU kernel uses it to find the extreme
    pixels faster (see ``nnxp.kernels.cpu.pool``); the code here does not need it."""
    kernels = kernels_for(kernel_mode, X)
    if kernels.whole_op:
        return kernels.run("pool2d_backward", dA, X, pool_size, strides, padding, mode, A)
    xp = array_namespace(dA, X)
    if kernels.on_device:
        dX = xp.empty(X.shape, dtype=X.dtype)
        kernels.run("pool2d_backward", dA, X, pool_size, strides, padding, mode, dX)
        return dX
    Xp = pad_images(X, padding, _PAD_VALUE[mode])
    windows = im2col(Xp, pool_size, strides)  # (1) (m, oh, ow, k, C), k = ph * pw
    k = windows.shape[3]
    dA = dA[:, :, :, None, :]
    if mode == "mean":  # (3)
        dcols = xp.broadcast_to(dA / k, windows.shape)
    else:
        # argmax and argmin return the first of equal values: the tie rule, for free
        first = xp.argmax(windows, axis=3) if mode == "max" else xp.argmin(windows, axis=3)  # (m, oh, ow, C)
        taps = xp.reshape(xp.arange(k, dtype=first.dtype), (1, 1, 1, k, 1))
        dcols = xp.where(first[:, :, :, None, :] == taps, dA, 0.0)
    return crop_images(col2im(dcols, Xp.shape[1:3], pool_size, strides), padding)  # (4)
