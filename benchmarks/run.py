"""Run every benchmark target in its own process and print the results as Markdown.

    python benchmarks/run.py                          # all targets, all tests
    python benchmarks/run.py -k "W1 or W2" --targets cpu-numba torch-cpu
    python benchmarks/run.py --threads 2 --out benchmarks/results
    python benchmarks/run.py --targets cpu-numba torch-cpu --passes 3   # the targets in turn, 3 times

Each target's pytest-benchmark JSON goes to ``--out``; the table gives, per workload and
dtype, the median epoch time of each target (min-max in brackets), the speed-up of
nnxp's cpu-numba over torch-cpu, and the floor (epoch FLOPs / this machine's matmul rate).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("cpu-numba", "cpu-reference", "torch-cpu", "gpu-numba", "gpu-reference", "torch-cuda")


def ceilings(threads: int) -> dict:
    """Matmul GFLOP/s (1024x1024, float32 and float64) and copy bandwidth (GB/s) of NumPy,
    and which BLAS ran them: OpenBLAS picks its kernels by the processor, unless
    OPENBLAS_CORETYPE names them (on AVX-512 machines Haswell's run at half the rate)."""
    from threadpoolctl import threadpool_limits

    from nnxp.threads import blas_kernels

    results = {"blas": blas_kernels()}
    with threadpool_limits(threads):
        for dtype in ("float32", "float64"):
            a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(dtype)
            a @ a
            best = min(_timed(lambda: a @ a) for _ in range(10))
            results[f"matmul_{dtype}_gflops"] = 2 * 1024**3 / best / 1e9
    big = np.ones(2**25)  # 256 MiB
    out = np.empty_like(big)
    best = min(_timed(lambda: np.copyto(out, big)) for _ in range(5))
    results["copy_gbps"] = 2 * big.nbytes / best / 1e9  # read + write
    return results


def gpu_ceilings() -> dict:
    """The same two ceilings on the GPU through CuPy (4096^2 products, full float32:
    no TF32), timed with device synchronisation; {} without a usable GPU."""
    try:
        import cupy

        cupy.zeros(1)
    except Exception:
        return {}
    results = {}

    def timed(function) -> float:
        function()
        cupy.cuda.get_current_stream().synchronize()
        start = time.perf_counter()
        for _ in range(10):
            function()
        cupy.cuda.get_current_stream().synchronize()
        return (time.perf_counter() - start) / 10

    for dtype in ("float32", "float64"):
        a = cupy.random.random((4096, 4096)).astype(dtype)
        results[f"gpu_matmul_{dtype}_gflops"] = 2 * 4096**3 / timed(lambda: a @ a) / 1e9
    big = cupy.ones(2**28, dtype=cupy.float32)  # 1 GiB
    out = cupy.empty_like(big)
    results["gpu_copy_gbps"] = 2 * big.nbytes / timed(lambda: cupy.copyto(out, big)) / 1e9
    return results


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run_target(target: str, args, folder: str) -> str:
    path = os.path.join(folder, f"{target}.json")
    command = [sys.executable, "-m", "pytest", HERE, "--benchmark-only", "-q", "-p", "no:cacheprovider",
               f"--target={target}", f"--threads={args.threads}", f"--benchmark-json={path}"]
    if args.k:
        command += ["-k", args.k]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=False)
    return path


def _collect(paths: dict, key: str) -> dict:
    """{(name, dtype): {target: stats, "extra": extra_info}} for the benchmarks that have
    ``key``; ``paths`` gives each target's JSON files, one per pass. Over several passes a
    target's median is the median of its passes' medians, its range the whole range."""
    rows: dict = {}
    for target, files in paths.items():
        for path in files:
            if not os.path.exists(path):
                continue
            for bench in json.load(open(path))["benchmarks"]:
                info = bench["extra_info"]
                if key in info:
                    row = rows.setdefault((info[key], info["dtype"]), {"extra": info})
                    row.setdefault(target, []).append(bench["stats"])
                    if "path" in info:  # the CPU kernel the rule chose (cpu-numba's run notes it)
                        row["path"] = info["path"]
    for row in rows.values():
        for target, passes in row.items():
            if target not in ("extra", "path"):
                row[target] = {"median": float(np.median([p["median"] for p in passes])),
                               "min": min(p["min"] for p in passes), "max": max(p["max"] for p in passes)}
    return rows


