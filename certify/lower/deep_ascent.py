"""Gradient ascent of ‖J(x)‖ for MLPs of any depth, in either norm, over R^d or a domain (the
general case of `certify.lower.ascent`; two-layer nets have faster specialised ascents for ℓ2,
for ℓ2 on a domain and for ℓ∞ over R^d).

J(x) = W_L·D_{L−1}·W_{L−1} ⋯ D_1·W_1, D_l = diag(σ'(z_l)).  As in `certify.lower.ascent`, where σ'
jumps it is replaced by a blend through the gate g = sigmoid(z / (τ·s_l)), here with s_l the
mean |z| of the point's layer l, τ annealed towards 0.  Normalised-gradient steps of length τ·r
(r: the norm of the start, or the domain's scale) maximise, in ℓ2, ‖J_τ(x)v‖₂² with v kept at
the top right singular vector by one power-iteration step per move, and in ℓ∞ the largest row
ℓ1 norm of J_τ(x) (Lip∞ ≥ max_j ‖∇f_j(x)‖₁).  On a domain each step is projected onto it and
only the free axes of a box move or count (a point witness proves ‖J(x)v‖/‖v‖ for v along D).
Starts are the best of random points (Gaussian at a few scales, or uniform in the domain).
Only the true ‖J(x)‖ of the points found is claimed, at points proven inside the domain;
`certify.verify` proves it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models import Network

from ..domains import Domain
from ..estimates import top_direction
from ..evidence import PointWitness
from ..methods import Budget
from ..problem import Norm, Problem
from .search import FAR, Pace, gradient_norms, inside, sample
from .smoothing import (
    SMOOTH_SLOPES,
    TEMPERATURES,
    AscentRounds,
    no_smooth_surrogate,
    normalised,
    torch_activation,
)

__all__ = ["DeepAscent"]

Tensor = torch.Tensor


def _length_scales(net: Network, norm: Norm) -> tuple[float, ...]:
    """1, and the median distance |b_i|/‖w_i‖ from the origin to the first layer's hyperplanes
    (when it is positive); in ℓ∞ also `FAR` times the largest."""
    W, b = net.weights[0], net.biases[0]
    norms = np.linalg.norm(W, axis=1)
    live = norms > 0
    distance = float(np.median(np.abs(b[live]) / norms[live])) if np.any(live) else 0.0
    scales = (1.0,) if distance == 0.0 else tuple(sorted({1.0, distance}))
    return scales if norm == "2" else (*scales, FAR * scales[-1])


@dataclass
class DeepAscent(AscentRounds):
    """Best true ‖J(x)‖ over annealed ascents from the best of random multi-scale starts, in
    rounds (one per 4 s of budget, at most ``max_rounds``) until the budget ends."""

    def why_not(self, problem: Problem) -> str | None:
        if problem.domain is not None and not np.any(problem.domain.free_axes):
            return "the domain is a single point, which holds no two distinct points"
        return no_smooth_surrogate(problem.net)

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        net, norm, domain = problem.net, problem.norm, problem.domain
        free = np.ones(net.d, dtype=bool) if domain is None else domain.free_axes
        rng = np.random.default_rng(budget.seed)
        rounds = self.rounds(budget)
        best_point = np.zeros(net.d) if domain is None else domain.center
        best_score = -np.inf
        pace = Pace(budget)
        for _ in range(rounds):
            X, _ = sample(net, self.samples, rng, budget, _length_scales(net, norm), norm, domain)
            scores = gradient_norms(net, X, norm, free)
            starts = X[np.argsort(-scores, kind="stable")[: self.restarts]]
            points = _Ascent(net, norm, domain, free).run(starts, self.steps, budget)
            if domain is not None:
                points = np.array([inside(domain, p) for p in points])
            scores = gradient_norms(net, points, norm, free)
            top = int(np.argmax(scores))
            if scores[top] > best_score:
                best_point, best_score = points[top], float(scores[top])
            pace.lap()
            if not pace.fits():
                break
        return PointWitness(value=max(best_score, 0.0), point=best_point)


class _Ascent:
    """The annealed ascent of one batch of starts (module docstring)."""

    def __init__(self, net: Network, norm: Norm, domain: Domain | None, free: np.ndarray) -> None:
        self.net, self.norm, self.domain = net, norm, domain
        self.free = torch.tensor(free)
        self.weights = [torch.tensor(W) for W in net.weights]
        self.biases = [torch.tensor(b) for b in net.biases]
        self.sigma = torch_activation(net.activation)
        self.slope = SMOOTH_SLOPES[net.activation.name]

    def run(self, starts: np.ndarray, steps: int, budget: Budget) -> np.ndarray:
        """Each start's best iterate by the true ‖J(x)‖ (checked every tenth step and at the
        last, which comes early when one more step would not fit in the budget; with no time
        left the starts come back as they are)."""
        if budget.expired():
            return starts
        free = self.free.numpy()
        if self.domain is None:
            radius = torch.tensor(np.linalg.norm(starts, axis=1), dtype=torch.float64)
            scale = radius.clamp(min=1e-3 * float(radius.max().clamp(min=1e-300)))[:, None]
        else:
            scale = torch.full((len(starts), 1), float(self.domain.scale), dtype=torch.float64)
        position = (torch.tensor(starts, dtype=torch.float64) / scale).requires_grad_(True)
        directions = torch.tensor(
            np.array([top_direction(self.net.jacobian(x)[:, free]) for x in starts])
        )
        directions = torch.zeros(starts.shape, dtype=torch.float64).index_copy(
            1, torch.nonzero(self.free).flatten(), directions
        )
        best, best_scores = starts.copy(), gradient_norms(self.net, starts, self.norm, free)
        pace = Pace(budget)
        for step, temperature in enumerate(np.geomspace(*TEMPERATURES, steps)):
            slopes = self._slopes(scale * position, temperature)
            objective = self._objective(slopes, directions)
            (gradient,) = torch.autograd.grad(objective, position)
            with torch.no_grad():
                position += temperature * normalised(gradient * self.free)
                if self.domain is not None:
                    projected = self.domain.project((scale * position).numpy())
                    position.copy_(torch.from_numpy(projected) / scale)
                if self.norm == "2":
                    directions = normalised(self._power_step(slopes, directions), directions)
            pace.lap()
            last = step == steps - 1 or not pace.fits()
            if last or step % 10 == 9:
                points = (scale * position).detach().numpy()
                found = gradient_norms(self.net, points, self.norm, free)
                better = found > best_scores
                best[better], best_scores[better] = points[better], found[better]
            if last:
                break
        return best

    def _slopes(self, x: Tensor, temperature: float) -> list[Tensor]:
        """σ' of every hidden layer at x, smoothed where it jumps (differentiable in x)."""
        parameter = self.net.activation.parameter
        slopes, h = [], x
        for W, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            z = h @ W.T + b
            scale = z.detach().abs().mean(dim=1, keepdim=True).clamp(min=1e-300)
            slopes.append(self.slope(z, torch.sigmoid(z / (temperature * scale)), parameter))
            h = self.sigma(z)
        return slopes

    def _objective(self, slopes: list[Tensor], directions: Tensor) -> Tensor:
        """Σ over starts of ‖J_τv‖₂² (ℓ2) or of the largest row ℓ1 norm of J_τ on the free
        axes (ℓ∞)."""
        if self.norm == "2":
            tangent = directions
            for W, s in zip(self.weights[:-1], slopes, strict=True):
                tangent = s * (tangent @ W.T)
            return ((tangent @ self.weights[-1].T) ** 2).sum()
        G = self.weights[-1].expand(len(directions), *self.weights[-1].shape)
        for W, s in zip(reversed(self.weights[:-1]), reversed(slopes), strict=True):
            G = (G * s[:, None, :]) @ W
        return (G[:, :, self.free].abs().sum(dim=2).amax(dim=1)).sum()

    def _power_step(self, slopes: list[Tensor], directions: Tensor) -> Tensor:
        """J_τᵀJ_τv on the free axes: one power step towards the top right singular vector."""
        tangent = directions
        for W, s in zip(self.weights[:-1], slopes, strict=True):
            tangent = s * (tangent @ W.T)
        back = tangent @ self.weights[-1].T @ self.weights[-1]
        for W, s in zip(reversed(self.weights[:-1]), reversed(slopes), strict=True):
            back = (back * s) @ W
        return back * self.free
