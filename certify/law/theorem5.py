"""The spectral product L·‖A‖₂·‖W‖₂ of Theorem 5 of Bubeck, Li, Nagaraj (COLT 2021).

Theorem 5: Lip(f) ≤ L·‖a‖₂·‖W‖_op for f(x) = Σ a_ℓ ψ(w_ℓ·x + b_ℓ) with ψ L-Lipschitz, and a
bias-free f that interpolates generic data (n points, ±1 labels) has L·‖a‖₂·‖W‖_op ≥ √(n/k)
(with high probability).  For several outputs ‖a‖₂ becomes ‖A‖₂.  The product is enclosed from
both sides: above with `spectral_norm_upper`, below with ‖Xv‖₂/‖v‖₂ ≤ ‖X‖₂ in arb balls for the
computed top right singular vector v.  L is the activation's declared constant (exact for ReLU
and leaky ReLU, rounded outward by at most 1e-12 relatively for the smooth ones).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flint import ctx

from models import TwoLayerNetwork

from ..verify.balls import PRECISION, arb_matrix, lower_float, norm_lower, norm_upper
from ..verify.floating import up
from ..verify.norms import spectral_norm_upper

__all__ = ["SpectralProduct", "spectral_product"]


@dataclass(frozen=True)
class SpectralProduct:
    """L·‖A‖₂·‖W‖₂: the float64 value and proven ``lower`` ≤ exact ≤ ``upper``."""

    value: float
    lower: float
    upper: float


def _top_singular(X: np.ndarray) -> tuple[float, np.ndarray]:
    """The largest singular value of X and its right singular vector (float64 estimates)."""
    _, values, right = np.linalg.svd(X, full_matrices=False)
    return float(values[0]), right[0]


def _norm_bounds(X: np.ndarray) -> tuple[float, float, float]:
    """(estimate, proven lower, proven upper) of ‖X‖₂; the lower end is that of ‖Xv‖₂/‖v‖₂."""
    estimate, v = _top_singular(X)
    with ctx.workprec(PRECISION):
        image = arb_matrix(X) * arb_matrix(v)
        ratio = norm_lower(image.entries()) / norm_upper(arb_matrix(v).entries())
        lower = max(lower_float(ratio), 0.0)
    return estimate, lower, spectral_norm_upper(X, estimate)


def _down(x: float) -> float:
    return float(np.nextafter(x, -np.inf))


def spectral_product(net: TwoLayerNetwork) -> SpectralProduct:
    """L·‖A‖₂·‖W‖₂ of ``net`` with proven two-sided bounds (each product of non-negative
    floats is rounded to nearest, so one step outward encloses it)."""
    lipschitz = net.activation.lipschitz
    norm_A, lower_A, upper_A = _norm_bounds(net.A)
    norm_W, lower_W, upper_W = _norm_bounds(net.W)
    return SpectralProduct(
        value=lipschitz * norm_A * norm_W,
        lower=max(_down(_down(lipschitz * lower_A) * lower_W), 0.0),
        upper=up(up(lipschitz * upper_A) * upper_W),
    )
