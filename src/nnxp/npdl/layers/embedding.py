"""NumpyDL's word-vector layer (``npdl.layers.embedding``) on nnxp's ``WordEmbedding``.

``Embedding(embed_words=None, static=None, input_size=None, n_out=None, nb_batch=None,
nb_seq=None, init='uniform')`` looks up one learned vector per token id: ids (nb_batch,
nb_seq) -> vectors (nb_batch, nb_seq, n_out), as ``WordEmbedding(vocabulary_size=
input_size, units=n_out, initialization=init)``. Given ``embed_words`` (a pretrained
(input_size, n_out) matrix), it starts from those vectors, and keeps them fixed unless
``static=False``: ``static`` is nnxp's ``trainable=False``. (nnxp's own ``Embedding`` is
its input layer, which holds the data: another thing.)
"""

from __future__ import annotations

import numpy as np

from ... import layers as _core
from ...facades import takes
from .. import initializations
from .base import Layer, Weights


class Embedding(Weights, Layer, _core.WordEmbedding):
    """A learned vector for each token id."""

    maps_onto = _core.WordEmbedding

    @takes({"vocabulary_size": "input_size", "units": "n_out", "initialization": "init",
            "trainable": "static (static=True: not trained)"}, nnxp=_core.WordEmbedding)
    def __init__(self, embed_words=None, static=None, input_size=None, n_out=None, nb_batch=None, nb_seq=None,
                 init="uniform"):
        if embed_words is not None:
            embed_words = np.asarray(embed_words, dtype=np.float64)
            input_size, n_out = embed_words.shape  # (vocabulary, vector size)
            static = True if static is None else static  # pretrained vectors stay as given, unless told
        if input_size is None or n_out is None:
            raise ValueError("npdl.layers.Embedding needs input_size (the vocabulary) and n_out (the vector size), "
                             "or embed_words (a pretrained matrix)")
        self.arguments = {"input_size": input_size, "n_out": n_out, "static": static, "nb_batch": nb_batch,
                          "nb_seq": nb_seq, "init": init}
        _core.WordEmbedding.__init__(self, vocabulary_size=input_size, units=n_out,
                                     initialization=initializations.get(init).core, trainable=not static)
        self.embed_words, self.static = embed_words, bool(static)
        self.nb_batch, self.nb_seq, self.input_size, self.n_out = nb_batch, nb_seq, input_size, n_out

    def initialize_parameters(self):
        super().initialize_parameters()
        if self.embed_words is not None:
            self.p["W"] = self.active_backend().asarray(self.embed_words)

    def input_shape(self):
        return (self.nb_seq,)

    def output_shape(self, input_shape):
        return (*input_shape, self.units)


__all__ = ["Embedding"]
