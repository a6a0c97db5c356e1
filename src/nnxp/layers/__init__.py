"""The layers of nnxp, one file each; ``base.py`` explains the contract they share."""

from .base import Layer, ShapeError
from .batchnorm import BatchNorm
from .convolution import Convolution
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .gru import GRU
from .lstm import LSTM
from .pooling import Pooling
from .rnn import RNN
from .template import Template
from .wordembedding import WordEmbedding

LAYERS = {
    cls.__name__: cls
    for cls in (Embedding, Dense, Dropout, Flatten, Template, BatchNorm, WordEmbedding, Convolution, Pooling,
                RNN, GRU, LSTM)
}

__all__ = ["Layer", "ShapeError", "LAYERS", *LAYERS]
