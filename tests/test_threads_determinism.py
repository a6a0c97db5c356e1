"""One seed, the same weights on every machine: training gives bit-identical weights
with 1, 2 or 3 Numba threads (the kernels' sums over samples use fixed chunks, see
``nnxp.kernels.cpu.chunks``), for a CNN, an LSTM, a GRU and an RNN, in both dtypes, on
every CPU kernel path: the direct loops, BLAS products (chunks fixed by the shapes, each
on one BLAS thread, see ``nnxp.kernels.cpu.workers``; made small here, so that a batch
of 40 makes several), and Winograd's for the convolutions (chunked as BLAS's).

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
    import hashlib, json, sys
    import numpy as np
    import nnxp
    from nnxp.kernels.cpu import conv_gemm, conv_winograd, paths, recurrent_blas
    path = sys.argv[1]
    from nnxp.layers import GRU, LSTM, RNN, Convolution, Dense, Embedding, Flatten, Pooling

    rng = np.random.default_rng(0)
    images, sequences = rng.standard_normal((80, 7, 7, 2)), rng.standard_normal((80, 5, 3))
    wide_images = rng.standard_normal((80, 12, 12, 8))
    labels = rng.integers(3, size=80)
    # the BLAS path's chunks: small for the small layers (a batch of 40 makes 4 and 20), as
    # they are for the wide ones, whose products are then large enough (3600 x 72 @ 72 x 16,
    # 20 x 64 @ 64 x 256) for OpenBLAS's float32 results to change with its thread count
    small = (20000, 2, 2, 2000)
    as_they_are = (conv_gemm.CHUNK_BYTES, recurrent_blas.MOST_SAMPLES, recurrent_blas.FEWEST_SAMPLES,
                   conv_winograd.CHUNK_BYTES)
    bodies = {"cnn": (images, lambda: [Convolution(4, 3), Pooling(2), Flatten()], small),
              "lstm": (sequences, lambda: [LSTM(6)], small), "gru": (sequences, lambda: [GRU(6)], small),
              "rnn": (sequences, lambda: [RNN(6)], small),
              "wide cnn": (wide_images, lambda: [Convolution(16, 3), Flatten()], as_they_are),
              "wide lstm": (sequences, lambda: [LSTM(64)], as_they_are)}
    digests = {}
    for dtype in ("float32", "float64"):
        for name, (X, body, chunks) in bodies.items():
            (conv_gemm.CHUNK_BYTES, recurrent_blas.MOST_SAMPLES, recurrent_blas.FEWEST_SAMPLES,
             conv_winograd.CHUNK_BYTES) = chunks
            for threads in (1, 2, 3):
                nnxp.set_num_threads(threads)
                with nnxp.use_backend("cpu", dtype=dtype, kernels="numba"), paths.forced(path):
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


@pytest.mark.parametrize("path", ["direct", "blas", "winograd"])
def test_one_two_or_three_threads_train_the_same_weights(tmp_path, path):
    environment = {**os.environ, "NUMBA_NUM_THREADS": "3"}
    done = subprocess.run([sys.executable, "-c", TRAIN, path], env=environment, capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    digests = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(digests) == 12
    differ = {model: hashes for model, hashes in digests.items() if len(set(hashes)) != 1}
    assert not differ, f"weights differ between 1, 2 and 3 threads: {sorted(differ)}"
