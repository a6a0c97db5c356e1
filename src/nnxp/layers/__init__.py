"""The layers of nnxp, one file each; ``base.py`` explains the contract they share."""

from .base import Layer, ShapeError
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN
from .template import Template

LAYERS = {cls.__name__: cls for cls in (Embedding, Dense, Dropout, Flatten, Template, RNN, GRU, LSTM)}

__all__ = ["Layer", "ShapeError", "LAYERS", *LAYERS]
