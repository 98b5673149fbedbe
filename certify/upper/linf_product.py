"""The closed-form ℓ∞ bound: Lip∞(f) ≤ max_j |μ|·‖Wᵀa_j‖₁ + h·Σ_i |A_ji|·‖w_i‖₁ for two layers,
L_σ^{L−1}·‖|W_L|⋯|W_1|‖_∞ for L ≥ 3; on a domain, the same with the slopes proven there, one
centre and radius (two layers) or gain (deeper) per neuron (`certify.verify.layer_factors`).

It bounds ‖M_j‖_{∞→1} ≤ Σ_r ‖(M_j)_r‖₁ (each row against its own best signs) for the bilinear
form M_j = [μ·a_jᵀW ; h·diag(a_j)·W] of `certify.verify.bilinear`.  Since |μ| + h = L_σ =
max(|α|, |β|) for the exact midpoint, it is never worse than the product of operator norms
max_j Σ_i |A_ji|·L_σ·‖w_i‖₁, and the centre term keeps the cancellations between neurons that a
product loses.

Deep nets: J(x) = W_L D_{L−1} ⋯ D_1 W_1 with |D_l| ≤ L_σ entrywise, so |J(x)| ≤
L_σ^{L−1}·|W_L|⋯|W_1| entrywise and ‖J(x)‖_∞ (the largest row ℓ1 norm, which is Lip∞ at x) is at
most L_σ^{L−1} times the largest entry of |W_L|(⋯(|W_1|·1)): never above the product of the
layers' ∞-norms.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from models import TwoLayerNetwork

from ..certificates import LinfLayerProductCertificate, LinfProductCertificate
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..scope import Scope
from ..verify.layer_factors import centred_slopes, free_weights
from ..verify.propagation import layer_gains

__all__ = ["LinfProduct", "row_bounds"]


def row_bounds(A: np.ndarray, W: np.ndarray, mu: np.ndarray, h: np.ndarray) -> np.ndarray:
    """‖Σ_i μ_i·A_ji·w_i‖₁ + Σ_i h_i·|A_ji|·‖w_i‖₁ for every output j, in floating point."""
    return np.abs((A * mu) @ W).sum(axis=1) + (np.abs(A) * h) @ np.abs(W).sum(axis=1)


@register
class LinfProduct:
    """The row-sum bound on the bilinear form, proven with rounding bounds by its checker."""

    name: ClassVar[str] = "linf-product"
    kind: ClassVar[Kind] = "upper"

    scope: ClassVar[Scope] = Scope.of(("two-layer", "deep"), ("inf",), ("global", "domain"))

    def why_not(self, problem: Problem) -> str | None:
        return self.scope.why_not(problem, upper=True)

    def run(
        self, problem: Problem, budget: Budget
    ) -> LinfProductCertificate | LinfLayerProductCertificate:
        net = problem.net
        weights = free_weights(problem)
        with np.errstate(all="ignore"):
            if not isinstance(net, TwoLayerNetwork):
                sums = np.ones(weights[0].shape[1])
                for W, gain in zip(weights, [*layer_gains(net, problem.domain), 1.0], strict=True):
                    sums = gain * (np.abs(W) @ sums)
                return LinfLayerProductCertificate(float(np.max(sums)))
            bounds = row_bounds(net.A, weights[0], *centred_slopes(problem))
        return LinfProductCertificate(float(np.max(bounds)))
