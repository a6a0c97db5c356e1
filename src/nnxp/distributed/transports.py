"""Moving the chunks: MPI (mpi4py) on the host, NCCL (CuPy) between GPUs, never forever.

A transport does two things with the buffer of ``gradients.GradientLayout``; both are
collective (every rank calls them, in the same order)::

    exchange(buffer)  all-to-all: returns parts (R, chunk), row k = this rank's chunk of rank k's buffer
    gather(chunk)     all-gather: returns every rank's chunk, in rank order, as one buffer

Between the two, each rank sums its R parts in rank order (``gradients.sum_in_rank_order``).
Together they are an all-reduce, cut the way a ring all-reduce is cut (a reduce-scatter, then an
all-gather), so each rank sends 2 (R - 1)/R of the buffer, the least an all-reduce can; but the
additions are nnxp's own, in a fixed order, and each chunk is summed on one rank and then
copied: every rank ends with the same bits. MPI's and NCCL's own all-reduce leave the order of
the additions to the library (the MPI standard only recommends the same order on every rank).

Waiting with a deadline. A collective waits until every rank has joined it. If a rank has died
or hangs, the others would wait forever; so every wait here is a non-blocking call polled
until ``timeout`` seconds, then a ``DistributedError`` (which ``nnxp.distributed`` turns into
an abort of the whole job). Polling spins for a few milliseconds, longer than the usual wait
when ranks are balanced, then sleeps in short naps: a long wait leaves the cores to the ranks
still computing, which matters when there are more ranks than cores.
"""

from __future__ import annotations

import json
import time

import numpy as np

from ..backend import to_numpy


class DistributedError(RuntimeError):
    """Data-parallel training cannot go on: what is missing, or which rank differs, and how."""


# An MPI call moves its messages only while the ranks are inside MPI (here: in Test), so a rank
# that naps delays its partners by the nap, at every handshake of a collective. Measured on 2
# ranks of one host, W6's buffer: 38 us spinning, 1.2 ms with naps from the start.
SPIN_SECONDS = 5e-3  # poll without pausing this long: longer than a balanced step's wait
LONGEST_NAP = 1e-3  # then nap, doubling from 10 us up to this: a long wait leaves the cores to others


def wait_until(done, what: str, timeout: float, on_timeout=None) -> None:
    """Poll ``done()`` until it is true; after ``timeout`` seconds call ``on_timeout`` (if
    given) and raise a DistributedError that says what was awaited."""
    start = time.monotonic()
    nap = 1e-5
    while not done():
        waited = time.monotonic() - start
        if waited > timeout:
            if on_timeout is not None:
                on_timeout()
            raise DistributedError(f"not every rank joined {what} within {timeout:g} s: another rank has stopped "
                                   f"or is stuck (its own error, if it had one, is printed above)")
        if waited > SPIN_SECONDS:
            time.sleep(nap)
            nap = min(2 * nap, LONGEST_NAP)


# --------------------------------------------------------------------------- MPI


