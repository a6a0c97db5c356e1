"""Execute the examples as notebooks, as a class would: jupytext, then a Jupyter kernel.

Every ``examples/<name>.py`` is a jupytext "percent" script. ``execute_all`` turns each
into a notebook, adds a probe cell before the lesson and one after it, and executes it
with nbclient in a fresh kernel, with few epochs (``NNXP_EPOCHS``), one epoch per target
in the comparison, the plots written to a temporary folder. The probes record what the
checks need (matplotlib's backend before and after, the trained models' histories, the
comparisons) and are removed again, so that the notebooks the docs render are the
lessons alone. The test session executes them once (the ``executed_notebooks`` fixture)
for ``test_examples.py`` and ``test_docs.py`` both.
"""

from __future__ import annotations

import json
import os
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
QUICK_EPOCHS = 2
EPOCHS = {"perceptron": 300}  # its 4 rows train 300 epochs in a fraction of a second: the lesson itself
PROBE = "NNXP-PROBE "

BEFORE = """\
import matplotlib as _probe_matplotlib
_probe_backend = _probe_matplotlib.get_backend()"""

AFTER = """\
import json as _probe_json
import nnxp as _probe_nnxp
from nnxp.compare import Comparison as _ProbeComparison


def _probe_found(kind):
    found = []
    for value in list(globals().values()):
        for item in value.values() if isinstance(value, dict) else [value]:
            if isinstance(item, kind) and all(item is not other for other in found):
                found.append(item)
    return found


print(PROBE + _probe_json.dumps({
    "backend": [_probe_backend, _probe_matplotlib.get_backend()],
    "models": {m.name: {"epochs": m.history.epochs, "history": m.history.history, "units": m.layers[-1].units}
               for m in _probe_found(_probe_nnxp.Model) if m.history.epochs},
    "comparisons": [{"title": c.title, "targets": [row["target"] for row in c.table],
                     "final loss": [row["final loss"] for row in c.table],
                     "max |diff|": [row["max |diff|"] for row in c.table]} for c in _probe_found(_ProbeComparison)],
    "saved": lesson.saved,
}))""".replace("PROBE", repr(PROBE))


@dataclass
class Executed:
    name: str
    notebook: object  # the executed nbformat notebook, probes removed
    probe: dict  # what the probes recorded ({} if the notebook failed)
    error: str | None  # the error of a failed cell, else None
    out: Path  # the folder its plots went to


def names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES.glob("*.py"))


def execute(name: str, folder: Path) -> Executed:
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    notebook = jupytext.read(EXAMPLES / f"{name}.py")
    notebook.cells.insert(0, nbformat.v4.new_code_cell(BEFORE))
    notebook.cells.append(nbformat.v4.new_code_cell(AFTER))
    out, work = folder / name / "out", folder / name / "work"
    work.mkdir(parents=True)
    environment = {**os.environ, "NNXP_EPOCHS": str(EPOCHS.get(name, QUICK_EPOCHS)), "NNXP_COMPARE_EPOCHS": "1",
                   "NNXP_OUT": str(out), "OPENBLAS_NUM_THREADS": "1"}
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}})
    error = None
    try:
        client.execute(env=environment)
    except Exception:  # a failing cell: the test names the notebook and shows the error
        error = traceback.format_exc(limit=1)[-3000:]
    probe_cell = notebook.cells.pop()
    notebook.cells.pop(0)
    probe = {}
    for output in probe_cell.get("outputs", []):
        for line in output.get("text", "").splitlines():
            if line.startswith(PROBE):
                probe = json.loads(line[len(PROBE):])
    return Executed(name, notebook, probe, error, out)


def execute_all(folder: Path) -> dict[str, Executed]:
    """Every example, two kernels at a time (one per core)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = pool.map(lambda name: execute(name, folder), names())
    return {executed.name: executed for executed in done}
