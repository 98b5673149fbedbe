"""Protocol fidelity of the law lab (issue 13): batch normalisation folded exactly, the training
options the paper leaves unstated, the paper's linear fit, the unit-ball upper end, and the
stage reports of running tasks."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from certify.api import certify
from certify.law.analysis import analyse
from certify.law.cli import main
from certify.law.executor import sweep
from certify.law.grid import PAPER_PROTOCOL, PRESETS, Grid, GridError, Task, load_grid
from certify.law.run import Settings, run_task
from certify.law.sphere import (
    GLOBAL,
    UNIT_BALL,
    sphere_lower_bound,
    tightest_upper,
    unit_ball_upper,
)
from certify.law.stages import StageBoard
from certify.law.store import Store, read_rows
from certify.methods import Budget
from models import TwoLayerNetwork, get_activation
from models.batchnorm import fold_batch_norm
from models.data import generic_data
from models.train import (
    _batches,
    _initial_network,
    fit_loss,
    folding_gap,
    train_two_layer,
    trainable_module,
)

# --- batch normalisation, folded in float64 ----------------------------------------------------


def _trained_batch_norm_module(d: int, k: int, seed: int) -> nn.Sequential:
    """Linear → BatchNorm1d → ReLU → Linear after a few mini-batch Adam steps in train mode, so
    that its weights, γ, β and running statistics are all away from their defaults."""
    rng = np.random.default_rng(seed)
    start = TwoLayerNetwork.create(
        rng.standard_normal((k, d)), rng.standard_normal((1, k)), b=rng.standard_normal(k)
    )
    module = trainable_module(start, batch_norm=True, bias_free=False)
    optimiser = torch.optim.Adam(module.parameters(), lr=0.05)
    X = torch.from_numpy(rng.standard_normal((64, d)) * 2 + 1)
    for batch in torch.split(X, 16):
        optimiser.zero_grad()
        torch.mean(module(batch) ** 2).backward()
        optimiser.step()
    return module.eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float64_folding_computes_the_eval_mode_module_at_random_points(seed: int) -> None:
    module = _trained_batch_norm_module(d=7, k=12, seed=seed)
    first, norm, _, second = module
    assert not torch.allclose(norm.running_var, torch.ones_like(norm.running_var))
    W, b = fold_batch_norm(
        first.weight.detach().numpy(),
        first.bias.detach().numpy(),
        norm.running_mean.numpy(),
        norm.running_var.numpy(),
        norm.eps,
        norm.weight.detach().numpy(),
        norm.bias.detach().numpy(),
    )
    net = TwoLayerNetwork.create(
        W, second.weight.detach().numpy(), b=b, c=second.bias.detach().numpy()
    )
    X = np.random.default_rng(seed + 10).standard_normal((200, 7)) * 3
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    assert np.max(np.abs(net(X) - expected)) <= 1e-12 * (1 + np.max(np.abs(expected)))
    assert folding_gap(module, net, X) <= 1e-12
    wrong = TwoLayerNetwork.create(first.weight.detach().numpy(), net.A, b=net.b, c=net.c)
    assert folding_gap(module, wrong, X) > 1e-3  # the check notices an unfolded layer


def test_folding_without_affine_parameters_or_bias_is_the_plain_standardisation() -> None:
    W = np.array([[1.0, 2.0], [-3.0, 0.5]])
    mean, variance, eps = np.array([0.5, -1.0]), np.array([4.0, 0.25]), 0.0
    folded_W, folded_b = fold_batch_norm(W, None, mean, variance, eps)
    x = np.array([0.3, -0.7])
    assert folded_W @ x + folded_b == pytest.approx((W @ x - mean) / np.sqrt(variance))
    with pytest.raises(ValueError, match="length"):
        fold_batch_norm(W, None, mean[:1], variance, eps)


def test_mini_batch_training_with_batch_norm_returns_the_folded_eval_network() -> None:
    X, y = generic_data(40, 8, "sphere", seed=2)
    result = train_two_layer(
        X, y, k=30, batch_norm=True, batch_size=10, seed=2, max_epochs=600, epsilon=0.1
    )
    # train_two_layer itself raises unless the folded net matches the module at random points
    loss = np.mean((result.network(X)[:, 0] - y) ** 2)
    assert loss == pytest.approx(result.loss, rel=1e-12)
    assert np.any(result.network.b != 0)


# --- the options the paper leaves unstated -----------------------------------------------------


def test_batches_cover_the_data_and_are_never_smaller_than_asked() -> None:
    generator = torch.Generator().manual_seed(0)
    batches = _batches(23, 5, generator)
    assert len(batches) == 4 and min(len(b) for b in batches) >= 5
    assert sorted(torch.cat(batches).tolist()) == list(range(23))
    assert _batches(23, 0, generator) == [slice(None)] == _batches(23, 50, generator)


def test_init_scale_multiplies_both_initial_layers() -> None:
    relu = get_activation("relu")
    one, two = _initial_network(5, 4, 1, relu, 3, 1.0), _initial_network(5, 4, 1, relu, 3, 2.5)
    assert pytest.approx(2.5 * one.W, rel=1e-15) == two.W
    assert pytest.approx(2.5 * one.A, rel=1e-15) == two.A


def test_extra_epochs_continue_exactly_past_the_first_fit() -> None:
    X, y = generic_data(30, 6, "sphere", seed=1)
    first = train_two_layer(X, y, k=20, seed=1, max_epochs=3000)
    longer = train_two_layer(X, y, k=20, seed=1, max_epochs=3000, extra_epochs=40)
    assert first.interpolated and longer.interpolated
    assert longer.epochs == first.epochs + 40
    assert longer.loss < first.loss


def test_training_reports_each_check() -> None:
    X, y = generic_data(20, 5, "sphere", seed=0)
    checks: list[tuple[int, float]] = []
    result = train_two_layer(
        X,
        y,
        k=10,
        seed=0,
        max_epochs=100,
        check_every=20,
        on_check=lambda epoch, loss: checks.append((epoch, loss)),
    )
    assert [epoch for epoch, _ in checks] == list(range(20, result.epochs + 1, 20))
    assert checks[-1][1] == result.loss


@pytest.mark.parametrize("batch_norm", [False, True])
def test_float32_training_returns_the_float64_net_it_found(batch_norm: bool) -> None:
    X, y = generic_data(30, 6, "sphere", seed=4)
    result = train_two_layer(X, y, k=20, seed=4, precision="float32", batch_norm=batch_norm)
    net = result.network
    assert result.interpolated and net.W.dtype == np.float64
    assert (result.loss, True) == fit_loss(net, X, y[:, None])  # tested on the float64 net
    if not batch_norm:  # the trained float32 weights themselves, converted exactly
        for array in (net.W, net.b, net.A, net.c):
            assert np.array_equal(array.astype(np.float32).astype(np.float64), array)
    with pytest.raises(ValueError, match="precision"):
        train_two_layer(X, y, k=20, precision="float16")


def test_paper_presets_and_option_validation(tmp_path: Path) -> None:
    for name in ("bln-fig2", "bln-fig3"):
        paper = PRESETS[f"{name}-paper"]
        assert paper.tasks() and all(
            getattr(t, key) == value for t in paper.tasks() for key, value in PAPER_PROTOCOL.items()
        )
        assert {(t.n, t.d, t.k) for t in paper.tasks()} == {
            (t.n, t.d, t.k) for t in PRESETS[name].tasks()
        }
    assert PAPER_PROTOCOL["batch_norm"] is True
    for bad in (
        {"batch_norm": True, "batch_size": 1},
        {"init_scale": 0.0},
        {"extra_epochs": -1},
        {"batch_size": 2.5},
        {"min_d": 0},
        {"precision": "float16"},
    ):
        with pytest.raises(GridError):
            Grid(n=(10,), d=(5,), k=(3,), **bad)
    path = tmp_path / "grid.toml"
    path.write_text(
        "n = [30]\nd = [5]\nk = [3]\ninit_scale = 0.5\nbatch_size = 8\nextra_epochs = 100\n"
    )
    task = load_grid(path).tasks()[0]
    assert (task.init_scale, task.batch_size, task.extra_epochs) == (0.5, 8, 100)


#: A tiny sweep that sets every new option from the command line.
OPTIONS = [
    "--n",
    "20",
    "--d",
    "6",
    "--k",
    "16",
    "--seeds",
    "0",
    "--batch-norm",
    "--batch-size",
    "10",
    "--init-scale",
    "0.8",
    "--extra-epochs",
    "25",
    "--learning-rate",
    "0.02",
    "--epsilon",
    "0.05",
    "--max-epochs",
    "1500",
    "--precision",
    "float32",
    "--time-limit",
    "0.5",
    "--workers",
    "1",
]


def test_a_tiny_sweep_with_every_new_option(tmp_path: Path) -> None:
    db = tmp_path / "law.sqlite"
    assert main(["run", "--db", str(db), *OPTIONS]) == 0
    (row,) = read_rows(db)
    assert row.get("error") is None and row["interpolated"] == 1
    assert (
        row["batch_norm"],
        row["batch_size"],
        row["init_scale"],
        row["extra_epochs"],
        row["learning_rate"],
        row["epsilon"],
        row["precision"],
    ) == (1, 10, 0.8, 25, 0.02, 0.05, "float32")
    assert row["epochs"] % 25 == 0 and 0 < row["train_seconds"] <= row["seconds"]
    assert 0 < row["lip_lower"] <= row["lip_upper"] <= row["lip_upper_global"]
    assert main(["run", "--db", str(db), *OPTIONS]) == 0  # resumed: nothing new
    assert len(read_rows(db)) == 1


def test_a_database_from_before_the_options_keeps_its_tasks(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE runs (n INTEGER, d INTEGER, k INTEGER, seed INTEGER, "
            "activation TEXT, distribution TEXT, epsilon REAL, batch_norm "
            "INTEGER, bias_free INTEGER, learning_rate REAL, max_epochs INTEGER, "
            "train TEXT, lip_upper REAL, UNIQUE (n, d, k, seed, train))"
        )
        connection.execute(
            "INSERT INTO runs VALUES (10, 5, 2, 0, 'relu', 'sphere', 0.02, 0, 0, "
            "0.01, 5000, 'smooth', 3.5)"
        )
    connection.close()
    old = Task(10, 5, 2, 0, train="smooth")
    assert read_rows(path)[0]["batch_size"] == 0
    with Store(path) as store:
        assert store.finished() == {old}
        store.add(
            {
                **Task(10, 5, 2, 0, batch_size=4).as_dict(),
                "lip_upper": 2.0,
                "upper_domain": UNIT_BALL,
            }
        )
        rows = store.rows()
    assert [(r["batch_size"], r["lip_upper"], r["upper_domain"]) for r in rows] == [
        (0, 3.5, None),
        (4, 2.0, UNIT_BALL),
    ]


# --- the paper's fit ---------------------------------------------------------------------------

#: A hand-made table: (n, k, d, lower, upper, proxy).
TABLE = [
    (100, 100, 10, 1.0, 2.0, 1.5),
    (100, 25, 10, 2.5, 4.0, 3.0),
    (100, 4, 10, 4.0, 9.0, 6.5),
    (400, 100, 20, 1.5, 3.0, 2.0),
    (400, 16, 20, 4.5, 6.0, 5.0),
    (400, 4, 20, 9.0, 12.0, 11.5),
]


def _table_rows() -> list[dict[str, object]]:
    return [
        {
            **Task(n, d, k, 0).as_dict(),
            "interpolated": 1,
            "error": None,
            "sqrt_n_over_k": math.sqrt(n / k),
            "lip_lower": lower,
            "lip_upper": upper,
            "proxy": proxy,
            "upper_method": "spectral",
            "upper_domain": GLOBAL,
        }
        for n, k, d, lower, upper, proxy in TABLE
    ]


def _numpy_line(rows: list[tuple], column: int) -> dict[str, float]:
    x = np.array([math.sqrt(r[0] / r[1]) for r in rows])
    y = np.array([r[column] for r in rows])
    slope, intercept = np.polyfit(x, y, 1)
    return {"slope": slope, "intercept": intercept, "r": np.corrcoef(x, y)[0, 1]}


def test_paper_fit_matches_numpy_polyfit_and_corrcoef_overall_and_per_d() -> None:
    summary = analyse(_table_rows(), resamples=50).summary()
    columns = {"lower": 3, "upper": 4, "proxy": 5}
    for end, column in columns.items():
        fit = summary["paper_fit"][end]
        assert fit["nets"] == len(TABLE)
        for key, value in _numpy_line(TABLE, column).items():
            assert fit[key] == pytest.approx(value, rel=1e-12)
        for d in (10, 20):
            inside = [r for r in TABLE if r[2] == d]
            fit_d = summary["paper_fit_by_d"][str(d)][end]
            for key, value in _numpy_line(inside, column).items():
                assert fit_d[key] == pytest.approx(value, rel=1e-12)
    assert summary["upper_domains"] == {GLOBAL: len(TABLE)}
    json.dumps(summary)


def test_report_draws_figure2_the_papers_way(tmp_path: Path) -> None:
    from certify.law.report import write_report

    rows = _table_rows()
    path = write_report(analyse(rows, resamples=50), rows, tmp_path)
    text = path.read_text()
    assert "## The paper's fit" in text and "| 10 | 3 |" in text
    assert "- The paper's linear fit: lower " in text
    assert (tmp_path / "figure2-paper.png").stat().st_size > 0
    assert (tmp_path / "figure2-paper.svg").is_file()


def _figure3_rows() -> list[dict[str, object]]:
    """Figure 3's series at n = 400 (lower = 2√d + 1 on k = n, 3√d − 1 on k = ⌈10n/d⌉), and a
    row at a smaller n that the series leave out."""
    rows = []
    for n, d in [(400, 16), (400, 25), (400, 100), (100, 16)]:
        for k, (slope, intercept) in ((n, (2.0, 1.0)), (math.ceil(10 * n / d), (3.0, -1.0))):
            lower = slope * math.sqrt(d) + intercept
            row = {**Task(n, d, k, 0).as_dict(), "interpolated": 1, "error": None}
            rows.append(
                row
                | {
                    "sqrt_n_over_k": math.sqrt(n / k),
                    "lip_lower": lower,
                    "lip_upper": 1.5 * lower,
                    "proxy": 0.5 * lower + d,
                    "upper_method": "spectral",
                    "upper_domain": GLOBAL,
                }
            )
    return rows


def test_figure3_is_fitted_against_root_d_along_each_series(tmp_path: Path) -> None:
    from certify.law.report import write_report

    rows = _figure3_rows()
    analysis = analyse(rows, resamples=50)
    assert {name: [r["d"] for r in found] for name, found in analysis.figure3.items()} == {
        "k = n": [16, 25, 100],
        "k = 10n/d": [16, 25, 100],
    }
    fits = analysis.summary()["figure3_fit"]
    for name, (slope, intercept) in (("k = n", (2.0, 1.0)), ("k = 10n/d", (3.0, -1.0))):
        lower, upper = fits[name]["lower"], fits[name]["upper"]
        assert (lower["slope"], lower["intercept"], lower["r"]) == pytest.approx(
            (slope, intercept, 1)
        )
        assert upper["slope"] == pytest.approx(1.5 * slope) and fits[name]["proxy"]["r"] < 1
        assert lower["nets"] == 3
    text = write_report(analysis, rows, tmp_path).read_text()
    assert "## Figure 3: Lip ≈ α·√d + β along k = n and k = ⌈10n/d⌉ (n = 400)" in text
    assert "| k = n | 16–100 | " in text and (tmp_path / "figure3.png").is_file()
    assert (
        "## Figure 3"
        not in write_report(analyse(_table_rows(), resamples=50), [], tmp_path).read_text()
    )


# --- the tightest valid upper end on the sphere ------------------------------------------------


def _net_with_a_neuron_dead_on_the_ball() -> TwoLayerNetwork:
    """f(x) = relu(x₁) + relu(x₂) + 10·relu(5x₁ − 6): the third neuron is off on the unit ball
    (5x₁ − 6 ≤ −1) but makes the global constant at least 50."""
    W = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [5.0, 0.0, 0.0]])
    return TwoLayerNetwork.create(W, [[1.0, 1.0, 10.0]], b=[0.0, 0.0, -6.0])


def test_unit_ball_upper_end_lies_between_the_sphere_lower_bound_and_the_global_one() -> None:
    net = _net_with_a_neuron_dead_on_the_ball()
    global_report = certify(net, methods=("spectral", "lipsdp-neuron"), time_limit=5.0)
    ball = unit_ball_upper(net, time_limit=5.0, seed=0)
    lower, witness = sphere_lower_bound(net, Budget(5.0, seed=0))
    assert witness is not None and global_report.upper >= 50.0
    assert lower <= ball.upper <= global_report.upper
    assert ball.upper <= math.sqrt(2) * (1 + 1e-6)
    upper = tightest_upper(global_report, ball)
    assert (upper.value, upper.domain, upper.global_value) == (
        ball.upper,
        UNIT_BALL,
        global_report.upper,
    )
    assert tightest_upper(global_report, None).domain == GLOBAL
    rng = np.random.default_rng(0)
    x, y = (p / np.linalg.norm(p, axis=1, keepdims=True) for p in rng.standard_normal((2, 500, 3)))
    quotients = np.abs(net(x) - net(y))[:, 0] / np.linalg.norm(x - y, axis=1)
    assert quotients.max() <= ball.upper


@pytest.mark.parametrize("distribution", ["sphere", "gaussian"])
def test_rows_use_the_ball_only_for_data_on_the_sphere(distribution: str) -> None:
    stages: list[str] = []
    row = run_task(
        Task(n=20, d=6, k=12, seed=0, max_epochs=1500, distribution=distribution),
        Settings(time_limit=1.0),
        stages.append,
    )
    assert row.get("error") is None and row["interpolated"] == 1
    assert 0 < row["lip_lower"] <= row["lip_upper"] <= row["lip_upper_global"]
    ball_stages = [s for s in stages if s.startswith("certifying on the unit ball")]
    if distribution == "gaussian":
        assert row["upper_domain"] == GLOBAL and not ball_stages
        assert row["lip_upper"] == row["lip_upper_global"]
    else:
        assert row["upper_domain"] in (GLOBAL, UNIT_BALL) and ball_stages
    assert stages[0] == "training (adam)" and stages[1].startswith("training: epoch 25/1500")
    assert "certifying: spectral" in stages and stages[-1] == "certifying: Theorem 5's product"


def test_smooth_training_reports_its_epochs_and_bound() -> None:
    stages: list[str] = []
    task = Task(n=12, d=6, k=8, seed=0, max_epochs=300, train="smooth")
    row = run_task(task, Settings(time_limit=0.5), stages.append)
    assert row.get("error") is None and row["interpolated"] == 1
    assert stages[0] == "training (smooth)" and stages[1].startswith("training: epoch 25/300")
    smoothing = [s for s in stages if s.startswith("smoothing: epoch ")]
    assert smoothing and smoothing[0].startswith("smoothing: epoch 25/300, bound ")
    assert float(smoothing[-1].rsplit(" ", 1)[1]) == pytest.approx(row["train_bound"], rel=1e-3)


# --- stage reports through the process pool ----------------------------------------------------


def test_a_sweep_runs_the_largest_tasks_first(tmp_path: Path) -> None:
    tasks = Grid(n=(12,), d=(3, 5), k=(2, 6), max_epochs=25).tasks()
    finished: list[tuple[int, int]] = []
    with Store(tmp_path / "law.sqlite") as store:
        sweep(
            tasks,
            store,
            Settings(time_limit=0.2),
            progress=lambda row: finished.append((row["d"], row["k"])),
        )
    assert finished == [(5, 6), (3, 6), (5, 2), (3, 2)]


def test_worker_processes_report_their_stages_to_the_sweep(tmp_path: Path) -> None:
    tasks = Grid(n=(20,), d=(6,), k=(10,), seeds=(0, 1), max_epochs=1000).tasks()
    board, heard = StageBoard(), []

    def stage(task: Task, text: str) -> None:
        heard.append((task, text))
        board.report(task, text)

    with Store(tmp_path / "law.sqlite") as store:
        written = sweep(
            tasks, store, Settings(time_limit=0.5), workers=2, progress=board.finish, stage=stage
        )
    assert written == 2
    assert {task for task, _ in heard} == set(tasks)
    assert all(
        any(t == task and text.startswith("training") for t, text in heard) for task in tasks
    )
    assert board.line() == ""  # every task finished


def test_the_stage_board_shows_running_tasks_and_drops_late_reports() -> None:
    board = StageBoard()
    first, second = Task(20, 6, 10, 0), Task(20, 6, 10, 1)
    assert board.report(first, "training: epoch 25/100, loss 0.5")  # the first report redraws
    board.report(second, "certifying: spectral")
    assert board.line() == (
        "n=20 d=6 k=10 seed 0: training: epoch 25/100, loss 0.5; "
        "n=20 d=6 k=10 seed 1: certifying: spectral"
    )
    board.finish({**first.as_dict(), "interpolated": 1})
    board.report(first, "certifying: Theorem 5's product")  # arrived after its row
    assert board.line() == "n=20 d=6 k=10 seed 1: certifying: spectral"
