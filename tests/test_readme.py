"""The README's tour must run as written (it is the first code a newcomer copies)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_tour_and_keras_style_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the tour writes curves.png and digits.npz
    tour, keras = python_blocks()[:2]
    namespace: dict = {}
    exec(compile(tour, "README tour", "exec"), namespace)
    model = namespace["model"]
    assert model.history.epochs == 20
    assert model.history["test_accuracy"][-1] > 0.9
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    assert namespace["same"].predict(namespace["X"][:5]).decisions.tolist() == \
        model.predict(namespace["X"][:5]).decisions.tolist()
    exec(compile(keras, "README Keras style", "exec"), namespace)
    history = namespace["history"]
    # validation_split holds out the last 20% of the rows, as in Keras: the last 360 of the
    # digits are harder than a random fifth (about 0.89 against 0.97 after 20 epochs)
    assert history.epochs == 20 and history["val_accuracy"][-1] > 0.85 and history["accuracy"][-1] > 0.95


def test_readme_commands_are_the_ones_ci_runs():
    lines = README.read_text().splitlines()
    commands = [line for line in lines if line.startswith("python3 -m venv .venv &&")]
    assert len(commands) == 2, commands
    assert commands[0].endswith("nnxp demo") and commands[1].endswith("pytest")
    ci = (README.parent / ".ci" / "run").read_text()
    assert "grep -m1 -E '^python3 -m venv .* pytest' README.md" in ci
