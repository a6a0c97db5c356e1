"""Sphinx configuration of the nnxp documentation.

Build it with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (the
test suite does the same, warnings as errors). Pages are Markdown (MyST); code is never
copied into them by hand: ``literalinclude`` with ``:pyobject:`` pulls it from the
source, and ``automodule`` the module docstrings, so the pages cannot drift from the code.

The examples are pages too, as executed notebooks (myst-nb). Their one source is
``examples/*.py`` (jupytext percent scripts): the build writes each as a notebook into
``docs/notebooks/`` (generated, not committed) and executes it, with results cached in
``docs/_build/.jupyter_cache`` so that a second build is quick. ``NNXP_DOCS_NOTEBOOKS``
names a folder of notebooks executed already (the test suite executes them once, with
few epochs, and hands them over): those are rendered as they are.

The maths renders offline: MathJax comes with the site (sphinx-mathjax-offline), not
from a CDN.
"""

import os
import shutil
import sys

import nnxp

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "examples")
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # gradcheck.py, for its docstring


def prepare_notebooks() -> bool:
    """Write docs/notebooks/<example>.ipynb; True if they come executed already."""
    import jupytext

    executed = os.environ.get("NNXP_DOCS_NOTEBOOKS")
    folder = os.path.join(HERE, "notebooks")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for script in sorted(os.listdir(EXAMPLES)):
        name, extension = os.path.splitext(script)
        if extension != ".py":
            continue
        target = os.path.join(folder, name + ".ipynb")
        if executed:
            shutil.copy(os.path.join(executed, name + ".ipynb"), target)
        else:
            jupytext.write(jupytext.read(os.path.join(EXAMPLES, script)), target)
    return bool(executed)

project = "nnxp"
author = "the nnxp team"
copyright = "the nnxp team, MIT licence"
release = version = nnxp.__version__

# myst_nb reads Markdown (it includes myst_parser) and notebooks; sphinx-mathjax-offline
# ships MathJax inside the site
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx-mathjax-offline"]
root_doc = "index"
exclude_patterns = ["_build", "_static", "output", "Thumbs.db", ".DS_Store", "notebooks/nnxp-out"]

nb_execution_mode = "off" if prepare_notebooks() else "cache"
nb_execution_cache_path = os.path.join(HERE, "_build", ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a lesson that fails is a failed build
nb_merge_streams = True  # consecutive prints read as one block
nb_output_stderr = "remove"  # compiler chatter, not the lesson

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the docstrings say what the arguments are

html_theme = "furo"
html_title = f"nnxp {release}"
html_static_path = ["_static"]
html_css_files = ["nnxp.css"]  # long code lines scroll, never get cut
pygments_style = "sphinx"
highlight_language = "text"  # the docstrings' literal blocks are maths in plain text, not Python


def escape_absolute_values(app, what, name, obj, options, lines):
    """The table of losses.py writes MAE as mean |A - Y|, which reStructuredText would read as a
    substitution reference: escape the bars there (the docstring stays plain text for help())."""
    if what == "module" and name == "nnxp.losses":
        lines[:] = [line.replace("|A - Y|", r"\|A - Y\|") for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", escape_absolute_values)
