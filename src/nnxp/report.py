"""What the user sees: the shape table, progress bars, epoch rows and training curves.

Reading the shape table printed by ``initialize``: one row per layer, with the shape of
what goes in (X) and what comes out (A) for the first batch (m samples), the shapes of
its parameters and how many numbers they hold. The epoch rows give, for each set, the
loss and metrics after that epoch; a value printed in bold green is the best so far.

Where the output goes decides how it looks:

* a terminal: colours, a progress bar during each epoch, and tables as wide as the
  terminal. Each table has a wide layout and a narrow one; the narrow one (fewer columns,
  one parameter per line, or one row per set instead of one per epoch) is used when the
  wide one would not fit, so that an 80-column terminal folds nothing;
* a file or a pipe (a log, CI): no colours, no bars, 160 columns unless ``COLUMNS`` says
  otherwise;
* a Jupyter notebook: each printed table or row is one output cell entry, coloured HTML
  with a plain-text twin free of terminal escape codes; no progress bar (a bar redrawn in
  a notebook leaves one copy of itself per redraw in the saved file).

Plots are drawn on a ``matplotlib.figure.Figure`` of their own, never through pyplot's
global state, and nothing here calls ``matplotlib.use``: the backend the user chose (the
notebook's inline one, say) is the same after any nnxp call. ``path`` writes the figure,
``show=True`` shows it, and the figure is returned, so that a notebook cell ending with
``model.plot()`` displays it.

rich (tables, colours, bars) and matplotlib (plots) are imported only when used.
"""

from __future__ import annotations

import contextlib
import io
import os

from .extras import require

SET_STYLE = {"": "cyan", "val_": "magenta", "test_": "yellow"}
SET_LABEL = {"": "train", "val_": "val", "test_": "test"}
SET_PREFIX = {"dtrain": "", "dval": "val_", "dtest": "test_"}  # history keys: loss, val_loss, test_loss
LOG_WIDTH = 160  # a log file has no width: wide enough that nothing folds


# --------------------------------------------------------------------------- where output goes


