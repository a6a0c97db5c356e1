"""A boolean perceptron: one sigmoid unit learns AND and OR, and cannot learn XOR.

Data: the four rows of a two-input truth table, X = (0, 0), (0, 1), (1, 0), (1, 1),
with the targets of AND, OR and XOR. All four rows train (no validation or test set:
there is nothing else to test on), in one batch per epoch.

Network: ``Dense(1, "sigmoid")``, a perceptron: A = sigmoid(x1 w1 + x2 w2 + b), trained
with plain SGD (learning rate 1) on the binary cross-entropy. Its decision boundary is
the straight line x1 w1 + x2 w2 + b = 0. Then, for XOR, one hidden layer:
``Dense(4, "tanh")`` before the output unit.

What it should reach (300 epochs, seed 1, under a second in all on a CPU):

* AND and OR: accuracy 1.0; the loss falls from about 0.7 to 0.03-0.06.
* XOR with one unit: no straight line puts (0, 1) and (1, 0) on one side and (0, 0) and
  (1, 1) on the other, so the best the unit can do is to sit on the fence: its weights
  shrink to 0, every output is 0.5 and the loss stays at log 2 = 0.693 (its accuracy,
  0.25 here, is then a matter of rounding).
* XOR with a hidden layer of 4 tanh units: accuracy 1.0, loss below 0.01. The hidden
  units draw two lines; the output unit combines them.

Run it with ``python examples/perceptron.py``; choose the backend with the environment,
e.g. ``NNXP_BACKEND=cpu NNXP_KERNELS=reference``. It ends with the backend comparison of
the XOR network (which has no compiled kernels: both CPU targets run the same code).
"""

from __future__ import annotations

import numpy as np

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.layers import Dense, Embedding

EPOCHS = 300
SEED = 1
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
TRUTH_TABLES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}


def build(gate: str = "XOR", hidden: int = 0, batch_size=None):
    """(model, settings for initialize): a perceptron for ``gate``, or with a hidden
    layer of ``hidden`` tanh units. One batch holds the four rows."""
    targets = np.array(TRUTH_TABLES[gate])
    embedding = Embedding(X, targets, relative_size=(1, 0, 0), batch_size=batch_size, seed=SEED)
    body = [Dense(hidden, "tanh")] if hidden else []
    model = nnxp.Model([embedding, *body, Dense(1, "sigmoid")], name=f"{gate} {'MLP' if hidden else 'perceptron'}")
    settings = {"loss": "BCE", "metrics": ["accuracy"], "seed": SEED, "optimizer": "sgd",
                "se_hPars": {"learning_rate": 1.0}}
    return model, settings


def train(gate: str, hidden: int, epochs: int, verbose: bool):
    """Train one network; print its truth table as it learned it."""
    model, settings = build(gate, hidden)
    model.initialize(**settings, verbose=False)
    before = model.evaluate()["loss"]
    history = model.train(epochs=epochs, verbose=0)  # 300 epoch rows would drown the truth table below
    if verbose:
        outputs = model.predict(X).probabilities[:, 0]
        rows = "  ".join(f"{int(a)}{int(b)}->{out:.2f}" for (a, b), out in zip(X, outputs))
        print(f"{model.name:>16}: loss {before:.3f} -> {history['loss'][-1]:.3f}, "
              f"accuracy {history['accuracy'][-1]:.2f}   {rows}")
    return model, before


def show_boundary(model) -> None:
    """The perceptron's line x1 w1 + x2 w2 + b = 0, from its trained parameters."""
    dense = model.layers[1]
    (w1, w2), b = nnxp.to_numpy(dense.p["W"])[:, 0], float(nnxp.to_numpy(dense.p["b"])[0])
    print(f"{'':>16}  its boundary: {w1:+.2f} x1 {w2:+.2f} x2 {b:+.2f} = 0")


def main(epochs=None, compare=True, verbose=True, targets=None, compare_epochs=3):
    """Train the perceptron on AND, OR and XOR, then a hidden layer on XOR; compare
    backends on the last one. Returns the trained models, their loss before training
    and the comparison."""
    epochs = epochs or EPOCHS
    if verbose:
        print(f"backend {nnxp.get_backend()}: {epochs} epochs of SGD on the 4 rows of each truth table")
    models, before = {}, {}
    for gate, hidden in (("AND", 0), ("OR", 0), ("XOR", 0), ("XOR", 4)):
        name = f"{gate} with a hidden layer" if hidden else gate
        models[name], before[name] = train(gate, hidden, epochs, verbose)
        if verbose and not hidden:
            show_boundary(models[name])
    if verbose:
        print("XOR: no single line separates {01, 10} from {00, 11}; the hidden layer draws two.")
    comparison = None
    if compare:
        comparison = compare_backends(lambda batch_size=None: build("XOR", 4), targets=targets,
                                      epochs=compare_epochs, verbose=verbose)
    return {"models": models, "before": before, "comparison": comparison}


if __name__ == "__main__":
    main()
