"""How every CUDA kernel of nnxp is launched: one thread per output value.

Each kernel computes ONE value of its output (a column entry, a pixel, a unit of one
sample) from its flat index, so ``count`` threads do the whole job, in blocks of up
to ``THREADS``. Consecutive threads get consecutive flat indices, which are
consecutive addresses in the output and (channels or units innermost) nearly so in the
input: the memory accesses of a warp coalesce.

A small job gets a smaller block (a multiple of the 32 threads of a warp), which
costs nothing on a GPU and spares Numba's CUDA simulator, which runs every thread of a
block as a Python thread, from starting 256 of them for ten values.

Streams: a launch without a stream goes to the default stream, the legacy one, which
is where CuPy queues its own work too (its "null" stream) unless a program chooses
another. So a kernel runs after the CuPy operations that made its inputs and before
those that read its outputs, with no synchronisation of the host. (numba-cuda passes a
CuPy array through DLPack and asks for the legacy stream; CuPy then adds, on the
device, a wait for its current stream if that is another one, so even then the order
holds. The kernels never import CuPy, so they cannot ask for its current stream.
This is numba-cuda 0.30's behaviour; versions before the DLPack path read CuPy arrays
through the CUDA Array Interface and, by default, synchronised the host with CuPy's
stream at every launch.)

What a launch costs on the host. That DLPack conversion is paid for every CuPy
argument at every launch. Measured on an H100 (numba-cuda 0.30.4, CuPy 14.2,
``benchmarks/probes/gpu_launch_overhead.py``), one launch of a kernel with 8 arrays:

    ~287 us   given 8 CuPy arrays (~30 us a conversion)
     ~93 us   given 8 Numba device arrays, converted once before (``device_array``)
    ~503 us   converting them at every launch with ``cuda.as_cuda_array`` (by default
              it also makes the host wait for CuPy's stream)

The configuration ``kernel[blocks, threads]`` is an object too: ``launch`` returns it,
and a kernel launched many times on the same arrays (the recurrent steps) keeps it
and the converted arrays for all its launches. A kernel launched once per op
(im2col, pooling) takes the CuPy arrays as they are: one conversion either way.
"""

from __future__ import annotations

from numba import cuda

# Threads per block. 128 (four warps) is plenty to hide memory latency, as an SM runs
# many blocks at once, and it spreads mid-sized jobs over more SMs: one LSTM step of W8,
# 128 samples x 256 units, makes 256 blocks for an H100's 132 SMs (128 with 256 threads).
THREADS = 128


def launch(kernel, count: int):
    """``kernel`` configured for ``count`` threads (call the result with its arguments)."""
    count = max(int(count), 1)
    threads = min(THREADS, 32 * ((count + 31) // 32))
    return kernel[(count + threads - 1) // threads, threads]


def device_array(array):
    """``array`` (a CuPy array) as a Numba device array: a view of the same memory, no copy.

    Launches given it skip the per-launch DLPack conversion of a CuPy array. It keeps
    ``array`` alive, and sees every later change to it (the op updates some buffers in
    place between launches). ``sync=False``: by default Numba would synchronise the host
    with the stream the CuPy array names (its current one) at each conversion, a wait
    per op call; the order already holds without it, since these launches go to the
    legacy default stream, which waits for CuPy's null stream and blocking streams (its
    defaults; see above). Not in Numba's CUDA simulator, which has no such function: the
    tests give it the simulator's own device arrays, which are views of NumPy arrays.
    """
    return cuda.as_cuda_array(array, sync=False)
