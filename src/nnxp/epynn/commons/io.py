"""EpyNN's data helpers (``epynn.commons.io``): one-hot encoding, scaling, padding.

They prepare data on the host, with nnxp's own encoding and scaling (``nnxp.data``)::

    index_elements_auto(X_data)   (element_to_idx, idx_to_element, elements_size): the
                                  distinct elements of X_data, sorted, numbered from 0
    scale_features(X_data)        (X - min) / (max - min), one min and max for the array
    one_hot_encode(i, size)       the one-hot vector of index i
    one_hot_encode_sequence(sequence, element_to_idx, size)   one row per element
    one_hot_decode_sequence(sequence, idx_to_element)         back to the elements
    encode_dataset(X_data, element_to_idx, size)              every sample encoded
    padding(X_data, padding, forward=True)    zeros around images (m, h, w, d), or off
"""

from __future__ import annotations

import numpy as np

from ...data import MinMaxScaler, one_hot, unhot


def index_elements_auto(X_data):
    """The distinct elements of X_data, sorted, and their indices both ways."""
    elements = np.unique(np.asarray(X_data)).tolist()
    element_to_idx = {element: i for i, element in enumerate(elements)}
    idx_to_element = {i: element for i, element in enumerate(elements)}
    return element_to_idx, idx_to_element, len(elements)


def scale_features(X_data):
    """X_data scaled into [0, 1] with its own minimum and maximum (one for the array)."""
    X = np.asarray(X_data)
    return MinMaxScaler.fit(X)(X)


def one_hot_encode(i, elements_size):
    """The vector of length elements_size with a 1 at index i."""
    return one_hot([i], n_classes=elements_size)[0]


def one_hot_encode_sequence(sequence, element_to_idx, elements_size):
    """(len(sequence), elements_size): one one-hot row per element."""
    return one_hot([element_to_idx[element] for element in sequence], n_classes=elements_size)


def one_hot_decode_sequence(sequence, idx_to_element):
    """The elements of one-hot (or probability) rows: the largest column of each."""
    return [idx_to_element[int(i)] for i in unhot(sequence)]


def encode_dataset(X_data, element_to_idx, elements_size):
    """Every sample of X_data one-hot encoded: (m, steps, elements_size)."""
    indices = np.vectorize(element_to_idx.__getitem__, otypes=[np.int64])(np.asarray(X_data))
    return one_hot(indices, n_classes=elements_size)


def padding(X_data, padding, forward=True):
    """``padding`` zeros on each side of the images' height and width (forward), or the
    same number taken off (forward=False)."""
    X = np.asarray(X_data)
    if not padding:
        return X
    if forward:
        return np.pad(X, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    return X[:, padding:-padding, padding:-padding, :]


__all__ = ["index_elements_auto", "scale_features", "one_hot_encode", "one_hot_encode_sequence",
           "one_hot_decode_sequence", "encode_dataset", "padding"]
