"""The results database: one SQLite row per task (stdlib ``sqlite3``, write-ahead log).

The task's fields form a unique key, so a row is written once; each row is committed as soon as
its task finishes, so a sweep killed at any moment loses only the tasks in flight, and a re-run
skips every task that has a row.  Tasks that crashed keep a row with their ``error`` text.
Besides the task and `RESULT_COLUMNS`, each row has ``finished_at`` (UTC, set by SQLite).
``network`` holds the net itself (`certify.law.netblob`), so that it can be exported and
re-checked.  A database written before the task key had all of its fields (``train``, the
training options) is migrated on opening: its rows move into the new table with the `Task`
defaults for the new fields (``train = 'adam'``, the settings they were trained with); result
columns added later are added to it, empty in the old rows.

Several sweeps may share one database: a sweep claims each task (table ``claims``) just before
running it, and the others take unclaimed tasks first (`Store.claimed`).  `read_rows` reads a
database without writing anything, for reports of a read-only copy.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from functools import wraps
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

from .grid import Task

__all__ = ["RESULT_COLUMNS", "Store", "StoreError", "read_only", "read_rows"]

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
    "train_seconds": "REAL",
    "upper_domain": "TEXT",
    "lip_upper_global": "REAL",
    "lip_lower_before": "REAL",
    "lip_upper_before": "REAL",
    "lip_global_lower": "REAL",
    "refined_by": "TEXT",
    "refine_note": "TEXT",
    "refine_seconds": "REAL",
}
#: Files beside a database that hold committed pages not yet in it (write-ahead log) or the
#: undo log of a transaction cut short (rollback journal).
_SIDE_FILES = ("-wal", "-journal")
#: How long a sweep waits for another one's lock on a shared database before giving up.
_LOCK_SECONDS = 60.0

Row = dict[str, object]
_P = ParamSpec("_P")
_R = TypeVar("_R")


class StoreError(sqlite3.DatabaseError):
    """A results database that cannot be opened, read or written; the message names its path."""


@contextmanager
def _named(path: Path) -> Iterator[None]:
    """Re-raise any SQLite error as a one-line `StoreError` that starts with ``path``."""
    try:
        yield
    except StoreError:
        raise
    except sqlite3.Error as error:
        detail = (str(error).splitlines() or [type(error).__name__])[0]
        raise StoreError(f"{path}: {detail}") from error


def _path_named(
    method: Callable[Concatenate[Store, _P], _R],
) -> Callable[Concatenate[Store, _P], _R]:
    @wraps(method)
    def named(store: Store, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _named(store.path):
            return method(store, *args, **kwargs)

    return named


def _task_columns() -> dict[str, str]:
    types = {"int": int, "bool": bool, "float": float, "str": str}
    return {f.name: _TASK_TYPES[types[str(f.type)]] for f in fields(Task)}


_KEY = tuple(_task_columns())
_KEY_NAMES = ", ".join(_KEY)
_KEY_MATCH = " AND ".join(f"{name} = ?" for name in _KEY)


def _key(row: Row | Task) -> list[object]:
    values = row if isinstance(row, dict) else row.as_dict()
    return [values[name] for name in _KEY]


class Store:
    """A results database file, open for writing; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._owner = uuid.uuid4().hex
        self._columns = (*_KEY, *RESULT_COLUMNS)
        with _named(self.path):
            self._connection = sqlite3.connect(self.path, timeout=_LOCK_SECONDS)
            try:
                self._connection.row_factory = sqlite3.Row
                _use_write_ahead_log(self._connection)
                with self._connection:
                    _create_tables(self._connection)
            except BaseException:
                self._connection.close()
                raise

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
        """Release this store's claims on unfinished tasks, and close."""
        try:
            with _named(self.path), self._connection:
                self._connection.execute("DELETE FROM claims WHERE owner = ?", [self._owner])
        finally:
            self._connection.close()

    @_path_named
    def finished(self) -> set[Task]:
        """The tasks that already have a row."""
        cursor = self._connection.execute(f"SELECT {_KEY_NAMES} FROM runs")
        return {_task(row) for row in cursor}

    def pending(self, tasks: Iterable[Task]) -> list[Task]:
        """The tasks (in order, without repeats) that have no row yet."""
        done = self.finished()
        return [task for task in dict.fromkeys(tasks) if task not in done]

    def claimed(self, tasks: Iterable[Task]) -> Iterator[Task]:
        """The pending tasks, each claimed for this store at the moment it is taken: first those
        no other sweep has claimed, then those claimed elsewhere but still without a row (that
        sweep may have been killed), so that sweeps sharing the database share the work."""
        elsewhere = []
        for task in self.pending(tasks):
            if self._claim(task):
                yield task
            else:
                elsewhere.append(task)
        yield from (task for task in elsewhere if not self._has_row(task))

    @_path_named
    def _claim(self, task: Task) -> bool:
        """Claim ``task`` unless it has a row or a claim (one atomic statement)."""
        key = _key(task)
        with self._connection:
            cursor = self._connection.execute(
                f"INSERT OR IGNORE INTO claims ({_KEY_NAMES}, owner) "
                f"SELECT {', '.join('?' for _ in key)}, ? "
                f"WHERE NOT EXISTS (SELECT 1 FROM runs WHERE {_KEY_MATCH})",
                [*key, self._owner, *key],
            )
        return cursor.rowcount == 1

    @_path_named
    def _has_row(self, task: Task) -> bool:
        query = f"SELECT 1 FROM runs WHERE {_KEY_MATCH}"
        return self._connection.execute(query, _key(task)).fetchone() is not None

    @_path_named
    def add(self, row: Row) -> bool:
        """Insert one row, release its task's claim, and commit; returns False (and writes
        nothing) when the task already has a row, written by another sweep."""
        names = [name for name in self._columns if name in row]
        placeholders = ", ".join("?" for _ in names)
        with self._connection:
            cursor = self._connection.execute(
                f"INSERT OR IGNORE INTO runs ({', '.join(names)}) VALUES ({placeholders})",
                [row[name] for name in names],
            )
            self._connection.execute(f"DELETE FROM claims WHERE {_KEY_MATCH}", _key(row))
        return cursor.rowcount == 1

    @_path_named
    def update(self, row: Row, values: Row) -> None:
        """Overwrite the result columns ``values`` of the row of ``row``'s task, and commit."""
        unknown = set(values) - set(RESULT_COLUMNS)
        if unknown:
            raise ValueError(f"not result columns: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self._connection:
            self._connection.execute(
                f"UPDATE runs SET {assignments} WHERE {_KEY_MATCH}", [*values.values(), *_key(row)]
            )

    @_path_named
    def forget_errors(self) -> int:
        """Delete the rows of crashed tasks, so that a re-run retries them; returns how many."""
        with self._connection:
            return self._connection.execute("DELETE FROM runs WHERE error IS NOT NULL").rowcount

    @_path_named
    def rows(self, networks: bool = False) -> list[Row]:
        """Every row as a dict, in insertion order; the ``network`` blobs only if asked."""
        return _select_rows(self._connection, networks)


def _select_rows(connection: sqlite3.Connection, networks: bool) -> list[Row]:
    """Every row of ``runs`` as a dict, in insertion order (``train = 'adam'`` in a database
    from before ``train``, result columns it lacks None); the ``network`` blobs only if asked."""
    columns = _columns(connection)
    if not columns:
        raise sqlite3.DatabaseError("not a results database (no table 'runs')")
    names = [name for name in columns if networks or name != "network"]
    names += [
        f"NULL AS {name}"
        for name in RESULT_COLUMNS
        if name not in columns and (networks or name != "network")
    ]
    defaults = _key_defaults(columns)
    names += [f"? AS {name}" for name in defaults]
    query = f"SELECT {', '.join(names)} FROM runs ORDER BY rowid"
    return [dict(row) for row in connection.execute(query, list(defaults.values()))]


def _unlogged_state(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of the database when no side file holds pages it lacks, else None."""
    if any(path.with_name(path.name + suffix).exists() for suffix in _SIDE_FILES):
        return None
    status = path.stat()
    return status.st_ino, status.st_size, status.st_mtime_ns


@contextmanager
def read_only(path: Path, immutable: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection that cannot write (URI ``mode=ro``); with ``immutable`` SQLite also takes
    no locks and creates no side files, trusting that nobody writes (https://sqlite.org/uri.html)."""
    uri = f"{path.absolute().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"
    connection = sqlite3.connect(uri, uri=True, timeout=_LOCK_SECONDS)
    connection.row_factory = sqlite3.Row
    try:
        yield connection
    finally:
        connection.close()


def _read(path: Path, networks: bool, immutable: bool) -> list[Row]:
    with read_only(path, immutable) as connection:
        return _select_rows(connection, networks)


def read_rows(path: str | Path, networks: bool = False) -> list[Row]:
    """Every row of the database at ``path`` (as `Store.rows`), writing nothing.

    With no write-ahead log or journal beside it, the file is read as immutable, which creates
    no side files (so a read-only directory works); should a sweep write to it meanwhile, the
    read is repeated as a plain read-only connection, which shares that sweep's log.
    """
    path = Path(path)
    with _named(path):
        if not path.is_file():
            raise StoreError(f"{path}: no results database there")
        before = _unlogged_state(path)
        rows = _read(path, networks, immutable=before is not None)
        if before is not None and _unlogged_state(path) != before:
            rows = _read(path, networks, immutable=False)
    return rows


def _use_write_ahead_log(connection: sqlite3.Connection) -> None:
    """Switch the database to write-ahead logging, waiting while other sweeps open it: SQLite
    answers "database is locked" to this pragma at once, without its busy handler."""
    deadline = time.monotonic() + _LOCK_SECONDS
    pause = 0.005
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.5)


def _create_tables(connection: sqlite3.Connection) -> None:
    """The tables ``runs`` and ``claims``, after migrating a database from before ``train``."""
    columns = {**_task_columns(), **RESULT_COLUMNS}
    declared = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    key_declared = ", ".join(f"{name} {kind}" for name, kind in _task_columns().items())
    if _columns(connection) and _key_defaults(_columns(connection)):
        connection.execute("ALTER TABLE runs RENAME TO runs_before_train")
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS runs ({declared}, "
        f"finished_at TEXT DEFAULT CURRENT_TIMESTAMP, UNIQUE ({_KEY_NAMES}))"
    )
    if _columns(connection, "claims") and _key_defaults(_columns(connection, "claims")):
        connection.execute("DROP TABLE claims")  # claims are hints, from before the key grew
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS claims ({key_declared}, owner TEXT, UNIQUE ({_KEY_NAMES}))"
    )
    _copy_old_rows(connection)
    present = _columns(connection)
    for name, kind in RESULT_COLUMNS.items():
        if name not in present:
            connection.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")


def _key_defaults(present: list[str]) -> dict[str, object]:
    """The `Task` defaults of the key fields missing from the columns ``present``."""
    return {f.name: f.default for f in fields(Task) if f.name not in present}


def _columns(connection: sqlite3.Connection, table: str = "runs") -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def _copy_old_rows(connection: sqlite3.Connection) -> None:
    """Move the rows of a database written before some key field existed (``train``: all
    were Adam runs) into the current table, the missing key fields set to the `Task` defaults;
    the new result columns stay empty there."""
    old = _columns(connection, "runs_before_train")
    if not old:
        return
    names = [name for name in old if name in _columns(connection)]
    defaults = _key_defaults(old)
    connection.execute(
        f"INSERT INTO runs ({', '.join([*names, *defaults])}) SELECT {', '.join(names)}, "
        f"{', '.join('?' for _ in defaults)} FROM runs_before_train",
        list(defaults.values()),
    )
    connection.execute("DROP TABLE runs_before_train")


def _task(row: sqlite3.Row) -> Task:
    values = dict(row)
    for f in fields(Task):
        if str(f.type) == "bool":
            values[f.name] = bool(values[f.name])
    return Task(**values)
