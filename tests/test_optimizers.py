"""Optimizers: five steps against torch.optim, with weight decay and gradient clipping.

Both sides start from the same two parameters (a matrix and a vector, so that the
global-norm clipping joins two arrays) and take five steps; at each step each side
computes the gradient of the same function at its *own* current parameters, so any
difference in an update shows up in the whole trajectory.
"""

import numpy as np
import pytest

from nnxp.backend import to_numpy
from nnxp.optimizers import OPTIMIZERS, get_optimizer

STEPS = 5

# nnxp hyperparameters (non-default, so a forgotten one shows) and the torch optimizer
# that follows the same rule, with the hyperparameters mapped.
CASES = {
    "sgd": ({"learning_rate": 0.1}, "SGD", lambda h: {"lr": h["learning_rate"]}),
    "momentum": ({"learning_rate": 0.05, "momentum": 0.8}, "SGD",
                 lambda h: {"lr": h["learning_rate"], "momentum": h["momentum"]}),
    "nesterov": ({"learning_rate": 0.05, "momentum": 0.7}, "SGD",
                 lambda h: {"lr": h["learning_rate"], "momentum": h["momentum"], "nesterov": True}),
    "adagrad": ({"learning_rate": 0.2, "epsilon": 1e-7}, "Adagrad",
                lambda h: {"lr": h["learning_rate"], "eps": h["epsilon"]}),
    "rmsprop": ({"learning_rate": 0.01, "rho": 0.8, "epsilon": 1e-6}, "RMSprop",
                lambda h: {"lr": h["learning_rate"], "alpha": h["rho"], "eps": h["epsilon"]}),
    "adadelta": ({"learning_rate": 0.9, "rho": 0.85, "epsilon": 1e-5}, "Adadelta",
                 lambda h: {"lr": h["learning_rate"], "rho": h["rho"], "eps": h["epsilon"]}),
    "adam": ({"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-6}, "Adam",
             lambda h: {"lr": h["learning_rate"], "betas": (h["beta_1"], h["beta_2"]), "eps": h["epsilon"]}),
    "adamax": ({"learning_rate": 0.03, "beta_1": 0.85, "beta_2": 0.9, "epsilon": 1e-6}, "Adamax",
               lambda h: {"lr": h["learning_rate"], "betas": (h["beta_1"], h["beta_2"]), "eps": h["epsilon"]}),
}

VARIANTS = {
    "plain": {},
    "weight_decay": {"weight_decay": 0.1},
    "clip_value": {"clip_value": 0.5},
    "clip_norm": {"clip_norm": 1.0},
    "all": {"weight_decay": 0.05, "clip_value": 0.7, "clip_norm": 1.5},
}


def gradient(theta, c, xp_sin):
    """The gradient of sum(c * theta^3 / 3 - cos(theta)): c * theta^2 + sin(theta)."""
    return c * theta * theta + xp_sin(theta)


def test_every_optimizer_has_a_case():
    assert set(CASES) == set(OPTIMIZERS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_five_steps_match_torch_optim(array_backend, name, variant, parity_log):
    torch = pytest.importorskip("torch")
    hyper, torch_class, to_torch = CASES[name]
    extras = VARIANTS[variant]
    rng = np.random.default_rng(7)
    start = [rng.standard_normal((4, 3)) * 2, rng.standard_normal(3) * 2]  # large enough to clip
    curvature = [rng.uniform(0.5, 2, (4, 3)), rng.uniform(0.5, 2, 3)]

    optimizer = get_optimizer({"name": name, **hyper, **extras})
    xp = array_backend.xp
    holder = {"W": array_backend.asarray(start[0]), "b": array_backend.asarray(start[1])}
    c = {"W": array_backend.asarray(curvature[0]), "b": array_backend.asarray(curvature[1])}

    params = [torch.tensor(s, requires_grad=True) for s in start]
    torch_optimizer = getattr(torch.optim, torch_class)(
        params, **to_torch(hyper), weight_decay=extras.get("weight_decay", 0.0))

    for step in range(STEPS):
        lr = hyper["learning_rate"]
        grads = [(f"layer/{k}", holder, k, gradient(holder[k], c[k], xp.sin), lr) for k in ("W", "b")]
        optimizer.step(grads)

        for p, curv in zip(params, curvature):
            p.grad = gradient(p.detach(), torch.tensor(curv), torch.sin)
        if "clip_value" in extras:
            torch.nn.utils.clip_grad_value_(params, extras["clip_value"])
        if "clip_norm" in extras:
            torch.nn.utils.clip_grad_norm_(params, extras["clip_norm"])
        torch_optimizer.step()

        for key, p in zip(("W", "b"), params):
            ours, theirs = to_numpy(holder[key]), p.detach().numpy()
            assert ours.dtype == np.float64
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14,
                                       err_msg=f"{name} ({variant}) {key} after step {step + 1}")
    moved = np.abs(to_numpy(holder["W"]) - start[0]).max()
    assert moved > 1e-3, f"{name} did not move the parameters"
    assert optimizer.t == STEPS
    parity_log.add("optimizers")


def test_clipping_really_clipped():
    """The clip variants above are meaningful: the raw gradients exceed both limits."""
    rng = np.random.default_rng(7)
    start = [rng.standard_normal((4, 3)) * 2, rng.standard_normal(3) * 2]
    curvature = [rng.uniform(0.5, 2, (4, 3)), rng.uniform(0.5, 2, 3)]
    grads = [gradient(s, c, np.sin) for s, c in zip(start, curvature)]
    assert max(np.abs(g).max() for g in grads) > 1.5
    assert np.sqrt(sum((g * g).sum() for g in grads)) > 1.5


def test_state_is_kept_per_parameter_and_learning_rate_per_call(array_backend):
    optimizer = get_optimizer({"name": "momentum", "momentum": 0.5})
    holder = {"W": array_backend.asarray(np.zeros(2)), "b": array_backend.asarray(np.zeros(2))}
    g = array_backend.asarray(np.ones(2))
    optimizer.step([("0/W", holder, "W", g, 1.0), ("0/b", holder, "b", g, 0.0)])
    optimizer.step([("0/W", holder, "W", g, 1.0), ("0/b", holder, "b", g, 0.0)])
    assert to_numpy(holder["W"]).tolist() == [-2.5, -2.5]  # v = 1, then 1.5: -(1 + 1.5)
    assert to_numpy(holder["b"]).tolist() == [0.0, 0.0]  # learning rate 0: never moves
    assert to_numpy(optimizer.state["0/b"]["v"]).tolist() == [1.5, 1.5]  # but its state is kept


def test_get_optimizer_forms_and_errors():
    assert get_optimizer(None).name == "sgd"
    adam = get_optimizer({"name": "adam", "beta_1": 0.5})
    assert adam.beta_1 == 0.5 and get_optimizer(adam.get_config()).get_config() == adam.get_config()
    assert get_optimizer(type(adam)).name == "adam" and get_optimizer("RMSprop").name == "rmsprop"
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'") as error:
        get_optimizer("adamw")
    assert "adam" in str(error.value) and "sgd" in str(error.value)
    with pytest.raises(TypeError):
        get_optimizer({"name": "sgd", "momentum": 0.9})  # SGD has no momentum: not silently dropped
