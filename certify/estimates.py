"""Floating-point estimates that bound methods build on: never bounds, never trusted.

`certify.verify` proves what it accepts with its own arithmetic; these only propose.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["finite_norm_estimate", "spectral_norm_estimate", "top_direction"]


def spectral_norm_estimate(X: np.ndarray) -> float:
    """Floating-point estimate of ‖X‖₂ (largest singular value, from the smaller Gram matrix)."""
    if X.size == 0:
        return 0.0
    gram = X @ X.T if X.shape[0] <= X.shape[1] else X.T @ X
    return math.sqrt(max(float(np.linalg.eigvalsh(gram)[-1]), 0.0))


def finite_norm_estimate(X: np.ndarray) -> float:
    """``spectral_norm_estimate``, or inf when X is not finite (slopes or products overflowed)."""
    return spectral_norm_estimate(X) if np.all(np.isfinite(X)) else np.inf


def top_direction(J: np.ndarray) -> np.ndarray:
    """Unit top right singular vector of J (e₁ when J is zero or not finite)."""
    if np.all(np.isfinite(J)) and np.any(J != 0):
        return np.linalg.svd(J, full_matrices=False)[2][0]
    return np.eye(J.shape[1])[0]
