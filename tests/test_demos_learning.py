"""Learning: the demo network (``nnxp demo``) learns the digits, in both precisions.

It is built by ``nnxp.demos.demo_model("mlp")``, the very function the demo calls: digits
(1797 8x8 images bundled with scikit-learn) / 16, labels one-hot; Dense 64 -> 32 ReLU,
Dense 10 softmax, cross-entropy, Adam with an exponentially decaying rate, batches of 32;
half the images train, a quarter validates, a quarter tests.
"""

import numpy as np
import pytest

import nnxp
from nnxp.demos import DEMO_EPOCHS, demo_model


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_demo_network_reaches_95_percent_test_accuracy(dtype):
    pytest.importorskip("sklearn")
    with nnxp.use_backend("cpu", dtype=dtype):
        model, settings = demo_model("mlp")  # the demo's own seed
        model.initialize(**settings, verbose=False)
        history = model.train(epochs=DEMO_EPOCHS["mlp"], verbose=0)
        assert model.layers[1].p["W"].dtype == model.backend.dtype
        test = model.embedding.dtest
        predicted = model.predict(test.X).labels  # test.X is prepared already: X / 16 in [0, 1]
    assert len(test) == 449 and history.epochs == DEMO_EPOCHS["mlp"]
    accuracy = np.mean(predicted == test.y)
    assert accuracy == pytest.approx(history["test_accuracy"][-1])
    assert accuracy >= 0.95, f"test accuracy {accuracy:.3f} after {history.epochs} epochs ({dtype})"
    assert history["val_accuracy"][-1] >= 0.93
    assert history["loss"][-1] < 0.2 < history["loss"][0]
