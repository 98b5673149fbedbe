"""Which ReLU neurons can be active together on an ℓ2 ball: the definition that both the
`coactivation` method (`certify.upper.coactivation`) and its checker build on.

Neurons i and j are never active together on B = B(c, r) when some λ, μ ≥ 0 make the
combination λ(w_i·x + b_i) + μ(w_j·x + b_j) negative on all of B,

    λp_i + μp_j + r‖λw_i + μw_j‖₂ < 0,    p = Wc + b,

for then at every x in B one of the two pre-activations is negative.  (For a compact convex B
and two closed half-spaces with no common point in B, such λ, μ exist: the theorem of
alternatives.)  λ ∈ [0, 1] is the best of a few candidates for the minimum of this convex
function of λ (`_Pair.minimiser`), with μ = fl(1 − λ); the proof takes λ and μ as exact and
bounds every rounding: p from `certify.verify.propagation`, ‖λw_i + μw_j‖² from the Gram
matrix WWᵀ with its error
γ_d·|W||W|ᵀ (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.5).  A neuron with
p_i + r‖w_i‖ < 0 (proven) is never active on B.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from models import TwoLayerNetwork

from ..domains import Ball
from .floating import SAFETY, TINY, gamma, upward
from .neurons import active_neurons
from .propagation import affine_enclosure, preactivation_bounds

__all__ = ["Exclusions", "live_neurons", "subnetwork"]

#: Pairs proven at once, between two looks at the clock (memory: a few arrays of this size).
_BLOCK = 1 << 20


def live_neurons(net: TwoLayerNetwork, ball: Ball) -> np.ndarray:
    """The neurons that can change f and are not proven inactive on all of ``ball``."""
    active = active_neurons(net)
    _, upper = preactivation_bounds(net, ball)
    return active[~(upper[active] < 0.0)]


def subnetwork(net: TwoLayerNetwork, neurons: np.ndarray) -> TwoLayerNetwork:
    """f restricted to the hidden ``neurons`` (the others removed, the output bias kept)."""
    neurons = np.asarray(neurons, dtype=int)
    return TwoLayerNetwork.create(
        net.W[neurons], net.A[:, neurons], net.b[neurons], net.c, net.activation
    )


class Exclusions:
    """The test for every pair of the given neurons of one net on one ball (module docstring),
    row block by row block."""

    def __init__(self, net: TwoLayerNetwork, ball: Ball, neurons: np.ndarray) -> None:
        neurons = np.asarray(neurons, dtype=int)
        W = net.W[neurons]
        self.radius = float(ball.radius)
        centre, error = affine_enclosure(W, ball.center, net.b[neurons])
        self.centre, self.centre_upper = centre, upward(centre + error)
        with np.errstate(all="ignore"):
            self.gram = W @ W.T
            self.magnitude = np.abs(W) @ np.abs(W).T
        self.squares = np.diagonal(self.gram).copy()
        self.magnitudes = np.diagonal(self.magnitude).copy()
        self.gram_error = gamma(W.shape[1] + 8)

    def matrix(self, expired: Callable[[], bool] = lambda: False) -> tuple[np.ndarray, int]:
        """Whether each pair is proven never active together on the ball (a symmetric boolean
        matrix), filled about ``_BLOCK`` pairs at a time from the diagonal on; and how many rows
        are complete (all, unless ``expired()`` turned true first: the other rows stay False)."""
        size = self.squares.size
        step = max(1, _BLOCK // max(1, size))
        apart = np.zeros((size, size), dtype=bool)
        for start in range(0, size, step):
            if expired():
                return apart, start
            stop = min(start + step, size)
            block = self.block(slice(start, stop), slice(start, size))
            apart[start:stop, start:] = block
            apart[start:, start:stop] = block.T
        return apart, size

    def block(self, rows: slice, columns: slice) -> np.ndarray:
        """The proven exclusions of the pairs (i, j), i in ``rows``, j in ``columns``."""
        pair = _Pair(
            self.squares[rows, None],
            self.squares[None, columns],
            self.gram[rows, columns],
            self.centre[rows, None],
            self.centre[None, columns],
            self.radius,
        )
        with np.errstate(all="ignore"):
            lam = pair.minimiser()
            return self._proven(rows, columns, lam)

    def _proven(self, rows: slice, columns: slice, lam: np.ndarray) -> np.ndarray:
        """Whether λp_i + μp_j + r‖λw_i + μw_j‖ < 0 is proven, μ = fl(1 − λ)."""
        mu = 1.0 - lam
        magnitudes = self.magnitudes
        squares = (lam * lam * self.squares[rows, None], mu * mu * self.squares[None, columns])
        square = squares[0] + squares[1] + 2.0 * lam * mu * self.gram[rows, columns]
        sizes = (
            lam * lam * magnitudes[rows, None]
            + mu * mu * magnitudes[None, columns]
            + 2.0 * lam * mu * self.magnitude[rows, columns]
        )
        square_upper = upward(square + 2.0 * self.gram_error * sizes * SAFETY + TINY)
        norm_upper = upward(np.sqrt(np.maximum(square_upper, 0.0)))
        parts = (lam * self.centre_upper[rows, None], mu * self.centre_upper[None, columns])
        reach = upward(self.radius * norm_upper)
        total = parts[0] + parts[1] + reach
        rounding = gamma(4) * (np.abs(parts[0]) + np.abs(parts[1]) + reach) + TINY
        return np.isfinite(total) & (upward(total + rounding) < 0.0)


class _Pair:
    """φ(λ) = λp_i + (1 − λ)p_j + r·√q(λ), q(λ) = ‖λw_i + (1 − λ)w_j‖² = Aλ² + Bλ + C, for
    arrays of pairs (floats: only λ is taken from here)."""

    def __init__(self, gii, gjj, gij, pi, pj, radius: float) -> None:
        self.A, self.B = gii + gjj - 2.0 * gij, 2.0 * (gij - gjj)
        self.C = np.broadcast_to(gjj, self.A.shape)
        self.pi, self.pj, self.radius = pi, pj, radius

    def value(self, lam: np.ndarray) -> np.ndarray:
        square = self.A * lam * lam + self.B * lam + self.C
        found = lam * self.pi + (1.0 - lam) * self.pj + self.radius * np.sqrt(np.maximum(square, 0))
        return np.where(np.isfinite(found), found, np.inf)

    def minimiser(self) -> np.ndarray:
        """λ ∈ [0, 1] nearly minimising φ: the best of 0, ½, 1 and the stationary points, where
        (2Aλ + B)/(2√q) = κ = (p_j − p_i)/r, i.e. 4A(A − κ²)λ² + 4B(A − κ²)λ + B² − 4κ²C = 0."""
        A, B, C = self.A, self.B, self.C
        kappa = (self.pj - self.pi) / self.radius
        lead = A - kappa * kappa
        a, b, c = 4.0 * A * lead, 4.0 * B * lead, B * B - 4.0 * kappa * kappa * C
        root = np.sqrt(b * b - 4.0 * a * c)
        shape = A.shape
        candidates = [np.zeros(shape), np.full(shape, 0.5), np.ones(shape)]
        candidates += [np.clip((-b + sign * root) / (2.0 * a), 0.0, 1.0) for sign in (1.0, -1.0)]
        candidates = [np.nan_to_num(lam, nan=0.5) for lam in candidates]
        best = np.argmin(np.array([self.value(lam) for lam in candidates]), axis=0)
        return np.choose(best, candidates)
