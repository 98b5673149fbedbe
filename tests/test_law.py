"""The law-of-robustness lab: grids, the results database, the sphere witnesses, Theorem 5, one
sweep end to end (killed and resumed), the Dask path, and the report."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from certify.law.analysis import analyse, fit_power_law
from certify.law.cli import main
from certify.law.executor import sweep
from certify.law.grid import PRESETS, Grid, GridError, Task, load_grid
from certify.law.run import Settings, run_task
from certify.law.sphere import SphereWitness, sphere_lower_bound
from certify.law.store import Store
from certify.law.theorem5 import spectral_product
from certify.methods import Budget
from certify.problem import Problem
from certify.verify import verify
from models import TwoLayerNetwork
from models.data import generic_data
from models.train import train_two_layer

#: A sweep small enough for a test: 2 × 2 × 2 cells, each trains and certifies in about a second.
SWEEP = [
    "--n",
    "20",
    "40",
    "--d",
    "6",
    "--k",
    "8",
    "20",
    "--seeds",
    "0",
    "1",
    "--max-epochs",
    "1500",
    "--time-limit",
    "1",
    "--workers",
    "1",
]
RESULT_FIELDS = (
    "interpolated",
    "epochs",
    "train_loss",
    "lip_lower",
    "lip_upper",
    "proxy",
    "theorem5",
    "theorem5_lower",
    "theorem5_upper",
    "upper_method",
    "error",
)


# --- grids -------------------------------------------------------------------------------------


def test_presets_follow_the_paper_and_scale_down() -> None:
    fig2 = PRESETS["bln-fig2"].tasks()
    assert {t.n for t in fig2} == {100, 200, 500, 1000, 2000}
    assert all(t.d <= t.n and t.k <= t.n and t.epsilon == 0.02 for t in fig2)
    fig3 = PRESETS["bln-fig3"].scaled(0.01).tasks()
    assert {t.n for t in fig3} == {100}
    assert min(t.d for t in fig3) == 10  # the paper's smallest d: k = 10n/d ≤ n
    assert {(t.d, t.k) for t in fig3 if t.d == 20} == {(20, 100), (20, 50)}
    assert all(t.k in (t.n, math.ceil(10 * t.n / t.d)) and t.epsilon == 0.1 for t in fig3)


def test_grid_files_and_bad_grids(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text('n = [30]\nd = [5, 10]\nk = [3, "n"]\nseeds = [0, 1]\nbias_free = true\n')
    tasks = load_grid(path).tasks()
    assert len(tasks) == 8 and all(t.bias_free for t in tasks)
    assert {t.k for t in tasks} == {3, 30}
    path.write_text("n = [30]\nd = [5]\nk = [3]\nwidth = 2\n")
    with pytest.raises(GridError, match="unknown grid keys width"):
        load_grid(path)
    with pytest.raises(GridError, match="k rule"):
        Grid(n=(10,), d=(5,), k=("2n",))
    with pytest.raises(GridError, match="batch"):
        Grid(n=(10,), d=(5,), k=(3,), batch_norm=True, bias_free=True)


# --- the database ------------------------------------------------------------------------------


def test_store_keys_rows_by_task_and_forgets_only_errors(tmp_path: Path) -> None:
    tasks = Grid(n=(10,), d=(3,), k=(2, 4), seeds=(0,)).tasks()
    with Store(tmp_path / "r.sqlite") as store:
        store.add({**tasks[0].as_dict(), "interpolated": 1})
        store.add({**tasks[1].as_dict(), "error": "RuntimeError: boom"})
        assert store.pending([*tasks, *tasks]) == []
        assert not store.add({**tasks[0].as_dict(), "interpolated": 0})  # the first row stays
        assert store.rows()[0]["interpolated"] == 1
        assert store.forget_errors() == 1
        assert store.pending(tasks) == [tasks[1]]
    with Store(tmp_path / "r.sqlite") as store:
        assert store.finished() == {tasks[0]}


# --- certified pieces --------------------------------------------------------------------------


def _linear_net(w: np.ndarray) -> TwoLayerNetwork:
    """f(x) = relu(w·x) − relu(−w·x) = w·x, whose Lipschitz constant on the sphere is ‖w‖."""
    return TwoLayerNetwork.create(np.stack([w, -w]), [1.0, -1.0])


def test_sphere_bound_is_sound_and_close_on_a_linear_function() -> None:
    w = np.array([3.0, -1.0, 2.0, 0.5])
    lower, witness = sphere_lower_bound(_linear_net(w), Budget(5.0, seed=1))
    assert witness is not None
    assert 0.99 * np.linalg.norm(w) <= lower <= np.linalg.norm(w)


def test_sphere_checker_proves_only_what_holds() -> None:
    w = np.array([1.0, 2.0, 2.0])
    net = _linear_net(w)
    x = np.array([2.0, 1.0, 0.0])
    radial = verify(Problem(net), SphereWitness(value=3.0, point=x, direction=x))
    assert radial.verified and radial.value <= 1e-9
    tangent = verify(Problem(net), SphereWitness(value=99.0, point=x, direction=w))
    assert tangent.verified and tangent.value <= 3.0
    assert tangent.value == pytest.approx(np.linalg.norm(w - (w @ x) * x / 5), rel=1e-12)
    kink = np.array([0.0, 1.0, -1.0])
    on_kink = verify(Problem(net), SphereWitness(value=1.0, point=kink, direction=w))
    assert not on_kink.verified and "kink" in on_kink.note


def test_spectral_product_is_enclosed() -> None:
    rng = np.random.default_rng(0)
    net = TwoLayerNetwork.create(rng.standard_normal((9, 5)), rng.standard_normal(9))
    product = spectral_product(net)
    exact = np.linalg.norm(net.A, 2) * np.linalg.norm(net.W, 2)
    assert product.lower <= exact <= product.upper
    assert product.upper - product.lower <= 1e-10 * exact


@pytest.mark.parametrize(("n", "d", "k", "seed"), [(40, 10, 8, 0), (60, 15, 20, 1)])
def test_theorem5_holds_on_bias_free_interpolating_nets(n: int, d: int, k: int, seed: int) -> None:
    X, y = generic_data(n, d, "sphere", seed)
    result = train_two_layer(X, y, k, bias_free=True, seed=seed, max_epochs=3000)
    assert result.interpolated
    assert spectral_product(result.network).lower >= math.sqrt(n / k)


def test_a_task_row_brackets_the_constant_and_a_crash_is_a_row() -> None:
    row = run_task(Task(n=20, d=6, k=12, seed=0, max_epochs=1500), Settings(time_limit=2.0))
    assert row.get("error") is None
    assert row["interpolated"] == 1
    assert 0 < row["lip_lower"] <= row["lip_upper"] <= row["theorem5_upper"]
    assert row["proxy"] <= row["lip_upper"]
    assert row["theorem5_lower"] <= row["theorem5_upper"]
    assert row["theorem5"] == pytest.approx(row["theorem5_upper"], rel=1e-9)
    crashed = run_task(Task(n=20, d=6, k=12, seed=0, activation="bogus"))
    assert "bogus" in crashed["error"] and crashed["n"] == 20


def test_power_law_fit_recovers_exponent_with_a_covering_interval() -> None:
    rng = np.random.default_rng(0)
    x = np.geomspace(1, 100, 60)
    y = 2.0 * x**0.5 * np.exp(0.05 * rng.standard_normal(60))
    fit = fit_power_law(x, y, resamples=1000, seed=0)
    assert fit.exponent_ci[0] <= 0.5 <= fit.exponent_ci[1]
    assert fit.constant_ci[0] <= 2.0 <= fit.constant_ci[1]
    assert fit.exponent_ci[1] - fit.exponent_ci[0] < 0.05


# --- the sweep end to end ----------------------------------------------------------------------


def _rows(db: Path) -> list[dict[str, object]]:
    with Store(db) as store:
        return store.rows()


def test_sweep_killed_then_resumed_loses_and_repeats_nothing(tmp_path: Path, capsys) -> None:
    db = tmp_path / "law.sqlite"
    command = [sys.executable, "-m", "certify", "law", "run", "--db", str(db), *SWEEP]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not db.exists() or not _rows(db)):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = _rows(db)
    assert 1 <= len(before) < 8
    assert main(["run", "--db", str(db), *SWEEP]) == 0
    after = _rows(db)
    keys = [tuple(r[f] for f in Task.__dataclass_fields__) for r in after]
    assert len(after) == 8 == len(set(keys))
    assert after[: len(before)] == before  # finished tasks were not recomputed
    assert main(["run", "--db", str(db), *SWEEP]) == 0
    assert _rows(db) == after
    capsys.readouterr()
    out = tmp_path / "report"
    assert (
        main(["report", "--db", str(db), "--json", "--out", str(out), "--resamples", "1000"]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["runs"] == 8 and summary["interpolated"] >= 6
    for end in ("lower", "upper", "proxy"):
        assert set(summary[f"exponent_{end}"]) == {"value", "ci_low", "ci_high"}
    assert 0 < summary["c_lower"] <= summary["c_ceiling"]
    assert summary["theorem5_holds"] is None and summary["theorem5_min_ratio"] is None
    assert {p.name for p in out.iterdir()} >= {
        "report.md",
        "figure2.png",
        "figure2.svg",
        "rows.csv",
        "summary.json",
    }
    assert json.loads((out / "summary.json").read_text()) == summary
    assert "## Verdicts" in (out / "report.md").read_text()
    with (out / "rows.csv").open(newline="") as file:
        table = list(csv.DictReader(file))
    assert [float(row["lip_upper"] or "nan") for row in table] == pytest.approx(
        [r["lip_upper"] if r["lip_upper"] is not None else float("nan") for r in after],
        nan_ok=True,
    )
    assert "network" not in table[0]


def test_worker_processes_and_dask_give_the_rows_of_the_in_process_path(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    tasks = Grid(n=(20,), d=(6,), k=(10,), seeds=(0, 1), bias_free=True, max_epochs=1500).tasks()
    settings = Settings(time_limit=5.0)

    def rows(name: str, **where: object) -> dict[tuple, tuple]:
        with Store(tmp_path / f"{name}.sqlite") as store:
            assert sweep(tasks, store, settings, **where) == len(tasks)
            return {
                (r["n"], r["k"], r["seed"]): tuple(r[f] for f in RESULT_FIELDS)
                for r in store.rows()
            }

    here = rows("here")
    assert rows("processes", workers=2) == here
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        assert rows("dask", scheduler=cluster.scheduler_address) == here
    with Store(tmp_path / "here.sqlite") as store:
        summary = analyse(store.rows()).summary()
    assert summary["theorem5_holds"] == 1.0 and summary["theorem5_min_ratio"] >= 1.0


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["run", "--db", str(tmp_path / "x.sqlite"), "--n", "10"]) == 2
    assert main(["run", "--preset", "bln-fig2", "--upper-method", "sampling"]) == 2
    assert main(["report", "--db", str(tmp_path / "missing.sqlite")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("certify law: error:") for e in errors)


# --- the search for smooth interpolators (issue 8) ---------------------------------------------

TINY_SWEEP = [
    "--n",
    "12",
    "--d",
    "6",
    "30",
    "--k",
    "12",
    "--seeds",
    "0",
    "--max-epochs",
    "600",
    "--time-limit",
    "0.5",
    "--workers",
    "1",
]


def test_every_train_mode_sweeps_reports_the_envelope_and_exports_rechecked_nets(
    tmp_path: Path, capsys
) -> None:
    from certify.law.fitcheck import check_fit

    db = str(tmp_path / "law.sqlite")
    for mode in ("adam", "smooth", "construct"):
        assert main(["run", "--db", db, "--train", mode, *TINY_SWEEP]) == 0
    with Store(db) as store:
        rows = store.rows()
    assert sorted((r["train"], r["found_by"]) for r in rows if r["d"] == 30) == [
        ("adam", "adam"),
        ("construct", "linear"),
        ("smooth", "smooth(lipsdp)"),
    ]
    capsys.readouterr()
    assert main(["report", "--db", db, "--json", "--resamples", "50"]) == 0
    summary = json.loads(capsys.readouterr().out)
    cells = summary["envelope"]["cells"]
    assert {(c["n"], c["d"], c["k"]) for c in cells} == {(12, 6, 12), (12, 30, 12)}
    for cell in cells:
        found = [r["lip_upper"] for r in rows if r["d"] == cell["d"] and r["interpolated"] == 1]
        assert cell["upper_min"] == min(found)
    assert summary["median_adam_over_smooth"] > 1
    assert main(["export", "--db", db, "--out", str(tmp_path / "nets")]) == 0
    files = sorted((tmp_path / "nets").glob("*.npz"))
    assert len(files) == sum(r["interpolated"] == 1 for r in rows)
    for path in files:
        with np.load(path) as data:
            net = TwoLayerNetwork.create(
                data["W"], data["A"], b=data["b"], c=data["c"], activation=str(data["activation"])
            )
            assert check_fit(net, data["X"], data["y"]).fits(float(data["epsilon"]))
            assert data["lower"] <= data["upper"]
            assert str(data["train"]) in ("adam", "smooth", "construct")


def test_a_database_from_before_train_is_migrated_as_adam_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE runs (n INTEGER, d INTEGER, k INTEGER, seed INTEGER, "
            "activation TEXT, distribution TEXT, epsilon REAL, batch_norm "
            "INTEGER, bias_free INTEGER, learning_rate REAL, max_epochs INTEGER, "
            "lip_upper REAL, UNIQUE (n, d, k, seed))"
        )
        connection.execute(
            "INSERT INTO runs VALUES (10, 5, 2, 0, 'relu', 'sphere', 0.02, 0, 0, 0.01, 5000, 3.5)"
        )
    connection.close()
    with Store(path) as store:
        assert store.finished() == {Task(10, 5, 2, 0)}
        assert store.rows()[0]["lip_upper"] == 3.5
        store.add({**Task(10, 5, 2, 0, train="smooth").as_dict(), "lip_upper": 2.0})
        assert {r["train"] for r in store.rows()} == {"adam", "smooth"}


def _sphere_quotients(net: TwoLayerNetwork, count: int, seed: int) -> float:
    """The largest |f(x) − f(y)|/‖x − y‖ over random close pairs on S^{d−1}: a lower bound on
    Lip_S(f) that no certified upper end may undercut."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((count, net.d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = X + 1e-4 * rng.standard_normal((count, net.d))
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    rise = np.abs(net(X) - net(Y)).max(axis=1)
    return float(np.max(rise / np.linalg.norm(X - Y, axis=1)))


