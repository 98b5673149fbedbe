"""Gradient ascent of ‖J(x)‖₂ for deep MLPs (the deep case of `certify.lower.ascent`).

J(x) = W_L·D_{L−1}·W_{L−1} ⋯ D_1·W_1, D_l = diag(σ'(z_l)).  As in `certify.lower.ascent`, where σ'
jumps it is replaced by a blend through the gate g = sigmoid(z / (τ·s_l)), here with s_l the
mean |z| of the point's layer l, τ annealed towards 0.  Normalised-gradient steps of length τ·r
(r: the norm of the start) maximise ‖J_τ(x)v‖₂², v kept at the top right singular vector by one
power-iteration step per move.  Starts are the best of random Gaussian points at a few scales.
Only the true ‖J(x)‖₂ of the points found is claimed; `certify.verify` proves it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models import DeepNetwork
from models.torch_io import activation_module

from ..estimates import top_direction
from ..evidence import PointWitness
from ..methods import Budget
from ..problem import Problem
from .search import Pace, gradient_norms, keep_better
from .smoothing import SMOOTH_SLOPES, TEMPERATURES, AscentRounds, no_smooth_surrogate, normalised

__all__ = ["DeepAscent"]

Tensor = torch.Tensor


def _length_scales(net: DeepNetwork) -> tuple[float, ...]:
    """1, and the median distance |b_i|/‖w_i‖ from the origin to the first layer's hyperplanes
    (when it is positive)."""
    W, b = net.weights[0], net.biases[0]
    norms = np.linalg.norm(W, axis=1)
    live = norms > 0
    distance = float(np.median(np.abs(b[live]) / norms[live])) if np.any(live) else 0.0
    return (1.0,) if distance == 0.0 else tuple(sorted({1.0, distance}))


@dataclass
class DeepAscent(AscentRounds):
    """Best true ‖J(x)‖₂ over annealed ascents from the best of random multi-scale starts, in
    rounds (one per 4 s of budget, at most ``max_rounds``) until the budget ends."""

    def why_not(self, problem: Problem) -> str | None:
        return no_smooth_surrogate(problem.net)

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        net = problem.net
        rng = np.random.default_rng(budget.seed)
        rounds = self.rounds(budget)
        best_point, best_norm = np.zeros(net.d), -np.inf
        pace = Pace(budget)
        for _ in range(rounds):
            radii = np.resize(np.asarray(_length_scales(net)), self.samples)
            X = rng.standard_normal((self.samples, net.d)) * (radii / np.sqrt(net.d))[:, None]
            norms = gradient_norms(net, X)
            starts = X[np.argsort(-norms, kind="stable")[: self.restarts]]
            points = _ascend(net, starts, self.steps, budget)
            norms = gradient_norms(net, points)
            top = int(np.argmax(norms))
            if norms[top] > best_norm:
                best_point, best_norm = points[top], float(norms[top])
            pace.lap()
            if not pace.fits():
                break
        return PointWitness(value=max(best_norm, 0.0), point=best_point)


def _ascend(net: DeepNetwork, starts: np.ndarray, steps: int, budget: Budget) -> np.ndarray:
    """Normalised-gradient ascent of ‖J_τ(x)v‖₂² from each start; every start's best iterate by
    the true ‖J(x)‖₂ (checked every tenth step and at the last, which comes early when one more
    step would not fit in the budget; with no time left the starts come back as they are)."""
    if budget.expired():
        return starts
    weights = [torch.tensor(W) for W in net.weights]
    biases = [torch.tensor(b) for b in net.biases]
    sigma = activation_module(net.activation)
    slope = SMOOTH_SLOPES[net.activation.name]
    parameter = net.activation.parameter
    radius = torch.tensor(np.linalg.norm(starts, axis=1), dtype=torch.float64)
    radius = radius.clamp(min=1e-3 * float(radius.max().clamp(min=1e-300)))[:, None]
    unit = (torch.tensor(starts, dtype=torch.float64) / radius).requires_grad_(True)
    directions = torch.tensor(np.array([top_direction(net.jacobian(x)) for x in starts]))
    best, best_norms = starts.copy(), gradient_norms(net, starts)
    pace = Pace(budget)
    for step, temperature in enumerate(np.geomspace(*TEMPERATURES, steps)):
        h, tangent, slopes = radius * unit, directions, []
        for W, b in zip(weights[:-1], biases[:-1], strict=True):
            z = h @ W.T + b
            scale = z.detach().abs().mean(dim=1, keepdim=True).clamp(min=1e-300)
            slopes.append(slope(z, torch.sigmoid(z / (temperature * scale)), parameter))
            tangent = slopes[-1] * (tangent @ W.T)
            h = sigma(z)
        image = tangent @ weights[-1].T
        (gradient,) = torch.autograd.grad((image**2).sum(), unit)
        with torch.no_grad():
            unit += temperature * normalised(gradient)
            back = image @ weights[-1]
            for W, s in zip(reversed(weights[:-1]), reversed(slopes), strict=True):
                back = (back * s) @ W
            directions = normalised(back, directions)
        pace.lap()
        last = step == steps - 1 or not pace.fits()
        if last or step % 10 == 9:
            keep_better(net, (radius * unit).detach().numpy(), best, best_norms)
        if last:
            break
    return best
