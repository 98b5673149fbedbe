"""``certify law``: sweep interpolating networks, report the scaling of their Lipschitz constants.

    certify law run [--db FILE] [--preset NAME] [--scale S] [--grid FILE.toml] [--n ...] ...
    certify law report [--db FILE] [--out DIR] [--json]
    certify law export [--db FILE] --out DIR

Exit codes: 0 done, 2 bad input (one line on stderr), 130 interrupted (finished rows kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from models.train import PRECISIONS

from ..methods import UnknownMethodError, get_method
from ..options import (
    CommandParser,
    at_least_one,
    first_line,
    non_negative_integer,
    positive_integer,
    positive_number,
    positive_seconds,
    report_bad_input,
    run_command,
    seed,
)
from .analysis import spread
from .executor import sweep
from .grid import DISTRIBUTIONS, K_RULES, PRESETS, TRAINS, Grid, GridError, Task, load_grid
from .refine import DEFAULT_GAP, refine, wide_rows
from .run import DEFAULT_UPPER_METHODS, Settings
from .stages import StageBoard
from .store import Store, read_rows

__all__ = ["main"]

DEFAULT_DB = "law.sqlite"
EXIT_INTERRUPTED = 130


def _neurons(text: str) -> int | str:
    if text in K_RULES:
        return text
    try:
        return positive_integer(text)
    except argparse.ArgumentTypeError:
        rules = ", ".join(K_RULES)
        raise argparse.ArgumentTypeError(
            f"must be a whole number >= 1 or a rule ({rules}), got {text}"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="certify law",
        description=(
            "The law of robustness (Bubeck, Li, Nagaraj 2021): train interpolating two-layer "
            "networks on generic data, certify [lower, upper] for each Lipschitz constant on "
            "the sphere, and fit its scaling in sqrt(n/k)."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a sweep (finished tasks are skipped)")
    run.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    run.add_argument("--preset", choices=sorted(PRESETS), help="a grid of the paper's figures")
    run.add_argument(
        "--scale", type=positive_number, default=1.0, help="multiply n, d and k (default 1)"
    )
    run.add_argument("--grid", metavar="FILE.toml", help="a grid file (fields of the Grid)")
    run.add_argument("--n", type=positive_integer, nargs="+", help="numbers of data points")
    run.add_argument("--d", type=positive_integer, nargs="+", help="input dimensions")
    run.add_argument(
        "--k",
        type=_neurons,
        nargs="+",
        help=f"numbers of neurons, or rules of n and d: {', '.join(K_RULES)}",
    )
    run.add_argument("--seeds", type=seed, nargs="+", help="data and training seeds")
    run.add_argument("--activation", help="activation (default relu)")
    run.add_argument("--distribution", choices=DISTRIBUTIONS, help="data (default sphere)")
    run.add_argument("--epsilon", type=positive_number, help="largest mean square loss of a fit")
    run.add_argument("--batch-norm", action="store_true", default=None, help="train with BN")
    run.add_argument("--bias-free", action="store_true", default=None, help="b = 0 and c = 0")
    run.add_argument(
        "--train",
        choices=TRAINS,
        help="how each net is found: Adam (default), smooth training (smooth = LipSDP penalty) "
        "or a construction",
    )
    run.add_argument(
        "--learning-rate", type=positive_number, help="Adam's learning rate (default 0.01)"
    )
    run.add_argument(
        "--max-epochs", type=positive_integer, help="epochs at most until a fit (default 5000)"
    )
    run.add_argument(
        "--init-scale",
        type=positive_number,
        help="multiply the He-style initial weights (default 1)",
    )
    run.add_argument(
        "--batch-size", type=non_negative_integer, help="Adam's mini-batch size (default 0: all)"
    )
    run.add_argument(
        "--extra-epochs",
        type=non_negative_integer,
        help="epochs trained past the first fit (default 0)",
    )
    run.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="torch's floating-point type in training (default float64; float32 is about twice "
        "as fast on a CPU; the net found is tested and certified in float64 either way)",
    )
    run.add_argument(
        "--upper-method",
        action="append",
        metavar="NAME",
        help=f"upper-bound method (repeatable; default {', '.join(DEFAULT_UPPER_METHODS)})",
    )
    run.add_argument(
        "--time-limit",
        type=positive_seconds,
        default=Settings.time_limit,
        metavar="SECONDS",
        help=f"allowance per method and for the sphere search (default {Settings.time_limit})",
    )
    run.add_argument(
        "--workers",
        type=positive_integer,
        default=os.cpu_count() or 1,
        help="local worker processes (default: one per core; 1 runs in this process)",
    )
    run.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://h:8786")
    run.add_argument("--device", default="cpu", help="torch device for training (cpu, cuda)")
    run.add_argument("--retry-errors", action="store_true", help="run again the tasks that crashed")
    report = commands.add_parser("report", help="fit the scaling and write the report")
    report.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    report.add_argument("--out", metavar="DIR", help="write report.md and figures there")
    report.add_argument("--json", action="store_true", help="print the summary as JSON")
    report.add_argument(
        "--resamples", type=positive_integer, default=2000, help="bootstrap resamples"
    )
    report.add_argument(
        "--gap",
        type=at_least_one,
        default=2.0,
        help="upper/lower ratio flagged too wide (default 2)",
    )
    report.add_argument("--seed", type=seed, default=0, help="bootstrap seed")
    refine = commands.add_parser(
        "refine", help="spend more time, and the exact method, on the nets with wide intervals"
    )
    refine.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    refine.add_argument(
        "--gap",
        type=at_least_one,
        default=DEFAULT_GAP,
        help=f"refine the nets with upper/lower above this (default {DEFAULT_GAP})",
    )
    refine.add_argument(
        "--time-limit",
        type=positive_seconds,
        default=10.0,
        metavar="SECONDS",
        help="allowance of exact, and of the sphere search, per net (default 10)",
    )
    refine.add_argument("--seed", type=seed, default=0, help="seed of the sphere search")
    refine.add_argument(
        "--again",
        action="store_true",
        help="also the nets refined before whose upper end is not exact's (after an upper "
        "method improved); their ends from before the first refinement are kept",
    )
    export = commands.add_parser(
        "export", help="write every interpolating net as .npz with its data and bounds"
    )
    export.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    export.add_argument("--out", required=True, metavar="DIR", help="folder for the .npz files")
    return parser


_OVERRIDES = (
    "n",
    "d",
    "k",
    "seeds",
    "activation",
    "distribution",
    "epsilon",
    "batch_norm",
    "bias_free",
    "learning_rate",
    "max_epochs",
    "train",
    "init_scale",
    "batch_size",
    "extra_epochs",
    "precision",
)


def _grid(args: argparse.Namespace) -> Grid:
    """The preset or grid file, scaled, then overridden by the options given."""
    if args.preset and args.grid:
        raise GridError("give --preset or --grid, not both")
    overrides = {
        name: getattr(args, name) for name in _OVERRIDES if getattr(args, name) is not None
    }
    if args.preset:
        base = PRESETS[args.preset]
    elif args.grid:
        base = load_grid(args.grid)
    else:
        missing = [f"--{axis}" for axis in ("n", "d", "k") if axis not in overrides]
        if missing:
            raise GridError(f"give --preset, --grid, or all of --n --d --k (missing {missing})")
        return Grid(**overrides).scaled(args.scale)
    return replace(base.scaled(args.scale), **overrides)


class UsageError(ValueError):
    """An option value that cannot work (reported on one line, exit code 2)."""


def _settings(args: argparse.Namespace) -> Settings:
    methods = tuple(args.upper_method or DEFAULT_UPPER_METHODS)
    for name in methods:
        try:
            kind = get_method(name).kind
        except UnknownMethodError as error:
            raise UsageError(f"--upper-method: {error}") from None
        if kind != "upper":
            raise UsageError(f"--upper-method: {name!r} is not an upper-bound method")
    try:
        device = torch.device(args.device)
    except RuntimeError as error:
        raise UsageError(f"bad --device: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available")
    return Settings(upper_methods=methods, time_limit=args.time_limit, device=args.device)


def _run(args: argparse.Namespace) -> int:
    tasks = _grid(args).tasks()
    settings = _settings(args)
    with Store(args.db) as store:
        if args.retry_errors:
            store.forget_errors()
        pending = store.pending(tasks)
        bar = tqdm(total=len(pending), unit="net", file=sys.stderr, dynamic_ncols=True)
        fitted, board = 0, StageBoard()

        def show(refresh: bool) -> None:
            running = board.line()
            text = f"interpolating {fitted}" + (f"; {running}" if running else "")
            bar.set_postfix_str(text, refresh=refresh)

        def progress(row: dict[str, object]) -> None:
            nonlocal fitted
            fitted += row.get("interpolated") == 1
            board.finish(row)
            show(refresh=False)
            bar.update()

        def stage(task: Task, text: str) -> None:
            show(refresh=board.report(task, text))

        try:
            written = sweep(pending, store, settings, args.workers, args.scheduler, progress, stage)
        finally:
            bar.close()
    print(
        f"{written} new rows ({fitted} interpolating) in {args.db}; "
        f"{len(tasks) - len(pending)} of {len(tasks)} tasks were already done"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from .analysis import analyse
    from .report import write_report

    if not Path(args.db).is_file():
        raise UsageError(f"no results database at {args.db}")
    rows = read_rows(args.db)
    analysis = analyse(rows, resamples=args.resamples, gap=args.gap, seed=args.seed)
    if args.out:
        path = write_report(analysis, rows, Path(args.out))
        if not args.json:
            print(f"report written to {path}")
    if args.json:
        print(json.dumps(analysis.summary(), indent=2))
    elif not args.out:
        print(analysis.verdict_text())
    return 0


def _refine(args: argparse.Namespace) -> int:
    if not Path(args.db).is_file():
        raise UsageError(f"no results database at {args.db}")
    narrowed = 0
    with Store(args.db) as store:
        pending = wide_rows(store.rows(networks=True), args.gap, args.again)
        bar = tqdm(total=len(pending), unit="net", file=sys.stderr, dynamic_ncols=True)
        try:
            for values in refine(store, pending, args.time_limit, args.seed):
                narrowed += spread(values) <= args.gap
                bar.set_postfix_str(f"now within {args.gap:g}: {narrowed}", refresh=False)
                bar.update()
        finally:
            bar.close()
    print(f"{len(pending)} nets refined in {args.db}; {narrowed} now within {args.gap:g}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import export_networks

    if not Path(args.db).is_file():
        raise UsageError(f"no results database at {args.db}")
    summary = export_networks(args.db, args.out)
    print(
        f"{len(summary.written)} nets written to {args.out}, each with a proven fit; "
        f"{summary.unproven} left out (fit not proven)"
    )
    return 0


def _command(args: argparse.Namespace) -> int:
    try:
        commands = {"run": _run, "report": _report, "refine": _refine, "export": _export}
        return commands[args.command](args)
    except (GridError, UsageError, UnknownMethodError, OSError, sqlite3.Error) as error:
        return report_bad_input("certify law", first_line(error), getattr(args, "json", False))
    except KeyboardInterrupt:
        print("certify law: interrupted; every finished row is kept", file=sys.stderr)
        return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``certify law``; returns the exit code."""
    return run_command(_parser(), argv, _command)
