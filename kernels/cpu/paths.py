"""Which CPU kernel does an op's work: the direct Numba loops, or BLAS products.

Every op of this package has two kernels:

* ``direct`` (``conv.py``, ``recurrent.py``): Numba loops do everything, the matrix
  products included, tuned for the small layers of the classroom (a few channels or
  filters, 32 units); the samples run in parallel on Numba's threads;
* ``blas`` (``conv_gemm.py``, ``recurrent_blas.py``): the products go to BLAS, one call
  per chunk of samples (and per step), and Numba does what lies between them; the
  chunks run in parallel on Numba's threads (``workers.py``).

Convolutions of 3x3 filters at stride 1 have a third, ``winograd`` (``conv_winograd.py``):
Winograd's F(4x4, 3x3), whose 36 products per tile of 4x4 outputs do the work of 144,
on BLAS in chunks as ``blas``.

Small layers are faster direct (a BLAS call costs microseconds of set-up, and a
product with 8 columns keeps few of its SIMD lanes busy); large ones through BLAS,
whose products run near the core's peak. Where one turns into the other was measured
on the project's 2-core machine (AMD EPYC, OpenBLAS 0.3.31, 2 threads; the tables are
in benchmarks/RESULTS.md, the probes in benchmarks/probes/conv_paths.py and
recurrent_paths.py), and is written down below as a rule of the shapes and the dtype
alone. Never of the number of threads: every path gives the same results on 1, 2 or 3
threads, but not the same as each other (sums in another order), so a rule that looked
at the threads would train one seed to different weights on different machines.

``NNXP_CPU_PATH=direct``, ``blas`` or ``winograd`` (or ``forced(...)``, for tests) makes
every op take that path (``winograd``: every convolution it can compute, the others and
the recurrent ops on ``blas``); ``taken()`` tells which path each op of this thread took
since it was last asked (``nnxp.ops.paths_taken``, which the profile shows).
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading

import numpy as np

DIRECT, BLAS, WINOGRAD = "direct", "blas", "winograd"
PATHS = (DIRECT, BLAS)  # every op's two kernels
CONV_PATHS = (DIRECT, BLAS, WINOGRAD)  # a convolution's, for 3x3 filters at stride 1

_forced = threading.local()  # a forced path in this thread (tests), over the environment's


# --------------------------------------------------------------------------- the rule
# Convolution, 2 threads, forward + backward with ReLU applied by both kernels, blas /
# direct, the median of 3-5 interleaved rounds (benchmarks/RESULTS.md has the tables).
# K = kh * kw * C numbers a window, F filters:
#
#   * 8 filters lose through BLAS at any depth (1.5-2.6x slower), and one input channel
#     up to 32 filters (W2, 1 -> 8 3x3: 2.4-2.7x; W6's first layer, 1 -> 6 5x5: 2.8-3x):
#     the direct loops read the image once for four filters, and im2col copies every
#     pixel K / C times for a product with few columns, which BLAS runs far from its peak;
#   * float32: BLAS won from 32 filters on a window of 27 (W7's first layer, 3 -> 32 3x3:
#     0.86-0.89, until the direct loops' later changes, below; 32 -> 64: 0.67-0.80), and
#     from 16 on a window of 144 (W6's second layer, 6 -> 16 5x5: 0.76-0.80; 32 -> 16
#     3x3: 0.84-0.91; 8 -> 16, K = 72: 1.11-1.18 slower);
#   * float64, whose products run at half the float32 rate while the loops keep up: once
#     a win for shallow windows with many filters (W7's first layer, K = 27: 0.81-0.92;
#     K = 9 or 72 and 32 filters: 1.05-1.2 slower), a loss since the loops' last change
#     (below), a tie for W6's second layer (16 filters, K = 150: 0.98-1.11), and for
#     deep windows with 64 filters mostly a win:
#     W7's second layer (K = 288) 0.72-0.77 in four runs of 2026-12-01 and 1.06 in one
#     (the direct loops' time moved 78-106 ms between runs, BLAS's 74-82), and W7's
#     float64 epoch 499 -> 459 ms with it on BLAS.
#
# Measured again once the direct loops went by kernel row (conv.py; 2026-12-01, each
# direction alone, OpenBLAS's own AVX-512 kernels, gemm / direct): the rule still holds
# both ways. Forward: W2 and W6's first layer 2.1-2.9 (direct), W6's second float32 0.89
# and float64 1.56 (direct for float64, whose loops now run 2.8x faster), W7's first
# 0.88 / 0.96, its second 0.62 / 0.81. Backward: W2 and W6's first 3.1-6 (a first layer's
# dW alone, by kernel row), W6's second 0.72 / 1.07, W7's first 0.71 / 0.76, its second
# 0.48 / 0.74. With the Haswell kernels of the tests' environment BLAS loses the float32
# ties (W6's second: 1.24 forward, 0.93 backward): the rule follows what a user's
# machine runs. Once the BLAS kernels' chunks ran on Numba's own threads (workers.py;
# 2026-12-01, late), forward + backward (benchmarks/probes/conv_paths.py, 5 rounds):
# W2 2.44 / 2.12, W6's first 3.54 / 2.59, W6's second 0.74 / 1.12, W7's first 0.79 /
# 0.96, its second 0.56 / 0.98 (float32 / float64): the rule holds. Then the direct
# loops' ReLU passes moved out of their transposes (conv.py), and W7's first layer tipped:
# 1.05 / 1.20 (1.02-1.10 / 1.16-1.23; the benchmarks' op table 1.24 and 1.39 in float64).
# In float64 it goes direct now (W7's float64 epoch 0.98x); in float32, a tie within 10%
# whose epoch ran 1.025x slower direct, it stayed on BLAS. Measured once more on a fresh
# machine (2026-12-01, late; probe, 7 rounds): float32 1.097 (1.003-1.136), the line of
# the 10% the rule may lose, and each direction alone (1 sample of each, 2 threads) forward
# 5.5 / 5.6 ms, backward 8.7-9.5 (BLAS) / 6.3-6.6 (direct: its ReLU pass and dW per
# sample, where BLAS's chunks read dA and A for the mask, im2col and a product of 27
# columns, at 73 GFLOP/s); W7's float32 epoch 0.974x direct (10 interleaved epochs,
# 0.89-1.09). So shallow windows go direct in both dtypes now: BLAS from K = 144.
CONV_RULE = {"float32": ((16, 144),), "float64": ((64, 144),)}  # (filters at least, K at least)


# Winograd (conv_winograd.py, F(4x4, 3x3)), for 3x3 filters at stride 1: its 36 products
# per tile are narrow (K = C) and its transforms read and write 36 x (C + F) numbers per
# 16 outputs, so it pays where C x F is large. Forward + backward with ReLU, 2 threads,
# interleaved rounds (2026-12-02, day; benchmarks/probes/conv_paths.py --grid, 64 images
# of 16x16), winograd / the faster of the other two, float32 / float64: 32 channels to
# 16, 32, 64 filters 0.68 / 0.70, 0.66 / 0.52, 0.69 / 0.50; to 8 filters 1.03 / 1.00;
# 8 channels to 32, 64 filters 1.08 / 0.84, 1.04 / 0.74, to 8, 16 1.13-1.68; 1 or 3
# channels 1.3-6.3. (F(2x2) had won from 32 channels alone, by 0.57-0.81.) W7's second
# layer (32 -> 64, 256 images) alone, against F(2x2): forward 0.83 / 0.88, backward
# 0.74 / 0.74; W7's epoch 0.90 / 0.85 (interleaved epochs, 10 each).
WINOGRAD_RULE = {"float32": ((32, 16),), "float64": ((32, 16), (8, 32))}  # (channels at least, filters at least)


def conv_path(X_shape, W_shape, dtype, strides=(1, 1)) -> str:
    """The path of a convolution of images X_shape (m, H, W, C) by filters W_shape (kh, kw, C, F)
    at ``strides``."""
    kh, kw, C, F = W_shape
    winograd_fits = (kh, kw) == (3, 3) and tuple(strides) == (1, 1)
    forced_path = _override()
    if forced_path == WINOGRAD:
        return WINOGRAD if winograd_fits else BLAS
    if forced_path is not None:
        return forced_path
    name = str(np.dtype(dtype))
    if winograd_fits and any(C >= channels and F >= filters for channels, filters in WINOGRAD_RULE.get(name, ())):
        return WINOGRAD
    K = kh * kw * C
    for filters, low in CONV_RULE.get(name, ()):
        if F >= filters and K >= low:
            return BLAS
    return DIRECT


# Recurrent layers, 2 threads, forward + backward of a whole sequence, blas / direct:
# what decides is the work of a step's product h @ V for the whole batch, m x u x G*u
# multiply-adds. Under 2^19 (W3: 32 x 32 x 128 = 2^17) the direct loops win, 1.3-4.6x
# (a BLAS call and a Numba call per step and chunk, ~20 us, against the work); from 2^21
# on BLAS wins (LSTM 32 x 128 units 0.82-0.91; W8, 128 x 256 x 1024 = 2^25: 0.53-0.54);
# in between it depends on the layer (RNN 128 x 64: 0.77-0.86, LSTM 32 x 64: 0.99-1.49).
RECURRENT_MIN_PRODUCT = 1 << 20


def recurrent_path(samples: int, units: int, gates: int, dtype) -> str:
    """The path of a recurrent op over ``samples`` sequences with ``units`` units and ``gates`` gates."""
    forced_path = _override()
    if forced_path is not None:
        return BLAS if forced_path == WINOGRAD else forced_path  # winograd: convolutions only
    return BLAS if samples * units * gates * units >= RECURRENT_MIN_PRODUCT else DIRECT


# --------------------------------------------------------------------------- forcing a path


def _override() -> str | None:
    path = getattr(_forced, "path", None) or os.environ.get("NNXP_CPU_PATH") or None
    if path is not None and path not in CONV_PATHS:
        raise ValueError(f"NNXP_CPU_PATH must be one of {CONV_PATHS} or unset, got {path!r}")
    return path


@contextlib.contextmanager
def forced(path: str | None):
    """Every op in this thread takes ``path`` ("direct", "blas", "winograd" as NNXP_CPU_PATH;
    None: the rule) inside the block."""
    if path is not None and path not in CONV_PATHS:
        raise ValueError(f"path must be one of {CONV_PATHS} or None, got {path!r}")
    before = getattr(_forced, "path", None)
    _forced.path = path
    try:
        yield
    finally:
        _forced.path = before


def rule() -> dict:
    """The rule in words, for ``nnxp info``."""
    conv = {dtype: " or ".join(f"F >= {f}, K >= {low}" for f, low in clauses) for dtype, clauses in CONV_RULE.items()}
    winograd = "; ".join(f"{d}: " + " or ".join(f"C >= {c}, F >= {f}" for c, f in clauses)
                         for d, clauses in WINOGRAD_RULE.items())
    return {"forced (NNXP_CPU_PATH)": os.environ.get("NNXP_CPU_PATH") or "no",
            "convolution by Winograd (3x3, stride 1, C channels, F filters)": winograd,
            "convolution on BLAS (F filters, K = kh*kw*C)": "; ".join(f"{d}: {r}" for d, r in conv.items()),
            "recurrent on BLAS": f"from m*u*gates*u = {RECURRENT_MIN_PRODUCT} multiply-adds a step"}


# --------------------------------------------------------------------------- which path ran

_log = threading.local()


def note(op: str, path: str) -> str:
    """Remember that ``op`` took ``path`` in this thread (the last 64 ops); returns the path."""
    if not hasattr(_log, "taken"):
        _log.taken = collections.deque(maxlen=64)
    _log.taken.append((op, path))
    return path


def taken() -> list[tuple[str, str]]:
    """The (op, path) of the ops this thread ran since the last call (64 at most), in
    order; forgets them."""
    done = list(getattr(_log, "taken", ()))
    if done:
        _log.taken.clear()
    return done
