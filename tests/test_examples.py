"""Every classroom workflow in ``examples/`` runs as a notebook, learns, plots inline and
compares backends; and still runs as a plain script.

Each example is a jupytext percent script. ``tests/notebooks.py`` executes each as a
notebook in a Jupyter kernel, with 2 epochs (the perceptron, which costs nothing, its
full 300) and a one-epoch comparison per target, so that no lesson can rot unseen. The
accuracies the docstrings promise need each example's full number of epochs:
``python examples/<name>.py`` shows them.
"""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys

import pytest

from notebooks import EXAMPLES, names

ANSI = re.compile(r"\x1b\[")
# the first line of an epoch: its number and learning rate (one line per epoch), or its
# number and the training set (one line per set, where the sets side by side do not fit)
EPOCH_ROW = re.compile(r"^\s*\d+\s+(\d\.\d\de[-+]\d\d|train)\s")


def docstring(name: str) -> str:
    """The example's module docstring, read without running it (running it is the lesson)."""
    return ast.get_docstring(ast.parse((EXAMPLES / f"{name}.py").read_text(encoding="utf-8")))


def outputs(notebook, kind=None):
    """(cell index, output) for every output of every code cell."""
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if kind is None or output["output_type"] == kind:
                yield index, output


def texts(output) -> list[str]:
    """The plain texts an output carries: a stream's text, a display's text/plain."""
    found = [output.get("text", "")]
    found += [value for mime, value in output.get("data", {}).items() if mime == "text/plain"]
    return [text if isinstance(text, str) else "".join(text) for text in found]


def test_the_seven_workflows_of_the_seeds_and_the_three_of_epynns_paper_are_here():
    assert names() == ["author_music", "digits_cnn", "digits_lstm", "images_cnn", "mnist_idx", "perceptron",
                       "ptm_protein", "strings_rnn", "time_series", "zen_characters"]


@pytest.mark.parametrize("name", names())
def test_each_example_is_a_lesson_in_cells(name):
    import jupytext

    notebook = jupytext.read(EXAMPLES / f"{name}.py")
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown" and notebook.cells[0].source.startswith("# "), "a title first"
    assert kinds.count("markdown") >= 4 and kinds.count("code") >= 5, kinds  # text between the steps
    text = docstring(name)
    assert "Data:" in text and "Network" in text and "should reach" in text
    assert "--epochs" in text and "notebook" in text  # how to run it, both ways
    source = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    assert f'options("{name}"' in source and "lesson.save(" in source and "compare_backends(" in source
    assert "matplotlib.use" not in source and "argparse" not in source  # one shared helper


@pytest.mark.parametrize("name", names())
def test_each_notebook_runs_learns_and_compares(executed_notebooks, name):
    executed = executed_notebooks[name]
    assert executed.error is None, f"{name}.py failed as a notebook:\n{executed.error}"
    probe = executed.probe
    assert probe["models"], "no trained model found"
    for model_name, model in probe["models"].items():
        history = model["history"]
        assert model["epochs"] == (300 if name == "perceptron" else 2), model_name
        assert all(math.isfinite(loss) for loss in history["loss"]), model_name
        chance = 0.5 if model["units"] == 1 else 1 / model["units"]
        if model_name != "XOR: perceptron":  # a lone unit cannot learn XOR: that is the lesson
            assert history["accuracy"][-1] > chance, (model_name, history["accuracy"])
        assert ":" in model_name  # "strings: GRU", "digits: CNN": a subject and a network
    for comparison in probe["comparisons"]:
        assert comparison["title"].split(" (")[0] in probe["models"], comparison["title"]  # the model's own name
        assert len(comparison["targets"]) >= 1 and "cpu-reference" in comparison["targets"]
        assert all(math.isfinite(loss) for loss in comparison["final loss"])
        assert all(difference < 1e-3 for difference in comparison["max |diff|"]), comparison
    assert len(probe["comparisons"]) == {"strings_rnn": 3, "ptm_protein": 2}.get(name, 1)


