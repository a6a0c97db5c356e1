"""Data-parallel training: R ranks under mpiexec train the weights that one process trains.

Each ``mpiexec`` run starts ``distributed_worker.py`` on tiny float64 models (an MLP, one with
Dropout, a CNN, an LSTM, and compile + fit), whose batches the ranks cannot share evenly and
whose last batch has one row; the test trains the same cases here, on one process, and
compares. One run per rank count does all its checks, so that the suite stays quick on 2
cores; ranks run one thread each, and every run has a timeout: a hang fails, it never waits.

Where mpi4py, an MPI library or mpiexec is missing, the MPI tests skip and say what to
install, unless NNXP_REQUIRE_MPI=1 (CI sets it): then they fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnxp
from nnxp.distributed.gradients import GradientLayout, share_of, sum_in_rank_order

import distributed_worker as worker

HERE = Path(__file__).resolve().parent
WORKER = HERE / "distributed_worker.py"
RUN_TIMEOUT = 240  # seconds for one mpiexec run; a cold Numba cache makes the first one slow


def _mpiexec() -> str:
    """The mpiexec next to this Python (the mpich wheel's), else the one on PATH; or skip."""
    reason = None
    if importlib.util.find_spec("mpi4py") is None:
        reason = "mpi4py is not installed (pip install 'nnxp[distributed]')"
    launcher = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if reason is None and launcher is None:
        reason = "no mpiexec: pip install mpich (or load the site's MPI)"
    if reason is not None:
        if os.environ.get("NNXP_REQUIRE_MPI") == "1":
            pytest.fail(f"NNXP_REQUIRE_MPI=1 but {reason}")
        pytest.skip(reason)
    return launcher


def run_worker(ranks: int, mode: str, out: Path, timeout: float = RUN_TIMEOUT, **env) -> subprocess.CompletedProcess:
    """``mpiexec -n ranks python distributed_worker.py out mode``, one thread per rank."""
    environment = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                   **{key: str(value) for key, value in env.items()}}
    command = [_mpiexec(), "-n", str(ranks), sys.executable, str(WORKER), str(out), mode]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)


@pytest.fixture(scope="module")
def one_process():
    """Every case trained here, on one process without nnxp.distributed: the reference."""
    from nnxp.backend import make_backend
    from nnxp.ops.warmup import warm_up

    warm_up(make_backend("cpu", "float64", "numba"))  # the ranks then load the kernels from Numba's cache
    with nnxp.use_backend("cpu", dtype="float64"):
        return {case: worker.train_case(case) for case in worker.CASES}


_RUNS: dict[int, tuple] = {}
_OUTPUT: dict[int, str] = {}  # what the ranks of each run printed, together


def _train_on(ranks: int, tmp_path_factory) -> tuple:
    """One mpiexec run of every case on ``ranks`` ranks, once per session: (ranks, what
    each rank reported, the weights and history each rank wrote per case)."""
    if ranks not in _RUNS:
        out = tmp_path_factory.mktemp(f"ranks{ranks}")
        run = run_worker(ranks, "train", out)
        assert run.returncode == 0, f"mpiexec -n {ranks} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        _OUTPUT[ranks] = run.stdout
        reports = [json.loads((out / f"rank{r}.json").read_text()) for r in range(ranks)]
        trained = {case: [np.load(out / f"{case}-rank{r}.npz") for r in range(ranks)] for case in worker.CASES}
        _RUNS[ranks] = ranks, reports, trained
    return _RUNS[ranks]


