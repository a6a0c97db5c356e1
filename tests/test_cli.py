"""The ``nnxp`` command: demo (each model), compare, warmup, info.

They run in-process through ``nnxp.cli.main`` with few epochs; the console output is
captured and checked for what a student must see, and the plots for being real PNGs.
"""

import os
import sys

import pytest

import nnxp
from nnxp import cli
from nnxp.compare import compare, crossover

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def restore_backend():
    with nnxp.use_backend(nnxp.get_backend()):
        yield


@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm"])
def test_demo_shows_shapes_epochs_result_and_writes_the_curves(model, tmp_path, capsys):
    pytest.importorskip("sklearn")
    assert cli.main(["demo", "--model", model, "--epochs", "2", "--out", str(tmp_path), "--kernels", "reference"]) == 0
    out = capsys.readouterr().out
    for expected in ("learns the handwritten digits", "input X", "output A", "parameters", "epoch", "val", "test",
                     "accuracy", "never seen in training"):
        assert expected in out, expected
    assert {"mlp": "Dense", "cnn": "Convolution", "lstm": "LSTM"}[model] in out
    assert (tmp_path / f"demo-{model}.png").read_bytes()[:8] == PNG


def test_compare_trains_the_same_model_on_each_target_from_the_same_weights(tmp_path, capsys):
    pytest.importorskip("sklearn")
    targets = ["cpu-reference", "strict-reference"]
    path = tmp_path / "compare.png"
    result = compare("mlp", targets=targets, epochs=2, dtype="float64", sweep=[64, 512], plot_path=str(path))
    assert [row["target"] for row in result.table] == targets
    # same seed, same weights, same batches: in float64 the two backends agree closely
    assert result.table[1]["max |diff|"] < 1e-10
    assert abs(result.table[0]["final loss"] - result.table[1]["final loss"]) < 1e-10
    assert result.table[0]["speed-up"] == 1.0 and result.table[1]["s/epoch"] > 0
    assert {(b, t) for b, t, _ in result.sweep} == {(b, t) for b in (64, 512) for t in targets}
    assert crossover(result, "cpu-reference", "strict-reference") in (64, 512, None)
    assert path.read_bytes()[:8] == PNG
    assert "same seed, same weights" in capsys.readouterr().out


def test_compare_reports_unavailable_targets_with_the_reason(capsys):
    pytest.importorskip("sklearn")
    result = compare("mlp", targets=["cpu-reference", "gpu-numba"], epochs=1, verbose=True)
    if "gpu-numba" in result.skipped:
        assert "gpu-numba: skipped" in capsys.readouterr().out


def test_warmup_runs_every_kernel_backed_layer_in_both_dtypes(capsys):
    pytest.importorskip("numba")
    assert cli.main(["warmup"]) == 0
    assert "kernel-backed layers ready on cpu" in capsys.readouterr().out
    names = cli.warmup_kernels("cpu")
    for layer in ("Convolution", "Pooling max", "Pooling mean", "Pooling min", "Pooling max, 8 channels", "RNN",
                  "GRU", "LSTM", "RNN, 2 samples", "GRU, 2 samples", "LSTM, 2 samples"):
        assert f"{layer} float32" in names and f"{layer} float64" in names
    from nnxp.kernels.cpu import pool  # every pooling kernel is compiled for both dtypes

    for kernel in (pool.pool_forward_loops, pool.pool_backward_loops, pool.pool_backward_from_output):
        assert {str(signature[0].dtype) for signature in kernel.signatures} >= {"float32", "float64"}, kernel
    from nnxp.kernels.cpu import recurrent  # the serial variants too (small batches run them)

    for kernel in (recurrent._lstm_forward_chunk, recurrent._gru_forward_chunk, recurrent._rnn_forward_chunk):
        assert {str(signature[2].dtype) for signature in kernel.signatures} >= {"float32", "float64"}, kernel
    import numba

    variants = ("serial", "parallel") if numba.get_num_threads() >= 2 else ("serial",)
    for family in ("rnn", "gru", "lstm"):  # both variants of every backward pass
        for variant in variants:
            kernel = getattr(recurrent, f"_{family}_backward_{variant}")
            assert {str(signature[1].dtype) for signature in kernel.signatures} >= {"float32", "float64"}, kernel


def test_info_lists_backends_libraries_and_threads(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for expected in ("cpu", "gpu", "strict", "numpy", "array-api-compat", "threads"):
        assert expected in out
    if nnxp.backend.numba_available():  # how numba's idle workers wait: the policy, or what the user set
        assert "GOMP_SPINCOUNT" in out or "OMP_WAIT_POLICY" in out


def test_bench_finds_the_suite_of_the_checkout_and_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    from nnxp import cli

    here = os.path.dirname(os.path.abspath(__file__))
    found = cli.find_benchmarks([os.path.join(here, "..", "docs")])  # from any folder of the checkout
    assert found == os.path.join(os.path.dirname(here), "benchmarks", "run.py")
    assert cli.find_benchmarks([str(tmp_path)]) is None
    monkeypatch.setattr(cli, "find_benchmarks", lambda places=None: None)
    assert cli.main(["bench"]) == 2
    assert "clone it" in capsys.readouterr().err
    import importlib.util

    monkeypatch.setattr(cli, "find_benchmarks", lambda places=None: found)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pytest_benchmark" else 1)
    assert cli.main(["bench"]) == 2
    assert "pip install -e '.[bench]'" in capsys.readouterr().err


def test_bench_runs_the_suite_and_prints_the_table(tmp_path):
    """One small benchmark, end to end: its own process, the JSON, the Markdown table."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "nnxp.cli", "bench", "-k", "test_epoch and W1 and float64",
                           "--targets", "cpu-numba", "--threads", "1", "--out", str(tmp_path)],
                          cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert os.path.isfile(tmp_path / "cpu-numba.json")
    row = next(line for line in done.stdout.splitlines() if line.startswith("| W1 | float64"))
    assert float(row.split("|")[3].split()[0]) > 0  # the cpu-numba median, in ms
