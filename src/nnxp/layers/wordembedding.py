"""WordEmbedding: a learned vector for each token id (a lookup table).

Not to be confused with ``Embedding``, nnxp's input layer that holds the data: this one
sits after it and turns integer token ids into vectors (NumpyDL's ``Embedding``).

Shapes: X (m, steps) of token ids in [0, V) -> A (m, steps, u), with W (V, u): row
W[t] is the vector of token t. Any shape of ids works: A adds a last axis of u.

Forward, a lookup, which is the product with the one-hot matrix of the ids::

    A[i, s] = W[X[i, s]]             i.e.  A = onehot(X) @ W,  onehot(X): (m, steps, V)

Backward and gradient::

    dW = onehot(X).T @ dA            row t sums dA over every place where token t occurs
    dX = 0                           ids are integers: nothing flows back to them; zeros
                                     of X's shape keep a model's backward pass uniform

How dW is computed. The Array API has no scatter-add (``dW[ids] += dA`` with repeated
ids), and ``array_api_extra.at(dW)[ids].add(dA)`` is undefined for repeated ids (NumPy
counts each repeated id once: wrong for any real text). Building onehot(X), N x V for
N ids, is exact and portable but costs N * V * u: 0.95 ms on NumPy for V = 1000 and
32 x 20 ids, 13 ms for V = 10 000. Sorting does it in 0.12 ms (0.38 ms for V = 10 000),
with standard functions only and deterministically on a GPU: in token order the rows
of each token are one contiguous segment, whose sum is a difference of prefix sums::

    order = argsort(ids);  C = [0; cumulative_sum(dA[order])]          (N + 1, u)
    dW[t] = C[end_t] - C[start_t]    start_t, end_t = searchsorted(sorted ids, t)
                                     (start_t = end_t, a zero row, if t never occurs)

The difference of prefix sums costs a little precision (at worst a few 1e-6 relative
per row in float32, 1e-14 in float64), far below the noise of a mini-batch gradient.

``trainable=False`` freezes W (e.g. pretrained vectors): the model's optimizer skips
the layer, and ``compute_gradients`` does no work.

The ids are checked (whole numbers in [0, V)) in ``compute_shapes``, i.e. on the first
batch a model sees: the check reads a value back from the device, which per batch
would stall a GPU at every step. Later, out-of-range ids raise on NumPy, but CuPy's
``take`` wraps them silently: check your data.
"""

from __future__ import annotations

from array_api_compat import device

from .. import checks
from .base import Layer, ShapeError


class WordEmbedding(Layer):
    def __init__(self, vocabulary_size: int, units: int, initialization="uniform", trainable: bool = True,
                 name=None, se_hPars=None):
        super().__init__(name, se_hPars)
        self.vocabulary_size = checks.positive_int("vocabulary_size", vocabulary_size, "WordEmbedding")
        self.units = checks.positive_int("units", units, "WordEmbedding")
        self.initialization = initialization
        self.trainable = bool(trainable)

    def compute_shapes(self, X):
        if X.ndim < 1:
            raise ShapeError(f"{self.describe()} expects token ids of shape (m, steps), got {tuple(X.shape)}")
        super().compute_shapes(X)
        self.d["v"], self.d["u"] = self.vocabulary_size, self.units
        self._check_ids(X)

    def _check_ids(self, X):
        """Whole numbers in [0, V), or a ValueError (reads one bool back from the device)."""
        xp = self.xp(X)
        valid = (X >= 0) & (X < self.vocabulary_size)
        if xp.isdtype(X.dtype, "real floating"):
            valid = valid & (X == xp.round(X))
        if not bool(xp.all(valid)):
            raise ValueError(f"{self.describe()} expects whole token ids in [0, {self.vocabulary_size}), "
                             f"got values from {float(xp.min(X))} to {float(xp.max(X))}")

    def initialize_parameters(self):
        v, u = self.d["v"], self.d["u"]
        self.p["W"] = self.new_parameter((v, u), self.initialization, fan_in=v, fan_out=u)

    def forward(self, X):
        xp = self.xp(X)
        ids = xp.reshape(xp.astype(X, xp.int64), (-1,))  # the Embedding layer stores X as floats
        try:
            rows = xp.take(self.p["W"], ids, axis=0)
        except IndexError as error:
            raise IndexError(f"{self.describe()}: token ids must be in [0, {self.vocabulary_size}): {error}") from None
        self.fc["X"], self.fc["ids"] = X, ids
        self.fc["A"] = xp.reshape(rows, (*X.shape, self.units))
        return self.fc["A"]

    def backward(self, dA):
        self.bc["dA"] = dA
        self.bc["dX"] = self.xp(dA).zeros_like(self.fc["X"])  # no gradient w.r.t. integer ids
        return self.bc["dX"]

    def compute_gradients(self):
        if not self.trainable:  # frozen: the optimizer will not look
            return
        xp = self.xp(self.bc["dA"])
        ids = self.fc["ids"]
        dA_rows = xp.reshape(self.bc["dA"], (-1, self.units))  # (N, u), one row per id
        order = xp.argsort(ids)
        sorted_ids = xp.take(ids, order)
        C = xp.cumulative_sum(xp.take(dA_rows, order, axis=0), axis=0, include_initial=True)  # (N + 1, u)
        tokens = xp.arange(self.vocabulary_size, dtype=ids.dtype, device=device(ids))
        start = xp.searchsorted(sorted_ids, tokens, side="left")
        end = xp.searchsorted(sorted_ids, tokens, side="right")
        self.g["dW"] = xp.take(C, end, axis=0) - xp.take(C, start, axis=0)
