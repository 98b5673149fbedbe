"""Pair witnesses: Lip(f) ≥ ‖f(x) − f(y)‖₂/‖x − y‖₂ for any x ≠ y, whatever the activation.

From the best gradient point x of the two-layer ascent (`certify.lower.two_layer_ascent`), with v
its top right singular vector, the symmetric pairs x ± (h/2)·v on a geometric grid of h (never so
small that rounding dominates the difference) approach ‖J(x)‖₂; the best pair is then refined by
gradient ascent of the quotient q(x, y), whose gradient is
∇ₓq = J(x)ᵀe/‖x − y‖ − q·(x − y)/‖x − y‖², e = Δf/‖Δf‖ (and the mirror image in y), with step
halving until q increases.  Pairs are compared by a float quotient made pessimistic by a rough
rounding allowance, so none wins on rounding noise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from models import TwoLayerNetwork

from ..estimates import top_direction
from ..evidence import PairWitness
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..scope import Scope
from ..verify.floating import UNIT_ROUNDOFF
from .search import Pace
from .two_layer_ascent import TwoLayerAscent

__all__ = ["PairSearch"]

#: Widths h of the symmetric pairs, relative to max(1, ‖x‖).
_WIDTHS = np.geomspace(1.0, 1e-6, 25)


@register
@dataclass
class PairSearch:
    """The best difference quotient around the point found by gradient ascent."""

    name: ClassVar[str] = "pair"
    kind: ClassVar[Kind] = "lower"

    scope: ClassVar[Scope] = Scope.of()

    ascent: TwoLayerAscent = field(default_factory=TwoLayerAscent)
    refine_steps: int = 30

    def why_not(self, problem: Problem) -> str | None:
        return self.scope.why_not(problem, upper=False) or self.ascent.why_not(problem)

    def run(self, problem: Problem, budget: Budget) -> PairWitness:
        """The ascent, leaving time for the grid of symmetric pairs, then refinement steps
        while one more fits."""
        net = problem.net
        started = time.monotonic()
        _quotient(net, np.zeros(net.d), np.eye(net.d)[0])
        reserve = (len(_WIDTHS) + 1) * (time.monotonic() - started)
        search = Budget(seconds=max(budget.remaining() - reserve, 0.0), seed=budget.seed)
        points, _ = self.ascent.search(net, search)
        x, y = _best_symmetric_pair(net, points[0])
        pace = Pace(budget)
        for _ in range(self.refine_steps):
            if not pace.fits():
                break
            x, y = _refined(net, x, y)
            pace.lap()
        return PairWitness(value=_quotient(net, x, y), x=x, y=y)


def _difference(net: TwoLayerNetwork, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """f(x) − f(y) = A·(σ(Wx + b) − σ(Wy + b)) in floating point (c cancels exactly)."""
    with np.errstate(all="ignore"):
        sigma = net.activation.value
        return (sigma(net.preactivation(x)) - sigma(net.preactivation(y))) @ net.A.T


def _quotient(net: TwoLayerNetwork, x: np.ndarray, y: np.ndarray) -> float:
    """A pessimistic float estimate of ‖f(x) − f(y)‖₂/‖x − y‖₂: the numerator less a rough
    bound on its rounding error (so pairs too close for float64 lose), 0 when not finite.
    Only a search score: `certify.verify` evaluates the quotient rigorously."""
    with np.errstate(all="ignore"):
        zx, zy = net.preactivation(x), net.preactivation(y)
        sigma = net.activation
        hidden = np.abs(sigma.value(zx)) + np.abs(sigma.value(zy))
        slope = np.maximum(np.abs(sigma.derivative(zx)), np.abs(sigma.derivative(zy)))
        spread = slope * (np.abs(net.W) @ (np.abs(x) + np.abs(y)) + 2 * np.abs(net.b)) + hidden
        noise = (net.d + net.k + 8) * UNIT_ROUNDOFF * np.linalg.norm(np.abs(net.A) @ spread)
        value = (np.linalg.norm(_difference(net, x, y)) - noise) / np.linalg.norm(x - y)
    return max(float(value), 0.0) if np.isfinite(value) else 0.0


def _best_symmetric_pair(net: TwoLayerNetwork, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pair x ± (h/2)·v with the largest quotient over the grid of widths h."""
    scale = 0.5 * max(1.0, float(np.linalg.norm(x)))
    steps = scale * _WIDTHS[:, None] * top_direction(net.jacobian(x))
    pairs = [(x - step, x + step) for step in steps]
    pairs = [(p, q) for p, q in pairs if not np.array_equal(p, q)]
    if not pairs:
        return x, x + np.eye(net.d)[0]
    return max(pairs, key=lambda pair: _quotient(net, *pair))


def _refined(net: TwoLayerNetwork, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One ascent step on q(x, y) of length ≤ ‖x − y‖/4, halved until q increases (the same
    pair when no step does)."""
    value = _quotient(net, x, y)
    gap = x - y
    distance = float(np.linalg.norm(gap))
    change = _difference(net, x, y)
    if value == 0.0 or not np.all(np.isfinite(change)):
        return x, y
    e = change / np.linalg.norm(change)
    grad_x = net.jacobian(x).T @ e / distance - value * gap / distance**2
    grad_y = -net.jacobian(y).T @ e / distance + value * gap / distance**2
    size = float(np.linalg.norm(np.concatenate([grad_x, grad_y])))
    if not np.isfinite(size) or size == 0.0:
        return x, y
    length = 0.25 * distance
    for _ in range(20):
        step = length / size
        candidate = (x + step * grad_x, y + step * grad_y)
        if not np.array_equal(*candidate) and _quotient(net, *candidate) > value:
            return candidate
        length *= 0.5
    return x, y
