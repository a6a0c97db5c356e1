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
``gpu-reference`` (``strict-reference`` works too, slowly). Unavailable ones are skipped,
and the reason is told once per run, however many comparisons the run makes.

``profile=True`` adds, for each target, the time of each layer's forward and backward in
one training step (``nnxp.profile``): where a CPU and a GPU spend their time, side by side.

Timings move from run to run, the more so on a machine shared with others: read a
speed-up of 1.1x as "the same", and run twice before believing a small difference.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from .backend import BACKEND_CLASSES, BackendUnavailable, make_backend, to_numpy, use_backend

DEFAULT_TARGETS = ("cpu-numba", "cpu-reference", "gpu-numba", "gpu-reference")


@dataclass
class Comparison:
    title: str = ""  # the model's name
    table: list = field(default_factory=list)  # one dict per target
    losses: dict = field(default_factory=dict)  # target -> loss per epoch
    sweep: list = field(default_factory=list)  # (batch_size, target, seconds per epoch)
    skipped: dict = field(default_factory=dict)  # target -> why
    profiles: dict = field(default_factory=dict)  # target -> nnxp.profile.Profile, with profile=True

    def plot(self, path=None, show: bool = False):
        """The bars and loss curves (see plot_comparison); returns the figure."""
        return plot_comparison(self, path, show)

    def plot_profiles(self, path=None, show: bool = False):
        """The per-layer bars of every target (compare with profile=True); returns the figure."""
        from .profile import plot_profiles

        return plot_profiles(self.profiles, path, show, f"{self.title}: one training step, per part")


_told_skipped: set = set()  # (target, why) already told in this run


def available_targets(targets=None, dtype: str = "float32") -> tuple[list, dict]:
    """The usable targets among ``targets`` (default: every one), and why the others are not."""
    usable, skipped = [], {}
    for target in targets or DEFAULT_TARGETS:
        backend, _, kernels = target.partition("-")
        cls = BACKEND_CLASSES.get(backend)
        ok, why = cls.probe() if cls else (False, f"unknown backend {backend!r}")
        if ok and kernels == "numba" and not cls.compiled_kernels_available():
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
        from .demos import demo_model

        return lambda batch_size=32: demo_model(model, seed=1, batch_size=batch_size)
    from .workloads import WORKLOADS, build_layers

    if model not in WORKLOADS:
        raise ValueError(f"compare: model must be a builder function, one of mlp, cnn, lstm or a workload "
                         f"{', '.join(WORKLOADS)}; got {model!r}")
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
            plot_path: str | None = None, verbose: bool = True, profile: bool = False,
            profile_path: str | None = None) -> Comparison:
    """Train ``model`` on each target and compare speed and results (see the module doc).

    ``plot_path``: where to write the bars and loss curves; with ``profile``, the per-layer
    profile of each target is printed, and drawn to ``profile_path``.
    """
    build = _builder(model)
    usable, skipped = available_targets(targets, dtype)
    if not usable:
        raise BackendUnavailable("no target of the comparison is available here: "
                                 + "; ".join(f"{t}: {why}" for t, why in skipped.items()))
    result = Comparison(skipped=skipped)
    reference_output = None
    for target in usable:
        trained, first, rest, losses = _run(build, target, dtype, epochs)
        result.title = result.title or f"{trained.name} ({dtype})"
        if profile:
            from .profile import profile as profile_step

            result.profiles[target] = profile_step(trained, verbose=False)
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
        print_comparison(result)
    if profile and verbose:
        from .profile import print_profiles

        print_profiles(result.profiles, f"{result.title}: a step, part by part")
    if plot_path:
        plot_comparison(result, plot_path)
    if profile and profile_path:
        result.plot_profiles(profile_path)
    return result


def crossover(result: Comparison, fast: str, slow: str):
    """The smallest swept batch size at which ``fast`` beats ``slow`` (None if never)."""
    times = {(b, t): s for b, t, s in result.sweep}
    for batch_size in sorted({b for b, _, _ in result.sweep}):
        if (batch_size, fast) in times and (batch_size, slow) in times and times[batch_size, fast] < times[batch_size, slow]:
            return batch_size
    return None


def print_comparison(result: Comparison) -> None:
    """The table (narrower headers where the terminal is narrow), how to read it, what was
    skipped (once per run) and the sweep."""
    from rich.markup import escape
    from rich.table import Table

    from .report import console, fits

    out = console()
    wide = _comparison_table(result, COLUMNS)
    out.print(wide if fits(out, wide) else _comparison_table(result, NARROW_COLUMNS))
    first = result.table[0]["target"]
    # one line, even in 80 columns: how to read the ratio, and how far to trust it
    out.print(f"[dim]speed-up 2x = twice as fast as {first}; shared machine: ±20% can be noise.[/]")
    for target, why in result.skipped.items():
        if (target, why) not in _told_skipped:
            _told_skipped.add((target, why))
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


# row key -> (header, format); the narrow headers fit an 80-column terminal
COLUMNS = {"first epoch s": ("first epoch s", "{:.3f}"), "s/epoch": ("s/epoch", "{:.4f}"),
           "samples/s": ("samples/s", "{:,.0f}"), "speed-up": ("speed-up", "{:.2f}x"),
           "final loss": ("final loss", "{:.6f}"), "max |diff|": ("max |diff|", "{:.1e}")}
NARROW_COLUMNS = {"first epoch s": ("first s", "{:.2f}"), "s/epoch": ("s/epoch", "{:.4f}"),
                  "samples/s": ("samples/s", "{:,.0f}"), "speed-up": ("speed-up", "{:.2f}x"),
                  "final loss": ("loss", "{:.5f}"), "max |diff|": ("|diff|", "{:.0e}")}


def _comparison_table(result: Comparison, columns: dict):
    from rich.table import Table

    table = Table(title=f"{result.title}: same seed, same weights, same batches")
    table.add_column("target", justify="left", overflow="fold")  # fold, never "..."
    for header, _ in columns.values():
        table.add_column(header, justify="right", overflow="fold")
    for row in result.table:
        table.add_row(row["target"], *(form.format(row[key]) for key, (_, form) in columns.items()))
    return table


def plot_comparison(result: Comparison, path=None, show: bool = False):
    """Bars of seconds per epoch (each labelled), loss curves, and the sweep when there is
    one, on a figure of its own. Returns the figure."""
    from .report import finish_figure, integer_epochs, new_figure

    panels = 3 if result.sweep else 2
    figure = new_figure(show, figsize=(5 * panels, 4), layout="constrained")
    axes = figure.subplots(1, panels)
    names = [row["target"] for row in result.table]
    bars = axes[0].bar(names, [row["s/epoch"] for row in result.table], color="tab:blue")
    axes[0].bar_label(bars, labels=[f"{row['s/epoch']:.3g} s\n{row['speed-up']:.2f}x" for row in result.table],
                      fontsize="small")
    axes[0].set_ylabel("seconds per epoch")
    axes[0].margins(y=0.2)  # room for the labels above the bars
    axes[0].tick_params(axis="x", rotation=20)
    for target, losses in result.losses.items():
        axes[1].plot(range(1, len(losses) + 1), losses, marker="o", label=target)
    integer_epochs(axes[1])
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
    figure.suptitle(result.title)
    return finish_figure(figure, path, show)
