"""BatchNorm: finite differences, PyTorch parity (training, running statistics,
evaluation), repeated calls, bad input, both model styles, saving, and learning."""

import warnings

import numpy as np
import pytest

import nnxp
from gradcheck import assert_close, check_layer_gradients
from nnxp import Model, ShapeError, to_numpy
from nnxp.layers import BatchNorm, Dense, Embedding, Flatten

STATISTICS = ("running_mean", "running_var")
SHAPES = {"rows": (6, 4), "sequences": (3, 4, 5), "images": (2, 3, 4, 3)}  # (m, n), (m, steps, n), (m, h, w, c)


def _set_state(layer, rng):
    """Give gamma, beta and the running statistics values that are not 1 and 0."""
    n = layer.d["n"]
    backend = layer.active_backend()
    layer.p["gamma"] = backend.asarray(rng.uniform(0.5, 2.0, n))
    layer.p["beta"] = backend.asarray(rng.standard_normal(n))
    layer.p["running_mean"] = backend.asarray(rng.standard_normal(n))
    layer.p["running_var"] = backend.asarray(rng.uniform(0.5, 2.0, n))


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_batchnorm_gradients_match_finite_differences(backend, kind, training, rng):
    X = rng.standard_normal(SHAPES[kind]) * 2 + 0.5
    layer = BatchNorm(momentum=0.8, epsilon=1e-3)
    layer.training = training
    check_layer_gradients(layer, X, after_initialize=lambda lay: _set_state(lay, rng), no_gradient=STATISTICS)


# --------------------------------------------------------------------------- PyTorch parity
def _torch_module(torch, kind, n, momentum, epsilon):
    cls = torch.nn.BatchNorm2d if kind == "images" else torch.nn.BatchNorm1d
    return cls(n, momentum=1 - momentum, eps=epsilon, dtype=torch.float64)


TO_TORCH = {"rows": (0, 1), "sequences": (0, 2, 1), "images": (0, 3, 1, 2)}  # features second (N, C, ...)
FROM_TORCH = {"rows": (0, 1), "sequences": (0, 2, 1), "images": (0, 2, 3, 1)}


@pytest.mark.torch
@pytest.mark.parametrize("momentum, epsilon", [(0.9, 1e-5), (0.6, 1e-3)])
@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_batchnorm_matches_pytorch(array_backend, kind, momentum, epsilon, rng, parity_log, torch_one_thread):
    """Three training steps (A, dX, dgamma, dbeta each), the running statistics after
    them, then one evaluation step, all at relative error <= 1e-9."""
    torch = torch_one_thread
    shape, steps = SHAPES[kind], 3
    batches = [rng.standard_normal(shape) * 3 + rng.standard_normal(shape[-1]) for _ in range(steps + 1)]
    layer = BatchNorm(momentum, epsilon)
    layer.initialize(array_backend.asarray(batches[0]))
    _set_state(layer, rng)
    layer.p["running_mean"] = array_backend.asarray(np.zeros(shape[-1]))  # torch starts at 0 and 1
    layer.p["running_var"] = array_backend.asarray(np.ones(shape[-1]))
    module = _torch_module(torch, kind, shape[-1], momentum, epsilon)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(to_numpy(layer.p["gamma"])))
        module.bias.copy_(torch.tensor(to_numpy(layer.p["beta"])))

    for step, X in enumerate(batches):
        training = step < steps
        layer.training = training
        module.train(training)
        R = rng.standard_normal(shape)
        A = layer.forward(array_backend.asarray(X))
        dX = layer.backward(array_backend.asarray(R))
        layer.compute_gradients()
        X_t = torch.tensor(X, requires_grad=True)
        A_t = module(X_t.permute(*TO_TORCH[kind])).permute(*FROM_TORCH[kind])
        dX_t, dgamma_t, dbeta_t = torch.autograd.grad((A_t * torch.tensor(R)).sum(), (X_t, module.weight, module.bias))
        what = f"{kind} step {step} ({'training' if training else 'evaluation'})"
        for name, ours, theirs in (("A", A, A_t), ("dX", dX, dX_t), ("dgamma", layer.g["dgamma"], dgamma_t),
                                   ("dbeta", layer.g["dbeta"], dbeta_t)):
            assert_close(to_numpy(ours), theirs.detach().numpy(), rtol=1e-9, atol=0, what=f"{what} {name}")
        if step == steps - 1:  # the running statistics after the training steps
            N = int(np.prod(shape[:-1]))
            initial = momentum**steps  # what is left of the initial 0 (mean) and 1 (var)
            assert_close(to_numpy(layer.p["running_mean"]), module.running_mean.numpy(), 1e-9, 0, "running_mean")
            # torch averages N/(N-1) * var where nnxp averages var: convert its share.
            torch_share = (module.running_var.numpy() - initial) * (N - 1) / N
            assert_close(to_numpy(layer.p["running_var"]) - initial, torch_share, 1e-9, 0, "running_var")
            # Evaluate with the same statistics: hand ours to torch (only the var differs).
            with torch.no_grad():
                module.running_var.copy_(torch.tensor(to_numpy(layer.p["running_var"])))
    parity_log.add("batchnorm")