def test_refine_only_tightens_sound_intervals_and_runs_once(tmp_path: Path, capsys) -> None:
    from certify.law.netblob import from_bytes

    db = str(tmp_path / "law.sqlite")
    assert main(["run", "--db", db, *TINY_SWEEP]) == 0
    with Store(db) as store:
        before = {r["d"]: r for r in store.rows(networks=True) if r["interpolated"] == 1}
    assert before
    capsys.readouterr()
    assert main(["refine", "--db", db, "--gap", "1", "--time-limit", "2"]) == 0
    assert capsys.readouterr().out.startswith(f"{len(before)} nets refined")
    with Store(db) as store:
        after = {r["d"]: r for r in store.rows() if r["interpolated"] == 1}
    for d, old in before.items():
        new = after[d]
        assert new["refined_by"] == "exact+sphere" and not new["refine_note"]
        assert (new["lip_lower_before"], new["lip_upper_before"]) == (
            old["lip_lower"],
            old["lip_upper"],
        )
        assert old["lip_lower"] <= new["lip_lower"] <= new["lip_upper"] <= old["lip_upper"]
        assert 0 < new["lip_global_lower"] <= old["lip_upper_global"] * (1 + 1e-12)
        assert _sphere_quotients(from_bytes(old["network"]), 20_000, d) <= new["lip_upper"]
    assert main(["refine", "--db", db, "--gap", "1"]) == 0
    assert capsys.readouterr().out.startswith("0 nets refined")
    out = tmp_path / "report"
    assert main(["report", "--db", db, "--out", str(out), "--resamples", "20"]) == 0
    assert "## Intervals wider than ×1.05, and why" in (out / "report.md").read_text()


