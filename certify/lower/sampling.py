"""Random sampling of gradient norms: the lower-bound proxy of Bubeck, Li and Nagaraj, "A law of
robustness for two-layers neural networks" (COLT 2021): Lip(f) ≥ max_j ‖J(x_j)‖₂ over points
x_j ~ N(0, I/d) where f is differentiable (almost every x_j)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..evidence import PointWitness
from ..methods import Budget, Kind, outside_scope, register
from ..problem import Problem
from .search import sample

__all__ = ["GradientSampling"]


@register
@dataclass
class GradientSampling:
    """The largest ‖J(x)‖₂ over ``count`` Gaussian points (fewer if the budget ends first)."""

    name: ClassVar[str] = "sampling"
    kind: ClassVar[Kind] = "lower"
    default: ClassVar[bool] = True

    count: int = 1000

    def why_not(self, problem: Problem) -> str | None:
        return outside_scope(problem, self.kind)

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        net = problem.net
        points, norms = sample(net, self.count, np.random.default_rng(budget.seed), budget)
        best = int(np.argmax(norms))
        return PointWitness(value=max(float(norms[best]), 0.0), point=points[best])
