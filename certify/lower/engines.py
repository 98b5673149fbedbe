"""The gradient ascents of ‖J(x)‖ and the choice of the one that fits a problem.

Two-layer nets over R^d (`certify.lower.two_layer_ascent`), two-layer nets on a domain,
projected onto it (`certify.lower.domain_search`), two-layer nets in ℓ∞ over R^d
(`certify.lower.linf_search`), and every other cell — deep nets in either norm, over R^d or a
domain, and two-layer nets in ℓ∞ on a domain — by the general ascent of any depth
(`certify.lower.deep_ascent`).  The choice
lives here, in no registered method's module, so that the `ascent` method
(`certify.lower.ascent`) and the `pair` method (`certify.lower.pairs`), which starts from the
best point of the same ascent, share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..evidence import PointWitness
from ..methods import Budget
from ..problem import Problem
from ..scope import ANYWHERE
from .deep_ascent import DeepAscent
from .domain_search import DomainAscent
from .linf_search import LinfAscent
from .two_layer_ascent import TwoLayerAscent

__all__ = ["ASCENT_SCOPE", "Ascents"]

#: Where one of the ascents applies: every depth, norm and region.
ASCENT_SCOPE = ANYWHERE


class _Search(Protocol):
    def why_not(self, problem: Problem) -> str | None: ...

    def run(self, problem: Problem, budget: Budget) -> PointWitness: ...


@dataclass
class Ascents:
    """One gradient ascent per kind of problem, and the best point of the one that fits."""

    two_layer: TwoLayerAscent = field(default_factory=TwoLayerAscent)
    deep: DeepAscent = field(default_factory=DeepAscent)
    domain: DomainAscent = field(default_factory=DomainAscent)
    linf: LinfAscent = field(default_factory=LinfAscent)

    def why_not(self, problem: Problem) -> str | None:
        """Why no ascent fits ``problem`` (None when one does)."""
        return ASCENT_SCOPE.why_not(problem, upper=False) or self._search(problem).why_not(problem)

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        """The best point found by the ascent that fits ``problem`` (see ``why_not``)."""
        return self._search(problem).run(problem, budget)

    def _search(self, problem: Problem) -> _Search:
        """The ascent of ``problem``'s cell of `ASCENT_SCOPE`."""
        if problem.net.depth > 2:
            return self.deep
        if problem.norm == "inf":
            return self.linf if problem.domain is None else self.deep
        return self.two_layer if problem.domain is None else self.domain
