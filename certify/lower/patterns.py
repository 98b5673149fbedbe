"""Local search over the activation patterns of a piecewise-linear network.

On the region R(s) = {x : s_i(w_i·x + b_i) > 0} the Jacobian is J(s) = A·diag(σ'(s))·W, so
Lip(f) ≥ ‖J(s)‖₂ for every pattern s with R(s) ≠ ∅.  Neurons on one hyperplane (duplicates,
or w_j = λw_i, b_j = λb_i) change sign together, so a move flips one hyperplane: with unit
normal n, J changes by the rank-one u·nᵀ, and all moves are scored at once through
(J + unᵀ)(J + unᵀ)ᵀ = JJᵀ + u(Jn)ᵀ + (Jn)uᵀ + uuᵀ.  A move is accepted only if the
Chebyshev-centre LP of `certify.regions` finds a ball of radius ≥ ``_MIN_RADIUS`` (in units of
the length scale) in the new region (found by constraint generation, so large networks solve
small LPs); the claim is the centre of the best region reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from models import TwoLayerNetwork

from ..evidence import PointWitness
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..regions import active_neurons, chebyshev_center
from ..scope import Scope
from .search import gradient_norms, length_scales, sample

__all__ = ["PatternSearch"]

#: Smallest Chebyshev radius (relative to the length scale) of a region the search accepts.
_MIN_RADIUS = 1e-6
#: A move must raise ‖J‖₂ by this relative amount.
_MIN_GAIN = 1e-12


@dataclass(frozen=True)
class _Hyperplanes:
    """The distinct hyperplanes of the active neurons, lengths in units of the scale L.

    ``rows``/``biases``: each neuron's hyperplane {x : rows_i·x/L + biases_i = 0} with a unit
    normal, as the LP takes it; ``group[i]``: the index of neuron i's hyperplane, whose unit
    normal is ``normals[group[i]]``; ``orientation[i]``: the ±1 with
    w_i = orientation_i·‖w_i‖·normals[group[i]].
    """

    scale: float
    normals: np.ndarray
    group: np.ndarray
    orientation: np.ndarray
    rows: np.ndarray
    biases: np.ndarray

    @classmethod
    def of(cls, W: np.ndarray, b: np.ndarray, scale: float) -> _Hyperplanes:
        lengths = np.linalg.norm(W, axis=1)
        rows, biases = W / lengths[:, None], b / (lengths * scale)
        leading = rows[np.arange(len(rows)), np.argmax(np.abs(rows) > 0, axis=1)]
        orientation = np.sign(leading)
        canonical = np.column_stack([rows, biases]) * orientation[:, None]
        _, first, group = np.unique(
            np.round(canonical, 12), axis=0, return_index=True, return_inverse=True
        )
        normals = canonical[first, :-1]
        return cls(scale, normals, group.ravel(), orientation, rows, biases)


@register
@dataclass
class PatternSearch:
    """Hill climbing over realisable activation patterns, from the best sampled points.

    ``starts`` distinct patterns of the best of ``samples`` random points seed the climbs;
    each step tries at most ``tries`` improving moves (best first) before it stops.
    """

    name: ClassVar[str] = "patterns"
    kind: ClassVar[Kind] = "lower"

    samples: int = 1000
    starts: int = 8
    tries: int = 64

    scope: ClassVar[Scope] = Scope.of(piecewise_linear_only=True)

    def why_not(self, problem: Problem) -> str | None:
        return self.scope.why_not(problem, upper=False)

    def run(self, problem: Problem, budget: Budget) -> PointWitness:
        net = problem.net
        rng = np.random.default_rng(budget.seed)
        points, norms = sample(net, self.samples, rng, budget, length_scales(net))
        best_point = points[int(np.argmax(norms))]
        active = active_neurons(net)
        if active.size:
            search = _Climb(net, active, self.tries, budget)
            for signs, start in _distinct_patterns(net, active, points, norms, self.starts):
                search.climb(signs, start)
                if budget.expired():
                    break
            best_point = search.best_point(best_point)
        return PointWitness(max(float(gradient_norms(net, best_point)[0]), 0.0), best_point)


def _distinct_patterns(
    net: TwoLayerNetwork, active: np.ndarray, points: np.ndarray, norms: np.ndarray, count: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sign patterns (±1 on the active neurons) of the best points, best first, without repeats,
    each with its point."""
    signs = np.where(net.preactivation(points)[:, active] > 0, 1.0, -1.0)
    _, first = np.unique(signs, axis=0, return_index=True)
    best_first = first[np.argsort(-norms[first], kind="stable")][:count]
    return [(signs[i], points[i]) for i in best_first]


