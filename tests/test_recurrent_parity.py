"""RNN, GRU and LSTM against PyTorch, in float64, on every backend and kernel mode.

Each configuration sets the nnxp layer's weights from random PyTorch-layout weights,
runs forward and backward with a random output gradient R (L = sum(A * R)) and
compares the output, dL/dX and every parameter gradient at relative error <= 1e-9
(max abs error over max abs value).

* Every activation of every gate: a cell written here in torch (a Python loop with
  autograd, the same equations, any activation), since ``torch.nn.LSTM`` and friends
  only know their own activations. The grid gives each gate argument every activation
  (some with non-default parameters), twice: sequences on with a batch of 1, and
  sequences off with an odd batch; steps, features and units vary.
* Default activations: ``torch.nn.RNN`` (tanh and relu), ``torch.nn.GRU`` and
  ``torch.nn.LSTM`` themselves, which also vouches for the hand-written cell.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gradcheck import assert_close
from nnxp.activations import ELU, LReLU, Elliot, Softmax, SymmetricElliot, get_activation
from nnxp.backend import get_backend, to_numpy
from nnxp.layers import GRU, LSTM, RNN

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-9
LAYER_CLASSES = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
ACTIVATION_ARGUMENTS = {
    "rnn": ("activation",),
    "gru": ("activation", "reset_gate", "update_gate"),
    "lstm": ("activation", "candidate_activation", "input_gate", "forget_gate", "output_gate"),
}
# Every activation nnxp has; those with parameters take non-default values.
ACTIVATION_SAMPLES = ["identity", "relu", LReLU(0.2), ELU(0.7), "sigmoid", "tanh", Softmax(1.5), "softplus",
                      "softsign", Elliot(1.3), SymmetricElliot(0.8)]


# --------------------------------------------------------------------------- torch side


def torch_activation(spec):
    """The torch function of an nnxp activation (written from its definition)."""
    activation = get_activation(spec)
    name, params = activation.name, activation.params()
    if name == "identity":
        return lambda z: z
    if name == "lrelu":
        return lambda z: F.leaky_relu(z, params["alpha"])
    if name == "elu":
        return lambda z: F.elu(z, params["alpha"])
    if name == "softmax":
        return lambda z: torch.softmax(z / params["temperature"], dim=-1)
    if name == "elliot":
        s = params["steepness"]
        return lambda z: 0.5 * s * z / (1 + torch.abs(s * z)) + 0.5
    if name == "symmetric_elliot":
        s = params["steepness"]
        return lambda z: s * z / (1 + torch.abs(s * z))
    return {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "softplus": F.softplus,
            "softsign": F.softsign}[name]


def torch_cell_sequence(family, X, W_ih, W_hh, b_ih, b_hh, activations):
    """Every hidden state (m, T, u) of the recurrence written step by step in torch,
    with torch.nn's weight layout (W_ih (G*u, n), gate order RNN; GRU r,z,n; LSTM i,f,g,o)."""
    f = {name: torch_activation(spec) for name, spec in activations.items()}
    m, steps, _ = X.shape
    u = W_hh.shape[1]
    h = X.new_zeros((m, u))
    c = X.new_zeros((m, u))
    outputs = []
    for t in range(steps):
        gi = X[:, t, :] @ W_ih.T + b_ih
        gh = h @ W_hh.T + b_hh
        if family == "rnn":
            h = f["activation"](gi + gh)
        elif family == "gru":
            r = f["reset_gate"](gi[:, :u] + gh[:, :u])
            z = f["update_gate"](gi[:, u:2 * u] + gh[:, u:2 * u])
            n = f["activation"](gi[:, 2 * u:] + r * gh[:, 2 * u:])
            h = (1 - z) * n + z * h
        else:
            s = gi + gh
            i, fg = f["input_gate"](s[:, :u]), f["forget_gate"](s[:, u:2 * u])
            g, o = f["candidate_activation"](s[:, 2 * u:3 * u]), f["output_gate"](s[:, 3 * u:])
            c = fg * c + i * g
            h = o * f["activation"](c)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def torch_module_sequence(family, X, W_ih, W_hh, b_ih, b_hh, activations):
    """The same through torch.nn.RNN / GRU / LSTM themselves (default activations only)."""
    n, u = X.shape[2], W_hh.shape[1]
    if family == "rnn":
        module = torch.nn.RNN(n, u, batch_first=True, nonlinearity=get_activation(activations["activation"]).name)
    else:
        module = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[family](n, u, batch_first=True)
    module = module.double()
    with torch.no_grad():
        for name, value in (("weight_ih_l0", W_ih), ("weight_hh_l0", W_hh), ("bias_ih_l0", b_ih),
                            ("bias_hh_l0", b_hh)):
            getattr(module, name).copy_(value)
    output = module(X)[0]
    grads = [module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0]
    return output, grads