class MpiTransport:
    """The chunks through MPI's own collectives (mpi4py), on host (NumPy) arrays.

    Arrays of another backend (CuPy under ``init("mpi")``) are copied to the host and back:
    an MPI built without CUDA support, such as the ``mpich`` wheel, reads host memory only.
    """

    def __init__(self, comm, timeout: float):
        self.comm, self.timeout = comm, timeout
        self.size = comm.Get_size()

    def exchange(self, buffer, what: str = "the gradient exchange"):
        host = np.ascontiguousarray(to_numpy(buffer))
        parts = np.empty((self.size, host.size // self.size), dtype=host.dtype)
        self._wait(self.comm.Ialltoall(host, parts), what)
        return _like(buffer, parts)

    def gather(self, chunk, what: str = "the gathering of the summed gradients"):
        host = np.ascontiguousarray(to_numpy(chunk))
        whole = np.empty(host.size * self.size, dtype=host.dtype)
        self._wait(self.comm.Iallgather(host, whole), what)
        return _like(chunk, whole)

    def _wait(self, request, what: str) -> None:
        wait_until(request.Test, what, self.timeout)


def _like(reference, host: np.ndarray):
    """``host`` on the backend of ``reference`` (unchanged when that is NumPy)."""
    if isinstance(reference, np.ndarray):
        return host
    from array_api_compat import array_namespace

    return array_namespace(reference).asarray(host)


def allgather_json(comm, value, what: str, timeout: float) -> list:
    """Every rank's ``value`` (plain JSON data), in rank order, on every rank: the host-side
    messages of the checks (small, once per model), with the same deadline as the rest."""
    data = np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)
    lengths = np.empty(comm.Get_size(), dtype=np.int64)
    wait_until(comm.Iallgather(np.array([data.size], dtype=np.int64), lengths).Test, what, timeout)
    received = np.empty(int(lengths.sum()), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    from mpi4py import MPI  # imported by nnxp.distributed.init already

    request = comm.Iallgatherv(data, [received, lengths.tolist(), starts.tolist(), MPI.BYTE])
    wait_until(request.Test, what, timeout)
    return [json.loads(received[s:s + n].tobytes()) for s, n in zip(starts.tolist(), lengths.tolist())]


# --------------------------------------------------------------------------- NCCL


class NcclTransport:
    """The chunks between GPUs through NCCL (``cupy.cuda.nccl``), on the device.

    NCCL has no all-to-all call of its own: it is R sends and R receives in one NCCL group, as
    NCCL's documentation builds it. NCCL works on raw device addresses; its calls are queued on
    a CUDA stream, the one the gradients were computed on, so they wait for them without a host
    synchronisation. The host waits once a step, for the end of the gather, with the deadline
    (a dead peer would otherwise leave the stream waiting forever).

    ``nccl`` is the module (``cupy.cuda.nccl``) and ``comm`` an ``NcclCommunicator``;
    ``stream`` returns the CUDA stream to queue on (None: the calls are done when they return,
    as in the CPU test of this class, where a stand-in for NCCL moves NumPy arrays).
    """

    def __init__(self, comm, nccl, size: int, timeout: float, stream=None):
        self.comm, self.nccl, self.size, self.timeout = comm, nccl, size, timeout
        self.stream = stream

    def exchange(self, buffer, what: str = "the gradient exchange (NCCL)"):
        from array_api_compat import array_namespace

        xp = array_namespace(buffer)
        chunk = buffer.shape[0] // self.size
        parts = xp.empty((self.size, chunk), dtype=buffer.dtype, device=buffer.device)
        kind, stream = self._datatype(buffer), self._stream()
        self.nccl.groupStart()
        for peer in range(self.size):  # my chunk `peer` goes to rank `peer`; its copy of my chunk comes back
            self.comm.send(_address(buffer[peer * chunk:(peer + 1) * chunk]), chunk, kind, peer, stream)
            self.comm.recv(_address(parts[peer, ...]), chunk, kind, peer, stream)
        self.nccl.groupEnd()
        return parts  # queued, not awaited: the gather comes next on the same stream, and its end implies this one's

    def gather(self, chunk, what: str = "the gathering of the summed gradients (NCCL)"):
        from array_api_compat import array_namespace

        xp = array_namespace(chunk)
        whole = xp.empty((chunk.shape[0] * self.size,), dtype=chunk.dtype, device=chunk.device)
        self.comm.allGather(_address(chunk), _address(whole), chunk.shape[0], self._datatype(chunk), self._stream())
        self._finish(what)
        return whole

    def _datatype(self, array) -> int:
        name = str(array.dtype).rsplit(".", 1)[-1]
        return {"float32": self.nccl.NCCL_FLOAT32, "float64": self.nccl.NCCL_FLOAT64}[name]

    def _stream(self) -> int:
        return 0 if self.stream is None else self.stream().ptr

    def _finish(self, what: str) -> None:
        """Wait for the queued NCCL calls to end, at most ``timeout``; a peer that never comes
        makes NCCL wait forever, so on timeout the communicator is aborted first."""
        if self.stream is None:
            return
        event = self.stream().record()
        wait_until(lambda: event.done, what, self.timeout, on_timeout=self.comm.abort)


def _address(array) -> int:
    """The address of an array's first element: on the device for CuPy (``data.ptr``), on
    the host for NumPy (the CPU test of the NCCL path)."""
    data = array.data
    return data.ptr if hasattr(data, "ptr") else array.ctypes.data
