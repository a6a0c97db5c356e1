# %% [markdown]
# # Handwritten digits, row by row, with an LSTM
#
# A recurrent network reads a sequence one step at a time and carries what matters in
# its state. Here the sequence is a digit's 8 rows of pixels, top to bottom: after the
# last row, the LSTM must have kept enough of the first ones to tell a 7 from a 1.

# %%
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
32. (``nnxp demo --model lstm`` trains a smaller sibling: 32 units, a rate of 0.02
decaying by exp(-0.05).)

What it should reach: about 95% test accuracy after 15 epochs (seed 1), from 10% by
chance; the network has seen one row at a time and had to carry what matters in its
cell state. A few seconds on a CPU.

Run it with ``python examples/digits_lstm.py [--epochs 15] [--backend cpu] [--out folder]``,
or open it as a notebook. It ends with the per-layer profile and the backend comparison.
"""

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.datasets import digits
from nnxp.layers import LSTM, Dense, Embedding
from nnxp.lesson import options

lesson = options("digits_lstm", epochs=15)
SEED = 1

# %% [markdown]
# ## The data: images as sequences
#
# The same digits as an image CNN reads, shaped (samples, steps, features): 8 steps, one
# per row, each of 8 pixels.

# %%
X, labels = digits("rows")
print(f"X {X.shape} = (samples, steps, features); the first digit is a {labels[0]}, its rows:")
for step, row in enumerate(X[0]):
    print(f"  step {step}: " + " ".join(f"{pixel:.2f}" for pixel in row))

# %% [markdown]
# ## The network and its initialization table
#
# The LSTM keeps its four gates (forget, input, candidate, output) side by side: U is
# (8, 4 x 64) for the input and V (64, 4 x 64) for the previous hidden state, so that one
# matrix product computes all four gates at once.


# %%
def build(batch_size: int = 32):
    """(model, settings for initialize), the same network every call."""
    X, labels = digits("rows")
    model = nnxp.Model([
        Embedding(X, labels, Y_encode=True, relative_size=(2, 1, 1), batch_size=batch_size, seed=SEED),
        LSTM(64),
        Dense(10, "softmax"),
    ], name="digits: row-by-row LSTM")
    settings = {"loss": "CCE", "metrics": ["accuracy", "fscore"], "seed": SEED, "optimizer": "adam",
                "se_hPars": {"learning_rate": 0.01, "schedule": "exp_decay", "decay_k": 0.1}}
    return model, settings


model, settings = build()
model.initialize(**settings)

# %% [markdown]
# ## Training

# %%
history = model.train(epochs=lesson.epochs)
lstm = model.layers[1]
print(f"test accuracy after {lesson.epochs} epochs: {history['test_accuracy'][-1]:.3f}")
print(f"the LSTM's forward shapes (fs, recorded on the first batch): H {lstm.fs['H']} every step's "
      f"hidden state, C {lstm.fs['C']} every step's cell state, A {lstm.fs['A']} the last step's H")

# %%
lesson.save(model.plot(), "curves.png")

# %% [markdown]
# ## Where a training step spends its time
#
# The LSTM's backward walks the 8 steps in reverse: back-propagation through time.

# %%
lesson.save(model.profile().plot(), "profile.png")

# %% [markdown]
# ## The backends, side by side

# %%
comparison = compare_backends(build, targets=lesson.targets, epochs=lesson.compare_epochs)
lesson.save(comparison.plot(), "compare.png")
