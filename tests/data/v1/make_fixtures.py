"""The model files of format version 1 that tests/test_io_formats.py loads.

They were written once, by nnxp 0.1 (commit 40b7489, the writer of format version 1),
with ``python tests/data/v1/make_fixtures.py``; ``expected.json`` holds what those
models computed then: a sum of each parameter and optimizer state, and the predicted
probabilities of a fixed input. A reader of any later version must load these files to
exactly those numbers. (Running this script again with a later nnxp writes that
version's format, not version 1: the files are kept as they were committed.)
"""

import json
import os

import numpy as np

import nnxp
from nnxp import Model
from nnxp.layers import LSTM, BatchNorm, Convolution, Dense, Dropout, Embedding, Flatten, Pooling

HERE = os.path.dirname(os.path.abspath(__file__))


def models():
    """name -> (trained model, input to predict)."""
    rng = np.random.default_rng(7)
    made = {}

    X = rng.standard_normal((24, 4))
    labels = np.array(["ant", "bee", "cow"])[rng.integers(3, size=24)]
    mlp = Model([Embedding(X, labels, Y_encode=True, X_scale=True, batch_size=8, seed=1),
                 Dense(5, "relu"), Dropout(0.2), Dense(3, "softmax")], name="v1 mlp")
    mlp.initialize(loss="CCE", optimizer="sgd", seed=2, verbose=False,
                   se_hPars={"learning_rate": 0.1, "schedule": "exp_decay", "decay_k": 0.1})
    mlp.train(epochs=2, verbose=0)
    made["mlp"] = (mlp, X[:5])

    images = rng.standard_normal((16, 6, 6, 1))
    digits = rng.integers(2, size=16)
    cnn = Model([Embedding(images, digits, Y_encode=True, batch_size=8, seed=3),
                 Convolution(3, 3, padding="same"), Pooling(2), Flatten(), Dense(2, "softmax")], name="v1 cnn")
    cnn.initialize(loss="CCE", optimizer={"name": "adam", "beta_1": 0.8}, metrics=["accuracy", "MSE"], seed=4,
                   verbose=False, se_hPars={"learning_rate": 0.01})
    cnn.train(epochs=2, verbose=0)
    made["cnn"] = (cnn, images[:3])

    sequences = rng.standard_normal((12, 5, 3))
    targets = rng.standard_normal(12)
    lstm = Model([Embedding(sequences, targets, batch_size=6, seed=5), LSTM(4), Dense(1, "linear")],
                 name="v1 lstm")
    lstm.initialize(loss="MSE", optimizer="rmsprop", metrics=[], seed=6, verbose=False,
                    se_hPars={"learning_rate": 0.01})
    lstm.train(epochs=2, verbose=0)
    made["lstm"] = (lstm, sequences[:4])

    rows = rng.standard_normal((20, 3))
    classes = rng.integers(2, size=20).astype(float)
    batchnorm = Model([Embedding(rows, classes, batch_size=10, seed=7), Dense(4, "tanh"), BatchNorm(),
                       Dense(1, "sigmoid")], name="v1 batchnorm")
    batchnorm.initialize(loss="BCE", optimizer="adam", seed=8, verbose=False)
    batchnorm.train(epochs=3, verbose=0)
    made["batchnorm"] = (batchnorm, rows[:6])
    return made


def summary(model, X) -> dict:
    """What a faithful load must reproduce exactly."""
    sums = {f"p/{i}/{k}": float(np.sum(nnxp.to_numpy(v), dtype=np.float64))
            for i, layer in enumerate(model.layers) for k, v in layer.p.items()}
    sums.update({f"opt/{key}/{slot}": float(np.sum(nnxp.to_numpy(v), dtype=np.float64))
                 for key, slots in model.optimizer.state.items() for slot, v in slots.items()})
    return {"sums": sums, "epoch": model.epoch, "steps": model.optimizer.t, "history": model.history.history,
            "input": X.tolist(), "probabilities": model.predict(X).probabilities.tolist()}


def main() -> None:
    expected = {}
    with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
        for name, (model, X) in models().items():
            model.write(os.path.join(HERE, f"{name}.npz"))
            expected[name] = summary(model, X)
    with open(os.path.join(HERE, "expected.json"), "w") as stream:
        json.dump(expected, stream, indent=1)


if __name__ == "__main__":
    main()