# --------------------------------------------------------------------------- behaviour
def test_batchnorm_running_statistics_move_only_in_training(array_backend, rng):
    X = array_backend.asarray(rng.standard_normal((8, 3)) * 2 + 5)
    layer = BatchNorm(momentum=0.75).initialize(X)
    layer.training = False
    layer.forward(X)
    assert np.array_equal(to_numpy(layer.p["running_mean"]), np.zeros(3))
    assert np.array_equal(to_numpy(layer.p["running_var"]), np.ones(3))
    layer.training = True
    layer.forward(X)
    layer.forward(X)  # each training forward pass is one update (as in PyTorch and Keras)
    X_host = to_numpy(X)
    kept = 0.75**2
    assert_close(to_numpy(layer.p["running_mean"]), (1 - kept) * X_host.mean(0), 1e-12, 0, "running_mean")
    assert_close(to_numpy(layer.p["running_var"]), kept + (1 - kept) * X_host.var(0), 1e-12, 0, "running_var")


@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
def test_batchnorm_backward_twice_gives_the_same_result(array_backend, training, rng):
    X = array_backend.asarray(rng.standard_normal((2, 3, 3, 4)))
    R = array_backend.asarray(rng.standard_normal((2, 3, 3, 4)))
    layer = BatchNorm().initialize(X)
    _set_state(layer, rng)
    layer.training = training
    layer.forward(X)
    results = []
    for _ in range(2):
        dX = to_numpy(layer.backward(R)).copy()
        layer.compute_gradients()
        results.append((dX, to_numpy(layer.g["dgamma"]).copy(), to_numpy(layer.g["dbeta"]).copy()))
    for first, second in zip(*results):
        assert np.array_equal(first, second)
    assert np.abs(results[0][0]).max() > 0


def test_batchnorm_keeps_float32(rng):
    for name in ("cpu", "strict"):
        with nnxp.use_backend(name, dtype="float32", kernels="reference") as chosen:
            X = chosen.asarray(rng.standard_normal((4, 2, 3)))
            layer = BatchNorm().initialize(X)
            for training in (True, False):
                layer.training = training
                A, dX = layer.forward(X), layer.backward(X)
                layer.compute_gradients()
                arrays = [A, dX, *layer.g.values(), *layer.p.values()]
                assert all(a.dtype == chosen.dtype for a in arrays), name


def test_batchnorm_rejects_bad_input_and_options(array_backend, rng):
    layer = BatchNorm(name="bn").initialize(array_backend.asarray(rng.standard_normal((4, 3))))
    with pytest.raises(ShapeError, match=r"BatchNorm layer 'bn' expects input of shape \(m, \.\.\., 3\), got \(4, 5\)"):
        layer.forward(array_backend.asarray(rng.standard_normal((4, 5))))
    with pytest.raises(ShapeError, match="BatchNorm layer expects input of shape"):
        BatchNorm().initialize(array_backend.asarray(rng.standard_normal(4)))
    with pytest.raises(ValueError, match=r"BatchNorm: momentum must be a finite number in \[0, 1\], got 1.5"):
        BatchNorm(momentum=1.5)
    with pytest.raises(ValueError, match="BatchNorm: epsilon must be a finite number > 0, got 0"):
        BatchNorm(epsilon=0)


# --------------------------------------------------------------------------- in a model
def _data(rng, kind):
    shape = {"rows": (60, 5), "images": (60, 4, 4, 2)}[kind]
    X = rng.standard_normal(shape) * 4 + 3
    labels = (X.reshape(60, -1)[:, :3].sum(1) > 9).astype(int) + (X.reshape(60, -1)[:, 3] > 3)
    return X, labels


def _network(kind):
    head = [Flatten()] if kind == "images" else []
    return [BatchNorm(momentum=0.8, name="bn"), *head, Dense(6, "relu"), BatchNorm(), Dense(3, "softmax")]


