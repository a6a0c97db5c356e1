"""EpyNN's input layer (``epynn.embedding.models.Embedding``): nnxp's ``Embedding``.

``Embedding(X_data=None, Y_data=None, relative_size=(2, 1, 0), batch_size=None,
X_encode=False, Y_encode=False, X_scale=False)``: EpyNN's arguments in EpyNN's order
(nnxp's puts ``batch_size`` last). It checks, encodes, shuffles and splits the data into
``dtrain``, ``dval`` and ``dtest`` (two thirds, one third and nothing by default) and
deals mini-batches; ``training_batches()`` also keeps them as ``batch_dtrain``. With
``X_encode``, ``e2i`` and ``i2e`` map the elements to their one-hot indices and back, and
``d['e']`` is their number. The shuffle and split follow the model's seed.
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ..commons.models import Layer


class Embedding(Layer, _core.Embedding):
    """The input layer, which holds and prepares the data."""

    maps_onto = _core.Embedding

    @takes(nnxp=_core.Embedding)
    def __init__(self, X_data=None, Y_data=None, relative_size=(2, 1, 0), batch_size=None, X_encode=False,
                 Y_encode=False, X_scale=False):
        _core.Embedding.__init__(self, X_data, Y_data, relative_size=relative_size, X_encode=X_encode,
                                 Y_encode=Y_encode, X_scale=X_scale, batch_size=batch_size)
        self.batch_dtrain = []
        if self.vocabulary is not None:
            self.d["e"] = len(self.vocabulary)

    def training_batches(self):
        """This epoch's mini-batches of the training set (kept as ``batch_dtrain``)."""
        self.batch_dtrain = super().training_batches()
        return self.batch_dtrain

    @property
    def e2i(self) -> dict:
        """Element -> its one-hot index (with X_encode)."""
        return {element: i for i, element in enumerate(self.vocabulary or [])}

    @property
    def i2e(self) -> dict:
        """One-hot index -> its element (with X_encode)."""
        return dict(enumerate(self.vocabulary or []))
