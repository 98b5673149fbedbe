"""What a command shows while its methods run.

On a terminal: a one-line status naming the method that runs (tqdm, erased at the end).
Elsewhere (a log file, a CI job): one line per finished method on stderr, e.g.
``certify: lipsdp-neuron upper 14.05493809 verified (0.03 s)``; none under ``--json``.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from .report import MethodResult, format_number

__all__ = ["MethodStatus", "describe_result"]


def describe_result(result: MethodResult) -> str:
    """``name kind value verified (seconds)``: one finished method in a few words."""
    if result.value is None:
        outcome = "failed"
    else:
        verdict = "verified" if result.verified else "not verified"
        outcome = f"{format_number(result.value)} {verdict}"
    return f"{result.name} {result.kind} {outcome} ({result.seconds:.2f} s)"


class MethodStatus:
    """The status line (on a terminal) or log lines (elsewhere) of one command's methods;
    with a ``total`` number of runs the status line counts them."""

    def __init__(self, prog: str, quiet: bool = False, total: int = 0) -> None:
        self.prog = prog
        terminal = sys.stderr.isatty()
        self.logging = not terminal and not quiet
        self.bar = tqdm(
            total=total,
            disable=not terminal,
            file=sys.stderr,
            leave=False,
            unit="method",
            bar_format=None if total else "{desc}",
        )

    def __call__(self, name: str) -> None:
        """A method (or step) called ``name`` starts."""
        self.bar.set_description_str(f"running {name} ...")

    def finished(self, result: MethodResult, source: str | None = None) -> None:
        """A method ended with ``result`` (on the model ``source``, when there are several)."""
        self.bar.update(1)
        if self.logging and result.applicable:
            where = f"{source}: " if source else ""
            print(f"{self.prog}: {where}{describe_result(result)}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Erase the status line."""
        self.bar.close()
