"""`certify compare`: every method in every table, the output files, the plot, bad input."""

from __future__ import annotations

import csv
import sys
import warnings
from pathlib import Path

import pytest

from certify.compare import compare, markdown, plot, ratio
from certify.compare.cli import main
from certify.methods import method_names
from models import TwoLayerNetwork
from models.formats import save_model

CHEAP = ["--method", "spectral", "--method", "sampling"]


@pytest.fixture
def models(tmp_path: Path) -> list[Path]:
    """The toy clamp net (Lip = 1) and a two-output net with Lip = 3."""
    toy = TwoLayerNetwork.create([[1.0], [1.0]], [1.0, -1.0], b=[0.0, -1.0])
    wide = TwoLayerNetwork.create([[1.0, 0.0], [0.0, 1.0]], [[3.0, 0.0], [0.0, 2.0]])
    paths = [tmp_path / "toy.npz", tmp_path / "wide.npz"]
    for net, path in zip((toy, wide), paths, strict=True):
        save_model(net, path)
    return paths


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_tables_list_the_methods_that_apply_and_group_the_others(models, tmp_path, capsys):
    out = tmp_path / "out"
    code = main([*map(str, models), "--out", str(out), "--time-limit", "1"])
    printed = capsys.readouterr().out
    assert code == 0
    rows = _rows(out / "compare.csv")
    for model in models:
        assert [row["method"] for row in rows if row["model"] == str(model)] == method_names()
    applicable = {row["method"] for row in rows if not row["note"].startswith("not applicable")}
    skipped = set(method_names()) - applicable
    assert {"spectral", "lipsdp-neuron", "sampling"} <= applicable
    assert {"geolip", "linf-product"} <= skipped
    markdown_text, page = (out / "compare.md").read_text(), (out / "compare.html").read_text()
    for name in applicable:
        assert f"| {name} |" in printed and f"| {name} |" in markdown_text
        assert f"<td>{name}</td>" in page
    for name in skipped:
        assert f"| {name} |" not in markdown_text and f"<td>{name}</td>" not in page
    assert markdown_text.count("Not applicable here:") == len(models)
    reasons = markdown_text.split("Not applicable here:")[1]
    assert all(name in reasons for name in skipped)
    assert "n/a" not in markdown_text


def test_values_and_ratios_bracket_the_known_constants(models, tmp_path, capsys) -> None:
    assert main([*map(str, models), *CHEAP, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    rows = {(Path(r["model"]).stem, r["method"]): r for r in _rows(tmp_path / "compare.csv")}
    for stem, constant in (("toy", 1.0), ("wide", 3.0)):
        upper, lower = rows[stem, "spectral"], rows[stem, "sampling"]
        assert upper["verified"] == lower["verified"] == "yes"
        assert float(lower["value"]) <= constant <= float(upper["value"])
        assert float(upper["ratio"]) >= 1.0 >= float(lower["ratio"])


def test_ratio_is_relative_to_the_best_verified_lower_end(models) -> None:
    net = TwoLayerNetwork.create([[2.0]], [1.5])
    (comparison,) = compare([("line", net)], ["spectral", "sampling"], time_limit=1.0)
    report = comparison.report
    assert report.lower > 0
    for result in report.methods:
        assert ratio(result, report) == pytest.approx(result.value / report.lower)
    assert "## line (d=1, k=1, m=1, relu, l2 norm)" in markdown([comparison])


def test_plot_is_written_with_matplotlib(models, tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    assert main([*map(str, models), *CHEAP, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'src="compare.png"' in (tmp_path / "compare.html").read_text()
    assert "compare.png" in capsys.readouterr().out


def test_without_matplotlib_the_plot_is_skipped_with_a_note(
    models, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main([str(models[0]), *CHEAP, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "matplotlib is not installed" in out
    assert not (tmp_path / "compare.png").exists()
    assert (tmp_path / "compare.csv").exists() and (tmp_path / "compare.html").exists()


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["--method", "nonsense"], "nonsense"),
        (["missing.npz"], "missing.npz"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(argv, name, models, tmp_path, capsys) -> None:
    code = main([str(models[0]), *argv, "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("certify compare: error:")
    assert name in lines[0]
    assert not (tmp_path / "compare.csv").exists()


def test_the_linf_norm_runs_the_linf_methods() -> None:
    """f(x) = relu(x0) + relu(x1) has Lip∞ = 2: the ℓ∞ methods bracket it, ℓ2 ones stand aside."""
    net = TwoLayerNetwork.create([[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]])
    (comparison,) = compare(
        [("sum", net)], ["geolip", "ascent", "spectral"], time_limit=1.0, norm="inf"
    )
    report = comparison.report
    assert report.lower == pytest.approx(2.0) and report.upper == pytest.approx(2.0)
    assert not next(r for r in report.methods if r.name == "spectral").applicable
    assert "linf norm" in markdown([comparison])


def test_ratio_ticks_are_labelled_above_and_below_one() -> None:
    from certify.compare.plot import ratio_ticks

    assert ratio_ticks(0.7, 2.8) == [0.8, 1.0, 1.2, 1.5, 2.0]
    assert 1.0 in ratio_ticks(0.99, 1.01)
    assert len(ratio_ticks(1e-3, 1e3)) <= 12 and min(ratio_ticks(1e-3, 1e3)) < 1 < max(
        ratio_ticks(1e-3, 1e3)
    )


def test_a_ratio_of_exactly_one_is_a_visible_bar(monkeypatch, tmp_path) -> None:
    """f(x) = relu(2x): spectral, sampling and the interval all equal 2, so both ratios are 1."""
    matplotlib_figure = pytest.importorskip("matplotlib.figure")
    saved = []
    monkeypatch.setattr(
        matplotlib_figure.Figure, "savefig", lambda self, *a, **k: saved.append(self)
    )
    net = TwoLayerNetwork.create([[2.0]], [1.0])
    comparisons = compare([("line", net)], ["spectral", "sampling"], time_limit=1.0)
    assert [
        ratio(r, comparisons[0].report) for r in comparisons[0].report.methods
    ] == pytest.approx([1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plot(comparisons, tmp_path / "p.png")
    bars = saved[0].axes[0].patches
    assert len(bars) == 2
    assert all(
        bar.get_y() < 1.0 and bar.get_y() + bar.get_height() == pytest.approx(1.0) for bar in bars
    )
    labels = [tick.get_text() for tick in saved[0].axes[0].get_yticklabels()]
    assert "1" in labels


def test_a_plot_without_any_verified_ratio_gives_no_warning(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    net = TwoLayerNetwork.create([[2.0]], [1.0])
    comparisons = compare([("line", net)], ["spectral"], time_limit=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plot(comparisons, tmp_path / "p.png")
