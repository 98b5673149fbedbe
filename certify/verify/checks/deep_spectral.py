"""Checker for the layer-splitting product: proven ‖W_l‖₂ for every layer, product rounded up.

The 2L − 1 factors are multiplied in floating point, each product exact up to a factor (1 + δ),
|δ| ≤ u, so the exact product is at most the computed one times 1 + γ_{2L}; TINY covers
underflow.  A zero weight matrix makes f constant, and the bound is then exactly 0.

On a domain the slope gains γ_l are re-proven (`certify.verify.propagation`) and the layers
diag(γ_l)·W_l rebuilt from them (`certify.verify.layer_factors`); each float entry errs by at most
γ₁ times itself, so ‖X*‖₂ ≤ ‖fl(X)‖₂ + γ₁‖fl(X)‖_F (plus underflow), the first term proven by
`spectral_norm_upper`.
"""

from __future__ import annotations

import math

import numpy as np

from models import DeepNetwork

from ...certificates import LayerProductCertificate
from ...problem import Problem
from ..dispatch import Verdict, checker, unsupported
from ..floating import TINY, frobenius_upper, gamma, up
from ..layer_factors import scaled_layers
from ..norms import perturbed_norm_upper, spectral_norm_upper


@checker.register
def _(certificate: LayerProductCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, networks=(DeepNetwork,), domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    if len(certificate.norms) != net.depth:
        return Verdict.failed(f"{len(certificate.norms)} norms for {net.depth} layers")
    if problem.domain is not None:
        return _on_domain(certificate, problem)
    norms = [
        spectral_norm_upper(W, estimate)
        for W, estimate in zip(net.weights, certificate.norms, strict=True)
    ]
    if 0.0 in norms:
        return Verdict(0.0, True, "a weight matrix is zero: f is constant")
    factors = [*norms, *[net.activation.lipschitz] * (net.depth - 1)]
    return _product(factors)


def _on_domain(certificate: LayerProductCertificate, problem: Problem) -> Verdict:
    layers = scaled_layers(problem)
    if not all(np.all(np.isfinite(X)) for X in layers):
        return Verdict.failed("the slopes on the domain, or the layers scaled by them, overflow")
    norms = [
        perturbed_norm_upper(X, estimate, gamma(1) * frobenius_upper(X))
        for X, estimate in zip(layers, certificate.norms, strict=True)
    ]
    if not all(np.any(X) for X in layers):
        return Verdict(0.0, True, "a layer is zero on the domain: f is constant there")
    return _product(norms)


def _product(factors: list[float]) -> Verdict:
    """The product of proven non-negative factors, rounded up (at most 2L − 1 of them)."""
    product = math.prod(factors)
    return Verdict(up(product * (1.0 + gamma(len(factors) + 1)) + TINY), True)
