"""Numba-CUDA kernels (numba.cuda.jit), the same function names as ``nnxp.kernels.cpu``."""
