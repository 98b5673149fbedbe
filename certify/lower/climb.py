"""Rounding the semidefinite relaxation of max ‖J_s‖₂ to realisable activation patterns: the
search of `sdp-rounding`, which `exact` also runs to seed its bound.

Every pattern s has J_s = G₀ + Σ_j e_j·a_j w_jᵀ with e_j = σ'(s_j) − μ = ±h, and the relaxation of
`certify.upper.subtree` (solved by its power method) gives a matrix Y (d × r).  As in
Goemans–Williamson rounding (JACM 42, 1995), a random direction v = Yz (z Gaussian) with
u = G₀v/‖G₀v‖ picks the signs e_j = h·sign((u·a_j)(w_j·v)), which maximise uᵀJ_s v over all
patterns; alternating with the top singular pair (u, v) of J_s improves the pattern further.

A pattern counts only where its region R(s) = {x : s_j(w_j·x + b_j) > 0} is non-empty.  The
weighted-violation LP (unit rows ŵ_j, b̂_j; margin δ)

    minimise Σ_j ω_j ξ_j  subject to  s_j(ŵ_j·x + b̂_j) + ξ_j ≥ δ,  ξ ≥ 0,

returns a point x, whose own pattern is realised, that keeps the signs with the largest weights
ω_j = |σ'₊ − σ'₋|·|u·a_j|·|w_j·v| (what uᵀJv loses when s_j flips).  The local search then
proposes, from the pattern at x, the best pattern for the top singular pair of J(x) and the single
flips that raise ‖J_s‖₂, best first; it tries each at the point reached from x by the least-norm
step that mirrors the pre-activations to flip, then the first few by the LP, and moves when
‖J(x)‖₂ grows.  Only the best point is claimed; `certify.verify` proves ‖J(x)‖₂.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse
from scipy.optimize import linprog

from models import TwoLayerNetwork

from ..estimates import top_direction
from ..evidence import PointWitness
from ..methods import Budget
from ..regions import active_neurons
from ..threads import single_threaded
from ..upper.subtree import SubtreeBound
from .search import length_scales

__all__ = ["rounded_climb"]

#: Margin δ of the realising LP, relative to the network's length scale.
_MARGIN = 1e-3
#: A move must raise ‖J‖₂ by this relative amount.
_MIN_GAIN = 1e-12
#: Alternations between a pattern and the top singular pair of its Jacobian, at most.
_ALTERNATIONS = 50
#: Power steps between checks of the budget and of convergence.
_CHUNK = 10
#: The power method stops once a chunk of steps raises φ by less than this relative amount.
_CONVERGED = 1e-6


def rounded_climb(
    net: TwoLayerNetwork,
    budget: Budget,
    rank: int = 32,
    steps: int = 100,
    roundings: int = 64,
    starts: int = 16,
    tries: int = 8,
) -> PointWitness:
    """The best realised point found: the relaxation's iterate has ``rank`` columns and takes
    ``steps`` power steps; ``roundings`` random directions give patterns, whose ``starts`` best
    distinct ones seed the climbs; each climbing step tries at most ``tries`` moves."""
    active = active_neurons(net)
    if active.size == 0:
        return PointWitness(0.0, np.zeros(net.d))
    with single_threaded():
        search = _Climb(net, active, budget)
        for target in search.targets(rank, steps, roundings)[:starts]:
            search.climb(target, tries)
            if budget.expired():
                break
    if search.best_point is None:
        return PointWitness(0.0, np.zeros(net.d))
    return PointWitness(search.best_value, search.best_point)


class _Climb:
    """The patterns, LPs and best point of one `rounded_climb` (active neurons only)."""

    def __init__(self, net: TwoLayerNetwork, active: np.ndarray, budget: Budget) -> None:
        self.A, self.W, self.b = net.A[:, active], net.W[active], net.b[active]
        self.budget = budget
        self.bound = SubtreeBound(net, active)
        lengths = np.linalg.norm(self.W, axis=1)
        self.unit_W, self.unit_b = self.W / lengths[:, None], self.b / lengths
        self.margin = _MARGIN * max(length_scales(net))
        self.jump = abs(self.bound.positive - self.bound.negative)
        self.rng = np.random.default_rng(budget.seed)
        self.best_value, self.best_point = -math.inf, None

    def targets(self, rank: int, steps: int, count: int) -> list[np.ndarray]:
        """Distinct patterns from ``count`` roundings, each alternated to a fixed point, best
        (largest ‖J_s‖₂, realisable or not) first."""
        centre = self.bound.centre(())
        iterate = self.bound.start(centre, 0, min(rank, self.W.shape[1]), self.rng)
        value = 0.0
        for _ in range(0, steps, _CHUNK):
            previous = value
            iterate, value = self.bound.ascend(centre, 0, iterate, _CHUNK)
            if value <= previous * (1.0 + _CONVERGED) or self.budget.expired():
                break
        Y = iterate.right
        rounded = {}
        for z in self.rng.standard_normal((count, Y.shape[1])):
            if rounded and self.budget.expired():
                break
            v = Y @ z
            image = centre @ v
            u = image / np.linalg.norm(image) if np.any(image) else np.eye(len(image))[0]
            signs = self._aligned(u, v)
            rounded[signs.tobytes()] = signs
        found = {}
        for signs in rounded.values():
            for pattern in (signs, self._alternated(signs)):
                found[pattern.tobytes()] = (self._norm(pattern), pattern)
        return [signs for _, signs in sorted(found.values(), key=lambda pair: -pair[0])]

    def climb(self, target: np.ndarray, tries: int) -> None:
        """Realise ``target``, then move while a proposed pattern realises a larger ‖J‖₂."""
        u, v = self._pair(target)
        point = self._realise(target, self._weights(u, v))
        while point is not None and not self.budget.expired():
            signs = np.where(self.W @ point + self.b > 0, 1, -1)
            value = self._norm(signs)
            if value > self.best_value:
                self.best_value, self.best_point = value, point
            point = self._move(point, signs, value, tries)

    def _move(
        self, point: np.ndarray, signs: np.ndarray, value: float, tries: int
    ) -> np.ndarray | None:
        """A point with larger ‖J‖₂ for a proposed pattern: first the shifted points of all the
        proposals, then the LP points of the first ``tries`` (None when none is larger)."""
        u, v = self._pair(signs)
        proposals = self._proposals(signs, u, v)
        for target in proposals:
            shifted = self._shifted(point, target)
            if shifted is not None and self._norm_at(shifted) > value * (1.0 + _MIN_GAIN):
                return shifted
            if self.budget.expired():
                return None
        weights = self._weights(u, v)
        for target in proposals[:tries]:
            forced = np.where(target != signs, np.sum(weights), weights)
            point = self._realise(target, forced)
            if point is not None and self._norm_at(point) > value * (1.0 + _MIN_GAIN):
                return point
            if self.budget.expired():
                break
        return None

    def _shifted(self, point: np.ndarray, target: np.ndarray) -> np.ndarray | None:
        """``point`` moved by the least-norm step that mirrors w_j·x + b_j for every neuron j
        on the wrong side of ``target`` (None if a pre-activation vanishes there)."""
        values = self.W @ point + self.b
        wrong = np.flatnonzero(np.where(values > 0, 1, -1) != target)
        step = np.linalg.lstsq(self.W[wrong], -2.0 * values[wrong], rcond=None)[0]
        shifted = point + step
        return shifted if np.all(self.W @ shifted + self.b != 0) else None

    def _proposals(self, signs: np.ndarray, u: np.ndarray, v: np.ndarray) -> list[np.ndarray]:
        """The best pattern for (u, v), then the single flips that raise ‖J_s‖₂, best first."""
        aligned = self._alternated(self._aligned(u, v))
        proposals = [] if np.array_equal(aligned, signs) else [aligned]
        values = self._flipped_norms(signs)
        better = np.flatnonzero(values > self._norm(signs) * (1.0 + _MIN_GAIN))
        for j in better[np.argsort(-values[better], kind="stable")]:
            flipped = signs.copy()
            flipped[j] = -flipped[j]
            proposals.append(flipped)
        return proposals

    def _flipped_norms(self, signs: np.ndarray) -> np.ndarray:
        """‖J_s + δ_j·a_j w_jᵀ‖₂ for the flip of each neuron j (δ_j its change of slope), from
        the m × m Gram matrices JJᵀ + δ_j(a_jgᵀ + g a_jᵀ) + δ_j²‖w_j‖²·a_j a_jᵀ, g = J w_j."""
        J = self._jacobian(signs)
        jumps = np.where(signs > 0, -1.0, 1.0) * (self.bound.positive - self.bound.negative)
        images = self.W @ J.T
        cross = (jumps[:, None] * self.A.T)[:, :, None] * images[:, None, :]
        lengths = jumps**2 * np.sum(self.W**2, axis=1)
        outer = lengths[:, None, None] * self.A.T[:, :, None] * self.A.T[:, None, :]
        grams = J @ J.T + cross + cross.transpose(0, 2, 1) + outer
        return np.sqrt(np.maximum(np.linalg.eigvalsh(grams)[:, -1], 0.0))

    def _leverage(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """(u·a_j)(w_j·v): the rate of change of uᵀJv in e_j."""
        return (u @ self.A) * (self.W @ v)

    def _lean(self, signs: np.ndarray) -> np.ndarray:
        """The sign of e_j = σ'(s_j) − μ for each neuron."""
        return signs if self.bound.positive >= self.bound.negative else -signs

    def _aligned(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The pattern maximising uᵀJ_s v: e_j of the sign of (u·a_j)(w_j·v)."""
        lean = np.where(self._leverage(u, v) >= 0, 1, -1)
        return self._lean(lean)

    def _alternated(self, signs: np.ndarray) -> np.ndarray:
        """Alternate pattern → top singular pair → aligned pattern until it repeats."""
        for _ in range(_ALTERNATIONS):
            aligned = self._aligned(*self._pair(signs))
            if np.array_equal(aligned, signs):
                break
            signs = aligned
        return signs

    def _jacobian(self, signs: np.ndarray) -> np.ndarray:
        slopes = np.where(signs > 0, self.bound.positive, self.bound.negative)
        return (self.A * slopes) @ self.W

    def _norm(self, signs: np.ndarray) -> float:
        return float(np.linalg.norm(self._jacobian(signs), 2))

    def _norm_at(self, point: np.ndarray) -> float:
        return self._norm(np.where(self.W @ point + self.b > 0, 1, -1))

    def _pair(self, signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The top singular pair (u, v) of J_s (v = e₁, u = J_s v when J_s vanishes)."""
        J = self._jacobian(signs)
        v = top_direction(J)
        image = J @ v
        norm = float(np.linalg.norm(image))
        return (image / norm if norm > 0 else np.eye(J.shape[0])[0]), v

    def _weights(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """ω_j, with a floor so that every sign has some weight."""
        weights = self.jump * np.abs(self._leverage(u, v))
        return weights + 1e-6 * float(np.max(weights, initial=0.0)) + 1e-300

    def _realise(self, target: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
        """The weighted-violation LP's point, if HiGHS solves it and no pre-activation vanishes
        there (in floating point)."""
        k, d = self.W.shape
        constraints = scipy.sparse.hstack(
            [
                scipy.sparse.csr_matrix(-target[:, None] * self.unit_W),
                -scipy.sparse.identity(k, format="csr"),
            ]
        )
        result = linprog(
            np.concatenate([np.zeros(d), weights]),
            A_ub=constraints,
            b_ub=target * self.unit_b - self.margin,
            bounds=[(None, None)] * d + [(0.0, None)] * k,
            method="highs",
            options={"time_limit": max(self.budget.remaining(), 1e-3)},
        )
        if result.status != 0:
            return None
        point = result.x[:d]
        return point if np.all(self.W @ point + self.b != 0) else None
