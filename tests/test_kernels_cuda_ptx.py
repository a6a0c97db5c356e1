"""Every CUDA kernel compiles with NVVM for float32 and float64, and a float32 kernel
computes nothing in float64 (a Python float or int constant mixed into float32
arithmetic silently promotes it, and the simulator cannot tell).

Needs NVVM (``pip install 'numba-cuda[cu12]'`` or ``[cu13]`` brings it), not a GPU;
skipped with the reason where NVVM is missing. Runs ``cuda_ptx.py`` in a process of
its own, without the CUDA simulator that conftest.py chose for this one.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
try:  # numba's own, older numba.cuda (without the numba-cuda package) has another compile_ptx
    importlib.metadata.version("numba-cuda")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("numba-cuda is not installed (numba's built-in numba.cuda has another compile_ptx)",
                allow_module_level=True)

KERNELS = ("_im2col", "_col2im", "_pool_forward", "_pool_backward", "_rnn_forward", "_rnn_backward",
           "_gru_forward", "_gru_backward", "_lstm_forward", "_lstm_backward")


def test_kernels_compile_to_ptx_and_float32_stays_float32():
    script = Path(__file__).with_name("cuda_ptx.py")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode == 3:
        pytest.skip(done.stdout.strip())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    compiled = set(report["compiled"])
    missing = [f"{k} {d}" for k in KERNELS for d in ("float32", "float64") if f"{k} {d}" not in compiled]
    assert not missing, f"not compiled: {missing}"
    assert not report["float64_in_float32"], f"float64 arithmetic in float32 kernels: {report['float64_in_float32']}"
