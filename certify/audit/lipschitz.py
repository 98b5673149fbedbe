"""Audit of a claimed Lipschitz constant: is Lip(f) ≤ L proven, refuted, or still open?

A claim Lip(f) ≤ L is VERIFIED by a verified upper bound U ≤ L, and REFUTED by a verified
lower bound (a point or pair witness, re-checked by `certify.verify`) strictly above L.
Methods run cheapest first, upper and lower alternating, until one side settles the claim
or the overall time is spent (`certify.audit.schedule`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from models import Network

from ..methods import not_globally_lipschitz
from ..problem import Norm, Problem
from ..report import Report
from .schedule import Attempt, Finished, Progress, by_cost, interleave, plan, run_in_order

__all__ = ["ClaimAudit", "Outcome", "audit_lipschitz", "settle"]

Outcome = Literal["VERIFIED", "REFUTED", "UNDECIDED"]


@dataclass(frozen=True)
class ClaimAudit:
    """The outcome for a claim Lip(f) ≤ ``claim``, the methods run, and what could settle it."""

    claim: float
    outcome: Outcome
    report: Report
    suggestion: str = ""


def settle(report: Report, claim: float) -> Outcome:
    """VERIFIED when the verified upper end is ≤ claim, REFUTED when the lower end is > claim."""
    if report.upper <= claim:
        return "VERIFIED"
    if report.lower > claim:
        return "REFUTED"
    return "UNDECIDED"


def audit_lipschitz(
    net: Network,
    claim: float,
    time_limit: float = 60.0,
    seed: int = 0,
    progress: Progress | None = None,
    norm: Norm = "2",
    finished: Finished | None = None,
) -> ClaimAudit:
    """Settle the claim Lip(f) ≤ ``claim`` (in ``norm``, over all of R^d) within
    ``time_limit`` seconds if the methods can; ``progress`` and ``finished`` are called as
    each method starts and ends.

    Raises ValueError for a claim that is negative or not finite, and for a network that has no
    global Lipschitz constant.
    """
    if not (math.isfinite(claim) and claim >= 0.0):
        raise ValueError(f"the claimed Lipschitz constant must be finite and ≥ 0, got {claim}")
    problem = Problem(net, norm)
    reason = not_globally_lipschitz(problem)
    if reason is not None:
        raise ValueError(reason)
    schedule = plan(problem, interleave(by_cost("upper"), by_cost("lower")))
    attempts: list[Attempt] = []
    report = Report(model=problem.describe(), methods=())
    for attempt in run_in_order(problem, schedule.runnable, time_limit, seed, progress, finished):
        attempts.append(attempt)
        report = Report(model=problem.describe(), methods=tuple(a.result for a in attempts))
        outcome = settle(report, claim)
        if outcome != "UNDECIDED":
            return ClaimAudit(claim, outcome, report)
    unreached = schedule.runnable[len(attempts) :]
    return ClaimAudit(
        claim, "UNDECIDED", report, _suggestion(report, attempts, unreached, schedule.skipped)
    )


def _suggestion(
    report: Report, attempts: list[Attempt], unreached: tuple[str, ...], skipped: dict[str, str]
) -> str:
    """What could settle an open claim: more time, or the methods that did not apply."""
    if report.lower > 0 and report.upper <= report.lower * (1.0 + 1e-6):
        return (
            "the claim is within rounding of the Lipschitz constant itself, so neither side "
            "can be proven"
        )
    hints = []
    more_time = [a.result.name for a in attempts if a.out_of_time] + list(unreached)
    if more_time:
        hints.append(f"a longer --time-limit lets {', '.join(more_time)} run or go further")
    hints += [f"{name} does not apply ({reason})" for name, reason in skipped.items()]
    return "; ".join(hints) or "no registered method can tighten the interval further"
