"""The method ``sdp-rounding``: Goemans–Williamson-style roundings of the semidefinite relaxation
of max ‖J_s‖₂, climbed to realised activation patterns (the search is `certify.lower.climb`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..evidence import PointWitness
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..scope import Scope
from .climb import rounded_climb

__all__ = ["SDPRounding"]


@register
@dataclass
class SDPRounding:
    """Local search over realisable patterns from roundings of the semidefinite relaxation.

    The relaxation's iterate has ``rank`` columns and takes ``steps`` power steps; ``roundings``
    random directions give patterns, whose ``starts`` best distinct ones seed the climbs; each
    climbing step tries at most ``tries`` moves.
    """

    name: ClassVar[str] = "sdp-rounding"
    kind: ClassVar[Kind] = "lower"

    rank: int = 32
    steps: int = 100
    roundings: int = 64
    starts: int = 16
    tries: int = 8

    scope: ClassVar[Scope] = Scope.of(piecewise_linear_only=True)

    def why_not(self, problem: Problem) -> str | None:
        return self.scope.why_not(problem, upper=False)

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        return rounded_climb(
            problem.net, budget, self.rank, self.steps, self.roundings, self.starts, self.tries
        )