def _choice(rows: dict, name: str, dtype: str) -> str:
    """The kernel the CPU's rule chose for an op ("direct", "blas" or "winograd", as
    cpu-numba's run noted it) and its median time, forced, over the fastest of the
    kernels forced ("name [direct]", "name [blas]", "name [winograd]" for 3x3 filters):
    1.00x when the rule chose the fastest."""
    chosen = rows.get((name, dtype), {}).get("path")
    forced = {path: rows.get((f"{name} [{path}]", dtype), {}).get("cpu-numba") for path in ("direct", "blas", "winograd")}
    forced = {path: times for path, times in forced.items() if times is not None}
    if chosen not in forced or len(forced) < 2:
        return "-"
    return f"{chosen} {forced[chosen]['median'] / min(f['median'] for f in forced.values()):.2f}x"


def table(paths: dict, floors: dict, key: str = "workload") -> str:
    """Markdown: median (min-max) ms per target, nnxp numba vs torch, and (for workloads) the floor."""
    rows = _collect(paths, key)
    present = [t for t in paths if any(t in r for r in rows.values())]
    header = [key, "dtype"] + [f"{t} ms" for t in present] + ["torch / numba"]
    if key == "workload":
        header += ["floor ms"]
    else:  # the CPU kernels' choice against the fastest of its kernels, where they were timed
        header += ["chosen / faster kernel"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (name, dtype), row in sorted(rows.items()):
        cells = [name, dtype]
        for target in present:
            s = row.get(target)
            cells.append(f"{s['median'] * 1e3:.2f} ({s['min'] * 1e3:.2f}-{s['max'] * 1e3:.2f})" if s else "-")
        speedup = [(f"torch-{d}", f"{d}-numba") for d in ("cpu", "cuda") if f"torch-{d}" in row]
        pair = next(((t, n.replace("cuda", "gpu")) for t, n in speedup if n.replace("cuda", "gpu") in row), None)
        cells.append(f"{row[pair[0]]['median'] / row[pair[1]]['median']:.2f}x" if pair else "-")
        if key == "workload":  # on the GPU if the figures are GPU ones
            gpu = any(t.startswith(("gpu", "torch-cuda")) for t in present)
            rate = floors.get(f"{'gpu_' if gpu else ''}matmul_{dtype}_gflops")
            cells.append(f"{row['extra']['epoch_flops'] / (rate * 1e9) * 1e3:.2f}" if rate else "-")
        else:
            cells.append(_choice(rows, name, dtype))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("-k", default=None, help="pytest -k expression (e.g. 'W1 or W3')")
    parser.add_argument("--passes", type=int, default=1,
                        help="run the targets this many times, in turn (in reverse order every other "
                             "pass): a machine that slows down for minutes then slows every target")
    args = parser.parse_args()
    if args.passes < 1:
        parser.error(f"--passes must be at least 1, got {args.passes}")
    os.makedirs(args.out, exist_ok=True)
    limits = ceilings(args.threads)
    if any(t.startswith(("gpu", "torch-cuda")) for t in args.targets):
        limits.update(gpu_ceilings())
    print(json.dumps(limits, indent=1))
    paths = {target: [] for target in args.targets}
    for index in range(args.passes):
        folder = args.out if args.passes == 1 else os.path.join(args.out, f"pass-{index + 1}")
        os.makedirs(folder, exist_ok=True)
        for target in (args.targets if index % 2 == 0 else args.targets[::-1]):
            paths[target].append(run_target(target, args, folder))
    json.dump(limits, open(os.path.join(args.out, "ceilings.json"), "w"), indent=1)
    print(table(paths, limits, "workload"))
    print()
    print(table(paths, limits, "op"))


if __name__ == "__main__":
    main()
