"""Handwritten digits with a CNN: filters that learn strokes.

Data: the 1797 handwritten digits that ship with scikit-learn (8 x 8 pixels, grey levels
0-16, divided by 16), read as images (1797, 8, 8, 1) by ``nnxp.datasets.digits("image")``;
nothing is downloaded. Half train, a quarter validates, a quarter tests (449 digits).

Network::

    Embedding                              (m, 8, 8, 1)    labels one-hot
    Convolution(16, 3, padding="same")     (m, 8, 8, 16)   16 filters of 3 x 3, ReLU
    Pooling(2)                             (m, 4, 4, 16)   the max of each 2 x 2 window
    Flatten                                (m, 256)
    Dense(10, softmax)                     (m, 10)

Adam (learning rate 0.005, decaying by exp(-0.05) per epoch), cross-entropy, batches of
32. (``nnxp demo --model cnn`` trains a smaller sibling, with 8 filters.)

What it should reach: about 97% test accuracy after 15 epochs (seed 1), from 10% by
chance. A few seconds on a CPU.

Run it with ``python examples/digits_cnn.py``. It ends with the backend comparison of
this CNN.
"""

from __future__ import annotations

import numpy as np

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.datasets import digits
from nnxp.layers import Convolution, Dense, Embedding, Flatten, Pooling

EPOCHS = 15
SEED = 1


def build(batch_size: int = 32):
    """(model, settings for initialize), the same network every call."""
    X, labels = digits("image")
    model = nnxp.Model([
        Embedding(X, labels, Y_encode=True, relative_size=(2, 1, 1), batch_size=batch_size, seed=SEED),
        Convolution(16, 3, padding="same", activation="relu"),
        Pooling(2, mode="max"),
        Flatten(),
        Dense(10, "softmax"),
    ], name="digits CNN")
    settings = {"loss": "CCE", "metrics": ["accuracy", "fscore"], "seed": SEED, "optimizer": "adam",
                "se_hPars": {"learning_rate": 0.005, "schedule": "exp_decay", "decay_k": 0.05}}
    return model, settings


def confusions(model) -> None:
    """The test digits the network got wrong, as (true -> predicted) pairs, most frequent first."""
    test = model.embedding.dtest
    predicted = model.predict(nnxp.to_numpy(test.X)).labels
    wrong = [(int(t), int(p)) for t, p in zip(test.y, predicted) if t != p]
    pairs, counts = np.unique(np.array(wrong).reshape(-1, 2), axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    shown = ", ".join(f"{t}->{p} x{c}" for (t, p), c in zip(pairs[order], counts[order]))
    print(f"{len(wrong)} of {len(test)} test digits wrong: {shown}")


def main(epochs=None, compare=True, verbose=True, targets=None, compare_epochs=3):
    """Train the CNN, show its mistakes, compare backends. Returns the trained model,
    its loss before training and the comparison."""
    epochs = epochs or EPOCHS
    model, settings = build()
    model.initialize(**settings, verbose=verbose)
    before = model.evaluate()["loss"]
    history = model.train(epochs=epochs, verbose=int(verbose))
    if verbose:
        print(f"test accuracy after {epochs} epochs: {history['test_accuracy'][-1]:.3f}")
        confusions(model)
    comparison = compare_backends(build, targets=targets, epochs=compare_epochs, verbose=verbose) if compare else None
    return {"models": {"CNN": model}, "before": {"CNN": before}, "comparison": comparison}


if __name__ == "__main__":
    main()
