"""Files written by nnxp 0.1 (model format version 1) load exactly as they were saved.

The four files in tests/data/v1 were written once by the version-1 writer
(``make_fixtures.py`` there says how); ``expected.json`` holds what the models held
and computed then. Every later reader must keep loading them to these numbers.
"""

import json
import os

import numpy as np
import pytest

import nnxp
from nnxp import read_model

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "v1")
with open(os.path.join(HERE, "expected.json")) as stream:
    EXPECTED = json.load(stream)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_version_1_files_load_exactly(name):
    expected = EXPECTED[name]
    with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
        model = read_model(os.path.join(HERE, f"{name}.npz"))
        sums = {f"p/{i}/{k}": float(np.sum(nnxp.to_numpy(v), dtype=np.float64))
                for i, layer in enumerate(model.layers) for k, v in layer.p.items()}
        sums.update({f"opt/{key}/{slot}": float(np.sum(nnxp.to_numpy(v), dtype=np.float64))
                     for key, slots in model.optimizer.state.items() for slot, v in slots.items()})
        assert sums == expected["sums"]  # every array, bit for bit (the same sums in the same order)
        assert model.epoch == expected["epoch"] and model.optimizer.t == expected["steps"]
        assert model.history.history == expected["history"]
        probabilities = model.predict(np.array(expected["input"])).probabilities
        np.testing.assert_allclose(probabilities, expected["probabilities"], rtol=1e-12, atol=1e-15)


def test_the_fixtures_cover_what_version_1_could_hold():
    """An MLP (string labels, scaling, Dropout), a CNN with Adam state, an LSTM, a BatchNorm."""
    assert set(EXPECTED) == {"mlp", "cnn", "lstm", "batchnorm"}
    assert any(key.startswith("opt/1/W/") for key in EXPECTED["cnn"]["sums"])  # Adam's moments of the filters
    assert "p/2/running_var" in EXPECTED["batchnorm"]["sums"]


def test_the_number_of_gates_saved_as_G_loads_as_gates(tmp_path):
    """nnxp 0.1 kept a recurrent layer's number of gates as d["G"], the name of its gate
    values (fc["G"]) too; it is d["gates"] now. The loader reads the old name under the
    new one (nnxp.io.RENAMED_DIMENSIONS), and the model is written back with the new one."""
    with open(os.path.join(HERE, "lstm.npz"), "rb") as stream:
        saved = json.loads(np.load(stream)["__config__"].tobytes())
    lstm_index = next(i for i, entry in enumerate(saved["layers"]) if entry["class"] == "LSTM")
    assert saved["layers"][lstm_index]["state"]["d"]["G"] == 4  # the fixture holds the old name
    with nnxp.use_backend("cpu", dtype="float64", kernels="reference"):
        model = read_model(os.path.join(HERE, "lstm.npz"))
        assert model.layers[lstm_index].d["gates"] == 4 and "G" not in model.layers[lstm_index].d
        again = read_model(model.write(tmp_path / "again.npz"))
        assert again.layers[lstm_index].d == model.layers[lstm_index].d
