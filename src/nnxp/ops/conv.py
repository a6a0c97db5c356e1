"""2-D convolution (cross-correlation, as in every deep-learning library), forward and backward.

Shapes: X (m, H, W, C) images, W (kh, kw, C, F) filters, b (F,) or None,
Z (m, oh, ow, F). ``strides`` is (sh, sw); ``padding`` is ((top, bottom), (left, right))
in pixels (the layer turns 'same' and friends into numbers). Xp is X padded with zeros.

Forward, for every sample n, output pixel (y, x) and filter f::

    Z[n, y, x, f] = b[f] + sum_{i, j, c} Xp[n, sh*y + i, sw*x + j, c] * W[i, j, c, f]

With the windows gathered by im2col into rows, cols (m*oh*ow, kh*kw*C), this is one
matrix product: Z = cols @ W_rows + b, where W_rows = W reshaped to (kh*kw*C, F).

Backward, given dZ = dL/dZ (m, oh, ow, F)::

    db = sum of dZ over n, y, x                                       (F,)
    dW = cols.T @ dZ_rows                 reshaped to (kh, kw, C, F)
    dcols = dZ_rows @ W_rows.T            what each window sends back to its pixels
    dX = col2im(dcols), with the padding cut off                      (m, H, W, C)

Each function hands its arguments unchanged to the compiled kernel of the same name
when ``kernels`` asks for one (see ``nnxp.ops``); what follows is the reference.
"""

from __future__ import annotations

from array_api_compat import array_namespace

from . import fast_kernels
from .windows import col2im, crop_images, im2col, pad_images


def conv2d_forward(X, W, b, strides, padding, kernels: str = "reference"):
    """Z (m, oh, ow, F) from images X (m, H, W, C), filters W (kh, kw, C, F), bias b (F,) or None."""
    module = fast_kernels(kernels, X)
    if module is not None:
        return module.conv2d_forward(X, W, b, strides, padding)
    xp = array_namespace(X, W)
    kh, kw, C, F = W.shape
    cols = im2col(pad_images(X, padding), (kh, kw), strides)  # (m, oh, ow, kh*kw, C)
    m, oh, ow = cols.shape[:3]
    Z = xp.reshape(cols, (m * oh * ow, kh * kw * C)) @ xp.reshape(W, (kh * kw * C, F))
    if b is not None:
        Z = Z + b
    return xp.reshape(Z, (m, oh, ow, F))


def conv2d_backward(dZ, X, W, strides, padding, need_dX: bool = True, kernels: str = "reference"):
    """(dX, dW, db) from dZ = dL/dZ (m, oh, ow, F) and the forward's X and W.

    db is returned even for a layer without bias (it is the sum of dZ; ignore it).
    With ``need_dX=False`` (a first layer: nothing uses dL/dX there) dX is None and
    its cost, about half of the backward pass, is saved.
    """
    module = fast_kernels(kernels, X)
    if module is not None:
        return module.conv2d_backward(dZ, X, W, strides, padding, need_dX)
    xp = array_namespace(dZ, X, W)
    kh, kw, C, F = W.shape
    Xp = pad_images(X, padding)
    cols = im2col(Xp, (kh, kw), strides)  # recomputed: cheaper to redo than to keep
    m, oh, ow = cols.shape[:3]
    cols = xp.reshape(cols, (m * oh * ow, kh * kw * C))
    dZ_rows = xp.reshape(dZ, (m * oh * ow, F))
    W_rows = xp.reshape(W, (kh * kw * C, F))

    db = xp.sum(dZ_rows, axis=0)
    dW = xp.reshape(xp.matrix_transpose(cols) @ dZ_rows, (kh, kw, C, F))
    if not need_dX:
        return None, dW, db
    dcols = xp.reshape(dZ_rows @ xp.matrix_transpose(W_rows), (m, oh, ow, kh * kw, C))
    dX = crop_images(col2im(dcols, Xp.shape[1:3], (kh, kw), strides), padding)
    return dX, dW, db
