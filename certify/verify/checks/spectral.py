"""Checker for the spectral product: proven ‖A‖₂ and ‖W‖₂, product rounded upward."""

from __future__ import annotations

from ...certificates import SpectralCertificate
from ...problem import Problem
from ..dispatch import Verdict, checker, unsupported
from ..floating import TINY, UNIT_ROUNDOFF, up
from ..norms import spectral_norm_upper


@checker.register
def _(certificate: SpectralCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    norm_W = spectral_norm_upper(net.W, certificate.norm_W)
    norm_A = spectral_norm_upper(net.A, certificate.norm_A)
    product = norm_A * net.activation.lipschitz * norm_W
    return Verdict(up(product * (1.0 + 4.0 * UNIT_ROUNDOFF) + TINY), True)
