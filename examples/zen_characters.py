# %% [markdown]
# # A character-level model of the Zen of Python
#
# Guess the next character from the 16 before it; then, from its own guesses, write.
# The text ships with Python itself. It is far too short to hold some of it out, so the
# lesson is memory, not generalisation: after 30 epochs the network recites a passable
# Zen, with a few inventions of its own.

# %%
"""A character-level model of the Zen of Python: guess the next character, then write.

Data: the Zen of Python, the 856 characters that ship with Python in the module
``this`` (stored there in rot13; ``codecs.decode(this.s, "rot13")`` gives the text; it is
imported with its printout silenced). Read in a loop, the text gives one sample per
position: the 16 characters before it (X, a string of 16 characters) and the character
that follows (the label). The ``Embedding`` one-hot encodes both (``X_encode``,
``Y_encode``): X becomes (856, 16, 45), 45 distinct characters; Y has 45 columns. All
samples train: the text is far too short to hold some out and expect the network to
guess them, so the lesson here is memory, not generalisation.

Network::

    Embedding (one-hot)   (m, 16, 45)
    GRU(64)               (m, 64)     the last hidden state, after the 16th character
    Dense(45, softmax)    (m, 45)     a probability for each possible next character

Adam (learning rate 0.01, decaying by exp(-0.05) per epoch), cross-entropy, batches of 32.

What it should reach: about 99% training accuracy after 30 epochs (seed 1), from 2% by
chance (14% by always guessing a space). Then it writes: given the first 16 characters
of the text, it picks each next character at random from its own probabilities,
sharpened by a temperature of 0.5, and recites a passable Zen with a few inventions of
its own. A few seconds on a CPU.

Run it with ``python examples/zen_characters.py [--epochs 30] [--backend cpu] [--out folder]``,
or open it as a notebook. It ends with the backend comparison of this GRU network.
"""

import codecs
import contextlib
import io

import numpy as np

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.layers import GRU, Dense, Embedding
from nnxp.lesson import options

lesson = options("zen_characters", epochs=30)
SEED = 1
CONTEXT = 16  # characters the network sees before guessing the next

# %% [markdown]
# ## The data: every position of the text, read in a loop


# %%
def zen() -> str:
    """The Zen of Python, from the standard library (without printing it)."""
    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return codecs.decode(this.s, "rot13")


def make_data(text: str):
    """(X, next_characters): every position of the text read in a loop, X (n, 16) of
    single characters, and the character that follows each window (n,)."""
    looped = text + text[:CONTEXT]  # the end runs on into the start: every character is a label once
    characters = np.array(list(looped))
    X = np.stack([characters[i:i + CONTEXT] for i in range(len(text))])
    return X, characters[CONTEXT:CONTEXT + len(text)]


X, next_characters = make_data(zen())
print(f"{len(zen())} characters; X {X.shape}, e.g. {''.join(X[20])!r} -> {next_characters[20]!r}")

# %% [markdown]
# ## The network and its initialization table


# %%
def build(batch_size: int = 32):
    """(model, settings for initialize), the same network every call."""
    X, next_characters = make_data(zen())
    classes = len(np.unique(next_characters))
    model = nnxp.Model([
        Embedding(X, next_characters, X_encode=True, Y_encode=True, relative_size=(1, 0, 0),
                  batch_size=batch_size, seed=SEED),
        GRU(64),
        Dense(classes, "softmax"),
    ], name="Zen: characters GRU")
    settings = {"loss": "CCE", "metrics": ["accuracy"], "seed": SEED, "optimizer": "adam",
                "se_hPars": {"learning_rate": 0.01, "schedule": "exp_decay", "decay_k": 0.05}}
    return model, settings


model, settings = build()
model.initialize(**settings)

# %% [markdown]
# ## Training

# %%
history = model.train(epochs=lesson.epochs)
print(f"training accuracy after {lesson.epochs} epochs: {history['accuracy'][-1]:.3f} "
      f"(1 / {len(model.embedding.classes)} characters by chance)")

# %%
lesson.save(model.plot(), "curves.png")

# %% [markdown]
# ## It writes
#
# Each next character is drawn from the network's probabilities raised to the power
# 1 / temperature: below 1, bolder and with fewer typos.


# %%
def write(model, start: str, length: int = 200, temperature: float = 0.5, seed: int = 0) -> str:
    """Continue ``start`` by ``length`` characters, each drawn from the network's
    probabilities raised to the power 1 / temperature (below 1: bolder, fewer typos)."""
    rng = np.random.default_rng(seed)
    classes = model.embedding.classes
    text = list(start)
    for _ in range(length):
        window = np.array([text[-CONTEXT:]])  # raw characters: predict one-hot encodes them
        probabilities = model.predict(window).probabilities[0].astype(np.float64) ** (1 / temperature)
        text.append(classes[rng.choice(len(classes), p=probabilities / probabilities.sum())])
    return "".join(text)


print(write(model, zen()[:CONTEXT]))

# %% [markdown]
# ## The backends, side by side

# %%
comparison = compare_backends(build, targets=lesson.targets, epochs=lesson.compare_epochs)
lesson.save(comparison.plot(), "compare.png")
