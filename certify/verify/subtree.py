"""Proven values of the subtree bound ‖L_s‖₂·‖R_s‖₂ of `certify.upper.subtree`, re-derived here.

L_s = [s₀I_m, (s_j/ρ_j)·a_j] and R_s = [G₀/s₀; (hρ_j/s_j)·w_jᵀ] for the free neurons j, with
G₀ = A·diag(t)·W, t = σ'(prefix) on the prefix and μ = (σ'₋ + σ'₊)/2 on the free neurons, h an
upper bound on |σ'± − μ|; the bound holds for any positive ρ_j, and the search's (the float
‖a_j‖, recomputed here alike) keep its scaling meaningful.  G₀ is computed exactly in rationals
(every double is one) and rounded once to the nearest doubles, so each entry errs by at most
u·|G₀| + 2⁻¹⁰⁷⁴ even where its terms cancel, to an exact zero for instance; the division by s₀
adds one rounding.  The entries of L_s take two roundings and those of R_s three, each a relative
error of at most u (plus underflow).  With E the entrywise bound on these errors,
‖X‖₂ ≤ ‖fl(X)‖₂ + ‖E‖_F, the first term proven by `spectral_norm_upper` (Higham, *Accuracy and
Stability of Numerical Algorithms*, §2.2 and §3.5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from flint import fmpq, fmpq_mat

from models import TwoLayerNetwork

from .floating import TINY, UNIT_ROUNDOFF, frobenius_upper, gamma, up
from .neurons import side_slopes
from .norms import spectral_norm_upper

__all__ = ["ProvenSubtreeBound"]


def _rational(x: float) -> fmpq:
    return fmpq(*float(x).as_integer_ratio())


class ProvenSubtreeBound:
    """Proven ‖L_s‖₂·‖R_s‖₂ for the neurons of ``order`` (the first ones fixed by a sign prefix)."""

    def __init__(self, net: TwoLayerNetwork, order: Sequence[int]) -> None:
        self.floating_A, self.floating_W = net.A[:, list(order)], net.W[list(order)]
        self.negative, self.positive = side_slopes(net.activation)
        self.middle = 0.5 * (self.negative + self.positive)
        self.half = up(max(abs(self.negative - self.middle), abs(self.positive - self.middle)))
        self.rho = np.linalg.norm(self.floating_A, axis=0)
        self.A = [[_rational(a) for a in row] for row in self.floating_A.tolist()]
        W = self.floating_W
        self.W = fmpq_mat(W.shape[0], W.shape[1], [_rational(w) for w in W.ravel().tolist()])

    def slopes(self, signs: Sequence[int]) -> np.ndarray:
        """t: σ'(s_j) on the prefix, μ on the free neurons."""
        t = np.full(self.floating_W.shape[0], self.middle)
        t[: len(signs)] = [self.positive if s > 0 else self.negative for s in signs]
        return t

    def centre(self, signs: Sequence[int]) -> np.ndarray:
        """fl(G₀), each entry the double nearest to the exact one (±inf beyond the range)."""
        t = [_rational(s) for s in self.slopes(signs).tolist()]
        m, k = len(self.A), len(t)
        scaled = fmpq_mat(m, k, [a * s for row in self.A for a, s in zip(row, t, strict=True)])
        exact = scaled * self.W
        return np.array([[_nearest(exact[r, c]) for c in range(exact.ncols())] for r in range(m)])

    def __call__(self, signs: Sequence[int], scaling: np.ndarray) -> float:
        """A proven upper bound on ‖J_s‖₂ over the completions s of ``signs``; ``scaling`` must
        hold 1 + (number of free neurons) finite positive floats."""
        depth, m = len(signs), len(self.A)
        A, W = self.floating_A[:, depth:], self.floating_W[depth:]
        rho = self.rho[depth:]
        if not np.all(np.isfinite(rho) & (rho > 0.0)):
            return math.inf
        left = np.hstack([scaling[0] * np.eye(m), A * (scaling[1:] / rho)])
        centre = self.centre(signs) / scaling[0]
        rows = ((self.half * rho) / scaling[1:])[:, None] * W
        right = np.vstack([centre, rows])
        right_error = np.vstack(
            [gamma(2) * np.abs(centre) + TINY / scaling[0], gamma(3) * np.abs(rows)]
        )
        return up(
            _norm_upper(left, gamma(2) * np.abs(left))
            * _norm_upper(right, right_error)
            * (1.0 + 2.0 * UNIT_ROUNDOFF)
        )


def _norm_upper(X: np.ndarray, error: np.ndarray) -> float:
    """A proven bound on ‖X*‖₂ for every X* with |X* − X| ≤ error (+ underflow) entrywise."""
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(error))):
        return math.inf
    return up(spectral_norm_upper(X) + frobenius_upper(error + TINY))


def _nearest(value: fmpq) -> float:
    """The double nearest to a rational (Python's int division rounds correctly)."""
    try:
        return int(value.p) / int(value.q)
    except OverflowError:
        return math.copysign(math.inf, int(value.p))
