"""EpyNN's interface on nnxp: ``from nnxp.epynn import EpyNN, Dense, ...`` runs EpyNN's
documented workflows, and its module paths answer too (``nnxp.epynn.dense.models``,
``nnxp.epynn.commons.library``, ...): a script's imports change by one word.

Each class maps EpyNN's names and defaults onto nnxp's own layers, model and losses and
holds no maths of its own. The traps, where EpyNN and nnxp differ, are on the docs page
"EpyNN on nnxp": the default learning rate (0.1, steady), nnxp's losses as batch means,
nnxp's file format in place of pickles.
"""

from . import settings
from .commons.library import read_model
from .layers import GRU, LSTM, RNN, Convolution, Dense, Dropout, Embedding, Flatten, Pooling, Template
from .network.models import EpyNN

__all__ = ["EpyNN", "Embedding", "Dense", "RNN", "GRU", "LSTM", "Convolution", "Pooling", "Dropout", "Flatten",
           "Template", "read_model", "settings"]
