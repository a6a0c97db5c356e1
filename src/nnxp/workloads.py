"""The benchmark workloads W1-W8, as nnxp models and as their PyTorch twins.

They are fixed by the team's ``BENCHMARKS.md`` so that figures compare across backends,
kernel modes, peers and time: the same data (generated from a seed, or the digits), the
same network, batch size and learning rate, plain SGD on the batch-mean loss, data
reshuffled every epoch. ``shrink`` divides the number of samples (W7 and W8 are sized for
a GPU; on a CPU they may be shrunk, and the results must say so).

Each workload also knows its cost: the floating-point operations of one training epoch
(forward matrix products x 3, for forward + both backward products), which divided by the
machine's matrix-product rate gives the *floor*, the time no implementation can beat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import datasets


@dataclass(frozen=True)
class Workload:
    id: str
    title: str
    data: str  # "digits", "images" or "sequences"
    n: int
    layers: tuple  # (kind, options) pairs, built by build_layers
    batch_size: int
    learning_rate: float
    data_options: dict = field(default_factory=dict)

    def dataset(self, shrink: int = 1):
        """(X, labels) on the host; images are (n, h, w, c), sequences (n, steps, features)."""
        n = max(self.n // shrink, self.batch_size)
        if self.data == "digits":
            X, labels = datasets.digits("flat")
            return X[:n], labels[:n]
        if self.data == "images":
            return datasets.synthetic_images(n, seed=0, **self.data_options)
        return datasets.synthetic_sequences(n, seed=0, **self.data_options)

    @property
    def sample_shape(self) -> tuple:
        """The shape of one sample, as ``dataset`` makes them (without making any)."""
        if self.data == "digits":
            return (64,)
        if self.data == "images":
            size = self.data_options.get("size", 28)
            return (size, size, self.data_options.get("channels", 1))
        return (self.data_options.get("steps", 20), self.data_options.get("features", 8))

    def layer_inputs(self) -> list:
        """(kind, options, the shape of one sample going in) for each layer."""
        shape, inputs = self.sample_shape, []
        for kind, options in self.layers:
            inputs.append((kind, options, shape))
            shape, _ = _layer_flops(kind, options, shape)
        return inputs

    def flops_per_sample(self, input_shape) -> float:
        """Multiply-adds x 2 of one sample's forward pass, times 3 for forward + backward."""
        shape, total = tuple(input_shape), 0.0
        for kind, options in self.layers:
            shape, flops = _layer_flops(kind, options, shape)
            total += flops
        return 3 * total


