"""What the user sees: the shape table, progress bars, epoch rows and training curves.

Reading the shape table printed by ``initialize``: one row per layer, with the shape of
what goes in (X) and what comes out (A) for the first batch (m samples), the shapes of
its parameters and how many numbers they hold. The epoch rows give, for each set, the
loss and metrics after that epoch; a value printed in bold green is the best so far.

rich (tables, colours, bars) and matplotlib (plots) are imported only when used.
"""

from __future__ import annotations

import contextlib
import os

SET_STYLE = {"": "cyan", "val_": "magenta", "test_": "yellow"}
SET_LABEL = {"": "train", "val_": "val", "test_": "test"}


def console():
    """A rich console; when the output is not a terminal (a log, CI), wide enough that
    tables and epoch rows are not folded."""
    from rich.console import Console

    terminal = Console(highlight=False)
    return terminal if terminal.is_terminal else Console(highlight=False, width=160)


def _shape(shape) -> str:
    return str(tuple(shape)) if shape else "-"


def print_shapes(model) -> None:
    """The initialization table: layers, shapes, parameters."""
    from rich.table import Table

    table = Table(title=f"{model.name} on {model.backend}", title_style="bold")
    for column in ("#", "layer", "name", "input X", "output A", "parameters", "count", "activation"):
        table.add_column(column, justify="right" if column in ("#", "count") else "left")
    total = trainable = 0
    for index, layer in enumerate(model.layers):
        params = ", ".join(f"{k} {_shape(tuple(v.shape))}" for k, v in layer.p.items()) or "-"
        activation = getattr(layer, "activation", None)
        total += layer.n_parameters
        trainable += layer.n_trainable
        table.add_row(str(index), type(layer).__name__, layer.name or "", _shape(layer.fs.get("X")),
                      _shape(layer.fs.get("A")), params, f"{layer.n_parameters:,}",
                      activation.name if activation is not None else "")
    schedule = ", ".join(f"{k}={v}" for k, v in model.se_hPars.items())
    frozen = f" ({trainable:,} trainable)" if trainable != total else ""
    table.caption = (f"{total:,} parameters{frozen} | loss {model.loss.name} | optimizer {model.optimizer.name} "
                     f"| {schedule} | seed {model.seed}")
    console().print(table)


SET_PREFIX = {"dtrain": "", "dval": "val_", "dtest": "test_"}  # history keys: loss, val_loss, test_loss


def _columns(model) -> list[str]:
    """The history keys shown per epoch: loss and metrics of each non-empty set."""
    names = ["loss"] + [metric.name for metric in model.metrics]
    return [SET_PREFIX[d.name] + name for d in model.embedding.datasets for name in names]


class EpochReporter:
    """Prints a header, a transient progress bar during each epoch and a row after it."""

    def __init__(self, model, epochs: int, verbose: int, every: int = 1):
        self.model, self.epochs, self.verbose = model, epochs, verbose
        self.every, self.last = max(int(every), 1), model.epoch + epochs  # a row every `every` epochs, and the last
        self.columns = _columns(model) if verbose else []
        self.best: dict[str, float] = {}
        self.console = console() if verbose else None
        if verbose:
            self._header()

    def _header(self) -> None:
        """Two lines: the set names over their columns, then the metric names."""
        groups, names = [" " * 16], [f"{'epoch':>6} {'lr':>9}"]
        for prefix in dict.fromkeys(_prefix(key) for key in self.columns):
            keys = [key for key in self.columns if _prefix(key) == prefix]
            width = 9 * len(keys) - 1
            groups.append(f"[{SET_STYLE[prefix]}]{SET_LABEL[prefix]:^{width}}[/]")
            names.append(" ".join(f"[{SET_STYLE[prefix]}]{_short(key[len(prefix):]):>8}[/]" for key in keys))
        self.console.print(" ".join(groups))
        self.console.print(" ".join(names))

    @contextlib.contextmanager
    def progress(self, total: int):
        """A bar over this epoch's batches; yields the function that advances it."""
        if not self.verbose or not self.console.is_terminal:
            yield lambda: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        bar = Progress("epoch", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=self.console, transient=True)
        with bar:
            task = bar.add_task("", total=total)
            yield lambda: bar.advance(task)

    def epoch_done(self, values: dict) -> None:
        if not self.verbose or (self.model.epoch % self.every and self.model.epoch != self.last):
            return
        cells = [f"{self.model.epoch:>6}", f"{values['lr']:>9.2e}"]
        for key in self.columns:
            value = values.get(key, float("nan"))
            lower_is_better = not any(key.endswith(m) for m in _HIGHER_IS_BETTER)
            best = self.best.get(key)
            improved = best is None or (value < best if lower_is_better else value > best)
            if improved:
                self.best[key] = value
            style = "bold green" if improved else SET_STYLE[_prefix(key)]
            cells.append(f"[{style}]{value:>8.4f}[/]")
        self.console.print(" ".join(cells))

    def stopped(self, message: str) -> None:
        if self.verbose:
            self.console.print(f"[bold red]{message}[/]")

    def close(self) -> None:
        pass


_HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "specificity", "fscore")
_SHORT = {"accuracy": "acc", "precision": "prec", "recall": "recall", "specificity": "spec", "fscore": "F"}


def _prefix(key: str) -> str:
    return next(p for p in ("val_", "test_", "") if key.startswith(p))


def _short(name: str) -> str:
    return _SHORT.get(name, name)


def print_history(model) -> None:
    """Every epoch so far, as a table."""
    from rich.table import Table

    history = model.history.history
    keys = [k for k in history if k != "lr"]
    table = Table(title=f"{model.name}: {model.history.epochs} epochs")
    table.add_column("epoch", justify="right")
    table.add_column("lr", justify="right")
    for key in keys:
        table.add_column(key, justify="right", style=SET_STYLE[_prefix(key)])
    for epoch in range(model.history.epochs):
        table.add_row(str(epoch + 1), f"{history['lr'][epoch]:.2e}", *(f"{history[k][epoch]:.4f}" for k in keys))
    console().print(table)


def plot_history(model, path=None, show: bool = False):
    """Loss (left) and metrics (right) per epoch, one line per set. Returns the figure."""
    import matplotlib

    if not show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = model.history.history
    metrics = ["loss"] + [metric.name for metric in model.metrics]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for prefix, color in (("", "tab:blue"), ("val_", "tab:purple"), ("test_", "tab:orange")):
        for axis, keys in ((axes[0], metrics[:1]), (axes[1], metrics[1:])):
            for key in keys:
                if prefix + key in history:
                    style = "-" if key == keys[0] else "--"
                    axis.plot(range(1, len(history[prefix + key]) + 1), history[prefix + key], style,
                              color=color, label=f"{SET_LABEL[prefix]} {key}")
    axes[0].set_title(f"loss ({model.loss.name})")
    axes[1].set_title("metrics")
    for axis in axes:
        axis.set_xlabel("epoch")
        if axis.lines:
            axis.legend(fontsize="small")
    figure.suptitle(f"{model.name} on {model.backend}")
    figure.tight_layout()
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        figure.savefig(path, dpi=110)
    if show:
        plt.show()
    else:
        plt.close(figure)
    return figure