def console():
    """A rich console for where the output goes (see the module docstring)."""
    from rich.console import Console

    terminal = Console(highlight=False)  # rich reads COLUMNS, and knows a notebook when it sees one
    if terminal.is_jupyter:
        return NotebookConsole(terminal.width)
    if terminal.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return terminal
    return Console(highlight=False, width=LOG_WIDTH)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython is imported only if it already is)."""
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class NotebookConsole:
    """rich's console for Jupyter, with a clean plain-text twin.

    rich in Jupyter displays each ``print`` as HTML (good) plus a "text/plain" version that
    still holds the terminal's colour codes, which a saved notebook keeps and every text
    viewer shows as ``\\x1b[1m`` noise. Here each print is rendered once by a recording
    console and displayed as both the coloured HTML and its plain text.
    """

    is_terminal = False
    is_jupyter = True

    def __init__(self, width: int):
        self.width = width

    def print(self, *objects, **options) -> None:
        from IPython.display import display
        from rich.console import Console

        recorder = Console(file=io.StringIO(), record=True, width=self.width, force_jupyter=False,
                           force_terminal=True, color_system="truecolor", highlight=False)
        recorder.print(*objects, **options)
        text = recorder.export_text(clear=False)  # plain: no styles, no escape codes
        html = recorder.export_html(inline_styles=True, code_format=_NOTEBOOK_HTML)
        display({"text/plain": text, "text/html": html}, raw=True)


# the same <pre> rich uses in Jupyter: long lines scroll sideways instead of folding
_NOTEBOOK_HTML = ("<pre style=\"white-space:pre;overflow-x:auto;line-height:normal;"
                  "font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace\">{code}</pre>\n")


def fits(out, renderable) -> bool:
    """Whether ``renderable`` fits the console's width without folding anything."""
    from rich.console import Console

    if isinstance(out, NotebookConsole):
        out = Console(file=io.StringIO(), width=out.width)
    unbounded = out.options.update_width(10_000)  # measured at the console's width, it would always fit
    return out.measure(renderable, options=unbounded).maximum <= out.width


# --------------------------------------------------------------------------- the shape table


def _shape(shape) -> str:
    return str(tuple(shape)) if shape else "-"


def print_shapes(model) -> None:
    """The initialization table: layers, shapes, parameters (narrower when it must be)."""
    out = console()
    wide = _shapes_table(model, narrow=False)
    out.print(wide if fits(out, wide) else _shapes_table(model, narrow=True))


def _shapes_table(model, narrow: bool):
    """Wide: one column per fact. Narrow: no name column (it is the class in lower case
    unless you chose one), the activation under the layer's class, and one parameter per
    line: each cell is then as short as its longest shape."""
    from rich.table import Table

    table = Table(title=f"{model.name} on {model.backend}", title_style="bold")
    columns = ("#", "layer", "input X", "output A", "parameters", "count") if narrow else \
        ("#", "layer", "name", "input X", "output A", "parameters", "count", "activation")
    for column in columns:
        table.add_column(column, justify="right" if column in ("#", "count") else "left", overflow="fold")
    total = trainable = 0
    for index, layer in enumerate(model.layers):
        shapes = [f"{k} {_shape(tuple(v.shape))}" for k, v in layer.p.items()]
        activation = getattr(layer, "activation", None)
        activation = activation.name if activation is not None else ""
        total += layer.n_parameters
        trainable += layer.n_trainable
        X, A, count = _shape(layer.fs.get("X")), _shape(layer.fs.get("A")), f"{layer.n_parameters:,}"
        if narrow:
            kind = type(layer).__name__ + (f"\n[dim]{activation}[/]" if activation else "")
            table.add_row(str(index), kind, X, A, "\n".join(shapes) or "-", count)
        else:
            table.add_row(str(index), type(layer).__name__, layer.name or "", X, A, ", ".join(shapes) or "-", count,
                          activation)
    schedule = ", ".join(f"{k}={v}" for k, v in model.se_hPars.items())
    frozen = f" ({trainable:,} trainable)" if trainable != total else ""
    table.caption = (f"{total:,} parameters{frozen} | loss {model.loss.name} | optimizer {model.optimizer.name} "
                     f"| {schedule} | seed {model.seed}")
    return table


# --------------------------------------------------------------------------- the epoch rows


def _columns(model) -> list[str]:
    """The history keys shown per epoch: loss and metrics of each non-empty set."""
    names = ["loss"] + [metric.name for metric in model.metrics]
    return [SET_PREFIX[d.name] + name for d in model.embedding.datasets for name in names]


class EpochRows:
    """The epoch rows, in one of two layouts chosen by the width of the console.

    By epoch (wide): one line per epoch, the sets side by side under a header naming them::

                         train                       val
         epoch        lr     loss      acc     loss      acc
             1  5.00e-03   1.3532   0.6808   1.4104   0.6370

    By set (narrow, when that line would not fit): one line per set, the epoch and the
    learning rate on the first::

         epoch set      loss      acc        lr
             1 train  1.3532   0.6808  5.00e-03
               val    1.4104   0.6370
    """

    CELL = 9  # a value: 8 characters and a space

    def __init__(self, model, width: int):
        self.model, self.columns = model, _columns(model)
        self.prefixes = list(dict.fromkeys(_prefix(key) for key in self.columns))
        self.metrics = [key for key in self.columns if _prefix(key) == ""]  # the names, as the train set has them
        self.by_epoch = 16 + self.CELL * len(self.columns) <= width
        self.best: dict[str, float] = {}

    def header(self) -> list[str]:
        if not self.by_epoch:
            names = " ".join(f"{_short(name):>8}" for name in self.metrics)
            return [f"{'epoch':>6} {'set':<5} {names} {'lr':>9}"]
        groups, names = [" " * 16], [f"{'epoch':>6} {'lr':>9}"]
        for prefix in self.prefixes:
            keys = [key for key in self.columns if _prefix(key) == prefix]
            groups.append(f"[{SET_STYLE[prefix]}]{SET_LABEL[prefix]:^{self.CELL * len(keys) - 1}}[/]")
            names.append(" ".join(f"[{SET_STYLE[prefix]}]{_short(key[len(prefix):]):>8}[/]" for key in keys))
        return [" ".join(groups), " ".join(names)]

    def rows(self, epoch: int, values: dict, mark_best: bool = True) -> list[str]:
        """The line(s) of one epoch; with ``mark_best``, the best values so far in bold green."""
        cells = {key: self._cell(key, values.get(key, float("nan")), mark_best) for key in self.columns}
        rate = f"{values['lr']:>9.2e}"
        if self.by_epoch:
            return [f"{epoch:>6} {rate} " + " ".join(cells[key] for key in self.columns)]
        lines = []
        for prefix in self.prefixes:
            first = prefix == self.prefixes[0]
            label = f"[{SET_STYLE[prefix]}]{SET_LABEL[prefix]:<5}[/]"
            line = f"{epoch if first else '':>6} {label} " + " ".join(cells[prefix + name] for name in self.metrics)
            lines.append(line + (f" {rate}" if first else ""))
        return lines

    def _cell(self, key: str, value: float, mark_best: bool) -> str:
        lower_is_better = not any(key.endswith(m) for m in _HIGHER_IS_BETTER)
        best = self.best.get(key)
        improved = best is None or (value < best if lower_is_better else value > best)
        if improved:
            self.best[key] = value
        style = "bold green" if improved and mark_best else SET_STYLE[_prefix(key)]
        return f"[{style}]{value:>8.4f}[/]"


class EpochReporter:
    """Prints a header, a transient progress bar during each epoch and a row after it."""

    def __init__(self, model, epochs: int, verbose: int, every: int = 1):
        self.model, self.epochs, self.verbose = model, epochs, verbose
        self.every, self.last = max(int(every), 1), model.epoch + epochs  # a row every `every` epochs, and the last
        self.console = console() if verbose else None
        if verbose:
            self.layout = EpochRows(model, self.console.width)
            for line in self.layout.header():
                self.console.print(line)

    @contextlib.contextmanager
    def progress(self, total: int):
        """A bar over this epoch's batches; yields the function that advances it.

        Only in a terminal: in a log it would be noise, and in a notebook each redraw would
        stay in the saved output."""
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
        self.console.print("\n".join(self.layout.rows(self.model.epoch, values)))

    def stopped(self, message: str) -> None:
        if self.verbose:
            self.console.print(f"[bold red]{message}[/]")

    def close(self) -> None:
        pass


_HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "specificity", "fscore", "npv")
_SHORT = {"accuracy": "acc", "precision": "prec", "recall": "recall", "specificity": "spec", "fscore": "F"}


