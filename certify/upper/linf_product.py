"""The closed-form ℓ∞ bound: Lip∞(f) ≤ max_j |μ|·‖Wᵀa_j‖₁ + h·Σ_i |A_ji|·‖w_i‖₁.

It bounds ‖M_j‖_{∞→1} ≤ Σ_r ‖(M_j)_r‖₁ (each row against its own best signs) for the bilinear
form M_j = [μ·a_jᵀW ; h·diag(a_j)·W] of `certify.verify.bilinear`.  Since |μ| + h = L_σ =
max(|α|, |β|) for the exact midpoint, it is never worse than the product of operator norms
max_j Σ_i |A_ji|·L_σ·‖w_i‖₁, and the centre term keeps the cancellations between neurons that a
product loses.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..certificates import LinfProductCertificate
from ..methods import Budget, Kind, outside_scope, register
from ..problem import Problem
from ..verify.bilinear import slope_enclosure

__all__ = ["LinfProduct", "LinfProductCertificate", "row_bounds"]


def row_bounds(A: np.ndarray, W: np.ndarray, mu: float, h: float) -> np.ndarray:
    """|μ|·‖Wᵀa_j‖₁ + h·Σ_i |A_ji|·‖w_i‖₁ for every output j, in floating point."""
    return abs(mu) * np.abs(A @ W).sum(axis=1) + h * (np.abs(A) @ np.abs(W).sum(axis=1))


@register
class LinfProduct:
    """The row-sum bound on the bilinear form, proven with rounding bounds by its checker."""

    name: ClassVar[str] = "linf-product"
    kind: ClassVar[Kind] = "upper"
    default: ClassVar[bool] = True

    def why_not(self, problem: Problem) -> str | None:
        return outside_scope(problem, self.kind, norms=("inf",))

    def run(self, problem: Problem, budget: Budget) -> LinfProductCertificate:
        net = problem.net
        mu, h = slope_enclosure(net.activation)
        return LinfProductCertificate(float(np.max(row_bounds(net.A, net.W, mu, h))))
