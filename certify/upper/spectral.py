"""The spectral-norm product: Lip(f) ≤ ‖A‖₂ · L_σ · ‖W‖₂.

Since J(x) = A·diag(σ'(Wx + b))·W with |σ'| ≤ L_σ = max(|α|, |β|), sub-multiplicativity gives the
bound (Szegedy et al. 2014; Theorem 5 of Bubeck, Li, Nagaraj 2021).  Cheap and always valid.
Deep MLPs get the product over all layers (`certify.upper.deep_spectral`).
"""

from __future__ import annotations

from typing import ClassVar

from models import DeepNetwork, TwoLayerNetwork

from ..certificates import SpectralCertificate
from ..estimates import spectral_norm_estimate
from ..methods import Budget, Kind, outside_scope, register
from ..problem import Problem
from .deep_spectral import LayerProductCertificate, layer_product

__all__ = ["SpectralCertificate", "SpectralProduct"]


@register
class SpectralProduct:
    """‖A‖₂ · L_σ · ‖W‖₂ with both norms proven from above."""

    name: ClassVar[str] = "spectral"
    kind: ClassVar[Kind] = "upper"
    default: ClassVar[bool] = True

    def why_not(self, problem: Problem) -> str | None:
        return outside_scope(problem, self.kind, networks=(TwoLayerNetwork, DeepNetwork))

    def run(
        self, problem: Problem, budget: Budget
    ) -> SpectralCertificate | LayerProductCertificate:
        net = problem.net
        if isinstance(net, DeepNetwork):
            return layer_product(net)
        norm_W = spectral_norm_estimate(net.W)
        norm_A = spectral_norm_estimate(net.A)
        value = norm_A * net.activation.lipschitz * norm_W
        return SpectralCertificate(value=value, norm_W=norm_W, norm_A=norm_A)
