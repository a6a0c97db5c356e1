"""Every EpyNN layer class, and the nnxp class each maps onto (for ``read_model``)."""

from .convolution.models import Convolution
from .dense.models import Dense
from .dropout.models import Dropout
from .embedding.models import Embedding
from .flatten.models import Flatten
from .gru.models import GRU
from .lstm.models import LSTM
from .pooling.models import Pooling
from .rnn.models import RNN
from .template.models import Template

FACADES = {cls.maps_onto: cls for cls in (Embedding, Dense, RNN, GRU, LSTM, Convolution, Pooling, Dropout, Flatten,
                                          Template)}

__all__ = ["FACADES", *[cls.__name__ for cls in FACADES.values()]]
