"""Dense: gradients against finite differences for every activation, on every backend."""

import numpy as np
import pytest

from gradcheck import check_layer_gradients
from nnxp.activations import ACTIVATIONS
from nnxp.layers import Dense


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dense_gradients_every_activation(backend, activation, rng):
    X = rng.standard_normal((5, 4))
    check_layer_gradients(Dense(3, activation=activation), X)


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_on_sequences_shares_weights_across_steps(backend, use_bias, rng):
    X = rng.standard_normal((3, 4, 5))  # (samples, steps, features)
    check_layer_gradients(Dense(2, activation="tanh", use_bias=use_bias), X)


@pytest.mark.parametrize("activation", ["identity", "relu", "sigmoid", "tanh", "softmax"])
def test_dense_matches_pytorch_linear(array_backend, activation, rng, parity_log):
    """Forward A and backward dX, dW, db against torch.nn.Linear + the activation, float64.
    (torch keeps the weight as (units, inputs): nnxp's W is its transpose.)"""
    torch = pytest.importorskip("torch")
    from nnxp.backend import to_numpy

    X = rng.standard_normal((6, 5))
    dA = rng.standard_normal((6, 4))
    layer = Dense(4, activation=activation)
    layer.initialize(array_backend.asarray(X), seed=1)
    layer.p["b"] = array_backend.asarray(rng.standard_normal(4))  # a non-zero bias
    A = layer.forward(array_backend.asarray(X))
    dX = layer.backward(array_backend.asarray(dA))
    layer.compute_gradients()

    linear = torch.nn.Linear(5, 4, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(to_numpy(layer.p["W"]).T))
        linear.bias.copy_(torch.tensor(to_numpy(layer.p["b"])))
    function = {"identity": lambda z: z, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                "softmax": lambda z: torch.softmax(z, dim=-1)}[activation]
    X_torch = torch.tensor(X, requires_grad=True)
    A_torch = function(linear(X_torch))
    (A_torch * torch.tensor(dA)).sum().backward()

    np.testing.assert_allclose(to_numpy(A), A_torch.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(to_numpy(dX), X_torch.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(to_numpy(layer.g["dW"]), linear.weight.grad.numpy().T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(to_numpy(layer.g["db"]), linear.bias.grad.numpy(), rtol=1e-12, atol=1e-15)
    parity_log.add("dense")


def test_a_first_dense_layer_skips_dX_in_training_and_gives_the_same_gradients(rng):
    """In a training step the first layer's dX feeds nothing (``input_gradient`` False):
    Dense skips that product; its parameter gradients are those of a full backward."""
    import nnxp
    from nnxp.layers import Dense, Embedding

    X, labels = rng.standard_normal((12, 5)), np.arange(12) % 3
    with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
        model = nnxp.Model([Embedding(X, labels, Y_encode=True, relative_size=(1, 0, 0), batch_size=12, seed=0),
                            Dense(4, "relu"), Dense(3, "softmax")])
        model.initialize(loss="CCE", seed=0, verbose=False)
        first, data = model.network[0], model.embedding.dtrain
        A = model.forward(data.X)
        model.backward(*model.loss_gradient(A, data.Y), input_gradient=True)
        full = {k: np.array(v) for k, v in first.g.items()}
        assert first.bc["dX"] is not None
        model.backward(*model.loss_gradient(A, data.Y), input_gradient=False)
        assert first.bc["dX"] is None
        for key, value in first.g.items():
            np.testing.assert_array_equal(value, full[key])


def test_sum_rows_keeps_its_row_of_ones_and_gives_each_call_its_own_sum(array_backend, rng):
    """The bias gradient's sum over rows (``nnxp.ops.sum_rows``) reuses one row of ones
    per shape, dtype and device: each call still returns a new array equal to the sum
    over axis 0, the kept ones are never written, and float32 stays float32."""
    from nnxp.ops import _ONES, sum_rows
    from nnxp.backend import to_numpy

    xp = array_backend.xp
    first, second = rng.standard_normal((7, 3)), rng.standard_normal((7, 3))
    a = sum_rows(xp.asarray(first))
    b = sum_rows(xp.asarray(second))
    np.testing.assert_allclose(to_numpy(a), first.sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(to_numpy(b), second.sum(axis=0), rtol=1e-13)  # not the first's
    a[...] = 5.0  # the caller owns its result: writing into it changes no kept ones
    kept = [to_numpy(ones) for ones in _ONES.values()]
    assert kept and all(np.all(ones == 1.0) for ones in kept)
    single = sum_rows(xp.asarray(first, dtype=xp.float32))
    assert single.dtype == xp.float32 and single.shape == (3,)
    np.testing.assert_allclose(to_numpy(single), first.sum(axis=0), rtol=1e-5)
