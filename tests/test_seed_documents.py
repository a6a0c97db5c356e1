"""The copies in tests/seeds/ hold the seeds' code as their documents print it.

Every code line of a copy must appear in its document, in the same order (after undoing
what the printed page adds: ``>>> `` prompts, a listing's line numbers, lines cut at ``↪``).
The documents live in the team's shared folder beside the checkouts; where they are not
(a clone elsewhere), this check skips and says so, and the copies are what the tests run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COPIES = ROOT / "tests" / "seeds"
SOURCES = {  # copy -> its document
    "npdl_objectives_example.py": "004_84bfec2b026c558f.txt",
    "npdl_optimizers_example.py": "004_84bfec2b026c558f.txt",
    "npdl_activation_listings.py": "004_84bfec2b026c558f.txt",
    "epynn_train_listing.py": "003_58038c93c1438142.txt",
}


def seeds_folder() -> Path | None:
    candidates = [os.environ.get("NNXP_SEEDS"), ROOT.parent / "shared" / "seeds", ROOT.parents[1] / "shared" / "seeds"]
    return next((Path(c) for c in candidates if c and (Path(c) / "README.md").exists()), None)


def document_lines(text: str) -> list[str]:
    """The document's lines as code: cut lines joined, prompts and line numbers removed."""
    text = re.sub(r"\n[ \t]*↪", "", text)
    lines = []
    for line in text.splitlines():
        line = line.strip()
        line = line[4:] if line.startswith(">>> ") else line
        line = re.sub(r"^\d+ ?", "", line) if re.match(r"^\d+( |$)", line) else line
        lines.append(line.strip())
    return lines


def copy_lines(path: Path) -> list[str]:
    """The code lines of a copy: its header comment (the pointer) and blank lines left out."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if not line.startswith("# ") or line.startswith("#####"))
    return [line.strip() for line in lines[start:] if line.strip()]


@pytest.mark.parametrize("copy", sorted(SOURCES))
def test_each_copy_holds_its_documents_lines_in_order(copy):
    folder = seeds_folder()
    if folder is None:
        pytest.skip("the seeds' documents (shared/seeds) are not beside this checkout; set NNXP_SEEDS to check")
    document = document_lines((folder / SOURCES[copy]).read_text(encoding="utf-8"))
    position = 0
    for line in copy_lines(COPIES / copy):
        try:
            position = document.index(line, position) + 1
        except ValueError:
            pytest.fail(f"{copy}: {line!r} is not in {SOURCES[copy]} after line {position}")


def test_the_line_check_does_fail_on_a_line_the_document_lacks(tmp_path):
    """The check above is not vacuous: a changed line is found out."""
    text = "model = npdl.model.Model()\n>>> model.compile(loss=SCCE(), optimizer=SGD(lr=0.\n↪005))\n"
    document = document_lines(text)
    assert "model.compile(loss=SCCE(), optimizer=SGD(lr=0.005))" in document
    assert "model.compile(loss=SCCE(), optimizer=SGD(lr=0.5))" not in document
    assert document_lines("50 model.train(epochs=100)\n")[0] == "model.train(epochs=100)"
