"""One seed, the same weights on every machine: training gives bit-identical weights
with 1, 2 or 3 Numba threads (the kernels' sums over samples use fixed chunks, see
``nnxp.kernels.cpu.chunks``), for a CNN, an LSTM, a GRU and an RNN, in both dtypes.

Run in a subprocess that allows 3 threads (``NUMBA_NUM_THREADS``), so that the test
means the same on a machine of any size, 3 included (an uneven split of a batch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")

TRAIN = textwrap.dedent("""
    import hashlib, json
    import numpy as np
    import nnxp
    from nnxp.layers import GRU, LSTM, RNN, Convolution, Dense, Embedding, Flatten, Pooling

    rng = np.random.default_rng(0)
    images, sequences = rng.standard_normal((80, 7, 7, 2)), rng.standard_normal((80, 5, 3))
    labels = rng.integers(3, size=80)
    bodies = {"cnn": (images, lambda: [Convolution(4, 3), Pooling(2), Flatten()]),
              "lstm": (sequences, lambda: [LSTM(6)]), "gru": (sequences, lambda: [GRU(6)]),
              "rnn": (sequences, lambda: [RNN(6)])}
    digests = {}
    for dtype in ("float32", "float64"):
        for name, (X, body) in bodies.items():
            for threads in (1, 2, 3):
                nnxp.set_num_threads(threads)
                with nnxp.use_backend("cpu", dtype=dtype, kernels="numba"):
                    model = nnxp.Model([Embedding(X, labels, Y_encode=True, relative_size=(1, 0, 0),
                                                  batch_size=40, seed=1), *body(), Dense(3, "softmax")])
                    model.initialize(loss="CCE", optimizer="adam", seed=2, verbose=False)
                    model.train(epochs=2, verbose=0)  # 4 steps; batches of 40: 5 chunks, the parallel variants
                    digest = hashlib.sha256()
                    for layer in model.layers:
                        for key in sorted(layer.p):
                            digest.update(nnxp.to_numpy(layer.p[key]).tobytes())
                digests.setdefault(f"{name} {dtype}", []).append(digest.hexdigest())
    print(json.dumps(digests))
""")


def test_one_two_or_three_threads_train_the_same_weights(tmp_path):
    environment = {**os.environ, "NUMBA_NUM_THREADS": "3"}
    done = subprocess.run([sys.executable, "-c", TRAIN], env=environment, capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    digests = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(digests) == 8
    differ = {model: hashes for model, hashes in digests.items() if len(set(hashes)) != 1}
    assert not differ, f"weights differ between 1, 2 and 3 threads: {sorted(differ)}"
