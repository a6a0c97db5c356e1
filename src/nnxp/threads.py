"""Threads: how many CPU threads nnxp's kernels and BLAS use, and which of them gets the cores.

Two thread pools can run nnxp's work on the CPU: Numba's, which runs the kernels'
parallel loops (``prange``: convolution, pooling, the recurrent loops), and BLAS's
(OpenBLAS or MKL, under NumPy), which runs the matrix products of Dense layers, the
optimizer's arithmetic and, with ``kernels="reference"``, everything. The two never
nest (a parallel loop calls BLAS only where BLAS runs on one thread), but they share
the cores, and an idle OpenBLAS thread spins on a core that a Numba thread needs: measured on 2 cores, one LeNet epoch (W6)
took 340 ms with both pools at 2 threads, 185 ms with BLAS at 1. So the policy:

* on ``cpu`` with ``numba`` kernels, the kernels' parallel loops own the cores and
  BLAS runs on one thread;
  The CPU kernels of large layers that call BLAS themselves (``nnxp.kernels.cpu``,
  ``paths.py``) get their n threads another way: they cut the batch into chunks, and
  Numba's n threads each run whole chunks, each with that one BLAS thread (``workers.py``).
  That one thread also keeps their results the same on any n: OpenBLAS's float32
  products change in their last bits with its thread count;
* with ``reference`` kernels the matrix products carry the work and BLAS gets all n;
* the other backends leave BLAS alone (``gpu``: the work is on the device; ``strict``:
  a test backend, whose BLAS threads stay as they were).

``set_num_threads(n)`` sets n (default: every core) and ``blas=`` overrides the
policy's BLAS count; the policy is applied again whenever the backend in use changes
(``nnxp.backend`` tells this module: ``on_backend_change``). Benchmarks call
``set_num_threads`` to compare with PyTorch at the same thread count.

How Numba's idle workers wait between loops (a short spin, then sleep) is set where
the kernels are, in ``nnxp.kernels.cpu``, before Numba starts its pool: this module
imports that package before asking Numba anything about threads.
"""

from __future__ import annotations

import os

from . import checks
from .backend import get_backend, numba_available, on_backend_change

_threads: int | None = None  # set_num_threads(n); None: every core
_blas_threads: int | None = None  # an explicit BLAS count, overriding the policy


def set_num_threads(n: int, blas: int | None = None) -> None:
    """Use n CPU threads: Numba's kernels get n, and BLAS (matrix products) gets what the
    thread policy of the current backend gives it (see the module docstring), or
    ``blas`` if that is set."""
    global _threads, _blas_threads
    n = checks.positive_int("n", n, "set_num_threads")
    blas = checks.optional(checks.positive_int, "blas", blas, "set_num_threads")
    _threads, _blas_threads = n, blas
    if numba_available():
        from .kernels import cpu  # noqa: F401  (sets how the pool's threads wait, before Numba starts it)
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    apply_policy(get_backend())


def apply_policy(backend) -> None:
    """Set the BLAS threads for ``backend`` (see the module docstring); the backends
    without a thread policy leave them alone."""
    if not backend.thread_policy:
        return
    from threadpoolctl import threadpool_limits

    n = _threads or os.cpu_count() or 1
    blas = _blas_threads or (1 if backend.kernel_mode == "numba" else n)
    threadpool_limits(limits=blas, user_api="blas")


on_backend_change(apply_policy)


def thread_info() -> dict:
    """Thread counts in use: numba's pool and each BLAS/OpenMP library loaded; and how
    numba's idle workers wait (see ``nnxp.kernels.cpu``)."""
    info = {"cpu_count": os.cpu_count()}
    if numba_available():
        from .kernels import cpu  # noqa: F401  (its wait setting first: asking numba for threads starts its pool)
        import numba

        info["numba"] = numba.get_num_threads()
    if "OMP_WAIT_POLICY" in os.environ:
        info["idle workers (OMP_WAIT_POLICY)"] = os.environ["OMP_WAIT_POLICY"]
    elif "GOMP_SPINCOUNT" in os.environ:
        info["idle workers spin (GOMP_SPINCOUNT)"] = os.environ["GOMP_SPINCOUNT"]
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        info[f"{pool['internal_api']} ({pool['user_api']})"] = pool["num_threads"]
    return info


def blas_kernels() -> str:
    """The BLAS library NumPy uses and the kernels it chose for this processor, e.g.
    "openblas 0.3.31 SkylakeX", with an OPENBLAS_CORETYPE from the environment, which
    overrides the choice (docs/backends.md: on AVX-512 processors a forced Haswell halves
    the products' rate). ``nnxp info`` and the benchmarks' ceilings print it."""
    from threadpoolctl import threadpool_info

    found = [f"{pool['internal_api']} {pool.get('version')} {pool.get('architecture') or ''}".strip()
             for pool in threadpool_info() if pool["user_api"] == "blas"]
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return (", ".join(found) or "none found") + (f" (OPENBLAS_CORETYPE={forced})" if forced else "")
