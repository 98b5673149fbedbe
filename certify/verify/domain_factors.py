"""The factors of the domain spectral bound (see `certify.upper.domain_spectral` for the
mathematics): the definition that both the method and its checker build on.

With slopes q_i ∈ [α_i, β_i] on D, midpoints μ_i, radii ρ_i ≥ max(β_i − μ_i, μ_i − α_i) and
γ_i = max(|α_i|, |β_i|): Lip_D(f) ≤ min(‖A·diag(μ)·W‖₂ + split(ρ), split(γ)) with
split(ω) = ‖A·diag(√ω)‖₂·‖diag(t)·W‖₂, t ≥ ω/√ω.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..problem import Problem
from .floating import upward
from .neurons import active_neurons
from .propagation import centres_and_radii

__all__ = ["DomainFactors", "combine", "domain_factors"]


class DomainFactors(NamedTuple):
    """The float matrices of the bound: A·diag(μ)·W and the two splits (left, right)."""

    centre: np.ndarray
    spread: tuple[np.ndarray, np.ndarray]
    whole: tuple[np.ndarray, np.ndarray]


def _split(A: np.ndarray, W: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A·diag(s) and diag(t)·W over the neurons with ω_i > 0: s = √ω, t = ω/s rounded up."""
    keep = weights > 0.0
    scale = np.sqrt(weights[keep])
    return A[:, keep] * scale, upward(weights[keep] / scale)[:, None] * W[keep]


def domain_factors(problem: Problem, alpha: np.ndarray, beta: np.ndarray) -> DomainFactors:
    """The factors for the slopes [α_i, β_i] of the active neurons (others add a constant) and
    the free axes of the domain (x − y vanishes on the others)."""
    net = problem.net
    free = np.ones(net.d, dtype=bool) if problem.domain is None else problem.domain.free_axes
    active = active_neurons(net)
    A, W = net.A[:, active], net.W[np.ix_(active, free)]
    alpha, beta = alpha[active], beta[active]
    with np.errstate(all="ignore"):
        middle, radius = centres_and_radii(alpha, beta)
        whole = np.maximum(np.abs(alpha), np.abs(beta))
        return DomainFactors((A * middle) @ W, _split(A, W, radius), _split(A, W, whole))


def combine(centre: float, spread: tuple[float, float], whole: tuple[float, float]) -> float:
    """min(‖centre‖ + ‖L_ρ‖·‖R_ρ‖, ‖L_γ‖·‖R_γ‖) from the norms of the factors (inf for NaN,
    which only 0·inf makes)."""
    candidates = np.array([centre + spread[0] * spread[1], whole[0] * whole[1]])
    return float(np.min(np.where(np.isnan(candidates), np.inf, candidates)))
