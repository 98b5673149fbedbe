"""Dual multipliers for the Grothendieck relaxation of ‖M‖_{∞→1}, by a block mixing method.

Relaxing the signs y_r, u_l of max yᵀMu to unit vectors gives the semidefinite program
max Σ_rl M_rl⟨y_r, u_l⟩, within Grothendieck's constant K_G < 1.783 of ‖M‖_{∞→1} (Alon & Naor,
"Approximating the cut-norm via Grothendieck's inequality", SIAM J. Comput. 35, 2006).  Its dual
is min Σλ subject to diag(λ) ⪰ ½[[0, M], [Mᵀ, 0]].  For any p, q > 0, Cauchy–Schwarz gives

    yᵀMu = (P^½y)ᵀ(P^-½MQ^-½)(Q^½u) ≤ √(Σp·Σq)·‖P^-½MQ^-½‖₂     (y, u sign vectors),

which is the dual objective Σλ = s of λ = (s/2)·(p/Σp, q/Σq), s the right-hand side: that λ is
dual feasible (by Schur complements, diag(λ) ⪰ ½[[0, M], [Mᵀ, 0]] iff ‖Λ_y^-½MΛ_u^-½‖₂ ≤ 2), and
every dual-feasible λ is of that form with s ≤ Σλ, so the best p, q reach the dual optimum.

The primal is solved in factored form (Burer & Monteiro, Math. Program. 95, 2003): unit rows
Y (r×p), U (c×p), the rank p ≈ √(2(r + c)) (Barvinok–Pataki: some optimum has that rank).  The
objective tr(YᵀMU) is linear in each block, so the exact block maximisations Y ← normalised rows of
MU and U ← normalised rows of MᵀY ascend (the mixing method of Wang, Chang & Kolter, 2017, by
blocks of the bipartite graph).  At a stationary point the multipliers p_r = ‖(MU)_r‖,
q_l = ‖(MᵀY)_l‖ satisfy the KKT conditions.  Nothing here is trusted: `certify.verify` proves the
bound of the final multipliers.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np

from ..estimates import spectral_norm_estimate

__all__ = ["DualPoint", "dual_bound", "solve_dual"]

#: Multipliers below this fraction of the largest are raised to it (a zero one has no bound).
_FLOOR = 1e-12


class DualPoint(NamedTuple):
    """Row and column multipliers p, q > 0, the bound they give (an estimate), and the primal
    value tr(YᵀMU) reached (a lower estimate of the relaxation's value; NaN when none)."""

    rows: np.ndarray
    columns: np.ndarray
    value: float
    primal: float = math.nan


def dual_bound(M: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> float:
    """√(Σp·Σq)·‖P^-½MQ^-½‖₂ in floating point (an estimate; the checker proves it)."""
    scaled = M / np.sqrt(rows)[:, None] / np.sqrt(columns)[None, :]
    return math.sqrt(float(np.sum(rows)) * float(np.sum(columns))) * spectral_norm_estimate(scaled)


def solve_dual(M: np.ndarray, seconds: float, seed: int = 0, tolerance: float = 1e-6) -> DualPoint:
    """The best multipliers found within ``seconds``: the mixing method's, or the Schur-test
    weights (row and column sums of |M|), whose bound is at most Σ|M_rl|.  The dual bound is
    evaluated after the mixing steps of as long as its last evaluation took, and the method stops
    once it is within ``tolerance`` (relative) of the primal value."""
    start = time.monotonic()
    magnitude = np.abs(M)
    best = _point(M, magnitude.sum(axis=1), magnitude.sum(axis=0))
    r, c = M.shape
    rank = min(r + c, math.ceil(math.sqrt(2.0 * (r + c))) + 1)
    rng = np.random.default_rng(seed)
    U = _normalised(rng.standard_normal((c, rank)))
    Y = _normalised(M @ U)
    primal, next_check = -math.inf, time.monotonic()
    while time.monotonic() - start < seconds:
        image = M.T @ Y
        U = _normalised(image, U)
        rows_image = M @ U
        Y = _normalised(rows_image, Y)
        now = time.monotonic()
        if now >= next_check or now - start >= seconds:
            primal = max(primal, float(np.sum(np.linalg.norm(image, axis=1))))
            point = _point(M, np.linalg.norm(rows_image, axis=1), np.linalg.norm(image, axis=1))
            best = min(best, point, key=lambda p: p.value)
            if best.value - primal <= tolerance * best.value:
                break
            next_check = time.monotonic() + (time.monotonic() - now)
    return best._replace(primal=primal if math.isfinite(primal) else math.nan)


def _point(M: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> DualPoint:
    """The dual point of the multipliers, each raised to at least ``_FLOOR`` times the largest
    (all ones where every one vanishes: then M = 0 in floating point)."""
    rows, columns = _floored(rows), _floored(columns)
    return DualPoint(rows, columns, dual_bound(M, rows, columns))


def _floored(values: np.ndarray) -> np.ndarray:
    largest = float(np.max(values, initial=0.0))
    return np.maximum(values, _FLOOR * largest) if largest > 0.0 else np.ones_like(values)


def _normalised(rows: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Each row scaled to unit length; a vanishing row becomes the fallback's (or e₁)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    usable = norms > 0.0
    unit = rows / np.where(usable, norms, 1.0)
    if fallback is None:
        fallback = np.zeros_like(rows)
        fallback[:, 0] = 1.0
    return np.where(usable, unit, fallback)
