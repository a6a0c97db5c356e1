"""Metrics against scikit-learn on random decisions, and losses used as metrics."""

import numpy as np
import pytest

from builders import blobs, classifier
from nnxp.backend import to_numpy
from nnxp.losses import LOSSES, get_loss
from nnxp.metrics import confusion_counts, decisions, get_metric


@pytest.fixture
def skm():
    """scikit-learn's metrics (the tests that compare with it skip where it is absent)."""
    return pytest.importorskip("sklearn.metrics")


def value(metric, A, Y, backend):
    return float(to_numpy(get_metric(metric)(backend.asarray(A), backend.asarray(Y))))


def npv_by_hand(skm, truth, predicted, classes):
    """TN / (TN + FN) for each class from scikit-learn's confusion matrix (rows: truth)."""
    matrix = skm.confusion_matrix(truth, predicted, labels=list(range(classes)))
    scores = []
    for c in range(classes):
        fn = matrix[c, :].sum() - matrix[c, c]
        tn = matrix.sum() - matrix[c, :].sum() - matrix[:, c].sum() + matrix[c, c]
        scores.append(tn / (tn + fn) if tn + fn else 0.0)
    return scores


def specificity_by_hand(skm, truth, predicted, classes):
    """TN / (TN + FP) for each class from scikit-learn's confusion matrix (rows: truth)."""
    matrix = skm.confusion_matrix(truth, predicted, labels=list(range(classes)))
    scores = []
    for c in range(classes):
        fp = matrix[:, c].sum() - matrix[c, c]
        tn = matrix.sum() - matrix[c, :].sum() - matrix[:, c].sum() + matrix[c, c]
        scores.append(tn / (tn + fp) if tn + fp else 0.0)
    return scores


@pytest.mark.parametrize("trial", range(4))
def test_multiclass_macro_metrics_match_sklearn(array_backend, rng, trial, skm):
    m, classes = 80, 4
    A = rng.uniform(size=(m, classes))  # outputs; the decision is the argmax
    truth = rng.integers(classes, size=m)
    predicted = A.argmax(1)
    if trial == 3:  # a class never predicted: its precision is 0/0, counted as 0
        A[:, 0] = -1
        predicted = A.argmax(1)
    Y = np.eye(classes)[truth]
    labels = list(range(classes))  # every output class counts, even one that never appears
    expected = {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, average="macro", labels=labels, zero_division=0),
        "recall": skm.recall_score(truth, predicted, average="macro", labels=labels, zero_division=0),
        "fscore": skm.f1_score(truth, predicted, average="macro", labels=labels, zero_division=0),
        "specificity": np.mean(specificity_by_hand(skm, truth, predicted, classes)),
        "NPV": np.mean(npv_by_hand(skm, truth, predicted, classes)),
    }
    for name, reference in expected.items():
        assert value(name, A, Y, array_backend) == pytest.approx(reference, abs=1e-12), name


@pytest.mark.parametrize("trial", range(3))
def test_binary_metrics_match_sklearn(array_backend, rng, trial, skm):
    m = 50
    A = rng.uniform(size=(m, 1))  # one sigmoid unit: the decision is A >= 0.5
    truth = rng.integers(2, size=m)
    if trial == 2:
        A[:] = 0.2  # never predicts 1: precision 0/0 -> 0
    predicted = (A[:, 0] >= 0.5).astype(int)
    Y = truth[:, None].astype(float)
    expected = {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, zero_division=0),
        "recall": skm.recall_score(truth, predicted, zero_division=0),
        "fscore": skm.f1_score(truth, predicted, zero_division=0),
        "specificity": specificity_by_hand(skm, truth, predicted, 2)[1],  # class 1 is the positive one
        "npv": npv_by_hand(skm, truth, predicted, 2)[1],
    }
    for name, reference in expected.items():
        assert value(name, A, Y, array_backend) == pytest.approx(reference, abs=1e-12), name


def test_sequences_count_every_step_as_a_sample(array_backend, rng, skm):
    A = rng.uniform(size=(6, 5, 3))
    truth = rng.integers(3, size=(6, 5))
    Y = np.eye(3)[truth]
    expected = skm.accuracy_score(truth.reshape(-1), A.argmax(-1).reshape(-1))
    assert value("accuracy", A, Y, array_backend) == pytest.approx(expected)


def test_decisions_and_counts(array_backend):
    A = array_backend.asarray(np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6]]))
    Y = array_backend.asarray(np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]))
    assert to_numpy(decisions(A)).tolist() == [1, 0, 1]
    tp, fp, tn, fn = (to_numpy(c).tolist() for c in confusion_counts(A, Y))
    assert (tp, fp, tn, fn) == ([0, 1], [1, 1], [1, 0], [1, 1])


def test_every_loss_is_usable_as_a_metric(array_backend, rng):
    A = rng.uniform(0.1, 0.9, (8, 3))
    Y = np.eye(3)[rng.integers(3, size=8)]
    for name in LOSSES:
        metric = get_metric(name)
        assert metric.name == name
        direct = float(to_numpy(get_loss(name)(array_backend.asarray(A), array_backend.asarray(Y))))
        assert value(name, A, Y, array_backend) == direct


def test_losses_as_metrics_in_a_model_history(array_backend, rng):
    X, labels = blobs(rng, m=30)
    model = classifier(X, labels, batch_size=10)
    model.initialize(loss="CCE", metrics=["accuracy", "MSE", "BCE", "f1"], seed=1, verbose=False)
    model.train(epochs=2, verbose=0)
    for key in ("accuracy", "MSE", "BCE", "fscore", "val_MSE", "val_accuracy"):
        assert len(model.history[key]) == 2, key
    val = model.embedding.dval
    expected_mse = float(to_numpy(get_loss("MSE")(val.A, val.Y)))
    assert model.history["val_MSE"][-1] == pytest.approx(expected_mse, rel=1e-12)
    expected_accuracy = np.mean(to_numpy(val.P) == val.y)
    assert model.history["val_accuracy"][-1] == pytest.approx(expected_accuracy)


def test_unknown_metric_names_the_choices():
    with pytest.raises(ValueError, match="unknown metric 'acuracy'") as error:
        get_metric("acuracy")
    assert "accuracy" in str(error.value) and "MSE" in str(error.value)