@pytest.fixture(scope="module", params=[2, 3], ids=["2 ranks", "3 ranks"])
def ranks_run(request, one_process, tmp_path_factory):
    return _train_on(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def two_ranks_run(one_process, tmp_path_factory):
    """The 2-rank run, which also holds the disagreement checks."""
    return _train_on(2, tmp_path_factory)


# --------------------------------------------------------------------------- one process (no MPI)


def test_shares_cover_the_batch_in_rank_order_and_differ_by_at_most_one_row():
    for rows in (1, 2, 5, 10, 31, 64):
        for ranks in (1, 2, 3, 4, 7):
            shares = [share_of(rows, ranks, r) for r in range(ranks)]
            assert [s.start for s in shares] == [0] + [s.stop for s in shares[:-1]]
            assert shares[-1].stop == rows
            sizes = [s.stop - s.start for s in shares]
            assert max(sizes) - min(sizes) <= 1 and sorted(sizes, reverse=True) == sizes
    assert [(s.start, s.stop) for s in (share_of(10, 3, r) for r in range(3))] == [(0, 4), (4, 7), (7, 10)]
    assert [share_of(1, 3, r).stop - share_of(1, 3, r).start for r in range(3)] == [1, 0, 0]


def test_the_fused_buffer_packs_weights_pads_and_unpacks_every_gradient():
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 1, 3)]  # 22 values
    gradients = [rng.standard_normal(shape) for shape in shapes]
    layout = GradientLayout(shapes, ranks=3)
    assert (layout.values, layout.chunk, layout.padding) == (22, 8, 2)
    buffer = layout.pack(gradients, 0.25)
    assert buffer.shape == (24,) and np.all(buffer[22:] == 0)
    np.testing.assert_array_equal(buffer[:22], np.concatenate([g.ravel() for g in gradients]) * 0.25)
    for unpacked, gradient in zip(layout.unpack(buffer), gradients):
        np.testing.assert_array_equal(unpacked, gradient * 0.25)
    with np.errstate(invalid="ignore"):
        empty = layout.pack([np.full(shape, np.nan) for shape in shapes], 0.0)  # stale values of an empty share
    assert np.all(empty == 0)


def test_the_sum_adds_in_rank_order_whatever_the_values():
    parts = np.array([[1.0, 1e16], [1e16, 1.0], [-1e16, -1e16]])  # three ranks' copies of a chunk of 2
    # in rank order, (1 + 1e16) - 1e16 = 0 in float64 (1e16 + 1 rounds to 1e16); from the last
    # rank up, (-1e16 + 1e16) + 1 = 1 in the first column: the test sees the order, not only the sum
    np.testing.assert_array_equal(sum_in_rank_order(parts), [0.0, 0.0])
    np.testing.assert_array_equal(sum_in_rank_order(parts[::-1]), [1.0, 0.0])


def test_without_init_this_process_is_rank_0_of_1():
    import nnxp.distributed as dist

    assert (dist.rank(), dist.size(), dist.is_main(), dist.statistics()) == (0, 1, True, None)


def test_init_without_mpi4py_says_what_to_install(monkeypatch):
    import nnxp.distributed as dist

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mpi4py" else _find(name, *a))
    with pytest.raises(dist.DistributedError, match=r"needs mpi4py.*pip install 'nnxp\[distributed\]'.*mpich"):
        dist.init("mpi")
    ok, why = dist.available()["mpi"]
    assert not ok and "mpi4py is not installed" in why


_find = importlib.util.find_spec


def test_init_without_an_mpi_library_says_what_to_install(monkeypatch):
    import nnxp.distributed as dist

    mpi4py = pytest.importorskip("mpi4py")
    monkeypatch.delattr(mpi4py, "MPI", raising=False)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)  # the import of the library then fails
    with pytest.raises(dist.DistributedError, match="cannot load an MPI library.*pip install mpich"):
        dist.init("mpi")


def test_init_checks_its_arguments():
    import nnxp.distributed as dist

    with pytest.raises(ValueError, match="kind must be one of .*'mpi', 'nccl'.* got 'gloo'"):
        dist.init("gloo")
    with pytest.raises(ValueError, match="timeout must be > 0 seconds, got 0"):
        dist.init("mpi", timeout=0)


# --------------------------------------------------------------------------- R ranks


def test_every_rank_ends_with_one_process_weights(ranks_run, one_process):
    ranks, _, trained = ranks_run
    for case in worker.CASES:
        reference_weights, reference_history = one_process[case]
        rank0 = trained[case][0]
        for r in range(1, ranks):  # the sums are the same bits on every rank, and so are the weights
            for key in reference_weights:
                np.testing.assert_array_equal(trained[case][r][key], rank0[key], err_msg=f"{case} rank {r} {key}")
        moved = 0.0
        for key, expected in reference_weights.items():
            difference = np.max(np.abs(rank0[key] - expected), initial=0.0)
            assert difference < 1e-10, f"{case} on {ranks} ranks: {key} differs from one process's by {difference}"
            moved = max(moved, np.max(np.abs(expected - _initial(case)[key]), initial=0.0))
        assert moved > 1e-3, f"{case}: training did not move the weights, the comparison would prove nothing"
        history = json.loads(str(rank0["history"]))
        for r in range(1, ranks):  # every rank reports the same figures
            assert json.loads(str(trained[case][r]["history"])) == history, f"{case}: rank {r}'s history"
        assert set(history) == set(reference_history)
        for key, values in reference_history.items():  # the reported figures are one process's
            np.testing.assert_allclose(history[key], values, rtol=0, atol=1e-10, err_msg=f"{case} {key}")


