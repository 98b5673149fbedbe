"""Activation regions of a piecewise-linear layer, and linear programs over them.

For signs s ∈ {−1, +1}^k the open region R(s) = {x : s_i (w_i·x + b_i) > 0 for all i} is a
polyhedron on which f is affine with Jacobian A·diag(σ'(s))·W.  The Chebyshev-centre LP

    maximise τ  subject to  s_i (w_i·x + b_i) ≥ τ‖w_i‖,  τ ≤ 1

finds the largest ball (radius capped at 1) inside R(s): R(s) is non-empty iff τ* > 0.  Only
the float LP is solved here; a point it returns is re-checked rigorously by `certify.verify`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from models import TwoLayerNetwork

__all__ = ["RegionLP", "active_neurons", "chebyshev_center"]


@dataclass(frozen=True)
class RegionLP:
    """Solution of the Chebyshev-centre LP: the centre, the radius τ*, and the dual multipliers
    y ≥ 0 of the constraints (useful for Farkas proofs of emptiness when τ* ≤ 0)."""

    center: np.ndarray
    radius: float
    duals: np.ndarray

    @property
    def nonempty(self) -> bool:
        """Whether the float LP found a ball of positive radius (a claim, not a proof)."""
        return self.radius > 0.0


def active_neurons(net: TwoLayerNetwork) -> np.ndarray:
    """Indices of neurons that can change Lip(f): w_i ≠ 0 and A[:, i] ≠ 0.

    Any other neuron adds a constant to f (w_i = 0) or nothing at all (A[:, i] = 0).
    """
    return np.flatnonzero(np.any(net.W != 0, axis=1) & np.any(net.A != 0, axis=0))


def chebyshev_center(W: np.ndarray, b: np.ndarray, signs: np.ndarray) -> RegionLP | None:
    """Solve the Chebyshev-centre LP of the region with the given ±1 signs (rows of W non-zero).

    Returns None when HiGHS reports a failure other than optimality.
    """
    d = W.shape[1]
    norms = np.linalg.norm(W, axis=1)
    # Variables (x, τ); constraints −s_i w_i·x + ‖w_i‖ τ ≤ s_i b_i.
    G = np.hstack([-signs[:, None] * W, norms[:, None]])
    h = signs * b
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    bounds = [(None, None)] * d + [(None, 1.0)]
    result = linprog(cost, A_ub=G, b_ub=h, bounds=bounds, method="highs")
    if result.status != 0:
        return None
    duals = -np.asarray(result.ineqlin.marginals, dtype=np.float64)
    return RegionLP(center=result.x[:d], radius=float(result.x[-1]), duals=duals)
