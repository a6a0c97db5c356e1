"""Optional dependencies: which extra of ``pip install "nnxp[...]"`` brings what.

The core (NumPy, array-api-compat, Numba, rich) trains and reports. The rest is optional
and imported only when used; where it is missing, ``require`` raises one error that says
what is missing, for what, and the command that installs it::

    MissingExtra: matplotlib is needed to draw plots: pip install "nnxp[plot]"

The ``nnxp`` command prints that line and exits with status 1, without a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util

# module -> the distribution's name on PyPI, when it differs
DISTRIBUTION = {"sklearn": "scikit-learn", "pytest_benchmark": "pytest-benchmark"}


class MissingExtra(ImportError):
    """An optional dependency is not installed (the message says which extra brings it)."""


def require(module: str, extra: str, purpose: str):
    """Import ``module`` and return it, or raise MissingExtra naming ``extra``."""
    package = module.partition(".")[0]  # find_spec("a.b") would import a, and fail without it
    if importlib.util.find_spec(package) is None:
        name = DISTRIBUTION.get(package, package)
        raise MissingExtra(f'{name} is needed {purpose}: pip install "nnxp[{extra}]"', name=package)
    return importlib.import_module(module)
