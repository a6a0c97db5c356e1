"""Compiled kernels for the hot loops: ``cpu`` (numba.njit) and ``cuda`` (numba.cuda.jit).

Installed as ``nnxp.kernels``. Plain NumPy-typed code: no array-API calls, imported
only by ``nnxp.ops`` when a backend runs in the ``numba`` kernel mode.
"""
