"""The hot operations alone, forward + backward, at the shapes of the workloads.

Each op is run through its layer (a Convolution with ReLU, as in the workloads, a
Pooling, an RNN/GRU/LSTM cell over the whole sequence), so that the figure is what a
training step pays for it; the PyTorch twin runs the same shapes through ``torch.nn``
(Conv2d + ReLU, ...) with autograd.

    conv W2      32 x 28x28x1  -> 8 filters 3x3          (W2's convolution)
    conv W6      64 x 14x14x6  -> 16 filters 5x5         (LeNet's second convolution)
    conv W6-1    64 x 28x28x1  -> 6 filters 5x5, pad 2   (LeNet's first)
    conv W7-1   256 x 32x32x3  -> 32 filters 3x3, pad 1  (W7's first, a whole batch)
    conv W7-2   256 x 16x16x32 -> 64 filters 3x3, pad 1  (W7's second)
    pool W2      32 x 26x26x8, max 2x2                   (W2's pooling)
    rnn/gru/lstm W3   32 x 20 steps x 8 -> 32 units, last state
    lstm W8     128 x 50 steps x 32 -> 256 units          (W8's, a whole batch)

On the cpu-numba target the convolutions and recurrent ops run as the kernels choose
(``nnxp.kernels.cpu.paths``), and with each of their CPU kernels forced ("conv-W6
[direct]", "conv-W6 [blas]", and for 3x3 filters "conv-W7-2 [winograd]"), so that the
table shows what the choice gains or loses on every shape.
"""

from __future__ import annotations

import numpy as np
import pytest

OPS = {
    "conv-W2": ("conv", (32, 28, 28, 1), {"filters": 8, "size": 3}),
    "conv-W6": ("conv", (64, 14, 14, 6), {"filters": 16, "size": 5}),
    "conv-W6-1": ("conv", (64, 28, 28, 1), {"filters": 6, "size": 5, "padding": 2}),
    "conv-W7-1": ("conv", (256, 32, 32, 3), {"filters": 32, "size": 3, "padding": 1}),
    "conv-W7-2": ("conv", (256, 16, 16, 32), {"filters": 64, "size": 3, "padding": 1}),
    "maxpool-W2": ("pool", (32, 26, 26, 8), {}),
    "rnn-W3": ("rnn", (32, 20, 8), {"units": 32}),
    "gru-W3": ("gru", (32, 20, 8), {"units": 32}),
    "lstm-W3": ("lstm", (32, 20, 8), {"units": 32}),
    "lstm-W8": ("lstm", (128, 50, 32), {"units": 256}),
}
PATHS = (None, "direct", "blas", "winograd")  # None: as the kernels choose


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("path", PATHS, ids=["chosen", "direct", "blas", "winograd"])
@pytest.mark.parametrize("op", list(OPS))
def test_op(benchmark, target, op, path, dtype):
    kind, shape, options = OPS[op]
    if path is not None and (target[:3] != ("nnxp", "cpu", "numba") or kind == "pool"):
        pytest.skip("one kernel only: the forced paths are the cpu-numba target's convolutions and recurrent ops")
    if path == "winograd" and (kind != "conv" or options["size"] != 3):
        pytest.skip("Winograd's kernel is for 3x3 convolutions only")
    X = np.random.default_rng(0).standard_normal(shape)
    step = torch_op_step if target[0] == "torch" else nnxp_op_step
    run = step(kind, X, options, dtype, target)
    if path is not None:
        from nnxp.kernels.cpu import paths

        unforced = run

        def run():
            with paths.forced(path):
                unforced()
    if target[:3] == ("nnxp", "cpu", "numba"):  # which kernel the rule picks (the profile's source)
        from nnxp.ops import paths_taken

        paths_taken()  # forget the ops before this one
        run()
        benchmark.extra_info["path"] = ", ".join(sorted({taken for _, taken in paths_taken()}))
    else:
        run()
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(op=op if path is None else f"{op} [{path}]", dtype=dtype,
                                target="-".join(t for t in target[1:] if t) if target[0] == "nnxp"
                                else f"torch-{target[1]}")


def nnxp_op_step(kind, X, options, dtype, target):
    """The timed step of an op through its layer on the target's backend (also used by
    test_ops_gpu.py). ``options``: filters, size and padding (default 0), or units."""
    import nnxp
    from nnxp import layers

    backend = nnxp.set_backend(target[1], dtype, target[2])
    if kind == "conv":
        layer = layers.Convolution(options["filters"], options["size"], padding=options.get("padding", 0),
                                   activation="relu")
    elif kind == "pool":
        layer = layers.Pooling(2)
    else:
        layer = {"rnn": layers.RNN, "gru": layers.GRU, "lstm": layers.LSTM}[kind](options["units"])
    X = backend.asarray(X)
    layer.initialize(X, seed=0)
    dA = backend.xp.ones_like(layer.forward(X))

    def step():
        layer.forward(X)
        layer.backward(dA)
        layer.compute_gradients()
        backend.synchronize()

    return step


def torch_op_step(kind, X, options, dtype, target):
    """The PyTorch twin of nnxp_op_step. On a GPU, TF32 is off: PyTorch's convolutions and
    products would otherwise use TF32 tensor cores where CuPy computes in full float32."""
    import torch

    device = torch.device(target[1])
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    if kind in ("conv", "pool"):
        X = np.transpose(X, (0, 3, 1, 2))  # NCHW
    x = torch.tensor(X, dtype=torch_dtype, device=device, requires_grad=True)  # dX too, as the layer computes
    if kind == "conv":
        module = torch.nn.Sequential(torch.nn.Conv2d(X.shape[1], options["filters"], options["size"],
                                                     padding=options.get("padding", 0)), torch.nn.ReLU())
    elif kind == "pool":
        module = torch.nn.MaxPool2d(2)
    else:
        cell = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind]
        module = cell(X.shape[2], options["units"], batch_first=True)
    module = module.to(device=device, dtype=torch_dtype)

    def step():
        out = module(x)
        out = out[0][:, -1, :] if isinstance(out, tuple) else out
        out.backward(torch.ones_like(out))
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step
