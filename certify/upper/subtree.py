"""Upper bounds on ‖J_s‖₂ over every completion s of a sign prefix: the pruning bound of `exact`.

Write σ'(s_j) = μ + e_j, with μ the mean of the two slopes σ'₋, σ'₊ of a piecewise-linear σ, so
|e_j| ≤ h.  For a prefix with free neurons F, every completion has the Jacobian
J = G₀ + Σ_{j∈F} e_j·a_j w_jᵀ, where G₀ = A·diag(t)·W with t = σ'(prefix) on the prefix and μ on F.
For unit u, v, any s > 0 and any ρ_j > 0 (here ρ_j = ‖a_j‖), Cauchy–Schwarz gives

    uᵀJv ≤ ‖G₀v‖ + Σ_j h|u·a_j||w_j·v| ≤ ‖L_sᵀu‖·‖R_s v‖ ≤ ‖L_s‖₂·‖R_s‖₂,
    L_s = [s₀I_m, (s_j/ρ_j)·a_j]_{j∈F},   R_s = [G₀/s₀; (hρ_j/s_j)·w_jᵀ]_{j∈F},

so ‖J‖₂ ≤ ‖L_s‖₂·‖R_s‖₂ (for m = 1, ‖L_s‖₂ = ‖s‖₂).  Minimising over s is the dual of the
semidefinite relaxation

    max φ = ‖G₀Y‖_F + h·Σ_j ‖Xᵀa_j‖·‖Yᵀw_j‖   over ‖X‖_F = ‖Y‖_F = 1  (X: m × r, Y: d × r′),

whose optimum has s_j² ∝ ‖Yᵀw_j‖·ρ_j² / ‖Xᵀa_j‖ (and s₀² ∝ ‖G₀Y‖_F); for m = 1 it is the
relaxation of max ‖J‖₂ over the cube of the e_j (Goemans and Williamson, JACM 42, 1995; Nesterov,
Optim. Methods Softw. 9, 1998).  φ is convex in X and in Y, so the generalized power method —
X ← ∇_X φ/‖∇_X φ‖_F, then the same for Y — increases it at every step (Journée, Nesterov,
Richtárik, Sepulchre, JMLR 11, 2010).  Any s > 0 gives a valid bound: this module only proposes
s, in floating point, and `certify.verify.subtree` proves the bound it gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from models import TwoLayerNetwork

from ..estimates import spectral_norm_estimate
from ..verify.floating import up
from ..verify.neurons import side_slopes

__all__ = ["Iterate", "SubtreeBound"]


class Iterate(NamedTuple):
    """The relaxation's variables: X (m × r, output side) and Y (d × r′, input side)."""

    left: np.ndarray
    right: np.ndarray


