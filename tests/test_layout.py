"""The house rules of ARCHITECTURE.md, read from the source: who may import whom.

Every import of every module of nnxp (``src/nnxp`` and ``kernels/``, installed as
``nnxp.kernels``) is read with ``ast``, those inside functions included (a lazy import
is still an import), and checked against the rules below. A failure names the file,
the line, the import as written and the rule it breaks. Nothing is imported or run,
so the whole check takes a fraction of a second.

The direction, from the top::

    cli, nnxp  ->  (npdl, epynn, distributed, compare, io, ...)  ->  model  ->  layers  ->  ops  ->  kernels

A module may import its own tier and the tiers below it (never one above), and every
module but the kernels may import the shared utilities, which import only each other.
No two modules import each other, through any number of others. The tiers and the
shared list are ARCHITECTURE.md's; a new module must be given a place in them here.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"nnxp": ROOT / "src" / "nnxp", "nnxp.kernels": ROOT / "kernels"}

# The tiers, lowest first; a module belongs to the first prefix that names it or a package above it.
TIERS = {
    "nnxp.kernels": 0,
    "nnxp.ops": 1,
    "nnxp.layers": 2,
    "nnxp.model": 3, "nnxp.saving": 3, "nnxp.profile": 3,
    "nnxp.io": 4, "nnxp.compare": 4, "nnxp.demos": 4, "nnxp.workloads": 4, "nnxp.lesson": 4,
    "nnxp.distributed": 4, "nnxp.npdl": 4, "nnxp.epynn": 4, "nnxp.facades": 4,
    "nnxp.cli": 5, "nnxp": 5,  # the command, and the package's public names
}
TIER_NAMES = {0: "kernels", 1: "ops", 2: "layers", 3: "model", 4: "uses of a model", 5: "the entry points"}

# Any module above the kernels may import these; they import only each other.
SHARED = {"nnxp.backend", "nnxp.threads", "nnxp.checks", "nnxp.activations", "nnxp.initializers", "nnxp.losses",
          "nnxp.metrics", "nnxp.optimizers", "nnxp.schedules", "nnxp.data", "nnxp.datasets", "nnxp.report",
          "nnxp.extras"}

# nnxp.kernels is imported by nnxp.ops (the one dispatch, and the warm-up), nnxp.threads
# (importing the CPU kernels sets how Numba's pool waits, before it starts) and nnxp.cli
# (``nnxp info`` says where the kernel cache is).
KERNEL_IMPORTERS = ("nnxp.ops", "nnxp.threads", "nnxp.cli")

# The seeds' interfaces map onto nnxp's core; nothing but the command imports them, and they do
# not import each other.
FACADES = ("nnxp.npdl", "nnxp.epynn")

BACKEND_NAMES = {"cpu", "gpu", "strict"}
HEAVY = {"numba", "cupy", "matplotlib", "mpi4py", "torch", "array_api_strict"}  # `import nnxp` stays fast
KERNEL_LIBRARIES = {"numpy", "numba", "math"}  # and the standard library


# --------------------------------------------------------------------------- reading the source


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "nnxp.layers.lstm"
    file: str  # its path from the repository root
    line: int
    target: str  # what it imports, absolute: "numpy", "nnxp.ops.recurrent"
    text: str  # the statement as written
    top_level: bool  # run by importing the module (outside any function), or only inside one

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: `{self.text}`"


def source_modules() -> dict[str, Path]:
    """Module name -> file, for every module of nnxp."""
    found = {}
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def read_imports(module: str, source: str, file: str, is_package: bool, known) -> list[Import]:
    """Every import in ``source``, resolved to absolute names. ``from . import x`` names
    the module ``pkg.x`` where there is one (``known``), else the package itself."""
    tree = ast.parse(source, filename=file)
    lazy = {id(inner) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for inner in ast.walk(node) if inner is not node}  # what runs only when a function is called
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            targets = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix
                       for alias in node.names]
        else:
            continue
        text = ast.get_source_segment(source, node) or ast.unparse(node)
        for target in dict.fromkeys(targets):
            found.append(Import(module, file, node.lineno, target, " ".join(text.split()), id(node) not in lazy))
    return found


def nnxp_module(target: str, known) -> str | None:
    """The module of nnxp that an import names (``nnxp.ops.recurrent`` for
    ``nnxp.ops.recurrent.lstm_forward``), or None for a library."""
    if target != "nnxp" and not target.startswith("nnxp."):
        return None
    while target not in known and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def tier(module: str) -> int | None:
    """The tier of a module (None for a shared utility)."""
    if module in SHARED:
        return None
    best = max((prefix for prefix in TIERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return TIERS[best]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


MODULES = source_modules()
TREES = {module: ast.parse(path.read_text(encoding="utf-8")) for module, path in MODULES.items()}


def all_imports(modules=MODULES) -> list[Import]:
    imports = []
    for module, path in modules.items():
        imports += read_imports(module, path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)),
                                path.name == "__init__.py", modules)
    return imports


IMPORTS = all_imports()


# --------------------------------------------------------------------------- the rules
# Each rule takes the imports (or the parsed modules) and returns what breaks it, one
# line per import: the file, the line, the import and the rule.


def layers_import_no_compiled_code(imports) -> list[str]:
    rule = "a layer never imports numba, cupy or nnxp.kernels: only nnxp.ops dispatches to kernels"
    return [f"{i} - {rule}" for i in imports if within(i.module, "nnxp.layers")
            and (i.target.split(".")[0] in ("numba", "cupy") or within(i.target, "nnxp.kernels"))]


def kernels_import_only_numpy_numba_math_and_the_standard_library(imports) -> list[str]:
    rule = "kernels/ imports only numpy, numba, math, the standard library and nnxp.kernels itself"
    return [f"{i} - {rule}" for i in imports if within(i.module, "nnxp.kernels")
            and not within(i.target, "nnxp.kernels") and i.target.split(".")[0] not in KERNEL_LIBRARIES
            and i.target.split(".")[0] not in sys.stdlib_module_names and i.target != "__future__"]


def the_backend_imports_no_kernels(imports) -> list[str]:
    rule = "the backend imports no kernels (it names its kernel package; nnxp.ops imports it)"
    return [f"{i} - {rule}" for i in imports if i.module == "nnxp.backend" and within(i.target, "nnxp.kernels")]


def kernels_are_imported_by_the_dispatch_alone(imports) -> list[str]:
    rule = f"nnxp.kernels is imported only by {', '.join(KERNEL_IMPORTERS)} (and by itself)"
    return [f"{i} - {rule}" for i in imports if within(i.target, "nnxp.kernels")
            and not any(within(i.module, allowed) for allowed in (*KERNEL_IMPORTERS, "nnxp.kernels"))]


def imports_flow_down(imports, modules=MODULES) -> list[str]:
    broken = []
    for i in imports:
        target = nnxp_module(i.target, modules)
        if target is None or target == i.module or within(target, "nnxp.kernels"):  # kernels: the rules above
            continue
        low, high = tier(target), tier(i.module)
        if high is None and low is not None:
            broken.append(f"{i} - a shared utility ({i.module}) imports only shared utilities, "
                          f"not {target} (tier {TIER_NAMES[low]})")
        elif high is not None and low is not None and low > high:
            broken.append(f"{i} - imports flow down the tiers: {i.module} ({TIER_NAMES[high]}) may not import "
                          f"{target} ({TIER_NAMES[low]})")
    return broken


def no_module_imports_itself_through_others(imports, modules=MODULES) -> list[str]:
    """Every cycle of nnxp's modules (of any length), with the imports that close it."""
    edges: dict[str, dict[str, Import]] = {}
    for i in imports:
        target = nnxp_module(i.target, modules)
        if target is not None and target != i.module:
            edges.setdefault(i.module, {}).setdefault(target, i)
    broken, seen_cycles = [], set()
    for start in sorted(edges):
        path = _cycle_from(start, edges)
        if path and frozenset(path) not in seen_cycles:
            seen_cycles.add(frozenset(path))
            steps = [edges[a][b] for a, b in zip(path, path[1:] + path[:1])]
            broken.append(f"modules that import each other ({' -> '.join(path + path[:1])}): "
                          + "; ".join(str(step) for step in steps)
                          + " - no two modules import each other, through any number of others: move code")
    return broken


