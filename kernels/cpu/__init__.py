"""Numba CPU kernels (numba.njit): plain NumPy-typed loops, cached on disk."""
