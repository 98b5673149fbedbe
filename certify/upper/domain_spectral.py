"""The spectral bound on a domain, from per-neuron slope intervals: neurons dead on D drop out
(the domain case of `certify.upper.spectral`).

For x, y in D, f(x) − f(y) = A·diag(q)·W·(x − y) with every slope q_i in [α_i, β_i]
(`certify.verify.propagation.slope_intervals`); on a box flat in some coordinates x − y vanishes
there, so W keeps only the columns of the free ones.  Take μ_i ≈ (α_i + β_i)/2 (any float),
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

from ..certificates import DomainSpectralCertificate
from ..estimates import finite_norm_estimate
from ..problem import Problem
from ..verify.domain_factors import combine, domain_factors
from ..verify.propagation import slope_intervals

__all__ = ["domain_bound"]


def domain_bound(problem: Problem) -> DomainSpectralCertificate:
    """min(‖A·diag(μ)·W‖₂ + split(ρ), split(γ)) from the slope intervals proven on the domain,
    the norms estimated in floating point (the checker proves them)."""
    factors = domain_factors(problem, *slope_intervals(problem.net, problem.domain))
    centre = finite_norm_estimate(factors.centre)
    spread = (finite_norm_estimate(factors.spread[0]), finite_norm_estimate(factors.spread[1]))
    whole = (finite_norm_estimate(factors.whole[0]), finite_norm_estimate(factors.whole[1]))
    value = combine(centre, spread, whole)
    return DomainSpectralCertificate(value=value, centre=centre, spread=spread, whole=whole)
