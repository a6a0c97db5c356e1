"""Every classroom workflow in ``examples/`` runs, learns something, and compares backends.

Each example is a script with a ``main(epochs, compare, verbose, targets, compare_epochs)``
function. Here each trains for a couple of epochs (the perceptron, which costs nothing,
for its full run), then runs its backend comparison for one epoch per target, so that
no example can rot unseen. The accuracies the examples' docstrings promise need their
full number of epochs: ``python examples/<name>.py`` shows them.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

import nnxp

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# name -> epochs for the test (the perceptron's 4 rows train 300 epochs in well under a second)
EPOCHS = {
    "perceptron": 300,
    "images_cnn": 2,
    "strings_rnn": 2,
    "time_series": 2,
    "digits_cnn": 2,
    "digits_lstm": 2,
    "zen_characters": 2,
}
NEEDS_SKLEARN = {"digits_cnn", "digits_lstm"}


def load(name: str):
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"nnxp_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def comparison_targets() -> list[str]:
    """cpu-reference, and cpu-numba once the compiled CPU kernels exist for every op the
    examples use (until then the numba mode has no convolution or pooling kernel)."""
    from nnxp.backend import numba_available

    targets = ["cpu-reference"]
    if numba_available():
        from nnxp.kernels import cpu

        if all(hasattr(cpu, name) for name in ("conv2d_forward", "pool2d_forward", "RECURRENT_ACTIVATIONS")):
            targets.append("cpu-numba")
    return targets


def test_every_example_is_tested():
    assert sorted(path.stem for path in EXAMPLES.glob("*.py")) == sorted(EPOCHS)


@pytest.mark.parametrize("name", list(EPOCHS))
def test_example_runs_learns_and_compares(name, capsys):
    if name in NEEDS_SKLEARN:
        pytest.importorskip("sklearn", reason="the digits ship with scikit-learn")
    example = load(name)
    assert "should reach" in example.__doc__ and "Data:" in example.__doc__ and "Network" in example.__doc__
    targets = comparison_targets()
    # One BLAS thread: these matrices are small, and on 2 busy cores a second OpenBLAS
    # thread made the LSTM example 2-3x slower, not faster.
    with nnxp.use_backend("cpu", dtype="float32", kernels="reference"), threadpool_limits(limits=1):
        results = example.main(epochs=EPOCHS[name], compare=True, verbose=True, targets=targets, compare_epochs=1)
    output = capsys.readouterr().out

    for model_name, model in results["models"].items():
        history = model.history
        assert history.epochs == EPOCHS[name], model_name
        loss = history["loss"][-1]
        assert math.isfinite(loss) and loss < results["before"][model_name], (model_name, results["before"], loss)
        units = model.layers[-1].units
        chance = 0.5 if units == 1 else 1 / units
        if "XOR" not in model_name or "hidden" in model_name:  # a lone unit cannot learn XOR: the lesson
            assert history["accuracy"][-1] > chance, (model_name, history["accuracy"])

    comparisons = results["comparison"]
    comparisons = comparisons.values() if isinstance(comparisons, dict) else [comparisons]
    for comparison in comparisons:
        assert [row["target"] for row in comparison.table] == targets
        assert all(math.isfinite(row["final loss"]) and row["max |diff|"] < 1e-3 for row in comparison.table)
    assert "max |diff|" in output  # the comparison table was printed


def test_perceptron_learns_and_or_but_not_xor():
    """The perceptron's lesson itself, at its full 300 epochs (a fraction of a second)."""
    example = load("perceptron")
    with nnxp.use_backend("cpu", dtype="float32", kernels="reference"):
        models = example.main(compare=False, verbose=False)["models"]
    accuracy = {name: model.history["accuracy"][-1] for name, model in models.items()}
    assert accuracy["AND"] == accuracy["OR"] == accuracy["XOR with a hidden layer"] == 1.0
    assert models["XOR"].history["loss"][-1] == pytest.approx(math.log(2), abs=1e-3)  # stuck on the fence
