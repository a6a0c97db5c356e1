"""Plots leave the user's matplotlib alone; the console respects COLUMNS; the epoch rows
and the history table take the layout the width allows."""

from __future__ import annotations

import numpy as np
import pytest

import nnxp
from nnxp import report
from nnxp.layers import Dense, Embedding

matplotlib = pytest.importorskip("matplotlib", reason="the plots need matplotlib (the plot extra)")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def trained(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    model = nnxp.Model([Embedding(X, (X[:, 0] > 0).astype(int), Y_encode=True, relative_size=(2, 1, 0),
                                  batch_size=10, seed=0), Dense(2, "softmax")], name="tiny")
    with nnxp.use_backend("cpu", kernels="reference"):
        model.initialize(loss="CCE", metrics=["accuracy"], seed=0, verbose=False)
        model.train(epochs=3, verbose=0)
    return model


def test_plot_writes_its_own_figure_and_leaves_the_backend_alone(trained, tmp_path):
    from matplotlib.figure import Figure

    import sys

    backend = matplotlib.get_backend()
    pyplot = sys.modules.get("matplotlib.pyplot")
    figures_before = set(pyplot.get_fignums()) if pyplot is not None else set()
    figure = trained.plot(tmp_path / "curves.png")
    assert isinstance(figure, Figure)
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG
    assert matplotlib.get_backend() == backend
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or set(pyplot.get_fignums()) == figures_before  # none added to pyplot's global list


def test_plot_without_a_path_writes_nothing_and_returns_the_figure(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figure = trained.plot()
    assert not list(tmp_path.iterdir())
    loss, metrics = figure.axes
    assert [line.get_label() for line in loss.lines] == ["train loss", "val loss"]
    assert list(loss.lines[0].get_xdata()) == [1, 2, 3]
    assert loss.get_xlabel() == "epoch" and metrics.get_title() == "metrics"
    assert figure.get_suptitle() == "tiny on cpu (float32, kernels=reference)"
    figure.canvas.draw()  # the ticks are computed at drawing time
    ticks = [tick for tick in loss.get_xticks() if 1 <= tick <= 3]
    assert ticks and all(float(tick).is_integer() for tick in ticks)  # no epoch 2.5


def test_compare_plot_labels_its_bars_and_leaves_the_backend_alone(tmp_path):
    pytest.importorskip("sklearn")
    from nnxp.compare import compare, plot_comparison

    backend = matplotlib.get_backend()
    result = compare("mlp", targets=["cpu-reference"], epochs=2, verbose=False, plot_path=str(tmp_path / "c.png"))
    assert matplotlib.get_backend() == backend
    figure = plot_comparison(result)
    bars, curves = figure.axes
    labels = [text.get_text() for text in bars.texts]
    assert labels == [f"{result.table[0]['s/epoch']:.3g} s\n1.00x"]
    assert figure.get_suptitle() == "digits MLP (float32)"
    assert matplotlib.get_backend() == backend


def test_a_missing_matplotlib_names_the_extra(trained, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib"
                        else real_find_spec(name, *a))
    with pytest.raises(nnxp.MissingExtra, match=r'matplotlib is needed to draw plots: pip install "nnxp\[plot\]"'):
        trained.plot()


def test_the_console_respects_columns_and_is_wide_in_a_log(monkeypatch):
    monkeypatch.setenv("COLUMNS", "72")
    assert report.console().width == 72
    monkeypatch.delenv("COLUMNS")
    assert report.console().width == report.LOG_WIDTH  # pytest's capture is not a terminal


def test_epoch_rows_stack_by_set_when_a_row_would_not_fit(trained):
    values = {"lr": 0.01, "loss": 0.5, "accuracy": 0.75, "val_loss": 0.6, "val_accuracy": 0.7}
    wide, narrow = report.EpochRows(trained, 120), report.EpochRows(trained, 40)
    assert wide.by_epoch and not narrow.by_epoch
    from rich.text import Text

    (row,) = [Text.from_markup(line).plain for line in wide.rows(4, values, mark_best=False)]
    assert row.split() == ["4", "1.00e-02", "0.5000", "0.7500", "0.6000", "0.7000"]
    rows = [Text.from_markup(line).plain for line in narrow.rows(4, values, mark_best=False)]
    assert [line.split() for line in rows] == [["4", "train", "0.5000", "0.7500", "1.00e-02"],
                                              ["val", "0.6000", "0.7000"]]
    assert all(len(line) <= 40 for line in rows)


def test_history_table_prints_every_epoch(trained, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    trained.report()
    out = capsys.readouterr().out
    assert "tiny: 3 epochs" in out and max(len(line) for line in out.splitlines()) <= 30
    epochs = [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert epochs == ["1", "2", "3"]


def test_show_goes_through_pyplot_only_in_a_script(trained, monkeypatch):
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.get_fignums()))
    figure = trained.plot(show=True)
    try:
        assert shown == [[figure.number]]  # the user's backend shows it, as any pyplot figure
    finally:
        plt.close(figure)
