"""Data-parallel training measured on one machine, and its cost on many, from a model.

    python benchmarks/distributed.py                       # W2 and W6: 1 rank x 2 threads, 2 ranks x 1 thread
    python benchmarks/distributed.py --workloads W6 --dtypes float32 --rounds 5 --ranks 2 --cores 2
    python benchmarks/distributed.py --cost-model          # the all-reduce's cost model, hosts where it passes compute

Measured: each configuration in processes of its own, as BENCHMARKS.md asks: one rank is a
plain ``python`` process (no nnxp.distributed) with ``--cores`` threads; R ranks are
``mpiexec -n R`` with cores / R threads each. Each times ``model.train_epoch()`` (the same as
benchmarks/test_training.py) after a warm-up epoch, for ``--rounds`` rounds; the ranks start
each round together (a barrier) and the round ends when the slowest has finished (another
one). The communication share is the time rank 0 spent in the transport during the epoch
(the messages, and the wait for a slower rank) over the epoch; "the messages alone" is the
same exchange of the model's buffer with the ranks arriving together. The configurations
alternate over ``--passes`` passes, and the rounds of all passes are pooled: on a shared
machine, compare the ratios of one run, not absolute times across runs.

Cost model (``--cost-model``): a ring all-reduce of B bytes on R hosts takes
2 (R - 1)/R * B / bandwidth + 2 (R - 1) * latency; a fixed global batch splits its compute c
(ms per step on one host) into c / R. The table gives, per workload, the gradient bytes and
the fewest hosts at which the all-reduce takes longer than the compute.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# ------------------------------------------------------------------ the cost model's inputs
# Compute per step on one host, ms, float32, from RESULTS.md (epoch time / steps an epoch):
# W6 on the 2-core CPU (cpu-numba 169.8 ms, 2048 / 64 = 32 steps); W7 and W8 on the H100
# (gpu-numba 101.3 ms / 32 steps and 1091.5 ms / 64; torch-cuda 50.9 ms and 261.2 ms).
COMPUTE_MS = {
    "W6 on the 2-core CPU (nnxp cpu-numba)": ("W6", 169.8 / 32),
    "W7 on an H100 (nnxp gpu-numba)": ("W7", 101.3 / 32),
    "W7 on an H100 (PyTorch CUDA)": ("W7", 50.9 / 32),
    "W8 on an H100 (nnxp gpu-numba)": ("W8", 1091.5 / 64),
    "W8 on an H100 (PyTorch CUDA)": ("W8", 261.2 / 64),
}
# Networks: line rate in bytes/s and the latency of one message (MPI over TCP on 10 Gb/s
# Ethernet, about 25 us; RDMA on 100 Gb/s InfiniBand or RoCE, about 2 us). Line rate is the
# best case: real links deliver 80-95 % of it.
NETWORKS = {"10 Gb/s": (10e9 / 8, 25e-6), "100 Gb/s": (100e9 / 8, 2e-6)}


def gradient_values(workload_id: str) -> int:
    """The learned values of a workload's model: what every step sums across the hosts."""
    import nnxp
    from nnxp.workloads import WORKLOADS, nnxp_model

    with nnxp.use_backend("cpu", dtype="float32", kernels="reference"):
        model = nnxp_model(WORKLOADS[workload_id], shrink=10**6)  # one batch of data is enough
    return sum(int(v.size) for layer in model.layers if layer.trainable for name, v in layer.p.items()
               if name not in layer.buffers)


def ring_allreduce_seconds(nbytes: float, hosts: int, bandwidth: float, latency: float) -> float:
    """2 (R-1)/R of the buffer through each link, in 2 (R-1) messages."""
    return 2 * (hosts - 1) / hosts * nbytes / bandwidth + 2 * (hosts - 1) * latency


def crossover(nbytes: float, compute_seconds: float, bandwidth: float, latency: float, most: int = 100_000):
    """The fewest hosts R >= 2 at which the all-reduce (float32 gradients) outlasts the compute
    c / R (None: never, up to ``most``)."""
    for hosts in range(2, most + 1):
        if ring_allreduce_seconds(nbytes, hosts, bandwidth, latency) > compute_seconds / hosts:
            return hosts
    return None


