"""Losses: dL/dA against finite differences of L, the fused dL/dZ against finite
differences through the output activation, values and gradients against PyTorch, and
finite values at the edges A = 0 and A = 1."""

import numpy as np
import pytest

from gradcheck import assert_close, numerical_gradient
from nnxp.activations import Sigmoid, Softmax
from nnxp.backend import to_numpy
from nnxp.losses import LOSSES, get_loss

SHAPES = [(5, 3), (3, 4, 3)]  # samples x classes, and samples x steps x classes


def targets_and_outputs(name, shape, rng):
    """(A, Y) in the domain of each loss, A away from the clipping edges."""
    A = rng.uniform(0.05, 0.95, shape)
    if name == "CCE":
        A = A / A.sum(-1, keepdims=True)
        Y = np.eye(shape[-1])[rng.integers(shape[-1], size=shape[:-1])]
    elif name in ("BCE", "Hellinger"):
        Y = rng.uniform(0, 1, shape)
        if name == "Hellinger":
            A, Y = A / A.sum(-1, keepdims=True), Y / Y.sum(-1, keepdims=True)
    else:
        Y = rng.uniform(0, 2, shape)
        A = A + rng.uniform(0, 1, shape)
    if name == "MAE":  # keep A - Y away from 0, where sign() jumps
        A = np.where(np.abs(A - Y) < 0.05, Y + 0.3, A)
    return A, Y


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_backward_matches_finite_differences_of_forward(array_backend, name, shape, rng):
    loss = get_loss(name)
    A_host, Y_host = targets_and_outputs(name, shape, rng)
    Y = array_backend.asarray(Y_host)
    analytic = to_numpy(loss.backward(array_backend.asarray(A_host), Y))
    assert analytic.shape == A_host.shape

    def value():
        return float(to_numpy(loss(array_backend.asarray(A_host), Y)))

    indices, numeric = numerical_gradient(value, A_host, eps=1e-6, max_entries=100)
    assert_close(analytic.reshape(-1)[indices], numeric, 1e-6, 1e-9, f"{name} backward")


FUSED = [("CCE", Softmax()), ("CCE", Softmax(temperature=0.4)), ("BCE", Sigmoid())]


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
@pytest.mark.parametrize("name, activation", FUSED, ids=["cce-softmax", "cce-softmax-T", "bce-sigmoid"])
def test_fused_gradient_matches_finite_differences_through_the_activation(array_backend, name, activation,
                                                                         shape, rng):
    loss = get_loss(name)
    assert loss.fuses_with(activation)
    Z_host = rng.standard_normal(shape) * 2
    _, Y_host = targets_and_outputs(name, shape, rng)
    Y = array_backend.asarray(Y_host)
    Z = array_backend.asarray(Z_host)
    A = activation(Z)
    fused = loss.fused_backward(A, Y, activation)
    chained = activation.backward(loss.backward(A, Y), Z, A)  # the unfused chain rule

    def value():
        return float(to_numpy(loss(activation(array_backend.asarray(Z_host)), Y)))

    indices, numeric = numerical_gradient(value, Z_host, max_entries=100)
    assert_close(to_numpy(fused).reshape(-1)[indices], numeric, 1e-6, 1e-9, f"{name} fused dZ")
    assert_close(to_numpy(fused), to_numpy(chained), 1e-9, 1e-12, f"{name} fused vs chain rule")


def test_fused_only_with_its_own_activation():
    assert get_loss("CCE").fuses_with(Softmax()) and not get_loss("CCE").fuses_with(Sigmoid())
    assert get_loss("BCE").fuses_with(Sigmoid()) and not get_loss("BCE").fuses_with(Softmax())
    assert not get_loss("MSE").fuses_with(Sigmoid()) and not get_loss("CCE").fuses_with(None)


# --------------------------------------------------------------------------- PyTorch


