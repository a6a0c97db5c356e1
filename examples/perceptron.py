# %% [markdown]
# # A boolean perceptron
#
# One sigmoid unit draws one straight line through the plane of its two inputs. That is
# enough for AND and OR, and not for XOR: this lesson trains it on all three truth tables,
# reads the line it found from its weights, then adds a hidden layer and watches XOR
# fall too.

# %%
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

Run it with ``python examples/perceptron.py [--epochs 300] [--backend cpu] [--out folder]``,
or open it as a notebook. It ends with the backend comparison of the XOR network (which
has no compiled kernels: both CPU targets run the same code).
"""

import numpy as np

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.layers import Dense, Embedding
from nnxp.lesson import options

lesson = options("perceptron", epochs=300)
SEED = 1

# %% [markdown]
# ## The data: four rows, three truth tables

# %%
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
TRUTH_TABLES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}
print("x1 x2 " + " ".join(f"{gate:>4}" for gate in TRUTH_TABLES))
for i, (a, b) in enumerate(X.astype(int)):
    print(f" {a}  {b} " + " ".join(f"{table[i]:>4}" for table in TRUTH_TABLES.values()))

# %% [markdown]
# ## The network
#
# One batch holds the four rows. A perceptron is a single `Dense` unit with a sigmoid;
# with `hidden`, a layer of tanh units comes before it. Its initialization table shows
# how small it is: W of shape (2, 1) and one bias.


# %%
def build(gate: str = "XOR", hidden: int = 0, batch_size=None):
    """(model, settings for initialize): a perceptron for ``gate``, or with a hidden
    layer of ``hidden`` tanh units. One batch holds the four rows."""
    targets = np.array(TRUTH_TABLES[gate])
    embedding = Embedding(X, targets, relative_size=(1, 0, 0), batch_size=batch_size, seed=SEED)
    body = [Dense(hidden, "tanh")] if hidden else []
    name = f"{gate}: {'MLP' if hidden else 'perceptron'}"
    model = nnxp.Model([embedding, *body, Dense(1, "sigmoid")], name=name)
    settings = {"loss": "BCE", "metrics": ["accuracy"], "seed": SEED, "optimizer": "sgd",
                "se_hPars": {"learning_rate": 1.0}}
    return model, settings


model, settings = build("AND")
model.initialize(**settings)

# %% [markdown]
# ## Training on each gate
#
# 300 epoch rows would drown the truth tables, so training is quiet (`verbose=0`); each
# line shows the loss before and after, and the output for each row of the table.


# %%
def train(gate: str, hidden: int = 0):
    """Train one network quietly; print its truth table as it learned it."""
    model, settings = build(gate, hidden)
    model.initialize(**settings, verbose=False)
    before = model.evaluate()["loss"]
    history = model.train(epochs=lesson.epochs, verbose=0)
    outputs = model.predict(X).probabilities[:, 0]
    rows = "  ".join(f"{int(a)}{int(b)}->{out:.2f}" for (a, b), out in zip(X, outputs))
    print(f"{model.name:>16}: loss {before:.3f} -> {history['loss'][-1]:.3f}, "
          f"accuracy {history['accuracy'][-1]:.2f}   {rows}")
    return model


def boundary(model) -> str:
    """The perceptron's line x1 w1 + x2 w2 + b = 0, from its trained parameters."""
    dense = model.layers[1]
    (w1, w2), b = nnxp.to_numpy(dense.p["W"])[:, 0], float(nnxp.to_numpy(dense.p["b"])[0])
    return f"{'':>16}  its boundary: {w1:+.2f} x1 {w2:+.2f} x2 {b:+.2f} = 0"


print(f"backend {nnxp.get_backend()}: {lesson.epochs} epochs of SGD on the 4 rows of each truth table")
models = {}
for gate in ("AND", "OR", "XOR"):
    models[gate] = train(gate)
    print(boundary(models[gate]))

# %% [markdown]
# No single line separates {01, 10} from {00, 11}: the XOR unit sits on the fence, all
# its outputs near 0.5. A hidden layer draws two lines, and the output unit combines them.

# %%
models["XOR with a hidden layer"] = train("XOR", hidden=4)

# %%
lesson.save(models["XOR with a hidden layer"].plot(), "curves-xor-mlp.png")

# %% [markdown]
# ## The backends, side by side
#
# The XOR network has no compiled kernels (a `Dense` layer's matrix product is already
# BLAS's), so both CPU targets run the same code: the speed-up is noise, and the outputs
# agree to the last bit.

# %%
comparison = compare_backends(lambda batch_size=None: build("XOR", 4), targets=lesson.targets,
                              epochs=lesson.compare_epochs)
lesson.save(comparison.plot(), "compare.png")
