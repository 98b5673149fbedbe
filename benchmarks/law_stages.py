"""Where the time of a law-lab task goes: chosen cells of a preset, each stage timed.

    .venv/bin/python -m benchmarks.law_stages --preset bln-fig3 --scale 0.3 \\
        --cell 3000,15,3000 --cell 3000,150,3000 --seeds 0

Each task runs in this process with one torch thread and one BLAS thread, as in a sweep's
worker, and its stage reports (`certify.law.run.Stage`) are timed: the time from one report to
the next goes to the first one's stage (every training check to "training"; the data, before
the first report, to "data").  Prints one Markdown row per task: seconds per stage and in all.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Sequence

import torch
from threadpoolctl import threadpool_limits

from certify.law.grid import PRESETS, Task
from certify.law.run import Settings, run_task

__all__ = ["StageClock", "main"]

_PREFIXES = {"training": "training", "certifying on the unit ball: ": "ball ", "certifying: ": ""}


def _stage_name(text: str) -> str:
    """The stage a report belongs to: "training" for every check, else the step's name."""
    for prefix, name in _PREFIXES.items():
        if text.startswith(prefix):
            return name if prefix == "training" else name + text[len(prefix) :]
    return text


class StageClock:
    """A stage callback that adds up the seconds spent in each stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stage, self._since = "data", time.perf_counter()

    def __call__(self, text: str) -> None:
        now = time.perf_counter()
        self.seconds[self._stage] += now - self._since
        self._stage, self._since = _stage_name(text), now

    def stop(self) -> dict[str, float]:
        """Close the last stage; the seconds per stage."""
        self("")
        return dict(self.seconds)


def _cells(texts: Sequence[str]) -> set[tuple[int, int, int]]:
    return {tuple(int(v) for v in text.split(",")) for text in texts}


def _table(results: list[tuple[Task, dict[str, object], dict[str, float]]]) -> list[str]:
    stages = list(dict.fromkeys(name for _, _, times in results for name in times))
    lines = [
        "| n | d | k | seed | fits | epochs | " + " | ".join(stages) + " | total |",
        "|" + "---|" * (len(stages) + 7),
    ]
    for task, row, times in results:
        cells = " | ".join(f"{times.get(name, 0.0):.1f}" for name in stages)
        lines.append(
            f"| {task.n} | {task.d} | {task.k} | {task.seed} | {row.get('interpolated')} "
            f"| {row.get('epochs')} | {cells} | {sum(times.values()):.1f} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.law_stages")
    parser.add_argument("--preset", default="bln-fig3", choices=sorted(PRESETS))
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument(
        "--cell",
        action="append",
        required=True,
        metavar="N,D,K",
        help="a cell (n, d, k) of the scaled preset (repeatable)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--time-limit", type=float, default=Settings.time_limit)
    args = parser.parse_args(argv)
    wanted = _cells(args.cell)
    tasks = [
        t
        for t in PRESETS[args.preset].scaled(args.scale).tasks()
        if (t.n, t.d, t.k) in wanted and t.seed in args.seeds
    ]
    missing = wanted - {(t.n, t.d, t.k) for t in tasks}
    if missing:
        parser.error(f"cells not in the scaled preset: {sorted(missing)}")
    torch.set_num_threads(1)
    results = []
    with threadpool_limits(limits=1):
        for task in tasks:
            clock = StageClock()
            row = run_task(task, Settings(time_limit=args.time_limit), clock)
            results.append((task, row, clock.stop()))
            print(_table(results)[-1], flush=True)
    print("\n".join(_table(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
