"""Spectral bounds on a domain, from per-neuron slope intervals: neurons dead on D drop out.

For x, y in D, f(x) − f(y) = A·diag(q)·W·(x − y) with every slope q_i in [α_i, β_i]
(`certify.propagation.slope_intervals`); on a box flat in some coordinates x − y vanishes there,
so W keeps only the columns of the free ones.  Take μ_i ≈ (α_i + β_i)/2 (any float),
ρ_i ≥ max(β_i − μ_i, μ_i − α_i) and γ_i = max(|α_i|, |β_i|).  For weights ω_i > 0, s_i = √ω_i
and t_i ≥ ω_i/s_i,

    split(ω) = ‖A·diag(s)‖₂·‖diag(t)·W‖₂ ≥ ‖A·diag(e)·W‖₂   whenever |e_i| ≤ ω_i,

as diag(e) = diag(s)·Δ·diag(t) with ‖Δ‖₂ ≤ 1.  So Lip_D(f) ≤ min(‖A·diag(μ)·W‖₂ + split(ρ),
split(γ)): the first is exact (ρ = 0) on a domain where no neuron switches, the second is
Theorem 5's ‖A‖₂·L_σ·‖W‖₂ with L_σ replaced by the slopes possible on D.  A bounded D gives finite
slopes to the polynomial activations of Theorems 7–8 of Bubeck, Li, Nagaraj (COLT 2021), which
have no global bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from ..evidence import Certificate
from ..methods import Budget, Kind, outside_scope, register
from ..problem import Problem
from ..propagation import slope_intervals
from ..regions import active_neurons
from ..verify.floating import upward
from ..verify.norms import spectral_norm_estimate

__all__ = [
    "DomainFactors",
    "DomainSpectral",
    "DomainSpectralCertificate",
    "combine",
    "domain_factors",
]


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
        middle = alpha / 2 + beta / 2
        radius = np.maximum(beta - middle, middle - alpha)
        radius = np.where(radius > 0.0, upward(radius), 0.0)
        whole = np.maximum(np.abs(alpha), np.abs(beta))
        return DomainFactors((A * middle) @ W, _split(A, W, radius), _split(A, W, whole))


def combine(centre: float, spread: tuple[float, float], whole: tuple[float, float]) -> float:
    """min(‖centre‖ + ‖L_ρ‖·‖R_ρ‖, ‖L_γ‖·‖R_γ‖) from the norms of the factors (inf for NaN,
    which only 0·inf makes)."""
    candidates = np.array([centre + spread[0] * spread[1], whole[0] * whole[1]])
    return float(np.min(np.where(np.isnan(candidates), np.inf, candidates)))


@dataclass(frozen=True)
class DomainSpectralCertificate(Certificate):
    """Claimed norms of the factors (estimates); the checker recomputes the slopes and proves
    upper bounds on every norm."""

    centre: float
    spread: tuple[float, float]
    whole: tuple[float, float]


@register
class DomainSpectral:
    """min(‖A·diag(μ)·W‖₂ + split(ρ), split(γ)) from slope intervals proven on the domain."""

    name: ClassVar[str] = "domain-spectral"
    kind: ClassVar[Kind] = "upper"
    default: ClassVar[bool] = True

    def why_not(self, problem: Problem) -> str | None:
        if reason := outside_scope(problem, self.kind, domain_aware=True):
            return reason
        if problem.domain is None:
            return "bounds a domain only (over all of R^d the slopes are the global sector)"
        return None

    def run(self, problem: Problem, budget: Budget) -> DomainSpectralCertificate:
        net = problem.net
        factors = domain_factors(problem, *slope_intervals(net, problem.domain))
        centre = _estimate(factors.centre)
        spread = (_estimate(factors.spread[0]), _estimate(factors.spread[1]))
        whole = (_estimate(factors.whole[0]), _estimate(factors.whole[1]))
        value = combine(centre, spread, whole)
        return DomainSpectralCertificate(value=value, centre=centre, spread=spread, whole=whole)


def _estimate(X: np.ndarray) -> float:
    """‖X‖₂ in floating point; inf when X is not finite (the slopes or products overflowed)."""
    return spectral_norm_estimate(X) if np.all(np.isfinite(X)) else np.inf
