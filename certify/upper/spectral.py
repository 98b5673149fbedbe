"""The spectral-norm product: Lip(f) ≤ ‖A‖₂ · L_σ · ‖W‖₂.

Since J(x) = A·diag(σ'(Wx + b))·W with |σ'| ≤ L_σ = max(|α|, |β|), sub-multiplicativity gives the
bound (Szegedy et al. 2014; Theorem 5 of Bubeck, Li, Nagaraj 2021).  Cheap and always valid.
Deep MLPs get the product over all layers (`certify.upper.deep_spectral`), and a net on a domain
the product with the slopes possible there (`certify.upper.domain_spectral` for two layers).
"""

from __future__ import annotations

from typing import ClassVar

from models import TwoLayerNetwork

from ..certificates import DomainSpectralCertificate, LayerProductCertificate, SpectralCertificate
from ..estimates import spectral_norm_estimate
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..scope import Scope
from .deep_spectral import layer_product
from .domain_spectral import domain_bound

__all__ = ["SpectralProduct"]


@register
class SpectralProduct:
    """‖A‖₂ · L_σ · ‖W‖₂ with both norms proven from above (the product over the layers of a
    deep net; with the slopes proven on the domain for a net on one)."""

    name: ClassVar[str] = "spectral"
    kind: ClassVar[Kind] = "upper"
    scope: ClassVar[Scope] = Scope.of(("two-layer", "deep"), regions=("global", "domain"))

    def why_not(self, problem: Problem) -> str | None:
        return self.scope.why_not(problem, upper=True)

    def run(
        self, problem: Problem, budget: Budget
    ) -> SpectralCertificate | LayerProductCertificate | DomainSpectralCertificate:
        net = problem.net
        if not isinstance(net, TwoLayerNetwork):
            return layer_product(problem)
        if problem.domain is not None:
            return domain_bound(problem)
        norm_W = spectral_norm_estimate(net.W)
        norm_A = spectral_norm_estimate(net.A)
        value = norm_A * net.activation.lipschitz * norm_W
        return SpectralCertificate(value=value, norm_W=norm_W, norm_A=norm_A)
