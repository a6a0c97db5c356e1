"""Sphinx configuration of the nnxp documentation.

Build it with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (the
test suite does the same, warnings as errors). Pages are Markdown (MyST); code is never
copied into them by hand: ``literalinclude`` with ``:pyobject:`` pulls it from the
source, and ``automodule`` the module docstrings, so the pages cannot drift from the code.
"""

import os
import sys

import nnxp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))  # the example scripts, for their docstrings
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # gradcheck.py, for its docstring

project = "nnxp"
author = "the nnxp team"
copyright = "the nnxp team, MIT licence"
release = version = nnxp.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.mathjax"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_static", "output", "Thumbs.db", ".DS_Store"]  # output/: included by pages

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the docstrings say what the arguments are

html_theme = "furo"
html_title = f"nnxp {release}"
html_static_path = ["_static"]
pygments_style = "sphinx"
highlight_language = "text"  # the docstrings' literal blocks are maths in plain text, not Python


def escape_absolute_values(app, what, name, obj, options, lines):
    """The table of losses.py writes MAE as mean |A - Y|, which reStructuredText would read as a
    substitution reference: escape the bars there (the docstring stays plain text for help())."""
    if what == "module" and name == "nnxp.losses":
        lines[:] = [line.replace("|A - Y|", r"\|A - Y\|") for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", escape_absolute_values)
