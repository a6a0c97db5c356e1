"""NumpyDL's layers (``npdl.layers``), one nnxp layer each; the modules are NumpyDL's."""

from . import base, convolution, core, embedding, normalization, pooling, recurrent, shape
from .base import Layer
from .convolution import Convolution
from .core import Dense, Dropout, Linear, Softmax
from .embedding import Embedding
from .normalization import BatchNormal
from .pooling import MaxPooling, MeanPooling
from .recurrent import GRU, LSTM, BatchLSTM, Recurrent, SimpleRNN
from .shape import DimShuffle, Flatten

__all__ = ["Layer", "Linear", "Dense", "Softmax", "Dropout", "Convolution", "Embedding", "BatchNormal",
           "MeanPooling", "MaxPooling", "Recurrent", "SimpleRNN", "GRU", "LSTM", "BatchLSTM", "Flatten",
           "DimShuffle"]
