"""Floating-point error constants (Higham, *Accuracy and Stability of Numerical Algorithms*, §3).

Arithmetic is IEEE binary64 in rounding to nearest: fl(a ∘ b) = (a ∘ b)(1 + δ), |δ| ≤ u = 2⁻⁵³,
plus an absolute error below 2⁻¹⁰⁷⁴ on underflow.  A length-n dot product has
|fl(xᵀy) − xᵀy| ≤ γ_n |x|ᵀ|y| with γ_n = n·u / (1 − n·u), whatever the order of summation
(so blocked BLAS kernels are covered).  The bounds below are themselves evaluated in rounding to
nearest, so each is inflated by a relative ``SAFETY`` factor that dominates the few roundings
made while computing it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "SAFETY",
    "TINY",
    "UNIT_ROUNDOFF",
    "downward",
    "frobenius_upper",
    "gamma",
    "up",
    "upward",
]

UNIT_ROUNDOFF = 2.0**-53
#: Relative inflation applied to every computed error bound (≫ the ~10 roundings inside one).
SAFETY = 1.0 + 1e-6
#: Generous absolute allowance for underflow in one operation chain (2⁻¹⁰⁷⁴ per operation).
TINY = 2.0**-1000


def gamma(n: int) -> float:
    """γ_n = n·u / (1 − n·u), the relative error constant of a length-n dot product."""
    nu = n * UNIT_ROUNDOFF
    if nu >= 0.5:
        raise ValueError(f"γ_{n} is not defined in double precision")
    return SAFETY * nu / (1.0 - nu)


def up(x: float) -> float:
    """The next double above x: turns a rounded-to-nearest bound into an upper bound."""
    return float(np.nextafter(x, math.inf))


def upward(x: np.ndarray) -> np.ndarray:
    """The next doubles above x, entrywise: `up` for arrays."""
    return np.nextafter(x, np.inf)


def downward(x: np.ndarray) -> np.ndarray:
    """The next doubles below x, entrywise: turns a rounded-to-nearest bound into a lower one."""
    return np.nextafter(x, -np.inf)


def frobenius_upper(X: np.ndarray) -> float:
    """A proven upper bound on ‖X‖_F = √(Σ x_ij²)."""
    if X.size == 0:
        return 0.0
    squares = float(np.sum(np.square(X, dtype=np.float64)))
    bound = squares * (1.0 + 2.0 * gamma(X.size + 1)) + X.size * TINY
    return up(math.sqrt(up(bound)))
