"""Checker for the domain spectral bound: slopes re-proven on the domain, every norm proven.

The slope intervals are recomputed with proven rounding (`certify.verify.propagation`), and the
float factors rebuilt from them (`certify.verify.domain_factors`); the bound holds for the exact
products of those floats.  fl(A·diag(μ)·W) errs entrywise by at most γ_{k+1}·|A|·|diag(μ)|·|W|,
whose Frobenius norm is at most γ_{k+1}‖A‖_F·max|μ_i|·‖W‖_F; A·diag(s) and diag(t)·W take one
rounding per entry, at most γ₁|X|; and ‖X*‖₂ ≤ ‖fl(X)‖₂ + ‖E‖_F (Higham, *Accuracy and
Stability of Numerical Algorithms*, §3.5), the first term proven by `spectral_norm_upper`.
"""

from __future__ import annotations

import numpy as np

from ...certificates import DomainSpectralCertificate
from ...problem import Problem
from ..dispatch import Verdict, checker, unsupported
from ..domain_factors import combine, domain_factors
from ..floating import TINY, UNIT_ROUNDOFF, frobenius_upper, gamma, up
from ..neurons import active_neurons
from ..norms import perturbed_norm_upper
from ..propagation import slope_intervals


def _split_norms(
    factors: tuple[np.ndarray, np.ndarray], estimates: tuple[float, float]
) -> tuple[float, float]:
    left, right = factors
    return (
        perturbed_norm_upper(left, estimates[0], gamma(1) * frobenius_upper(left)),
        perturbed_norm_upper(right, estimates[1], gamma(1) * frobenius_upper(right)),
    )


@checker.register
def _(certificate: DomainSpectralCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    alpha, beta = slope_intervals(net, problem.domain)
    factors = domain_factors(problem, alpha, beta)
    matrices = (factors.centre, *factors.spread, *factors.whole)
    if not all(np.all(np.isfinite(X)) for X in matrices):
        return Verdict.failed("the slopes on the domain, or the factors built from them, overflow")
    active = active_neurons(net)
    largest = float(np.max(np.abs(alpha[active]) + np.abs(beta[active]), initial=0.0))
    centre_error = gamma(net.k + 1) * frobenius_upper(net.A) * largest * frobenius_upper(net.W)
    underflow = net.k * factors.centre.size * TINY
    centre = perturbed_norm_upper(factors.centre, certificate.centre, up(centre_error + underflow))
    value = combine(
        centre,
        _split_norms(factors.spread, certificate.spread),
        _split_norms(factors.whole, certificate.whole),
    )
    return Verdict(up(value * (1.0 + 4.0 * UNIT_ROUNDOFF)), True)