def torch_reference(family, config, host, use_module):
    """(A, dX, {nnxp parameter name: gradient}) from torch, as NumPy arrays."""
    X = torch.tensor(host["X"], requires_grad=True)
    weights = [torch.tensor(host[k], requires_grad=True) for k in ("W_ih", "W_hh", "b_ih", "b_hh")]
    layer = LAYER_CLASSES[family](1, **config["activations"])  # the defaults fill the other gates
    activations = {name: getattr(layer, name) for name in ACTIVATION_ARGUMENTS[family]}
    if use_module:
        H, weights = torch_module_sequence(family, X, *weights, activations)
    else:
        H = torch_cell_sequence(family, X, *weights, activations)
    A = H if config["sequences"] else H[:, -1, :]
    (A * torch.tensor(host["R"])).sum().backward()
    W_ih, W_hh, b_ih, b_hh = (w.grad.numpy() for w in weights)
    grads = {"U": W_ih.T, "V": W_hh.T, "b": b_ih}
    if family == "gru":
        u = host["W_hh"].shape[1]
        grads["bh"] = b_hh[2 * u:]
        assert np.allclose(b_hh[:2 * u], b_ih[:2 * u])  # b_hr, b_hz act like b_ir, b_iz
    return A.detach().numpy(), X.grad.numpy(), grads


# --------------------------------------------------------------------------- nnxp side


def nnxp_parameters(family, host):
    """U, V, b (and GRU's bh) from torch-layout weights."""
    G, u = GATES[family], host["W_hh"].shape[1]
    b = host["b_ih"] + host["b_hh"]
    p = {"U": host["W_ih"].T, "V": host["W_hh"].T, "b": b}
    if family == "gru":
        p["b"] = np.concatenate([b[:2 * u], host["b_ih"][2 * u:]])
        p["bh"] = host["b_hh"][2 * u:]
    assert p["U"].shape[1] == G * u
    return p


def nnxp_result(family, config, host):
    backend = get_backend()
    layer = LAYER_CLASSES[family](config["units"], sequences=config["sequences"], **config["activations"])
    X = backend.asarray(host["X"])
    layer.initialize(X, seed=0)
    layer.p = {k: backend.asarray(np.ascontiguousarray(v)) for k, v in nnxp_parameters(family, host).items()}
    A = layer.forward(X)
    dX = layer.backward(backend.asarray(host["R"]))
    layer.compute_gradients()
    return to_numpy(A), to_numpy(dX), {k[1:]: to_numpy(v) for k, v in layer.g.items()}


def random_problem(family, config, seed):
    rng = np.random.default_rng(seed)
    G, m, steps, n, u = GATES[family], config["batch"], config["steps"], config["features"], config["units"]
    host = {"X": rng.standard_normal((m, steps, n)), "W_ih": 0.6 * rng.standard_normal((G * u, n)),
            "W_hh": 0.6 * rng.standard_normal((G * u, u)), "b_ih": 0.3 * rng.standard_normal(G * u),
            "b_hh": 0.3 * rng.standard_normal(G * u)}
    R_shape = (m, steps, u) if config["sequences"] else (m, u)
    host["R"] = rng.standard_normal(R_shape)
    return host


