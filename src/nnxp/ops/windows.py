"""Sliding windows over images: the arithmetic and the two moves that convolution and
pooling share.

Images are (m, H, W, C). A window of (kh, kw) pixels slides with strides (sh, sw) over
the image padded by ((top, bottom), (left, right)); with Hp = top + H + bottom the
output has

    oh = (Hp - kh) // sh + 1        rows, and likewise ow columns.

``im2col`` gathers every window into one array, (m, oh, ow, kh * kw, C), as a loop over
the kh * kw offsets of the window: for the offset (i, j) the pixels seen by all windows
at once are the strided slice Xp[:, i::sh, j::sw, :] (cut to oh x ow). A convolution is
then one matrix product, a pooling one reduction.

``col2im`` goes back: each padded pixel receives the sum of what every window placed on
it. It too is a loop over the offsets, and each step is a *gather*, never a scatter: the
(oh, ow) values of offset (i, j) are spread out by the stride (zeros stacked between
them, a reshape interleaves them) and padded to the full image, and these images are
added. No element is written twice, so the result does not depend on any order
(the standard has no scatter-add, and on a GPU this needs no atomics).
"""

from __future__ import annotations

import math

import array_api_extra as xpx
from ..backend import array_namespace

Pair = tuple[int, int]
Padding = tuple[Pair, Pair]  # ((top, bottom), (left, right))


# --------------------------------------------------------------------------- arithmetic
def normalize_padding(padding, layer: str):
    """'valid', 'same', or ((top, bottom), (left, right)) from what a user may write:
    'valid', 'same', an int, a (height, width) pair or ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{layer}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
        return padding
    try:
        if _is_int(padding):
            sides = ((int(padding),) * 2,) * 2
        elif len(padding) == 2 and all(_is_int(p) for p in padding):
            sides = ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
        else:
            sides = tuple(tuple(int(p) for p in pair) for pair in padding)
    except TypeError:
        sides = None
    if sides is None or len(sides) != 2 or any(len(pair) != 2 or min(pair) < 0 for pair in sides):
        raise ValueError(f"{layer}: padding must be 'valid', 'same', an int >= 0, a (height, width) pair "
                         f"or ((top, bottom), (left, right)), got {padding!r}")
    return sides


def _is_int(value) -> bool:
    return hasattr(value, "__index__") and not isinstance(value, bool)


def resolve_padding(padding, image: Pair, window: Pair, strides: Pair) -> Padding:
    """((top, bottom), (left, right)) in pixels for an image of (H, W).

    'same' follows TensorFlow: the output has ceil(H / sh) rows, the padding needed for
    that is split in two, and the odd pixel goes to the bottom (right).
    """
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        sides = []
        for size, k, s in zip(image, window, strides):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            sides.append((total // 2, total - total // 2))
        return tuple(sides)
    return padding


def output_size(image: Pair, window: Pair, strides: Pair, padding: Padding) -> Pair:
    """(oh, ow): how many window positions fit in the padded image."""
    return tuple((size + sum(pad) - k) // s + 1 for size, k, s, pad in zip(image, window, strides, padding))


# --------------------------------------------------------------------------- array moves
def pad_images(X, padding: Padding, value: float = 0.0):
    """X (m, H, W, C) with ``value`` added around each image: (m, Hp, Wp, C)."""
    if padding == ((0, 0), (0, 0)):
        return X
    (top, bottom), (left, right) = padding
    return xpx.pad(X, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def crop_images(Xp, padding: Padding):
    """The inverse of pad_images: the original (m, H, W, C) from the padded images."""
    (top, bottom), (left, right) = padding
    return Xp[:, top:Xp.shape[1] - bottom, left:Xp.shape[2] - right, :]


def im2col(Xp, window: Pair, strides: Pair):
    """Every window of the padded images Xp: (m, oh, ow, kh * kw, C), offsets in row-major order."""
    xp = array_namespace(Xp)
    (kh, kw), (sh, sw) = window, strides
    oh, ow = (Xp.shape[1] - kh) // sh + 1, (Xp.shape[2] - kw) // sw + 1
    seen = [Xp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]  # (m, oh, ow, C) per offset
            for i in range(kh) for j in range(kw)]
    return xp.stack(seen, axis=3)


def col2im(cols, padded: Pair, window: Pair, strides: Pair):
    """Sum window values back onto the padded images: cols (m, oh, ow, kh * kw, C) -> (m, Hp, Wp, C).

    The mirror of im2col: what offset (i, j) of window (y, x) holds lands on pixel
    (i + sh * y, j + sw * x).
    """
    (kh, kw), (sh, sw), (Hp, Wp) = window, strides, padded
    total = None
    for i in range(kh):
        for j in range(kw):
            spread = _spread(cols[:, :, :, i * kw + j, :], sh, sw)  # (m, sh*(oh-1)+1, sw*(ow-1)+1, C)
            placed = xpx.pad(spread, ((0, 0), (i, Hp - i - spread.shape[1]), (j, Wp - j - spread.shape[2]), (0, 0)))
            total = placed if total is None else total + placed
    return total


def _spread(values, sh: int, sw: int):
    """(m, oh, ow, C) -> (m, sh*(oh-1)+1, sw*(ow-1)+1, C), with sh-1 (sw-1) rows (columns)
    of zeros between neighbours: row y lands on row sh * y."""
    xp = array_namespace(values)
    m, oh, ow, C = values.shape
    if sh > 1:
        zeros = xp.zeros_like(values)
        values = xp.stack([values] + [zeros] * (sh - 1), axis=2)  # (m, oh, sh, ow, C)
        values = xp.reshape(values, (m, oh * sh, ow, C))[:, :sh * (oh - 1) + 1, :, :]
    if sw > 1:
        rows = values.shape[1]
        zeros = xp.zeros_like(values)
        values = xp.stack([values] + [zeros] * (sw - 1), axis=3)  # (m, rows, ow, sw, C)
        values = xp.reshape(values, (m, rows, ow * sw, C))[:, :, :sw * (ow - 1) + 1, :]
    return values
