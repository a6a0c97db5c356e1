# %% [markdown]
# # Generated images and a small CNN
#
# Five classes of blurry shapes, generated from a seed: the images are made here, not
# downloaded, so a class can see exactly what the network is asked to tell apart. A
# small CNN learns it in a few epochs; the profile then shows where its training time
# goes, and the comparison what the compiled kernels change.

# %%
"""Generated images and a small CNN: tell five blurry shapes apart.

Data: ``nnxp.datasets.synthetic_images``, generated from a seed, nothing downloaded.
Each of the 5 classes has its own smooth template (a sum of three Gaussian blobs); an
image is the template of its class, shifted by up to 2 pixels, plus noise, 16 x 16
pixels, one channel. 1200 images: half train, a quarter validates, a quarter tests.

Network::

    Embedding            (m, 16, 16, 1)   the images, labels one-hot
    Convolution(8, 3)    (m, 14, 14, 8)   8 filters of 3 x 3, ReLU
    Pooling(2)           (m, 7, 7, 8)     the max of each 2 x 2 window
    Flatten              (m, 392)
    Dense(5, softmax)    (m, 5)

Adam (learning rate 0.005), cross-entropy, batches of 32.

What it should reach: about 98% test accuracy after 10 epochs (seed 1), from 20% by
chance. Training takes a few seconds on a CPU.

Run it with ``python examples/images_cnn.py [--epochs 10] [--backend cpu] [--out folder]``
(``NNXP_KERNELS=reference`` runs the readable array code; the default ``numba`` the
compiled kernels), or open it as a notebook. It ends with the per-layer profile and the
backend comparison of this CNN.
"""

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.datasets import synthetic_images
from nnxp.layers import Convolution, Dense, Embedding, Flatten, Pooling
from nnxp.lesson import options

lesson = options("images_cnn", epochs=10)
SEED = 1
CLASSES = 5
SIZE = 16

# %% [markdown]
# ## The data: one image of each class
#
# Darker characters are brighter pixels. Each class is a template of blobs; every image
# of it is that template, moved by up to 2 pixels, with noise on top.


# %%
def make_data():
    """(X, labels): 1200 images (1200, 16, 16, 1) in [0, 1] and their classes 0..4."""
    return synthetic_images(1200, size=SIZE, channels=1, classes=CLASSES, seed=0)


def show_images(X, labels) -> None:
    """One image of each class, in characters (darker = brighter pixel)."""
    shades = " .:-=+*#%@"
    firsts = [next(i for i, label in enumerate(labels) if label == c) for c in range(CLASSES)]
    print("   ".join(f"class {c}".ljust(SIZE) for c in range(CLASSES)))
    for row in range(SIZE):
        print("   ".join("".join(shades[min(int(X[i, row, col, 0] * len(shades)), len(shades) - 1)]
                                 for col in range(SIZE)) for i in firsts))


X, labels = make_data()
print(f"X {X.shape}, labels {labels.shape}")
show_images(X, labels)

# %% [markdown]
# ## The network and its initialization table
#
# Without padding, a 3 x 3 filter fits 14 times across 16 pixels: the convolution's
# output A is (m, 14, 14, 8), and pooling halves it to 7 x 7.


# %%
def build(batch_size: int = 32):
    """(model, settings for initialize), the same network every call."""
    X, labels = make_data()
    model = nnxp.Model([
        Embedding(X, labels, Y_encode=True, relative_size=(2, 1, 1), batch_size=batch_size, seed=SEED),
        Convolution(8, 3, activation="relu"),
        Pooling(2, mode="max"),
        Flatten(),
        Dense(CLASSES, "softmax"),
    ], name="images: CNN")
    settings = {"loss": "CCE", "metrics": ["accuracy"], "seed": SEED, "optimizer": "adam",
                "se_hPars": {"learning_rate": 0.005}}
    return model, settings


model, settings = build()
model.initialize(**settings)

# %% [markdown]
# ## Training

# %%
history = model.train(epochs=lesson.epochs)
print(f"test accuracy after {lesson.epochs} epochs: {history['test_accuracy'][-1]:.3f} (chance: {1 / CLASSES:.2f})")

# %%
lesson.save(model.plot(), "curves.png")

# %% [markdown]
# ## Where a training step spends its time

# %%
lesson.save(model.profile().plot(), "profile.png")

# %% [markdown]
# ## The backends, side by side

# %%
comparison = compare_backends(build, targets=lesson.targets, epochs=lesson.compare_epochs)
lesson.save(comparison.plot(), "compare.png")
