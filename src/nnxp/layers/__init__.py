"""The layers of nnxp, one file each; ``base.py`` explains the contract they share."""

from .base import Layer, ShapeError
from .batchnorm import BatchNorm
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .template import Template
from .wordembedding import WordEmbedding

LAYERS = {cls.__name__: cls for cls in (Embedding, Dense, Dropout, Flatten, Template, BatchNorm, WordEmbedding)}

__all__ = ["Layer", "ShapeError", "LAYERS", *LAYERS]