def _prefix(key: str) -> str:
    return next(p for p in ("val_", "test_", "") if key.startswith(p))


def _short(name: str) -> str:
    return _SHORT.get(name, name)


def print_history(model) -> None:
    """Every epoch so far, in the layout of the epoch rows."""
    out = console()
    history = model.history.history
    layout = EpochRows(model, out.width)
    lines = [f"[bold]{model.name}: {model.history.epochs} epochs[/]", *layout.header()]
    for epoch in range(model.history.epochs):
        values = {key: series[epoch] for key, series in history.items()}
        lines += layout.rows(epoch + 1, values, mark_best=False)
    out.print("\n".join(lines))


# --------------------------------------------------------------------------- plots


def new_figure(show: bool = False, **options):
    """A matplotlib figure of its own (``options`` go to Figure: figsize, ...).

    The figure is not registered with pyplot, so drawing it changes nothing of the user's
    matplotlib state. Only to *show* it from a script does it go through pyplot, whose
    window is the user's backend's.
    """
    require("matplotlib", "plot", "to draw plots")
    if show and not in_notebook():
        import matplotlib.pyplot as plt

        return plt.figure(**options)
    from matplotlib.figure import Figure

    if in_notebook():
        _show_figures_inline()
    return Figure(**options)


def _show_figures_inline() -> None:
    """Teach IPython to show a Figure as a PNG, unless it already knows how.

    The inline backend registers that when pyplot first creates a figure; a Figure made
    without pyplot would otherwise appear as the text "<Figure size 1100x400>"."""
    from IPython import get_ipython
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    png = get_ipython().display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:
        png.for_type(Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight"))


def finish_figure(figure, path=None, show: bool = False):
    """Write the figure to ``path`` (when given), show it (when asked), return it."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        figure.savefig(path, dpi=110)
    if show:
        if in_notebook():
            from IPython.display import display

            display(figure)
        else:
            import matplotlib.pyplot as plt

            plt.show()
    return figure


def integer_epochs(axis) -> None:
    """Epochs are whole numbers: no tick at epoch 2.5."""
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("epoch")


def plot_history(model, path=None, show: bool = False):
    """Loss (left) and metrics (right) per epoch, one line per set. Returns the figure."""
    history = model.history.history
    metrics = ["loss"] + [metric.name for metric in model.metrics]
    figure = new_figure(show, figsize=(11, 4), layout="tight")
    axes = figure.subplots(1, 2)
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
        integer_epochs(axis)
        if axis.lines:
            axis.legend(fontsize="small")
    figure.suptitle(f"{model.name} on {model.backend}")
    return finish_figure(figure, path, show)
