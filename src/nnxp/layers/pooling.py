"""Pooling: shrink images by summarising each window of pixels, channel by channel.

Shapes: X (m, H, W, C) -> A (m, oh, ow, C), oh = (H + top + bottom - ph) // sh + 1.
``pool_size`` and ``strides`` take an int or a (height, width) pair; ``strides``
defaults to ``pool_size`` (windows side by side); a smaller stride makes them overlap.
``padding`` takes the forms of Convolution ("valid", "same", int, pair,
((top, bottom), (left, right))); each side must be smaller than the pool, so that every
window holds at least one pixel of the image.

Forward, for ``mode`` max, min or mean::

    A[n, y, x, c] = max / min / mean_{i < ph, j < pw} Xp[n, sh*y + i, sw*x + j, c]

where Xp is padded with -inf (max), +inf (min) or 0 (mean: the padded zeros count
in the average, as with PyTorch's default count_include_pad=True).

Backward, given dA = dL/dA; each pixel sums what every window covering it sends::

    mean:      each pixel of the window receives dA[n, y, x, c] / (ph * pw)
    max, min:  the first pixel of the window (row-major order) equal to A[n, y, x, c]
               receives dA[n, y, x, c]; the others nothing (PyTorch's rule for max)

No parameters. The work is done in ``nnxp.ops.pool``.
"""

from __future__ import annotations

from ..ops.pool import MODES, pool2d_backward, pool2d_forward
from ..ops.windows import normalize_padding, output_size, resolve_padding
from .base import Layer, pair
from .convolution import check_images, check_window_fits, padding_of


class Pooling(Layer):
    def __init__(self, pool_size=2, strides=None, padding=0, mode: str = "max", name=None, se_hPars=None):
        super().__init__(name, se_hPars)
        self.pool_size = pair(pool_size, "pool_size", "Pooling")
        self.strides = self.pool_size if strides is None else pair(strides, "strides", "Pooling")
        self.padding = normalize_padding(padding, "Pooling")
        if isinstance(self.padding, tuple) and any(max(pad) >= k for pad, k in zip(self.padding, self.pool_size)):
            raise ValueError(f"Pooling: each side of the padding must be smaller than the pool {self.pool_size} "
                             f"(a window must hold at least one pixel), got {self.padding}")
        if mode not in MODES:
            raise ValueError(f"Pooling: mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    def compute_shapes(self, X):
        check_images(self, X, None)
        super().compute_shapes(X)
        H, W, C = X.shape[1:]
        self.d.update(h=H, w=W, c=C, ph=self.pool_size[0], pw=self.pool_size[1])
        self.d["padding"] = self.find_padding(X)
        self.d["oh"], self.d["ow"] = output_size((H, W), self.pool_size, self.strides, self.d["padding"])

    def find_padding(self, X):
        """((top, bottom), (left, right)) for images of X's size (it depends on it for 'same'),
        checked to leave room for the pool."""
        padding = resolve_padding(self.padding, tuple(X.shape[1:3]), self.pool_size, self.strides)
        check_window_fits(self, X, self.pool_size, padding, "pool")
        return padding

    def forward(self, X):
        check_images(self, X, self.d.get("c"))
        self.fc["X"] = X
        self.fc["A"] = pool2d_forward(X, self.pool_size, self.strides, padding_of(self, X), self.mode,
                                      kernel_mode=self.kernel_mode)
        return self.fc["A"]

    def backward(self, dA):
        self.bc["dA"] = dA
        X = self.fc["X"]
        self.bc["dX"] = pool2d_backward(dA, X, self.pool_size, self.strides, padding_of(self, X), self.mode,
                                        kernel_mode=self.kernel_mode, A=self.fc["A"])
        return self.bc["dX"]
