"""The arithmetic of a data-parallel step: shares of a batch, one fused buffer, a sum in rank order.

Both transports, MPI on the host and NCCL on the GPUs, use this code; they only move its
chunks. What the tests prove of the packing, the weights and the order on one holds for the
other.

Shares. A global batch of M rows is cut into R contiguous shares, one per rank, in rank order;
their sizes differ by at most one row (M = 10, R = 3: rows 0-3, 4-6, 7-9). A batch smaller
than R leaves some ranks an empty share.

Weights. The loss averages over the rows it sees, so the gradient of rank r's share is
g_r = 1/m_r sum over its rows. The gradient of the whole batch is::

    g = 1/M sum over all M rows = sum_r (m_r / M) g_r

so every rank multiplies its gradients by its weight m_r / M before the sum (an empty share
weighs 0).

One buffer. Every gradient of the model, flattened and laid end to end, makes one buffer: one
message per step instead of one per parameter (a message costs a latency, whatever its size).
The buffer is padded with zeros to R equal chunks, chunk k being the part that rank k sums::

    [ dW1 | db1 | dW2 | db2 | 0 0 ]   ->   chunk 0 | chunk 1 | ... | chunk R-1

The order of the sum. Floating-point addition is not associative: (a + b) + c and a + (b + c)
can differ in the last bit. ``sum_in_rank_order`` always adds ((p_0 + p_1) + p_2) + ...: the
same numbers give the same sum, on any MPI, at any run.
"""

from __future__ import annotations

import math

from array_api_compat import array_namespace


def share_of(rows: int, ranks: int, rank: int) -> slice:
    """The rows of a batch of ``rows`` that ``rank`` (of ``ranks``) takes: the first
    ``rows % ranks`` ranks take one row more than the others."""
    base, extra = divmod(rows, ranks)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


class GradientLayout:
    """Where each gradient lies in the flat buffer that every rank sends, chunk by chunk.

    ``shapes`` are the gradients' shapes in a fixed order (the order of the model's
    parameters, the same on every rank); ``ranks`` is R, the number of chunks.
    """

    def __init__(self, shapes, ranks: int):
        self.shapes = [tuple(shape) for shape in shapes]
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.offsets = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        self.values = sum(self.sizes)  # the gradient values of the model
        self.ranks = ranks
        self.chunk = max(1, math.ceil(self.values / ranks))  # what each rank sums
        self.padding = self.chunk * ranks - self.values

    def pack(self, gradients, weight: float):
        """The gradients, each times ``weight``, as one buffer of R chunks (zeros at the end).

        An empty share (weight 0) sends zeros, whatever its arrays hold."""
        xp = array_namespace(gradients[0])
        dtype, device = gradients[0].dtype, gradients[0].device
        if weight == 0:
            return xp.zeros(self.chunk * self.ranks, dtype=dtype, device=device)
        pieces = [xp.reshape(g, (-1,)) for g in gradients]
        if self.padding:
            pieces.append(xp.zeros(self.padding, dtype=dtype, device=device))
        buffer = xp.concat(pieces)
        return buffer if weight == 1 else buffer * weight

    def unpack(self, buffer) -> list:
        """The summed buffer as one array per gradient, in its shape (views of the buffer)."""
        xp = array_namespace(buffer)
        return [xp.reshape(buffer[offset:offset + size], shape)
                for offset, size, shape in zip(self.offsets, self.sizes, self.shapes)]


def sum_in_rank_order(parts):
    """parts (R, chunk): row k is rank k's copy of one chunk. Returns ((p_0 + p_1) + p_2) + ...,
    the same additions in the same order on every rank and in every run."""
    total = parts[0, ...]
    for k in range(1, parts.shape[0]):
        total = total + parts[k, ...]
    return total
