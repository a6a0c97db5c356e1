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
