"""Running a sweep: tasks go to this process, to local worker processes, or to a Dask cluster;
rows come back to the parent, which alone writes the database, one commit per finished task.

Tasks run single-threaded wherever they run (this process included): the networks are small,
and torch's OpenMP threads on a busy machine slowed a test sweep tenfold.  Parallelism comes
from workers: local ``spawn``-ed processes (torch is not fork-safe), N workers for N cores, or,
with ``scheduler`` (a ``distributed`` scheduler address such as ``tcp://host:8786``), the
cluster's workers (set to one torch thread when the sweep starts).  A task is taken from the
task list only when a worker is about to be free (two per worker at most are in flight), so a
sweep claims a task just before it runs (`Store.claimed`).  A task that crashes gives a row
with its error; a worker that dies under a task gives that task an error row on Dask, while a
broken local pool stops the sweep (the finished rows are kept and a re-run resumes).

Local workers never outlive the sweep: each holds the read end of a pipe whose write end only
the sweep holds, and exits as soon as it closes, which the kernel does when the sweep's process
dies (even by SIGKILL); the sweep closes it itself on any exception.  SIGTERM interrupts a
sweep like Ctrl-C.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager
from functools import partial
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from types import FrameType

import torch
from threadpoolctl import threadpool_limits

from .grid import Task
from .run import Settings, crashed_row, run_task
from .stages import StageRelay, TaskStage, install, run_reporting
from .store import Store

__all__ = ["execute", "sweep"]

Row = dict[str, object]
#: Tasks in flight per worker: one running, one waiting, so that no worker idles.
_IN_FLIGHT_PER_WORKER = 2
#: The exit status of a worker whose sweep has gone.
_ORPHANED = 1


def _single_threaded() -> None:
    """One torch thread and one BLAS thread in this (worker) process, from now on."""
    torch.set_num_threads(1)
    threadpool_limits(limits=1)


def _exit_when_closed(lifeline: Connection) -> None:
    """Block until the sweep's end of ``lifeline`` closes (nothing is ever sent), then exit."""
    lifeline.poll(None)
    os._exit(_ORPHANED)


def _start_worker(lifeline: Connection, stages: Queue | None = None) -> None:
    """Each local worker: single-threaded, its stage reports sent to ``stages``, deaf to Ctrl-C
    (its sweep handles it), and gone as soon as its sweep is."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _single_threaded()
    install(stages)
    threading.Thread(target=_exit_when_closed, args=(lifeline,), daemon=True).start()


def _here(
    tasks: Iterable[Task], settings: Settings, stage: TaskStage | None = None
) -> Iterator[Row]:
    """The tasks in this process, single-threaded while they run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            for task in tasks:
                yield run_task(task, settings, None if stage is None else partial(stage, task))
    finally:
        torch.set_num_threads(threads)


def _row(future: Future, task: Task, settings: Settings) -> Row:
    """The row of a finished future; one that failed gives its task an error row."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise
    except Exception as error:
        return crashed_row(task, settings, error)


def _in_flight(
    tasks: Iterable[Task],
    submit: Callable[[Task], Future],
    first_done: Callable[[Collection[Future]], Iterable[Future]],
    capacity: Callable[[], int],
    settings: Settings,
    cancel: Callable[[list[Future]], object] | None = None,
) -> Iterator[Row]:
    """The rows of ``tasks`` as they finish, with at most ``capacity()`` tasks submitted and
    unfinished at any time; a task is taken from ``tasks`` only when it can be submitted.  No
    finished future is kept (a Dask cluster frees its result); the unfinished ones go to
    ``cancel`` however this ends."""
    source = iter(tasks)
    running: dict[Future, Task] = {}
    try:
        while True:
            for task in islice(source, max(0, capacity() - len(running))):
                running[submit(task)] = task
            if not running:
                return
            for future in first_done(running):
                yield _row(future, running.pop(future), settings)
    finally:
        if cancel is not None:
            cancel(list(running))


def _locally(
    tasks: Iterable[Task], settings: Settings, workers: int, stage: TaskStage | None = None
) -> Iterator[Row]:
    context = multiprocessing.get_context("spawn")
    lifeline, held = context.Pipe(duplex=False)
    relay = StageRelay(context, stage)
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(lifeline, relay.queue)
    )
    try:
        yield from _in_flight(
            tasks,
            lambda task: pool.submit(run_reporting, task, settings),
            lambda futures: wait(futures, return_when=FIRST_COMPLETED).done,
            lambda: _IN_FLIGHT_PER_WORKER * workers,
            settings,
        )
    except BaseException:
        held.close()  # the workers exit now, in the middle of their tasks
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        relay.close()
        held.close()
        lifeline.close()


def _on_dask(tasks: Iterable[Task], settings: Settings, scheduler: str) -> Iterator[Row]:
    from distributed import Client
    from distributed import wait as dask_wait

    with Client(scheduler) as client:
        client.run(_single_threaded)
        yield from _in_flight(
            tasks,
            lambda task: client.submit(run_task, task, settings=settings, pure=False),
            lambda futures: dask_wait(list(futures), return_when=FIRST_COMPLETED).done,
            lambda: _IN_FLIGHT_PER_WORKER * max(1, sum(client.nthreads().values())),
            settings,
            client.cancel,
        )


def execute(
    tasks: Iterable[Task],
    settings: Settings,
    workers: int = 1,
    scheduler: str | None = None,
    stage: TaskStage | None = None,
) -> Iterator[Row]:
    """The rows of ``tasks`` in the order they finish: on the Dask cluster at ``scheduler``,
    else in ``workers`` local processes (in this process, single-threaded, when ``workers`` ≤ 1).
    ``tasks`` is consumed lazily, one task when a worker is about to be free.  ``stage`` hears
    what each task is doing (`certify.law.stages`; not from Dask workers)."""
    if scheduler is not None:
        return _on_dask(tasks, settings, scheduler)
    if workers > 1:
        return _locally(tasks, settings, workers, stage)
    return _here(tasks, settings, stage)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def _terminate_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt meanwhile (in the main thread), so that every
    ``finally`` runs: the workers are stopped and this sweep's claims released."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def sweep(
    tasks: Iterable[Task],
    store: Store,
    settings: Settings,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[Row], None] | None = None,
    stage: TaskStage | None = None,
) -> int:
    """Run the tasks that have no row in ``store``, largest first, each claimed just before it
    runs and committed as it arrives (another sweep on the same database takes other tasks
    first); ``progress`` sees every row, ``stage`` each task's stages.  Returns the number of
    rows written.

    Largest first (by n·d·k, the cost of a training epoch) is the longest-processing-time rule
    (Graham, SIAM J. Appl. Math. 17, 1969): no worker is left alone with a long task at the
    end while the others idle."""
    written = 0
    ordered = sorted(tasks, key=lambda task: task.n * task.d * task.k, reverse=True)
    rows = execute(store.claimed(ordered), settings, workers, scheduler, stage)
    with _terminate_interrupts(), closing(rows):
        for row in rows:
            written += store.add(row)
            if progress is not None:
                progress(row)
    return written
