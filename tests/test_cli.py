"""The ``nnxp`` command: demo (each model), compare, warmup, info.

They run in-process through ``nnxp.cli.main`` with few epochs; the console output is
captured and checked for what a student must see, and the plots for being real PNGs.
"""

import os
import sys

import numpy as np
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


def test_compare_tells_an_unavailable_target_once_per_run_with_the_reason(capsys, monkeypatch):
    """strings_rnn.py compares three networks: "skipped" must not come three times."""
    pytest.importorskip("sklearn")
    from nnxp import compare as compare_module

    monkeypatch.setattr(compare_module, "_told_skipped", set())
    for _ in range(2):
        result = compare("mlp", targets=["cpu-reference", "tpu-numba"], epochs=1, verbose=True)
        assert result.skipped == {"tpu-numba": "unknown backend 'tpu'"}
    out = capsys.readouterr().out
    assert out.count("tpu-numba: skipped (unknown backend 'tpu')") == 1
    assert out.count("same seed, same weights") == 2
    assert result.title == "digits MLP (float32)"  # the model's name, not its builder's


def test_compare_titles_the_table_and_plot_with_the_models_name(tmp_path, capsys):
    from nnxp.layers import Dense, Embedding

    def build(batch_size=16):  # a builder function: the table must not say "build"
        rng = np.random.default_rng(0)
        X = rng.standard_normal((64, 4))
        model = nnxp.Model([Embedding(X, (X[:, 0] > 0).astype(int), Y_encode=True, batch_size=batch_size, seed=0),
                            Dense(2, "softmax")], name="strings: GRU")
        return model, {"loss": "CCE", "seed": 0}

    result = compare(build, targets=["cpu-reference"], epochs=2, plot_path=str(tmp_path / "c.png"))
    assert result.title == "strings: GRU (float32)"
    out = capsys.readouterr().out
    assert "strings: GRU (float32): same seed" in out and "build" not in out
    assert "speed-up 2x = twice as fast as cpu-reference" in out and "noise" in out
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG


def _lines(text: str) -> list[str]:
    return text.splitlines()


@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm"])
def test_demo_fits_an_80_column_terminal_and_uses_120(model, tmp_path, capsys, monkeypatch):
    """The initialization table, the epoch rows and the result panel: no line over 80
    columns, nothing cut with an ellipsis; at 120 columns the wide layouts come back."""
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)  # a short --out: a path is printed whole, never folded
    widths = {}
    for columns in (80, 120):
        monkeypatch.setenv("COLUMNS", str(columns))
        assert cli.main(["demo", "--model", model, "--epochs", "2", "--out", "out"]) == 0
        out = capsys.readouterr().out
        widths[columns] = max(len(line) for line in _lines(out))
        assert widths[columns] <= columns, "\n".join(line for line in _lines(out) if len(line) > columns)
        assert "…" not in out
        assert "parameters" in out and "input X" in out and "never seen in training" in out
        epoch_rows = [line for line in _lines(out) if line.split()[:1] == ["2"]]
        if columns == 80:  # one line per set: the epoch, then val and test below it
            assert "set" in out and len(epoch_rows) == 1 and "train" in epoch_rows[0]
        else:  # one line per epoch, every set side by side, and the name column back
            assert "name" in out and len(epoch_rows[0].split()) == 2 + 3 * 3
    assert widths[120] > 80  # the room is used


