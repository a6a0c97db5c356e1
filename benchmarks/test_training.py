"""One training epoch of each workload W1-W8 (BENCHMARKS.md), per target and dtype.

The timed function is one epoch (the data reshuffled, every mini-batch stepped) after a
warm-up epoch that also compiles the kernels; the GPU is synchronised inside it. At least
3 rounds give min / median / max. ``extra_info`` keeps what the results table needs: the
samples, the FLOPs of the epoch (for the floor) and the final loss as a sanity check.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnxp.workloads import WORKLOADS, nnxp_model, torch_model

CPU_WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6")


def _workloads():
    return [pytest.param(w, id=w) for w in WORKLOADS]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("workload_id", _workloads())
def test_epoch(benchmark, target, shrink, workload_id, dtype):
    workload = WORKLOADS[workload_id]
    factor = 1 if workload_id in CPU_WORKLOADS else shrink
    run = _torch_epoch(workload, factor, dtype, target) if target[0] == "torch" else _nnxp_epoch(workload, factor, dtype, target)
    run()  # warm-up: compiles kernels, fills caches
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    X, _ = workload.dataset(factor)
    benchmark.extra_info.update(
        workload=workload_id, dtype=dtype, target="-".join(t for t in target[1:] if t) if target[0] == "nnxp"
        else f"torch-{target[1]}", samples=len(X), shrink=factor,
        epoch_flops=workload.flops_per_sample(X.shape[1:]) * len(X),
    )


def _nnxp_epoch(workload, shrink, dtype, target):
    import nnxp

    backend = nnxp.set_backend(target[1], dtype, target[2])
    model = nnxp_model(workload, shrink)

    def epoch():
        model.train_epoch()
        backend.synchronize()

    return epoch


def _torch_epoch(workload, shrink, dtype, target):
    import torch

    device = torch.device(target[1])
    torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    X, labels = workload.dataset(shrink)
    if X.ndim == 4:  # nnxp images are NHWC, torch's NCHW
        X = np.transpose(X, (0, 3, 1, 2))
    X = torch.tensor(X, dtype=torch_dtype, device=device)
    labels = torch.tensor(labels, device=device)
    net = torch_model(workload, X.shape[1:] if X.ndim != 4 else (X.shape[2], X.shape[3], X.shape[1]))
    net = net.to(device=device, dtype=torch_dtype)
    optimizer = torch.optim.SGD(net.parameters(), lr=workload.learning_rate)
    generator = torch.Generator(device="cpu").manual_seed(0)

    def epoch():
        order = torch.randperm(len(X), generator=generator).to(device)
        for start in range(0, len(X), workload.batch_size):
            batch = order[start:start + workload.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(X[batch]), labels[batch])
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return epoch