def _layer_flops(kind, options, shape):
    """(output shape, forward FLOPs) of one layer for one sample of ``shape``."""
    if kind == "dense":
        return (options["units"],), 2.0 * int(np.prod(shape)) * options["units"]
    if kind == "conv":
        h, w, c = shape
        k, pad, f = options["size"], options.get("padding", 0), options["filters"]
        ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        return (ho, wo, f), 2.0 * ho * wo * k * k * c * f
    if kind == "pool":
        h, w, c = shape
        return (h // 2, w // 2, c), float(h * w * c)
    if kind == "flatten":
        return (int(np.prod(shape)),), 0.0
    steps, features = shape
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    units = options["units"]
    return (units,), 2.0 * steps * (features + units) * gates * units


def build_layers(workload: Workload) -> list:
    """The nnxp layers of a workload (after the Embedding)."""
    from . import layers as L

    built = []
    for kind, options in workload.layers:
        if kind == "dense":
            built.append(L.Dense(options["units"], options["activation"], "he_uniform"))
        elif kind == "conv":
            built.append(L.Convolution(options["filters"], options["size"], padding=options.get("padding", 0),
                                       activation="relu", initialization="he_uniform"))
        elif kind == "pool":
            built.append(L.Pooling(2, mode="max"))
        elif kind == "flatten":
            built.append(L.Flatten())
        else:
            cls = {"lstm": L.LSTM, "gru": L.GRU, "rnn": L.RNN}[kind]
            built.append(cls(options["units"]))
    return built


def nnxp_model(workload: Workload, shrink: int = 1, seed: int = 0):
    """An initialized nnxp model of the workload on the current backend, quiet."""
    from .layers import Embedding
    from .model import Model

    X, labels = workload.dataset(shrink)
    embedding = Embedding(X, labels, Y_encode=True, relative_size=(1, 0, 0), batch_size=workload.batch_size,
                          seed=seed)
    model = Model([embedding, *build_layers(workload)], name=f"{workload.id} {workload.title}")
    model.initialize(loss="CCE", metrics=["accuracy"], seed=seed, optimizer="sgd",
                     se_hPars={"learning_rate": workload.learning_rate}, verbose=False)
    return model


def torch_model(workload: Workload, input_shape):
    """The same network in PyTorch (images NCHW, sequences batch-first); logits out,
    the softmax being fused into the cross-entropy loss as nnxp fuses it."""
    from torch import nn

    class LastState(nn.Module):
        def __init__(self, cell):
            super().__init__()
            self.cell = cell

        def forward(self, x):
            return self.cell(x)[0][:, -1, :]

    modules, shape = [], tuple(input_shape)
    for index, (kind, options) in enumerate(workload.layers):
        last = index == len(workload.layers) - 1
        if kind == "dense":
            modules.append(nn.Linear(int(np.prod(shape)), options["units"]))
            if not last and options["activation"] == "relu":
                modules.append(nn.ReLU())
        elif kind == "conv":
            modules += [nn.Conv2d(shape[2], options["filters"], options["size"], padding=options.get("padding", 0)),
                        nn.ReLU()]
        elif kind == "pool":
            modules.append(nn.MaxPool2d(2))
        elif kind == "flatten":
            modules.append(nn.Flatten())
        else:
            cell = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
            modules.append(LastState(cell(shape[1], options["units"], batch_first=True)))
        shape, _ = _layer_flops(kind, options, shape)
    return nn.Sequential(*modules)


def _dense(units, activation="relu"):
    return ("dense", {"units": units, "activation": activation})


WORKLOADS = {
    w.id: w
    for w in (
        Workload("W1", "MLP", "digits", 1797, (_dense(32), _dense(10, "softmax")), 32, 0.1),
        Workload("W2", "CNN", "images", 1024,
                 (("conv", {"filters": 8, "size": 3}), ("pool", {}), ("flatten", {}), _dense(10, "softmax")), 32, 0.1),
        Workload("W3", "LSTM", "sequences", 1024, (("lstm", {"units": 32}), _dense(2, "softmax")), 32, 0.05,
                 {"steps": 20, "features": 8, "classes": 2}),
        Workload("W4", "GRU", "sequences", 1024, (("gru", {"units": 32}), _dense(2, "softmax")), 32, 0.05,
                 {"steps": 20, "features": 8, "classes": 2}),
        Workload("W5", "RNN", "sequences", 1024, (("rnn", {"units": 32}), _dense(2, "softmax")), 32, 0.05,
                 {"steps": 20, "features": 8, "classes": 2}),
        Workload("W6", "LeNet", "images", 2048,
                 (("conv", {"filters": 6, "size": 5, "padding": 2}), ("pool", {}), ("conv", {"filters": 16, "size": 5}),
                  ("pool", {}), ("flatten", {}), _dense(120), _dense(84), _dense(10, "softmax")), 64, 0.05),
        Workload("W7", "GPU-size CNN", "images", 8192,
                 (("conv", {"filters": 32, "size": 3, "padding": 1}), ("pool", {}),
                  ("conv", {"filters": 64, "size": 3, "padding": 1}), ("pool", {}), ("flatten", {}),
                  _dense(10, "softmax")), 256, 0.05, {"size": 32, "channels": 3}),
        Workload("W8", "GPU-size LSTM", "sequences", 8192, (("lstm", {"units": 256}), _dense(10, "softmax")), 128, 0.05,
                 {"steps": 50, "features": 32, "classes": 10}),
    )
}
