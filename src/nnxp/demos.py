"""The demo networks of ``nnxp demo`` and ``nnxp compare``, defined once.

The demo, the comparison, the docs' captured output and the tests all train exactly
these: a multilayer perceptron, a small CNN and an LSTM, each learning the handwritten
digits of scikit-learn (1797 images of 8x8 pixels: flat for the MLP, as images for the
CNN, row by row as sequences for the LSTM)::

    model, settings = demo_model("cnn", seed=1)
    model.initialize(**settings)
    model.train(epochs=DEMO_EPOCHS["cnn"])
"""

from __future__ import annotations


def demo_model(kind: str = "mlp", seed: int = 1, batch_size: int = 32, data=None):
    """The demo network ``kind`` on the digits, ready for ``initialize``; returns
    (model, settings for initialize). ``data`` = (X, labels) replaces the digits."""
    from . import datasets
    from .layers import Dense, Embedding, Flatten

    shape = {"mlp": "flat", "cnn": "image", "lstm": "rows"}
    if kind not in shape:
        raise ValueError(f"unknown demo model {kind!r}; expected one of {sorted(shape)}")
    X, labels = data if data is not None else datasets.digits(shape[kind])
    embedding = Embedding(X, labels, Y_encode=True, relative_size=(2, 1, 1), batch_size=batch_size, seed=seed)
    if kind == "mlp":
        body = [Dense(32, "relu", "he_uniform")]
    elif kind == "cnn":
        from .layers import Convolution, Pooling

        body = [Convolution(16, 3, padding="same", activation="relu", initialization="he_uniform"),
                Pooling(2, mode="max"), Flatten()]
    else:
        from .layers import LSTM

        body = [LSTM(32)]
    from .model import Model

    model = Model([embedding, *body, Dense(10, "softmax")], name=f"digits {kind.upper()}")
    # Adam with a gently decaying rate: steady progress (plain SGD at 0.1 gets there too,
    # but zig-zags on the way).
    # The LSTM wants a larger step: at 0.005 it is still climbing after 25 epochs.
    rate = {"mlp": 0.005, "cnn": 0.005, "lstm": 0.02}[kind]
    settings = {"loss": "CCE", "metrics": ["accuracy", "fscore"], "seed": seed, "optimizer": "adam",
                "se_hPars": {"learning_rate": rate, "schedule": "exp_decay", "decay_k": 0.05}}
    return model, settings


DEMO_EPOCHS = {"mlp": 30, "cnn": 15, "lstm": 20}  # test accuracy over seeds 0-2: 95-97%, 97-99%, 95-97%
