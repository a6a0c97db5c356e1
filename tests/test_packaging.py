"""A regular (non-editable) install carries every package: pyproject.toml lists them all."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is in the standard library from Python 3.11")
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(path.parent.relative_to(ROOT / "src").parts) for path in (ROOT / "src" / "nnxp").rglob("__init__.py")}
    found |= {".".join(("nnxp",) + path.parent.relative_to(ROOT).parts)
              for path in (ROOT / "kernels").rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert {"nnxp.npdl.layers", "nnxp.epynn.commons", "nnxp.epynn.network"} <= listed
