"""The data-parallel strategy: what ``Model.train_step`` asks of it, once per step.

``nnxp.model`` calls two methods each step, and nothing else changes in the training loop::

    X, Y = strategy.share(model, X, Y)   this rank's rows of the global batch
    ... forward and backward on them, as on one process ...
    strategy.sum_gradients(model)        every gradient in g becomes the whole batch's

At the first step of a model (and again when its training data changes) ``share`` checks,
on every rank at once, that all ranks hold the same model and data: one message with a
fingerprint of each. Ranks that disagree would otherwise sum gradients of different models,
or wait for each other at a step that one of them never reaches; so each rank raises the same
error, naming the rank and what differs, and none hangs.

Layers whose result depends on how the batch is split:

* BatchNorm normalises with the mean and variance of the batch it sees. A rank sees its share,
  so it would normalise with statistics other than one process's, and keep running statistics
  that differ from rank to rank. Synchronising them takes two messages in every BatchNorm
  forward pass and two in its backward, inside the layer, and nnxp's layers know nothing of
  processes; so distributed training refuses BatchNorm, with an error that says so.
* Dropout draws a random mask for the rows it sees. Each rank draws the mask of the *whole*
  global batch from the layer's seeded stream, as one process would, and keeps the rows of its
  share (``WholeBatchMasks``): the masks, and so the weights, are one process's, at the cost of
  drawing R times the random numbers a rank uses.

A rank whose share is empty (a last batch with fewer rows than ranks) still runs the step, on a
borrowed row that it sends with weight 0: its Dropout streams move on like everyone's, and no
layer ever sees a batch of 0 rows.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from dataclasses import dataclass

import numpy as np

from ..backend import to_numpy
from ..layers import BatchNorm, Dropout
from .gradients import GradientLayout, share_of, sum_in_rank_order
from .transports import DistributedError, allgather_json


@dataclass
class Statistics:
    """What the gradient sums cost this rank so far (``nnxp.distributed.statistics()``).

    ``communication_seconds`` is the time inside the transport: the messages, and the wait for
    slower ranks to join them; ``summing_seconds`` is the packing, the additions and the
    unpacking. ``bytes_per_step`` is what this rank sends in one step: 2 (R - 1) chunks.
    """

    kind: str
    ranks: int
    steps: int = 0
    values: int = 0  # gradient values summed per step
    bytes_per_step: int = 0
    communication_seconds: float = 0.0
    summing_seconds: float = 0.0


class DataParallel:
    """Shards each global batch over the ranks of ``comm`` and sums their gradients through
    ``transport`` (``transports.MpiTransport`` or ``NcclTransport``)."""

    def __init__(self, kind: str, comm, transport, timeout: float):
        self.kind, self.comm, self.transport, self.timeout = kind, comm, transport, timeout
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.is_main = self.rank == 0
        self.statistics = Statistics(kind, self.size)
        self._checked = weakref.WeakKeyDictionary()  # model -> weak reference to the training set it was checked on
        self._layouts = weakref.WeakKeyDictionary()  # model -> GradientLayout
        self.rows = slice(0, 0)  # this step: the rows of the batch that this rank computes
        self.batch_rows = 0  # this step: M, the rows of the global batch
        self.weight = 0.0  # this step: m_r / M

    # ------------------------------------------------------------------ the step
    def share(self, model, X, Y):
        """This rank's rows of the global batch (X, Y), the same on every rank."""
        checked = self._checked.get(model)
        if checked is None or checked() is not model.embedding.dtrain:
            self._check(model, X, Y)
        M = X.shape[0]
        mine = share_of(M, self.size, self.rank)
        self.batch_rows, self.weight = M, (mine.stop - mine.start) / M
        self.rows = mine if mine.stop > mine.start else slice(0, 1)  # an empty share borrows row 0, weight 0
        self._whole_batch_masks(model)
        return X[self.rows, ...], Y[self.rows, ...]

    def sum_gradients(self, model) -> None:
        """Replace every gradient in the layers' ``g`` by the whole batch's: the weighted
        shares of all ranks, summed in rank order."""
        slots = _gradient_slots(model)
        layout = self._layouts[model]
        start = time.perf_counter()
        buffer = layout.pack([g[key] for g, key in slots], self.weight)
        packed = time.perf_counter()
        parts = self.transport.exchange(buffer)
        exchanged = time.perf_counter()
        chunk = sum_in_rank_order(parts)
        summed = time.perf_counter()
        whole = self.transport.gather(chunk)
        gathered = time.perf_counter()
        for (g, key), total in zip(slots, layout.unpack(whole)):
            g[key] = total
        stats = self.statistics
        stats.steps += 1
        stats.communication_seconds += (exchanged - packed) + (gathered - summed)
        stats.summing_seconds += (packed - start) + (summed - exchanged) + (time.perf_counter() - gathered)

    # ------------------------------------------------------------------ the epoch's figures
    def add_share(self, running, A, Y) -> None:
        """Count this rank's share of the step in ``running`` (``fit``'s batch-averaged
        metrics): A is the output of the share's rows of Y; an empty share counts nothing."""
        if self.weight > 0:
            running.add(A, Y[self.rows, ...])

    def sum_running(self, model, running) -> None:
        """Make ``running`` the whole epoch's on every rank: each rank's sample-weighted sums
        and sample count, added in rank order (once an epoch, a few numbers), so that every
        rank reports the figures of the whole training set."""
        mine = [float(to_numpy(total)) for total in running.sums or []] + [float(running.samples)]
        every = allgather_json(self.comm, mine, "the epoch's training metrics", self.timeout)
        totals = sum_in_rank_order(np.asarray(every, dtype=np.float64)).tolist()
        if running.sums is not None:
            running.sums = [model.backend.asarray(np.asarray(total)) for total in totals[:-1]]
        running.samples = int(totals[-1])

    def _whole_batch_masks(self, model) -> None:
        """Give each Dropout layer a mask stream that draws for the whole batch (once per
        stream: moving a model to another backend gives its Dropout layers new ones)."""
        for layer in model.layers:
            if isinstance(layer, Dropout) and not isinstance(layer.random, WholeBatchMasks):
                layer.random = WholeBatchMasks(layer._mask_stream(), self)

    # ------------------------------------------------------------------ the first step
    def _check(self, model, X, Y) -> None:
        """Every rank's fingerprint on every rank (one message); the same error everywhere if
        any differs, or if the model cannot be trained data-parallel; then the buffer's layout."""
        fingerprints = allgather_json(self.comm, fingerprint(model, X, Y),
                                      "the check of the model and data at the first step", self.timeout)
        problems = differences(fingerprints)
        if problems:
            raise DistributedError("the ranks disagree at the first training step; every rank must build the "
                                   "same model from the same seed and data:\n  " + "\n  ".join(problems))
        self._refuse_what_cannot_be_shared(model)
        shapes = [tuple(g[key].shape) for g, key in _gradient_slots(model)]
        layout = self._layouts[model] = GradientLayout(shapes, self.size)
        itemsize = np.dtype(model.backend.dtype_name).itemsize
        self.statistics.values = layout.values
        self.statistics.bytes_per_step = 2 * (self.size - 1) * layout.chunk * itemsize  # R - 1 chunks out, twice
        self._checked[model] = weakref.ref(model.embedding.dtrain)

    def _refuse_what_cannot_be_shared(self, model) -> None:
        for layer in model.layers:
            if isinstance(layer, BatchNorm):
                raise DistributedError(
                    f"{layer.describe()}: distributed training does not support BatchNorm. Each rank would "
                    f"normalise with the statistics of its own share of the batch ({self.size} shares), not the "
                    f"whole batch's, so the weights would differ from one process's and the running statistics "
                    f"from rank to rank. Remove the BatchNorm layer, or train on one process.")
        if self.kind == "nccl" and model.backend.transport != "nccl":
            raise DistributedError(f"init('nccl') sums CuPy arrays on the GPUs, but the model is on "
                                   f"{model.backend.name!r}: nnxp.set_backend('gpu') before building it, "
                                   f"or init('mpi')")


