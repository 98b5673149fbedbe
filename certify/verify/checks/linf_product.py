"""Checker for the closed-form ℓ∞ bounds: every row bound evaluated with proven rounding bounds.

Two layers (`certify.verify.layer_factors`): for the row a = A[j], a′_i = fl(a_i·μ_i) (one
rounding), g = Wᵀ(a∘μ), T′ = Σ_i |a′_i|·‖w_i‖₁ and S = Σ_i h_i·|a_i|·‖w_i‖₁.  Sums of d + k + 1
non-negative roundings satisfy fl(T) ≥ (1 − γ_{d+k+1})·T − TINY (Higham, *Accuracy and Stability
of Numerical Algorithms*, §3.1–3.4), so T ≤ (fl(T) + TINY)/(1 − γ_{d+k+1}).  Each computed
g̃_l = fl(Wᵀa′)_l errs from g_l by at most γ_k·Σ_i|a′_i||W_il| + u·Σ_i|a_iμ_i||W_il| plus
underflow, whose sum over l is at most γ_{k+1}·T′, so ‖g‖₁ ≤ (fl(Σ_l |g̃_l|) + TINY)/(1 − γ_d) +
γ_{k+1}·T′ + TINY.  The bound max_j ‖g‖₁ + S is evaluated in ball arithmetic.

Deep nets: v_0 = 1, v_l = diag(γ_l)·|W_l|·v_{l−1} (γ_L = 1) has non-negative terms only, so the
exact product is at most fl(|W_l|·ṽ)·(1 + 2γ_{n+2}) plus underflow for any ṽ ≥ v_{l−1}; rounding
each product upward keeps ṽ_l ≥ v_l, and max ṽ_L bounds ‖|W_L|·diag(γ_{L−1})⋯|W_1|‖_∞.
"""

from __future__ import annotations

import numpy as np
from flint import arb, ctx

from models import DeepNetwork, TwoLayerNetwork

from ...certificates import LinfLayerProductCertificate, LinfProductCertificate
from ...problem import Problem
from ..balls import PRECISION, upper_float
from ..dispatch import Verdict, checker, unsupported
from ..floating import TINY, gamma, upward
from ..layer_factors import centred_slopes, free_weights
from ..propagation import layer_gains


def _globally_unbounded(problem: Problem) -> str | None:
    if problem.domain is None and not problem.net.activation.globally_lipschitz:
        return "activation is not globally Lipschitz"
    return None


@checker.register
def _(certificate: LinfProductCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, norms=("inf",), domain_aware=True):
        return Verdict.failed(reason)
    if reason := _globally_unbounded(problem):
        return Verdict.failed(reason)
    net: TwoLayerNetwork = problem.net
    mu, h = centred_slopes(problem)
    A, W = net.A, free_weights(problem)[0]
    k, d = W.shape
    with np.errstate(all="ignore"):
        scaled = A * mu
        row_sums = np.abs(W).sum(axis=1)
        totals = np.abs(scaled) @ row_sums
        centres = np.abs(scaled @ W).sum(axis=1)
        spreads = (np.abs(A) * h) @ row_sums
    if not all(np.all(np.isfinite(x)) for x in (totals, centres, spreads)):
        return Verdict.failed(
            "the slopes on the domain, or the row bounds built from them, overflow"
        )
    bound = 0.0
    with ctx.workprec(PRECISION):
        shrink = 1 - arb(gamma(d + k + 1))
        rows = zip(totals.tolist(), centres.tolist(), spreads.tolist(), strict=True)
        for total, centre, spread in rows:
            T = (arb(total) + TINY) / shrink
            g = (arb(centre) + TINY) / (1 - arb(gamma(d))) + arb(gamma(k + 1)) * T + TINY
            bound = max(bound, upper_float(g + (arb(spread) + TINY) / shrink))
    return Verdict(bound, True)


@checker.register
def _(certificate: LinfLayerProductCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, networks=(DeepNetwork,), norms=("inf",), domain_aware=True):
        return Verdict.failed(reason)
    if reason := _globally_unbounded(problem):
        return Verdict.failed(reason)
    weights = free_weights(problem)
    gains = [*layer_gains(problem.net, problem.domain), np.ones(problem.net.m)]
    sums = np.ones(weights[0].shape[1])
    with np.errstate(all="ignore"):
        for W, gain in zip(weights, gains, strict=True):
            inner = W.shape[1]
            sums = upward((np.abs(W) @ sums) * (1.0 + 2.0 * gamma(inner + 2)) + inner * TINY)
            sums = upward(gain * sums)
    largest = float(np.max(sums))
    if not np.isfinite(largest):
        return Verdict(np.inf, True, "the product overflows: inf is the bound")
    return Verdict(largest, True)
