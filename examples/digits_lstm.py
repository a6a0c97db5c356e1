"""Handwritten digits read row by row by an LSTM.

Data: the 1797 handwritten digits that ship with scikit-learn (8 x 8 pixels, divided by
16), each read as a *sequence* of its 8 rows of 8 pixels, top to bottom:
``nnxp.datasets.digits("rows")`` gives (1797, 8, 8) = (samples, steps, features).
Nothing is downloaded. Half train, a quarter validates, a quarter tests (449 digits).

Network::

    Embedding            (m, 8, 8)     labels one-hot
    LSTM(64)             (m, 64)       the last hidden state, after the 8th row
    Dense(10, softmax)   (m, 10)

Adam (learning rate 0.01, decaying by exp(-0.1) per epoch), cross-entropy, batches of
32. (``nnxp demo --model lstm`` trains a smaller sibling: 32 units, a gentler rate.)

What it should reach: about 95% test accuracy after 15 epochs (seed 1), from 10% by
chance; the network has seen one row at a time and had to carry what matters in its
cell state. A few seconds on a CPU.

Run it with ``python examples/digits_lstm.py``. It ends with the backend comparison of
this LSTM network.
"""

from __future__ import annotations

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.datasets import digits
from nnxp.layers import LSTM, Dense, Embedding

EPOCHS = 15
SEED = 1


def build(batch_size: int = 32):
    """(model, settings for initialize), the same network every call."""
    X, labels = digits("rows")
    model = nnxp.Model([
        Embedding(X, labels, Y_encode=True, relative_size=(2, 1, 1), batch_size=batch_size, seed=SEED),
        LSTM(64),
        Dense(10, "softmax"),
    ], name="digits row-by-row LSTM")
    settings = {"loss": "CCE", "metrics": ["accuracy", "fscore"], "seed": SEED, "optimizer": "adam",
                "se_hPars": {"learning_rate": 0.01, "schedule": "exp_decay", "decay_k": 0.1}}
    return model, settings


def main(epochs=None, compare=True, verbose=True, targets=None, compare_epochs=3):
    """Train the LSTM, report its test accuracy, compare backends. Returns the trained
    model, its loss before training and the comparison."""
    epochs = epochs or EPOCHS
    model, settings = build()
    model.initialize(**settings, verbose=verbose)
    before = model.evaluate()["loss"]
    history = model.train(epochs=epochs, verbose=int(verbose))
    if verbose:
        lstm = model.layers[1]
        print(f"test accuracy after {epochs} epochs: {history['test_accuracy'][-1]:.3f}")
        print(f"the LSTM's forward shapes (fs, recorded on the first batch): H {lstm.fs['H']} every step's "
              f"hidden state, C {lstm.fs['C']} every step's cell state, A {lstm.fs['A']} the last step's H")
    comparison = compare_backends(build, targets=targets, epochs=compare_epochs, verbose=verbose) if compare else None
    return {"models": {"LSTM": model}, "before": {"LSTM": before}, "comparison": comparison}


if __name__ == "__main__":
    main()
