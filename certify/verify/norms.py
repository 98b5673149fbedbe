"""Proven upper bounds on the spectral norm ‖X‖₂.

‖X‖₂ ≤ s follows from s²I − G* ⪰ 0 for the exact Gram matrix G* = XXᵀ (or XᵀX, the smaller).
The computed G = fl(XXᵀ) satisfies |G − G*| ≤ γ_p|X||X|ᵀ (p the inner dimension), so
‖G − G*‖₂ ≤ γ_p‖X‖_F²; `is_positive_definite` then checks s²I − G within that radius.
Power iteration (or an eigensolver) only proposes s; it converges from below and is never trusted.
"""

from __future__ import annotations

import math

import numpy as np

from .definiteness import is_positive_definite
from .floating import TINY, UNIT_ROUNDOFF, frobenius_upper, gamma, up

__all__ = ["perturbed_norm_upper", "spectral_norm_upper"]

_INFLATIONS = (1e-12, 1e-9, 1e-6, 1e-3)


def _gram(X: np.ndarray) -> tuple[np.ndarray, int]:
    """The smaller Gram matrix of X and the length of its inner products."""
    rows, cols = X.shape
    return (X @ X.T, cols) if rows <= cols else (X.T @ X, rows)


def _proposal(X: np.ndarray) -> float:
    """The float largest singular value: what the proof tries first, itself proving nothing."""
    gram, _ = _gram(X)
    return math.sqrt(max(float(np.linalg.eigvalsh(gram)[-1]), 0.0))


def spectral_norm_upper(X: np.ndarray, estimate: float | None = None) -> float:
    """A proven s ≥ ‖X‖₂, close to the estimate when the check succeeds; ‖X‖_F otherwise.

    X is first scaled by a power of two (exact up to underflow, which adds at most
    √(size)·2⁻¹⁰⁷⁴ to the norm) so that its largest entry lies in [½, 1).
    """
    X = np.asarray(X, dtype=np.float64)
    largest = float(np.max(np.abs(X))) if X.size else 0.0
    if largest == 0.0:
        return 0.0
    exponent = math.frexp(largest)[1]
    scaled_estimate = None if estimate is None else math.ldexp(float(estimate), -exponent)
    scaled_bound = _scaled_norm_upper(np.ldexp(X, -exponent), scaled_estimate)
    return up(math.ldexp(up(scaled_bound + X.size * TINY), exponent))


def _scaled_norm_upper(X: np.ndarray, estimate: float | None) -> float:
    frobenius = frobenius_upper(X)
    if frobenius == 0.0:
        return 0.0
    gram, inner = _gram(X)
    gram_radius = up(gamma(inner + 2) * frobenius**2 + inner * TINY)
    sigma = _proposal(X) if estimate is None else float(estimate)
    for inflation in _INFLATIONS:
        s_squared = (sigma * (1.0 + inflation)) ** 2 + gram_radius
        if s_squared >= frobenius**2:
            break
        candidate = s_squared * np.eye(gram.shape[0]) - gram
        diagonal_rounding = UNIT_ROUNDOFF * (s_squared + float(np.max(np.abs(np.diag(gram)))))
        if is_positive_definite(candidate, radius=gram_radius + 2.0 * diagonal_rounding):
            return up(up(math.sqrt(s_squared)))
    return frobenius


def perturbed_norm_upper(X: np.ndarray, estimate: float, error: float) -> float:
    """A proven bound on ‖X*‖₂ for every X* within Frobenius distance ``error`` of X, with
    underflow (at most 2⁻¹⁰⁰⁰ an entry) on top; the claimed ``estimate`` only guides the proof."""
    guess = float(estimate) if np.isfinite(estimate) else None
    return up(spectral_norm_upper(X, guess) + error + X.size * TINY)
