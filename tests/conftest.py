"""Shared fixtures: every test that takes ``backend`` runs on each available backend.

``cpu`` runs twice where numba is installed (kernels ``numba`` and ``reference``), the
``strict`` backend proves that the code uses only the Array API standard, and ``gpu``
runs where CuPy has a device (else it is reported as skipped with the reason).
"""

from __future__ import annotations

import os


def _cuda_device_present() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, no device
        return False


# The CUDA kernels are tested everywhere: on a real GPU where there is one, else in
# Numba's CUDA simulator, which must be chosen before numba is first imported.
if "NUMBA_ENABLE_CUDASIM" not in os.environ and not _cuda_device_present():
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numpy as np  # noqa: E402
import pytest

import nnxp
from nnxp.backend import available_backends, numba_available

BACKEND_PARAMS = [
    pytest.param(("cpu", "reference"), id="cpu-reference"),
    pytest.param(("cpu", "numba"), id="cpu-numba",
                 marks=pytest.mark.skipif(not numba_available(), reason="numba is not installed")),
    pytest.param(("strict", "reference"), id="strict"),
    pytest.param(("gpu", "numba"), id="gpu-numba", marks=pytest.mark.gpu),
    pytest.param(("gpu", "reference"), id="gpu-reference", marks=pytest.mark.gpu),
]


def _skip_unavailable(name: str) -> None:
    available, reason = available_backends()[name]
    if not available:
        pytest.skip(f"backend {name!r} unavailable: {reason}")


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    """A float64 backend, made current for the test and restored afterwards."""
    name, kernels = request.param
    _skip_unavailable(name)
    with nnxp.use_backend(name, dtype="float64", kernels=kernels) as chosen:
        yield chosen


@pytest.fixture(params=["cpu", "strict"])
def array_backend(request):
    """The two backends that always exist in CI, float64, reference kernels."""
    _skip_unavailable(request.param)
    with nnxp.use_backend(request.param, dtype="float64", kernels="reference") as chosen:
        yield chosen


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


@pytest.fixture(params=["direct", "blas"])
def cpu_path(request, monkeypatch):
    """Every CPU kernel call of the test takes this path (``nnxp.kernels.cpu.paths``):
    the direct loops, or BLAS products, whose chunks are made tiny here so that the few
    samples of a test make several chunks, shared out to the threads as a large batch's."""
    paths = pytest.importorskip("nnxp.kernels.cpu.paths")
    from nnxp.kernels.cpu import conv_gemm, recurrent_blas

    monkeypatch.setattr(conv_gemm, "CHUNK_BYTES", 1)  # one sample a chunk
    monkeypatch.setattr(recurrent_blas, "MOST_SAMPLES", 2)  # two samples a chunk
    monkeypatch.setattr(recurrent_blas, "FEWEST_SAMPLES", 2)
    with paths.forced(request.param):
        yield request.param


@pytest.fixture(params=["direct", "blas", "winograd"])
def conv_cpu_path(request, monkeypatch):
    """As ``cpu_path``, for convolutions, which have a third kernel: Winograd's, for 3x3
    filters at stride 1 (forced, the other convolutions take BLAS), also in chunks of one
    sample."""
    paths = pytest.importorskip("nnxp.kernels.cpu.paths")
    from nnxp.kernels.cpu import conv_gemm, conv_winograd

    monkeypatch.setattr(conv_gemm, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_winograd, "CHUNK_BYTES", 1)
    with paths.forced(request.param):
        yield request.param


@pytest.fixture
def torch_one_thread():
    """PyTorch, on one thread for the test (skipped with the reason where torch is absent).

    On 2 cores torch's thread pool fights the others: a BatchNorm2d forward + backward on
    a 2x3x3x4 tensor took 32 ms with 2 threads and 0.14 ms with 1.
    """
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield torch
    finally:
        torch.set_num_threads(threads)


def pytest_report_header(config):
    lines = []
    for name, (ok, why) in available_backends().items():
        lines.append(f"nnxp backend {name}: {'available' if ok else 'unavailable'} ({why})")
    return lines


# --------------------------------------------------------------------------- parity log
# Parity tests call ``parity_log.add("conv")`` once per configuration they compare with
# PyTorch; the terminal summary states how many ran, per family, so that a reader of the
# CI log sees the size of the grid without counting test ids.
class ParityLog:
    def __init__(self):
        self.counts: dict[str, int] = {}

    def add(self, family: str, n: int = 1) -> None:
        self.counts[family] = self.counts.get(family, 0) + n


_PARITY = ParityLog()


@pytest.fixture
def parity_log():
    return _PARITY


def pytest_terminal_summary(terminalreporter):
    if _PARITY.counts:
        total = sum(_PARITY.counts.values())
        detail = ", ".join(f"{family} {n}" for family, n in sorted(_PARITY.counts.items()))
        terminalreporter.write_line(f"PyTorch parity: {total} configurations compared ({detail})")


@pytest.fixture(scope="session")
def executed_notebooks(tmp_path_factory):
    """Every example executed once as a notebook, for the examples' tests and the docs."""
    for module, package in (("jupytext", "jupytext"), ("nbclient", "nbclient"), ("ipykernel", "ipykernel")):
        pytest.importorskip(module, reason=f"{package} is not installed (the test extra brings it)")
    from notebooks import execute_all

    return execute_all(tmp_path_factory.mktemp("notebooks"))
