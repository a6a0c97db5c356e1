"""One model, several threads: predictions never see another call's training mode or caches.

Training mode is a property of the call (``nnxp.layers.base.call_mode``), not of the
shared layer objects: ``predict``, ``evaluate`` and ``forward(X, training=False)`` run
their layers in evaluation mode with caches of their own, and flip nothing that
another thread reads.
"""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from builders import blobs
from nnxp import Model
from nnxp.layers import BatchNorm, Dense, Dropout, Embedding


@pytest.fixture
def model(rng):
    X, labels = blobs(rng, m=120, features=5)
    model = Model([Embedding(X, labels, Y_encode=True, batch_size=16, seed=0), Dense(16, "relu"), BatchNorm(),
                   Dropout(0.5), Dense(3, "softmax")])
    model.initialize(loss="CCE", seed=1, verbose=False)
    model.train(epochs=2, verbose=0)  # running statistics far from their initial 0 and 1
    return model, X


def in_threads(work, threads=4):
    """Run work(index) in each thread, all started together; the results in order."""
    start, results, errors = threading.Barrier(threads), [None] * threads, []

    def run(index):
        start.wait()
        try:
            results[index] = work(index)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    return results


def test_four_threads_predicting_get_the_single_thread_answer(model):
    model, X = model
    expected = model.predict(X).probabilities
    results = in_threads(lambda index: [model.predict(X).probabilities for _ in range(50)])
    wrong = sum(not np.array_equal(got, expected) for predictions in results for got in predictions)
    assert wrong == 0, f"{wrong} of 200 predictions differ from the single-thread answer"


def test_evaluate_and_forward_in_evaluation_mode_from_threads(model):
    model, X = model
    Y = np.argmax(model.predict(X).probabilities, axis=1)  # labels, encoded as in training
    expected_values, expected_A = model.evaluate(X, Y), model.predict(X).probabilities
    X_backend = model.backend.asarray(X)

    def work(index):
        if index % 2:
            return [model.evaluate(X, Y) == expected_values for _ in range(20)]
        return [np.array_equal(np.asarray(model.forward(X_backend, training=False)), expected_A) for _ in range(20)]

    assert all(all(agreed) for agreed in in_threads(work))


def test_predicting_beside_training_disturbs_neither(rng):
    """One thread runs training passes (forward, backward) while another predicts: the
    gradients are those of the same passes run alone, and every prediction is the
    evaluation-mode answer (no optimizer step, no BatchNorm here: the weights stay put)."""
    X, labels = blobs(rng, m=80, features=5)
    model = Model([Embedding(X, labels, Y_encode=True, batch_size=40, seed=0), Dense(16, "tanh"), Dropout(0.5),
                   Dense(3, "softmax")])
    model.initialize(loss="CCE", seed=1, verbose=False)
    batch = model.embedding.training_batches()[0]
    dropout, expected = model.layers[2], model.predict(X).probabilities

    def training_passes():
        gradients = []
        for _ in range(15):
            A = model.forward(batch.X)
            model.backward(*model.loss_gradient(A, batch.Y))
            gradients.append([np.asarray(layer.g["dW"]).copy() for layer in (model.layers[1], model.layers[3])])
        return gradients

    model.forward(batch.X)  # the mask stream exists from here on
    masks = dropout.random.state
    alone = training_passes()
    dropout.random.state = masks  # the same masks again

    def work(index):
        if index == 0:
            return training_passes()
        return [np.array_equal(model.predict(X).probabilities, expected) for _ in range(30)]

    together, predictions = in_threads(work, threads=2)
    assert all(predictions)
    for step, (got, want) in enumerate(zip(together, alone)):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w, err_msg=f"training pass {step}")


@pytest.mark.parametrize("layer", ["workqueue", "default", "blas", "workqueue blas"])
def test_threads_predicting_through_the_kernels(layer, tmp_path):
    """A CNN and an LSTM on the numba kernels, four threads at once: every prediction
    equals the single-thread one, also on Numba's workqueue pool (not thread-safe: a
    second call while one runs would abort the process), where calls take turns, and on
    the kernels with BLAS products ("blas": NNXP_CPU_PATH), whose chunks each caller
    runs on Numba's threads, entering Python from a parallel loop (kernels/cpu/workers.py)."""
    pytest.importorskip("numba")
    script = textwrap.dedent("""
        import threading, numba, numpy as np, nnxp
        from nnxp.layers import LSTM, Convolution, Dense, Embedding, Flatten, Pooling
        nnxp.set_backend("cpu", kernels="numba")
        rng = np.random.default_rng(0)
        labels = rng.integers(2, size=32)
        models = []
        for X, body in ((rng.standard_normal((32, 6, 6, 1)), [Convolution(2, 3), Pooling(2), Flatten()]),
                        (rng.standard_normal((32, 4, 3)), [LSTM(4)])):
            model = nnxp.Model([Embedding(X, labels, Y_encode=True, batch_size=16, seed=0), *body,
                                Dense(2, "softmax")])
            model.initialize(loss="CCE", seed=0, verbose=False)
            models.append((model, X, model.predict(X).probabilities))
        wrong = []
        def work():
            for _ in range(15):
                for model, X, expected in models:
                    wrong.append(not np.array_equal(model.predict(X).probabilities, expected))
        threads = [threading.Thread(target=work) for _ in range(4)]
        [thread.start() for thread in threads]
        [thread.join() for thread in threads]
        print(numba.threading_layer(), sum(wrong), len(wrong))
    """)
    environment = dict(os.environ)
    if "workqueue" in layer:
        environment["NUMBA_THREADING_LAYER"] = "workqueue"
    if "blas" in layer:
        environment["NNXP_CPU_PATH"] = "blas"
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    used, wrong, total = done.stdout.split()
    assert (wrong, total) == ("0", "120") and (used == "workqueue" or "workqueue" not in layer)
