"""Regenerate the program output that the pages show: it is captured, never written by hand.

    python docs/capture_output.py

runs, in a temporary folder and with the NNXP_* variables cleared (so on the default
backend, cpu with its default kernels, float32)::

    nnxp demo                                                  -> docs/output/demo-mlp.txt
                                                                  docs/_static/demo-mlp.png
    nnxp compare --model mlp --targets cpu-numba cpu-reference -> docs/output/compare-mlp.txt
                                                                  docs/_static/compare-mlp.png
    nnxp compare --model cnn --targets cpu-numba cpu-reference --profile
                                                               -> docs/output/compare-cnn.txt
                                                                  docs/_static/compare-cnn-profile.png

and writes ``docs/output/captured.md``: when, on what machine, with which versions. The
output goes to a file, as in a log or CI: no progress bars, no colours, 160 columns.
Run it again after a change that alters what the demo prints, and commit the result.
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
COMMANDS = {  # name of the text -> (arguments, the plots to keep)
    "demo-mlp": (["demo"], ["demo-mlp.png"]),
    "compare-mlp": (["compare", "--model", "mlp", "--targets", "cpu-numba", "cpu-reference"], ["compare-mlp.png"]),
    "compare-cnn": (["compare", "--model", "cnn", "--targets", "cpu-numba", "cpu-reference", "--profile"],
                    ["compare-cnn-profile.png"]),
}


def capture(name: str, arguments: list[str], plots: list[str], folder: str) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NNXP_") and k != "COLUMNS"}
    run = subprocess.run([sys.executable, "-m", "nnxp.cli", *arguments], cwd=folder, env=environment,
                         capture_output=True, text=True, check=True)
    with open(os.path.join(HERE, "output", f"{name}.txt"), "w", encoding="utf-8") as out:
        out.write("$ nnxp " + " ".join(arguments) + "\n" + run.stdout)
    for plot in plots:
        shutil.copy(os.path.join(folder, "nnxp-out", plot), os.path.join(HERE, "_static", plot))


def versions() -> str:
    import numba
    import numpy

    import nnxp

    return f"nnxp {nnxp.__version__}, Python {platform.python_version()}, NumPy {numpy.__version__}, numba {numba.__version__}"


def main() -> None:
    os.makedirs(os.path.join(HERE, "output"), exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for name, (arguments, plots) in COMMANDS.items():
            capture(name, arguments, plots, folder)
    today = datetime.date.today().isoformat()
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores"
    with open(os.path.join(HERE, "output", "captured.md"), "w", encoding="utf-8") as out:
        out.write(f"Captured with `python docs/capture_output.py` on {today}: {machine}; {versions()}.\n")


if __name__ == "__main__":
    main()
