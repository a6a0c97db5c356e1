"""The documentation builds with warnings as errors, and shows the code as it is now.

The site is built once per test session, as CI builds it (``python -m sphinx -W
--keep-going -b html docs <folder>``, in a subprocess), with the example notebooks that
the session has executed already (``executed_notebooks``, shared with test_examples.py),
so that the build renders them instead of running every lesson a second time. Where
Sphinx, furo, myst-nb or sphinx-mathjax-offline is missing, these tests skip and say so;
CI installs them with the ``test`` extra.
"""

from __future__ import annotations

import ast
import html
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nnxp
from nnxp.layers import LAYERS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _require_sphinx() -> None:
    for module, package in (("sphinx", "sphinx"), ("furo", "furo"), ("myst_nb", "myst-nb"),
                            ("sphinx-mathjax-offline", "sphinx-mathjax-offline")):
        pytest.importorskip(module, reason=f"{package} is not installed (pip install -e '.[docs]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory, executed_notebooks) -> Path:
    import nbformat

    _require_sphinx()
    failed = {name: run.error for name, run in executed_notebooks.items() if run.error}
    assert not failed, f"notebooks failed, the docs cannot render them: {failed}"
    notebooks = tmp_path_factory.mktemp("executed")
    for name, run in executed_notebooks.items():
        nbformat.write(run.notebook, notebooks / f"{name}.ipynb")
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NNXP_DOCS_NOTEBOOKS": str(notebooks)})
    assert run.returncode == 0, f"the docs build failed:\n{run.stderr[-5000:]}"
    return out


def code_blocks(page: Path) -> list[str]:
    """The text of every highlighted code block of a built page, tags and entities removed."""
    blocks = re.findall(r"<pre>(.*?)</pre>", page.read_text(encoding="utf-8"), flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", block)) for block in blocks]


def text_of(page: Path) -> str:
    """A built page as plain text, with Sphinx's typographic quotes and dashes undone."""
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
    for fancy, plain in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2014", "---"),
                         ("\u2013", "--"), ("\u2026", "...")):
        text = text.replace(fancy, plain)
    return " ".join(text.split())


def first_line(docstring: str) -> str:
    """The first line of a docstring as the page shows it (no reStructuredText backquotes)."""
    return docstring.strip().splitlines()[0].replace("``", "")


def lines(source: str) -> str:
    """Source with each line stripped: a method shown inside its class (indented) or alone
    (dedented) compares equal, while every character of every line must match."""
    return "\n".join(line.strip() for line in source.strip().splitlines())


def test_dense_page_shows_backward_as_the_code_has_it_now(site):
    source = lines(inspect.getsource(nnxp.layers.Dense.backward))
    assert any(source in lines(block) for block in code_blocks(site / "layers" / "dense.html"))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_page_shows_its_forward_and_backward_from_the_code(site, name):
    cls = LAYERS[name]
    page = site / "layers" / f"{name.lower()}.html"
    assert page.exists(), f"no page for the layer {name}"
    blocks = [lines(block) for block in code_blocks(page)]
    methods = ["forward", "backward"] + (["compute_gradients"] if "compute_gradients" in vars(cls) else [])
    for method in methods:
        source = lines(inspect.getsource(getattr(cls, method)))
        assert any(source in block for block in blocks), f"{name}.{method} is not on {page.name} as in the code"
    text = text_of(page)
    assert "The maths" in text
    assert re.search(r"\\\[|\\\(", page.read_text(encoding="utf-8")), f"{page.name} has no formula for MathJax"
    assert first_line(sys.modules[cls.__module__].__doc__) in text  # the module docstring, with the maths


def test_reference_pages_show_the_module_docstrings(site):
    for module in ("activations", "losses", "metrics", "optimizers", "initializers", "schedules"):
        assert first_line(getattr(nnxp, module).__doc__) in text_of(site / "reference" / f"{module}.html"), module
    assert first_line(nnxp.ops.__doc__) in text_of(site / "kernels.html")
    assert lines(inspect.getsource(nnxp.ops.kernels_for)) in "\n".join(lines(b) for b in code_blocks(site / "kernels.html"))
    assert first_line(nnxp.backend.__doc__) in text_of(site / "backends.html")


def test_every_example_is_a_page_of_its_executed_notebook(site):
    examples = (site / "examples.html").read_text(encoding="utf-8")
    for script in sorted((ROOT / "examples").glob("*.py")):
        page = site / "notebooks" / f"{script.stem}.html"
        assert page.exists(), f"no page for {script.name}"
        assert f'href="notebooks/{script.stem}.html"' in examples, script.name
        docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
        html_text = page.read_text(encoding="utf-8")
        assert first_line(docstring) in text_of(page), script.name  # the lesson's code cells
        assert re.search(r'<img [^>]*src="[^"]*\.png"', html_text), f"{script.name}: no plot on its page"
        assert "same seed, same weights" in text_of(page)  # the comparison table, rendered
        assert not re.search(r"\x1b\[|\[0m|\[1m", html_text), f"{script.name}: escape codes on the page"


def test_the_maths_renders_offline(site):
    """No page asks the internet for MathJax: it is in the site itself."""
    pages = list(site.rglob("*.html"))
    assert len(pages) > 30
    for page in pages:
        for src in re.findall(r'<script[^>]* src="([^"]+)"', page.read_text(encoding="utf-8")):
            assert not src.startswith(("http:", "https:", "//")), f"{page.name} loads {src}"
    lstm = (site / "layers" / "lstm.html").read_text(encoding="utf-8")
    mathjax = re.search(r'<script[^>]* src="([^"]*mathjax[^"]*)"', lstm).group(1)
    assert (site / "layers" / mathjax).resolve().is_file(), mathjax  # the script the page loads is there
    assert (site / "_static" / "mathjax" / "output" / "chtml" / "fonts").is_dir()  # and its fonts


def test_long_code_lines_scroll_instead_of_being_cut(site):
    css = (site / "_static" / "nnxp.css").read_text(encoding="utf-8")
    assert re.search(r"pre[^{]*\{[^}]*overflow-x:\s*auto[^}]*white-space:\s*pre;", css, flags=re.S)
    assert 'href="../_static/nnxp.css' in (site / "layers" / "lstm.html").read_text(encoding="utf-8")


def test_the_benchmarks_page_includes_the_results(site):
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    paragraph = next(block for block in results.split("\n\n") if not block.startswith("#"))
    assert " ".join(paragraph.replace("`", "").split()) in text_of(site / "benchmarks.html")


def test_captured_demo_output_matches_what_the_demo_prints_now(capsys, monkeypatch):
    """docs/output/demo-mlp.txt is captured by docs/capture_output.py; if the demo network or
    its table changes, run that script again (this test says so)."""
    pytest.importorskip("sklearn", reason="the demo's digits ship with scikit-learn")
    monkeypatch.delenv("COLUMNS", raising=False)  # captured as a log is: 160 columns
    from nnxp.demos import demo_model

    with nnxp.use_backend("cpu", dtype="float32"):
        model, settings = demo_model("mlp")
        model.initialize(**settings)  # prints the initialization table
    table = [line.strip() for line in capsys.readouterr().out.splitlines() if line.startswith(("│", "┃"))]
    captured = [line.strip() for line in (DOCS / "output" / "demo-mlp.txt").read_text(encoding="utf-8").splitlines()
                if line.startswith(("│", "┃"))]
    assert len(table) == 4 and "\n".join(table) in "\n".join(captured), "run `python docs/capture_output.py` again"


def test_the_new_layer_example_passes_its_gradient_check(array_backend, rng):
    """The scale-and-shift layer that "Adding a layer" builds from the Template."""
    from gradcheck import check_layer_gradients

    spec = importlib.util.spec_from_file_location("docs_scale_layer", DOCS / "scale_layer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def perturb(layer):  # start away from the identity, so that every term is checked
        layer.p["w"] = array_backend.asarray(rng.standard_normal(4))
        layer.p["c"] = array_backend.asarray(rng.standard_normal(4))

    for shape in ((5, 4), (3, 2, 4)):  # samples x features, and sequences
        check_layer_gradients(module.Scale(), rng.standard_normal(shape), after_initialize=perturb)
