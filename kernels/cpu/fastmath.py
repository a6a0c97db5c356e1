"""Compiled maths for the CPU kernels: exp and the activations vectorised, blocked products.

The recurrent kernels (``recurrent.py``) are built from the pieces here; they are
Numba functions too (``njit``, cached in nnxp's folder), inlined into the kernels'
loops or called from them. What each piece is for:

* **The activations by code.** A kernel gets each gate's activation as a small int
  code (``kernels/activation_codes.py``). ``activate`` gives f(z) and ``derivative``
  f'(z) for any code as one formula with one division, chosen per value *without a
  branch*: LLVM vectorises choices, not branches.
* **exp, vectorised.** Sigmoid and tanh need exp, and the C library's exp (or tanh) is
  one value at a time. ``exp_term`` computes exp itself (below), in the same pass as
  the activation, within 1 ulp for both dtypes. Every constant comes from ``K``, an
  array of the data's dtype (``constants``), so that float32 data is computed in
  float32 (eight values per AVX2 instruction, not four).
* **Products in blocks of four.** ``h @ W`` adds four rows of W per pass along the
  output row (``add_product_4``: for four samples at once, so that each row of W is
  loaded once for four); ``d @ W^T`` takes sixteen dot products per pass, four rows of
  W for four samples (``add_product_transposed_4``); the weight gradients add four
  steps to four rows of dW per pass. No BLAS: at these sizes (u ~ 32) these loops are about as fast,
  and a BLAS call next to the kernels' parallel loops has OpenBLAS's threads and
  Numba's fight over the cores (measured: 10x slower).

Every inner loop runs along a contiguous row, which LLVM turns into SIMD code. Indices
at an offset are unsigned (``np.uint64``): for a signed index Numba adds a test for
negative values, which stops vectorisation. The kernels use ``error_model="numpy"``
(x / 0 gives inf instead of raising, which would stop vectorisation); the products
allow fused multiply-adds (``contract``) and, in sums, reordering (``reassoc``):
results differ from the reference code by rounding only (see FAST and EXACT below).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import types
from numba.extending import intrinsic, overload

from ..activation_codes import RELU, SIGMOID, SOFTSIGN, TANH
from ..cache import njit  # numba.njit, caching in nnxp's own folder (see kernels/cache.py)

# The products may fuse multiply-adds (``contract``); the step loops and the gate
# formulas inlined into them may not: Numba compiles a step loop once for the serial
# variant and once inside the parallel one (or loads either from its disk cache), and
# LLVM does not always fuse the same operations in both, so with ``contract`` the two
# gave results 1 ulp apart, depending on which was compiled or cached first. Without it
# they are bit-identical, whatever the path (tested), and as fast: the fused products
# are where contract pays (LSTM forward, float64, W3's shapes: 387 us, 383 with it
# everywhere, 438 with it nowhere).
FAST = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}
EXACT = {"cache": True, "error_model": "numpy"}
INLINE = {**EXACT, "inline": "always"}


# --------------------------------------------------------------------------- exp, vectorised
# exp(x) and expm1(x) = exp(x) - 1 for x <= 0, computed so that they vectorise, and
# expm1 loses nothing near 0 (where exp(x) - 1 would cancel): x = n ln2 + r with
# n = round(x / ln2) and r in [-ln2/2, ln2/2] (ln 2 split into a short "hi" part, so
# that n * LN2_HI is exact, and the rest); exp(r) - 1 = r Q(r) with Q the Taylor series
# 1 + r/2 + ... + r^12/13! (relative error < 2e-16 there), summed by Estrin's scheme
# (pairs, then pairs of pairs: a short chain of dependent operations); then
# exp(x) = 2^n (r Q) + 2^n and expm1(x) = 2^n (r Q) + (2^n - 1), exact steps but the
# last. 2^n is built from its bits: exponent n + 1023 in bits 52.. of an int64, read as
# a float64 (float32: n + 127 in bits 23.. of an int32), one instruction that moves no
# data (``_float_from_bits``), so exp, 2^n and the activation are one pass along the row
# (an earlier version went through memory and three passes: the float32 LSTM step's
# activations took 164 us at W3's shapes against 119 now). Below EXP_FLOOR, exp(x) is
# taken as 0 (the values dropped are below the smallest normal number).

# Every constant a formula uses comes from K, an array of the data's dtype, so that
# float32 data is computed in float32 (eight values per AVX2 instruction, not four).
ZERO, ONE, TWO, HALF, LOG2E, LN2_HI, LN2_LO, EXP_FLOOR, TAYLOR = range(9)


@functools.lru_cache(maxsize=None)
def constants(dtype):
    """K for float32 or float64 data (made once per dtype)."""
    dtype = np.dtype(dtype)
    single = dtype == np.float32
    floor = -87.0 if single else -708.0  # exp(floor) is about the smallest normal number
    taylor = [1.0 / math.factorial(k) for k in range(2, 14)]  # 1/2!, ..., 1/13!
    K = np.array([0.0, 1.0, 2.0, 0.5, 1.4426950408889634, 0.693145751953125, 1.4286068203094173e-06, floor]
                 + taylor, dtype=dtype)
    return K


def _expm1_taylor(r, q):
    """exp(r) - 1 = r (1 + r/2! + ... + r^12/13!) by Estrin's scheme, with
    q = (1/2!, 1/3!, ..., 1/13!, 1). Compiled per dtype, see below."""


@overload(_expm1_taylor, inline="always")
def _expm1_taylor_for(r, q):
    """float64 needs the series to r^12/13!; float32 stops at r^6/7!: what is left,
    |r|^7/8! < 5e-9 for |r| <= ln2/2, is below float32's precision (6e-8), and the
    shorter series makes the exponentials of a float32 LSTM step half as costly."""
    if r == types.float32:
        def series(r, q):
            r2 = r * r
            return r * (((q[12] + r * q[0]) + r2 * (q[1] + r * q[2])) + (r2 * r2) * ((q[3] + r * q[4]) + r2 * q[5]))
        return series

    def series(r, q):
        r2 = r * r
        r4 = r2 * r2
        low = ((q[12] + r * q[0]) + r2 * (q[1] + r * q[2])) + r4 * ((q[3] + r * q[4]) + r2 * (q[5] + r * q[6]))
        high = ((q[7] + r * q[8]) + r2 * (q[9] + r * q[10])) + r4 * q[11]
        return r * (low + (r4 * r4) * high)
    return series


@intrinsic
def _float_from_bits(typingctx, bits):
    """The float whose bits are those of the integer ``bits`` (int32 -> float32,
    int64 -> float64): an LLVM bitcast, which moves no data and vectorises."""
    floats = {types.int32: types.float32, types.int64: types.float64}
    if bits not in floats:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(signature.return_type))

    return floats[bits](bits), codegen


def _power_of_two(n):
    """2^n for a whole number n held as a float, in n's dtype. Compiled per dtype, below."""


