"""Checker for the closed-form ℓ∞ bound: every row bound evaluated with proven rounding bounds.

With a = A[j], T = Σ_i |a_i|·‖w_i‖₁ and g = Wᵀa.  All terms of T are non-negative, so its float
value, a chain of d + k roundings, satisfies fl(T) ≥ (1 − γ_{d+k})·T − (d + k)·2⁻¹⁰⁷⁵ (Higham,
*Accuracy and Stability of Numerical Algorithms*, §3.1–3.4): T ≤ (fl(T) + TINY)/(1 − γ_{d+k}).
Each computed g̃_l errs by at most γ_k·Σ_i|a_i||W_il| plus underflow, and Σ_l Σ_i |a_i||W_il| = T, so
‖g‖₁ ≤ Σ_l |g̃_l| + γ_k·T + TINY ≤ (fl(Σ_l |g̃_l|) + TINY)/(1 − γ_d) + γ_k·T + TINY.  The final
|μ|·‖g‖₁ + h·T is evaluated in ball arithmetic.

Deep nets: v_0 = 1, v_l = |W_l|·v_{l−1} has non-negative terms only, so the exact product is at
most fl(|W_l|·ṽ)·(1 + 2γ_{n+2}) plus underflow for any ṽ ≥ v_{l−1}; rounding each bound upward
keeps ṽ_l ≥ v_l, and L_σ^{L−1}·max ṽ_L is evaluated in ball arithmetic.
"""

from __future__ import annotations

import numpy as np
from flint import arb, ctx

from models import DeepNetwork

from ...certificates import LinfLayerProductCertificate, LinfProductCertificate
from ...problem import Problem
from ..balls import PRECISION, upper_float
from ..bilinear import slope_enclosure
from ..dispatch import Verdict, checker, unsupported
from ..floating import TINY, gamma, upward


@checker.register
def _(certificate: LinfProductCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, norms=("inf",), domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    if not net.activation.globally_lipschitz:
        return Verdict.failed("activation is not globally Lipschitz")
    mu, h = slope_enclosure(net.activation)
    k, d = net.W.shape
    totals = np.abs(net.A) @ np.abs(net.W).sum(axis=1)
    centers = np.abs(net.A @ net.W).sum(axis=1)
    bound = 0.0
    with ctx.workprec(PRECISION):
        for total, center in zip(totals.tolist(), centers.tolist(), strict=True):
            T = (arb(total) + TINY) / (1 - arb(gamma(d + k)))
            g = (arb(center) + TINY) / (1 - arb(gamma(d))) + arb(gamma(k)) * T + TINY
            bound = max(bound, upper_float(abs(arb(mu)) * g + arb(h) * T))
    return Verdict(bound, True)


@checker.register
def _(certificate: LinfLayerProductCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, networks=(DeepNetwork,), norms=("inf",), domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    if not net.activation.globally_lipschitz:
        return Verdict.failed("activation is not globally Lipschitz")
    sums = np.ones(net.d)
    with np.errstate(all="ignore"):
        for W in net.weights:
            inner = W.shape[1]
            sums = upward((np.abs(W) @ sums) * (1.0 + 2.0 * gamma(inner + 2)) + inner * TINY)
    with ctx.workprec(PRECISION):
        largest = float(np.max(sums))
        if not np.isfinite(largest):
            return Verdict(np.inf, True, "the product overflows: inf is the bound")
        bound = upper_float(arb(largest) * arb(net.activation.lipschitz) ** (net.depth - 1))
    return Verdict(bound, True)
