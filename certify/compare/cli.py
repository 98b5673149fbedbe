"""``certify compare MODEL [MODEL ...]``: every bound on every model, side by side.

Prints a table per model and writes OUT/compare.csv, compare.md, compare.html and (with
matplotlib) compare.png.  Exit code 0, or 2 on bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from ..api import resolve_network
from ..cli import EXIT_BAD_INPUT, add_loading_options
from ..methods import method_names
from ..problem import NORMS
from ..report import MethodResult
from .plot import plot
from .run import Comparison, compare, selected_methods
from .tables import html_page, markdown, to_csv

__all__ = ["main"]

PLOT_NAME = "compare.png"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certify compare",
        description="Run every applicable bound method on each model and compare them.",
    )
    parser.add_argument("models", nargs="+", metavar="MODEL", help="weights files")
    parser.add_argument(
        "--out", default=".", metavar="DIR", help="folder for compare.{csv,md,html,png} (default .)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="time allowance per method and model (default 60)",
    )
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
        notes.append("note: matplotlib is not installed, so no plot (pip install 'lipcert[plot]')")
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``certify compare``; returns the exit code."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        names = selected_methods(args.method)
        models = [
            (source, resolve_network(source, args.activation, args.trust_pickle))
            for source in dict.fromkeys(args.models)
        ]
    except (ValueError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"certify compare: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    bar = tqdm(total=len(models) * len(names), file=sys.stderr, disable=None, unit="method")

    def progress(source: str, name: str, result: MethodResult | None) -> None:
        if result is None:
            bar.set_description_str(f"{Path(source).name}: {name}")
        else:
            bar.update(1)

    comparisons = compare(models, names, args.time_limit, args.seed, progress, args.norm)
    bar.close()
    print(markdown(comparisons))
    try:
        notes = _write(Path(args.out), comparisons)
    except OSError as error:
        print(f"certify compare: error: {args.out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print("\n".join(notes))
    return 0
