"""The layer-splitting product for deep MLPs: Lip(f) ≤ L_σ^{L−1} · ∏_l ‖W_l‖₂.

J(x) = W_L·D_{L−1}·W_{L−1} ⋯ D_1·W_1 with diagonal D_l, |D_l| ≤ L_σ = max(|α|, |β|), wherever f
is differentiable, so sub-multiplicativity bounds every Jacobian, and Lip(f) = sup ‖J(x)‖₂
(Szegedy et al., "Intriguing properties of neural networks", ICLR 2014, §4.3).  Cheap, always
valid, and loose by a factor that can grow with the depth.
"""

from __future__ import annotations

import numpy as np

from models import DeepNetwork

from ..certificates import LayerProductCertificate
from ..estimates import spectral_norm_estimate

__all__ = ["LayerProductCertificate", "layer_product"]


def layer_product(net: DeepNetwork) -> LayerProductCertificate:
    """The claim L_σ^{L−1} · ∏ ‖W_l‖₂ from floating-point estimates of the norms."""
    norms = np.array([spectral_norm_estimate(W) for W in net.weights])
    value = float(np.prod(norms)) * net.activation.lipschitz ** (net.depth - 1)
    return LayerProductCertificate(value=value, norms=norms)
