"""Where the time of one training step goes, layer by layer.

One training step on a mini-batch is (``Model.train_step``)::

    forward     layer 0, layer 1, ..., layer L      X -> A, each layer in turn
    loss        dL/dA (or dL/dZ, fused with the output's activation)
    backward    layer L, ..., layer 1                dA -> dX, and the gradients g
    optimizer   every parameter moves

``profile(model)`` runs real steps of ``model.train_step`` with a stopwatch around each of
these pieces, and prints a table and draws a bar chart of the median time of each. On a
CPU the bars follow the arithmetic: a layer with more multiply-adds takes longer. On a
GPU they often do not: a small layer costs about as much as a big one, because what it
pays for is launching its work, not doing it. That is the lesson of the chart, and the
reason a GPU needs large batches.

Measuring it honestly takes three precautions:

* **The device is synchronised** before and after each piece. A GPU queues work and
  returns at once; without waiting for it, a layer's time would show up in whichever
  later call happens to wait (``backend.synchronize()`` is a no-op on the CPU).
* **The parts must add up to the step.** Steps without the stopwatches are timed too, with
  the same clock and the same synchronisation at their ends, interleaved with the timed
  ones so that a noisy neighbour hurts both alike. The table shows the sum of the parts
  beside that measured step; the few percent between them are the Python around the
  pieces (and, on a GPU, the cost of the synchronisations themselves).
* **The faster half of the repeats**, after warm-up steps that compile the kernels: a
  step slowed by another process is dropped whole, and each part is the mean over the
  steps kept, so that the parts still add up to those steps; the measured step is the
  mean of the faster half of the untimed steps, the same statistic.

The profile trains: each step moves the weights, as any training step does. It runs on
the model's own backend; ``nnxp compare --profile`` runs it on each target and puts the
targets side by side.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from . import report
from .ops import paths_taken

FORWARD, BACKWARD = "forward", "backward"


@dataclass
class Profile:
    """The seconds of each piece of one training step (a mean over the faster half of the repeats).

    ``parts``: (layer label, phase) -> seconds, in the order the step runs them forward
    (the loss and the optimizer have the phase ""); ``step``: a whole step timed without
    the stopwatches; ``title``: the model and its backend; ``paths``: for the parts that
    ran a CPU kernel, which of its kernels ran, "direct" (Numba loops), "blas" (BLAS
    products) or "winograd" (a 3x3 convolution's; ``nnxp.ops.paths_taken``).
    """

    title: str
    target: str  # the backend's name, as the table's column and the chart's legend show it
    batch_size: int
    repeats: int
    parts: dict = field(default_factory=dict)
    step: float = 0.0
    paths: dict = field(default_factory=dict)

    @property
    def total(self) -> float:
        """The sum of the parts: compare it with ``step``."""
        return sum(self.parts.values())

    def print(self) -> None:
        """The table of the parts."""
        print_profiles({self.target: self}, self.title)

    def plot(self, path=None, show: bool = False):
        """The bars of the parts; written to ``path``, shown with ``show``; returns the figure."""
        return plot_profiles({self.target: self}, path, show, self.title)

    def labels(self) -> list[str]:
        """One label per part: "1 dense forward", ..., "loss gradient", "optimizer step"."""
        return [f"{label} {phase}".strip() for label, phase in self.parts]


class _Stopwatches:
    """Wraps the pieces of a step with timers; ``laps`` collects one step's times."""

    def __init__(self, model, clock):
        self.model, self.sync, self.clock = model, model.backend.synchronize, clock
        self.laps: dict = {}
        self.paths: dict = {}  # key -> the CPU kernel paths the piece ran
        self.running = False  # a piece called from inside another is part of the outer one
        self.wrapped: list = []

    def wrap(self, owner, method: str, key) -> None:
        original = getattr(owner, method)

        def timed(*args, **kwargs):
            if self.running:
                return original(*args, **kwargs)
            self.running = True
            self.sync()
            paths_taken()  # forget what ran before this piece
            start = self.clock()
            try:
                return original(*args, **kwargs)
            finally:
                self.sync()
                self.laps[key] = self.laps.get(key, 0.0) + self.clock() - start
                ran = {path for _, path in paths_taken()}
                if ran:
                    self.paths[key] = ", ".join(sorted(ran))
                self.running = False

        self.wrapped.append((owner, method, vars(owner).get(method)))
        setattr(owner, method, timed)  # an instance attribute: it hides the class's method

    def __enter__(self):
        model = self.model
        for index, layer in enumerate(model.layers):
            label = f"{index} {layer.name}"
            self.wrap(layer, "forward", (label, FORWARD))
            if layer is not model.embedding:  # the Embedding is not back-propagated through
                self.wrap(layer, "backward", (label, BACKWARD))
                self.wrap(layer, "compute_gradients", (label, BACKWARD))  # dW belongs to the backward pass
        self.wrap(model, "loss_gradient", ("loss gradient", ""))
        self.wrap(model.optimizer, "step", ("optimizer step", ""))
        return self

    def __exit__(self, *exc):
        for owner, method, before in reversed(self.wrapped):
            if before is None:
                delattr(owner, method)
            else:
                setattr(owner, method, before)


def profile(model, repeats: int = 20, warmup: int = 3, verbose: bool = True, path=None, show: bool = False,
            clock=time.perf_counter) -> Profile:
    """Time each layer's forward and backward, the loss and the optimizer step (see the
    module docstring); print the table (``verbose``), draw the bars (``path``/``show``).

    ``repeats`` steps are timed with the stopwatches and as many without, on the first
    mini-batch of the training set, after ``warmup`` untimed steps. ``clock`` is the
    wall clock; ``time.process_time`` counts only this process's CPU work, which a busy
    machine disturbs far less (it does not see the time spent waiting for a core), but
    which is blind to a GPU's.
    """
    model._require("profile")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"profile: repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    batch = next(iter(model.embedding.training_batches()))
    X, Y = batch.X, batch.Y
    sync = model.backend.synchronize
    model.set_training(True)
    for _ in range(warmup):
        model.train_step(X, Y)
    laps, steps, paths = [], [], {}
    for _ in range(repeats):
        with _Stopwatches(model, clock) as stopwatches:
            model.train_step(X, Y)
        laps.append(stopwatches.laps)
        paths.update(stopwatches.paths)
        steps.append(_timed_step(model, X, Y, sync, clock))  # interleaved: the same noise for both
    result = Profile(f"{model.name} on {model.backend}", model.backend.target, int(X.shape[0]), repeats)
    kept = _faster_half(laps, key=lambda lap: sum(lap.values()))
    result.parts = {key: statistics.fmean(lap.get(key, 0.0) for lap in kept) for key in laps[0]}
    result.step = statistics.fmean(_faster_half(steps, key=float))
    result.paths = paths
    if verbose:
        result.print()
    if path or show:
        result.plot(path, show)
    return result


def _faster_half(samples: list, key) -> list:
    """The faster half of the repeats (at least one). Another process taking the core
    only ever adds time, so the slower steps are the disturbed ones: they are dropped
    whole, not part by part. (A median per part would not do: when each step pays a
    hiccup in a different part, every part's median misses it and the parts add up to
    less than any real step.)"""
    ordered = sorted(samples, key=key)
    return ordered[:max(1, (len(ordered) + 1) // 2)]


def _timed_step(model, X, Y, sync, clock) -> float:
    """One whole step, timed as the parts are: the same clock, synchronised at both ends."""
    sync()
    start = clock()
    model.train_step(X, Y)
    sync()
    return clock() - start


# --------------------------------------------------------------------------- the table


def print_profiles(profiles: dict, title: str) -> None:
    """Milliseconds per part, one column per target; the sum, the measured step, and the
    share of the step that the parts account for."""
    out = report.console()
    wide = _profile_table(profiles, title, narrow=False)
    out.print(wide if report.fits(out, wide) else _profile_table(profiles, title, narrow=True))


def _profile_table(profiles: dict, title: str, narrow: bool):
    from rich.table import Table

    first = next(iter(profiles.values()))
    kept = (first.repeats + 1) // 2
    caption = f"ms per step, batch {first.batch_size}, faster {kept} of {first.repeats}"
    if any(p.paths for p in profiles.values()):
        caption += ("; direct, blas, winograd: the CPU kernel that ran (Numba loops, BLAS products, "
                    "Winograd's transforms)")
    table = Table(title=title, title_style="bold", min_width=len(title),  # the title on one line, where it fits
                  caption=caption)
    table.add_column("part", overflow="fold")
    for target in profiles:  # "cpu-reference" may wrap at its dash in a narrow terminal
        table.add_column(target.replace("-", " ") if narrow else target, justify="right", overflow="fold")
    short = {FORWARD: "fwd", BACKWARD: "bwd"} if narrow else {}
    for key in first.parts:
        label, phase = key
        cells = [_ms(p.parts.get(key)) + (f" {p.paths[key]}" if key in p.paths else "") for p in profiles.values()]
        table.add_row(f"{label} {short.get(phase, phase)}".strip(), *cells)
    table.add_section()
    table.add_row("sum of the parts", *(_ms(p.total) for p in profiles.values()))
    table.add_row("a step, untimed parts", *(_ms(p.step) for p in profiles.values()))
    table.add_row("parts / step", *(f"{p.total / p.step:.0%}" if p.step else "-" for p in profiles.values()))
    return table


def _ms(seconds) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


# --------------------------------------------------------------------------- the chart


def plot_profiles(profiles: dict, path=None, show: bool = False, title: str = "profile"):
    """Horizontal bars: milliseconds per part (the first layer's forward on top), one bar per target,
    each bar labelled with its value. Returns the figure."""
    labels = next(iter(profiles.values())).labels()
    height = 0.8 / len(profiles)
    figure = report.new_figure(show, figsize=(9, 1.2 + 0.35 * len(labels) * max(1, len(profiles) / 2)),
                               layout="constrained")
    axis = figure.subplots()
    for i, (target, result) in enumerate(profiles.items()):
        positions = [row + i * height for row in range(len(labels))]
        bars = axis.barh(positions, [seconds * 1e3 for seconds in result.parts.values()], height=height,
                         label=target)
        axis.bar_label(bars, fmt="%.3g", padding=2, fontsize="x-small")
    axis.set_yticks([row + (len(profiles) - 1) * height / 2 for row in range(len(labels))], labels)
    axis.invert_yaxis()  # the step reads top to bottom, as it runs
    axis.set_xlabel("milliseconds per training step")
    axis.margins(x=0.15)  # room for the value labels
    axis.legend(fontsize="small")
    figure.suptitle(title)
    return report.finish_figure(figure, path, show)
