"""``certify compare MODEL [MODEL ...]``: every bound on every model, side by side.

Prints a table per model and writes OUT/compare.csv, compare.md, compare.html and (with
matplotlib) compare.png.  Exit code 0, or 2 on bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..api import DEFAULT_TIME_LIMIT, resolve_network
from ..methods import method_names
from ..options import (
    CommandParser,
    add_loading_options,
    add_time_limit,
    first_line,
    report_bad_input,
    run_command,
)
from ..problem import NORMS
from ..progress import MethodStatus
from ..report import MethodResult
from .plot import plot
from .run import Comparison, compare, selected_methods
from .tables import html_page, markdown, to_csv

__all__ = ["main"]

PROG = "certify compare"
PLOT_NAME = "compare.png"


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog=PROG,
        description="Run every applicable bound method on each model and compare them.",
    )
    parser.add_argument("models", nargs="+", metavar="MODEL", help="weights files")
    parser.add_argument(
        "--out", default=".", metavar="DIR", help="folder for compare.{csv,md,html,png} (default .)"
    )
    add_time_limit(parser, DEFAULT_TIME_LIMIT, "time allowance per method and model in seconds")
    parser.add_argument(
        "--method",
        action="append",
        metavar="NAME",
        help=f"compare only this method (repeatable): {', '.join(method_names())}",
    )
    parser.add_argument(
        "--norm", choices=NORMS, default="2", help="norm on inputs and outputs (default 2)"
    )
    add_loading_options(parser)
    return parser


def _write(folder: Path, comparisons: Sequence[Comparison]) -> list[str]:
    """Write the output files; returns one-line notes for the user."""
    folder.mkdir(parents=True, exist_ok=True)
    has_plot = plot(comparisons, folder / PLOT_NAME)
    texts = {
        "compare.csv": to_csv(comparisons),
        "compare.md": markdown(comparisons),
        "compare.html": html_page(comparisons, PLOT_NAME if has_plot else None),
    }
    for name, text in texts.items():
        (folder / name).write_text(text)
    written = [*texts, PLOT_NAME] if has_plot else list(texts)
    notes = [f"wrote {', '.join(str(folder / name) for name in written)}"]
    if not has_plot:
        notes.append("note: matplotlib is not installed, so no plot (pip install 'certify[plot]')")
    return notes


def _compare(args: argparse.Namespace) -> int:
    try:
        names = selected_methods(args.method)
    except ValueError as error:
        return report_bad_input(PROG, f"--method: {first_line(error)}")
    try:
        models = [
            (source, resolve_network(source, args.activation, args.trust_pickle))
            for source in dict.fromkeys(args.models)
        ]
    except (ValueError, OSError) as error:
        return report_bad_input(PROG, first_line(error))
    status = MethodStatus(PROG, total=len(models) * len(names))

    def progress(source: str, name: str, result: MethodResult | None) -> None:
        if result is None:
            status(f"{Path(source).name}: {name}")
        else:
            status.finished(result, Path(source).name)

    comparisons = compare(models, names, args.time_limit, args.seed, progress, args.norm)
    status.close()
    print(markdown(comparisons))
    try:
        notes = _write(Path(args.out), comparisons)
    except OSError as error:
        return report_bad_input(PROG, f"{args.out}: {error.strerror or error}")
    print("\n".join(notes))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``certify compare``; returns the exit code."""
    return run_command(_parser(), argv, _compare)
