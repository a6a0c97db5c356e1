"""Data-parallel training: one model on several processes, each learning from a share of every batch.

When a model or its data outgrows one machine, the simplest way to use several is *data
parallelism*. Every process (a *rank*, numbered 0 to R - 1) holds the same model, drawn from
the same seed, and deals the training set into the same shuffled global batches. Of each
global batch of M rows, rank r takes a share of m_r rows and computes the gradients of its
share; then the gradients are summed across the ranks, and every rank takes the same
optimizer step with the same sum. The R copies of the model stay identical, step after step,
and equal to the model one process would train::

    global batch (M rows)   rows 0..m_0-1 | rows m_0.. | ... | last rows
                                 rank 0        rank 1           rank R-1
    each rank               forward, backward on its share -> g_r, weighted m_r / M
    all ranks               g = sum_r (m_r / M) g_r, added in rank order   (the only messages)
    each rank               the same optimizer step with g

Why a sum: the loss averages over the batch, so the gradient of the batch is the average of
its rows' gradients, and that is the weighted sum of the shares' (``gradients`` derives it).

Why in a fixed order: floating-point addition is not associative, and MPI's all-reduce leaves
the order of its additions to the library. nnxp adds the numbers itself, always in rank order,
and uses MPI (or NCCL) only to move them (``transports``): every rank gets the same bits, on
any MPI, in every run, and the weights equal one process's to rounding (1e-10 in float64).

Using it: start R copies of a script with ``mpiexec -n R python train.py``; in the script::

    import nnxp.distributed as dist
    dist.init("mpi")               # or "nccl": the sums between GPUs, one GPU per rank
    model = ...                    # the same model, seed and data on every rank
    model.train(epochs=10)         # or compile + fit: as on one process
    dist.rank(), dist.size(), dist.is_main()

Only the main rank (0) prints, writes model files and plots. The evaluation after each epoch
runs on every rank over the whole sets: the ranks hold the same weights, so they report the
same figures, one process's, and ``evaluate`` or ``predict`` called on the main rank alone
waits for nobody. A rank's CPU threads are its host's cores divided by the ranks on that host.

When something goes wrong: ``init`` says what to install; ranks that disagree on the model or
the data stop at the first step with the same error on every rank (``strategy``); a rank that
raises prints its traceback and aborts the whole job (an uncaught exception would otherwise
leave it waiting in MPI's finalisation while the others wait for its gradients); and every
wait for the other ranks has a deadline, ``timeout`` seconds, after which the waiting rank
aborts the job: a rank that died, hangs or left early ends the run with an error, never a hang.

MPI comes through ``mpi4py`` (``pip install "nnxp[distributed]"``); where the machine has no
MPI, ``pip install mpich`` brings one, with its ``mpiexec``. On a cluster, use the site's MPI.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
from dataclasses import replace

from ..model import set_data_parallel
from ..threads import set_num_threads
from .strategy import DataParallel, Statistics
from .transports import DistributedError, MpiTransport, NcclTransport, wait_until

KINDS = ("mpi", "nccl")
MPI_INSTALL = ("pip install 'nnxp[distributed]' (mpi4py), and where the machine has no MPI library, "
               "pip install mpich (an MPI with its mpiexec); on a cluster, load the site's MPI instead")

_strategy: DataParallel | None = None

__all__ = ["init", "rank", "size", "is_main", "statistics", "available", "DistributedError", "Statistics", "KINDS"]


# --------------------------------------------------------------------------- the public calls


def init(kind: str = "mpi", timeout: float = 300.0, threads: int | None = None) -> DataParallel:
    """Join the ranks started by ``mpiexec`` and train every model data-parallel from now on.

    ``kind`` "mpi" sums the gradients through MPI on the host; "nccl" through NCCL between
    GPUs (one per rank, the model on the ``gpu`` backend; MPI still starts the ranks; call
    ``init`` before ``set_backend("gpu")``, so that each rank's arrays land on its own GPU).
    ``timeout`` is the longest any rank waits for the others, in seconds; ``threads`` the CPU
    threads of this rank (default: the host's cores divided by the ranks on the host).
    Calling it again with the same kind returns the strategy in place.
    """
    global _strategy
    if kind not in KINDS:
        raise ValueError(f"init: kind must be one of {KINDS}, got {kind!r}")
    if not timeout > 0:
        raise ValueError(f"init: timeout must be > 0 seconds, got {timeout}")
    if _strategy is not None:
        if _strategy.kind != kind:
            raise DistributedError(f"init({kind!r}): this process already trains with {_strategy.kind!r}")
        return _strategy
    MPI = _import_mpi()
    # Three communicators of nnxp's own, so that its messages never meet the script's, and a
    # rank that is somewhere else (checking, leaving) waits for a partner that never comes
    # instead of being matched with the wrong collective.
    world = MPI.COMM_WORLD
    gradients, checks, leaving = world.Dup(), world.Dup(), world.Dup()
    host = world.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this machine
    set_num_threads(threads or max(1, _cores() // host.Get_size()))
    transport = _nccl_transport(gradients, host, timeout) if kind == "nccl" else MpiTransport(gradients, timeout)
    _strategy = DataParallel(kind, checks, transport, timeout)
    _abort_on_failure(leaving, timeout)
    set_data_parallel(_strategy)
    return _strategy


def rank() -> int:
    """This process's rank: 0 to size() - 1 (0 without ``init``)."""
    return 0 if _strategy is None else _strategy.rank


def size() -> int:
    """The number of ranks training together (1 without ``init``)."""
    return 1 if _strategy is None else _strategy.size


def is_main() -> bool:
    """True on rank 0, the one that prints and writes files (and without ``init``)."""
    return _strategy is None or _strategy.is_main


def statistics() -> Statistics | None:
    """A copy of this rank's figures: steps, values and bytes per step, seconds spent in the
    transport and in the sums (None without ``init``)."""
    return None if _strategy is None else replace(_strategy.statistics)


def available() -> dict[str, tuple[bool, str]]:
    """{"mpi": (usable, why), "nccl": (usable, why)} for ``nnxp info``; starts no MPI."""
    return {"mpi": _probe_mpi(), "nccl": _probe_nccl()}


# --------------------------------------------------------------------------- MPI


def _import_mpi():
    """mpi4py's MPI module, initialised (one thread calls MPI: the main one), or a clear error."""
    if importlib.util.find_spec("mpi4py") is None:
        raise DistributedError(f"nnxp.distributed needs mpi4py, which is not installed: {MPI_INSTALL}")
    import mpi4py

    if "mpi4py.MPI" not in sys.modules:
        mpi4py.rc.thread_level = "funneled"
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as error:  # mpi4py found no MPI library to load
        raise DistributedError(f"mpi4py {mpi4py.__version__} is installed but cannot load an MPI library "
                               f"({error}): {MPI_INSTALL}") from error
    if not MPI.Is_initialized():  # imported earlier without initialising (as nnxp info does)
        MPI.Init_thread(MPI.THREAD_FUNNELED)
        atexit.register(MPI.Finalize)
    return MPI


def _probe_mpi() -> tuple[bool, str]:
    if importlib.util.find_spec("mpi4py") is None:
        return False, f"mpi4py is not installed: {MPI_INSTALL}"
    import mpi4py

    if "mpi4py.MPI" not in sys.modules:
        mpi4py.rc.initialize = False  # asking for the library's version needs no MPI_Init
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as error:
        return False, f"mpi4py {mpi4py.__version__} cannot load an MPI library ({error}): {MPI_INSTALL}"
    library = MPI.Get_library_version().strip().splitlines()[0].replace("Version:", "").split()
    launcher = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    where = f"mpiexec {launcher}" if launcher else "no mpiexec on PATH (pip install mpich, or the site's MPI)"
    return launcher is not None, f"mpi4py {mpi4py.__version__}, {' '.join(library)}; {where}"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# --------------------------------------------------------------------------- NCCL


def _import_nccl():
    """(cupy, cupy.cuda.nccl), or an error that says what is missing."""
    from ..backend import GPU_INSTALL_HINT, available_backends

    usable, why = available_backends()["gpu"]
    if not usable:
        raise DistributedError(f"init('nccl') needs the gpu backend: {why}")
    import cupy

    try:
        from cupy.cuda import nccl
    except ImportError as error:
        raise DistributedError(f"CuPy {cupy.__version__} finds no NCCL library ({error}); {GPU_INSTALL_HINT}, "
                               f"then pip install nvidia-nccl-cu12 (or -cu13)") from error
    if not getattr(nccl, "available", False):
        raise DistributedError(f"CuPy {cupy.__version__} was built without NCCL: pip install nvidia-nccl-cu12 "
                               f"(or -cu13), or use init('mpi')")
    return cupy, nccl


def _nccl_transport(comm, host, timeout: float) -> NcclTransport:
    """One GPU per rank (the host's rank-th device), an NCCL communicator set up through MPI."""
    from ..backend import GPU_INSTALL_HINT

    if importlib.util.find_spec("cupy") is None:
        raise DistributedError(f"init('nccl') needs CuPy, which is not installed; {GPU_INSTALL_HINT}")
    import cupy

    try:
        devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # no driver
        raise DistributedError(f"init('nccl'): CuPy finds no GPU ({error}); use init('mpi')") from error
    if host.Get_size() > devices:
        raise DistributedError(f"init('nccl'): {host.Get_size()} ranks on this host but {devices} GPU(s); "
                               f"NCCL needs one GPU per rank: start fewer ranks, or use init('mpi')")
    cupy.cuda.Device(host.Get_rank()).use()  # first: every later GPU call of this rank lands on its own GPU
    cupy, nccl = _import_nccl()
    unique_id = comm.bcast(nccl.get_unique_id() if comm.Get_rank() == 0 else None, root=0)
    communicator = nccl.NcclCommunicator(comm.Get_size(), unique_id, comm.Get_rank())
    return NcclTransport(communicator, nccl, comm.Get_size(), timeout, stream=cupy.cuda.get_current_stream)


def _probe_nccl() -> tuple[bool, str]:
    from ..backend import available_backends

    usable, why = available_backends()["gpu"]
    if not usable:
        return False, f"needs the gpu backend: {why}"
    try:
        _, nccl = _import_nccl()
    except DistributedError as error:
        return False, str(error)
    import cupy

    version = nccl.get_version()
    devices = cupy.cuda.runtime.getDeviceCount()
    return True, (f"NCCL {version // 10000}.{version // 100 % 100}.{version % 100} through CuPy; {devices} GPU(s) "
                  f"here, one per rank")


# --------------------------------------------------------------------------- failures


def _abort_on_failure(comm, timeout: float) -> None:
    """Make a failing rank end the whole job instead of leaving the others waiting.

    An uncaught exception on one rank: print its traceback, then MPI_Abort, which stops every
    rank (left alone, Python would exit into MPI's finalisation and wait there forever for
    ranks that wait for it). A rank that leaves without an exception (``sys.exit``, the end of
    a script that trains fewer steps): at exit it waits for the others to reach their exit
    too, at most ``timeout``, and aborts them if they do not.
    """
    previous = sys.excepthook
    me, ranks = comm.Get_rank(), comm.Get_size()

    def abort_all(kind, value, traceback):
        previous(kind, value, traceback)  # the traceback first: it says what went wrong
        sys.stderr.write(f"nnxp.distributed: rank {me} of {ranks} stopped with {kind.__name__}; "
                         f"aborting every rank\n")
        sys.stderr.flush()
        comm.Abort(1)

    def leave_together():
        try:
            wait_until(comm.Ibarrier().Test, "the end of the script", timeout)
        except DistributedError:
            sys.stderr.write(f"nnxp.distributed: rank {me} has ended its script, but not every rank reached its end "
                             f"within {timeout:g} s (one is still training, or stuck); aborting every rank\n")
            sys.stderr.flush()
            comm.Abort(1)

    sys.excepthook = abort_all
    atexit.register(leave_together)
