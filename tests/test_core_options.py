"""Options of the core that the seeds' interfaces map onto (``nnxp.npdl``, ``nnxp.epynn``),
each checked by value: the optimizer's step decay and rate bounds (NumpyDL's ``decay``,
``lr_min``, ``lr_max``), the LSTM forget-gate bias (``forget_bias_num``), BatchNorm's
initializers, a loss's own epsilon, Flatten's ``outdim``, and EpyNN's activation settings
in ``se_hPars`` (``ELU_alpha``, ``LRELU_alpha``, ``softmax_temperature``)."""

import math

import numpy as np
import pytest

from builders import blobs
from gradcheck import check_layer_gradients
import nnxp
from nnxp import Model, to_numpy
from nnxp.layers import LSTM, BatchNorm, Dense, Embedding, Flatten
from nnxp.losses import get_loss
from nnxp.optimizers import SGD, get_optimizer


def steps_of(optimizer, gradients, theta=0.0):
    """theta after each step of ``optimizer`` with the given gradients, at rate 1."""
    holder, seen = {"w": np.array([theta])}, []
    for g in gradients:
        optimizer.step([("w", holder, "w", np.array([g]), 1.0)])
        seen.append(float(holder["w"][0]))
    return seen


def test_step_decay_divides_the_rate_by_one_plus_decay_times_the_steps_taken():
    seen = steps_of(SGD(decay=0.5), [1.0, 1.0, 1.0, 1.0])
    rates = [1 / (1 + 0.5 * t) for t in range(4)]  # 1, 1/1.5, 1/2, 1/2.5
    np.testing.assert_allclose(seen, -np.cumsum(rates), rtol=1e-15)


def test_rate_bounds_keep_the_decayed_rate_within_lr_min_and_lr_max():
    floor = steps_of(SGD(decay=1.0, lr_min=0.4), [1.0] * 4)  # rates 1, 1/2, 1/3 -> 0.4, 1/4 -> 0.4
    np.testing.assert_allclose(np.diff([0.0] + floor), [-1, -0.5, -0.4, -0.4], rtol=1e-15)
    ceiling = steps_of(SGD(lr_max=0.25), [1.0, 1.0])
    np.testing.assert_allclose(ceiling, [-0.25, -0.5], rtol=1e-15)
    restored = get_optimizer(SGD(decay=0.1, lr_min=0.01, lr_max=2.0).get_config())
    assert (restored.decay, restored.lr_min, restored.lr_max) == (0.1, 0.01, 2.0)
    with pytest.raises(ValueError, match="lr_max must be a finite number >= 0.5, got 0.1"):
        SGD(lr_min=0.5, lr_max=0.1)


def test_lstm_forget_bias_starts_the_forget_block_of_b(array_backend, rng):
    layer = LSTM(3, forget_bias=1.0).initialize(array_backend.asarray(rng.standard_normal((2, 4, 5))), seed=0)
    np.testing.assert_array_equal(to_numpy(layer.p["b"]), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])  # i f g o
    plain = LSTM(3).initialize(array_backend.asarray(rng.standard_normal((2, 4, 5))), seed=0)
    np.testing.assert_array_equal(to_numpy(plain.p["U"]), to_numpy(layer.p["U"]))  # the same draws otherwise
    np.testing.assert_array_equal(to_numpy(plain.p["b"]), np.zeros(12))
    assert LSTM(3, forget_bias=1.0).get_config()["forget_bias"] == 1.0


def test_batchnorm_takes_initializers_for_gamma_and_beta(array_backend, rng):
    X = rng.standard_normal((6, 4))
    layer = BatchNorm(gamma_initialization="zeros", beta_initialization="ones").initialize(array_backend.asarray(X))
    np.testing.assert_array_equal(to_numpy(layer.p["gamma"]), np.zeros(4))
    np.testing.assert_array_equal(to_numpy(layer.forward(array_backend.asarray(X))), np.ones((6, 4)))
    with pytest.raises(ValueError, match="unknown initializer 'onez'"):
        BatchNorm(gamma_initialization="onez")


def test_a_loss_clips_with_its_own_epsilon(array_backend):
    A = array_backend.asarray(np.array([[0.0, 1.0], [0.5, 0.5]]))
    Y = array_backend.asarray(np.array([[1.0, 0.0], [1.0, 0.0]]))
    cce = get_loss({"name": "CCE", "epsilon": 1e-3})
    expected = (-math.log(1e-3) - math.log(0.5)) / 2
    assert float(to_numpy(cce(A, Y))) == pytest.approx(expected, rel=1e-12)
    assert float(to_numpy(get_loss("CCE")(A, Y))) > 10  # the dtype's epsilon: a far larger loss
    bce = get_loss({"name": "BCE", "epsilon": 1e-3})
    expected = -(math.log(1e-3) + math.log(1e-3) + 2 * math.log(0.5)) / 4
    assert float(to_numpy(bce(A, Y))) == pytest.approx(expected, rel=1e-12)
    assert cce.get_config() == {"name": "CCE", "epsilon": 1e-3}
    with pytest.raises(ValueError, match="epsilon must be None or in"):
        get_loss({"name": "CCE", "epsilon": 2.0})


def test_flatten_outdim_keeps_the_first_axes(array_backend, rng):
    X = rng.standard_normal((2, 3, 4, 5))
    layer = Flatten(outdim=3)
    check_layer_gradients(layer, X)
    assert tuple(layer.fc["A"].shape) == (2, 3, 20)
    np.testing.assert_array_equal(to_numpy(layer.fc["A"]), X.reshape(2, 3, 20))


def test_se_hpars_tune_the_activations_of_the_layers_they_apply_to(array_backend, rng):
    X, labels = blobs(rng, m=12)
    elu, lrelu, out = Dense(4, "elu"), Dense(4, "lrelu", se_hPars={"LRELU_alpha": 0.1}), Dense(3, "softmax")
    model = Model([Embedding(X, labels, Y_encode=True, seed=0), elu, lrelu, out])
    model.initialize(loss="CCE", seed=0, se_hPars={"ELU_alpha": 0.5, "softmax_temperature": 2.0,
                                                   "learning_rate": 0.1}, verbose=False)
    assert (elu.activation.alpha, lrelu.activation.alpha, out.activation.temperature) == (0.5, 0.1, 2.0)
    Z = array_backend.asarray(np.array([-1.0, 2.0]))
    np.testing.assert_allclose(to_numpy(elu.activation(Z)), [0.5 * math.expm1(-1), 2.0], rtol=1e-14)
    model.train(1, verbose=0)  # the schedule reads the learning rate and skips the rest
    assert model.history["lr"] == [0.1]
    with pytest.raises(ValueError, match="unknown hyperparameter 'ELU_alfa'"):
        Model([Embedding(X, labels, Y_encode=True), Dense(3, "softmax")]).initialize(
            se_hPars={"ELU_alfa": 1}, verbose=False)


def test_a_model_without_those_settings_keeps_its_own_activation_parameters(array_backend, rng):
    X, labels = blobs(rng, m=12)
    hidden = Dense(4, nnxp.activations.ELU(alpha=0.2))
    Model([Embedding(X, labels, Y_encode=True), hidden, Dense(3, "softmax")]).initialize(loss="CCE", verbose=False)
    assert hidden.activation.alpha == 0.2