@pytest.mark.parametrize("style", ["epynn", "keras"])
@pytest.mark.parametrize("kind", ["rows", "images"])
def test_batchnorm_in_both_model_styles_saves_and_loads(array_backend, kind, style, rng, tmp_path, capsys):
    X, labels = _data(rng, kind)
    if style == "epynn":
        model = Model([Embedding(X, labels, Y_encode=True, batch_size=16, seed=1), *_network(kind)])
        model.initialize(loss="CCE", seed=2, optimizer="adam", verbose=True)
        model.train(epochs=2, verbose=0)
    else:
        model = Model()
        for layer in _network(kind):
            model.add(layer)
        model.compile(loss="CCE", optimizer="adam", seed=2)
        model.fit(X, nnxp.one_hot(labels), epochs=2, batch_size=16, verbose=0)
        model.summary()
    table = capsys.readouterr().out
    assert "BatchNorm" in table and "running_mean" in table  # a row in the shape table / summary

    bn = model.layers[1]
    assert not any("running" in key for key in model.optimizer.state)  # never touched by the optimizer
    assert np.abs(to_numpy(bn.p["running_mean"])).max() > 0.5  # the data's mean (~3) was learnt

    before = model.predict(X)
    path = model.write(tmp_path / f"bn-{kind}-{style}.nnxp")
    loaded = nnxp.read_model(path)
    for name in ("gamma", "beta", *STATISTICS):
        assert np.array_equal(to_numpy(loaded.layers[1].p[name]), to_numpy(bn.p[name])), name
    assert np.array_equal(loaded.predict(X).probabilities, before.probabilities)


def test_batchnorm_statistics_follow_the_formula_during_a_model_step(array_backend, rng):
    """The optimizer must leave running_mean/var alone: after one train_step they are
    exactly the momentum average of the batch statistics, with the Adam step elsewhere."""
    X, labels = _data(rng, "rows")
    model = Model([Embedding(X, labels, Y_encode=True, batch_size=20, seed=0), BatchNorm(0.7), Dense(3, "softmax")])
    model.initialize(loss="CCE", seed=0, optimizer={"name": "adam", "learning_rate": 0.5}, verbose=False)
    bn = model.layers[1]
    batch = model.embedding.training_batches()[0]
    mean_before, var_before = to_numpy(bn.p["running_mean"]), to_numpy(bn.p["running_var"])
    gamma_before = to_numpy(bn.p["gamma"])
    model.train_step(batch.X, batch.Y)
    X_host = to_numpy(batch.X)
    assert_close(to_numpy(bn.p["running_mean"]), 0.7 * mean_before + 0.3 * X_host.mean(0), 1e-12, 0, "mean")
    assert_close(to_numpy(bn.p["running_var"]), 0.7 * var_before + 0.3 * X_host.var(0), 1e-12, 0, "var")
    assert not np.allclose(to_numpy(bn.p["gamma"]), gamma_before)  # gamma did move


@pytest.mark.slow
def test_batchnorm_trains_digits_at_least_as_well(rng):
    """Best validation accuracy over a small grid of learning rates, with and without
    BatchNorm: normalising lets a larger rate work, so BatchNorm should not lose."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)  # pixels 0..16, unscaled on purpose
    best = {}
    with nnxp.use_backend("cpu", dtype="float32"):
        for with_bn in (False, True):
            scores = []
            for rate in (0.01, 0.03, 0.1, 0.3):
                norm = (lambda: [BatchNorm()]) if with_bn else (lambda: [])
                layers = [Embedding(X, y, Y_encode=True, batch_size=32, seed=0), *norm(), Dense(32, "relu"),
                          *norm(), Dense(10, "softmax")]
                model = Model(layers).initialize(loss="CCE", seed=0, verbose=False,
                                                 optimizer={"name": "sgd", "learning_rate": rate})
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # without BatchNorm the large rates diverge, by design
                    history = model.train(epochs=3, verbose=0)
                scores.append(max(history["val_accuracy"]))
            best[with_bn] = max(scores)
    assert best[True] >= best[False], best
    assert best[True] > 0.9, best



def test_initialize_dry_pass_leaves_running_statistics_untouched(array_backend, rng):
    """Model.initialize runs one forward pass on the first batch to record the shapes;
    it must not count as a training step for BatchNorm's running statistics."""
    X = rng.normal(5.0, 2.0, size=(40, 3))
    model = nnxp.Model([Embedding(X, (X[:, 0] > 5).astype(int), batch_size=8), BatchNorm(), Dense(1, "sigmoid")])
    model.initialize(loss="BCE", seed=0, verbose=False)
    norm = model.layers[1]
    np.testing.assert_array_equal(nnxp.to_numpy(norm.p["running_mean"]), np.zeros(3))
    np.testing.assert_array_equal(nnxp.to_numpy(norm.p["running_var"]), np.ones(3))
    assert norm.n_trainable == 6 and norm.n_parameters == 12
