"""Where a bound method applies, or a checker can prove, declared once as data.

A `Scope` is a set of cells (depth, norm, region): the depth is two-layer (L = 2) or deep
(L ≥ 3), the norm ℓ2 or ℓ∞, the region all of R^d ("global") or a bounded domain; it may be
restricted to piecewise-linear activations.  Methods declare theirs (`certify.methods`), the
evidence types declare what their checker proves (`certify.certificates`, `certify.evidence`),
and the refusals, the checkers' applicability and the documentation's method × scope matrix are
derived from it.

Two facts about regions are built in.  A proven global upper bound holds on every domain, so an
upper method whose scope has the global cell still applies on a domain (when σ is globally
Lipschitz); a lower bound on a domain needs witnesses proven to lie in it, so a lower method
applies on a domain only with a domain cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .problem import Norm, Problem

__all__ = [
    "ANYWHERE",
    "DEPTHS",
    "NORMS",
    "REGIONS",
    "Depth",
    "Region",
    "Scope",
    "cell_of",
    "not_globally_lipschitz",
]

Depth = Literal["two-layer", "deep"]
Region = Literal["global", "domain"]
Cell = tuple[Depth, Norm, Region]
DEPTHS: tuple[Depth, ...] = ("two-layer", "deep")
NORMS: tuple[Norm, ...] = ("2", "inf")
REGIONS: tuple[Region, ...] = ("global", "domain")


def cell_of(problem: Problem) -> Cell:
    """The (depth, norm, region) of ``problem``."""
    depth: Depth = "two-layer" if problem.net.depth == 2 else "deep"
    return depth, problem.norm, "global" if problem.domain is None else "domain"


def not_globally_lipschitz(problem: Problem) -> str | None:
    """The reason no bound over all of R^d exists (a polynomial activation), if any."""
    if problem.is_global and not problem.net.activation.globally_lipschitz:
        return (
            f"activation {problem.net.activation.spec!r} is not globally Lipschitz, so no global "
            "bound exists (ask for a bound on a bounded domain)"
        )
    return None


def _norm_text(norms: Iterable[str]) -> str:
    return " and ".join("l" + n for n in sorted(set(norms)))


@dataclass(frozen=True)
class Scope:
    """A set of (depth, norm, region) cells, and whether only piecewise-linear σ are covered."""

    cells: frozenset[Cell]
    piecewise_linear_only: bool = False

    @classmethod
    def of(
        cls,
        depths: Iterable[Depth] = ("two-layer",),
        norms: Iterable[Norm] = ("2",),
        regions: Iterable[Region] = ("global",),
        piecewise_linear_only: bool = False,
    ) -> Scope:
        """Every combination of the given depths, norms and regions."""
        return cls(frozenset(itertools.product(depths, norms, regions)), piecewise_linear_only)

    def __or__(self, other: Scope) -> Scope:
        if self.piecewise_linear_only != other.piecewise_linear_only:
            raise ValueError("cannot join scopes with different activation restrictions")
        return Scope(self.cells | other.cells, self.piecewise_linear_only)

    def why_not(self, problem: Problem, upper: bool) -> str | None:
        """Why ``problem`` lies outside this scope for an upper (or a lower) bound, else None."""
        depth, norm, region = cell_of(problem)
        activation = problem.net.activation
        if not any(cell[0] == depth for cell in self.cells):
            return f"handles {' and '.join(sorted({c[0] for c in self.cells}))} networks only"
        norms = {cell[1] for cell in self.cells if cell[0] == depth}
        if norm not in norms:
            everywhere = {cell[1] for cell in self.cells}
            return f"handles the {_norm_text(norms)} norm only" + (
                "" if norms == everywhere else f" (for {depth} networks)"
            )
        if self.piecewise_linear_only and not activation.piecewise_linear:
            return f"activation {activation.spec!r} is not piecewise linear"
        if (depth, norm, region) not in self.cells:
            if region == "global":
                return "bounds a domain only"
            if not upper:
                return "its witnesses are not confined to a domain"
            if not activation.globally_lipschitz:
                return f"needs a globally Lipschitz activation, not {activation.spec!r}"
        return not_globally_lipschitz(problem)

    def covers(self, other: Scope) -> bool:
        """Whether every problem in ``other`` lies in this scope."""
        return other.cells <= self.cells and (
            other.piecewise_linear_only or not self.piecewise_linear_only
        )

    def describe(self) -> dict[str, str]:
        """The text of each column of the method × scope matrix: per depth, the norms and
        regions covered, and the activations."""
        columns = {}
        for depth in DEPTHS:
            found = [
                f"{'ℓ2' if norm == '2' else 'ℓ∞'} {region}"
                for norm in NORMS
                for region in REGIONS
                if (depth, norm, region) in self.cells
            ]
            columns[depth] = ", ".join(found) or "—"
        columns["activations"] = "piecewise linear" if self.piecewise_linear_only else "all"
        return columns


#: Every depth, norm and region.
ANYWHERE = Scope.of(DEPTHS, NORMS, REGIONS)
