"""Solvers for the LipSDP multipliers t: the Schur-complement form and the cone program.

LipSDP (Fazlyab, Robey, Hassani, Morari, Pappas, NeurIPS 2019, Theorem 1) proves Lip(f) ≤ √ρ
whenever t ≥ 0 and, with T = diag(t) and σ slope-restricted in [α, β],

    N(ρ, T) = [[2αβ·WᵀTW + ρI, −(α+β)·WᵀT], [−(α+β)·TW, 2T − AᵀA]] ⪰ 0.

Schur form.  Let C(t) = I_m − ½A·T⁻¹·Aᵀ.  For t > 0, 2T − AᵀA ≻ 0 ⟺ C(t) ≻ 0, and Woodbury gives
T(2T − AᵀA)⁻¹T = ½T + ¼AᵀC(t)⁻¹A, so the Schur complement of the lower-right block yields

    ρ(t) = λ_max(c_T·WᵀTW + c_C·(AW)ᵀC(t)⁻¹(AW)),   c_T = (β − α)²/2,  c_C = (α + β)²/4,

the least ρ with N(ρ, T) ⪰ 0 (c_T = (α + β)²/2 − 2αβ).  ρ is convex in t; with v the top
eigenvector and p = Wv, q = C(t)⁻¹Ap, Danskin's theorem and dC⁻¹/dt_i = −C⁻¹a_ia_iᵀC⁻¹/(2t_i²) give
the (sub)gradient ∂ρ/∂t_i = c_T·p_i² − c_C·(a_iᵀq)²/(2t_i²).  The top eigenvalue is typically
multiple at the optimum, so LipSDP-Neuron minimises a smoothed ρ_μ (`SchurForm.smoothed`) whose
gradient averages this formula over the eigenvectors.

Nothing here is trusted: the method recomputes ρ from t and `certify.verify` proves the LMI.
"""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np
from scipy.optimize import minimize, minimize_scalar

__all__ = ["SchurForm", "minimise_layer", "minimise_neuron", "safe_multipliers", "solve_cone"]

#: Eigenvalues below this fraction of λ_max count as zero (their eigenvectors are noise).
_RANK_TOLERANCE = 1e-12
#: How far, in log t, LipSDP-Neuron's multipliers may fall below their start.
_LOG_DOWN = 50.0
#: Multipliers stay below t_i‖w_i‖² = 10⁶·ρ.  Since c_T·t_i·w_iw_iᵀ ⪯ G(t), every t with
#: ρ(t) ≤ ρ meets it when c_T ≥ 10⁻⁶; only for α ≈ β does ρ keep decreasing as t → ∞, and
#: beyond it the LMI cancels terms of size t‖W‖² down to ρ, which floating point cannot verify.
_CEILING = 1e6


