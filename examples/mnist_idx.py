# %% [markdown]
# # MNIST from its IDX files, and a CNN
#
# MNIST, the classic set of 70,000 handwritten digits, ships as four IDX files: a tiny
# header that says the type and the shape of the numbers, then the numbers themselves.
# This lesson reads them with `nnxp.datasets.read_idx`, looks at the header byte by
# byte, and trains a CNN. Without the files (nothing is downloaded here) it writes the
# digits that ship with scikit-learn in the same format first, and reads those: the
# reading is the same.

# %%
"""MNIST from its IDX files: read the format byte by byte, then a CNN.

Data: the four MNIST files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, gzip'd or not) from the folder
named by ``NNXP_MNIST`` (default: ``mnist`` in the working folder), read by
``nnxp.datasets.read_idx``. Nothing is downloaded: where the files are absent, the
example says so and falls back to the 1797 digits of scikit-learn (8 x 8 pixels, grey
levels 0-16), which it first writes as IDX files of its own (``write_idx``, pixels
scaled to 0-255, three quarters as the training files, a quarter as the test files), so
that the same reading code runs either way. Of MNIST's 60,000 training images the
first 6,000 are used (the point is the format, and a CPU should finish in a minute).
Pixels are divided by 255. The training files give training and validation sets (5 to
1); the t10k files are the test set.

Network::

    Embedding                              (m, h, w, 1)    28 x 28 for MNIST, 8 x 8 for the fallback
    Convolution(8, 3, padding="same")      (m, h, w, 8)    8 filters of 3 x 3, ReLU
    Pooling(2)                             (m, h/2, w/2, 8)
    Flatten                                (m, h/2 x w/2 x 8)
    Dense(10, softmax)                     (m, 10)

Adam (learning rate 0.005), cross-entropy, batches of 32.

What it should reach after 10 epochs (seed 1), from 10% by chance: about 92% accuracy
on the bundled digits' test files (97% on the validation set). On the real MNIST files
it has not been measured: the machines this was written on have none.

Run it with ``python examples/mnist_idx.py [--epochs 10] [--backend cpu] [--out folder]``
(``NNXP_MNIST=path/to/mnist`` for the real files), or open it as a notebook. It ends
with the backend comparison of this CNN.
"""

import os

import numpy as np

import nnxp
from nnxp.compare import compare as compare_backends
from nnxp.datasets import digits, read_idx, write_idx
from nnxp.layers import Convolution, Dense, Embedding, Flatten, Pooling
from nnxp.lesson import options

lesson = options("mnist_idx", epochs=10)
SEED = 1
TRAINING_IMAGES = 6000
NAMES = {"train images": "train-images-idx3-ubyte", "train labels": "train-labels-idx1-ubyte",
         "test images": "t10k-images-idx3-ubyte", "test labels": "t10k-labels-idx1-ubyte"}

# %% [markdown]
# ## Finding the files
#
# Each file may be kept gzip-compressed, as MNIST is distributed; `read_idx` opens
# both. If any is missing, the bundled digits are written in the same format.


# %%
def find(folder: str) -> dict | None:
    """The path of each of the four files in ``folder`` (plain or .gz), or None if one is missing."""
    found = {}
    for key, name in NAMES.items():
        candidates = [os.path.join(folder, name + suffix) for suffix in ("", ".gz")]
        found[key] = next((path for path in candidates if os.path.isfile(path)), None)
    return found if all(found.values()) else None


def write_bundled_digits(folder: str) -> dict:
    """The scikit-learn digits as four IDX files of unsigned bytes, as MNIST's are."""
    os.makedirs(folder, exist_ok=True)
    X, labels = digits("image")
    pixels = np.round(X[..., 0] * 255).astype(np.uint8)  # (1797, 8, 8): MNIST keeps no channel axis
    cut = len(pixels) * 3 // 4
    arrays = {"train images": pixels[:cut], "train labels": labels[:cut].astype(np.uint8),
              "test images": pixels[cut:], "test labels": labels[cut:].astype(np.uint8)}
    return {key: write_idx(os.path.join(folder, NAMES[key] + ".gz"), array) for key, array in arrays.items()}


folder = os.environ.get("NNXP_MNIST", "mnist")
files = find(folder)
if files is None:
    print(f"no MNIST IDX files in {os.path.abspath(folder)!r} (set NNXP_MNIST to their folder): "
          f"falling back to the 1797 digits bundled with scikit-learn, written as IDX files first")
    files = write_bundled_digits(lesson.path("idx"))
for key, path in files.items():
    print(f"{key:>12}: {path}")

# %% [markdown]
# ## The header, byte by byte
#
# Two zero bytes; the type code (0x08: unsigned bytes); the number of dimensions; then
# each size as a 4-byte big-endian integer. After that, the pixels, row after row.

# %%
import gzip  # noqa: E402  (here, where the lesson needs it)

with open(files["train images"], "rb") as file:
    raw = file.read()
header = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)[:16]
print("first 16 bytes:", header.hex(" "))
ndim = header[3]
sizes = [int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
print(f"magic 00 00, type code 0x{header[2]:02x} (unsigned bytes), {ndim} dimensions: {sizes}")

# %% [markdown]
# ## Reading the four files

# %%
images, labels = read_idx(files["train images"])[:TRAINING_IMAGES], read_idx(files["train labels"])[:TRAINING_IMAGES]
test_images, test_labels = read_idx(files["test images"]), read_idx(files["test labels"])
print(f"training {images.shape} {images.dtype}, labels {labels.shape}: {labels[:12]} ...")
print(f"test {test_images.shape}; pixel values {images.min()} to {images.max()}")
X = images[..., None] / 255.0  # (samples, height, width, 1 channel), in [0, 1]
X_test = test_images[..., None] / 255.0

# %% [markdown]
# ## The network and its initialization table
#
# The training files give the training and validation sets (5 to 1); the test files
# stay apart until the end: `model.evaluate(X, Y)` measures any data.


# %%
def build(batch_size: int = 32):
    """(model, settings for initialize), the same network every call."""
    model = nnxp.Model([
        Embedding(X, labels, Y_encode=True, relative_size=(5, 1, 0), batch_size=batch_size, seed=SEED),
        Convolution(8, 3, padding="same", activation="relu"),
        Pooling(2, mode="max"),
        Flatten(),
        Dense(10, "softmax"),
    ], name="MNIST: CNN")
    settings = {"loss": "CCE", "metrics": ["accuracy"], "seed": SEED, "optimizer": "adam",
                "se_hPars": {"learning_rate": 0.005}}
    return model, settings


model, settings = build()
model.initialize(**settings)

# %% [markdown]
# ## Training, then the test files

# %%
history = model.train(epochs=lesson.epochs)
test = model.evaluate(X_test, test_labels)  # prepared as the training data was: one-hot
print(f"on the {len(test_labels)} test images after {lesson.epochs} epochs: accuracy {test['accuracy']:.3f}")

# %%
lesson.save(model.plot(), "curves.png")

# %% [markdown]
# ## The backends, side by side

# %%
comparison = compare_backends(build, targets=lesson.targets, epochs=lesson.compare_epochs)
lesson.save(comparison.plot(), "compare.png")