def cost_model() -> str:
    from nnxp.workloads import WORKLOADS

    values = {w: gradient_values(w) for w in WORKLOADS}
    lines = ["| workload | gradient values | float32 | float64 | 10 Gb/s, 2 hosts | 10 Gb/s, 8 hosts | "
             "100 Gb/s, 2 hosts | 100 Gb/s, 8 hosts |", "|---|---|---|---|---|---|---|---|"]
    for w, n in values.items():
        times = [ring_allreduce_seconds(4 * n, hosts, *NETWORKS[net]) for net in NETWORKS for hosts in (2, 8)]
        lines.append(f"| {w} | {n:,} | {4 * n / 1e3:.1f} kB | {8 * n / 1e3:.1f} kB | "
                     + " | ".join(f"{t * 1e3:.3f} ms" for t in times) + " |")
    lines += ["", "| compute per step on one host (float32) | ms | hosts at which the all-reduce exceeds compute, "
              "10 Gb/s | 100 Gb/s |", "|---|---|---|---|"]
    for label, (w, ms) in COMPUTE_MS.items():
        found = [crossover(4 * values[w], ms / 1e3, *NETWORKS[net]) for net in ("10 Gb/s", "100 Gb/s")]
        lines.append(f"| {label} | {ms:.2f} | " + " | ".join(str(r) if r else "never" for r in found) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ one configuration (a worker)


def worker(workload_id: str, dtype: str, rounds: int, threads: int, distributed: bool) -> None:
    """Time ``rounds`` epochs after a warm-up; rank 0 prints one JSON line."""
    import nnxp

    if distributed:
        import nnxp.distributed as dist
        from mpi4py import MPI

        strategy = dist.init("mpi", threads=threads)
        barrier = MPI.COMM_WORLD.Barrier
    else:
        nnxp.set_num_threads(threads)
        barrier = lambda: None  # noqa: E731
    from nnxp.workloads import WORKLOADS, nnxp_model

    nnxp.set_backend("cpu", dtype=dtype, kernels="numba")
    model = nnxp_model(WORKLOADS[workload_id])
    model.train_epoch()  # warm-up: kernels loaded, caches filled
    epochs, communication, summing = [], [], []
    for _ in range(rounds):
        before = dist.statistics() if distributed else None
        barrier()
        start = time.perf_counter()
        model.train_epoch()
        barrier()
        epochs.append(time.perf_counter() - start)
        if distributed:
            after = dist.statistics()
            communication.append(after.communication_seconds - before.communication_seconds)
            summing.append(after.summing_seconds - before.summing_seconds)
    alone = messages_alone(strategy, model, barrier) if distributed else None
    if not distributed or dist.is_main():
        stats = dist.statistics() if distributed else None
        print(json.dumps({"workload": workload_id, "dtype": dtype, "threads": threads,
                          "ranks": dist.size() if distributed else 1, "epochs": epochs,
                          "communication": communication, "summing": summing, "messages_alone": alone,
                          "steps": len(model.embedding.training_batches()),
                          "bytes_per_step": stats.bytes_per_step if stats else 0}), flush=True)


def messages_alone(strategy, model, barrier, repeats: int = 200) -> float:
    """Median seconds of the exchange and the gather of this model's buffer, with every rank
    arriving together (a barrier first): the cost of the messages, without the wait for a
    slower rank that the figure measured inside training also holds."""
    import numpy as np

    from nnxp.distributed.gradients import GradientLayout, sum_in_rank_order

    gradients = [layer.g["d" + name] for layer in model.layers if layer.trainable for name in layer.p
                 if name not in layer.buffers]
    layout = GradientLayout([g.shape for g in gradients], strategy.size)
    buffer = layout.pack(gradients, 1.0)
    times = []
    for _ in range(repeats):
        barrier()
        start = time.perf_counter()
        parts = strategy.transport.exchange(buffer)
        exchanged = time.perf_counter()
        chunk = sum_in_rank_order(parts)
        summed = time.perf_counter()
        strategy.transport.gather(chunk)
        times.append((exchanged - start) + (time.perf_counter() - summed))
    return float(np.median(times))


def run_configuration(workload_id: str, dtype: str, ranks: int, cores: int, rounds: int) -> dict:
    script = [os.path.abspath(__file__), "--worker", workload_id, dtype, str(rounds), str(cores // ranks)]
    if ranks == 1:
        command = [sys.executable, *script]
    else:
        launcher = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
        if launcher is None:
            sys.exit("no mpiexec: pip install mpich (or load the site's MPI)")
        command = [launcher, "-n", str(ranks), sys.executable, *script, "--distributed"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    """One row per workload and dtype: every round of every pass pooled per configuration."""
    pooled = {}
    for result in results:
        entry = pooled.setdefault((result["workload"], result["dtype"], result["ranks"]), {**result, "epochs": [],
                                  "communication": [], "alone": []})
        entry["epochs"] += result["epochs"]
        entry["communication"] += result["communication"]
        entry["alone"] += [result["messages_alone"]] if result["messages_alone"] is not None else []

    def ms(values):
        values = [1e3 * v for v in values]
        return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"

    ranks = max(key[2] for key in pooled)
    lines = [f"| workload | dtype | 1 rank x {pooled[next(iter(pooled))]['threads']} threads, ms | {ranks} ranks, ms | "
             "speed-up (medians / minima) | communication a step, in training | its share of the epoch | "
             "the messages alone | bytes sent a step |", "|---|---|---|---|---|---|---|---|---|"]
    for workload, dtype in dict.fromkeys((w, d) for w, d, _ in pooled):
        one, many = pooled[(workload, dtype, 1)], pooled[(workload, dtype, ranks)]
        medians = statistics.median(one["epochs"]) / statistics.median(many["epochs"])
        minima = min(one["epochs"]) / min(many["epochs"])
        per_step = statistics.median(many["communication"]) / many["steps"]
        share = statistics.median([c / e for c, e in zip(many["communication"], many["epochs"])])
        lines.append(f"| {workload} | {dtype} | {ms(one['epochs'])} | {ms(many['epochs'])} | "
                     f"{medians:.2f}x / {minima:.2f}x | {per_step * 1e6:.0f} us | {share:.1%} | "
                     f"{statistics.median(many['alone']) * 1e6:.0f} us | {many['bytes_per_step'] / 1e3:.1f} kB |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["W2", "W6"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per configuration (at least 3)")
    parser.add_argument("--ranks", type=int, default=2, help="the ranks of the distributed configuration")
    parser.add_argument("--passes", type=int, default=2, help="runs of every configuration, alternating")
    parser.add_argument("--cores", type=int, default=2, help="threads of one rank = ranks x threads of each")
    parser.add_argument("--cost-model", action="store_true", help="print the cost-model tables and stop")
    parser.add_argument("--worker", nargs=4, metavar=("WORKLOAD", "DTYPE", "ROUNDS", "THREADS"), help=argparse.SUPPRESS)
    parser.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        workload_id, dtype, rounds, threads = args.worker
        worker(workload_id, dtype, int(rounds), int(threads), args.distributed)
        return
    if args.cost_model:
        print(cost_model())
        return
    if args.cores % args.ranks:
        sys.exit(f"--cores {args.cores} must be a multiple of --ranks {args.ranks}")
    results = []
    for done in range(args.passes):  # the configurations alternate: a busy minute hits both
        for workload in args.workloads:
            for dtype in args.dtypes:
                for ranks in (1, args.ranks) if done % 2 == 0 else (args.ranks, 1):
                    result = run_configuration(workload, dtype, ranks, args.cores, max(3, args.rounds))
                    results.append(result)
                    print(f"pass {done + 1}: {workload} {dtype} {ranks} rank(s): "
                          f"{[round(1e3 * e, 1) for e in result['epochs']]} ms", file=sys.stderr, flush=True)
    print(table(results))


if __name__ == "__main__":
    main()
