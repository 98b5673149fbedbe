"""Checker for the layer-splitting product: proven ‖W_l‖₂ for every layer, product rounded up.

The 2L − 1 factors are multiplied in floating point, each product exact up to a factor (1 + δ),
|δ| ≤ u, so the exact product is at most the computed one times 1 + γ_{2L}; TINY covers
underflow.  A zero weight matrix makes f constant, and the bound is then exactly 0.
"""

from __future__ import annotations

import math

from models import DeepNetwork

from ...certificates import LayerProductCertificate
from ...problem import Problem
from ..dispatch import Verdict, checker, unsupported
from ..floating import TINY, gamma, up
from ..norms import spectral_norm_upper


@checker.register
def _(certificate: LayerProductCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, networks=(DeepNetwork,), domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    if len(certificate.norms) != net.depth:
        return Verdict.failed(f"{len(certificate.norms)} norms for {net.depth} layers")
    norms = [
        spectral_norm_upper(W, estimate)
        for W, estimate in zip(net.weights, certificate.norms, strict=True)
    ]
    if 0.0 in norms:
        return Verdict(0.0, True, "a weight matrix is zero: f is constant")
    factors = [*norms, *[net.activation.lipschitz] * (net.depth - 1)]
    product = math.prod(factors)
    return Verdict(up(product * (1.0 + gamma(2 * net.depth)) + TINY), True)
