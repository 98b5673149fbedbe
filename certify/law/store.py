"""The results database: one SQLite row per task (stdlib ``sqlite3``, write-ahead log).

The task's fields form a unique key, so a row is written once; each row is committed as soon as
its task finishes, so a sweep killed at any moment loses only the tasks in flight, and a re-run
skips every task that has a row.  Tasks that crashed keep a row with their ``error`` text.
Besides the task and `RESULT_COLUMNS`, each row has ``finished_at`` (UTC, set by SQLite).
``network`` holds the net itself (`certify.law.netblob`), so that it can be exported and
re-checked.  A database written before the task key had ``train`` is migrated on opening: its
rows (all Adam runs) move into the new table with ``train = 'adam'``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from types import TracebackType

from .grid import Task

__all__ = ["RESULT_COLUMNS", "Store"]

_TASK_TYPES = {int: "INTEGER", bool: "INTEGER", float: "REAL", str: "TEXT"}
#: Result fields and their SQL types (see `certify.law.run` for their meaning).
RESULT_COLUMNS: dict[str, str] = {
    "interpolated": "INTEGER",
    "epochs": "INTEGER",
    "train_loss": "REAL",
    "seconds": "REAL",
    "sqrt_n_over_k": "REAL",
    "lip_lower": "REAL",
    "lower_method": "TEXT",
    "lip_upper": "REAL",
    "upper_method": "TEXT",
    "proxy": "REAL",
    "theorem5": "REAL",
    "theorem5_lower": "REAL",
    "theorem5_upper": "REAL",
    "settings": "TEXT",
    "error": "TEXT",
    "found_by": "TEXT",
    "train_bound": "REAL",
    "network": "BLOB",
}


def _task_columns() -> dict[str, str]:
    types = {"int": int, "bool": bool, "float": float, "str": str}
    return {f.name: _TASK_TYPES[types[str(f.type)]] for f in fields(Task)}


class Store:
    """A results database file; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connection = sqlite3.connect(self.path, timeout=60.0)
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA journal_mode=WAL")
        task_columns = _task_columns()
        columns = {**task_columns, **RESULT_COLUMNS}
        declared = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        key = ", ".join(task_columns)
        with self._connection:
            if _columns(self._connection) and "train" not in _columns(self._connection):
                self._connection.execute("ALTER TABLE runs RENAME TO runs_before_train")
            self._connection.execute(
                f"CREATE TABLE IF NOT EXISTS runs ({declared}, "
                "finished_at TEXT DEFAULT CURRENT_TIMESTAMP, "
                f"UNIQUE ({key}))"
            )
            _copy_old_rows(self._connection)
        self._task_columns = tuple(task_columns)
        self._columns = tuple(columns)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()

    def finished(self) -> set[Task]:
        """The tasks that already have a row."""
        names = ", ".join(self._task_columns)
        cursor = self._connection.execute(f"SELECT {names} FROM runs")
        return {_task(row) for row in cursor}

    def pending(self, tasks: Iterable[Task]) -> list[Task]:
        """The tasks (in order, without repeats) that have no row yet."""
        done = self.finished()
        return [task for task in dict.fromkeys(tasks) if task not in done]

    def add(self, row: dict[str, object]) -> None:
        """Insert one row and commit it (a second row for the same task is an error)."""
        names = [name for name in self._columns if name in row]
        placeholders = ", ".join("?" for _ in names)
        with self._connection:
            self._connection.execute(
                f"INSERT INTO runs ({', '.join(names)}) VALUES ({placeholders})",
                [row[name] for name in names],
            )

    def forget_errors(self) -> int:
        """Delete the rows of crashed tasks, so that a re-run retries them; returns how many."""
        with self._connection:
            return self._connection.execute("DELETE FROM runs WHERE error IS NOT NULL").rowcount

    def rows(self, networks: bool = False) -> list[dict[str, object]]:
        """Every row as a dict, in insertion order; the ``network`` blobs only if asked."""
        names = "*" if networks else ", ".join(
            name for name in _columns(self._connection) if name != "network")
        cursor = self._connection.execute(f"SELECT {names} FROM runs ORDER BY rowid")
        return [dict(row) for row in cursor]


def _columns(connection: sqlite3.Connection, table: str = "runs") -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def _copy_old_rows(connection: sqlite3.Connection) -> None:
    """Move the rows of a database written before ``train`` existed (all Adam runs) into the
    current table, whose key includes ``train``; the new result columns stay empty there."""
    old = _columns(connection, "runs_before_train")
    if not old:
        return
    names = ", ".join(name for name in old if name in _columns(connection))
    connection.execute(
        f"INSERT INTO runs ({names}, train) SELECT {names}, 'adam' FROM runs_before_train"
    )
    connection.execute("DROP TABLE runs_before_train")


def _task(row: sqlite3.Row) -> Task:
    values = dict(row)
    for f in fields(Task):
        if str(f.type) == "bool":
            values[f.name] = bool(values[f.name])
    return Task(**values)