@pytest.mark.parametrize("name", names())
def test_each_notebook_shows_its_plots_inline_and_writes_them_where_it_says(executed_notebooks, name):
    executed = executed_notebooks[name]
    notebook, saved = executed.notebook, executed.probe["saved"]
    images = [index for index, output in outputs(notebook) if "image/png" in output.get("data", {})]
    assert len(images) == len(saved) >= 2  # every plot it writes is shown once, in the cell that made it
    shown = "".join(text for _, output in outputs(notebook) for text in texts(output))
    for path in saved:
        assert f"plot written to {path}" in shown
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        assert path.startswith(str(executed.out))
    plot_cells = {index for index, cell in enumerate(notebook.cells) if "lesson.save(" in cell.source}
    assert set(images) <= plot_cells


@pytest.mark.parametrize("name", names())
def test_the_notebook_backend_of_matplotlib_is_left_alone(executed_notebooks, name):
    before, after = executed_notebooks[name].probe["backend"]
    assert before == after and "inline" in before


@pytest.mark.parametrize("name", names())
def test_tables_and_epoch_rows_are_saved_once_without_escape_codes(executed_notebooks, name):
    notebook = executed_notebooks[name].notebook
    for index, output in outputs(notebook):
        for text in texts(output):
            assert not ANSI.search(text), f"cell {index}: terminal escape codes in the saved output: {text[:200]!r}"
            assert "━" * 40 + " " not in text  # no progress bar left behind
    for index, cell in enumerate(notebook.cells):
        rows = [line for _, output in outputs(notebook) if _ == index for text in texts(output)
                for line in text.splitlines() if EPOCH_ROW.match(line)]
        assert len(rows) == len(set(rows)), f"cell {index}: an epoch row is repeated"
    training = [index for index, cell in enumerate(notebook.cells) if ".train(epochs=lesson.epochs" in cell.source]
    rows = [line for index, output in outputs(notebook) if index in training for text in texts(output)
            for line in text.splitlines() if EPOCH_ROW.match(line)]
    trained = executed_notebooks[name].probe["models"]
    if name != "perceptron":  # the perceptron trains quietly: 300 rows would drown its truth tables
        assert len(rows) == sum(model["epochs"] for model in trained.values())
    html = [output for _, output in outputs(notebook, "display_data") if "text/html" in output["data"]]
    assert html  # rich's tables come with their colours, as HTML


def test_a_script_takes_its_options_on_the_command_line(tmp_path):
    """The perceptron as a plain script: its options, its plots in the folder it names."""
    out = tmp_path / "plots"
    done = subprocess.run([sys.executable, str(EXAMPLES / "perceptron.py"), "--epochs", "50", "--out", str(out),
                           "--targets", "cpu-reference", "--compare-epochs", "1", "--backend", "cpu"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**_environment(),
                                                                                       "MPLBACKEND": "agg"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "50 epochs of SGD" in done.stdout and "XOR: MLP (float32): same seed" in done.stdout
    for plot in ("curves-xor-mlp.png", "compare.png"):
        assert f"plot written to {out / plot}" in done.stdout
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert done.stdout.count("skipped (") <= 2  # gpu-numba and gpu-reference at most, each once


def _environment() -> dict:
    import os

    return {key: value for key, value in os.environ.items() if not key.startswith("NNXP_")}


def test_lesson_options_come_from_the_command_line_else_the_environment(monkeypatch, tmp_path):
    import nnxp
    from nnxp.lesson import options

    with nnxp.use_backend("cpu"):
        lesson = options("demo", epochs=7, argv=[])
        assert (lesson.epochs, lesson.out, lesson.targets, lesson.compare_epochs) == (7, "nnxp-out/demo", None, 3)
        monkeypatch.setenv("NNXP_EPOCHS", "2")
        monkeypatch.setenv("NNXP_TARGETS", "cpu-reference strict-reference")
        monkeypatch.setenv("NNXP_OUT", str(tmp_path))
        lesson = options("demo", epochs=7, argv=[])
        assert (lesson.epochs, lesson.out, lesson.targets) == (2, str(tmp_path), ["cpu-reference", "strict-reference"])
        lesson = options("demo", epochs=7, argv=["--epochs", "5", "--backend", "strict", "--compare-epochs", "2"])
        assert (lesson.epochs, lesson.backend.name, lesson.compare_epochs) == (5, "strict", 2)
        assert nnxp.get_backend().name == "strict"  # options sets the backend it was given
        monkeypatch.setenv("NNXP_EPOCHS", "two")
        with pytest.raises(ValueError, match="NNXP_EPOCHS must be a whole number of epochs >= 1, got 'two'"):
            options("demo", epochs=7, argv=[])
