"""Gradient ascent of ‖J(x)‖: the lower bound that climbs to where f is steepest.

One method for every problem it handles, dispatching on the network and the question:
two-layer nets over R^d (`certify.lower.two_layer_ascent`), deep nets
(`certify.lower.deep_ascent`), two-layer nets on a domain, projected onto it
(`certify.lower.domain_search`), and the ℓ∞ norm (`certify.lower.linf_search`).  Each searches
with smoothed derivatives and claims only the true ‖J(x)‖ at the point it returns, which
`certify.verify` proves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from ..evidence import PointWitness
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..scope import Scope
from .deep_ascent import DeepAscent
from .domain_search import DomainAscent
from .linf_search import LinfAscent
from .two_layer_ascent import TwoLayerAscent

__all__ = ["GradientAscent"]


class _Search(Protocol):
    def why_not(self, problem: Problem) -> str | None: ...

    def run(self, problem: Problem, budget: Budget) -> PointWitness: ...


@register
@dataclass
class GradientAscent:
    """The best point of the ascent that fits the problem (see the module docstring)."""

    name: ClassVar[str] = "ascent"
    kind: ClassVar[Kind] = "lower"
    scope: ClassVar[Scope] = (
        Scope.of(("two-layer", "deep")) | Scope.of(regions=("domain",)) | Scope.of(norms=("inf",))
    )

    two_layer: TwoLayerAscent = field(default_factory=TwoLayerAscent)
    deep: DeepAscent = field(default_factory=DeepAscent)
    domain: DomainAscent = field(default_factory=DomainAscent)
    linf: LinfAscent = field(default_factory=LinfAscent)

    def why_not(self, problem: Problem) -> str | None:
        return self.scope.why_not(problem, upper=False) or self._search(problem).why_not(problem)

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        return self._search(problem).run(problem, budget)

    def _search(self, problem: Problem) -> _Search:
        if problem.norm == "inf":
            return self.linf
        if problem.net.depth > 2:
            return self.deep
        return self.two_layer if problem.domain is None else self.domain