@overload(_power_of_two, inline="always")
def _power_of_two_for(n):
    if n == types.float32:
        return lambda n: _float_from_bits(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))
    return lambda n: _float_from_bits(np.int64((np.int64(n) + np.int64(1023)) << np.int64(52)))


@njit(**INLINE)
def exp_constants(K):
    """What exp_term needs from K, as a tuple, read once before a loop: a load from K
    inside a loop, which might alias the arrays written there, would stop vectorisation."""
    one = K[ONE]
    q = (K[TAYLOR], K[TAYLOR + 1], K[TAYLOR + 2], K[TAYLOR + 3], K[TAYLOR + 4], K[TAYLOR + 5], K[TAYLOR + 6],
         K[TAYLOR + 7], K[TAYLOR + 8], K[TAYLOR + 9], K[TAYLOR + 10], K[TAYLOR + 11], one)
    return K[ZERO], one, K[TWO], K[HALF], K[EXP_FLOOR], K[LOG2E], K[LN2_HI], K[LN2_LO], q


@njit(**INLINE)
def exp_term(code, z, E):
    """What the activation of code ``code`` needs from exp: exp(-|z|) for sigmoid,
    expm1(-2|z|) for tanh (0 for the others)."""
    zero, one, two, half, floor, log2e, ln2_hi, ln2_lo, q = E
    factor = one if code == SIGMOID else (two if code == TANH else zero)
    minus = one if code == TANH else zero  # expm1 = exp - 1
    x = max(-factor * abs(z), floor)
    n = np.floor(x * log2e + half)
    scale = _power_of_two(n)
    value = scale * _expm1_taylor((x - n * ln2_hi) - n * ln2_lo, q) + (scale - minus)
    return value if -factor * abs(z) > floor else zero - minus


# --------------------------------------------------------------------------- activations
# a = f(z) from z and e = what exp_term gives, and f'(z) from z and a (as the reference
# activations do), each as a formula chosen by the code, without a branch:
#   sigmoid   1 / (1 + e) for z >= 0, e / (1 + e) for z < 0      f' = a (1 - a)
#   tanh      -m / (2 + m), sign of z (m = expm1(-2|z|))         f' = 1 - a^2
#   relu      max(z, 0)                                          f' = 1 if z > 0 else 0
#   softsign  z / (1 + |z|)                                      f' = (1 - |a|)^2
#   identity  z                                                  f' = 1
# NaN stays NaN.