class SchurForm:
    """ρ(t) and its gradient for fixed W (k×d), A (m×k) and slope bounds [α, β].

    λ_max is taken in the smaller of the d×d space or the (k+m)×(k+m) space of BBᵀ, where
    B = [√c_T·T^½W; √c_C·L⁻¹AW] with C = LLᵀ, since c_T·WᵀTW + c_C·(AW)ᵀC⁻¹AW = BᵀB.
    """

    def __init__(self, W: np.ndarray, A: np.ndarray, alpha: float, beta: float) -> None:
        self.W = np.asarray(W, dtype=np.float64)
        self.A = np.asarray(A, dtype=np.float64)
        self.c_T = 0.5 * (beta - alpha) ** 2
        self.c_C = 0.25 * (alpha + beta) ** 2
        k, d = self.W.shape
        self.input_space = d <= k + self.A.shape[0]
        self._AW = self.A @ self.W if self.input_space else None
        self._gram = None if self.input_space else self.W @ self.W.T

    @property
    def size(self) -> int:
        """Number of multipliers k."""
        return self.W.shape[0]

    def cholesky(self, t: np.ndarray) -> np.ndarray | None:
        """Lower Cholesky factor of C(t), or None when C(t) is not (numerically) definite."""
        if not np.all(np.isfinite(t) & (t > 0)):
            return None
        C = np.eye(self.A.shape[0]) - 0.5 * (self.A / t) @ self.A.T
        try:
            factor = np.linalg.cholesky(C)
        except np.linalg.LinAlgError:
            return None
        return factor if np.all(np.isfinite(factor)) else None

    def value(self, t: np.ndarray) -> float:
        """ρ(t), or inf when C(t) is not definite."""
        factor = self.cholesky(t)
        if factor is None:
            return math.inf
        H, _ = self._spectral_matrix(t, factor)
        return max(float(np.linalg.eigvalsh(H)[-1]), 0.0)

    def smoothed(self, t: np.ndarray, mu: float) -> tuple[float, np.ndarray, float]:
        """ρ_μ(t) = μ·log Σ_j exp(λ_j/μ) over the eigenvalues λ_j > 10⁻¹²·λ_max of G(t) (those
        that both spaces share), its gradient, and ρ(t).

        ρ ≤ ρ_μ ≤ ρ + μ·log n, and ρ_μ is smooth, unlike λ_max where the top eigenvalue is
        multiple, as it typically is at the optimum.  Returns (inf, 0, inf) when C(t) is not
        definite.
        """
        factor = self.cholesky(t)
        if factor is None:
            return math.inf, np.zeros_like(t), math.inf
        H, R = self._spectral_matrix(t, factor)
        values, vectors = np.linalg.eigh(H)
        top = float(values[-1])
        if top <= 0.0:
            return 0.0, np.zeros_like(t), 0.0
        nonzero = values > _RANK_TOLERANCE * top
        values, P = values[nonzero], R @ vectors[:, nonzero]
        if not self.input_space:
            P /= np.sqrt(values)
        weights = np.exp((values - top) / mu)
        total = float(np.sum(weights))
        Q = np.linalg.solve(factor.T, np.linalg.solve(factor, self.A @ P))
        slopes = self.c_T * P**2 - self.c_C * (self.A.T @ Q) ** 2 / (2.0 * t[:, None] ** 2)
        return top + mu * math.log(total), slopes @ (weights / total), top

    def _spectral_matrix(self, t: np.ndarray, factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H with the spectrum of G(t) (up to zeros), and R with W·v = R·y for eigenvectors
        y of H (divided by √λ in the (k+m)-space, where v = Bᵀy/√λ and B = MW)."""
        if self.input_space:
            X = np.linalg.solve(factor, self._AW)
            return self.c_T * (self.W.T * t) @ self.W + self.c_C * X.T @ X, self.W
        M = np.vstack([math.sqrt(self.c_T) * np.diag(np.sqrt(t)),
                       math.sqrt(self.c_C) * np.linalg.solve(factor, self.A)])
        return M @ self._gram @ M.T, self._gram @ M.T


def safe_multipliers(A: np.ndarray) -> np.ndarray:
    """t_i = ‖a_i‖·Σ_j‖a_j‖: then ½A·T⁻¹·Aᵀ ⪯ ½I, so C(t) ⪰ ½I (needs every a_i ≠ 0)."""
    norms = np.linalg.norm(A, axis=0)
    return norms * float(np.sum(norms))


class _OutOfTime(Exception):
    """Raised inside an objective once the deadline has passed."""


class _Best:
    """The least finite ρ seen so far and its multipliers; enforces the deadline."""

    def __init__(self, rho: float, t: np.ndarray, seconds: float) -> None:
        self.rho, self.t = rho, t
        self.deadline = time.monotonic() + seconds

    def record(self, rho: float, t: np.ndarray) -> None:
        if time.monotonic() > self.deadline:
            raise _OutOfTime
        if rho < self.rho:
            self.rho, self.t = rho, t.copy()


def minimise_layer(form: SchurForm, seconds: float) -> np.ndarray:
    """LipSDP-Layer (T = t·I): bounded Brent search on log t between the pole t = ‖A‖₂²/2 and
    the ceiling.

    ρ(t·1) is convex in t, hence unimodal in log t.
    """
    ones = np.ones(form.size)
    t_low = _layer_pole(form)
    start = 2.0 * t_low * ones  # for ReLU this already gives ρ ≤ (‖A‖₂‖W‖₂)²
    best = _Best(form.value(start), start, seconds)
    t_high = max(2.0 * t_low, float(np.min(_ceiling(form, best.rho))))

    def objective(log_t: float) -> float:
        t = math.exp(log_t) * ones
        rho = form.value(t)
        best.record(rho, t)
        return rho

    low = math.log(t_low)
    with contextlib.suppress(_OutOfTime):
        minimize_scalar(objective, bounds=(low, math.log(t_high)), method="bounded",
                        options={"xatol": 1e-10, "maxiter": 500})
    return best.t


def _ceiling(form: SchurForm, rho: float) -> np.ndarray:
    """The largest multipliers worth trying: t_i = 10⁶·ρ / ‖w_i‖²."""
    return _CEILING * rho / np.sum(form.W**2, axis=1)


def _layer_pole(form: SchurForm) -> float:
    """Just above ‖A‖₂²/2, the pole of ρ(t·1): the least t, up to a small factor, with C(t·1)
    numerically definite."""
    ones = np.ones(form.size)
    pole = 0.5 * float(np.linalg.eigvalsh(form.A @ form.A.T)[-1])
    for factor in (1.0 + 1e-12, 1.0 + 1e-9, 1.0 + 1e-6, 1.0 + 1e-3, 2.0):
        if math.isfinite(form.value(pole * factor * ones)):
            return pole * factor
    return float(np.max(safe_multipliers(form.A)))


def minimise_neuron(form: SchurForm, start: np.ndarray, seconds: float) -> np.ndarray:
    """LipSDP-Neuron: L-BFGS-B on u = log t (below the ceiling) for ρ_μ, continued over
    μ = 10⁻²ρ, …, 10⁻⁸ρ with warm starts; returns the multipliers with the least ρ(t) seen.

    Infeasible trial points (C(t) not definite) get a large finite value, so the line search
    backtracks.
    """
    best = _Best(form.value(start), start, seconds)
    if best.rho == 0.0:
        return start
    penalty = 1e6 * (1.0 + best.rho)

    def objective(u: np.ndarray, mu: float) -> tuple[float, np.ndarray]:
        t = np.exp(u)
        value, gradient, rho = form.smoothed(t, mu)
        best.record(rho, t)
        if not math.isfinite(value):
            return penalty, np.zeros_like(u)
        return value, gradient * t

    u = np.log(start)
    high = np.maximum(u, np.log(_ceiling(form, best.rho)))
    box = list(zip(u - _LOG_DOWN, high, strict=True))
    with contextlib.suppress(_OutOfTime):
        for exponent in range(2, 9):
            u = minimize(objective, u, args=(best.rho * 10.0**-exponent,), jac=True,
                         method="L-BFGS-B", bounds=box,
                         options={"maxiter": 5_000, "ftol": 1e-15, "gtol": 0.0}).x
    return best.t


def solve_cone(
    W: np.ndarray, A: np.ndarray, alpha: float, beta: float, layer: bool, seconds: float
) -> np.ndarray | None:
    """The LMI as written, minimising ρ over (ρ, t ≥ 0) with cvxpy + SCS; None on failure.

    W and A are first divided by their Frobenius norms s_W, s_A: the LMI of the scaled net
    with (ρ', t') is congruent to the original one with (s_W²s_A²ρ', s_A²t').
    """
    import cvxpy as cp

    scale_W, scale_A = float(np.linalg.norm(W)), float(np.linalg.norm(A))
    W, A = W / scale_W, A / scale_A
    k, d = W.shape
    t = cp.Variable(() if layer else k, nonneg=True)
    rho = cp.Variable()
    T = t * np.eye(k) if layer else cp.diag(t)
    WtT = W.T @ T
    N = cp.bmat([
        [2.0 * alpha * beta * WtT @ W + rho * np.eye(d), -(alpha + beta) * WtT],
        [-(alpha + beta) * WtT.T, 2.0 * T - A.T @ A],
    ])
    problem = cp.Problem(cp.Minimize(rho), [0.5 * (N + N.T) >> 0])
    try:
        problem.solve(solver=cp.SCS, eps_abs=1e-8, eps_rel=1e-8,
                      time_limit_secs=max(seconds, 1e-3))
    except cp.SolverError:
        return None
    if t.value is None or problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return None
    return scale_A**2 * np.broadcast_to(np.asarray(t.value, dtype=np.float64), (k,)).copy()
