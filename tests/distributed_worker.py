"""The script that tests/test_distributed.py starts under ``mpiexec``; also its reference.

    mpiexec -n R python tests/distributed_worker.py OUT train        the cases, the checks, the sums
    mpiexec -n 2 python tests/distributed_worker.py OUT raise        rank 1 raises at its third step
    mpiexec -n 2 python tests/distributed_worker.py OUT exit         rank 1 leaves at its third step
    mpiexec -n 2 python tests/distributed_worker.py OUT kill         rank 1 is killed at its third step
    mpiexec -n 2 python tests/distributed_worker.py OUT nccl         the cases on GPUs, sums through NCCL

Each rank writes what it ends with into OUT: the weights and history of every case
(``<case>-rank<r>.npz``), the messages of the disagreement checks and the results of the
reduction test (``rank<r>.json``). The test trains the same cases on one process, with
``train_case`` from this file, and compares.

The models are tiny (the CI machine has 2 cores, and ``-n 3`` oversubscribes them), float64,
and each case has batches that the ranks cannot share evenly, and a last batch of one row, so
that some ranks get an empty share.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np

import nnxp
from nnxp.layers import LSTM, BatchNorm, Convolution, Dense, Dropout, Embedding, Flatten, Pooling

CASES = ("mlp", "cnn", "lstm", "dropout", "fit")
EPOCHS = 3


def data(kind: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = {"flat": (6,), "image": (6, 6, 2), "sequence": (4, 3)}[kind]
    return rng.standard_normal((n, *shape)), rng.integers(0, 3, n)


def build_case(case: str, seed: int = 1, samples: int = 41, body=None):
    """An initialized model; 41 samples = 31 to train (batches 10, 10, 10, 1) + 10 to validate."""
    kind = {"cnn": "image", "lstm": "sequence"}.get(case, "flat")
    X, y = data(kind, samples)
    embedding = Embedding(X, y, Y_encode=True, relative_size=(3, 1, 0), batch_size=10, seed=seed)
    if body is None:
        body = {"mlp": [Dense(5, "tanh")],
                "dropout": [Dense(8, "relu"), Dropout(0.3), Dense(6, "relu")],
                "cnn": [Convolution(3, 3, padding=1, activation="relu"), Pooling(2, mode="max"), Flatten()],
                "lstm": [LSTM(4)]}[case]
    optimizer = {"mlp": "adam", "dropout": "rmsprop", "lstm": "momentum",
                 "cnn": nnxp.optimizers.SGD(0.1, clip_norm=0.5, weight_decay=1e-3)}[case]
    model = nnxp.Model([embedding, *body, Dense(3, "softmax")], name=case)
    model.initialize(loss="CCE", metrics=["accuracy", "fscore"], seed=seed, optimizer=optimizer, verbose=False)
    return model


def train_case(case: str):
    """(weights, history) after EPOCHS epochs: the same on one process and on R ranks."""
    if case == "fit":  # the Keras way: compile + fit, the model inserts its own Embedding
        X, y = data("flat", 42)  # fit keeps Keras's int(42 * 0.75) = 31 first rows to train, as the others
        model = nnxp.Model([Dense(5, "relu"), Dense(3, "softmax")], name="fit")
        model.compile(loss="CCE", optimizer="adam", metrics=["accuracy"], seed=2)
        model.fit(X, nnxp.one_hot(y), epochs=EPOCHS, batch_size=10, validation_split=0.25, verbose=0)
    else:
        model = build_case(case)
        model.train(epochs=EPOCHS, verbose=0)
    return weights(model), {key: list(values) for key, values in model.history.history.items()}


def weights(model) -> dict:
    return {f"{i}/{name}": nnxp.to_numpy(value) for i, layer in enumerate(model.layers) for name, value in
            layer.p.items()}


# --------------------------------------------------------------------------- disagreements


def disagreement(case: str, rank: int):
    """A model that differs on rank 1 (or, for BatchNorm, one that no rank may train)."""
    if case == "seed":
        return build_case("mlp", seed=1 + rank)
    if case == "samples":
        return build_case("mlp", samples=41 - rank)
    if case == "layers":
        return build_case("mlp", body=[Dense(5 + rank, "tanh")])
    if case == "dtype":
        with nnxp.use_backend("cpu", dtype="float32" if rank else "float64"):
            return build_case("mlp")
    if case == "batchnorm":
        return build_case("mlp", body=[Dense(5), BatchNorm(), Dense(4, "relu")])
    raise ValueError(case)


def run_disagreements(rank: int) -> dict:
    import nnxp.distributed as dist

    messages = {}
    for case in ("seed", "samples", "layers", "dtype", "batchnorm"):
        model = disagreement(case, rank)
        try:
            model.train(epochs=1, verbose=0)
            messages[case] = None
        except dist.DistributedError as error:  # raised on every rank alike: the ranks go on together
            messages[case] = str(error)
    return messages


# --------------------------------------------------------------------------- the sums, MPI against NCCL

REDUCTION_SHAPES = [(3, 4), (4,), (5,)]  # 21 values: padded to 22 on 2 ranks, 21 on 3
REDUCTION_ROWS = 10  # the batch whose shares weigh the gradients


def reduction_gradients(rank: int, dtype) -> list:
    """Rank-specific gradients of many magnitudes, so that the order of the sum shows."""
    rng = np.random.default_rng(100 + rank)
    return [(rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)).astype(dtype)
            for shape in REDUCTION_SHAPES]


def run_reductions(strategy) -> dict:
    """The MPI path's sum and the NCCL path's (over a stand-in for NCCL on the CPU), per dtype."""
    from fake_nccl import FakeNccl

    from nnxp.distributed.gradients import GradientLayout, share_of, sum_in_rank_order
    from nnxp.distributed.transports import MpiTransport, NcclTransport

    comm, rank, size = strategy.comm, strategy.rank, strategy.size
    fake = FakeNccl(comm)
    transports = {"mpi": MpiTransport(comm, 60.0), "nccl": NcclTransport(fake.communicator(), fake, size, 60.0)}
    share = share_of(REDUCTION_ROWS, size, rank)
    weight = (share.stop - share.start) / REDUCTION_ROWS
    results = {}
    for dtype in ("float64", "float32"):
        layout = GradientLayout(REDUCTION_SHAPES, size)
        for name, transport in transports.items():
            buffer = layout.pack([np.asarray(g) for g in reduction_gradients(rank, dtype)], weight)
            whole = transport.gather(sum_in_rank_order(transport.exchange(buffer)))
            results[f"{name} {dtype}"] = [g.tolist() for g in layout.unpack(whole)]
    return results


def nccl_without_cupy(strategy):
    """What init("nccl") says where CuPy is missing (None where it is installed)."""
    import importlib.util

    from mpi4py import MPI

    import nnxp.distributed as dist

    if importlib.util.find_spec("cupy") is not None:
        return None
    try:
        dist._nccl_transport(strategy.comm, MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED), 1.0)
    except dist.DistributedError as error:
        return str(error)
    return "no error"


# --------------------------------------------------------------------------- the modes


def main(out: str, mode: str) -> None:
    import nnxp.distributed as dist

    kind = "nccl" if mode == "nccl" else "mpi"
    strategy = dist.init(kind, timeout=float(os.environ.get("NNXP_TEST_TIMEOUT", 60)))
    rank = dist.rank()
    nnxp.set_backend("gpu" if kind == "nccl" else "cpu", dtype="float64")
    if mode in ("raise", "exit", "kill"):
        model = build_case("mlp")
        original, steps = model.train_step, []

        def failing_step(X, Y):
            steps.append(1)
            if rank == 1 and len(steps) == 3:
                if mode == "raise":
                    raise RuntimeError("rank 1 fails on purpose at its third step")
                if mode == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)  # dies at once: no Python, no MPI left to say so
                sys.exit(3)  # leaves without an exception: the others must not wait forever
            original(X, Y)

        model.train_step = failing_step
        model.train(epochs=EPOCHS, verbose=0)
        return
    cases = CASES if kind == "mpi" else ("mlp", "cnn", "lstm")
    for case in cases:
        trained, history = train_case(case)
        np.savez(os.path.join(out, f"{case}-rank{rank}.npz"), **trained, history=json.dumps(history))
    shown = build_case("mlp")
    shown.name = "shown once"
    shown.summary(), shown.report()  # tables on the main rank only: the test counts them in the output
    report = {"size": dist.size(), "statistics": vars(dist.statistics())}
    if kind == "mpi":
        report["reductions"] = run_reductions(strategy)
        if dist.size() == 2:
            report["disagreements"] = run_disagreements(rank)
            report["nccl without cupy"] = nccl_without_cupy(strategy)
    with open(os.path.join(out, f"rank{rank}.json"), "w") as stream:
        json.dump(report, stream)


if __name__ == "__main__":
    main(*sys.argv[1:3])