def test_refine_falls_back_to_lipsdp_beyond_exact_and_again_redoes_those_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from certify.law import refine as refinement
    from certify.law.netblob import from_bytes

    db = str(tmp_path / "law.sqlite")
    assert main(["run", "--db", db, *TINY_SWEEP]) == 0
    monkeypatch.setattr(
        refinement,
        "_exact",
        lambda net, seconds, seed: refinement._Exact(
            None, None, None, "exact: not applicable (forced by the test)"
        ),
    )
    with Store(db) as store:  # a loose upper end, as a short LipSDP run leaves on a large net
        for row in store.rows():
            store.update(row, {"lip_upper": 10 * row["lip_upper"], "lip_upper_global": None})
    first: dict[int, float] = {}
    for again in (False, True):
        assert main(["refine", "--db", db, "--gap", "1", "--time-limit", "1"]) == 0
        if again:
            assert main(["refine", "--db", db, "--gap", "1", "--time-limit", "1", "--again"]) == 0
        with Store(db) as store:
            rows = [r for r in store.rows(networks=True) if r["interpolated"] == 1]
        assert rows
        for row in rows:
            assert first.setdefault(row["d"], row["lip_upper_before"]) == row["lip_upper_before"]
            assert row["refined_by"] == "lipsdp-neuron+sphere"
            assert row["upper_method"] == "lipsdp-neuron" and row["upper_domain"] == "global"
            assert row["lip_upper"] < row["lip_upper_before"]
            assert _sphere_quotients(from_bytes(row["network"]), 20_000, 0) <= row["lip_upper"]
            assert row["lip_lower"] <= row["lip_upper"]