def _cycle_from(start: str, edges) -> list[str] | None:
    """A path start -> ... -> start, as a list of its modules (depth first), or None."""
    stack, on_path = [(start, iter(sorted(edges.get(start, {}))))], [start]
    visited = {start}
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.pop()
        elif child == start:
            return list(on_path)
        elif child not in visited:
            visited.add(child)
            stack.append((child, iter(sorted(edges.get(child, {})))))
            on_path.append(child)
    return None


def the_facades_stand_apart(imports, modules=MODULES) -> list[str]:
    rule = ("nnxp.npdl and nnxp.epynn map the seeds onto nnxp's core: the core never imports them, "
            "only nnxp.cli may, and the two do not import each other")
    broken = []
    for i in imports:
        target = nnxp_module(i.target, modules)
        for facade in FACADES:
            if target is not None and within(target, facade) and not within(i.module, facade) \
                    and i.module != "nnxp.cli":
                broken.append(f"{i} - {rule}")
    return broken


def heavy_libraries_load_lazily(imports) -> list[str]:
    rule = (f"`import nnxp` stays fast: {', '.join(sorted(HEAVY))} are imported inside the functions that "
            f"use them, never at module level (the kernels load only when nnxp.ops first asks for them)")
    return [f"{i} - {rule}" for i in imports if i.top_level and i.target.split(".")[0] in HEAVY
            and not within(i.module, "nnxp.kernels")]


