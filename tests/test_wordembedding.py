"""WordEmbedding: finite differences on W, PyTorch parity (forward and dW with repeated
ids), zero dX, freezing, id checks, both model styles, saving, and a toy task."""

import numpy as np
import pytest

import nnxp
from gradcheck import assert_close, check_layer_gradients
from nnxp import Model, to_numpy
from nnxp.layers import Dense, Embedding, Flatten, WordEmbedding


def _ids(rng, shape, vocabulary):
    """Token ids with repeats, and (for a vocabulary larger than the sample) gaps."""
    return rng.integers(0, vocabulary, shape)


@pytest.mark.parametrize("shape", [(4, 5), (7,), (2, 3, 2)], ids=["sequences", "flat", "grid"])
def test_wordembedding_gradient_matches_finite_differences(backend, shape, rng):
    ids = _ids(rng, shape, 6)
    assert len(np.unique(ids)) < ids.size  # repeated ids: the case a scatter-add gets wrong
    check_layer_gradients(WordEmbedding(6, 3, initialization="normal"), ids, check_dX=False)


@pytest.mark.torch
@pytest.mark.parametrize("as_floats", [True, False], ids=["float-ids", "int-ids"])
@pytest.mark.parametrize("vocabulary, units, shape", [(5, 3, (4, 6)), (50, 8, (3, 7)), (1, 2, (2, 2))])
def test_wordembedding_matches_pytorch(array_backend, vocabulary, units, shape, as_floats, rng, parity_log,
                                      torch_one_thread):
    torch = torch_one_thread
    ids = _ids(rng, shape, vocabulary)
    X = array_backend.asarray(ids.astype(np.float64) if as_floats else ids)  # the Embedding layer stores floats
    layer = WordEmbedding(vocabulary, units, initialization="normal").initialize(X, seed=3)
    module = torch.nn.Embedding(vocabulary, units, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(to_numpy(layer.p["W"])))
    R = rng.standard_normal((*shape, units))
    A = layer.forward(X)
    dX = layer.backward(array_backend.asarray(R))
    layer.compute_gradients()
    A_t = module(torch.tensor(ids))
    (dW_t,) = torch.autograd.grad((A_t * torch.tensor(R)).sum(), (module.weight,))
    assert_close(to_numpy(A), A_t.detach().numpy(), rtol=1e-9, atol=0, what="A")
    assert_close(to_numpy(layer.g["dW"]), dW_t.numpy(), rtol=1e-9, atol=0, what="dW")
    assert to_numpy(dX).shape == shape and not np.any(to_numpy(dX))  # no gradient w.r.t. integer ids
    parity_log.add("wordembedding")


def test_wordembedding_backward_twice_gives_the_same_result(array_backend, rng):
    X = array_backend.asarray(_ids(rng, (5, 4), 7).astype(np.float64))
    R = array_backend.asarray(rng.standard_normal((5, 4, 3)))
    layer = WordEmbedding(7, 3).initialize(X)
    layer.forward(X)
    results = []
    for _ in range(2):
        layer.backward(R)
        layer.compute_gradients()
        results.append(to_numpy(layer.g["dW"]).copy())
    assert np.array_equal(results[0], results[1]) and np.abs(results[0]).max() > 0


def test_wordembedding_keeps_float32(rng):
    for name in ("cpu", "strict"):
        with nnxp.use_backend(name, dtype="float32", kernels="reference") as chosen:
            X = chosen.asarray(_ids(rng, (3, 4), 5).astype(np.float64))
            layer = WordEmbedding(5, 2).initialize(X)
            A, dX = layer.forward(X), layer.backward(chosen.asarray(rng.standard_normal((3, 4, 2))))
            layer.compute_gradients()
            assert all(a.dtype == chosen.dtype for a in (A, dX, layer.p["W"], layer.g["dW"])), name


