"""A stand-in for ``cupy.cuda.nccl`` on the CPU, carried by MPI, for the test of the NCCL path.

``nnxp.distributed.transports.NcclTransport`` speaks to NCCL in NCCL's own terms: raw
addresses, element counts, NCCL datatypes, peers, sends and receives fused in a group. This
module answers those calls on NumPy arrays, moving the bytes with mpi4py, so that the NCCL
path's packing, peers, offsets and order run, and are compared with the MPI path's, on a
machine without GPUs. It replaces only NCCL's transport, never nnxp's arithmetic.
"""

from __future__ import annotations

import ctypes

import numpy as np

NCCL_FLOAT32, NCCL_FLOAT64 = 7, 8  # the values of ncclFloat32 and ncclFloat64
_DTYPES = {NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}


class FakeNccl:
    """The module: datatypes, groupStart/groupEnd, and a communicator class over an MPI comm."""

    NCCL_FLOAT32, NCCL_FLOAT64 = NCCL_FLOAT32, NCCL_FLOAT64

    def __init__(self, mpi_comm):
        self.comm = mpi_comm
        self.group = None  # the sends and receives queued since groupStart

    def groupStart(self):
        assert self.group is None, "groupStart inside a group"
        self.group = []

    def groupEnd(self):
        from mpi4py import MPI

        requests = [self.comm.Isend(array, dest=peer) if kind == "send" else self.comm.Irecv(array, source=peer)
                    for kind, array, peer in self.group]
        MPI.Request.Waitall(requests)
        self.group = None

    def communicator(self):
        return FakeCommunicator(self)


class FakeCommunicator:
    """send, recv and allGather with NCCL's signature: (address, count, datatype, peer, stream)."""

    def __init__(self, module: FakeNccl):
        self.module = module

    def send(self, address, count, datatype, peer, stream):
        self._queue("send", address, count, datatype, peer)

    def recv(self, address, count, datatype, peer, stream):
        self._queue("recv", address, count, datatype, peer)

    def allGather(self, send_address, recv_address, count, datatype, stream):
        assert self.module.group is None, "allGather is used outside a group here"
        size = self.module.comm.Get_size()
        self.module.comm.Allgather(_array_at(send_address, count, datatype),
                                   _array_at(recv_address, count * size, datatype))

    def abort(self):
        pass

    def _queue(self, kind, address, count, datatype, peer):
        assert self.module.group is not None, f"NCCL {kind} outside groupStart/groupEnd would deadlock"
        self.module.group.append((kind, _array_at(address, count, datatype), peer))


def _array_at(address: int, count: int, datatype: int) -> np.ndarray:
    """The ``count`` values of ``datatype`` at ``address``, as a NumPy array on that memory."""
    dtype = np.dtype(_DTYPES[datatype])
    memory = (ctypes.c_char * (count * dtype.itemsize)).from_address(address)
    return np.frombuffer(memory, dtype=dtype, count=count)