def _initial(case: str) -> dict:
    """The weights of a case before training (fit draws them at its first call: 0 epochs)."""
    with nnxp.use_backend("cpu", dtype="float64"):
        if case == "fit":
            saved, worker.EPOCHS = worker.EPOCHS, 0
            try:
                return worker.train_case("fit")[0]
            finally:
                worker.EPOCHS = saved
        return worker.weights(worker.build_case(case))


def test_summary_and_report_print_on_the_main_rank_only(ranks_run):
    ranks = ranks_run[0]
    assert _OUTPUT[ranks].count("shown once on cpu") == 1  # the title of summary's table
    assert _OUTPUT[ranks].count("shown once: 0 epochs") == 1  # the title of report's table


def test_every_step_sums_one_buffer_of_every_gradient(ranks_run):
    ranks, reports, _ = ranks_run
    steps = 4 * worker.EPOCHS * len(worker.CASES)  # 31 training samples in batches of 10: 4 steps an epoch
    for report in reports:
        stats = report["statistics"]
        assert (stats["kind"], stats["ranks"], stats["steps"]) == ("mpi", ranks, steps)
        values = 6 * 5 + 5 + 5 * 3 + 3  # the last case's (fit) model: Dense 6->5, Dense 5->3
        chunk = -(-values // ranks)
        assert stats["values"] == values and stats["bytes_per_step"] == 2 * (ranks - 1) * chunk * 8
        assert stats["communication_seconds"] > 0


def test_the_nccl_path_sums_what_the_mpi_path_sums_in_rank_order(ranks_run):
    """The NCCL transport, over a stand-in for NCCL on the CPU, against the MPI transport and
    against the weighted sum in rank order computed here."""
    ranks, reports, _ = ranks_run
    for dtype in ("float64", "float32"):
        weights = [(s.stop - s.start) / worker.REDUCTION_ROWS
                   for s in (share_of(worker.REDUCTION_ROWS, ranks, r) for r in range(ranks))]
        per_rank = [worker.reduction_gradients(r, dtype) for r in range(ranks)]
        expected = []
        for index in range(len(worker.REDUCTION_SHAPES)):
            total = per_rank[0][index] * np.dtype(dtype).type(weights[0])
            for r in range(1, ranks):
                total = total + per_rank[r][index] * np.dtype(dtype).type(weights[r])
            expected.append(total)
        if ranks > 2:  # two numbers add the same either way; three need not
            reverse = sum(per_rank[r][0] * np.dtype(dtype).type(weights[r]) for r in reversed(range(ranks)))
            assert np.any(reverse != expected[0]), "these values do not show the order of the sum"
        for report in reports:
            for path in ("mpi", "nccl"):
                got = report["reductions"][f"{path} {dtype}"]
                for index, want in enumerate(expected):
                    np.testing.assert_array_equal(np.asarray(got[index], dtype=dtype), want,
                                                  err_msg=f"{path} {dtype} gradient {index}")


def test_ranks_that_disagree_stop_at_the_first_step_naming_the_rank_and_the_difference(two_ranks_run):
    _, reports, _ = two_ranks_run
    expected = {"seed": ["rank 1 has seed 2, rank 0 has 1", "rank 1 has weights (checksum)"],
                "samples": ["rank 1 has training samples 30, rank 0 has 31"],
                "layers": ["rank 1 has layers [1] 'Dense W (6, 6), b (6,)', rank 0 has 'Dense W (6, 5), b (5,)'"],
                "dtype": ["rank 1 has dtype 'float32', rank 0 has 'float64'"],
                "batchnorm": ["BatchNorm layer", "does not support BatchNorm", "statistics of its own share"]}
    for report in reports:  # every rank raises the same error, so that no rank waits for another
        for case, parts in expected.items():
            message = report["disagreements"][case]
            assert message is not None, f"{case}: the ranks disagreed and nothing said so"
            for part in parts:
                assert part in message, f"{case}: {part!r} not in {message!r}"
    assert reports[0]["disagreements"] == reports[1]["disagreements"]


def test_init_nccl_without_cupy_says_what_to_install(two_ranks_run):
    _, reports, _ = two_ranks_run
    message = reports[0]["nccl without cupy"]
    if message is None:
        pytest.skip("CuPy is installed here: init('nccl') has no such error to give")
    assert "init('nccl') needs CuPy, which is not installed" in message and "pip install 'nnxp[gpu-cu12]'" in message


def test_a_rank_that_raises_ends_the_job_with_its_error(tmp_path):
    run = run_worker(2, "raise", tmp_path, timeout=120)
    assert run.returncode != 0
    assert "RuntimeError: rank 1 fails on purpose at its third step" in run.stderr
    assert "nnxp.distributed: rank 1 of 2 stopped with RuntimeError; aborting every rank" in run.stderr


def test_a_rank_that_is_killed_ends_the_job(tmp_path):
    """MPICH's mpiexec ends the job when a rank dies of a signal; elsewhere the deadline would."""
    run = run_worker(2, "kill", tmp_path, timeout=120, NNXP_TEST_TIMEOUT=5)
    assert run.returncode != 0


def test_a_rank_that_leaves_early_ends_the_job_after_the_deadline(tmp_path):
    run = run_worker(2, "exit", tmp_path, timeout=120, NNXP_TEST_TIMEOUT=3)
    assert run.returncode != 0
    # whichever rank's deadline passes first aborts the job: the one left waiting, or the one that left
    assert "within 3 s" in run.stderr and "aborting every rank" in run.stderr


def test_the_demo_runs_on_two_ranks_and_reports_once_with_its_communication(tmp_path):
    pytest.importorskip("sklearn", reason="the demo's digits ship with scikit-learn")
    environment = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    command = [_mpiexec(), "-n", "2", sys.executable, "-m", "nnxp.cli", "demo", "--distributed", "--epochs", "2",
               "--out", str(tmp_path), "--kernels", "reference"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=environment)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for once in ("learns the handwritten digits", "input X", "never seen in training", "2 ranks (mpi), "):
        assert out.count(once) == 1, f"{once!r} printed {out.count(once)} times: only the main rank prints"
    assert "communicating" in out and "2,410 gradient values a step; each rank sends 9.6 kB a step" in out
    assert (tmp_path / "demo-mlp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_info_says_whether_mpi_and_nccl_are_usable_and_why(capsys):
    import nnxp.distributed as dist
    from nnxp import cli

    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for kind, (ok, why) in dist.available().items():
        assert f"distributed {kind}: {'yes' if ok else 'no'} ({why[:40]}" in out.replace("\n", "")
    ok, why = dist.available()["mpi"]
    if importlib.util.find_spec("mpi4py") is not None and ok:
        assert why.startswith("mpi4py ") and "mpiexec" in why


# --------------------------------------------------------------------------- NCCL on GPUs


def _gpus() -> int:
    try:
        import cupy
        from cupy.cuda import nccl

        return cupy.cuda.runtime.getDeviceCount() if nccl.available else 0
    except Exception:
        return 0


@pytest.mark.gpu
@pytest.mark.skipif(_gpus() < 2, reason="NCCL training needs at least two GPUs with CuPy's NCCL")
def test_two_gpus_over_nccl_end_with_one_gpu_weights(tmp_path):
    run = run_worker(2, "nccl", tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    with nnxp.use_backend("gpu", dtype="float64"):
        for case in ("mlp", "cnn", "lstm"):
            reference, _ = worker.train_case(case)
            ranks = [np.load(tmp_path / f"{case}-rank{r}.npz") for r in range(2)]
            for key, expected in reference.items():
                np.testing.assert_array_equal(ranks[1][key], ranks[0][key])
                assert np.max(np.abs(ranks[0][key] - expected), initial=0.0) < 1e-10, f"{case} {key}"
    report = json.loads((tmp_path / "rank0.json").read_text())
    assert report["statistics"]["kind"] == "nccl" and report["statistics"]["steps"] > 0
