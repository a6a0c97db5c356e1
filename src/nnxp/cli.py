"""The ``nnxp`` command.

    nnxp demo [--model mlp|cnn|lstm]   train a small network on the digits and show it all
    mpiexec -n 2 nnxp demo --distributed   the same, data-parallel on two processes
    nnxp compare [--model ...]         the same training on several backends, side by side
    nnxp compare --profile             ... and each layer's forward and backward time, per target
    nnxp warmup                        compile every kernel ahead of time (then cached on disk)
    nnxp info                          backends found, versions, thread counts
    nnxp bench [-k W2] [--targets ...] the benchmark suite of a source checkout, as a table

The demo networks are defined once, in ``nnxp.demos``, so that the demo, the
comparison and the tests train exactly the same thing.

What goes wrong on the user's side (no GPU, a missing extra, data that does not fit)
raises one of nnxp's own errors; ``main`` turns it into one line on stderr, the message
saying what is missing and how to install it, and exit status 1. ``NNXP_DEBUG=1`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import time

from . import checks, report
from .checks import ArgumentTypeError, ArgumentValueError
from .backend import (BACKEND_CLASSES, BACKENDS, DTYPES, KERNEL_MODES, BackendUnavailable, available_backends,
                      backend_class, numba_available, set_backend)
from .data import DataError
from .demos import DEMO_EPOCHS, demo_model
from .extras import MissingExtra
from .io import ModelFileError
from .layers import ShapeError
from .model import NotInitialized
from .threads import blas_kernels, thread_info
from .workloads import WORKLOADS

# --------------------------------------------------------------------------- demo


def demo(args) -> int:
    from rich.panel import Panel

    if args.distributed:  # first: under NCCL, init picks this rank's GPU before anything lands on one
        from . import distributed

        distributed.init(backend_class(args.backend).transport)  # "nccl" for the gpu backend, else "mpi"
    backend = set_backend(args.backend, args.dtype, args.kernels)
    console = report.console()
    console.quiet = args.distributed and not distributed.is_main()  # one report, the main rank's
    article = "an" if args.model == "mlp" else "a"  # "an MLP", "a CNN"
    console.print(Panel.fit(f"nnxp demo: {article} {args.model.upper()} learns the handwritten digits (8x8 pixels)\n"
                            f"backend {backend}", style="bold"))
    model, settings = demo_model(args.model, seed=args.seed)
    model.initialize(**settings)
    epochs = args.epochs or DEMO_EPOCHS[args.model]
    started = time.perf_counter()
    model.train(epochs=epochs)
    if args.distributed:
        console.print(_communication(distributed.statistics(), time.perf_counter() - started))
    results = model.evaluate()
    test = model.embedding.dtest
    console.print(Panel.fit(
        f"test set ({len(test)} digits never seen in training): "
        f"accuracy [bold green]{results['test_accuracy']:.4f}[/], F-score {results['test_fscore']:.4f}, "
        f"loss {results['test_loss']:.4f}", title="result"))
    path = os.path.join(args.out, f"demo-{args.model}.png")
    model.plot(path)
    console.print(f"training curves written to [bold]{path}[/]", soft_wrap=True)  # a path is never folded
    return 0


def _communication(stats, seconds: float):
    """The panel that says what the gradient sums cost the main rank during training."""
    from rich.panel import Panel

    share = stats.communication_seconds / seconds if seconds > 0 else 0.0
    lines = [f"{stats.ranks} ranks ({stats.kind}), {stats.steps} steps in {seconds:.2f} s of training",
             f"communicating {stats.communication_seconds:.2f} s ({share:.1%}, waiting for slower ranks included), "
             f"summing {stats.summing_seconds:.3f} s",
             f"{stats.values:,} gradient values a step; each rank sends {stats.bytes_per_step / 1e3:.1f} kB a step"]
    return Panel.fit("\n".join(lines), title="data-parallel")


# --------------------------------------------------------------------------- compare


def compare_command(args) -> int:
    from .compare import compare, crossover

    from .extras import require

    require("matplotlib", "plot", "to draw the comparison")  # before the training, not after
    sweep = args.batch_sizes if args.sweep == "batch_size" else None
    path = os.path.join(args.out, f"compare-{args.model}.png")
    profile_path = os.path.join(args.out, f"compare-{args.model}-profile.png") if args.profile else None
    result = compare(args.model, targets=args.targets, epochs=args.epochs, dtype=args.dtype, sweep=sweep,
                     plot_path=path, profile=args.profile, profile_path=profile_path)
    if sweep:
        names = [row["target"] for row in result.table]
        on_device = [n for n in names if backend_class(n.partition("-")[0]).accelerator]
        for fast in on_device:
            for slow in (n for n in names if n not in on_device):
                batch = crossover(result, fast, slow)
                report.console().print(f"{fast} overtakes {slow} from batch size {batch}" if batch
                                       else f"{fast} does not overtake {slow} in this sweep")
    report.console().print(f"plot written to [bold]{path}[/]", soft_wrap=True)  # a path is never folded
    if profile_path:
        report.console().print(f"profile bars written to [bold]{profile_path}[/]", soft_wrap=True)
    return 0


# --------------------------------------------------------------------------- warmup


def warmup(args) -> int:
    """Compile (or load from Numba's disk cache) every kernel of a backend, in both dtypes
    (``nnxp.ops.warmup``: each op once forward and backward on a tiny input)."""
    from .backend import make_backend
    from .ops.warmup import warm_up

    start = time.perf_counter()
    done = [f"{what} {dtype}" for dtype in DTYPES for what in warm_up(make_backend(args.backend, dtype, "numba"))]
    report.console().print(f"{len(done)} kernel-backed op runs done on {args.backend} "
                           f"in {time.perf_counter() - start:.1f} s (float32 and float64)")
    return 0


# --------------------------------------------------------------------------- info


def info(args) -> int:
    from rich.markup import escape
    from rich.table import Table

    console = report.console()
    backends = Table(title="backends")
    backends.add_column("name")
    backends.add_column("available")
    backends.add_column("details")
    for name, (ok, why) in available_backends().items():
        backends.add_row(name, "[green]yes[/]" if ok else "[red]no[/]", escape(why))
    console.print(backends)
    for name, cls in BACKEND_CLASSES.items():  # the details of a device, where a backend has one
        details = cls.device_info()
        if details:
            console.print(f"{name.upper()}: " + ", ".join(f"{k} {v}" for k, v in details.items()))
    from .distributed import available as distributed_available

    for kind, (ok, why) in distributed_available().items():  # nnxp.distributed.init(kind): usable here?
        console.print(f"distributed {kind}: " + ("[green]yes[/]" if ok else "[red]no[/]") + f" ({escape(why)})")
    versions = Table(title="libraries")
    versions.add_column("package")
    versions.add_column("version")
    for package in ("nnxp", "numpy", "array-api-compat", "array-api-extra", "numba", "numba-cuda", "cupy",
                    "array-api-strict", "rich", "matplotlib", "scikit-learn", "torch"):
        versions.add_row(package, _version(package))
    console.print(versions)
    threads = Table(title="threads")
    threads.add_column("pool")
    threads.add_column("threads", justify="right")
    for pool, count in thread_info().items():
        threads.add_row(pool, str(count))
    console.print(threads)
    console.print(f"BLAS kernels: {blas_kernels()}", soft_wrap=True)
    if numba_available():  # where the compiled kernels are kept (nnxp.kernels.cache explains the choice)
        from .kernels.cache import cache_folder

        console.print(f"kernel cache: {cache_folder() or 'none, the kernels compile in memory'}", soft_wrap=True)
        console.print(_kernel_paths())
    return 0


def _kernel_paths():
    """The CPU kernel each convolution and recurrent layer of the workloads W1-W8 runs on
    (the rule of ``nnxp.kernels.cpu.paths``, by the shapes and the dtype), and the rule."""
    from rich.table import Table

    from .kernels.cpu import paths
    from .workloads import WORKLOADS

    table = Table(title="CPU kernels: direct loops, BLAS products or Winograd's (the workloads' layers)",
                  caption="; ".join(f"{k}: {v}" for k, v in paths.rule().items()))
    for column in ("workload", "layer", "float32", "float64"):
        table.add_column(column)
    for workload in WORKLOADS.values():
        for kind, options, shape in workload.layer_inputs():
            m = workload.batch_size
            if kind == "conv":
                k, F, pad = options["size"], options["filters"], options.get("padding", 0)
                what = f"conv {m}x{'x'.join(map(str, shape))} -> {F}@{k}x{k}" + (f" pad {pad}" if pad else "")
                chosen = [paths.conv_path((m, *shape), (k, k, shape[2], F), dtype) for dtype in ("float32", "float64")]
            elif kind in ("rnn", "gru", "lstm"):
                units, gates = options["units"], {"rnn": 1, "gru": 3, "lstm": 4}[kind]
                what = f"{kind} {m}x{'x'.join(map(str, shape))} -> {units} units"
                chosen = [paths.recurrent_path(m, units, gates, dtype) for dtype in ("float32", "float64")]
            else:
                continue
            table.add_row(workload.id, what, *chosen)
    return table


def _version(package: str) -> str:
    names = ("cupy-cuda13x", "cupy-cuda12x", "cupy") if package == "cupy" else (package,)  # per-CUDA wheels
    for name in names:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return version if name == package else f"{version} ({name})"
    return "not installed"


# --------------------------------------------------------------------------- bench


BENCH_INSTALL = ("the benchmarks live in the source repository, not in the installed package: "
                 "clone it, `pip install -e '.[bench]'` there, and run `nnxp bench` inside it")


def find_benchmarks(places=None) -> str | None:
    """benchmarks/run.py of the checkout that holds one of ``places`` (a folder or
    any folder below it). By default: the working folder, then, for an editable
    install, the checkout this package was installed from."""
    if places is None:
        places = [os.getcwd(), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]  # src/nnxp -> src
    for place in places:
        place = os.path.abspath(place)
        while True:
            candidate = os.path.join(place, "benchmarks", "run.py")
            if os.path.isfile(candidate):
                return candidate
            parent = os.path.dirname(place)
            if parent == place:
                break
            place = parent
    return None


def bench(args) -> int:
    """Run benchmarks/run.py (each target in its own process, a Markdown table at the end)."""
    passes = checks.positive_int("--passes", args.passes, "nnxp bench")
    threads = args.threads if args.threads is None else checks.positive_int("--threads", args.threads, "nnxp bench")
    script = find_benchmarks()
    if script is None:
        print(f"nnxp bench: {BENCH_INSTALL}", file=sys.stderr)
        return 2
    import importlib.util

    if importlib.util.find_spec("pytest_benchmark") is None:
        raise MissingExtra("pytest-benchmark is needed to run the benchmarks: pip install -e '.[bench]' in the clone")
    command = [sys.executable, script, "--threads", str(threads or os.cpu_count() or 1)]
    if args.targets:
        command += ["--targets", *args.targets]
    if args.k:
        command += ["-k", args.k]
    if args.out:
        command += ["--out", args.out]
    if passes != 1:
        command += ["--passes", str(passes)]
    import subprocess

    return subprocess.call(command)


# --------------------------------------------------------------------------- entry point


# option -> (its environment variable, the choices, the default without it)
BACKEND_OPTIONS = {"backend": ("NNXP_BACKEND", BACKENDS, "cpu"), "dtype": ("NNXP_DTYPE", DTYPES, None),
                   "kernels": ("NNXP_KERNELS", KERNEL_MODES, None)}


def _backend_options(parser: argparse.ArgumentParser) -> None:
    """--backend, --dtype, --kernels; their defaults come from NNXP_BACKEND, NNXP_DTYPE and
    NNXP_KERNELS (checked in ``_check_environment``: argparse leaves defaults unchecked)."""
    for option, (variable, choices, default) in BACKEND_OPTIONS.items():
        parser.add_argument(f"--{option}", default=os.environ.get(variable) or default, choices=choices,
                            help=f"default: {variable} or {default}")


def _check_environment(parser: argparse.ArgumentParser, args) -> None:
    """A bad NNXP_* value is a usage error of the command that reads it, like a bad option."""
    for option, (variable, choices, _) in BACKEND_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None and value not in choices:
            parser.error(f"{variable}={value!r} is not one of {', '.join(choices)}")


# What the user can put right; anything else is a bug in nnxp, and keeps its traceback.
USER_ERRORS = (BackendUnavailable, MissingExtra, DataError, ShapeError, NotInitialized, ModelFileError,
               ArgumentTypeError, ArgumentValueError)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nnxp", description="nnxp: read how a network learns, see what a GPU changes")
    commands = parser.add_subparsers(dest="command", required=True)

    demo_parser = commands.add_parser("demo", help="train a demo network on the digits")
    demo_parser.add_argument("--model", default="mlp", choices=sorted(DEMO_EPOCHS))
    demo_parser.add_argument("--epochs", type=int, default=None, help="default: enough to learn (mlp 30)")
    demo_parser.add_argument("--seed", type=int, default=1)
    demo_parser.add_argument("--out", default="nnxp-out", help="folder for the plot")
    demo_parser.add_argument("--distributed", action="store_true",
                             help="data-parallel over the ranks of mpiexec (MPI; NCCL with --backend gpu)")
    _backend_options(demo_parser)
    demo_parser.set_defaults(run=demo)

    compare_parser = commands.add_parser("compare", help="train one model on several backends, side by side")
    compare_parser.add_argument("--model", default="mlp", choices=[*DEMO_EPOCHS, *WORKLOADS],
                                help="mlp, cnn, lstm (the demos) or a workload W1-W8")
    compare_parser.add_argument("--targets", nargs="+", default=None,
                                help="e.g. cpu-numba cpu-reference gpu-numba (default: every available)")
    compare_parser.add_argument("--epochs", type=int, default=3)
    compare_parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    compare_parser.add_argument("--sweep", choices=["batch_size"], default=None)
    compare_parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512])
    compare_parser.add_argument("--profile", action="store_true",
                                help="also time each layer's forward and backward, per target")
    compare_parser.add_argument("--out", default="nnxp-out", help="folder for the plots")
    compare_parser.set_defaults(run=compare_command)

    warmup_parser = commands.add_parser("warmup", help="compile every kernel ahead of time (cached on disk)")
    warmup_parser.add_argument("--backend", default="cpu",
                               choices=[name for name, cls in BACKEND_CLASSES.items() if cls.kernel_package])
    warmup_parser.set_defaults(run=warmup)

    info_parser = commands.add_parser("info", help="backends, versions, threads")
    info_parser.set_defaults(run=info)

    bench_parser = commands.add_parser("bench", help="the benchmark suite (in a source checkout), as a table")
    bench_parser.add_argument("-k", default=None, help="pytest -k expression, e.g. 'W2 or W3'")
    bench_parser.add_argument("--targets", nargs="+", default=None,
                              help="of cpu-numba cpu-reference torch-cpu gpu-numba gpu-reference torch-cuda "
                                   "(default: all)")
    bench_parser.add_argument("--threads", type=int, default=None, help="default: every core")
    bench_parser.add_argument("--out", default=None, help="folder for the JSON results (default: benchmarks/results)")
    bench_parser.add_argument("--passes", type=int, default=1,
                              help="run the targets in turn this many times; each target's median is the "
                                   "median of its passes (a shared machine slows down for minutes)")
    bench_parser.set_defaults(run=bench)

    args = parser.parse_args(argv)
    _check_environment(commands.choices[args.command], args)
    try:
        return args.run(args)
    except USER_ERRORS as error:
        if os.environ.get("NNXP_DEBUG"):
            raise
        message = " ".join(str(error).split())  # one line, whatever the message holds
        print(f"nnxp {args.command}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
