"""Sums over the samples of a batch, cut into chunks fixed by the batch size alone.

A parameter gradient is a sum over the samples of a batch (dW = sum over n of each
sample's share). Run in parallel, each thread adds up its part into a partial sum of
its own, and the parts are added at the end. Floating-point addition is not
associative: where the parts begin and end changes the last bits of the result. Were
there one part per thread, as there once was, a laptop with 2 cores and one with 8
would train one seed to different weights (after a few steps the difference is no
longer in the last bits), and so would one machine with ``nnxp.set_num_threads(1)``.

So the samples are cut into chunks whose number depends on the batch size only: at
least ``CHUNK_SAMPLES`` samples each, at most ``MAX_CHUNKS`` of them. The threads share the
chunks out (a thread may do several, one after the other), each chunk's sum goes to
its own slot, and the slots are added in their order at the end. One thread or
sixteen: the same numbers are added in the same order, and the weights agree bit for
bit. The cost is a few more partial sums to zero and add (``MAX_CHUNKS`` copies of a
layer's weights at most), and no more than ``MAX_CHUNKS`` threads sharing one sum
(a batch of 32 samples: 4 chunks, so 4 threads at most for these sums).

What this does not cover (docs/backends.md, "Same seed, same weights?"): matrix
products go to BLAS, which nnxp runs on one thread beside these kernels, but on every
thread with ``kernels="reference"``, and OpenBLAS's float32 products differ in their
last bits between 1 and 2 threads; and a kernel compiled for another CPU (AVX2 or
AVX-512) splits its sums into SIMD lanes of another width.
"""

from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)

# Measured (benchmarks/RESULTS.md, "Fixed chunks"): 8 samples a chunk and at most 8 chunks
# cost nothing measurable on 2 threads and 0-3% on one (the partial sums of W8's LSTM,
# 8 x 1.2 MB, are the largest); more chunks would keep more threads busy on a large
# machine, at the cost of more partial sums to zero and add on every machine.
CHUNK_SAMPLES = 8
MAX_CHUNKS = 8


def gradient_chunks(samples: int) -> int:
    """How many chunks the samples of a batch are summed in: 1 to MAX_CHUNKS."""
    return max(1, min(MAX_CHUNKS, samples // CHUNK_SAMPLES))


@njit(cache=True)
def add_up(parts):
    """parts[0] += parts[1], then parts[2], ...: the chunks' partial sums added in chunk
    order, the same bits as ``parts.sum(axis=0)``, called at the end of a kernel's own
    call, where NumPy's reductions after it and their new arrays cost W3's backward
    1.04-1.1x its time (RNN, GRU, LSTM, float32, interleaved). A function of its own,
    not inlined: in a parallel kernel Numba would make the array expression a parallel
    loop, and wake the threads for it."""
    for c in range(1, parts.shape[0]):
        parts[0] += parts[c]