def backend_name_comparisons(module: str, tree: ast.AST, file: str) -> list[str]:
    """Comparisons of a backend's name: with "cpu", "gpu" or "strict", with the ``name``
    of something called backend (``self.active_backend().name``), or ``.startswith("gpu")``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_backend_name_literal(side) or _backend_name_attribute(side) for side in sides):
                found.append(f"{file}:{node.lineno}: `{ast.unparse(node)}`")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("startswith", "endswith") and any(map(_backend_name_literal, node.args))):
            found.append(f"{file}:{node.lineno}: `{ast.unparse(node)}`")
    return found


def _backend_name_literal(node) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in BACKEND_NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_backend_name_literal(element) for element in node.elts)
    return False


def _backend_name_attribute(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "name" and "backend" in ast.unparse(node.value).lower()


def layers_compare_no_backend_name(trees=TREES) -> list[str]:
    rule = "a layer never tests which backend it is on (its arrays' xp, and ops, do the work)"
    return [f"{found} - {rule}" for module, tree in trees.items() if within(module, "nnxp.layers")
            for found in backend_name_comparisons(module, tree, str(MODULES[module].relative_to(ROOT)))]


def only_the_backend_compares_backend_names(trees=TREES) -> list[str]:
    rule = ("no code outside nnxp.backend compares a backend's name: ask the backend's class instead "
            "(kernel_package, transport, accelerator, thread_policy, random().resume ...)")
    return [f"{found} - {rule}" for module, tree in trees.items() if module != "nnxp.backend"
            for found in backend_name_comparisons(module, tree, str(MODULES[module].relative_to(ROOT)))]


IMPORT_RULES = (layers_import_no_compiled_code, kernels_import_only_numpy_numba_math_and_the_standard_library,
                the_backend_imports_no_kernels, kernels_are_imported_by_the_dispatch_alone, imports_flow_down,
                no_module_imports_itself_through_others, the_facades_stand_apart, heavy_libraries_load_lazily)


# --------------------------------------------------------------------------- the tree as it is


@pytest.mark.parametrize("rule", IMPORT_RULES, ids=lambda rule: rule.__name__)
def test_the_imports_keep_the_rule(rule):
    broken = rule(IMPORTS)
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("rule", [layers_compare_no_backend_name, only_the_backend_compares_backend_names],
                         ids=lambda rule: rule.__name__)
def test_the_code_keeps_the_rule(rule):
    broken = rule()
    assert not broken, "\n".join(broken)


def test_every_module_has_its_place_in_the_layout():
    """A new module is placed in a tier or among the shared utilities (here and in
    ARCHITECTURE.md), and each name here is a module that exists."""
    for module in MODULES:
        placed = module in SHARED or any(within(module, prefix) for prefix in TIERS)
        assert placed, f"{module} has no place in the layout: add it to TIERS or SHARED (tests/test_layout.py)"
    for name in [*SHARED, *TIERS]:
        assert name in MODULES, f"{name} is named in the layout but is no module of nnxp"
    assert len(IMPORTS) > 300 and any(not i.top_level for i in IMPORTS)  # the lazy imports are read too


def test_architecture_md_names_every_shared_utility_and_tier():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for name in [*SHARED, *TIERS, *KERNEL_IMPORTERS]:
        short = name.replace("nnxp.", "", 1) if name != "nnxp" else name
        assert f"`{short}`" in text or f"`{name}`" in text, f"ARCHITECTURE.md does not name {name}"


# --------------------------------------------------------------------------- the rules can fail


BROKEN = {  # module -> source that breaks one rule each
    "nnxp.layers.bad": "import numba\nfrom ..kernels import cpu\nfrom .. import model\n",
    "nnxp.kernels.cpu.bad": "import scipy\nfrom nnxp import backend\n",
    "nnxp.backend": "def later():\n    from .kernels import cpu\n",
    "nnxp.model": "def lazy():\n    from .kernels.cpu import conv\n",
    "nnxp.checks": "from .model import Model\n",
    "nnxp.ops": "import matplotlib.pyplot as plt\n",
    "nnxp.io": "from .compare import compare\n",
    "nnxp.compare": "def late():\n    from . import io\n",
    "nnxp.epynn.bad": "from ..npdl import layers\n",
}


def test_each_rule_finds_what_breaks_it():
    known = {**dict.fromkeys(MODULES), **dict.fromkeys(BROKEN)}
    imports = [i for module, source in BROKEN.items()
               for i in read_imports(module, source, f"{module}.py", module == "nnxp.ops", known)]
    needs_modules = (imports_flow_down, no_module_imports_itself_through_others, the_facades_stand_apart)
    found = {rule.__name__: rule(imports, known) if rule in needs_modules else rule(imports) for rule in IMPORT_RULES}
    assert any("`import numba`" in f for f in found["layers_import_no_compiled_code"])
    assert any("`from ..kernels import cpu`" in f for f in found["layers_import_no_compiled_code"])
    assert [f.split(":")[0] for f in found["kernels_import_only_numpy_numba_math_and_the_standard_library"]] == \
        ["nnxp.kernels.cpu.bad.py"] * 2
    assert found["the_backend_imports_no_kernels"][0].startswith("nnxp.backend.py:2: `from .kernels import cpu`")
    assert any(f.startswith("nnxp.model.py:2:") for f in found["kernels_are_imported_by_the_dispatch_alone"])
    flow = "\n".join(found["imports_flow_down"])
    assert "nnxp.layers.bad (layers) may not import nnxp.model (model)" in flow
    assert "a shared utility (nnxp.checks) imports only shared utilities" in flow
    cycles = found["no_module_imports_itself_through_others"]
    assert len(cycles) == 1 and "nnxp.compare -> nnxp.io -> nnxp.compare" in cycles[0]
    assert "nnxp.compare.py:2: `from . import io`" in cycles[0] and "nnxp.io.py:1:" in cycles[0]
    assert [f.split(" - ")[0] for f in found["the_facades_stand_apart"]] == \
        ["nnxp.epynn.bad.py:1: `from ..npdl import layers`"]
    heavy = sorted(f.split(" - ")[0] for f in found["heavy_libraries_load_lazily"])
    assert heavy == ["nnxp.layers.bad.py:1: `import numba`", "nnxp.ops.py:1: `import matplotlib.pyplot as plt`"]


def test_backend_name_comparisons_are_found_in_every_form():
    source = ('if self.active_backend().name != "gpu": pass\n'
              'if where in ("cpu", "strict"): pass\n'
              'names = [n for n in targets if n.startswith("gpu")]\n'
              'if model.backend.name == other: pass\n'
              'choices = ["cpu", "gpu"]\n'  # not a comparison
              'usable = available_backends()["gpu"]\n')  # a look-up by name, not a switch
    found = backend_name_comparisons("nnxp.layers.bad", ast.parse(source), "bad.py")
    assert sorted(f.split(":")[1] for f in found) == ["1", "2", "3", "4"]
