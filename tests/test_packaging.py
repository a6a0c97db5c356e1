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


def test_imports_flow_from_the_facades_to_the_core_never_back():
    """DESIGN.md: cli -> (npdl, epynn) -> model -> layers; the core never imports a facade,
    and the two facades do not import each other."""
    import ast

    src = ROOT / "src" / "nnxp"

    def imported(path: Path) -> set[str]:
        package = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts[:-1])
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
        return names

    for path in src.rglob("*.py"):
        where = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts)
        names = imported(path)
        facade = next((f for f in ("nnxp.npdl", "nnxp.epynn") if where.startswith(f)), None)
        for other in ("nnxp.npdl", "nnxp.epynn"):
            if other != facade and where != "nnxp.cli":
                assert not any(name == other or name.startswith(other + ".") for name in names), f"{where} imports {other}"
        if facade is not None:
            assert not any(name.startswith("nnxp.cli") for name in names), f"{where} imports the cli"
