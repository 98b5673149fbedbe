"""Audit of claimed robustness radii: is each point's prediction constant on its ℓ2 ball?

A claim (x, y, r) says no class beats y anywhere in the ball ‖x' − x‖₂ ≤ r.  Each component
f_y − f_j of f is √2·L-Lipschitz when L ≥ Lip(f) in ℓ2 → ℓ2 (‖e_y − e_j‖₂ = √2), and y·f is
L-Lipschitz for a scalar output, so a claim is

- VERIFIED when every margin at x is provably > 0 and ≥ √2·L·r (L·r for one output), with L a
  verified upper bound and the margins in ball arithmetic (`certify.audit.margins`);
- REFUTED when the ℓ2 attack (`certify.audit.attack`) finds x' whose distance to x is provably
  ≤ r and where some class provably beats y (or y·f(x') < 0);
- UNDECIDED otherwise.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flint import arb

from models import TwoLayerNetwork

from ..methods import not_globally_lipschitz
from ..problem import Problem
from ..report import MethodResult, Report
from ..verify.balls import lower_float
from .attack import attack
from .lipschitz import Outcome
from .margins import SQRT2, certainly_within, decimal_ball, margins, output_balls
from .radius_claims import RadiusClaims
from .schedule import Finished, Progress, by_cost, plan, run_in_order

__all__ = ["PointVerdict", "RadiiAudit", "audit_radii", "write_per_point"]

#: Share of the time limit the upper bounds may use; the attack gets the rest.
UPPER_SHARE = 0.5
#: The attack always gets at least this long, even when the upper bounds used all the time.
_MIN_ATTACK_SECONDS = 1.0


@dataclass(frozen=True)
class PointVerdict:
    """The outcome for one claim, the proven radius, and the counterexample when refuted."""

    verdict: Outcome
    #: A proven radius: no class beats the label within it (0 when none is proven).
    certified_radius: float
    counterexample: np.ndarray | None = None


@dataclass(frozen=True)
class RadiiAudit:
    """Per-point verdicts, and the upper bound on Lip(f) used to certify them."""

    claims: RadiusClaims
    points: tuple[PointVerdict, ...]
    report: Report

    @property
    def counts(self) -> dict[Outcome, int]:
        """How many claims got each verdict."""
        tally = Counter(p.verdict for p in self.points)
        return {verdict: tally[verdict] for verdict in ("VERIFIED", "REFUTED", "UNDECIDED")}


def _positive(point_margins: list[arb]) -> bool:
    """Every margin is provably > 0: the label strictly wins at x."""
    return all(margin > 0 for margin in point_margins)


def _certify(point_margins: list[arb], radius: float, slope: arb) -> bool:
    """Every margin is provably positive and at least slope · radius."""
    bound = slope * decimal_ball(radius)
    return _positive(point_margins) and all(margin - bound >= 0 for margin in point_margins)


def _proven_radius(point_margins: list[arb], slope: arb) -> float:
    """A lower bound on min_j margin_j / slope, or 0 when no margin is proven positive."""
    if not _positive(point_margins):
        return 0.0
    if slope == 0:
        return math.inf
    return max(min(lower_float(margin / slope) for margin in point_margins), 0.0)


def _slope(net: TwoLayerNetwork, report: Report) -> arb | None:
    """The proven Lipschitz constant of every margin, when an upper bound is verified."""
    if not math.isfinite(report.upper):
        return None
    return (arb(1) if net.m == 1 else SQRT2) * arb(report.upper)


def _upper_bounds(
    net: TwoLayerNetwork,
    point_margins: list[list[arb]],
    radii: np.ndarray,
    seconds: float,
    seed: int,
    progress: Progress | None,
    finished: Finished | None,
) -> Report:
    """Run the upper-bound methods cheapest first until every claim whose margins are provably
    positive is certified, or the time is spent."""
    results: list[MethodResult] = []
    problem = Problem(net)
    report = Report(problem.describe(), ())
    runnable = plan(problem, by_cost("upper")).runnable
    for attempt in run_in_order(problem, runnable, seconds, seed, progress, finished):
        results.append(attempt.result)
        report = Report(problem.describe(), tuple(results))
        slope = _slope(net, report)
        if slope is not None and all(
            _certify(m, r, slope) for m, r in zip(point_margins, radii, strict=True) if _positive(m)
        ):
            break
    return report


def _is_counterexample(
    net: TwoLayerNetwork, x: np.ndarray, label: int, radius: float, candidate: np.ndarray
) -> bool:
    """Proven: ``candidate`` lies within ``radius`` of x and some class beats ``label`` there."""
    if not certainly_within(candidate, x, radius):
        return False
    return any(margin < 0 for margin in margins(output_balls(net, candidate), label))


def _counterexamples(
    net: TwoLayerNetwork, claims: RadiusClaims, indices: np.ndarray, seconds: float, seed: int
) -> dict[int, np.ndarray]:
    """Attack the claims at ``indices``; the counterexamples that survive the rigorous check."""
    found, loss = attack(
        net, claims.points[indices], claims.labels[indices], claims.radii[indices], seconds, seed
    )
    return {
        int(index): candidate
        for index, candidate, gain in zip(indices, found, loss, strict=True)
        if gain > 0
        and _is_counterexample(
            net, claims.points[index], int(claims.labels[index]), claims.radii[index], candidate
        )
    }


def audit_radii(
    net: TwoLayerNetwork,
    claims: RadiusClaims,
    time_limit: float = 60.0,
    seed: int = 0,
    progress: Progress | None = None,
    finished: Finished | None = None,
) -> RadiiAudit:
    """Verify, refute or leave open each claimed radius within ``time_limit`` seconds;
    ``progress`` and ``finished`` are called as each method starts and ends.

    Raises ValueError for a network that is not a two-layer net or has no global Lipschitz
    constant.
    """
    if not isinstance(net, TwoLayerNetwork):
        raise ValueError(
            "radius claims are audited for two-layer networks only "
            f"(this one has {net.depth} linear layers)"
        )
    reason = not_globally_lipschitz(Problem(net))
    if reason is not None:
        raise ValueError(reason)
    deadline = time.monotonic() + time_limit
    point_margins = [
        margins(output_balls(net, x), int(y))
        for x, y in zip(claims.points, claims.labels, strict=True)
    ]
    report = _upper_bounds(
        net, point_margins, claims.radii, time_limit * UPPER_SHARE, seed, progress, finished
    )
    slope = _slope(net, report)
    verified = np.array(
        [
            slope is not None and _certify(m, r, slope)
            for m, r in zip(point_margins, claims.radii, strict=True)
        ],
        dtype=bool,
    )
    counterexamples: dict[int, np.ndarray] = {}
    if not verified.all():
        if progress is not None:
            progress("attack")
        seconds = max(deadline - time.monotonic(), _MIN_ATTACK_SECONDS)
        counterexamples = _counterexamples(net, claims, np.flatnonzero(~verified), seconds, seed)
    points = tuple(
        PointVerdict(
            "VERIFIED" if verified[i] else ("REFUTED" if i in counterexamples else "UNDECIDED"),
            0.0 if slope is None else _proven_radius(m, slope),
            counterexamples.get(i),
        )
        for i, m in enumerate(point_margins)
    )
    return RadiiAudit(claims, points, report)


PER_POINT_COLUMNS = [
    "index",
    "label",
    "radius",
    "verdict",
    "certified_radius",
    "counterexample_distance",
    "counterexample_hex",
]


def write_per_point(path: str | os.PathLike, audit: RadiiAudit) -> None:
    """One CSV row per claim: verdict, proven radius, and the counterexample (float.hex, space
    separated) with its float distance when refuted."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PER_POINT_COLUMNS)
        for index, point in enumerate(audit.points):
            x = audit.claims.points[index]
            example = point.counterexample
            writer.writerow(
                [
                    index,
                    int(audit.claims.labels[index]),
                    repr(float(audit.claims.radii[index])),
                    point.verdict,
                    repr(point.certified_radius),
                    "" if example is None else repr(float(np.linalg.norm(example - x))),
                    "" if example is None else " ".join(float(v).hex() for v in example),
                ]
            )
