"""Chunks of a batch shared out to the cores, for the kernels that call BLAS.

Numba's parallel loops (``prange``) share a batch out to Numba's threads; BLAS (a
matrix product through NumPy) shares one product out to OpenBLAS's own threads. Two
pools on the same cores fight: a pool's idle threads spin for a while on the cores
before they sleep (``nnxp.threads``: one LeNet epoch 340 ms with both at 2 threads).
And OpenBLAS's float32 products differ in their last bits between 1 and 2 threads
(measured on this machine, OpenBLAS 0.3.31: (65536 x 288) @ (288 x 64), and nine of
twelve shapes of the workloads), so a product whose threads followed
``nnxp.set_num_threads`` would train one seed to different weights on 1 and 2 threads.

So the BLAS-backed kernels cut the batch into chunks fixed by the shapes alone, and
every chunk is one pipeline (Numba code and BLAS products) run start to end by ONE
thread, its products on one BLAS thread (``threadpoolctl``: the policy of
``nnxp.set_num_threads`` for the numba kernel mode): BLAS runs no pool of its own.
``share`` below runs the chunks on Numba's own threads, as many as
``numba.get_num_threads()`` (which ``nnxp.set_num_threads`` sets), thread k taking a
contiguous run of chunks. Which thread runs a chunk changes nothing in its numbers,
so the results are the same, bit for bit, on any number of threads.

How a Numba thread runs Python: the chunk's pipeline is Python code (NumPy's matmul
between compiled calls), and a parallel loop below enters it through
``numba.objmode``, which takes Python's lock (the GIL) for it. The pipeline gives the
lock back for most of its time: the compiled calls are ``nogil`` and NumPy's matmul
lets go of it while BLAS runs, so two threads run their chunks at once.

Why Numba's threads and not a pool of Python threads (as until 2026-12-01): after
every parallel loop Numba's idle threads spin for a while (``nnxp.kernels.cpu``), and
a Python thread woken for a chunk waited for a core until they stopped. W6's second
layer (BLAS chunks right after the pooling's parallel loop) made that a large share of
its time: W6's float32 epoch took 0.80-0.90x the time on Numba's threads (interleaved
epochs in one process, 2 threads; in processes of their own 62-76 ms, 9-10 involuntary
context switches an epoch, against 78-114 ms and 125-190 switches before), while W7
and W8, whose chunks are long, stayed within +-2.5%. It also saves handing each task
to a Python thread (~20-40 us a lock and a wake-up).
"""

from __future__ import annotations

import itertools
import threading
import warnings

import numba
from numba import objmode, prange

_tasks: dict[int, tuple] = {}  # task number -> (run_chunk, chunks, threads, errors), while it runs
_task_numbers = itertools.count()  # next() is atomic under the GIL: no two calls get one number
_lock = threading.Lock()
_loop = None  # the parallel loop below, compiled at its first use


def threads() -> int:
    """How many threads the chunks are shared out to: Numba's count for this thread."""
    return max(1, numba.get_num_threads())


def share(run_chunk, chunks: int) -> None:
    """run_chunk(c) for every chunk c in 0..chunks-1, on ``threads()`` of Numba's
    threads; returns when all are done (raising again the first error of any). Thread k
    takes the chunks k * chunks // n ... (k + 1) * chunks // n - 1, in order."""
    n = min(threads(), chunks)
    if n == 1:
        for c in range(chunks):
            run_chunk(c)
        return
    task, errors = next(_task_numbers), []
    _tasks[task] = (run_chunk, chunks, n, errors)
    try:
        _parallel_loop()(task, n)
    finally:
        del _tasks[task]
    if errors:
        raise errors[0]


def run_range(task: int, k: int) -> None:
    """Thread k's run of chunks of ``task``, in order (Python, entered from the loop below).
    An error is kept for ``share`` to raise in the caller's thread: one raised here
    would have to cross compiled code that cannot pass it on."""
    run_chunk, chunks, n, errors = _tasks[task]
    try:
        for c in range(k * chunks // n, (k + 1) * chunks // n):
            run_chunk(c)
    except BaseException as error:
        errors.append(error)


def _each_thread(task, n):
    """Numba's n threads, each running its run of chunks (``nogil``: the calling thread
    lets go of the GIL, so that the others can take it in turn)."""
    for k in prange(n):
        with objmode():
            run_range(task, k)


def _parallel_loop():
    """``_each_thread`` compiled (once; ~0.7 s). Never cached on disk: Numba's cache does
    not restore a function with an objmode block (its cached copy fails, Numba 0.6x).
    Numba warns, compiling it, that code in object mode does not run in parallel: true
    of the Python between the products, not of the products and compiled calls, which
    let go of the GIL (the module docstring); the warning is silenced here alone."""
    global _loop
    if _loop is not None:  # compiled: no lock to take at every call
        return _loop
    with _lock:
        if _loop is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", numba.NumbaWarning)
                loop = numba.njit(parallel=True, nogil=True)(_each_thread)
                loop.compile((numba.int64, numba.int64))
            _loop = loop
    return _loop
