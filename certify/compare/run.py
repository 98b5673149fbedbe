"""Run every bound method on several networks, for side-by-side tables and plots.

Each model gets a `Report` built from `certify.api.run_method`, one method at a time, so a
progress callback can follow every (model, method) pair.  Methods that do not apply stay in
the report with the reason (the CSV lists them; the tables group them under each model).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models import Network

from ..api import DEFAULT_TIME_LIMIT, check_settings, run_method
from ..methods import resolve_names
from ..problem import Norm, Problem
from ..report import MethodResult, Report

__all__ = ["Comparison", "compare", "ratio", "selected_methods"]

#: Called with (model source, method name, None) as a method starts, and with its result at the end.
Progress = Callable[[str, str, MethodResult | None], None]


@dataclass(frozen=True)
class Comparison:
    """One model's source (a path or a label) and every method's outcome on it."""

    source: str
    report: Report


def ratio(result: MethodResult, report: Report) -> float | None:
    """A method's value over the best verified lower end (None when either is missing)."""
    if result.value is None or not math.isfinite(result.value) or report.lower <= 0:
        return None
    return result.value / report.lower


def selected_methods(names: Sequence[str] | None = None) -> list[str]:
    """The methods to compare: ``names`` (validated, duplicates dropped) or every registered one.

    Raises `certify.methods.UnknownMethodError` for a name no method has.
    """
    return resolve_names(names)


def compare(
    models: Sequence[tuple[str, Network]],
    methods: Sequence[str],
    time_limit: float = DEFAULT_TIME_LIMIT,
    seed: int = 0,
    progress: Progress | None = None,
    norm: Norm = "2",
) -> list[Comparison]:
    """Run ``methods`` (each allowed ``time_limit`` seconds) on every (source, network) pair,
    for the Lipschitz constant in ``norm`` over all of R^d.

    Raises `certify.api.SettingsError` for a time limit or seed no method can work with."""
    check_settings(time_limit, seed)
    comparisons = []
    for source, net in models:
        problem = Problem(net, norm)
        results = []
        for name in methods:
            if progress is not None:
                progress(source, name, None)
            results.append(run_method(name, problem, time_limit, seed))
            if progress is not None:
                progress(source, name, results[-1])
        report = Report(problem.describe(), tuple(results), source=source)
        comparisons.append(Comparison(source, report))
    return comparisons
