"""Numba-CUDA kernels (numba.cuda.jit) for the ``gpu`` backend, on CuPy arrays.

``nnxp.ops`` hands these functions CuPy arrays, which Numba reads without a copy
(DLPack / the CUDA Array Interface). They import only numpy and numba, never CuPy:
so they cannot allocate a CuPy array nor call cuBLAS. Two consequences shape them:

* **Outputs come from the op.** Every function here takes the arrays it fills as
  arguments (after its inputs); the op allocates them with ``xp.empty`` from CuPy's
  memory pool, the one allocator on the device. (Numba's simulator, used by the
  tests on machines without a GPU, accepts NumPy arrays in their place, so the
  whole GPU code path of every op runs in CI.)
* **Matrix products stay in the op**, which calls cuBLAS through ``xp.matmul``.

So the names line up with ``nnxp.kernels.cpu`` in two ways:

``pool2d_forward``, ``pool2d_backward``
    the whole op, the same names and arguments as the CPU kernels, plus the output.
``im2col``, ``col2im``
    convolution is composed in ``nnxp.ops.conv``: these two kernels around
    cuBLAS products (cols @ W, cols^T @ dZ, dZ @ W^T). The CPU has
    ``conv2d_forward``/``conv2d_backward`` instead: there, direct loops beat BLAS at
    these sizes (see ``nnxp.kernels.cpu.conv``); a GPU wants the big product.
``rnn_step_forward`` ... ``lstm_step_backward``, ``RECURRENT_ACTIVATIONS``
    the recurrent ops run their time loop in ``nnxp.ops.recurrent``, with one cuBLAS
    product and one fused kernel per step; the functions have the names of the
    reference step functions there. Each is called once per op call with the whole
    sequence buffers and returns ``step(t)``, which launches the kernel on step t:
    a launch costs far more on the host than the step on the device, so the buffers
    are converted and the launch configured once, not at every step (see
    ``recurrent.py``). The CPU kernels run whole sequences instead (``rnn_forward``
    ...): a CPU core runs a sequence fastest in one compiled call, while a GPU gets
    its parallelism from the samples and units of a step.

``ON_DEVICE`` tells ``nnxp.ops`` which of the two conventions a kernel module follows.
Every kernel computes one output value per thread; ``launch.py`` says how they are
launched and on which stream, and each module says how its threads read memory.
Kernels compile at first use for each dtype (float32, float64) and array layout,
and are cached on disk.
"""

from ..activation_codes import RECURRENT_ACTIVATIONS
from .conv import col2im, im2col
from .pool import pool2d_backward, pool2d_forward
from .recurrent import (
    gru_step_backward,
    gru_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_step_backward,
    rnn_step_forward,
)

ON_DEVICE = True

# What ``nnxp.ops.warmup`` runs: one of each. A CUDA kernel is compiled once per dtype
# and array layout, whatever the sizes, and has no variants.
WARM_UP = {"samples": (2,), "channels": (2,)}

__all__ = ["ON_DEVICE", "WARM_UP", "im2col", "col2im", "pool2d_forward", "pool2d_backward", "RECURRENT_ACTIVATIONS",
           "rnn_step_forward", "rnn_step_backward", "gru_step_forward", "gru_step_backward", "lstm_step_forward",
           "lstm_step_backward"]
