"""Large arrays recycled from one call to the next: memory the process already holds,
handed out again once nothing else holds it.

A training step allocates the same large arrays at every batch: a layer's caches (Z,
A, the gates of every step), its gradients, the kernels' scratch. NumPy asks the C
allocator, which hands arrays of a few megabytes and more straight from the operating
system and gives them back when they are freed, so that the next batch's arrays start
as fresh pages again: every 4 KB page costs a page fault the first time it is written.
On this project's machine (a virtual machine, where a page fault also goes through the
host) that is a large share of a step: W8's LSTM forward took 22 ms when the memory was
kept, and 24-68 ms, one call in two, when it was returned and taken again (1 thread of
numbers: 2224 page faults a call, ~10 us each).

So the kernels take their large arrays from here. Every array handed out stays in a
pool, keyed by its shape and dtype, and is handed out again when the pool is the only
one holding it: CPython counts the references to every object, and a layer's cache
(``fc["Z"]``), a view of the array (``H[:, -1, :]``), a variable, anything that still
uses it, counts. So an array is never handed out twice at once, and a cache keeps its
numbers until its layer lets go of it (the next batch's forward replaces it).

The pool holds at most MAX_BYTES, the arrays used least recently dropped first, and
``release()`` empties it. Small arrays (under MIN_BYTES) come from NumPy as usual: the
allocator keeps that memory itself.
"""

from __future__ import annotations

import math
import sys
import threading
from collections import OrderedDict

import numpy as np

MIN_BYTES = 1 << 20
MAX_BYTES = 1 << 30

_lock = threading.Lock()
_pool: OrderedDict = OrderedDict()  # (shape, dtype) -> [arrays], the most recently used last
_held = 0  # bytes in the pool

# The references to a pooled array that is free: the pool's list, and the argument of
# sys.getrefcount itself (the loop below reads the list by index, holding no other).
_FREE = 2


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised array: a free one from the pool, or a new one (pooled from now on)."""
    dtype = np.dtype(dtype)
    # math.prod, not np.prod: a kernel asks for several small arrays a call, and np.prod
    # on a tuple cost ~1.5 us of the ~3 us each of them took (W3's LSTM backward: 30 us).
    if math.prod(shape) * dtype.itemsize < MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    shape = tuple(int(s) for s in shape)
    key = (shape, dtype.str)
    with _lock:
        arrays = _pool.get(key)
        if arrays is not None:
            _pool.move_to_end(key)
            for index in range(len(arrays)):
                if sys.getrefcount(arrays[index]) == _FREE:
                    return arrays[index]
        array = np.empty(shape, dtype=dtype)
        _keep(key, array)
        return array


def zeros(shape, dtype) -> np.ndarray:
    """As ``empty``, filled with zeros."""
    if math.prod(shape) * np.dtype(dtype).itemsize < MIN_BYTES:
        return np.zeros(shape, dtype=dtype)
    array = empty(shape, dtype)
    array.fill(0)
    return array


def _keep(key, array) -> None:
    """Pool ``array`` (the lock is held), dropping the least recently used free arrays
    beyond MAX_BYTES."""
    global _held
    _pool.setdefault(key, []).append(array)
    _held += array.nbytes
    for old in list(_pool):
        if _held <= MAX_BYTES:
            break
        if old == key:
            continue
        arrays = _pool[old]
        for index in range(len(arrays) - 1, -1, -1):
            if sys.getrefcount(arrays[index]) == _FREE:
                _held -= arrays[index].nbytes
                del arrays[index]
        if not arrays:
            del _pool[old]


def held() -> int:
    """Bytes the pool holds (in use or free)."""
    return _held


def release() -> None:
    """Empty the pool: the arrays still in use stay valid, their owners hold them."""
    global _held
    with _lock:
        _pool.clear()
        _held = 0
