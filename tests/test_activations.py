"""Activations: derivatives against finite differences, values and derivatives against
PyTorch, no overflow or NaN for huge finite inputs, and the lookup by name."""

import numpy as np
import pytest

from gradcheck import assert_close, numerical_gradient
from nnxp.activations import ACTIVATIONS, ALIASES, Activation, get_activation
from nnxp.backend import to_numpy

# Parameters that differ from the defaults, so that a forgotten parameter shows.
NON_DEFAULT = {"lrelu": {"alpha": 0.17}, "elu": {"alpha": 0.7}, "softmax": {"temperature": 2.5},
               "elliot": {"steepness": 1.7}, "symmetric_elliot": {"steepness": 0.6}}


def make(name):
    return get_activation({"name": name, **NON_DEFAULT.get(name, {})})


def tie_free_inputs(rng, shape):
    """Standard normal values kept away from 0, where relu-like derivatives jump."""
    Z = rng.standard_normal(shape)
    return np.where(np.abs(Z) < 0.05, 0.3, Z)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_matches_finite_differences(array_backend, name, rng):
    activation = make(name)
    Z_host = tie_free_inputs(rng, (4, 5))
    dA_host = rng.standard_normal((4, 5))
    Z = array_backend.asarray(Z_host)
    A = activation(Z)
    analytic = to_numpy(activation.backward(array_backend.asarray(dA_host), Z, A))

    def loss():
        return float(np.sum(to_numpy(activation(array_backend.asarray(Z_host))) * dA_host))

    indices, numeric = numerical_gradient(loss, Z_host)
    assert_close(analytic.reshape(-1)[indices], numeric, 1e-7, 1e-9, f"{name} backward")


# --------------------------------------------------------------------------- PyTorch


def torch_functions(torch):
    F = torch.nn.functional
    return {
        "relu": F.relu,
        "lrelu": lambda z: F.leaky_relu(z, negative_slope=NON_DEFAULT["lrelu"]["alpha"]),
        "elu": lambda z: F.elu(z, alpha=NON_DEFAULT["elu"]["alpha"]),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softmax": lambda z: torch.softmax(z / NON_DEFAULT["softmax"]["temperature"], dim=-1),
        # F.softplus returns z itself above its threshold (20), 2e-9 off; logaddexp is exact.
        "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),
        "softsign": F.softsign,
    }


@pytest.mark.parametrize("name", ["relu", "lrelu", "elu", "sigmoid", "tanh", "softmax", "softplus", "softsign"])
def test_forward_and_backward_match_pytorch(array_backend, name, rng, parity_log):
    torch = pytest.importorskip("torch")
    activation = make(name)
    # Moderate and large values (softplus switches formula at 20 in PyTorch), tie-free.
    Z_host = tie_free_inputs(rng, (6, 7)) * np.array([1, 1, 1, 3, 10, 30, 100])
    dA_host = rng.standard_normal(Z_host.shape)
    Z = array_backend.asarray(Z_host)
    A = activation(Z)
    dZ = activation.backward(array_backend.asarray(dA_host), Z, A)

    Z_torch = torch.tensor(Z_host, requires_grad=True)
    A_torch = torch_functions(torch)[name](Z_torch)
    (A_torch * torch.tensor(dA_host)).sum().backward()
    assert_close(to_numpy(A), A_torch.detach().numpy(), 1e-12, 1e-15, f"{name} forward")
    assert_close(to_numpy(dZ), Z_torch.grad.numpy(), 1e-12, 1e-15, f"{name} backward")
    parity_log.add("activations")


# --------------------------------------------------------------------------- stability

EXTREMES = [-1e30, -1e4, -80.0, -20.0, -1.0, -1e-30, 0.0, 1e-30, 1.0, 20.0, 80.0, 1e4, 1e30]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_finite_for_huge_and_tiny_inputs(array_backend, name, dtype):
    """No finite input may give inf or NaN, forward or backward, in either precision,
    nor overflow on the way (NumPy is told to raise on overflow and invalid values)."""
    activation = make(name)
    values = np.array(EXTREMES)
    # Rows for softmax: mixed signs, all huge, all equal, one huge among small.
    Z_host = np.stack([values, values[::-1], np.full_like(values, 1e30), np.full_like(values, -1e30),
                       np.where(np.arange(values.size) == 3, 1e30, 1.0)])
    Z = array_backend.asarray(Z_host, dtype=dtype)
    dA = array_backend.asarray(np.ones_like(Z_host), dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        A = activation(Z)
        dZ = activation.backward(dA, Z, A)
    for what, value in (("forward", A), ("backward", dZ)):
        assert value.dtype == Z.dtype, f"{name} {what} turned {dtype} into {value.dtype}"
        host = to_numpy(value)
        assert np.all(np.isfinite(host)), f"{name} {what} not finite in {dtype} at {Z_host[~np.isfinite(host)]}"


def test_bounded_activations_saturate_to_their_limits(array_backend):
    Z = array_backend.asarray(np.array([-1e30, -80.0, 80.0, 1e30]))
    np.testing.assert_allclose(to_numpy(make("sigmoid")(Z)), [0, 0, 1, 1], atol=1e-30)
    np.testing.assert_allclose(to_numpy(make("tanh")(Z)), [-1, -1, 1, 1])
    np.testing.assert_allclose(to_numpy(make("softplus")(Z)), [0, 0, 80, 1e30], atol=1e-30)
    np.testing.assert_allclose(to_numpy(make("softsign")(Z)), [-1, -80 / 81, 80 / 81, 1])


# --------------------------------------------------------------------------- lookup


def test_get_activation_accepts_names_aliases_dicts_objects_and_none():
    for name in ACTIVATIONS:
        activation = make(name)
        rebuilt = get_activation(activation.get_config())
        assert rebuilt == activation and rebuilt is not activation
        assert get_activation(name.upper()).name == name
    for alias, name in ALIASES.items():
        assert get_activation(alias).name == name
    assert get_activation(None).name == "identity"
    relu = make("relu")
    assert get_activation(relu) is relu
    assert get_activation(type(relu)).name == "relu"
    assert isinstance(get_activation("leaky_relu"), Activation)


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'relux'") as error:
        get_activation("relux")
    assert "sigmoid" in str(error.value) and "softmax" in str(error.value)
    with pytest.raises(TypeError, match="int"):
        get_activation(3)
    with pytest.raises(ValueError, match="temperature"):
        get_activation({"name": "softmax", "temperature": 0})
