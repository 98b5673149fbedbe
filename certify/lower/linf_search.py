"""Lower bounds on Lip∞: points where the largest row ℓ1 norm of the Jacobian is large.

Wherever f is differentiable, Lip∞(f) ≥ ‖J(x)‖_{∞→∞} = max_j ‖∇f_j(x)‖₁, and for signs u ∈ {±1}^d

    ‖∇f_j(x)‖₁ ≥ u·∇f_j(x) = Σ_i A_ji (w_i·u) σ'(w_i·x + b_i),

with equality for u = sign ∇f_j(x).  The search alternates the two maximisations.  From the best
(point, output) pairs of random points at the network's length scales and at 100 times the largest
(where the patterns are those of unbounded regions, often the steepest), it ascends in x
the smoothed objective with σ' replaced by the central difference (σ(z + t) − σ(z − t))/(2t),
whose derivative is (σ'(z + t) − σ'(z − t))/(2t) for every activation; t = τ·r·‖w_i‖ shrinks with
τ (r: the norm of the start), and normalised steps have length τ·r.  Every tenth step u is reset
to the signs of the true gradient and the best point kept by the true objective.  For piecewise
linear σ each distinct (pattern, output) pair reached then climbs: single-neuron flips that raise
‖∇f_j‖₁ (scored exactly, from the rank-one change of ∇f_j) are accepted once the Chebyshev-centre
LP of `certify.regions` finds the new region non-empty, and a climb ends at the centre of its last
region, away from every kink.  Only the true ‖J(x)‖_{∞→∞} of the point is claimed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import TwoLayerNetwork

from ..evidence import PointWitness
from ..methods import Budget
from ..problem import Problem
from ..regions import active_neurons, chebyshev_center
from ..threads import single_threaded
from .search import FAR, length_scales
from .smoothing import TEMPERATURES

__all__ = ["LinfAscent", "row_norms"]

#: τ falls geometrically from the first to the last over the steps of an ascent.
#: Smallest Chebyshev radius (relative to the length scale) of a region the climb accepts.
_MIN_RADIUS = 1e-6
#: A flip must raise ‖∇f_j‖₁ by this relative amount.
_MIN_GAIN = 1e-12
#: Largest number of float64 entries one batch of Jacobians may hold.
_BATCH_ENTRIES = 1 << 21


def row_norms(net: TwoLayerNetwork, X: np.ndarray) -> np.ndarray:
    """‖∇f_j(x)‖₁ for every row x of X and output j (n×m; −inf where not finite)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    rows = max(1, _BATCH_ENTRIES // (net.m * max(net.k, net.d)))
    parts = []
    with np.errstate(all="ignore"):
        for start in range(0, len(X), rows):
            slopes = net.activation.derivative(net.preactivation(X[start : start + rows]))
            jacobians = (slopes[:, None, :] * net.A[None]) @ net.W
            parts.append(np.abs(jacobians).sum(axis=2))
    norms = np.concatenate(parts)
    return np.where(np.isfinite(norms), norms, -np.inf)


@dataclass
class LinfAscent:
    """Best max_j ‖∇f_j(x)‖₁ over smoothed ascents (and pattern climbs, for piecewise-linear σ).

    Each round draws ``samples`` random multi-scale points and ascends the ``restarts`` best
    (point, output) pairs for ``steps`` steps (in at most half the time left); the climbs try at
    most ``tries`` flips per move.  Rounds repeat (at most ``max_rounds``) while the budget lasts.
    """

    samples: int = 1000
    restarts: int = 16
    steps: int = 1000
    tries: int = 16
    max_rounds: int = 100

    def why_not(self, problem: Problem) -> str | None:
        return None

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        net = problem.net
        rng = np.random.default_rng(budget.seed)
        active = active_neurons(net)
        best_point, best_value = np.zeros(net.d), -np.inf
        with single_threaded():
            for _ in range(self.max_rounds):
                point, value = self._round(net, active, rng, budget)
                if value > best_value:
                    best_point, best_value = point, value
                if budget.expired():
                    break
        return PointWitness(max(best_value, 0.0), best_point)

    def _round(
        self, net: TwoLayerNetwork, active: np.ndarray, rng: np.random.Generator, budget: Budget
    ) -> tuple[np.ndarray, float]:
        """One round: starts, an ascent of at most half the time left, then the climbs; the best
        point reached and its max_j ‖∇f_j‖₁."""
        points, outputs = self._starts(net, rng)
        if active.size:
            share = Budget(seconds=budget.remaining() / 2)
            points, outputs = _ascend(net, active, points, outputs, self.steps, share)
        values = row_norms(net, points)[np.arange(len(points)), outputs]
        order = np.argsort(-values, kind="stable")
        best_point, best_value = points[order[0]], float(values[order[0]])
        if net.activation.piecewise_linear and active.size:
            points, outputs = points[order], outputs[order]
            for start in _distinct_patterns(net, active, points, outputs):
                climb = _Climb(net, active, int(outputs[start]), self.tries, budget)
                point = climb.run(points[start])
                value = float(np.max(row_norms(net, point)))
                if value > best_value:
                    best_point, best_value = point, value
                if budget.expired():
                    break
        return best_point, best_value

    def _starts(
        self, net: TwoLayerNetwork, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``restarts`` best (point, output) pairs of ``samples`` random points, whose radii
        cycle through the network's length scales."""
        scales = length_scales(net)
        radii = np.resize(np.asarray([*scales, FAR * max(scales)]), self.samples)
        points = rng.standard_normal((self.samples, net.d)) * (radii / np.sqrt(net.d))[:, None]
        norms = row_norms(net, points)
        best = np.argsort(-norms, axis=None, kind="stable")[: self.restarts]
        rows, outputs = np.unravel_index(best, norms.shape)
        return points[rows], outputs


def _ascend(
    net: TwoLayerNetwork,
    active: np.ndarray,
    starts: np.ndarray,
    outputs: np.ndarray,
    steps: int,
    budget: Budget,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed ascent of u·∇f_j(x) from each start (module docstring); returns each start's best
    iterate by the true ‖∇f_j(x)‖₁, with its output j."""
    W, b, A = net.W[active], net.b[active], net.A[outputs][:, active]
    lengths = np.linalg.norm(W, axis=1)
    radius = np.linalg.norm(starts, axis=1)
    radius = np.maximum(radius, 1e-3 * max(float(np.max(radius)), 1e-300))[:, None]
    derivative = net.activation.derivative
    rows = np.arange(len(starts))
    X, best = starts.copy(), starts.copy()
    best_values = row_norms(net, starts)[rows, outputs]
    signs = _signs(net, X, outputs)
    with np.errstate(all="ignore"):
        for step, temperature in enumerate(np.geomspace(*TEMPERATURES, steps)):
            Z = X @ W.T + b
            width = temperature * radius * lengths
            curvature = (derivative(Z + width) - derivative(Z - width)) / (2.0 * width)
            gradient = (A * (signs @ W.T) * curvature) @ W
            norms = np.linalg.norm(gradient, axis=1, keepdims=True)
            usable = np.isfinite(norms) & (norms > 0)
            move = temperature * radius * gradient / np.where(usable, norms, 1.0)
            X = X + np.where(usable, move, 0.0)
            if step % 10 == 9 or step == steps - 1 or budget.expired():
                values = row_norms(net, X)[rows, outputs]
                better = values > best_values
                best[better], best_values[better] = X[better], values[better]
                signs = _signs(net, X, outputs, signs)
                if budget.expired():
                    break
    return best, outputs


def _distinct_patterns(
    net: TwoLayerNetwork, active: np.ndarray, points: np.ndarray, outputs: np.ndarray
) -> np.ndarray:
    """Indices of the first point of each distinct (pattern, output) pair, in order."""
    keys = np.column_stack([net.preactivation(points)[:, active] > 0, outputs])
    _, first = np.unique(keys, axis=0, return_index=True)
    return np.sort(first)


def _signs(
    net: TwoLayerNetwork, X: np.ndarray, outputs: np.ndarray, previous: np.ndarray | None = None
) -> np.ndarray:
    """The signs of ∇f_j(x) for each row x and its output j (the previous sign, or +1, where a
    component vanishes or is not finite)."""
    with np.errstate(all="ignore"):
        slopes = net.activation.derivative(net.preactivation(X))
        gradients = (net.A[outputs] * slopes) @ net.W
    fallback = np.ones_like(gradients) if previous is None else previous
    usable = np.isfinite(gradients) & (gradients != 0)
    return np.where(usable, np.sign(np.where(usable, gradients, 1.0)), fallback)


class _Climb:
    """Greedy ascent of ‖∇f_j‖₁ over realisable activation patterns of a piecewise-linear net."""

    def __init__(
        self, net: TwoLayerNetwork, active: np.ndarray, output: int, tries: int, budget: Budget
    ) -> None:
        W, b = net.W[active], net.b[active]
        lengths = np.linalg.norm(W, axis=1)
        self.scale = max(length_scales(net))
        self.rows, self.biases = W / lengths[:, None], b / (lengths * self.scale)
        negative, positive = net.activation.derivative(np.array([-1.0, 1.0]))
        self.negative, self.positive = float(negative), float(positive)
        self.terms = net.A[output, active][:, None] * W
        self.W, self.b = W, b
        self.tries, self.budget = tries, budget

    def run(self, start: np.ndarray) -> np.ndarray:
        """The centre of the last region the climb from ``start``'s pattern reaches (``start``
        itself when no region around it is found)."""
        signs = np.where(self.W @ start + self.b > 0, 1.0, -1.0)
        center = self._center(signs)
        if center is None:
            return start
        while not self.budget.expired():
            moved = self._move(signs)
            if moved is None:
                break
            signs, center = moved
        return center

    def _move(self, signs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The best realisable improving single flip of ``signs`` and its region's centre."""
        gradient = np.where(signs > 0, self.positive, self.negative) @ self.terms
        jumps = np.where(signs > 0, self.negative - self.positive, self.positive - self.negative)
        values = np.abs(gradient + jumps[:, None] * self.terms).sum(axis=1)
        improving = np.flatnonzero(values > np.abs(gradient).sum() * (1.0 + _MIN_GAIN))
        for i in improving[np.argsort(-values[improving], kind="stable")][: self.tries]:
            flipped = signs.copy()
            flipped[i] = -flipped[i]
            center = self._center(flipped)
            if center is not None:
                return flipped, center
            if self.budget.expired():
                break
        return None

    def _center(self, signs: np.ndarray) -> np.ndarray | None:
        """The Chebyshev centre of the region of ``signs``, when its radius is at least
        ``_MIN_RADIUS`` length scales and the float signs there agree."""
        lp = chebyshev_center(self.rows, self.biases, signs, time_limit=self.budget.remaining())
        if lp is None or lp.radius < _MIN_RADIUS:
            return None
        center = lp.center * self.scale
        return center if np.all(signs * (self.W @ center + self.b) > 0) else None
