"""Projected gradient ascent of ‖J(x)‖₂ inside a domain (the domain case of `certify.lower.ascent`):
lower bounds whose witnesses stay in D.

For x in a convex D where f is C¹ nearby, Lip_D(f) ≥ ‖J(x)v‖₂/‖v‖₂ for every v along D (the
free axes of a box): D's relative interior comes arbitrarily close to x.  The search works in
the free coordinates, starts from the best of uniform samples of D, and ascends ‖J_h(x)v‖₂²,
where J_h averages σ' over [z − h_i, z + h_i], i.e. uses (σ(z + h) − σ(z − h))/(2h) — a smoothing
of any σ that tends to σ' as h_i = τ·R·‖w_i‖ → 0 (τ annealed, R the domain's scale).  v is kept
at the top right singular vector by one power step a move (Danskin's theorem); each normalised
step of length τR is followed by the projection onto D.  Only the true ‖J(x)‖₂ at points proven
inside D (`Domain.contains`) is claimed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import TwoLayerNetwork

from ..domains import Ball, Box, Domain
from ..estimates import top_direction
from ..evidence import PointWitness
from ..methods import Budget
from ..problem import Problem
from .search import gradient_norms, inside
from .smoothing import TEMPERATURES, AscentRounds

__all__ = ["DomainAscent"]

#: τ falls geometrically from the first to the last over the steps of an ascent.
#: Smallest smoothing half-width relative to 1 + |z|, above the cancellation in σ(z ± h).
_RELATIVE_WIDTH = 1e-6


@dataclass
class DomainAscent(AscentRounds):
    """Best true ‖J(x)‖₂ over projected ascents from the best of uniform samples of the domain.

    Each round draws ``samples`` points of D (and its centre) and ascends the ``restarts`` best
    as one batch for ``steps`` steps; the number of rounds grows with the budget (one per 4 s,
    1 to ``max_rounds``) and stops when it ends.
    """

    def why_not(self, problem: Problem) -> str | None:
        if problem.domain is None:
            return "searches a domain only"
        if not np.any(problem.domain.free_axes):
            return "the domain is a single point, which holds no two distinct points"
        return None

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        domain = problem.domain
        anchor, free = domain.center, domain.free_axes
        net, space = _restricted(problem.net, domain)
        rng = np.random.default_rng(budget.seed)
        rounds = self.rounds(budget)
        best, best_norm = anchor.copy(), -np.inf
        for _ in range(rounds):
            starts = np.vstack([space.center, space.sample(self.samples, rng)])
            starts = starts[np.argsort(-gradient_norms(net, starts), kind="stable")]
            for point in _ascend(net, space, starts[: self.restarts], self.steps, budget):
                full = anchor.copy()
                full[free] = point
                full = inside(domain, full)
                norm = float(gradient_norms(net, full[free])[0])
                if norm > best_norm:
                    best, best_norm = full, norm
            if budget.expired():
                break
        return PointWitness(value=max(best_norm, 0.0), point=best)


def _restricted(net: TwoLayerNetwork, domain: Domain) -> tuple[TwoLayerNetwork, Domain]:
    """The net as a function of the free coordinates (the others fixed at the box's value) and
    the domain in those coordinates; a search aid only (its biases are rounded)."""
    if isinstance(domain, Ball):
        return net, domain
    free = domain.free_axes
    bias = net.b + net.W[:, ~free] @ domain.lower[~free]
    space = Box(domain.lower[free], domain.upper[free])
    return TwoLayerNetwork(net.W[:, free], bias, net.A, net.c, net.activation), space


def _ascend(
    net: TwoLayerNetwork, domain: Domain, starts: np.ndarray, steps: int, budget: Budget
) -> np.ndarray:
    """Projected normalised-gradient ascent of ‖J_h(x)v‖₂² from each start; every start's best
    iterate by the true ‖J(x)‖₂ (checked every tenth step and at the last, which comes early
    if the budget ends)."""
    W, b, A = net.W, net.b, net.A
    value, derivative = net.activation.value, net.activation.derivative
    row_norms = np.linalg.norm(W, axis=1)
    widths = domain.scale * np.where(row_norms > 0, row_norms, 1.0)
    X = starts.copy()
    directions = np.array([top_direction(net.jacobian(x)) for x in X])
    best, best_norms = X.copy(), gradient_norms(net, X)
    with np.errstate(all="ignore"):
        for step, temperature in enumerate(np.geomspace(*TEMPERATURES, steps)):
            Z = X @ W.T + b
            h = np.maximum(temperature * widths, _RELATIVE_WIDTH * (1.0 + np.abs(Z)))
            slopes = (value(Z + h) - value(Z - h)) / (2 * h)
            curvatures = (derivative(Z + h) - derivative(Z - h)) / (2 * h)
            projected = directions @ W.T
            back = ((slopes * projected) @ A.T) @ A
            gradient = (curvatures * projected * back) @ W
            directions = _normalised((slopes * back) @ W, directions)
            X = domain.project(X + temperature * domain.scale * _normalised(gradient))
            last = step == steps - 1 or budget.expired()
            if last or step % 10 == 9:
                norms = gradient_norms(net, X)
                better = norms > best_norms
                best[better], best_norms[better] = X[better], norms[better]
            if last:
                break
    return best


def _normalised(rows: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Each row scaled to unit length; rows that vanish or are not finite become the fallback
    row (zero when there is none)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    usable = np.isfinite(norms) & (norms > 0)
    unit = rows / np.where(usable, norms, 1.0)
    return np.where(usable, unit, np.zeros_like(rows) if fallback is None else fallback)
