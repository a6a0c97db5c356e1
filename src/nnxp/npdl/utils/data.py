"""NumpyDL's data helpers (``npdl.utils.data``), nnxp's own one-hot encoding under
NumpyDL's names."""

from __future__ import annotations

from ... import data as _data
from ...facades import takes


@takes({"n_classes": "nb_classes"}, nnxp=_data.one_hot)
def one_hot(labels, nb_classes=None):
    """Labels (m,) as a one-hot array (m, nb_classes): ``nnxp.one_hot(labels, n_classes)``.

    Integer labels with ``nb_classes`` are their own column numbers; otherwise the
    columns are the sorted distinct labels.
    """
    return _data.one_hot(labels, n_classes=nb_classes)


def unhot(one_hot_labels):
    """The column of each row's largest value (argmax): ``nnxp.unhot``."""
    return _data.unhot(one_hot_labels)


__all__ = ["one_hot", "unhot"]
