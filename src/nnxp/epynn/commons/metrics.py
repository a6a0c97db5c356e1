"""EpyNN's metrics (``epynn.commons.metrics``), each nnxp's metric of the same name.

``accuracy(Y, A)`` and the others take EpyNN's order (targets first) and return nnxp's
value: the share of right decisions, and for several classes the macro average (each
class the positive one in turn). ``NPV`` is TN / (TN + FN). ``EpyNN.initialize(metrics=
['accuracy', 'NPV'])`` takes the names (or these functions), and loss names too.
"""

from __future__ import annotations

from ... import metrics as _metrics


class Metric:
    """An EpyNN metric, ``f(Y, A)``, over an nnxp metric."""

    def __init__(self, name: str, core: str):
        self.__name__, self.name = name, name
        self.core = _metrics.get_metric(core)
        self.__doc__ = f"nnxp's {core}, of the outputs A against the targets Y."

    def __call__(self, Y, A):
        return self.core(A, Y)

    def __repr__(self) -> str:
        return f"<EpyNN metric {self.name}>"


accuracy = Metric("accuracy", "accuracy")
recall = Metric("recall", "recall")
precision = Metric("precision", "precision")
NPV = Metric("NPV", "npv")
fscore = Metric("fscore", "fscore")
specificity = Metric("specificity", "specificity")

METRICS = {f.name: f for f in (accuracy, recall, precision, NPV, fscore, specificity)}

__all__ = ["accuracy", "recall", "precision", "NPV", "fscore", "specificity"]
