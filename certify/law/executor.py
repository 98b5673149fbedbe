"""Running a sweep: tasks go to this process, to local worker processes, or to a Dask cluster;
rows come back to the parent, which alone writes the database, one commit per finished task.

Tasks run single-threaded wherever they run (this process included): the networks are small,
and torch's OpenMP threads on a busy machine slowed a test sweep tenfold.  Parallelism comes
from workers: local ``spawn``-ed processes (torch is not fork-safe), N workers for N cores, or,
with ``scheduler`` (a ``distributed`` scheduler address such as ``tcp://host:8786``), the
cluster's workers (set to one torch thread when the sweep starts).  A task that crashes gives a row
with its error; a worker that dies under a task gives that task an error row on Dask, while a
broken local pool stops the sweep (the finished rows are kept and a re-run resumes).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

import torch
from threadpoolctl import threadpool_limits

from .grid import Task
from .run import Settings, crashed_row, run_task
from .store import Store

__all__ = ["execute", "sweep"]

Row = dict[str, object]


def _single_threaded() -> None:
    """One torch thread and one BLAS thread in this (worker) process, from now on."""
    torch.set_num_threads(1)
    threadpool_limits(limits=1)


def _here(tasks: Sequence[Task], settings: Settings) -> Iterator[Row]:
    """The tasks in this process, single-threaded while they run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            for task in tasks:
                yield run_task(task, settings)
    finally:
        torch.set_num_threads(threads)


def _locally(tasks: Sequence[Task], settings: Settings, workers: int) -> Iterator[Row]:
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_single_threaded)
    try:
        futures = {pool.submit(run_task, task, settings): task for task in tasks}
        yield from _rows(as_completed(futures), futures, settings)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _on_dask(tasks: Sequence[Task], settings: Settings, scheduler: str) -> Iterator[Row]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(scheduler) as client:
        client.run(_single_threaded)
        futures = client.map(run_task, list(tasks), settings=settings, pure=False)
        owners = dict(zip(futures, tasks, strict=True))
        try:
            yield from _rows(dask_completed(futures), owners, settings)
        finally:
            client.cancel(futures)


def _rows(
    done: Iterator[Future], tasks: dict[object, Task], settings: Settings
) -> Iterator[Row]:
    """Each finished future's row; a future that failed gives its task an error row."""
    for future in done:
        try:
            yield future.result()
        except BrokenProcessPool:
            raise
        except Exception as error:
            yield crashed_row(tasks[future], settings, error)


def execute(
    tasks: Sequence[Task],
    settings: Settings,
    workers: int = 1,
    scheduler: str | None = None,
) -> Iterator[Row]:
    """The rows of ``tasks`` in the order they finish: on the Dask cluster at ``scheduler``,
    else in ``workers`` local processes (in this process, single-threaded, when ``workers`` ≤ 1)."""
    if scheduler is not None:
        return _on_dask(tasks, settings, scheduler)
    if workers > 1:
        return _locally(tasks, settings, workers)
    return _here(tasks, settings)


def sweep(
    tasks: Sequence[Task],
    store: Store,
    settings: Settings,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[Row], None] | None = None,
) -> int:
    """Run the tasks that have no row in ``store``, committing each row as it arrives;
    ``progress`` sees every row.  Returns the number of rows written."""
    written = 0
    for row in execute(store.pending(tasks), settings, workers, scheduler):
        store.add(row)
        written += 1
        if progress is not None:
            progress(row)
    return written
