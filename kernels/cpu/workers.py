"""Chunks of a batch shared out to the cores by Python threads, for the kernels that call BLAS.

Numba's parallel loops (``prange``) share a batch out to Numba's own threads; BLAS
(a matrix product through NumPy) shares one product out to OpenBLAS's threads. A
kernel that does both, a Numba loop around a BLAS product, would put the two pools on
the same cores (the project's rule: no BLAS inside ``prange``). And OpenBLAS's float32
products differ in their last bits between 1 and 2 threads (measured on this machine,
OpenBLAS 0.3.31: (65536 x 288) @ (288 x 64), and nine of twelve shapes of the
workloads), so a product whose threads follow ``nnxp.set_num_threads`` would train one
seed to different weights on 1 and 2 threads.

So the BLAS-backed kernels cut the batch into chunks fixed by the shapes alone, and
every chunk is one pipeline run start to end by ONE thread: Numba code compiled with
``nogil=True`` (it lets go of Python's lock, so two threads run it at once) and BLAS
products on one thread (``threadpoolctl``: the policy of ``nnxp.set_num_threads`` for
the numba kernel mode). ``share`` below runs the chunks on as many Python threads as
Numba has (``numba.get_num_threads()``, which ``nnxp.set_num_threads`` sets): the
caller's own thread and ``n - 1`` workers, each taking a contiguous run of chunks.
Which thread runs a chunk changes nothing in its numbers, so the results are the same,
bit for bit, on any number of threads.

One task per thread, not per chunk: handing a task to a worker and waiting for it
costs ~20-40 us (a lock and a wake-up), a whole small convolution's worth.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numba

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _workers(count: int) -> ThreadPoolExecutor | None:
    """A pool of ``count`` worker threads (made once, grown when more are asked for)."""
    global _pool, _pool_size
    if count < 1:
        return None
    with _lock:
        if _pool is None or _pool_size < count:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(count, thread_name_prefix="nnxp-kernel"), count
        return _pool


def threads() -> int:
    """How many threads the chunks are shared out to: Numba's count for this thread."""
    return max(1, numba.get_num_threads())


def share(run_chunk, chunks: int) -> None:
    """run_chunk(c) for every chunk c in 0..chunks-1, on ``threads()`` threads; returns
    when all are done (re-raising the first error). Thread k takes the chunks
    k * chunks // n ... (k + 1) * chunks // n - 1, in order."""
    n = min(threads(), chunks)

    def run_range(k):
        for c in range(k * chunks // n, (k + 1) * chunks // n):
            run_chunk(c)

    if n == 1:
        return run_range(0)
    pool = _workers(n - 1)
    futures = [pool.submit(run_range, k) for k in range(1, n)]
    try:
        run_range(0)  # the caller's own share
    finally:
        for future in futures:
            future.result()
