# %% [markdown]
# # Handwritten digits with a CNN
#
# A convolutional network does not look at a digit's 64 pixels one by one, as a dense
# layer does: it slides 16 small filters of 3 x 3 pixels over the image, and each filter
# learns to answer "is there a stroke like mine here?". This lesson prepares the data,
# reads the initialization table, trains, plots the curves, looks at the mistakes, times
# each layer, and races the backends.

# %%
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
32. (``nnxp demo --model cnn`` trains the same network, initialized with he_uniform.)

What it should reach: about 97% test accuracy after 15 epochs (seed 1), from 10% by
chance. A few seconds on a CPU.

Run it with ``python examples/digits_cnn.py [--epochs 15] [--backend cpu] [--out folder]``,
or open it as a notebook. It ends with the per-layer profile and the backend comparison.
"""

import numpy as np

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.datasets import digits
from nnxp.lesson import options
from nnxp.layers import Convolution, Dense, Embedding, Flatten, Pooling

lesson = options("digits_cnn", epochs=15)
SEED = 1

# %% [markdown]
# ## The data
#
# Each digit is an 8 x 8 image with one channel (grey), so the data is a 4-dimensional
# array: (samples, height, width, channels). Here is one, in characters.

# %%
X, labels = digits("image")
print(f"X {X.shape}, pixels from {X.min()} to {X.max()}; labels {labels.shape}: {labels[:12]} ...")
shades = " .:-=+*#%@"
for row in X[0, :, :, 0]:
    print("".join(shades[min(int(pixel * len(shades)), len(shades) - 1)] * 2 for pixel in row))

# %% [markdown]
# ## The network and its initialization table
#
# `build` makes the same network every time it is called: the backend comparison at the
# end needs a fresh, identical copy on each backend. `initialize` draws the weights and
# runs one dry forward and backward pass on the first batch; the table it prints is the
# shapes of that pass: each layer's output A is the next layer's input X.


# %%
def build(batch_size: int = 32):
    """(model, settings for initialize), the same network every call."""
    X, labels = digits("image")
    model = nnxp.Model([
        Embedding(X, labels, Y_encode=True, relative_size=(2, 1, 1), batch_size=batch_size, seed=SEED),
        Convolution(16, 3, padding="same", activation="relu"),
        Pooling(2, mode="max"),
        Flatten(),
        Dense(10, "softmax"),
    ], name="digits: CNN")
    settings = {"loss": "CCE", "metrics": ["accuracy", "fscore"], "seed": SEED, "optimizer": "adam",
                "se_hPars": {"learning_rate": 0.005, "schedule": "exp_decay", "decay_k": 0.05}}
    return model, settings


model, settings = build()
model.initialize(**settings)
print(f"loss before training: {model.evaluate()['loss']:.3f} (log 10 = 2.303: a uniform guess)")

# %% [markdown]
# ## Training
#
# One row per epoch: the loss and metrics of each set after that epoch. The validation
# set is never trained on; the test set is read once, at the end.

# %%
history = model.train(epochs=lesson.epochs)
print(f"test accuracy after {lesson.epochs} epochs: {history['test_accuracy'][-1]:.3f}")

# %%
lesson.save(model.plot(), "curves.png")

# %% [markdown]
# ## What it gets wrong
#
# The test digits it misses, as (true -> predicted) pairs, the most frequent first.


# %%
def confusions(model) -> str:
    """The test digits the network got wrong, as (true -> predicted) pairs, most frequent first."""
    test = model.embedding.dtest
    predicted = model.predict(nnxp.to_numpy(test.X)).labels
    wrong = [(int(t), int(p)) for t, p in zip(test.y, predicted) if t != p]
    pairs, counts = np.unique(np.array(wrong).reshape(-1, 2), axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    shown = ", ".join(f"{t}->{p} x{c}" for (t, p), c in zip(pairs[order], counts[order]))
    return f"{len(wrong)} of {len(test)} test digits wrong: {shown}"


print(confusions(model))

# %% [markdown]
# ## Where a training step spends its time
#
# `model.profile()` times each layer's forward and backward pass, the loss and the
# optimizer step, on this backend. The convolution and its backward dominate: they hold
# most of the multiply-adds.

# %%
lesson.save(model.profile().plot(), "profile.png")

# %% [markdown]
# ## The backends, side by side
#
# The same seeded training on every target this machine has: same weights, same batches.
# The speed-up is the first row's seconds per epoch over each row's.

# %%
comparison = compare_backends(build, targets=lesson.targets, epochs=lesson.compare_epochs)
lesson.save(comparison.plot(), "compare.png")