class _Climb:
    """Greedy ascent over realisable patterns, remembering the best region it reached."""

    def __init__(
        self, net: TwoLayerNetwork, active: np.ndarray, tries: int, budget: Budget
    ) -> None:
        self.W, self.b, self.A = net.W[active], net.b[active], net.A[:, active]
        self.planes = _Hyperplanes.of(self.W, self.b, max(length_scales(net)))
        slopes = net.activation.derivative(np.array([-1.0, 1.0]))
        self.slope_down, self.slope_up = float(slopes[0]), float(slopes[1])
        self.tries, self.budget = tries, budget
        self.best_value, self.best_center = -np.inf, None

    def best_point(self, fallback: np.ndarray) -> np.ndarray:
        """The centre of the best region reached (``fallback`` when none was)."""
        return fallback if self.best_center is None else self.best_center

    def climb(self, signs: np.ndarray, start: np.ndarray) -> None:
        """Climb from ``signs`` (a pattern near the point ``start``) until no improving move is
        realisable or the budget ends."""
        center = self._center(signs, start)
        while center is not None and not self.budget.expired():
            value = self._value(signs)
            if value > self.best_value:
                self.best_value, self.best_center = value, center
            signs, center = self._move(signs, value, center)

    def _move(
        self, signs: np.ndarray, value: float, center: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The best realisable improving neighbour of ``signs`` and its centre (None if none)."""
        scores = self._neighbour_values(signs)
        improving = np.flatnonzero(scores > value * (1.0 + _MIN_GAIN))
        for g in improving[np.argsort(-scores[improving], kind="stable")][: self.tries]:
            flipped = np.where(self.planes.group == g, -signs, signs)
            new_center = self._center(flipped, center)
            if new_center is not None:
                return flipped, new_center
            if self.budget.expired():
                break
        return signs, None

    def _jacobian(self, signs: np.ndarray) -> np.ndarray:
        return (self.A * np.where(signs > 0, self.slope_up, self.slope_down)) @ self.W

    def _value(self, signs: np.ndarray) -> float:
        return float(np.linalg.norm(self._jacobian(signs), ord=2))

    def _neighbour_values(self, signs: np.ndarray) -> np.ndarray:
        """‖J‖₂ after flipping each hyperplane, from the rank-one Gram update."""
        planes = self.planes
        jump = np.where(signs > 0, self.slope_down - self.slope_up, self.slope_up - self.slope_down)
        weights = jump * planes.orientation * np.linalg.norm(self.W, axis=1)
        U = np.zeros((self.A.shape[0], len(planes.normals)))
        np.add.at(U.T, planes.group, (self.A * weights).T)
        J = self._jacobian(signs)
        JN = J @ planes.normals.T
        cross = U.T[:, :, None] * JN.T[:, None, :]
        gram = J @ J.T + cross + cross.transpose(0, 2, 1) + U.T[:, :, None] * U.T[:, None, :]
        return np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[:, -1], 0.0))

    def _center(self, signs: np.ndarray, near: np.ndarray) -> np.ndarray | None:
        """A point robustly inside the region of ``signs``, or None if none was found.

        Constraint generation: the LP starts with the 2d + 8 hyperplanes closest to ``near``
        and adds those its centre comes within half a radius of, until there are none.  A
        subset of the constraints describes a larger region, so a radius below
        ``_MIN_RADIUS`` on a subset is one on the whole region too.
        """
        planes = self.planes
        margins = signs * (planes.rows @ (near / planes.scale) + planes.biases)
        working = np.argsort(np.abs(margins), kind="stable")[: 2 * self.W.shape[1] + 8]
        while True:
            lp = chebyshev_center(
                planes.rows[working],
                planes.biases[working],
                signs[working],
                time_limit=self.budget.remaining(),
            )
            if lp is None or lp.radius < _MIN_RADIUS:
                return None
            margins = signs * (planes.rows @ lp.center + planes.biases)
            cut = np.setdiff1d(np.flatnonzero(margins < 0.5 * lp.radius), working)
            if cut.size == 0:
                break
            working = np.union1d(working, cut)
        center = lp.center * planes.scale
        return center if np.all(signs * (self.W @ center + self.b) > 0) else None