class SubtreeBound:
    """‖L_s‖₂·‖R_s‖₂ for the neurons of ``order`` (the first ones fixed by a sign prefix)."""

    def __init__(self, net: TwoLayerNetwork, order: Sequence[int]) -> None:
        self.A = net.A[:, list(order)]
        self.W = net.W[list(order)]
        self.negative, self.positive = side_slopes(net.activation)
        self.middle = 0.5 * (self.negative + self.positive)
        self.half = up(max(abs(self.negative - self.middle), abs(self.positive - self.middle)))
        self.norms = np.linalg.norm(self.A, axis=0)
        self.weights = self.half * self.norms

    @property
    def size(self) -> int:
        """Number of neurons in the order."""
        return self.W.shape[0]

    def slopes(self, signs: Sequence[int]) -> np.ndarray:
        """t: σ'(s_j) on the prefix, μ on the free neurons."""
        t = np.full(self.size, self.middle)
        t[: len(signs)] = [self.positive if s > 0 else self.negative for s in signs]
        return t

    def centre(self, signs: Sequence[int]) -> np.ndarray:
        """G₀ = A·diag(t)·W (in floating point)."""
        return (self.A * self.slopes(signs)) @ self.W

    def estimate(self, centre: np.ndarray, depth: int, scaling: np.ndarray) -> float:
        """‖L_s‖₂·‖R_s‖₂ in floating point, for the prefix of length ``depth`` with G₀ = centre."""
        return spectral_norm_estimate(self.left(depth, scaling)) * spectral_norm_estimate(
            self.right(centre, depth, scaling)
        )

    def left(self, depth: int, scaling: np.ndarray) -> np.ndarray:
        """L_s = [s₀I_m, (s_j/ρ_j)·a_j] (in floating point)."""
        columns = self.A[:, depth:] * (scaling[1:] / self.norms[depth:])
        return np.hstack([scaling[0] * np.eye(self.A.shape[0]), columns])

    def right(self, centre: np.ndarray, depth: int, scaling: np.ndarray) -> np.ndarray:
        """R_s = [G₀/s₀; (hρ_j/s_j)·w_jᵀ] (in floating point)."""
        rows = (self.weights[depth:] / scaling[1:])[:, None] * self.W[depth:]
        return np.vstack([centre / scaling[0], rows])

    def start(self, centre: np.ndarray, depth: int, rank: int, rng: np.random.Generator) -> Iterate:
        """X = I_m/√m, and Y = R₁ᵀZ for a Gaussian Z (R₁: R_s at s = 1), normalised."""
        rows = np.vstack([centre, self.weights[depth:, None] * self.W[depth:]])
        right = rows.T @ rng.standard_normal((rows.shape[0], rank))
        return Iterate(_normalised(np.eye(self.A.shape[0])), _normalised(right))

    def ascend(
        self, centre: np.ndarray, depth: int, iterate: Iterate, steps: int
    ) -> tuple[Iterate, float]:
        """``steps`` generalized power steps on Y, then X; returns the last iterate and its φ, a
        lower bound on min over s of ‖L_s‖₂·‖R_s‖₂."""
        left, right = iterate
        for _ in range(steps):
            right = _normalised(self._right_gradient(centre, depth, left, right))
            left = _normalised(self._left_gradient(centre, depth, left, right))
        iterate = Iterate(left, right)
        p, q = self._terms(centre, depth, iterate)
        return iterate, float(p @ q)

    def scaling(self, centre: np.ndarray, depth: int, iterate: Iterate) -> np.ndarray:
        """s_t² = φ·q_t/p_t for the terms φ = Σ_t p_t q_t of the iterate, clamped to
        [‖G_t‖₂², φ²] (G_j = h·a_j w_jᵀ).

        Scaled so that ‖R_s‖₂ ≈ 1 and ‖L_s‖₂ ≈ φ at the optimum, every row of R_s has norm at most
        1 and every column of L_s at most φ: the clamps keep a neuron that the iterate does not
        see from blowing up its row or column.
        """
        p, q = self._terms(centre, depth, iterate)
        value = float(p @ q)
        floor = np.concatenate(
            [
                [spectral_norm_estimate(centre)],
                self.weights[depth:] * np.linalg.norm(self.W[depth:], axis=1),
            ]
        )
        ratio = value * q * _inverse(p, value**2)
        squares = np.clip(ratio, floor**2, max(value**2, float(np.max(floor**2))))
        return np.sqrt(np.where(squares > 0, squares, 1.0))

    def _terms(self, centre: np.ndarray, depth: int, iterate: Iterate) -> np.ndarray:
        """(p_t, q_t) with φ = Σ_t p_t q_t: p₀ = ‖X‖_F, p_j = ‖Xᵀa_j‖/ρ_j, q₀ = ‖G₀Y‖_F and
        q_j = hρ_j‖Yᵀw_j‖."""
        left, right = iterate
        p = _lengths(self.A[:, depth:].T @ left) / self.norms[depth:]
        q = self.weights[depth:] * _lengths(self.W[depth:] @ right)
        return np.array(
            [
                np.concatenate([[np.linalg.norm(left)], p]),
                np.concatenate([[np.linalg.norm(centre @ right)], q]),
            ]
        )

    def _right_gradient(
        self, centre: np.ndarray, depth: int, left: np.ndarray, right: np.ndarray
    ) -> np.ndarray:
        """∇_Y φ = ‖X‖_F·G₀ᵀG₀Y/‖G₀Y‖_F + h·Σ_j ‖Xᵀa_j‖·w_j(w_jᵀY)/‖Yᵀw_j‖ (where defined)."""
        W = self.W[depth:]
        projections = W @ right
        factors = self.half * _lengths(self.A[:, depth:].T @ left) * _inverse(_lengths(projections))
        gradient = (W.T * factors) @ projections
        image = centre @ right
        norm = float(np.linalg.norm(image))
        if norm > 0:
            gradient += float(np.linalg.norm(left)) / norm * (centre.T @ image)
        return gradient

    def _left_gradient(
        self, centre: np.ndarray, depth: int, left: np.ndarray, right: np.ndarray
    ) -> np.ndarray:
        """∇_X φ = ‖G₀Y‖_F·X/‖X‖_F + h·Σ_j ‖Yᵀw_j‖·a_j(a_jᵀX)/‖Xᵀa_j‖ (where defined)."""
        A = self.A[:, depth:]
        outputs = A.T @ left
        factors = self.half * _lengths(self.W[depth:] @ right) * _inverse(_lengths(outputs))
        centred = float(np.linalg.norm(centre @ right)) * _normalised(left)
        return (A * factors) @ outputs + centred


def _lengths(rows: np.ndarray) -> np.ndarray:
    return np.linalg.norm(rows, axis=1)


def _inverse(values: np.ndarray, zero: float = 0.0) -> np.ndarray:
    """1/x where x > 0, ``zero`` elsewhere."""
    return np.divide(1.0, values, out=np.full_like(values, zero), where=values > 0)


def _normalised(Y: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(Y))
    return Y / norm if norm > 0 else Y
