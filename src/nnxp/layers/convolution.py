"""Convolution: filters that slide over images and learn local patterns.

Shapes: X (m, H, W, C) -> A (m, oh, ow, F), with F = ``filters``,
W (kh, kw, C, F) and b (F,). Padding adds zeros around each image; then

    oh = (H + top + bottom - kh) // sh + 1        (and likewise ow)

``padding`` is "valid" (none), "same" (oh = ceil(H / sh); the padding is split in two,
the odd pixel at the bottom/right, as in TensorFlow), an int, a (height, width) pair or
((top, bottom), (left, right)).

Forward::

    Z[n, y, x, f] = b[f] + sum_{i, j, c} Xp[n, sh*y + i, sw*x + j, c] * W[i, j, c, f]
    A = f(Z)

Backward, given dA = dL/dA::

    dZ = dA * f'(Z)          (or the fused dZ that softmax + CCE hands over)
    dX[n, r, s, c] = sum over the (y, x, i, j) with sh*y + i = r, sw*x + j = s
                     (in the padded image) of dZ[n, y, x, f] * W[i, j, c, f]

Gradients::

    dW[i, j, c, f] = sum_{n, y, x} Xp[n, sh*y + i, sw*x + j, c] * dZ[n, y, x, f]
    db[f]          = sum_{n, y, x} dZ[n, y, x, f]

The sums run in ``nnxp.ops.conv`` (im2col + one matrix product; compiled kernels when
the backend has them), which returns dX, dW and db together since they share work:
``backward`` keeps dW and db in ``bc`` and ``compute_gradients`` hands them to ``g``.

A first layer's dX feeds nothing: a model may set ``layer.input_gradient = False``
there, and backward then skips it (about half its work) and returns None.
"""

from __future__ import annotations

from .. import checks
from ..activations import get_activation
from ..ops.conv import conv2d_activation_backward, conv2d_activation_forward, conv2d_backward
from ..ops.windows import normalize_padding, output_size, resolve_padding
from .base import Layer, ShapeError, pair


class Convolution(Layer):
    accepts_dZ = True  # backward(dA, dZ=...) takes the fused output gradient

    def __init__(self, filters: int = 1, filter_size=3, strides=1, padding="valid", activation="relu",
                 initialization="he_uniform", use_bias: bool = True, name=None, se_hPars=None):
        super().__init__(name, se_hPars)
        self.filters = checks.positive_int("filters", filters, "Convolution")
        self.filter_size = pair(filter_size, "filter_size", "Convolution")
        self.strides = pair(strides, "strides", "Convolution")
        self.padding = normalize_padding(padding, "Convolution")
        self.activation = get_activation(activation)
        self.initialization = initialization
        self.use_bias = bool(use_bias)

    def compute_shapes(self, X):
        check_images(self, X, None)
        super().compute_shapes(X)
        (kh, kw), (H, W) = self.filter_size, X.shape[1:3]
        self.d.update(h=H, w=W, c=X.shape[3], f=self.filters, kh=kh, kw=kw)
        self.d["padding"] = self.find_padding(X)
        self.d["oh"], self.d["ow"] = output_size((H, W), self.filter_size, self.strides, self.d["padding"])

    def initialize_parameters(self):
        kh, kw, C, F = self.d["kh"], self.d["kw"], self.d["c"], self.d["f"]
        self.p["W"] = self.new_parameter((kh, kw, C, F), self.initialization, fan_in=kh * kw * C, fan_out=kh * kw * F)
        if self.use_bias:
            self.p["b"] = self.new_parameter((F,), "zeros", fan_in=kh * kw * C, fan_out=kh * kw * F)

    def find_padding(self, X):
        """((top, bottom), (left, right)) for images of X's size (it depends on it for 'same'),
        checked to leave room for the filter."""
        padding = resolve_padding(self.padding, tuple(X.shape[1:3]), self.filter_size, self.strides)
        check_window_fits(self, X, self.filter_size, padding, "filter")
        return padding

    def forward(self, X):
        check_images(self, X, self.d.get("c"))
        self.fc["X"] = X
        # Z, then A = f(Z): one op, so that a kernel can apply f as it writes Z
        self.fc["Z"], self.fc["A"] = conv2d_activation_forward(X, self.p["W"], self.p.get("b"), self.strides,
                                                               padding_of(self, X), self.activation,
                                                               kernel_mode=self.kernel_mode)
        return self.fc["A"]

    def backward(self, dA, dZ=None):
        """dZ, when given, is dL/dZ already (the fused softmax + cross-entropy gradient)."""
        fc, bc = self.fc, self.bc
        X, padding = fc["X"], padding_of(self, fc["X"])
        if dZ is not None:
            bc["dA"], bc["dZ"] = dA, dZ
            bc["dX"], bc["dW"], bc["db"] = conv2d_backward(dZ, X, self.p["W"], self.strides, padding,
                                                           self.input_gradient, kernel_mode=self.kernel_mode)
        else:  # dZ = dA * f'(Z) first, in the same op (a kernel forms it as it reads dA)
            bc["dA"] = dA
            bc["dX"], bc["dW"], bc["db"], bc["dZ"] = conv2d_activation_backward(
                dA, fc["Z"], fc["A"], X, self.p["W"], self.strides, padding, self.activation, self.input_gradient,
                kernel_mode=self.kernel_mode)
        return bc["dX"]

    def compute_gradients(self):
        self.g["dW"] = self.bc["dW"]
        if self.use_bias:
            self.g["db"] = self.bc["db"]


# --------------------------------------------------------------------------- checks (shared with Pooling)
def check_images(layer: Layer, X, channels: int | None) -> None:
    """A ShapeError unless X is a batch of images (m, H, W, C) with the expected channels."""
    if X.ndim != 4:
        raise ShapeError(f"{layer.describe()} expects images of shape (m, height, width, channels), "
                         f"got an array of shape {tuple(X.shape)}")
    if channels is not None and X.shape[3] != channels:
        raise ShapeError(f"{layer.describe()} was initialized for {channels} channels, "
                         f"expects (m, height, width, {channels}), got {tuple(X.shape)}")


def padding_of(layer: Layer, X):
    """The padding of images like X: ``d["padding"]``, found once by ``compute_shapes``,
    for images of the size it saw (always so inside a model, whose Embedding refuses
    other shapes); found again for another size ('same' depends on the size)."""
    if tuple(X.shape[1:3]) != (layer.d["h"], layer.d["w"]):
        return layer.find_padding(X)
    (top, bottom), (left, right) = layer.d["padding"]  # a tuple again (a loaded model's d comes from JSON)
    return (top, bottom), (left, right)


def check_window_fits(layer: Layer, X, window, padding, what: str) -> None:
    """A ShapeError if the window is larger than the padded image."""
    padded = tuple(size + sum(pad) for size, pad in zip(X.shape[1:3], padding))
    if window[0] > padded[0] or window[1] > padded[1]:
        raise ShapeError(f"{layer.describe()}: the {what} {tuple(window)} is larger than the padded image "
                         f"{padded} (input {tuple(X.shape)}, padding {padding}); expected a {what} "
                         f"of at most {padded}")
