"""The options of a classroom example, the same whether it runs as a script or a notebook.

Each script of ``examples/`` is also a notebook (a jupytext "percent" script: ``# %%``
starts a code cell, ``# %% [markdown]`` a cell of text). It begins with::

    lesson = nnxp.lesson.options("digits_cnn", epochs=15)

Run as a script, its options come from the command line; in a notebook, which has no
command line, from the environment, else the example's defaults::

    python examples/digits_cnn.py --epochs 5 --backend gpu --out plots

    option               variable              default
    --epochs N           NNXP_EPOCHS           the example's own number
    --backend NAME       NNXP_BACKEND          cpu (NNXP_DTYPE, NNXP_KERNELS apply too)
    --out FOLDER         NNXP_OUT              nnxp-out/<example>
    --targets T [T ...]  NNXP_TARGETS          every target this machine has
    --compare-epochs N   NNXP_COMPARE_EPOCHS   3

(CI runs every notebook with ``NNXP_EPOCHS=2``: it checks that the lessons run, not
what they reach.) ``options`` sets the backend; ``lesson.save(figure, "curves.png")``
writes a figure into the output folder and says where, and in a notebook shows it.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

from . import report
from .backend import BACKENDS, Backend, get_backend, set_backend


@dataclass
class Lesson:
    """What one run of an example was asked for."""

    name: str
    epochs: int
    backend: Backend
    out: str
    targets: list | None = None  # None: every target available
    compare_epochs: int = 3
    saved: list = field(default_factory=list)  # the files written, in order

    def path(self, filename: str) -> str:
        """``filename`` inside the output folder (made if need be)."""
        os.makedirs(self.out, exist_ok=True)
        return os.path.join(self.out, filename)

    def save(self, figure, filename: str) -> None:
        """Write ``figure`` into the output folder and say where; in a notebook, show it
        there too (once: nothing is returned for the cell to show again)."""
        path = self.path(filename)
        report.finish_figure(figure, path, show=report.in_notebook())
        self.saved.append(path)
        report.console().print(f"plot written to [bold]{path}[/]", soft_wrap=True)


def options(name: str, epochs: int, argv=None) -> Lesson:
    """The options of the example ``name`` (see the module docstring), its backend set."""
    defaults = {"epochs": _number("NNXP_EPOCHS", epochs), "backend": os.environ.get("NNXP_BACKEND") or None,
                "out": os.environ.get("NNXP_OUT") or os.path.join("nnxp-out", name),
                "targets": os.environ.get("NNXP_TARGETS", "").split() or None,
                "compare_epochs": _number("NNXP_COMPARE_EPOCHS", 3)}
    if argv is None and not report.in_notebook():
        argv = sys.argv[1:]
    chosen = vars(_parser(name, defaults).parse_args(argv or []))
    backend = set_backend(chosen["backend"], os.environ.get("NNXP_DTYPE") or None,
                          os.environ.get("NNXP_KERNELS") or None) if chosen["backend"] else get_backend()
    return Lesson(name, chosen["epochs"], backend, chosen["out"], chosen["targets"], chosen["compare_epochs"])


def _number(variable: str, default: int) -> int:
    value = os.environ.get(variable)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{variable} must be a whole number of epochs >= 1, got {value!r}")
    return int(value)


def _parser(name: str, defaults: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"{name}.py", description=f"the {name} lesson of nnxp's examples")
    parser.add_argument("--epochs", type=int, help=f"training epochs (default {defaults['epochs']})")
    parser.add_argument("--backend", choices=BACKENDS, help="cpu, gpu or strict (default: NNXP_BACKEND or cpu)")
    parser.add_argument("--out", help=f"folder for the plots (default {defaults['out']})")
    parser.add_argument("--targets", nargs="+", help="targets of the backend comparison (default: every one here)")
    parser.add_argument("--compare-epochs", type=int, help="epochs per target in the comparison (default 3)")
    parser.set_defaults(**defaults)
    return parser
