# %% [markdown]
# # Generated strings: one-hot letters into RNN, GRU and LSTM
#
# Does a DNA-like string contain the motif CAT? A string is text; a network reads
# numbers. The `Embedding` one-hot encodes each letter, turning a string of 12 letters
# into a sequence of 12 steps of 4 features. Three recurrent layers read the same
# strings: the simple RNN, and the GRU and LSTM, whose gates let them remember "I have
# just seen CA" for as long as needed.

# %%
"""Generated strings, one-hot encoded: does a DNA-like string contain the motif "CAT"?

Data: 1200 random strings of 12 letters from A, C, G, T, generated from a seed. Half of
them get the motif CAT written in at a random place; the other half are drawn again
until they do not contain it. The label: 1 if CAT is in the string, else 0. The
``Embedding`` one-hot encodes the letters (``X_encode=True``): each string becomes a
sequence of 12 steps of 4 features, (m, 12, 4). Half train, a quarter validates, a
quarter tests.

Networks, one per recurrent layer, each reading the string letter by letter and
deciding from its last hidden state::

    Embedding (one-hot)   (m, 12, 4)
    RNN(16) | GRU(16) | LSTM(16)   (m, 16)    the last hidden state h_12
    Dense(2, softmax)     (m, 2)

Adam (learning rate 0.01), cross-entropy, batches of 32.

What they should reach after 20 epochs (seed 1), from 50% by chance: the GRU and the
LSTM 99-100% test accuracy (the gates let them remember "I have seen CA" for as long
as needed); the simple RNN about 96%, after a bumpier ride. A few seconds in all on a
CPU.

Run it with ``python examples/strings_rnn.py [--epochs 20] [--backend cpu] [--out folder]``,
or open it as a notebook. It ends with the backend comparison of each of the three
networks, titled strings: RNN, strings: GRU and strings: LSTM.
"""

import numpy as np

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.layers import GRU, LSTM, RNN, Dense, Embedding
from nnxp.lesson import options

lesson = options("strings_rnn", epochs=20)
SEED = 1
LETTERS = np.array(list("ACGT"))
MOTIF = "CAT"
LENGTH = 12

# %% [markdown]
# ## The data: strings with and without the motif


# %%
def contains_motif(letters) -> bool:
    return MOTIF in "".join(letters)


def make_data(n: int = 1200, seed: int = 0):
    """(X, labels): n strings as an (n, 12) array of letters, and 1 where CAT is in them."""
    rng = np.random.default_rng(seed)
    X = rng.choice(LETTERS, size=(n, LENGTH))
    for string, positive in zip(X, rng.random(n) < 0.5):
        if positive:
            start = rng.integers(0, LENGTH - len(MOTIF) + 1)
            string[start:start + len(MOTIF)] = list(MOTIF)
        else:
            while contains_motif(string):
                string[:] = rng.choice(LETTERS, size=LENGTH)
    labels = np.array([contains_motif(string) for string in X], dtype=int)
    return X, labels


X, labels = make_data()
print("a few strings and their labels:", ", ".join(f"{''.join(x)} {y}" for x, y in zip(X[:4], labels[:4])))
print(f"{labels.mean():.0%} of the strings hold the motif")

# %% [markdown]
# ## Three networks, one per recurrent layer
#
# The initialization table of each shows the one-hot input (m, 12, 4) and the
# parameters of its recurrent layer: the GRU has three gates' worth, the LSTM four.


# %%
def build(recurrent=GRU, batch_size: int = 32):
    """(model, settings for initialize) for one of RNN, GRU, LSTM."""
    X, labels = make_data()
    model = nnxp.Model([
        Embedding(X, labels, X_encode=True, Y_encode=True, relative_size=(2, 1, 1), batch_size=batch_size,
                  seed=SEED),
        recurrent(16),
        Dense(2, "softmax"),
    ], name=f"strings: {recurrent.__name__}")
    settings = {"loss": "CCE", "metrics": ["accuracy"], "seed": SEED, "optimizer": "adam",
                "se_hPars": {"learning_rate": 0.01}}
    return model, settings


models = {}
for recurrent in (RNN, GRU, LSTM):
    model, settings = build(recurrent)
    model.initialize(**settings)
    models[recurrent.__name__] = model

# %% [markdown]
# ## Training each one

# %%
for name, model in models.items():
    model.train(epochs=lesson.epochs)
for name, model in models.items():
    print(f"{name:>5}: test accuracy {model.history['test_accuracy'][-1]:.3f} after {lesson.epochs} epochs")
print("The vocabulary the Embedding found:", models["GRU"].embedding.vocabulary)

# %%
for name, model in models.items():
    lesson.save(model.plot(), f"curves-{name.lower()}.png")

# %% [markdown]
# ## The backends, side by side, for each network
#
# A target this machine does not have is told once, not once per table.

# %%
comparisons = {}
for recurrent in (RNN, GRU, LSTM):
    comparisons[recurrent.__name__] = compare_backends(
        lambda batch_size=32, recurrent=recurrent: build(recurrent, batch_size), targets=lesson.targets,
        epochs=lesson.compare_epochs)
    lesson.save(comparisons[recurrent.__name__].plot(), f"compare-{recurrent.__name__.lower()}.png")