def test_wordembedding_frozen_computes_no_gradient(array_backend, rng):
    X = array_backend.asarray(_ids(rng, (3, 4), 5))
    layer = WordEmbedding(5, 2, trainable=False).initialize(X)
    layer.forward(X)
    layer.backward(array_backend.asarray(rng.standard_normal((3, 4, 2))))
    layer.compute_gradients()
    assert layer.g == {} and layer.trainable is False


def test_wordembedding_checks_token_ids(array_backend):
    layer = WordEmbedding(5, 2, name="words")
    for bad in ([[0, 5]], [[-1, 2]], [[1.5, 2.0]]):
        with pytest.raises(ValueError, match=r"WordEmbedding layer 'words' expects whole token ids in \[0, 5\)"):
            layer.initialize(array_backend.asarray(np.array(bad, dtype=np.float64)))
    layer.initialize(array_backend.asarray(np.array([[0.0, 4.0]])))
    with pytest.raises(IndexError, match=r"WordEmbedding layer 'words': token ids must be in \[0, 5\)"):
        layer.forward(array_backend.asarray(np.array([[1.0, 7.0]])))  # past the first batch: NumPy still raises
    with pytest.raises(ValueError, match="WordEmbedding: vocabulary_size must be a whole number >= 1, got 0"):
        WordEmbedding(0, 3)


# --------------------------------------------------------------------------- in a model
def _toy_task(rng, m=600, steps=8, vocabulary=20, token=3):
    """Does the sequence contain ``token``? (about a third of them do)."""
    ids = _ids(rng, (m, steps), vocabulary)
    return ids, (ids == token).any(axis=1).astype(int)


def _network(trainable=True):
    return [WordEmbedding(20, 4, trainable=trainable, name="words"), Flatten(), Dense(2, "softmax")]


@pytest.mark.parametrize("style", ["epynn", "keras"])
def test_wordembedding_learns_in_both_model_styles_saves_and_loads(array_backend, style, rng, tmp_path, capsys):
    ids, labels = _toy_task(rng)
    optimizer = {"name": "adam", "learning_rate": 0.05}
    if style == "epynn":
        model = Model([Embedding(ids, labels, Y_encode=True, batch_size=32, seed=0), *_network()])
        model.initialize(loss="CCE", seed=0, optimizer=optimizer, verbose=True)
        history = model.train(epochs=4, verbose=0)
    else:
        model = Model()
        for layer in _network():
            model.add(layer)
        model.compile(loss="CCE", optimizer=optimizer, seed=0)
        history = model.fit(ids, nnxp.one_hot(labels), epochs=4, batch_size=32, validation_split=0.3, seed=0,
                            verbose=0)
        model.summary()
    table = capsys.readouterr().out
    assert "WordEmbedding" in table and "(20, 4)" in table  # its row and W's shape
    assert history["val_accuracy"][-1] >= 0.95, history["val_accuracy"]

    before = model.predict(ids[:50])
    loaded = nnxp.read_model(model.write(tmp_path / f"words-{style}.nnxp"))
    assert isinstance(loaded.layers[1], WordEmbedding) and loaded.layers[1].vocabulary_size == 20
    assert np.array_equal(loaded.predict(ids[:50]).probabilities, before.probabilities)


def test_wordembedding_frozen_in_a_model_keeps_its_vectors(array_backend, rng, tmp_path):
    ids, labels = _toy_task(rng, m=90)
    model = Model([Embedding(ids, labels, Y_encode=True, batch_size=30, seed=0), *_network(trainable=False)])
    model.initialize(loss="CCE", seed=0, optimizer="adam", verbose=False)
    W, dense_W = to_numpy(model.layers[1].p["W"]).copy(), to_numpy(model.layers[3].p["W"]).copy()
    model.train(epochs=2, verbose=0)
    assert np.array_equal(to_numpy(model.layers[1].p["W"]), W)
    assert not np.array_equal(to_numpy(model.layers[3].p["W"]), dense_W)  # the rest did learn
    loaded = nnxp.read_model(model.write(tmp_path / "frozen.nnxp"))
    assert loaded.layers[1].trainable is False