def compare(family, config, seed, use_module=False) -> list[str]:
    """The failures (empty when nnxp and torch agree) for one configuration."""
    host = random_problem(family, config, seed)
    expected = torch_reference(family, config, host, use_module)
    actual = nnxp_result(family, config, host)
    failures = []
    names = ["A", "dX"] + [f"d{k}" for k in expected[2]]
    pairs = [(actual[0], expected[0]), (actual[1], expected[1])] + [(actual[2][k], v) for k, v in expected[2].items()]
    for name, (a, e) in zip(names, pairs):
        try:
            assert a.shape == e.shape, f"{name}: shape {a.shape} != {e.shape}"
            assert_close(a, e, rtol=RTOL, atol=0.0, what=name)
        except AssertionError as error:
            failures.append(f"{family} {describe(config)}: {error}")
    return failures


def describe(config) -> str:
    acts = {k: get_activation(v).get_config() for k, v in config["activations"].items()}
    sizes = "m={batch} T={steps} n={features} u={units} sequences={sequences}".format(**config)
    return f"{sizes} {acts}"


# --------------------------------------------------------------------------- the grid


def activation_grid(family, argument):
    """Each activation at ``argument`` (the other gates at their defaults), in two shapes:
    sequences on with one sample, sequences off with an odd batch."""
    rng = np.random.default_rng(list(f"{family}/{argument}".encode()))  # the same sizes every run
    configs = []
    for index, activation in enumerate(ACTIVATION_SAMPLES):
        for sequences, batch in ((True, 1), (False, (3, 5, 7)[index % 3])):
            configs.append({"sequences": sequences, "batch": batch, "steps": int(rng.integers(1, 6)),
                            "features": int(rng.integers(1, 5)), "units": int(rng.integers(1, 5)),
                            "activations": {argument: activation}})
    return configs


GRID_CASES = [(family, argument) for family, arguments in ACTIVATION_ARGUMENTS.items() for argument in arguments]


@pytest.mark.torch
@pytest.mark.parametrize("family,argument", GRID_CASES, ids=[f"{f}-{a}" for f, a in GRID_CASES])
def test_every_gate_activation_matches_a_torch_cell(backend, family, argument, parity_log):
    failures = []
    for seed, config in enumerate(activation_grid(family, argument)):
        failures += compare(family, config, seed)
        parity_log.add(family)
    assert not failures, "\n".join(failures)


MODULE_CASES = [  # (family, activations) that torch.nn itself can do
    ("rnn", {"activation": "tanh"}), ("rnn", {"activation": "relu"}), ("gru", {}), ("lstm", {})]
SHAPES = [  # batch, steps, features, units: batch 1 and odd, steps 1 and more
    (1, 1, 1, 1), (1, 4, 3, 5), (3, 2, 2, 3), (5, 6, 4, 2), (7, 3, 1, 4)]


@pytest.mark.torch
@pytest.mark.parametrize("family,activations", MODULE_CASES, ids=["rnn-tanh", "rnn-relu", "gru", "lstm"])
def test_default_activations_match_torch_nn_modules(backend, family, activations, parity_log):
    failures = []
    for seed, ((batch, steps, features, units), sequences) in enumerate(itertools.product(SHAPES, (True, False))):
        config = {"sequences": sequences, "batch": batch, "steps": steps, "features": features, "units": units,
                  "activations": activations}
        failures += compare(family, config, 1000 + seed, use_module=True)
        failures += compare(family, config, 1000 + seed, use_module=False)  # the hand cell agrees too
        parity_log.add(family)
    assert not failures, "\n".join(failures)