@njit(**INLINE)
def _activation(code, z, e, zero, one, two):
    # One expression of choices, not if/elif: LLVM vectorises choices, not branches.
    positive = z >= 0
    top = (one if positive else e) if code == SIGMOID else (
        (-e if positive else e) if code == TANH else ((z if z > 0 else zero) if code == RELU else z))
    bottom = (one + e) if code == SIGMOID else (
        (two + e) if code == TANH else ((one + abs(z)) if code == SOFTSIGN else one))
    value = top / bottom
    return value if z == z else z


@njit(**INLINE)
def activate(code, z, E):
    """f(z) for the activation of code ``code`` (E: exp_constants)."""
    return _activation(code, z, exp_term(code, z, E), E[0], E[1], E[2])


@njit(**INLINE)
def derivative(code, z, a, zero, one):
    return (a * (one - a)) if code == SIGMOID else (
        (one - a * a) if code == TANH else (
            (one if z > 0 else zero) if code == RELU else (
                ((one - abs(a)) * (one - abs(a))) if code == SOFTSIGN else one)))


# --------------------------------------------------------------------------- products


@njit(**FAST)
def add_product(Out, so, to, H, sh, th, W):
    """Out[so, to] += H[sh, th] @ W, adding four rows of W per pass along the output."""
    rows, width = W.shape
    k = 0
    while k + 4 <= rows:
        h0, h1, h2, h3 = H[sh, th, k], H[sh, th, k + 1], H[sh, th, k + 2], H[sh, th, k + 3]
        for j in range(width):
            Out[so, to, j] += h0 * W[k, j] + h1 * W[k + 1, j] + h2 * W[k + 2, j] + h3 * W[k + 3, j]
        k += 4
    while k < rows:
        for j in range(width):
            Out[so, to, j] += H[sh, th, k] * W[k, j]
        k += 1


@njit(**FAST)
def add_product_4(Out, to, H, th, W, s):
    """Out[s + q, to] += H[s + q, th] @ W for the four samples q = 0..3, each row of W
    read once for all four (add_product reads it once per sample): the same sums, in
    the same order, for every sample; only the loads of W are shared."""
    rows, width = W.shape
    k = 0
    while k + 4 <= rows:
        a0, a1, a2, a3 = H[s, th, k], H[s, th, k + 1], H[s, th, k + 2], H[s, th, k + 3]
        b0, b1, b2, b3 = H[s + 1, th, k], H[s + 1, th, k + 1], H[s + 1, th, k + 2], H[s + 1, th, k + 3]
        c0, c1, c2, c3 = H[s + 2, th, k], H[s + 2, th, k + 1], H[s + 2, th, k + 2], H[s + 2, th, k + 3]
        d0, d1, d2, d3 = H[s + 3, th, k], H[s + 3, th, k + 1], H[s + 3, th, k + 2], H[s + 3, th, k + 3]
        for j in range(width):
            w0, w1, w2, w3 = W[k, j], W[k + 1, j], W[k + 2, j], W[k + 3, j]
            Out[s, to, j] += a0 * w0 + a1 * w1 + a2 * w2 + a3 * w3
            Out[s + 1, to, j] += b0 * w0 + b1 * w1 + b2 * w2 + b3 * w3
            Out[s + 2, to, j] += c0 * w0 + c1 * w1 + c2 * w2 + c3 * w3
            Out[s + 3, to, j] += d0 * w0 + d1 * w1 + d2 * w2 + d3 * w3
        k += 4
    while k < rows:
        for q in range(4):
            h = H[s + q, th, k]
            for j in range(width):
                Out[s + q, to, j] += h * W[k, j]
        k += 1


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def add_product_transposed(Out, so, to, D, s, t, W, zero):
    """Out[so, to] += D[s, t] @ W^T: four dot products with rows of W per pass along D
    (``reassoc`` lets LLVM split each sum into SIMD lanes)."""
    rows, width = W.shape
    k = 0
    while k + 4 <= rows:
        a0 = a1 = a2 = a3 = zero
        for j in range(width):
            d = D[s, t, j]
            a0 += W[k, j] * d
            a1 += W[k + 1, j] * d
            a2 += W[k + 2, j] * d
            a3 += W[k + 3, j] * d
        Out[so, to, k] += a0
        Out[so, to, k + 1] += a1
        Out[so, to, k + 2] += a2
        Out[so, to, k + 3] += a3
        k += 4
    while k < rows:
        a = zero
        for j in range(width):
            a += W[k, j] * D[s, t, j]
        Out[so, to, k] += a
        k += 1


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def add_product_transposed_4(Out, to, D, t, W, s, zero):
    """Out[s + q, to] += D[s + q, t] @ W^T for the four samples q = 0..3: sixteen dot
    products (four rows of W, four samples) per pass along D, each row of W and of D
    loaded once for four (add_product_transposed loads W's once per sample)."""
    rows, width = W.shape
    k = 0
    while k + 4 <= rows:
        a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = zero
        c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = zero
        for j in range(width):
            w0, w1, w2, w3 = W[k, j], W[k + 1, j], W[k + 2, j], W[k + 3, j]
            x0, x1, x2, x3 = D[s, t, j], D[s + 1, t, j], D[s + 2, t, j], D[s + 3, t, j]
            a0 += w0 * x0
            a1 += w1 * x0
            a2 += w2 * x0
            a3 += w3 * x0
            b0 += w0 * x1
            b1 += w1 * x1
            b2 += w2 * x1
            b3 += w3 * x1
            c0 += w0 * x2
            c1 += w1 * x2
            c2 += w2 * x2
            c3 += w3 * x2
            d0 += w0 * x3
            d1 += w1 * x3
            d2 += w2 * x3
            d3 += w3 * x3
        _add_4(Out, s, to, k, a0, a1, a2, a3)
        _add_4(Out, s + 1, to, k, b0, b1, b2, b3)
        _add_4(Out, s + 2, to, k, c0, c1, c2, c3)
        _add_4(Out, s + 3, to, k, d0, d1, d2, d3)
        k += 4
    while k < rows:
        for q in range(4):
            a = zero
            for j in range(width):
                a += W[k, j] * D[s + q, t, j]
            Out[s + q, to, k] += a
        k += 1


