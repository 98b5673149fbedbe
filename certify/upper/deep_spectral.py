"""The layer-splitting product for deep MLPs: Lip(f) ≤ L_σ^{L−1} · ∏_l ‖W_l‖₂.

J(x) = W_L·D_{L−1}·W_{L−1} ⋯ D_1·W_1 with diagonal D_l, |D_l| ≤ L_σ = max(|α|, |β|), wherever f
is differentiable, so sub-multiplicativity bounds every Jacobian, and Lip(f) = sup ‖J(x)‖₂
(Szegedy et al., "Intriguing properties of neural networks", ICLR 2014, §4.3).  Cheap, always
valid, and loose by a factor that can grow with the depth.  On a domain each layer's slopes are
those proven there, neuron by neuron: ‖W_L‖₂ · ∏_l ‖diag(γ_l)·W_l‖₂
(`certify.verify.layer_factors`), which gives polynomial activations a bound on bounded domains.
"""

from __future__ import annotations

import numpy as np

from models import DeepNetwork

from ..certificates import LayerProductCertificate
from ..estimates import finite_norm_estimate, spectral_norm_estimate
from ..problem import Problem
from ..verify.layer_factors import scaled_layers

__all__ = ["LayerProductCertificate", "layer_product"]


def layer_product(problem: Problem) -> LayerProductCertificate:
    """The claim L_σ^{L−1} · ∏ ‖W_l‖₂ (on a domain, ∏ of the slope-scaled layers' norms) from
    floating-point estimates of the norms."""
    net: DeepNetwork = problem.net
    if problem.domain is None:
        norms = np.array([spectral_norm_estimate(W) for W in net.weights])
        value = float(np.prod(norms)) * net.activation.lipschitz ** (net.depth - 1)
        return LayerProductCertificate(value=value, norms=norms)
    norms = np.array([finite_norm_estimate(X) for X in scaled_layers(problem)])
    with np.errstate(all="ignore"):
        value = float(np.prod(norms))
    return LayerProductCertificate(value=value if np.isfinite(value) else np.inf, norms=norms)
