"""The hot operations at the GPU-size shapes of W7 and W8, forward + backward, on the GPU.

Run on the targets ``gpu-numba``, ``gpu-reference`` and ``torch-cuda`` (the others skip:
these shapes are for a GPU). Each op runs through its layer, so the figure is what a
training step pays for it, with a device synchronisation inside the timed function:

    conv1-W7     256 x 32x32x3   -> 32 filters 3x3, padding 1   (W7's first convolution)
    conv2-W7     256 x 16x16x32  -> 64 filters 3x3, padding 1   (W7's second convolution)
    maxpool-W7   256 x 32x32x32, max 2x2                        (W7's first pooling)
    lstm-W8      128 x 50 steps x 32 -> 256 units, last state   (W8's LSTM)

``lstm-step-W8`` times the element-wise work of the 50 forward steps of W8's LSTM alone,
as the op's time loop runs them: on gpu-numba the fused kernel, set up once on the
sequence buffers (their conversion to Numba device arrays and the launch configuration,
as once per op call) and launched 50 times with the step index; on gpu-reference the
reference step's CuPy operations on each step's views. Divided by 50 it is the per-step
price the time loop pays on top of its matrix product (on gpu-numba also on top of the
copy of that product into its buffer, not timed here), which on these shapes is mostly
time on the host (Python and the launch), not on the device.

PyTorch's convolutions on a GPU use TF32 tensor cores by default
(``torch.backends.cudnn.allow_tf32``), CuPy's matrix products full float32; the torch
twins here turn TF32 off so that both compute in float32.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_ops import nnxp_op_step, torch_op_step  # the same steps as the CPU-size ops

OPS = {
    "conv1-W7": ("conv", (256, 32, 32, 3), {"filters": 32, "size": 3, "padding": 1}),
    "conv2-W7": ("conv", (256, 16, 16, 32), {"filters": 64, "size": 3, "padding": 1}),
    "maxpool-W7": ("pool", (256, 32, 32, 32), {}),
    "lstm-W8": ("lstm", (128, 50, 32), {"units": 256}),
}


@pytest.fixture
def gpu_target(target):
    if target[1] not in ("gpu", "cuda"):
        pytest.skip("GPU-size ops: run with --target gpu-numba, gpu-reference or torch-cuda")
    return target


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", list(OPS))
def test_gpu_op(benchmark, gpu_target, op, dtype):
    kind, shape, options = OPS[op]
    X = np.random.default_rng(0).standard_normal(shape)
    step = torch_op_step if gpu_target[0] == "torch" else nnxp_op_step
    run = step(kind, X, options, dtype, gpu_target)
    run()  # compiles the kernels
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(op=op, dtype=dtype, target="-".join(t for t in gpu_target[1:] if t)
                                if gpu_target[0] == "nnxp" else "torch-cuda")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_step(benchmark, gpu_target, dtype):
    if gpu_target[0] == "torch":
        pytest.skip("no torch twin: cuDNN runs the whole sequence in its own kernels")
    import nnxp
    from nnxp.activations import get_activation
    from nnxp.ops import kernels_for, recurrent

    backend = nnxp.set_backend("gpu", dtype, gpu_target[2])
    xp = backend.xp
    m, u, steps = 128, 256, 50
    rng = np.random.default_rng(0)
    XU = backend.asarray(rng.standard_normal((m, steps, 4 * u)))  # the input side of every step
    P = backend.asarray(rng.standard_normal((m, 4 * u)))  # h_{t-1} V
    activations = [get_activation(name) for name in ("tanh", "tanh", "sigmoid", "sigmoid", "sigmoid")]
    kernels = kernels_for(backend.kernel_mode, XU, activations)
    if not kernels.on_device:  # gpu-reference: the reference step on each step's views
        c = backend.asarray(rng.standard_normal((m, u)))

        def sequence():
            for t in range(steps):
                recurrent.lstm_step_forward(XU[:, t, :], P, c, *activations)
            backend.synchronize()
    else:  # gpu-numba: the fused kernel on the sequence buffers, as recurrent_gpu.lstm_forward runs it
        Z, G = xp.empty_like(XU), xp.empty_like(XU)
        C, S, H = (xp.empty((m, steps, u), dtype=XU.dtype) for _ in range(3))

        def sequence():
            step = kernels.run("lstm_step_forward", XU, P, Z, G, C, S, H)  # once per op call
            for t in range(steps):
                step(t)
            backend.synchronize()

    sequence()
    benchmark.pedantic(sequence, rounds=10, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(op="lstm-step-W8 x50", dtype=dtype, target=f"gpu-{gpu_target[2]}")
