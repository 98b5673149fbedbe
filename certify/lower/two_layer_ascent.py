"""Gradient ascent on a smoothed ‖J(x)‖₂² of a two-layer net, with random restarts.

J(x) = A·diag(σ'(Wx + b))·W.  Where σ' jumps (the kinks of ReLU, leaky ReLU, ELU) it is replaced
by a blend through the gate g = sigmoid(z_i / (τ·r·‖w_i‖)), τ annealed towards 0 so the surrogate
tends to σ' (r: the norm of the start).  Normalised-gradient steps of length τ·r maximise
‖J(x)v‖₂² with v kept at the top right singular vector by one power-iteration step per move; at
v = v_max its gradient is that of σ_max(J)² (Danskin's theorem).  Only the true ‖J(x)‖₂ of the
points found is claimed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from models import TwoLayerNetwork

from ..estimates import top_direction
from ..evidence import PointWitness
from ..methods import Budget
from ..problem import Problem
from .search import Pace, gradient_norms, keep_better, length_scales, sample
from .smoothing import SMOOTH_SLOPES, TEMPERATURES, AscentRounds, no_smooth_surrogate, normalised

__all__ = ["TwoLayerAscent"]

#: Moves along the top right singular vector tried after an ascent, relative to ‖x‖ + 1.
_NUDGES = (0.0, 1e-3, -1e-3, 1e-6, -1e-6)


@dataclass
class TwoLayerAscent(AscentRounds):
    """Best true ‖J(x)‖₂ over annealed ascents from the best of random multi-scale starts.

    Each round ascends the ``restarts`` best of ``samples`` random points (fewer if drawing
    them takes a quarter of the time left) as one batch for ``steps`` steps; the number of
    rounds grows with the budget (one per 4 s, 1 to ``max_rounds``), and a round starts only
    while one fits in what is left of it.
    """

    def why_not(self, problem: Problem) -> str | None:
        return no_smooth_surrogate(problem.net)

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        net = problem.net
        points, norms = self.search(net, budget)
        return PointWitness(value=max(float(norms[0]), 0.0), point=points[0])

    def search(self, net: TwoLayerNetwork, budget: Budget) -> tuple[np.ndarray, np.ndarray]:
        """The points found, best first, with their true gradient norms."""
        rng = np.random.default_rng(budget.seed)
        rounds = self.rounds(budget)
        found, found_norms = [], []
        pace = Pace(budget)
        for _ in range(rounds):
            share = Budget(seconds=budget.remaining() / 4)
            points, norms = sample(net, self.samples, rng, share, length_scales(net))
            best = np.argsort(-norms, kind="stable")[: self.restarts]
            points, norms = _ascend(net, points[best], norms[best], self.steps, budget)
            found.append(points)
            found_norms.append(norms)
            pace.lap()
            if not pace.fits():
                break
        norms = np.concatenate(found_norms)
        order = np.argsort(-norms, kind="stable")
        return np.concatenate(found)[order], norms[order]


def _ascend(
    net: TwoLayerNetwork, starts: np.ndarray, norms: np.ndarray, steps: int, budget: Budget
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised-gradient ascent of ‖J_τ(x)v‖₂² from each start (whose ‖J‖₂ are ``norms``),
    each step τ times the start's radius, then `_nudged`; returns every start's best point by
    the true ‖J(x)‖₂, with those norms.

    The true norms are checked every tenth step and at the last, which comes early when one
    more step and the finishing work (about twice the set-up: Jacobians and top directions of
    every start) would not fit in the budget; with no time left the starts come back as they
    are."""
    if budget.expired():
        return starts, norms
    setup = time.monotonic()
    W, b, A = (torch.tensor(a, dtype=torch.float64) for a in (net.W, net.b, net.A))
    row_norms = torch.linalg.vector_norm(W, dim=1)
    row_norms = torch.where(row_norms > 0, row_norms, 1.0)
    radius = torch.tensor(np.linalg.norm(starts, axis=1), dtype=torch.float64)
    radius = radius.clamp(min=1e-3 * float(radius.max().clamp(min=1e-300)))[:, None]
    slope = SMOOTH_SLOPES[net.activation.name]
    parameter = net.activation.parameter
    unit = torch.tensor(starts, dtype=torch.float64) / radius
    unit.requires_grad_(True)
    directions = torch.tensor(np.array([top_direction(net.jacobian(x)) for x in starts]))
    best, best_norms = starts.copy(), norms.copy()
    pace = Pace(budget, reserve=2.0 * (time.monotonic() - setup))
    for step, temperature in enumerate(np.geomspace(*TEMPERATURES, steps)):
        z = (radius * unit) @ W.T + b
        slopes = slope(z, torch.sigmoid(z / (temperature * radius * row_norms)), parameter)
        image = (slopes * (directions @ W.T)) @ A.T
        (gradient,) = torch.autograd.grad((image**2).sum(), unit)
        with torch.no_grad():
            unit += temperature * normalised(gradient)
            directions = normalised(((image @ A) * slopes) @ W, directions)
        pace.lap()
        last = step == steps - 1 or not pace.fits()
        if last or step % 10 == 9:
            keep_better(net, (radius * unit).detach().numpy(), best, best_norms)
        if last:
            break
    return (best, best_norms) if budget.expired() else _nudged(net, best)


def _nudged(net: TwoLayerNetwork, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point moved by a few small steps along its top right singular vector, which leaves
    a kink the ascent converged onto; the best of the moves and its true ‖J‖₂ are kept."""
    scale = np.linalg.norm(points, axis=1, keepdims=True) + 1.0
    directions = np.array([top_direction(net.jacobian(x)) for x in points]) * scale
    moves = np.stack([points + t * directions for t in _NUDGES])
    norms = gradient_norms(net, moves.reshape(-1, net.d)).reshape(len(_NUDGES), len(points))
    best = np.argmax(norms, axis=0)
    columns = np.arange(len(points))
    return moves[best, columns], norms[best, columns]
