"""Sweeps as processes: killed sweeps leave no worker behind, two sweeps share one database,
and reports read a database without writing to it (issue 12)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certify.law.cli import main
from certify.law.grid import Grid, Task
from certify.law.store import Store, StoreError, read_only, read_rows

# fmt: off
#: Tasks that never interpolate (k = 2 neurons for 200 points) and train for hours.
ENDLESS_SWEEP = ["--n", "200", "--d", "6", "--k", "2", "--seeds", "0", "1", "2", "3",
                 "--max-epochs", "100000000", "--time-limit", "5", "--workers", "2"]
#: Three tasks of about a second each.
SHORT_SWEEP = ["--n", "12", "--d", "6", "--k", "12", "--seeds", "0", "1", "2",
               "--max-epochs", "600", "--time-limit", "0.5", "--workers", "1"]
# fmt: on
#: Generous bounds on waits (the machine may be busy); no assertion depends on them.
STARTUP_SECONDS = 300
EXIT_SECONDS = 60


def _sweep(db: Path, grid: list[str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "certify", "law", "run", "--db", str(db), *grid]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _alive(process: object) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _descendants_once_workers_run(pid: int, workers: int) -> list[object]:
    """Every descendant of ``pid`` (workers, resource tracker) once ``workers`` spawned workers
    have started."""
    import psutil

    parent = psutil.Process(pid)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        descendants = parent.children(recursive=True)
        spawned = [p for p in descendants if "spawn_main" in " ".join(p.cmdline())]
        if len(spawned) >= workers:
            return descendants
        time.sleep(0.2)
    raise AssertionError("the workers never started")


@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_sweep_leaves_no_worker_running(tmp_path: Path, kill: signal.Signals) -> None:
    pytest.importorskip("psutil")
    process = _sweep(tmp_path / "law.sqlite", ENDLESS_SWEEP)
    try:
        descendants = _descendants_once_workers_run(process.pid, workers=2)
        os.kill(process.pid, kill)
        code = process.wait(EXIT_SECONDS)
        deadline = time.monotonic() + EXIT_SECONDS
        while time.monotonic() < deadline and any(_alive(p) for p in descendants):
            time.sleep(0.1)
        survivors = [p.pid for p in descendants if _alive(p)]
    finally:
        process.kill()
        process.communicate()
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
    assert code == (130 if kill == signal.SIGTERM else -signal.SIGKILL)


def _new_rows(stdout: str) -> int:
    return int(re.match(r"(\d+) new rows", stdout).group(1))


def test_two_sweeps_on_one_database_share_the_tasks(tmp_path: Path) -> None:
    db = tmp_path / "law.sqlite"
    first, second = _sweep(db, SHORT_SWEEP), _sweep(db, SHORT_SWEEP)
    outputs = [process.communicate(timeout=STARTUP_SECONDS) for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], [err for _, err in outputs]
    rows = read_rows(db)
    keys = {tuple(row[name] for name in Task.__dataclass_fields__) for row in rows}
    assert len(rows) == len(keys) == 3
    assert sum(_new_rows(out) for out, _ in outputs) == 3


TASKS = Grid(n=(10,), d=(3,), k=(2, 4, 6), seeds=(0,)).tasks()


def _open_and_share(db: Path, barrier: object) -> int:
    """Open ``db`` once every process is ready, take tasks, and return how many rows it wrote."""
    barrier.wait()
    with Store(db) as store:
        return sum(
            store.add({**task.as_dict(), "interpolated": 1}) for task in store.claimed(TASKS)
        )


def test_sweeps_opening_a_new_database_at_once_all_open_it(tmp_path: Path) -> None:
    # SQLite answers "database is locked" to PRAGMA journal_mode=WAL without waiting (CI run 17)
    import multiprocessing

    processes = 4
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(processes) as pool:
        for attempt in range(8):
            db = tmp_path / f"law{attempt}.sqlite"
            barrier = manager.Barrier(processes)
            written = pool.starmap(_open_and_share, [(db, barrier)] * processes)
            assert sum(written) == len(TASKS) == len(read_rows(db))


def test_a_task_claimed_by_another_sweep_is_taken_last_and_a_finished_one_never(
    tmp_path: Path,
) -> None:
    db = tmp_path / "law.sqlite"
    with Store(db) as first, Store(db) as second:
        assert next(first.claimed(TASKS)) == TASKS[0]
        taking = second.claimed(TASKS)
        assert next(taking) == TASKS[1]
        assert first.add({**TASKS[2].as_dict(), "interpolated": 1})
        assert list(taking) == [TASKS[0]]  # TASKS[2] has a row; TASKS[0], first's, comes last
        assert first.add({**TASKS[0].as_dict(), "interpolated": 1})
        assert not second.add({**TASKS[0].as_dict(), "interpolated": 0})
    assert [row["interpolated"] for row in read_rows(db)] == [1, 1]


def test_claims_are_released_on_close_and_a_killed_sweeps_claims_do_not_block(
    tmp_path: Path,
) -> None:
    db = tmp_path / "law.sqlite"
    with Store(db) as closed:
        next(closed.claimed(TASKS))
    with Store(db) as store:
        assert list(store.claimed(TASKS)) == TASKS
    with sqlite3.connect(db) as killed:  # what a sweep killed by SIGKILL leaves behind
        names = ", ".join(Task.__dataclass_fields__)
        killed.execute(
            f"INSERT INTO claims ({names}, owner) VALUES "
            f"({', '.join('?' for _ in Task.__dataclass_fields__)}, 'dead')",
            list(TASKS[0].as_dict().values()),
        )
    killed.close()
    with Store(db) as store:
        assert list(store.claimed(TASKS)) == [TASKS[1], TASKS[2], TASKS[0]]


def test_a_claims_table_from_before_the_key_grew_is_replaced(tmp_path: Path) -> None:
    db = tmp_path / "law.sqlite"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE claims (n INTEGER, owner TEXT, UNIQUE (n))")
    connection.close()
    with Store(db) as store:
        assert list(store.claimed(TASKS)) == TASKS


# --- reading without writing -------------------------------------------------------------------


def _database(path: Path) -> Path:
    with Store(path) as store:
        store.add({**TASKS[0].as_dict(), "interpolated": 1, "lip_upper": 2.5})
    return path


def _side_files(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir() if p.name != db.name)


@pytest.mark.parametrize("immutable", [False, True])
def test_a_read_only_connection_cannot_write(tmp_path: Path, immutable: bool) -> None:
    db = _database(tmp_path / "law.sqlite")
    with (
        read_only(db, immutable) as connection,
        pytest.raises(sqlite3.OperationalError, match="readonly"),
    ):
        connection.execute("DELETE FROM runs")
    assert len(read_rows(db)) == 1


def test_reading_a_checkpointed_database_creates_no_side_files(tmp_path: Path) -> None:
    db = _database(tmp_path / "law.sqlite")
    before = db.read_bytes()
    assert _side_files(db) == []
    assert [row["lip_upper"] for row in read_rows(db, networks=True)] == [2.5]
    assert main(["report", "--db", str(db), "--json", "--resamples", "10"]) == 0
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "nets")]) == 0
    assert _side_files(db) == ["nets"]
    assert db.read_bytes() == before


def test_reading_sees_the_rows_of_a_sweep_still_writing(tmp_path: Path) -> None:
    db = tmp_path / "law.sqlite"
    with Store(db) as store:
        store.add({**TASKS[0].as_dict(), "interpolated": 1})
        assert "law.sqlite-wal" in _side_files(db)
        assert len(read_rows(db)) == 1
        store.add({**TASKS[1].as_dict(), "interpolated": 1})
        assert len(read_rows(db)) == 2


def test_a_database_not_yet_migrated_is_read_as_it_would_be_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as connection:
        connection.execute(
            "CREATE TABLE runs (n INTEGER, d INTEGER, k INTEGER, seed INTEGER, lip_upper REAL)"
        )
        connection.execute("INSERT INTO runs VALUES (10, 5, 2, 0, 3.5)")
    connection.close()
    before = db.read_bytes()
    (row,) = read_rows(db, networks=True)
    assert (row["train"], row["lip_upper"]) == ("adam", 3.5)
    assert row["network"] is None and row["error"] is None
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "nets")]) == 0
    assert db.read_bytes() == before


@pytest.mark.parametrize("command", ["report", "export"])
def test_a_database_that_cannot_be_read_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    missing, text, empty = tmp_path / "missing.sqlite", tmp_path / "notes.sqlite", tmp_path / "e.db"
    text.write_text("not a database\n" * 100)
    sqlite3.connect(empty).close()
    for db in (missing, text, empty):
        assert main([command, "--db", str(db), "--out", str(tmp_path / "out")]) == 2
        (error,) = capsys.readouterr().err.strip().splitlines()
        assert error.startswith("certify law: error:") and str(db) in error
    assert not missing.exists()


def test_read_rows_names_the_missing_path(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=re.escape(f"{tmp_path / 'x.sqlite'}: no results")):
        read_rows(tmp_path / "x.sqlite")
