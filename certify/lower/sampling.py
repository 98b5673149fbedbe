"""Random sampling of gradient norms: the lower-bound proxy of Bubeck, Li and Nagaraj, "A law of
robustness for two-layers neural networks" (COLT 2021): Lip(f) ≥ max_j ‖J(x_j)‖ over points
x_j ~ N(0, I/d) where f is differentiable (almost every x_j).

It applies to every problem: any depth, the ℓ2 norm (‖J‖₂, the largest singular value) or the ℓ∞
one (the largest row ℓ1 norm), and on a domain, where the points are drawn uniformly in it and the
best one is moved, if need be, until it is proven to lie inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..evidence import PointWitness
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..scope import ANYWHERE, Scope
from .search import gradient_norms, inside, sample

__all__ = ["GradientSampling"]


@register
@dataclass
class GradientSampling:
    """The largest ‖J(x)‖ over ``count`` random points (fewer if the budget ends first)."""

    name: ClassVar[str] = "sampling"
    kind: ClassVar[Kind] = "lower"
    scope: ClassVar[Scope] = ANYWHERE

    count: int = 1000

    def why_not(self, problem: Problem) -> str | None:
        return self.scope.why_not(problem, upper=False)

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        net, domain = problem.net, problem.domain
        rng = np.random.default_rng(budget.seed)
        points, norms = sample(net, self.count, rng, budget, norm=problem.norm, domain=domain)
        point = points[int(np.argmax(norms))]
        if domain is not None:
            point = inside(domain, point)
        value = float(gradient_norms(net, point, problem.norm)[0])
        return PointWitness(value=max(value, 0.0), point=point)
