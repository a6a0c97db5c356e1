"""Finite-difference gradient checks shared by the test files.

For a layer with output A, take the scalar L = sum(A * R) for a fixed random R. Then
dL/dA = R, so ``layer.backward(R)`` must return dL/dX and ``compute_gradients`` must
give dL/dW for every parameter. Each is compared with the central difference

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

in float64 on the host, for a sample of entries (all of them for small arrays).
"""

from __future__ import annotations

import numpy as np

from nnxp.backend import get_backend, to_numpy


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6, max_entries: int = 60, rng=None) -> tuple:
    """Central differences of the scalar f at x; returns (indices checked, gradient there)."""
    rng = rng or np.random.default_rng(0)
    flat = x.reshape(-1)
    indices = np.arange(flat.size) if flat.size <= max_entries else rng.choice(flat.size, max_entries, replace=False)
    gradient = np.empty(len(indices))
    for k, i in enumerate(indices):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        gradient[k] = (plus - minus) / (2 * eps)
    return indices, gradient


def assert_close(actual, expected, rtol: float, atol: float, what: str) -> None:
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = max(np.abs(expected).max(initial=0.0), 1e-12)
    error = np.abs(actual - expected).max(initial=0.0)
    assert error <= atol + rtol * scale, f"{what}: max abs error {error:.3e} (scale {scale:.3e})"


def check_layer_gradients(layer, X_host: np.ndarray, seed: int = 0, eps: float = 1e-6, rtol: float = 1e-6,
                          atol: float = 1e-8, before_forward=None, after_initialize=None, no_gradient=(),
                          check_dX: bool = True) -> None:
    """Check dX and every parameter gradient of ``layer`` against finite differences.

    The layer is initialized on the current backend (which must be float64).
    ``before_forward`` is called before every forward pass (e.g. to reset a random mask);
    ``after_initialize(layer)`` once, after the parameters are drawn (e.g. to set state).
    ``no_gradient`` names entries of ``p`` that have no gradient (BatchNorm's running
    statistics): they are checked to be absent from ``g`` and are not perturbed.
    ``check_dX=False`` skips dX (integer inputs such as token ids have none).
    """
    backend = get_backend()
    assert backend.dtype_name == "float64", "gradient checks need float64"
    X_host = np.array(X_host, dtype=np.float64)
    layer.initialize(backend.asarray(X_host), seed=seed)
    if after_initialize is not None:
        after_initialize(layer)
    before = before_forward or (lambda: None)

    before()
    A = layer.forward(backend.asarray(X_host))
    R_host = np.random.default_rng(seed + 1).standard_normal(tuple(A.shape))
    R = backend.asarray(R_host)
    dX = to_numpy(layer.backward(R))
    layer.compute_gradients()
    for name in no_gradient:
        assert "d" + name not in layer.g, f"{layer.describe()}: {name} should have no gradient"
    analytic = {name: to_numpy(layer.g["d" + name]).copy() for name in layer.p if name not in no_gradient}
    params_host = {name: to_numpy(value).copy() for name, value in layer.p.items()}

    def loss() -> float:
        for name, value in params_host.items():
            layer.p[name] = backend.asarray(value)
        before()
        return float(np.sum(to_numpy(layer.forward(backend.asarray(X_host))) * R_host))

    if check_dX:
        indices, numeric = numerical_gradient(loss, X_host, eps)
        assert_close(dX.reshape(-1)[indices], numeric, rtol, atol, f"{layer.describe()} dX")
    for name in analytic:
        indices, numeric = numerical_gradient(loss, params_host[name], eps)
        assert_close(analytic[name].reshape(-1)[indices], numeric, rtol, atol, f"{layer.describe()} d{name}")
    for name, value in params_host.items():  # leave the layer as it was
        layer.p[name] = backend.asarray(value)
