"""Train the same model on several backends and see what changes.

    from nnxp.compare import compare
    result = compare("cnn", targets=["cpu-numba", "cpu-reference"], epochs=3)
    result.table            # list of dicts, one per target
    compare("lstm", sweep=[16, 64, 256])   # how the speed ratio moves with the batch size

Every target starts from the same seed, so from identical weights and batches: whatever
differs at the end (a loss in the 6th decimal, a prediction by 1e-7) comes from the order
in which each backend adds its numbers, not from luck. The timed part of an epoch is the
training pass alone, the device synchronised; the first epoch, which compiles the kernels,
is shown apart.

A target is ``"<backend>-<kernels>"``: ``cpu-numba``, ``cpu-reference``, ``gpu-numba``,
``gpu-reference`` (``strict-reference`` works too, slowly). Unavailable ones are skipped
with the reason.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from .backend import available_backends, make_backend, numba_available, numba_cuda_available, to_numpy, use_backend

DEFAULT_TARGETS = ("cpu-numba", "cpu-reference", "gpu-numba", "gpu-reference")


@dataclass
class Comparison:
    table: list = field(default_factory=list)  # one dict per target
    losses: dict = field(default_factory=dict)  # target -> loss per epoch
    sweep: list = field(default_factory=list)  # (batch_size, target, seconds per epoch)
    skipped: dict = field(default_factory=dict)  # target -> why


def available_targets(targets=None, dtype: str = "float32") -> tuple[list, dict]:
    """The usable targets among ``targets`` (default: every one), and why the others are not."""
    usable, skipped = [], {}
    for target in targets or DEFAULT_TARGETS:
        backend, _, kernels = target.partition("-")
        ok, why = available_backends().get(backend, (False, f"unknown backend {backend!r}"))
        fast = numba_available() if backend == "cpu" else numba_cuda_available()
        if ok and kernels == "numba" and not fast:
            ok, why = False, "no numba kernels here"
        if ok:
            usable.append(target)
        else:
            skipped[target] = why
    return usable, skipped


def _builder(model):
    """A function batch_size -> (model, initialize settings) from a demo name, a workload
    id (W1-W8) or such a function itself."""
    if callable(model):
        return model
    if model in ("mlp", "cnn", "lstm"):
        from .cli import demo_model

        return lambda batch_size=32: demo_model(model, seed=1, batch_size=batch_size)
    from .workloads import WORKLOADS, build_layers

    workload = WORKLOADS[model]

    def build(batch_size=workload.batch_size):
        from .layers import Embedding
        from .model import Model

        X, labels = workload.dataset(shrink=1 if model in ("W1", "W2", "W3", "W4", "W5", "W6") else 8)
        embedding = Embedding(X, labels, Y_encode=True, relative_size=(4, 1, 0), batch_size=batch_size, seed=0)
        settings = {"loss": "CCE", "metrics": ["accuracy"], "seed": 0, "se_hPars": {"learning_rate": workload.learning_rate}}
        return Model([embedding, *build_layers(workload)], name=f"{workload.id} {workload.title}"), settings

    return build


def _run(build, target: str, dtype: str, epochs: int, batch_size=None):
    """Train on one target; returns (model, first-epoch seconds, other epochs' seconds, losses)."""
    backend_name, _, kernels = target.partition("-")
    with use_backend(make_backend(backend_name, dtype, kernels)) as backend:
        model, settings = build() if batch_size is None else build(batch_size=batch_size)
        model.initialize(**settings, verbose=False)
        seconds, losses = [], []
        for _ in range(epochs):
            start = time.perf_counter()
            model.train_epoch()
            backend.synchronize()
            seconds.append(time.perf_counter() - start)
            model.epoch += 1
            losses.append(model.evaluate()["loss"])
        return model, seconds[0], seconds[1:] or seconds, losses


def compare(model="mlp", targets=None, epochs: int = 3, dtype: str = "float32", sweep=None,
            plot_path: str | None = None, verbose: bool = True) -> Comparison:
    """Train ``model`` on each target and compare speed and results (see the module doc)."""
    build = _builder(model)
    model = getattr(model, "__name__", model)  # a builder function is shown by its name
    usable, skipped = available_targets(targets, dtype)
    if not usable:
        raise RuntimeError(f"no target available: {skipped}")
    result = Comparison(skipped=skipped)
    reference_output = None
    for target in usable:
        trained, first, rest, losses = _run(build, target, dtype, epochs)
        probe = trained.embedding.dval if trained.embedding.dval is not None and len(trained.embedding.dval) \
            else trained.embedding.dtrain
        output = to_numpy(trained.output(probe.X)).astype(np.float64)
        reference_output = output if reference_output is None else reference_output
        per_epoch = statistics.median(rest)
        result.table.append({
            "target": target, "first epoch s": first, "s/epoch": per_epoch,
            "samples/s": len(trained.embedding.dtrain) / per_epoch,
            "speed-up": result.table[0]["s/epoch"] / per_epoch if result.table else 1.0,
            "final loss": losses[-1], "max |diff|": float(np.abs(output - reference_output).max()),
        })
        result.losses[target] = losses
    for batch_size in sweep or []:
        for target in usable:
            _, _, rest, _ = _run(build, target, dtype, 3, batch_size)
            result.sweep.append((batch_size, target, statistics.median(rest)))
    if verbose:
        print_comparison(result, model, dtype)
    if plot_path:
        plot_comparison(result, plot_path, f"{model} ({dtype})")
    return result


def crossover(result: Comparison, fast: str, slow: str):
    """The smallest swept batch size at which ``fast`` beats ``slow`` (None if never)."""
    times = {(b, t): s for b, t, s in result.sweep}
    for batch_size in sorted({b for b, _, _ in result.sweep}):
        if (batch_size, fast) in times and (batch_size, slow) in times and times[batch_size, fast] < times[batch_size, slow]:
            return batch_size
    return None


def print_comparison(result: Comparison, model, dtype: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    from .report import console

    table = Table(title=f"{model} ({dtype}): same seed, same weights, same batches")
    columns = ("target", "first epoch s", "s/epoch", "samples/s", "speed-up", "final loss", "max |diff|")
    for column in columns:
        table.add_column(column, justify="left" if column == "target" else "right")
    formats = {"first epoch s": "{:.3f}", "s/epoch": "{:.4f}", "samples/s": "{:,.0f}", "speed-up": "{:.2f}x",
               "final loss": "{:.6f}", "max |diff|": "{:.1e}"}
    for row in result.table:
        table.add_row(row["target"], *(formats[c].format(row[c]) for c in columns[1:]))
    out = console()
    out.print(table)
    for target, why in result.skipped.items():
        out.print(f"[dim]{target}: skipped ({escape(why)})[/]")
    if result.sweep:
        targets = list(dict.fromkeys(t for _, t, _ in result.sweep))
        sweep = Table(title="seconds per epoch by batch size")
        sweep.add_column("batch size", justify="right")
        for target in targets:
            sweep.add_column(target, justify="right")
        times = {(b, t): s for b, t, s in result.sweep}
        for batch_size in sorted({b for b, _, _ in result.sweep}):
            sweep.add_row(str(batch_size), *(f"{times[batch_size, t]:.4f}" for t in targets))
        out.print(sweep)


def plot_comparison(result: Comparison, path: str, title: str) -> None:
    """Bars of seconds per epoch, loss curves, and the sweep when there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if result.sweep else 2
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    names = [row["target"] for row in result.table]
    axes[0].bar(names, [row["s/epoch"] for row in result.table], color="tab:blue")
    axes[0].set_ylabel("seconds per epoch")
    axes[0].tick_params(axis="x", rotation=20)
    for target, losses in result.losses.items():
        axes[1].plot(range(1, len(losses) + 1), losses, marker="o", label=target)
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("training loss")
    axes[1].legend(fontsize="small")
    if result.sweep:
        for target in dict.fromkeys(t for _, t, _ in result.sweep):
            points = sorted((b, s) for b, t, s in result.sweep if t == target)
            axes[2].plot(*zip(*points), marker="o", label=target)
        axes[2].set_xscale("log", base=2)
        axes[2].set_yscale("log")
        axes[2].set_xlabel("batch size")
        axes[2].set_ylabel("seconds per epoch")
        axes[2].legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
