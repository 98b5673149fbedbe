"""Bound methods run cheapest first under one overall deadline, as the audits need them.

The audits stop as soon as a claim is settled, so the order matters: the known methods are
tried by increasing cost, and any other registered method of the same kind after them.
Each method gets an equal share of the time left, so a method that finishes early hands its
unused time on to the ones after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, zip_longest

from ..api import run_method
from ..methods import Kind, get_method, method_names
from ..problem import Problem
from ..report import MethodResult

__all__ = [
    "COST_ORDER",
    "Attempt",
    "Finished",
    "Plan",
    "by_cost",
    "interleave",
    "plan",
    "run_in_order",
]

COST_ORDER: dict[Kind, tuple[str, ...]] = {
    "upper": ("spectral", "lipsdp-layer", "lipsdp-neuron", "exact"),
    "lower": ("sampling", "ascent", "patterns", "pair"),
}

Progress = Callable[[str], None]
Finished = Callable[[MethodResult], None]


def by_cost(kind: Kind) -> list[str]:
    """Registered methods of ``kind``: the known ones by increasing cost, then the others."""
    registered = method_names(kind=kind)
    known = [name for name in COST_ORDER[kind] if name in registered]
    return known + [name for name in registered if name not in known]


def interleave(*orders: Sequence[str]) -> list[str]:
    """Round-robin merge: the first of each order, then the second of each, ..."""
    return [name for name in chain.from_iterable(zip_longest(*orders)) if name is not None]


@dataclass(frozen=True)
class Plan:
    """Methods that apply to a network, in order, and why the others do not."""

    runnable: tuple[str, ...]
    skipped: dict[str, str]


def plan(problem: Problem, names: Sequence[str]) -> Plan:
    """Split ``names`` into the methods that apply to ``problem`` and the reasons for the rest."""
    runnable, skipped = [], {}
    for name in names:
        reason = get_method(name).why_not(problem)
        if reason is None:
            runnable.append(name)
        else:
            skipped[name] = reason
    return Plan(tuple(runnable), skipped)


@dataclass(frozen=True)
class Attempt:
    """One method's result and the seconds it was allowed."""

    result: MethodResult
    allowance: float

    @property
    def out_of_time(self) -> bool:
        """Whether the method used (nearly) all its allowance, so more time may help it."""
        return self.result.seconds >= 0.9 * self.allowance


def run_in_order(
    problem: Problem,
    names: Sequence[str],
    seconds: float,
    seed: int,
    progress: Progress | None = None,
    finished: Finished | None = None,
) -> Iterator[Attempt]:
    """Run ``names`` in turn, each allowed an equal share of what is left of ``seconds``;
    ``progress`` is called with each name as it starts, ``finished`` with each result.

    Stops when the time is spent; the caller stops earlier by no longer iterating.
    """
    deadline = time.monotonic() + seconds
    for position, name in enumerate(names):
        remaining = deadline - time.monotonic()
        if remaining <= 0.0:
            return
        if progress is not None:
            progress(name)
        allowance = remaining / (len(names) - position)
        result = run_method(name, problem, allowance, seed)
        if finished is not None:
            finished(result)
        yield Attempt(result, allowance)
