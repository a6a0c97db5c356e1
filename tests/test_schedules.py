"""Learning-rate schedules: the docstring's formulas, and per-layer overrides in a model."""

import math

import numpy as np
import pytest

from builders import blobs
from nnxp import Model
from nnxp.backend import to_numpy
from nnxp.layers import Dense, Embedding
from nnxp.schedules import Schedule, merged


def expected_rate(lr, schedule, k, cycle_epochs, descent, epoch):
    """The formulas of the schedules docstring, written out again."""
    n, i = (epoch // cycle_epochs, epoch % cycle_epochs) if cycle_epochs else (0, epoch)
    base = lr * (1 - descent) ** n
    return {"steady": base, "exp_decay": base * math.exp(-k * i), "lin_decay": base / (1 + k * i)}[schedule]


@pytest.mark.parametrize("schedule", ["steady", "exp_decay", "lin_decay"])
@pytest.mark.parametrize("cycle_epochs, descent", [(0, 0.0), (4, 0.0), (3, 0.25)])
def test_rates_follow_the_formulas(schedule, cycle_epochs, descent):
    s = Schedule(learning_rate=0.2, schedule=schedule, decay_k=0.3, cycle_epochs=cycle_epochs,
                 cycle_descent=descent)
    rates = s.rates(12)
    expected = [expected_rate(0.2, schedule, 0.3, cycle_epochs, descent, e) for e in range(12)]
    assert rates == pytest.approx(expected, rel=1e-15)
    assert rates[0] == 0.2
    if schedule != "steady":
        assert rates[1] < rates[0]
    if cycle_epochs:  # each cycle restarts the decay from a base (1 - descent) lower
        assert rates[cycle_epochs] == pytest.approx(0.2 * (1 - descent))


def test_merged_later_dicts_override_and_typos_are_errors():
    s = merged({"learning_rate": 0.1, "schedule": "exp_decay", "decay_k": 0.5}, None, {"learning_rate": 0.3})
    assert (s.learning_rate, s.schedule, s.decay_k) == (0.3, "exp_decay", 0.5)
    with pytest.raises(ValueError, match="learning_rte"):
        merged({"learning_rte": 0.1})
    with pytest.raises(ValueError, match="unknown schedule 'cosine'"):
        Schedule(schedule="cosine")
    with pytest.raises(ValueError, match="cycle_descent"):
        Schedule(cycle_descent=1.0)
    with pytest.raises(ValueError, match=">= 0"):
        Schedule(learning_rate=-1)


def test_each_layer_moves_with_its_own_rate(array_backend, rng):
    """A frozen layer (rate 0) stays put; a layer with its own schedule follows it; the
    rest follow the model's schedule. With SGD and one batch per epoch,
    W_after = W_before - rate * dW exactly."""
    X, labels = blobs(rng, m=24)
    model_hpars = {"learning_rate": 0.1, "schedule": "lin_decay", "decay_k": 1.0}
    own_hpars = {"learning_rate": 0.3, "schedule": "exp_decay", "decay_k": 0.5}
    model = Model([
        Embedding(X, labels, Y_encode=True, relative_size=(1, 0, 0), seed=0),
        Dense(5, "tanh", se_hPars={"learning_rate": 0.0}),
        Dense(4, "relu"),
        Dense(3, "softmax", se_hPars=own_hpars),
    ])
    model.initialize(loss="CCE", optimizer="sgd", se_hPars=model_hpars, seed=2, verbose=False)
    for epoch in range(3):
        before = {i: {k: to_numpy(v).copy() for k, v in model.layers[i].p.items()} for i in (1, 2, 3)}
        model.train(epochs=1, verbose=0)
        rates = {1: 0.0, 2: expected_rate(0.1, "lin_decay", 1.0, 0, 0, epoch),
                 3: expected_rate(0.3, "exp_decay", 0.5, 0, 0, epoch)}
        for i, rate in rates.items():
            layer = model.layers[i]
            for name, old in before[i].items():
                step = to_numpy(layer.g["d" + name])
                assert np.abs(step).max() > 0, f"layer {i} {name} has no gradient"
                np.testing.assert_allclose(to_numpy(layer.p[name]), old - rate * step, rtol=1e-12, atol=1e-15,
                                           err_msg=f"layer {i} {name} at epoch {epoch}")
        assert model.history["lr"][-1] == 0.0  # the first layer with parameters is the frozen one
    assert np.array_equal(to_numpy(model.layers[1].p["W"]), before[1]["W"])
