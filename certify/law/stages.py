"""Stage reports from running tasks to the progress display, across processes.

A task says what it is doing as it goes (`certify.law.run.Stage`): each check of the training
(epoch and loss) and each certification step as it starts, so that a long task is never silent.
In this process the display's callback is called directly.  From local worker processes the
reports travel through a queue that each worker receives when it starts (`install`): the worker
runs `run_reporting`, and a thread of the sweep (`StageRelay`) hands every report to the
callback.  Dask workers send none.  `StageBoard` keeps the latest stage of each running task
for the progress bar.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from multiprocessing.context import BaseContext
from multiprocessing.queues import Queue
from queue import Empty

from .grid import Task
from .run import Settings, run_task

__all__ = ["StageBoard", "StageRelay", "TaskStage", "install", "run_reporting"]

#: Told, in the sweep's process, what ``task`` is doing: ``stage(task, text)``.
TaskStage = Callable[[Task, str], None]
Row = dict[str, object]

#: How often the relay thread looks whether it should stop, and how long `StageRelay.close`
#: waits for it.
_POLL_SECONDS, _CLOSE_SECONDS = 0.1, 2.0
#: Shortest time between two redraws of the progress display for stage reports.
_REDRAW_SECONDS = 0.5
#: In a worker process: the queue of the sweep that started it (None: nobody listens).
_reports: Queue | None = None


def install(queue: Queue | None) -> None:
    """Send this worker's stage reports to ``queue`` from now on (the pool's initializer)."""
    global _reports
    _reports = queue


def run_reporting(task: Task, settings: Settings) -> Row:
    """`run_task` in a worker, each stage sent as (task, text) to the installed queue."""
    queue = _reports
    if queue is None:
        return run_task(task, settings)
    return run_task(task, settings, lambda text: queue.put((task, text)))


class StageRelay:
    """A queue for the workers' reports and a thread that passes each to ``stage`` (no queue
    and no thread when ``stage`` is None); `close` once the workers are done.

    The sweep only reads the queue, never writes to it: a worker killed in the middle of a
    report can leave the queue's pipe or lock unusable (Python's `multiprocessing` guidelines),
    and then the reading thread, a daemon, is left behind instead of holding up the sweep.
    """

    def __init__(self, context: BaseContext, stage: TaskStage | None) -> None:
        self.queue: Queue | None = None if stage is None else context.Queue()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if stage is not None:
            self._thread = threading.Thread(target=self._forward, args=(stage,), daemon=True)
            self._thread.start()

    def _forward(self, stage: TaskStage) -> None:
        """Pass on every report until the queue is found empty after `close`."""
        while True:
            try:
                task, text = self.queue.get(timeout=_POLL_SECONDS)
            except Empty:
                if self._done.is_set():
                    return
                continue
            stage(task, text)

    def close(self) -> None:
        """Stop the thread once it has passed on the reports already sent (the workers' queues
        are flushed when they exit), waiting at most ``_CLOSE_SECONDS``."""
        if self._thread is not None:
            self._done.set()
            self._thread.join(_CLOSE_SECONDS)
            self.queue.close()


class StageBoard:
    """The latest stage of each running task, as one line for a progress bar; reports that
    arrive after their task's row (a worker's queue may lag its result) are dropped."""

    def __init__(self) -> None:
        self._running: dict[Task, str] = {}
        self._finished: set[Task] = set()
        self._lock = threading.Lock()
        self._drawn = -math.inf

    def report(self, task: Task, text: str) -> bool:
        """Record the stage; returns whether the display is due a redraw (at most one every
        ``_REDRAW_SECONDS``, so that small fast nets do not flood the terminal)."""
        with self._lock:
            if task not in self._finished:
                self._running[task] = text
            now = time.monotonic()
            due = now - self._drawn >= _REDRAW_SECONDS
            if due:
                self._drawn = now
            return due

    def finish(self, row: Row) -> None:
        """The task of ``row`` has finished."""
        task = Task(**{f.name: row[f.name] for f in fields(Task)})
        with self._lock:
            self._finished.add(task)
            self._running.pop(task, None)

    def line(self) -> str:
        with self._lock:
            return "; ".join(
                f"n={t.n} d={t.d} k={t.k} seed {t.seed}: {text}"
                for t, text in self._running.items()
            )