def test_values_and_gradients_match_pytorch(array_backend, rng, parity_log):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    m, n = 7, 4
    labels = rng.integers(n, size=m)
    one_hot = np.eye(n)[labels]
    references = {  # nnxp name -> (A, Y, torch loss of (A, Y))
        "MSE": (*targets_and_outputs("MSE", (m, n), rng), F.mse_loss),
        "MAE": (*targets_and_outputs("MAE", (m, n), rng), F.l1_loss),
        "BCE": (*targets_and_outputs("BCE", (m, n), rng), F.binary_cross_entropy),
        # Cross-entropy on probabilities: the negative log-likelihood of log(A).
        "CCE": (targets_and_outputs("CCE", (m, n), rng)[0], one_hot,
                lambda A, Y: F.nll_loss(torch.log(A), torch.tensor(labels))),
    }
    for name, (A_host, Y_host, torch_loss) in references.items():
        loss = get_loss(name)
        A, Y = array_backend.asarray(A_host), array_backend.asarray(Y_host)
        A_torch = torch.tensor(A_host, requires_grad=True)
        L_torch = torch_loss(A_torch, torch.tensor(Y_host))
        L_torch.backward()
        assert_close(to_numpy(loss(A, Y)), L_torch.item(), 1e-12, 0, f"{name} value")
        assert_close(to_numpy(loss.backward(A, Y)), A_torch.grad.numpy(), 1e-11, 1e-15, f"{name} dL/dA")
        parity_log.add("losses")


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_fused_gradients_match_pytorch_autograd(array_backend, rng, temperature, parity_log):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    m, n = 6, 5
    Z_host = rng.standard_normal((m, n)) * 3
    labels = rng.integers(n, size=m)
    Y_soft = rng.uniform(0, 1, (m, n))

    softmax = Softmax(temperature)
    Z = array_backend.asarray(Z_host)
    fused = get_loss("CCE").fused_backward(softmax(Z), array_backend.asarray(np.eye(n)[labels]), softmax)
    Z_torch = torch.tensor(Z_host, requires_grad=True)
    F.cross_entropy(Z_torch / temperature, torch.tensor(labels)).backward()
    assert_close(to_numpy(fused), Z_torch.grad.numpy(), 1e-12, 1e-15, "softmax + CCE dZ")

    sigmoid = Sigmoid()
    fused = get_loss("BCE").fused_backward(sigmoid(Z), array_backend.asarray(Y_soft), sigmoid)
    Z_torch = torch.tensor(Z_host, requires_grad=True)
    F.binary_cross_entropy(torch.sigmoid(Z_torch), torch.tensor(Y_soft)).backward()
    assert_close(to_numpy(fused), Z_torch.grad.numpy(), 1e-12, 1e-15, "sigmoid + BCE dZ")
    parity_log.add("losses", 2)


# --------------------------------------------------------------------------- stability


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_finite_when_outputs_reach_0_and_1(array_backend, name, dtype):
    loss = get_loss(name)
    A_host = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    Y_host = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    A, Y = array_backend.asarray(A_host, dtype=dtype), array_backend.asarray(Y_host, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, gradient = loss(A, Y), loss.backward(A, Y)
    assert value.dtype == A.dtype and gradient.dtype == A.dtype, f"{name} left {dtype}"
    assert np.isfinite(float(to_numpy(value))), f"{name} loss not finite"
    assert np.all(np.isfinite(to_numpy(gradient))), f"{name} gradient not finite"
    if name in ("BCE", "CCE"):  # a confident wrong answer costs a lot, but finitely
        assert float(to_numpy(value)) > 3


def test_losses_are_means_over_the_batch(array_backend, rng):
    """Doubling the batch with a copy of itself leaves every loss unchanged."""
    for name in LOSSES:
        A_host, Y_host = targets_and_outputs(name, (4, 3), rng)
        loss = get_loss(name)
        once = float(to_numpy(loss(array_backend.asarray(A_host), array_backend.asarray(Y_host))))
        twice = float(to_numpy(loss(array_backend.asarray(np.concatenate([A_host, A_host])),
                                    array_backend.asarray(np.concatenate([Y_host, Y_host])))))
        assert once == pytest.approx(twice, rel=1e-12), name
        assert once > 0, name


def test_get_loss_names_aliases_and_errors():
    assert get_loss("categorical_crossentropy").name == "CCE"
    assert get_loss("mse").name == "MSE" and get_loss({"name": "BCE"}).name == "BCE"
    assert get_loss(get_loss("MAE").__class__).name == "MAE"
    with pytest.raises(ValueError, match="unknown loss 'CEE'") as error:
        get_loss("CEE")
    assert "CCE" in str(error.value)
    with pytest.raises(TypeError):
        get_loss(1.0)
