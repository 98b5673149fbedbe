"""Which ReLU neurons can be active together on an ℓ2 ball: the definition that both the
`coactivation` method (`certify.upper.coactivation`) and its checker build on.

Neurons i and j are never active together on B = B(c, r) when some λ, μ ≥ 0 make the
combination λ(w_i·x + b_i) + μ(w_j·x + b_j) negative on all of B,

    λp_i + μp_j + r‖λw_i + μw_j‖₂ < 0,    p = Wc + b,

for then at every x in B one of the two pre-activations is negative.  (For a compact convex B
and two closed half-spaces with no common point in B, such λ, μ exist: the theorem of
alternatives.)  λ ∈ [0, 1] is the best of a few candidates for the minimum of this convex
function of λ (`Exclusions.search`), with μ = fl(1 − λ); the proof takes λ and μ as exact and
bounds every rounding: p from `certify.verify.propagation`, ‖λw_i + μw_j‖² from the Gram
matrix WWᵀ with its error
γ_d·|W||W|ᵀ (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.5).  A neuron with
p_i + r‖w_i‖ < 0 (proven) is never active on B.
"""

from __future__ import annotations

import numpy as np

from models import TwoLayerNetwork

from ..domains import Ball
from .floating import SAFETY, TINY, gamma, upward
from .neurons import active_neurons
from .propagation import affine_enclosure, preactivation_bounds

__all__ = ["Exclusions", "live_neurons", "subnetwork"]

#: Pairs tested at once (memory: a few arrays of this many floats).
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
    """The test for every pair of neurons of one net on one ball (module docstring)."""

    def __init__(self, net: TwoLayerNetwork, ball: Ball) -> None:
        W = net.W
        self.radius = float(ball.radius)
        centre, error = affine_enclosure(W, ball.center, net.b)
        self.centre, self.centre_upper = centre, upward(centre + error)
        with np.errstate(all="ignore"):
            self.gram = W @ W.T
            self.magnitude = np.abs(W) @ np.abs(W).T
        self.gram_error = gamma(W.shape[1] + 8)

    def search(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """λ ∈ [0, 1] nearly minimising φ(λ) = λp_i + (1 − λ)p_j + r·√q(λ), q(λ) = ‖λw_i +
        (1 − λ)w_j‖² = Aλ² + Bλ + C: the best of 0, ½, 1 and the stationary points, where
        (2Aλ + B)/(2√q) = κ = (p_j − p_i)/r, i.e. 4A(A − κ²)λ² + 4B(A − κ²)λ + B² − 4κ²C = 0."""
        G, p = self.gram, self.centre
        gii, gjj, gij, pi, pj = G[i, i], G[j, j], G[i, j], p[i], p[j]
        A, B, C = gii + gjj - 2.0 * gij, 2.0 * (gij - gjj), gjj
        kappa = (pj - pi) / self.radius
        lead = A - kappa * kappa
        a, b, c = 4.0 * A * lead, 4.0 * B * lead, B * B - 4.0 * kappa * kappa * C
        root = np.sqrt(b * b - 4.0 * a * c)
        candidates = [np.zeros(i.shape), np.full(i.shape, 0.5), np.ones(i.shape)]
        candidates += [np.clip((-b + sign * root) / (2.0 * a), 0.0, 1.0) for sign in (1.0, -1.0)]

        def value(lam: np.ndarray) -> np.ndarray:
            mu = 1.0 - lam
            found = (
                lam * pi
                + mu * pj
                + self.radius * np.sqrt(np.maximum(A * lam * lam + B * lam + C, 0.0))
            )
            return np.where(np.isfinite(found), found, np.inf)

        values = np.array([value(lam) for lam in candidates])
        best = np.argmin(values, axis=0)
        return np.choose(best, [np.nan_to_num(lam, nan=0.5) for lam in candidates])

    def proven_negative(self, i: np.ndarray, j: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """Whether λp_i + μp_j + r‖λw_i + μw_j‖ < 0 is proven, μ = fl(1 − λ)."""
        mu = 1.0 - lam
        G, M = self.gram, self.magnitude
        with np.errstate(all="ignore"):
            terms = (lam * lam * G[i, i], mu * mu * G[j, j], 2.0 * lam * mu * G[i, j])
            sizes = lam * lam * M[i, i] + mu * mu * M[j, j] + 2.0 * lam * mu * M[i, j]
            square = terms[0] + terms[1] + terms[2]
            square_upper = upward(square + 2.0 * self.gram_error * sizes * SAFETY + TINY)
            norm_upper = upward(np.sqrt(np.maximum(square_upper, 0.0)))
            parts = (lam * self.centre_upper[i], mu * self.centre_upper[j])
            reach = upward(self.radius * norm_upper)
            total = parts[0] + parts[1] + reach
            rounding = gamma(4) * (np.abs(parts[0]) + np.abs(parts[1]) + reach) + TINY
            return np.isfinite(total) & (upward(total + rounding) < 0.0)

    def proven(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """For each pair (i_t, j_t), whether neurons i_t and j_t are proven never active
        together on the ball."""
        i, j = np.asarray(i, dtype=int), np.asarray(j, dtype=int)
        found = np.zeros(i.shape, dtype=bool)
        # Both active at the centre: certainly not exclusive, nothing to search.
        open_pairs = np.flatnonzero(~((self.centre[i] >= 0.0) & (self.centre[j] >= 0.0)))
        with np.errstate(all="ignore"):
            for start in range(0, open_pairs.size, _BLOCK):
                part = open_pairs[start : start + _BLOCK]
                lam = self.search(i[part], j[part])
                found[part] = self.proven_negative(i[part], j[part], lam)
        return found