class WholeBatchMasks:
    """A Dropout layer's mask stream on one rank: it draws the mask of the whole global batch,
    as one process would, and returns the rows of this rank's share. Every rank draws the same
    numbers, so the masks are one process's. (Outside a training step it draws as asked.)"""

    def __init__(self, stream, strategy: DataParallel):
        self.stream, self.strategy = stream, strategy

    def uniform(self, shape, dtype=None):
        rows = self.strategy.rows
        if shape[0] != rows.stop - rows.start:  # not this step's share: e.g. a forward pass by hand
            return self.stream.uniform(shape, dtype)
        whole = self.stream.uniform((self.strategy.batch_rows, *shape[1:]), dtype)
        return whole[rows, ...]

    @property
    def state(self):  # saved with the model, as the plain stream's
        return self.stream.state

    @state.setter
    def state(self, value) -> None:
        self.stream.state = value


def _gradient_slots(model) -> list:
    """(g, key) of every gradient the optimizer uses, in ``Model._parameters``'s order: the
    parameters of trainable layers, less their buffers."""
    return [(layer.g, "d" + name) for layer in model.layers if layer.trainable
            for name in layer.p if name not in layer.buffers]


# --------------------------------------------------------------------------- fingerprints


def fingerprint(model, X, Y) -> dict:
    """What every rank must agree on before the first step, as plain JSON data: whatever
    changes the weights of a step (model, optimizer, seeds, data, the first batch)."""
    embedding = model.embedding
    train_X, train_Y = embedding.host_sets.get("dtrain", (None, None))
    return {
        "backend": model.backend.name,
        "dtype": model.backend.dtype_name,
        "layers": [f"{type(layer).__name__} " + ", ".join(f"{name} {tuple(value.shape)}" for name, value in
                                                        layer.p.items()) for layer in model.layers],
        "loss": model.loss.name,
        "optimizer": str(model.optimizer.get_config()),
        "learning-rate schedules": str([model.se_hPars] + [layer.se_hPars for layer in model.layers]),
        "seed": model.seed,
        "data seed": embedding.seed,
        "training samples": len(embedding.dtrain),
        "sample shape": list(X.shape[1:]),
        "target shape": list(Y.shape[1:]),
        "batch size": embedding.batch_size,
        "shuffle": embedding.shuffle,
        "epochs trained": model.epoch,
        "optimizer steps taken": model.optimizer.t,
        "training data (checksum)": checksum([train_X, train_Y]),
        "first batch (checksum)": checksum([X, Y]),
        "weights (checksum)": checksum([value for layer in model.layers for value in layer.p.values()]),
    }


def checksum(arrays) -> str:
    """A short digest of arrays of any backend (None entries are skipped)."""
    digest = hashlib.blake2b(digest_size=8)
    for array in arrays:
        if array is not None:
            digest.update(np.ascontiguousarray(to_numpy(array)))
    return digest.hexdigest()


def differences(fingerprints: list) -> list[str]:
    """One line per rank and entry that differs from rank 0's."""
    reference = fingerprints[0]
    lines = []
    for rank, other in enumerate(fingerprints[1:], start=1):
        for key, expected in reference.items():
            actual = other.get(key)
            if actual != expected:
                lines.append(f"rank {rank} has {key} {_difference(actual, expected)}")
    return lines


def _difference(actual, expected) -> str:
    """'X, rank 0 has Y', or for lists (the layers) the first entry that differs."""
    if isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected) and actual and \
            isinstance(actual[0], str):
        index = next(i for i, (a, e) in enumerate(zip(actual, expected)) if a != e)
        return f"[{index}] {actual[index]!r}, rank 0 has {expected[index]!r}"
    return f"{actual!r}, rank 0 has {expected!r}"
