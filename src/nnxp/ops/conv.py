"""2-D convolution (cross-correlation, as in every deep-learning library), forward and backward.

Shapes: X (m, H, W, C) images, W (kh, kw, C, F) filters, b (F,) or None,
Z (m, oh, ow, F). ``strides`` is (sh, sw); ``padding`` is ((top, bottom), (left, right))
in pixels (the layer turns 'same' and friends into numbers). Xp is X padded with zeros.

Forward, for every sample n, output pixel (y, x) and filter f::

    Z[n, y, x, f] = b[f] + sum_{i, j, c} Xp[n, sh*y + i, sw*x + j, c] * W[i, j, c, f]

With the windows gathered into rows, this is one matrix product; in the steps the
code below numbers::

    (1) cols = im2col(Xp)               every window as a row     (m*oh*ow, kh*kw*C)
    (2) Z = cols @ W_rows + b           W_rows = W as (kh*kw*C, F)      (m*oh*ow, F)

Backward, given dZ = dL/dZ (m, oh, ow, F), as rows dZ_rows (m*oh*ow, F)::

    (3) db = sum of dZ over n, y, x                                       (F,)
    (4) dW = cols.T @ dZ_rows             reshaped to (kh, kw, C, F)
    (5) dcols = dZ_rows @ W_rows.T        what each window sends back to its pixels
    (6) dX = col2im(dcols), with the padding cut off                      (m, H, W, C)

A layer applies its activation to Z, and going back needs dZ = dA * f'(Z) before (3).
``conv2d_activation_forward`` and ``conv2d_activation_backward`` are the two ops with
that step included::

    (7) A = f(Z)                        after (2)
    (8) dZ = dA * f'(Z)                 before (3); for ReLU, dA where A > 0 (exactly where Z > 0)

so that a compiled kernel can do it in the pass where the numbers are at hand: the
pass that writes Z, the pass that reads dA (an epilogue, and a prologue), instead of
two more passes over arrays as large as Z each way.

On the CPU, with ``kernel_mode="numba"``, each function hands its arguments unchanged
to the compiled kernel of the same name, which does the whole op: the direct loops
over the image, or im2col and one BLAS product per chunk of samples, whichever is
faster for the shapes (``nnxp.kernels.cpu``, ``paths.py``); the CPU kernels know ReLU
and the identity (``CONV_ACTIVATIONS``), and any other activation is applied here,
after the kernel. On the GPU the steps above run as written, with im2col and col2im
done by CUDA kernels (``_columns`` and ``_image_gradient``) and the three products on
cuBLAS (see ``nnxp.ops``). What follows is otherwise the reference.
"""

from __future__ import annotations

from ..backend import array_namespace

from . import kernels_for, sum_rows
from .windows import col2im, crop_images, im2col, output_size, pad_images


def conv2d_forward(X, W, b, strides, padding, kernel_mode: str = "reference"):
    """Z (m, oh, ow, F) from images X (m, H, W, C), filters W (kh, kw, C, F), bias b (F,) or None."""
    kernels = kernels_for(kernel_mode, X)
    if kernels.whole_op:
        return kernels.run("conv2d_forward", X, W, b, strides, padding)
    xp = array_namespace(X, W)
    kh, kw, C, F = W.shape
    cols = _columns(kernels, X, (kh, kw), strides, padding)  # (1) (m*oh*ow, kh*kw*C)
    Z = cols @ xp.reshape(W, (kh * kw * C, F))  # (2)
    if b is not None:
        Z = Z + b
    m, oh, ow = _grid(X, (kh, kw), strides, padding)
    return xp.reshape(Z, (m, oh, ow, F))


