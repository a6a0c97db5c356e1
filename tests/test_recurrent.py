"""RNN, GRU and LSTM: finite differences, repeated backward, errors, clipping,
initialization, both model styles, the shape table, saving and loading."""

from __future__ import annotations

import numpy as np
import pytest

import nnxp
from gradcheck import assert_close, check_layer_gradients
from nnxp.backend import get_backend, to_numpy
from nnxp.layers import GRU, LSTM, RNN, Dense, Embedding, ShapeError

LAYERS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
# Non-default activations too, including ones the compiled kernels do not know (LReLU,
# ELU, softplus), which must fall back to the reference code.
VARIANTS = [
    ("rnn", {}), ("rnn", {"activation": "relu"}), ("rnn", {"activation": "elu"}),
    ("gru", {}), ("gru", {"activation": "softsign", "reset_gate": "tanh", "update_gate": "lrelu"}),
    ("lstm", {}), ("lstm", {"activation": "softplus", "input_gate": "relu", "forget_gate": "softsign",
                            "candidate_activation": "identity", "output_gate": "tanh"}),
]
VARIANT_IDS = [f"{family}-{'-'.join(v.values()) or 'default'}" for family, v in VARIANTS]


@pytest.mark.parametrize("sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("family,activations", VARIANTS, ids=VARIANT_IDS)
def test_gradients_match_finite_differences(backend, family, activations, sequences, rng):
    X = rng.standard_normal((3, 4, 2))
    layer = LAYERS[family](3, sequences=sequences, **activations)
    check_layer_gradients(layer, X, seed=3)


@pytest.mark.parametrize("family", LAYERS)
def test_two_backward_calls_give_the_same_result(backend, family, rng):
    layer = LAYERS[family](4, sequences=True)
    X = backend.asarray(rng.standard_normal((5, 6, 3)))
    layer.initialize(X, seed=1)
    dA = backend.asarray(rng.standard_normal((5, 6, 4)))
    layer.forward(X)
    results = []
    for _ in range(2):
        dX = to_numpy(layer.backward(dA)).copy()
        layer.compute_gradients()
        results.append((dX, {k: to_numpy(v).copy() for k, v in layer.g.items()}))
    (dX1, g1), (dX2, g2) = results
    np.testing.assert_array_equal(dX1, dX2)
    assert g1.keys() == g2.keys() == {"d" + k for k in layer.p}
    for key in g1:
        np.testing.assert_array_equal(g1[key], g2[key])


@pytest.mark.parametrize("family", LAYERS)
def test_a_first_layer_can_skip_the_input_gradient(backend, family, rng):
    """``input_gradient`` False (a model's first layer, in training): backward returns
    None for dX, and the parameter gradients are those of the full backward."""
    X = backend.asarray(rng.standard_normal((5, 6, 3)))
    full, first = LAYERS[family](4, sequences=True), LAYERS[family](4, sequences=True)
    full.initialize(X, seed=2), first.initialize(X, seed=2)
    first.input_gradient = False
    dA = backend.asarray(rng.standard_normal((5, 6, 4)))
    full.forward(X), first.forward(X)
    assert full.backward(dA) is not None and first.backward(dA) is None and first.bc["dX"] is None
    full.compute_gradients(), first.compute_gradients()
    assert first.g.keys() == full.g.keys() == {"d" + k for k in full.p}
    for name in full.g:
        np.testing.assert_array_equal(to_numpy(first.g[name]), to_numpy(full.g[name]), err_msg=name)


@pytest.mark.parametrize("family", LAYERS)
def test_last_state_is_the_last_step_of_the_sequence(array_backend, family, rng):
    X = array_backend.asarray(rng.standard_normal((3, 5, 2)))
    every = LAYERS[family](4, sequences=True).initialize(X, seed=7)
    last = LAYERS[family](4, sequences=False).initialize(X, seed=7)
    H, h = to_numpy(every.forward(X)), to_numpy(last.forward(X))
    assert H.shape == (3, 5, 4) and h.shape == (3, 4)
    np.testing.assert_array_equal(H[:, -1, :], h)


@pytest.mark.parametrize("family", LAYERS)
def test_the_number_of_steps_may_change_between_batches(array_backend, family, rng):
    layer = LAYERS[family](2, sequences=True).initialize(array_backend.asarray(rng.standard_normal((4, 6, 3))))
    X_short = rng.standard_normal((2, 3, 3))
    H = to_numpy(layer.forward(array_backend.asarray(X_short)))
    assert H.shape == (2, 3, 2)
    # a sequence's first steps do not depend on what comes later
    H_long = to_numpy(layer.forward(array_backend.asarray(np.concatenate([X_short, X_short], axis=1))))
    np.testing.assert_allclose(H_long[:, :3, :], H, rtol=1e-12)


@pytest.mark.parametrize("family", LAYERS)
def test_bad_shapes_name_the_layer_and_both_shapes(array_backend, family, rng):
    layer = LAYERS[family](2, name="memory")
    with pytest.raises(ShapeError, match=r"memory.*\(m, steps, features\).*\(4, 3\)"):
        layer.initialize(array_backend.asarray(rng.standard_normal((4, 3))))
    layer.initialize(array_backend.asarray(rng.standard_normal((4, 5, 3))))
    with pytest.raises(ShapeError, match=r"memory.*\(m, steps, 3\).*\(4, 5, 2\)"):
        layer.forward(array_backend.asarray(rng.standard_normal((4, 5, 2))))
    with pytest.raises(ShapeError, match=r"memory.*2-D input of shape \(4, 3\)"):
        layer.forward(array_backend.asarray(rng.standard_normal((4, 3))))


@pytest.mark.parametrize("family", LAYERS)
def test_bad_options_are_refused(family):
    with pytest.raises(ValueError, match=f"{family.upper()}: units"):
        LAYERS[family](0)
    with pytest.raises(ValueError, match="clip_gradients"):
        LAYERS[family](2, clip_gradients=-1.0)
    with pytest.raises(ValueError, match="unknown activation"):
        LAYERS[family](2, activation="sigmoidal")


@pytest.mark.parametrize("family", LAYERS)
def test_initialization_orthogonal_recurrent_blocks(array_backend, family, rng):
    X = rng.standard_normal((2, 3, 5))
    layer = LAYERS[family](6).initialize(array_backend.asarray(X), seed=11)
    G = layer.gates
    U, V, b = (to_numpy(layer.p[k]) for k in ("U", "V", "b"))
    assert U.shape == (5, G * 6) and V.shape == (6, G * 6) and b.shape == (G * 6,)
    assert not b.any() and U.std() > 0
    for k in range(G):  # each gate's (u, u) block is orthogonal
        block = V[:, 6 * k:6 * (k + 1)]
        np.testing.assert_allclose(block.T @ block, np.eye(6), atol=1e-12)
    # the same seed draws the same weights on any backend
    with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
        again = LAYERS[family](6).initialize(np.asarray(X), seed=11)
    np.testing.assert_array_equal(to_numpy(again.p["V"]), V)


@pytest.mark.parametrize("family", LAYERS)
def test_clip_gradients_scales_the_joint_norm(backend, family, rng):
    X = backend.asarray(rng.standard_normal((4, 5, 3)))
    dA = backend.asarray(10 * rng.standard_normal((4, 2)))
    gradients = {}
    for clip in (None, 0.5):
        layer = LAYERS[family](2, clip_gradients=clip).initialize(X, seed=2)
        layer.forward(X)
        layer.backward(dA)
        layer.compute_gradients()
        gradients[clip] = {k: to_numpy(v) for k, v in layer.g.items()}
    free, clipped = gradients[None], gradients[0.5]
    norm = np.sqrt(sum(np.sum(g * g) for g in free.values()))
    assert norm > 0.5  # so that clipping has something to do
    clipped_norm = np.sqrt(sum(np.sum(g * g) for g in clipped.values()))
    assert clipped_norm == pytest.approx(0.5, rel=1e-5)
    for key in free:
        assert_close(clipped[key], free[key] * (0.5 / (norm + 1e-6)), rtol=1e-12, atol=0, what=key)


# --------------------------------------------------------------------------- in models


def sequence_data(rng, m=40, steps=5, features=3):
    X = rng.standard_normal((m, steps, features))
    y = (X[:, 0, 0] > 0).astype(int)
    return X, y


def test_epynn_style_model_with_stacked_layers_prints_its_shapes(array_backend, rng, capsys):
    X, y = sequence_data(rng)
    model = nnxp.Model([Embedding(X, y, Y_encode=True, batch_size=16, seed=1), LSTM(4, sequences=True),
                        GRU(3, sequences=True), RNN(5), Dense(2, "softmax")])
    model.initialize(loss="CCE", seed=1, se_hPars={"learning_rate": 0.05})
    table = capsys.readouterr().out
    for expected in ("LSTM", "GRU", "RNN", "U (3, 16)", "V (4, 16)", "b (16,)", "V (3, 9)", "bh (3,)",
                     "(16, 5, 4)", "(16, 5, 3)", "(16, 5)"):
        assert expected in table, f"{expected!r} missing from the shape table:\n{table}"
    model.train(epochs=2, verbose=0)
    assert model.history.epochs == 2 and np.isfinite(model.history["loss"]).all()
    model.summary()
    assert "V (5, 5)" in capsys.readouterr().out


@pytest.mark.parametrize("family", LAYERS)
def test_keras_style_model_trains_saves_and_loads(array_backend, family, rng, tmp_path):
    X, y = sequence_data(rng)
    options = {"gru": {"reset_gate": "softsign"}, "lstm": {"forget_gate": "tanh"}, "rnn": {"activation": "relu"}}
    model = nnxp.Model()
    model.add(LAYERS[family](4, clip_gradients=1.0, **options[family]))
    model.add(Dense(2, "softmax"))
    model.compile(loss="CCE", optimizer="adam", seed=3)
    history = model.fit(X, nnxp.one_hot(y), epochs=2, batch_size=8, verbose=0)
    assert history.epochs == 2
    path = model.write(tmp_path / f"{family}.npz")
    loaded = nnxp.read_model(path)
    layer, restored = model.layers[1], loaded.layers[1]
    assert type(restored) is type(layer) and restored.get_config() == layer.get_config()
    assert restored.clip_gradients == 1.0 and restored.sequences is False
    np.testing.assert_array_equal(loaded.predict(X).probabilities, model.predict(X).probabilities)
    loaded.fit(X, nnxp.one_hot(y), epochs=1, batch_size=8, verbose=0)  # and it goes on training
    assert loaded.history.epochs == 3


def test_float32_runs_stay_float32(rng):
    with nnxp.use_backend("cpu", dtype="float32", kernels="reference"):
        for family, layer_class in LAYERS.items():
            X = get_backend().asarray(rng.standard_normal((3, 4, 2)))
            layer = layer_class(3, sequences=True).initialize(X, seed=0)
            A = layer.forward(X)
            dX = layer.backward(A)
            layer.compute_gradients()
            assert A.dtype == dX.dtype == np.float32, family
            assert all(g.dtype == np.float32 for g in layer.g.values()), family
