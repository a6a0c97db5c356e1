"""Metrics: how good the decisions are, computed on the device.

A *decision* is what the network answers: the class with the highest output when
there are several output units, else ``A >= 0.5`` (a single sigmoid unit). With the
true labels the decisions give, for each class c taken as "positive"::

    TP = predicted c and truly c      FP = predicted c, truly not c
    TN = neither                      FN = truly c, predicted not c

    accuracy    = share of right decisions
    precision   = TP / (TP + FP)      how many of the predicted c are c
    recall      = TP / (TP + FN)      how many of the true c are found
    specificity = TN / (TN + FP)      how many of the true not-c are left alone
    npv         = TN / (TN + FN)      how many of the predicted not-c are not c
    fscore      = 2 P R / (P + R)     harmonic mean of precision and recall

With one output unit the positive class is 1 (binary); with several, each class in
turn is the positive one and the scores are averaged (the macro average, so every
class weighs the same however rare). A ratio whose denominator is 0 counts as 0.
Any loss (``"MSE"``, ``"CCE"``...) may be listed as a metric too.

Every function returns a 0-d array on the backend: a training loop can collect them
without asking the device for a number until the end of the epoch.
"""

from __future__ import annotations

from .backend import array_namespace

from .losses import LOSSES, get_loss


def as_rows(A):
    """(m, ..., n) outputs as (rows, n): a sequence's steps are samples like any other."""
    xp = array_namespace(A)
    if A.ndim == 1:
        return xp.reshape(A, (-1, 1))
    return xp.reshape(A, (-1, A.shape[-1]))


def decisions(A):
    """Class index per row: argmax over the outputs, or A >= 0.5 for a single output."""
    xp = array_namespace(A)
    A = as_rows(A)
    if A.shape[1] == 1:
        return xp.astype(A[:, 0] >= 0.5, xp.int64)
    return xp.argmax(A, axis=1)


def confusion_counts(A, Y):
    """TP, FP, TN, FN per class, as float arrays of shape (classes,).

    A single output is treated as two classes (0 and 1) with class 1 alone reported,
    which is the usual binary precision / recall.
    """
    xp = array_namespace(A)
    predicted, truth = decisions(A), decisions(Y)
    n_classes = max(as_rows(A).shape[1], 2)
    classes = xp.arange(n_classes)
    predicted_is = xp.astype(predicted[:, None] == classes[None, :], A.dtype)
    truly_is = xp.astype(truth[:, None] == classes[None, :], A.dtype)
    tp = xp.sum(predicted_is * truly_is, axis=0)
    fp = xp.sum(predicted_is * (1 - truly_is), axis=0)
    fn = xp.sum((1 - predicted_is) * truly_is, axis=0)
    tn = predicted.shape[0] - tp - fp - fn
    if as_rows(A).shape[1] == 1:  # binary: report the positive class only
        tp, fp, tn, fn = tp[1:], fp[1:], tn[1:], fn[1:]
    return tp, fp, tn, fn


def _ratio(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (counts are >= 0)."""
    xp = array_namespace(numerator)
    return numerator / xp.maximum(denominator, 1)


def accuracy(A, Y):
    xp = array_namespace(A)
    return xp.mean(xp.astype(decisions(A) == decisions(Y), A.dtype))


def precision(A, Y):
    tp, fp, _, _ = confusion_counts(A, Y)
    return array_namespace(A).mean(_ratio(tp, tp + fp))


def recall(A, Y):
    tp, _, _, fn = confusion_counts(A, Y)
    return array_namespace(A).mean(_ratio(tp, tp + fn))


def specificity(A, Y):
    _, fp, tn, _ = confusion_counts(A, Y)
    return array_namespace(A).mean(_ratio(tn, tn + fp))


def fscore(A, Y):
    xp = array_namespace(A)
    tp, fp, _, fn = confusion_counts(A, Y)
    p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    both = p + r
    return xp.mean(xp.where(both > 0, 2 * p * r / xp.where(both > 0, both, 1), 0.0))


def npv(A, Y):
    """Negative predictive value, TN / (TN + FN): how many of the predicted not-c are not c."""
    _, _, tn, fn = confusion_counts(A, Y)
    return array_namespace(A).mean(_ratio(tn, tn + fn))


METRICS = {f.__name__: f for f in (accuracy, precision, recall, specificity, fscore, npv)}
_ALIASES = {"acc": "accuracy", "f1": "fscore", "f1_score": "fscore", "f_score": "fscore"}


def get_metric(spec):
    """A metric function (``metric(A, Y) -> 0-d array``) from a name, a loss name or a callable.

    The returned callable has a ``name`` attribute used in reports and history keys.
    """
    if callable(spec) and not isinstance(spec, type):
        if not hasattr(spec, "name"):
            spec.name = getattr(spec, "__name__", "metric")
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key in METRICS:
            metric = METRICS[key]
            metric.name = key
            return metric
        try:
            return get_loss(spec)
        except ValueError:
            pass
        raise ValueError(f"unknown metric {spec!r}; expected one of {sorted(METRICS) + sorted(LOSSES)}")
    raise TypeError(f"a metric is a name or a callable, not {type(spec).__name__}")


class RunningMeans:
    """The loss and metrics of an epoch's mini-batches, averaged as the epoch goes.

    After the batches b of sizes m_b, each value is the sample-weighted mean

        mean = sum_b m_b * value(A_b, Y_b) / sum_b m_b

    of what the training steps computed anyway (Keras's training metrics: no second pass
    over the training set). For the loss and the accuracy this is the value over every
    sample of the epoch, each seen with the weights of its own step (and with Dropout on);
    for precision, recall, specificity, F-score and NPV, ratios of counts, it is the mean
    of the batches' ratios, close to but not the ratio over the epoch. The sums stay 0-d
    arrays on the device: nothing is copied to the host until the epoch's report.
    """

    def __init__(self, loss, metrics):
        self.functions = [loss, *metrics]
        self.names = ["loss"] + [metric.name for metric in metrics]
        self.sums = None
        self.samples = 0

    def add(self, A, Y) -> None:
        """Count one batch: its outputs A and targets Y."""
        m = A.shape[0]
        values = [function(A, Y) * m for function in self.functions]
        self.sums = values if self.sums is None else [total + v for total, v in zip(self.sums, values)]
        self.samples += m

    def means(self) -> dict:
        """name -> the running mean (a 0-d device array)."""
        return {name: total / self.samples for name, total in zip(self.names, self.sums or [])}


__all__ = ["get_metric", "decisions", "confusion_counts", "RunningMeans", *METRICS]