def conv2d_backward(dZ, X, W, strides, padding, need_dX: bool = True, kernel_mode: str = "reference"):
    """(dX, dW, db) from dZ = dL/dZ (m, oh, ow, F) and the forward's X and W.

    db is returned even for a layer without bias (it is the sum of dZ; ignore it).
    With ``need_dX=False`` (a first layer: nothing uses dL/dX there) dX is None and
    its cost, about half of the backward pass, is saved.
    """
    kernels = kernels_for(kernel_mode, X)
    if kernels.whole_op:
        return kernels.run("conv2d_backward", dZ, X, W, strides, padding, need_dX)
    xp = array_namespace(dZ, X, W)
    kh, kw, C, F = W.shape
    cols = _columns(kernels, X, (kh, kw), strides, padding)  # (1) again: cheaper to redo than to keep
    dZ_rows = xp.reshape(dZ, (cols.shape[0], F))
    W_rows = xp.reshape(W, (kh * kw * C, F))

    db = sum_rows(dZ_rows)  # (3)
    dW = xp.reshape(xp.matrix_transpose(cols) @ dZ_rows, (kh, kw, C, F))  # (4)
    if not need_dX:
        return None, dW, db
    dcols = dZ_rows @ xp.matrix_transpose(W_rows)  # (5) (m*oh*ow, kh*kw*C)
    return _image_gradient(kernels, dcols, X, (kh, kw), strides, padding), dW, db  # (6)


def conv2d_activation_forward(X, W, b, strides, padding, activation, kernel_mode: str = "reference"):
    """(Z, A): Z as ``conv2d_forward`` gives it and A = activation(Z), the layer's output."""
    kernels = kernels_for(kernel_mode, X)
    code = _activation_code(kernels, activation)
    if code is not None:
        return kernels.run("conv2d_activation_forward", X, W, b, strides, padding, code)
    Z = conv2d_forward(X, W, b, strides, padding, kernel_mode)
    return Z, activation(Z)  # (7)


def conv2d_activation_backward(dA, Z, A, X, W, strides, padding, activation, need_dX: bool = True,
                               kernel_mode: str = "reference"):
    """(dX, dW, db, dZ) from dA = dL/dA, the forward's Z and A = activation(Z), X and W:
    dZ = activation.backward(dA, Z, A), then ``conv2d_backward``."""
    kernels = kernels_for(kernel_mode, X)
    code = _activation_code(kernels, activation)
    if code is not None:
        return kernels.run("conv2d_activation_backward", dA, Z, A, X, W, strides, padding, need_dX, code)
    dZ = activation.backward(dA, Z, A)  # (8)
    return (*conv2d_backward(dZ, X, W, strides, padding, need_dX, kernel_mode), dZ)


def _activation_code(kernels, activation):
    """The code of ``activation`` for kernels that apply it themselves, else None."""
    if not kernels.whole_op or activation.params():
        return None
    return getattr(kernels.module, "CONV_ACTIVATIONS", {}).get(activation.name)


def _grid(X, window, strides, padding):
    """(m, oh, ow): the samples and the output pixels of each."""
    return (X.shape[0], *output_size(tuple(X.shape[1:3]), window, strides, padding))


def _columns(kernels, X, window, strides, padding):
    """im2col as one matrix, (m*oh*ow, kh*kw*C): on the GPU by the CUDA kernel, into an
    array allocated here; else by the reference moves."""
    xp = array_namespace(X)
    m, oh, ow = _grid(X, window, strides, padding)
    shape = (m * oh * ow, window[0] * window[1] * X.shape[3])
    if not kernels.on_device:
        return xp.reshape(im2col(pad_images(X, padding), window, strides), shape)  # from (m, oh, ow, kh*kw, C)
    cols = xp.empty(shape, dtype=X.dtype)
    kernels.run("im2col", X, window, strides, padding, cols)
    return cols


def _image_gradient(kernels, dcols, X, window, strides, padding):
    """dX (m, H, W, C) from dcols (m*oh*ow, kh*kw*C): col2im, then the padding cut off;
    on the GPU one gathering kernel that skips the padding."""
    xp = array_namespace(dcols)
    if not kernels.on_device:
        m, oh, ow = _grid(X, window, strides, padding)
        dcols = xp.reshape(dcols, (m, oh, ow, window[0] * window[1], X.shape[3]))
        padded = tuple(size + sum(pad) for size, pad in zip(X.shape[1:3], padding))
        return crop_images(col2im(dcols, padded, window, strides), padding)
    dX = xp.empty(X.shape, dtype=dcols.dtype)
    kernels.run("col2im", dcols, window, strides, padding, dX)
    return dX
