"""Verified positive definiteness of a symmetric matrix known up to a spectral-norm radius.

Criterion (after Rump, "Verification of positive definiteness", BIT 46, 2006, and Higham,
Theorem 10.3).  If the floating-point Cholesky factorisation of an n×n symmetric matrix Ã runs to
completion, its factor R̂ satisfies R̂ᵀR̂ = Ã + ΔÃ with |ΔÃ| ≤ γ_{n+1}|R̂ᵀ||R̂|, hence
λ_min(Ã) ≥ −γ_{n+1}‖R̂‖_F² ≥ −γ_{n+1}/(1 − γ_{n+1})·tr(Ã).  Apply it to Ã = fl(M − cI): every
diagonal subtraction errs by at most u(|M_jj| + c), so

    λ_min(M*) ≥ c − ρ − γ'·Σ|M_jj| − u·(max|M_jj| + c) − ε   whenever ‖M* − M‖₂ ≤ ρ,

where γ' = γ_{n+1}/(1 − γ_{n+1}).  Choosing c strictly above ρ + γ'·Σ|M_jj| + u·max|M_jj| + ε
proves M* ≻ 0.  The matrix is first scaled by a power of two (exact) so that its largest diagonal
entry lies in [½, 1], which keeps the underflow allowance ε negligible.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from .floating import SAFETY, TINY, UNIT_ROUNDOFF, gamma

__all__ = ["is_positive_definite"]


def is_positive_definite(M: np.ndarray, radius: float = 0.0) -> bool:
    """True only if every symmetric M* with ‖M* − M‖₂ ≤ radius is proven positive definite.

    False means "not proven" (the matrix may still be definite).  M must be symmetric; only
    its upper triangle is read.
    """
    M = np.asarray(M, dtype=np.float64)
    n = M.shape[0]
    if n == 0:
        return True
    diagonal = np.diag(M)
    if not (np.all(np.isfinite(M)) and math.isfinite(radius)) or np.min(diagonal) <= 0.0:
        return False
    exponent = -math.frexp(float(np.max(diagonal)))[1]
    scaled = np.ldexp(M, exponent)
    scaled_radius = math.ldexp(radius, exponent)
    absolute_diagonal = np.abs(np.diag(scaled))
    gamma_prime = gamma(n + 1) / (1.0 - gamma(n + 1))
    needed = (
        scaled_radius
        + gamma_prime * float(np.sum(absolute_diagonal))
        + UNIT_ROUNDOFF * float(np.max(absolute_diagonal))
        + n * n * TINY
    )
    shift = needed * SAFETY * (1.0 + 4.0 * UNIT_ROUNDOFF) / (1.0 - UNIT_ROUNDOFF)
    shifted = scaled - shift * np.eye(n)
    try:
        factor = scipy.linalg.cholesky(shifted, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.isfinite(factor)))
