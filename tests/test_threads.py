"""nnxp.threads: the thread policy (BLAS beside the Numba kernels) follows the backend in
use, an explicit count wins, and importing the CPU kernels sets how Numba's workers wait."""

import pytest

import nnxp
from nnxp import backend as backend_module
from nnxp.backend import numba_available


@pytest.fixture(autouse=True)
def keep_current_backend_and_counts():
    """Each test may set the backend and the counts; the next one finds them as they were."""
    saved = backend_module._current, nnxp.threads._threads, nnxp.threads._blas_threads
    yield
    backend_module._current, nnxp.threads._threads, nnxp.threads._blas_threads = saved


def _blas_threads():
    from threadpoolctl import threadpool_info

    counts = {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}
    assert len(counts) == 1, counts
    return counts.pop()


@pytest.mark.skipif(not numba_available(), reason="numba is not installed")
def test_thread_policy_gives_blas_one_thread_beside_the_numba_kernels():
    """Numba kernels own the cores, BLAS gets one thread; the reference code gets BLAS on
    every thread; an explicit blas= count wins; leaving use_backend restores the policy."""
    try:
        nnxp.set_num_threads(2)
        with nnxp.use_backend("cpu", kernels="reference"):
            assert _blas_threads() == 2
            with nnxp.use_backend("cpu", kernels="numba"):
                assert _blas_threads() == 1
            assert _blas_threads() == 2
        nnxp.set_num_threads(2, blas=2)
        with nnxp.use_backend("cpu", kernels="numba"):
            assert _blas_threads() == 2
    finally:
        nnxp.threads._threads = nnxp.threads._blas_threads = None


def test_the_policy_asks_the_backend_not_its_name():
    """The strict backend (for tests) and the gpu one leave BLAS alone: their classes say
    so (thread_policy), and applying the policy for them changes no count."""
    pytest.importorskip("threadpoolctl")
    with nnxp.use_backend("cpu", kernels="reference"):
        before = _blas_threads()
        for cls in (backend_module.StrictBackend, backend_module.GpuBackend):
            assert not cls.thread_policy
            nnxp.threads.apply_policy(cls(cls.name, "float32", "reference"))
            assert _blas_threads() == before
    assert backend_module.CpuBackend.thread_policy and nnxp.threads.apply_policy in backend_module._listeners


@pytest.mark.skipif(not numba_available(), reason="numba is not installed")
@pytest.mark.parametrize("environment, expected", [
    ({}, "20000"),  # nothing said: a brief spin, then sleep
    ({"OMP_WAIT_POLICY": "PASSIVE"}, None),  # the user's policy is left alone
    ({"GOMP_SPINCOUNT": "5"}, "5"),
])
def test_kernel_threads_spin_briefly_unless_told_otherwise(environment, expected):
    """Importing the CPU kernels sets how Numba's OpenMP workers wait (see
    nnxp.kernels.cpu), before the pool starts, and never overrides the environment."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(environment)
    code = "import os, nnxp; nnxp.set_num_threads(1); print(os.environ.get('GOMP_SPINCOUNT'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(expected)
