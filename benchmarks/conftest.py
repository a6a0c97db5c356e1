"""Benchmark set-up: one *target* per process (``--target``), as BENCHMARKS.md asks.

Targets: ``cpu-numba``, ``cpu-reference``, ``gpu-numba``, ``gpu-reference`` (nnxp on a
backend and kernel mode) and ``torch-cpu``, ``torch-cuda`` (the peer). Each runs in its own
process because Numba's, OpenBLAS's and PyTorch's thread pools fight over the cores when they
share one. ``python benchmarks/run.py`` runs every target in turn and writes the table.
``--threads`` fixes the CPU threads of every target alike (default: all cores).
"""

from __future__ import annotations

import os

import pytest

TARGETS = ("cpu-numba", "cpu-reference", "gpu-numba", "gpu-reference", "torch-cpu", "torch-cuda")


def pytest_addoption(parser):
    parser.addoption("--target", default="cpu-numba", choices=TARGETS, help="what to benchmark in this process")
    parser.addoption("--threads", type=int, default=os.cpu_count(), help="CPU threads for every target")
    parser.addoption("--shrink", type=int, default=None,
                     help="divide the samples of W7/W8 (default: 8 on CPU targets, 1 on GPU)")


@pytest.fixture(scope="session")
def target(request):
    """(framework, device, kernels) of this process, made ready; skips if unavailable."""
    first, second = request.config.getoption("--target").split("-")
    threads = request.config.getoption("--threads")
    if first == "torch":
        torch = pytest.importorskip("torch", reason="PyTorch is not installed: no peer figures")
        if second == "cuda" and not torch.cuda.is_available():
            pytest.skip("torch-cuda: no CUDA device")
        # PyTorch's GPU convolutions use TF32 tensor cores by default, CuPy's products full
        # float32: turned off, both compute what float32 means.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.set_num_threads(threads)
        return ("torch", second, None)
    import nnxp

    available, why = nnxp.available_backends()[first]
    if not available:
        pytest.skip(f"backend {first!r} unavailable: {why}")
    nnxp.set_num_threads(threads)
    return ("nnxp", first, second)


@pytest.fixture(scope="session")
def shrink(request, target):
    value = request.config.getoption("--shrink")
    if value is not None:
        return value
    return 1 if target[1] in ("gpu", "cuda") else 8