def test_compare_and_its_profile_fit_an_80_column_terminal(tmp_path, capsys, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)  # a short --out: a path is printed whole, never folded
    assert cli.main(["compare", "--model", "cnn", "--targets", "cpu-numba", "cpu-reference", "--epochs", "2",
                     "--profile", "--out", "out"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in _lines(out)) <= 80 and "…" not in out
    for expected in ("digits CNN (float32): same seed", "speed-up", "noise", "optimizer step", "sum of the parts",
                     "parts / step", "plot written to out/compare-cnn.png"):
        assert expected in out, expected
    for phase in ("forward", "backward"):  # spelt out, or "fwd"/"bwd" where the columns are tight
        assert f"1 convolution {phase}" in out or f"1 convolution {phase[0]}{phase[4]}d" in out, phase
    assert (tmp_path / "out" / "compare-cnn.png").read_bytes()[:8] == PNG
    assert (tmp_path / "out" / "compare-cnn-profile.png").read_bytes()[:8] == PNG


def test_no_gpu_is_one_line_and_status_1_for_the_option_and_the_variable(monkeypatch, capsys):
    """Whatever this machine has, the GPU probe is made to fail: the message must say what
    is missing and how to install it, on one line, without a traceback."""
    from nnxp import backend

    monkeypatch.setattr(backend.GpuBackend, "probe",
                        classmethod(lambda cls: (False, f"CuPy is not installed; {backend.GPU_INSTALL_HINT}")))
    assert cli.main(["demo", "--backend", "gpu"]) == 1
    monkeypatch.setenv("NNXP_BACKEND", "gpu")
    assert cli.main(["demo"]) == 1
    assert cli.main(["warmup", "--backend", "gpu"]) == 1
    captured = capsys.readouterr()
    lines = _lines(captured.err)
    assert len(lines) == 3 and captured.out == ""
    assert lines[0] == lines[1] and lines[0].startswith("nnxp demo: backend 'gpu' is not available: CuPy")
    assert all("pip install 'nnxp[gpu-cu12]'" in line for line in lines)
    assert lines[2].startswith("nnxp warmup: ")


def test_a_bad_argument_is_one_line_naming_it(capsys):
    """An argument nnxp's checks refuse (an epoch count below 0, no passes, no threads) is
    a one-line error, status 1, that names the argument and what came: not a traceback."""
    assert cli.main(["demo", "--epochs", "-1"]) == 1
    assert cli.main(["bench", "--passes", "0"]) == 1
    assert cli.main(["bench", "--threads", "0"]) == 1
    captured = capsys.readouterr()
    lines = _lines(captured.err)
    assert len(lines) == 3, captured.err
    assert "epochs must be a whole number >= 0, got -1" in lines[0]
    assert "--passes must be a whole number >= 1, got 0" in lines[1]
    assert "--threads must be a whole number >= 1, got 0" in lines[2]
    from nnxp import checks

    with pytest.raises(ValueError):  # still a ValueError to code that catches those
        checks.positive_int("units", 0, "Dense")
    with pytest.raises(TypeError):
        checks.positive_int("units", 2.5, "Dense")


def test_no_gpu_from_the_shell_prints_no_traceback():
    import subprocess

    environment = {**os.environ, "NNXP_BACKEND": "gpu", "CUDA_VISIBLE_DEVICES": ""}  # no GPU, even on a GPU machine
    done = subprocess.run([sys.executable, "-m", "nnxp.cli", "demo"], env=environment, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("nnxp demo: backend 'gpu' is not available") and "pip install" in done.stderr


def test_a_bad_environment_variable_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("NNXP_KERNELS", "fortran")
    with pytest.raises(SystemExit) as stop:
        cli.main(["demo"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "nnxp demo: error: NNXP_KERNELS='fortran' is not one of numba, reference" in err
    assert cli.main(["info"]) == 0  # a command that does not read it is not stopped by it


@pytest.mark.parametrize("missing, command, extra", [
    ("matplotlib", ["demo", "--epochs", "1"], "plot"),
    ("matplotlib", ["compare", "--epochs", "1", "--targets", "cpu-reference"], "plot"),
    ("sklearn", ["demo", "--epochs", "1"], "examples"),
])
def test_a_missing_extra_is_one_line_naming_the_extra(missing, command, extra, tmp_path, monkeypatch, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == missing else real_find_spec(name, *a))
    assert cli.main([*command, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert len(_lines(err)) == 1 and f'pip install "nnxp[{extra}]"' in err
    assert err.startswith(f"nnxp {command[0]}: ")
    assert not list(tmp_path.iterdir())  # nothing was written


def test_warmup_runs_every_kernel_backed_op_in_both_dtypes(capsys):
    """nnxp warmup (nnxp.ops.warmup) compiles every kernel, both variants of the recurrent
    ones and both paths of max pooling's backward, at the sizes kernels/cpu says reach them,
    and both kernels (direct, BLAS) of convolution and the recurrent ops."""
    pytest.importorskip("numba")
    from nnxp.kernels import cpu

    assert cli.main(["warmup"]) == 0
    out = capsys.readouterr().out
    assert "kernel-backed op runs done on cpu" in out and "float32 and float64" in out
    small, large = cpu.WARM_UP["samples"]
    assert small < cpu.recurrent.parallel_threshold <= large and cpu.chunks.gradient_chunks(large) >= 2
    assert min(cpu.WARM_UP["channels"]) < cpu.pool.LANES < cpu.pool.TILE_LANES <= max(cpu.WARM_UP["channels"])
    from nnxp.backend import make_backend
    from nnxp.ops.warmup import warm_up

    for dtype in ("float32", "float64"):
        names = warm_up(make_backend("cpu", dtype, "numba"))
        for op in ("pool2d max", "pool2d mean", "pool2d min"):
            assert f"{op}, {small} samples" in names and f"{op}, {large} samples" in names, (op, names)
        for op, paths in (("conv2d", cpu.CONV_PATHS), ("rnn", cpu.PATHS), ("gru", cpu.PATHS), ("lstm", cpu.PATHS)):
            for path in paths:
                assert f"{op}, {small} samples, {path}" in names and f"{op}, {large} samples, {path}" in names
        assert f"pool2d max, {cpu.pool.LANES} channels" in names
        assert f"pool2d max, {cpu.pool.TILE_LANES} channels" in names
    from nnxp.kernels.cpu import pool  # every pooling kernel is compiled for both dtypes

    for kernel in (pool.pool_forward_loops, pool.pool_backward_loops, pool.pool_backward_from_output,
                   pool.pool_backward_tiles, pool.pool_backward_2x2, pool.pool_forward_2x2):
        assert {str(signature[0].dtype) for signature in kernel.signatures} >= {"float32", "float64"}, kernel
    from nnxp.kernels.cpu import recurrent  # the serial variants too (small batches run them)

    for kernel in (recurrent._lstm_forward_chunk, recurrent._gru_forward_chunk, recurrent._rnn_forward_chunk):
        assert {str(signature[2].dtype) for signature in kernel.signatures} >= {"float32", "float64"}, kernel
    from nnxp.kernels.cpu import conv_gemm, recurrent_blas  # the BLAS path's kernels, ReLU fused too

    for kernel, position in ((conv_gemm.im2col_chunk, -1), (conv_gemm.col2im_chunk, -1), (conv_gemm.add_bias_relu, -1),
                             (conv_gemm.relu_mask_and_bias_sum, -1), (recurrent_blas._lstm_step_forward, -1),
                             (recurrent_blas._gru_step_backward, -1), (recurrent_blas._rnn_step_forward, -1)):
        assert {str(signature[position].dtype) for signature in kernel.signatures} >= {"float32", "float64"}, kernel
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


def test_info_names_the_blas_kernels_and_an_override(capsys, monkeypatch):
    """The BLAS line names NumPy's BLAS library (from threadpoolctl) and, when the
    environment forces OpenBLAS's kernels, says so: a forced Haswell halves the products'
    rate on AVX-512 processors (docs/backends.md)."""
    from threadpoolctl import threadpool_info

    libraries = [pool["internal_api"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert cli.main(["info"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("BLAS kernels:"))
    assert all(library in line for library in libraries) and line.endswith("(OPENBLAS_CORETYPE=Haswell)")
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    assert cli.main(["info"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("BLAS kernels:"))
    assert "OPENBLAS_CORETYPE" not in line


def test_info_shows_which_cpu_kernel_each_workload_layer_runs(capsys, monkeypatch):
    """The rule of nnxp.kernels.cpu.paths, applied to the workloads' layers: W2's small
    convolution on the direct loops, W7's second (32 -> 64 channels, 3x3) by Winograd,
    W8's LSTM of 256 units on BLAS; NNXP_CPU_PATH forces one."""
    pytest.importorskip("numba")
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["info"]) == 0
    def rows(column=3):  # 3: float32, 4: float64
        return {line.split("│")[2].strip(): line.split("│")[column].strip()
                for line in capsys.readouterr().out.splitlines() if line.count("│") == 5}

    chosen = rows()
    assert chosen["conv 32x28x28x1 -> 8@3x3"] == "direct" and chosen["lstm 128x50x32 -> 256 units"] == "blas"
    assert chosen["conv 64x14x14x6 -> 16@5x5"] == "blas" and chosen["lstm 32x20x8 -> 32 units"] == "direct"
    assert chosen["conv 256x16x16x32 -> 64@3x3 pad 1"] == "winograd"
    assert cli.main(["info"]) == 0
    assert rows(4)["conv 256x16x16x32 -> 64@3x3 pad 1"] == "winograd"
    monkeypatch.setenv("NNXP_CPU_PATH", "direct")
    assert cli.main(["info"]) == 0
    assert set(rows().values()) == {"direct"}


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
    assert cli.main(["bench"]) == 1  # a missing extra: one line, status 1
    assert "pip install -e '.[bench]'" in capsys.readouterr().err


def test_bench_passes_take_each_targets_median_of_medians(tmp_path):
    """--passes N runs the targets in turn N times (pass-1/, pass-2/, ...); a target's
    median in the table is the median of its passes' medians, its range the whole range:
    a pass that a busy machine slowed counts once, not as the figure."""
    import importlib.util
    import json

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("bench_run", os.path.join(root, "benchmarks", "run.py"))
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    files = {}
    for target, medians in (("cpu-numba", (1.0, 9.0, 2.0)), ("torch-cpu", (4.0, 4.0, 5.0))):
        files[target] = []
        for index, median in enumerate(medians):
            path = tmp_path / f"{target}-{index}.json"
            bench = {"extra_info": {"workload": "W1", "dtype": "float64", "epoch_flops": 1e9},
                     "stats": {"median": median, "min": median - 0.5, "max": median + 0.5}}
            path.write_text(json.dumps({"benchmarks": [bench]}))
            files[target].append(str(path))
    row = run._collect(files, "workload")[("W1", "float64")]
    assert row["cpu-numba"] == {"median": 2.0, "min": 0.5, "max": 9.5}
    assert row["torch-cpu"]["median"] == 4.0
    line = next(line for line in run.table(files, {}, "workload").splitlines() if line.startswith("| W1"))
    assert "2.00x" in line  # torch 4.0 / numba 2.0, from the medians of the passes
    done = subprocess_bench(root, tmp_path / "passes", "--passes", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert os.path.isfile(tmp_path / "passes" / "pass-1" / "cpu-numba.json")
    assert os.path.isfile(tmp_path / "passes" / "pass-2" / "cpu-numba.json")


def subprocess_bench(root, out, *more):
    """``nnxp bench`` on one small benchmark (W1's float64 epoch, cpu-numba, 1 thread) in
    a process of its own, results in ``out``."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "nnxp.cli", "bench", "-k", "test_epoch and W1 and float64",
                           "--targets", "cpu-numba", "--threads", "1", "--out", str(out), *more],
                          cwd=root, capture_output=True, text=True, timeout=300)


def test_bench_runs_the_suite_and_prints_the_table(tmp_path):
    """One small benchmark, end to end: its own process, the JSON, the Markdown table."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess_bench(root, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert os.path.isfile(tmp_path / "cpu-numba.json")
    row = next(line for line in done.stdout.splitlines() if line.startswith("| W1 | float64"))
    assert float(row.split("|")[3].split()[0]) > 0  # the cpu-numba median, in ms