@njit(**INLINE)
def _add_4(Out, s, t, k, a0, a1, a2, a3):
    """Out[s, t, k..k+3] += a0..a3."""
    Out[s, t, k] += a0
    Out[s, t, k + 1] += a1
    Out[s, t, k + 2] += a2
    Out[s, t, k + 3] += a3


@njit(**FAST)
def add_weight_gradients(dW, db, H, shift, dZ, first, last):
    """dW += sum over the chunk's (s, t) rows of H[s, t - shift]^T dZ[s, t] (rows with
    t - shift < 0 count as zeros), and db += the sum of the dZ rows when db has any
    length. Four steps and four rows of dW per pass: sixteen values of H in registers,
    each value of dZ loaded once for four rows of dW, and dW loaded and stored a quarter
    as often as step by step (one row of dW per pass: 1.09x / 1.56x the time, float32 /
    float64, W3's shapes, interleaved)."""
    steps = dZ.shape[1]
    rows, width = dW.shape
    for s in range(first, last):
        for t in range(steps if db.shape[0] else 0):
            for j in range(db.shape[0]):
                db[j] += dZ[s, t, j]
        t = shift
        while t + 4 <= steps:
            a = t - shift  # the four rows of H: a .. a + 3
            k = 0
            while k + 4 <= rows:
                a0, a1, a2, a3 = H[s, a, k], H[s, a + 1, k], H[s, a + 2, k], H[s, a + 3, k]
                b0, b1, b2, b3 = H[s, a, k + 1], H[s, a + 1, k + 1], H[s, a + 2, k + 1], H[s, a + 3, k + 1]
                c0, c1, c2, c3 = H[s, a, k + 2], H[s, a + 1, k + 2], H[s, a + 2, k + 2], H[s, a + 3, k + 2]
                d0, d1, d2, d3 = H[s, a, k + 3], H[s, a + 1, k + 3], H[s, a + 2, k + 3], H[s, a + 3, k + 3]
                for j in range(width):
                    z0, z1, z2, z3 = dZ[s, t, j], dZ[s, t + 1, j], dZ[s, t + 2, j], dZ[s, t + 3, j]
                    dW[k, j] += a0 * z0 + a1 * z1 + a2 * z2 + a3 * z3
                    dW[k + 1, j] += b0 * z0 + b1 * z1 + b2 * z2 + b3 * z3
                    dW[k + 2, j] += c0 * z0 + c1 * z1 + c2 * z2 + c3 * z3
                    dW[k + 3, j] += d0 * z0 + d1 * z1 + d2 * z2 + d3 * z3
                k += 4
            while k < rows:  # the last rows of dW, one at a time
                h0, h1, h2, h3 = H[s, a, k], H[s, a + 1, k], H[s, a + 2, k], H[s, a + 3, k]
                for j in range(width):
                    dW[k, j] += h0 * dZ[s, t, j] + h1 * dZ[s, t + 1, j] + h2 * dZ[s, t + 2, j] + h3 * dZ[s, t + 3, j]
                k += 1
            t += 4
        while t < steps:  # the last steps, one at a time
            for k in range(rows):
                for j in range(width):
                    dW[k, j] += H[s, t - shift, k] * dZ[s, t, j]
            t += 1
