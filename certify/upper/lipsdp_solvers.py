"""The Schur form of LipSDP with per-neuron slope intervals, its dual lower bound, and
first-order solvers for the multipliers t.

Centred LMI.  Let neuron i have slopes in [α_i, β_i] (the activation's sector, or an interval
valid on a domain): with Δv = WΔx, Δz = σ(v + Δv) − σ(v), γ_i = (α_i + β_i)/2 and
h_i = (β_i − α_i)/2, every Δz_i = γ_iΔv_i + δ_i with δ_i² ≤ h_i²Δv_i², so Δf = BΔx + A_Fδ_F with
B = A·diag(γ)·W.  Neurons with α_i = β_i have δ_i = 0 and drop out of δ; the others form F.  If

    M(ρ, t) = [[ρI − VᵀTV − BᵀB, −BᵀA_F], [−A_FᵀB, 2T − A_FᵀA_F]] ⪰ 0,
    T = diag(t), t ≥ 0, V = diag(√2·h_F)·W_F,

then ρ‖Δx‖² − ‖Δf‖² ≥ 2Σ_F t_i(h_i²Δv_i² − δ_i²) ≥ 0 (the quadratic form of M at (Δx, δ_F)),
so Lip(f) ≤ √ρ: the S-procedure of LipSDP-Neuron (Fazlyab, Robey, Hassani, Morari, Pappas,
NeurIPS 2019, Theorem 1).  For one interval [α, β] for all neurons M is congruent to their
N(ρ, T) (substitute Δz = γWΔx + δ), with V = √c_T·W, B = √c_C·AW, c_T = (β − α)²/2,
c_C = (α + β)²/4.

Schur form.  Let C(t) = I_m − ½A_F·T⁻¹·A_Fᵀ.  For t > 0, 2T − A_FᵀA_F ≻ 0 ⟺ C(t) ≻ 0, and
Woodbury gives I + A_F(2T − A_FᵀA_F)⁻¹A_Fᵀ = C(t)⁻¹, so the Schur complement of the lower-right
block of M yields

    ρ(t) = λ_max(G(t)),   G(t) = VᵀTV + BᵀC(t)⁻¹B,

the least ρ with M(ρ, t) ⪰ 0.  ρ is convex in t (t ↦ C(t)⁻¹ is matrix-convex); with y the top
eigenvector, Danskin's theorem and dC⁻¹/dt_i = −C⁻¹a_ia_iᵀC⁻¹/(2t_i²) give the (sub)gradient
∂ρ/∂t_i = (v_iᵀy)² − (a_iᵀC⁻¹By)²/(2t_i²).  The top eigenvalue is typically multiple at the
optimum, so the first-order LipSDP-Neuron solver minimises a smoothed ρ_μ (`SchurForm.smoothed`)
whose gradient averages this formula over the eigenvectors; the interior-point solver is
`certify.upper.lipsdp_barrier`.

Nothing here is trusted: the method recomputes ρ from t and `certify.verify` proves the LMI.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.optimize import minimize, minimize_scalar

__all__ = [
    "EIGENSPACE",
    "Centred",
    "SchurForm",
    "Smoothed",
    "Solution",
    "eigenspace_lower_bound",
    "eigenspace_pays",
    "largest",
    "minimise_layer",
    "minimise_neuron",
    "safe_multipliers",
    "sdp_lower_bound",
]

#: Eigenvalues below this fraction of λ_max count as zero (their eigenvectors are noise).
_RANK_TOLERANCE = 1e-12
#: ρ_μ keeps the eigenvalues above λ_max − 40μ (the others weigh less than e^-40 ≈ 4·10⁻¹⁸), and
#: asks for at least this many eigenpairs.
_SOFTMAX_RANGE, _FEWEST_EIGENPAIRS = 40.0, 8
#: Sweeps over the smoothing stages of the first-order LipSDP-Neuron solver.
_SWEEPS = 8
#: How far, in log t, LipSDP-Neuron's multipliers may fall below their start.
_LOG_DOWN = 50.0
#: `eigenspace_lower_bound` tries the eigenvectors with λ ≥ (1 − τ)·λ_max for these τ, at most
#: this many of them (its least-squares problem has r(r + 1)/2 unknowns).
_WIDTHS, EIGENSPACE = (1e-3, 1e-2, 1e-1), 16
#: Solvers compute that bound (a dense eigenproblem, or k·r⁴ work) only once ρ is within this
#: many times the tolerance's gap of the lower bound they have.
_EIGENSPACE_GATE = 50.0


@dataclass(frozen=True)
class Centred:
    """The centred LMI's data (module docstring): V (|F|×d) and A_F (m×|F|) over the neurons F
    with α_i < β_i, flagged by ``free``, and B = A·diag(γ)·W (m×d) over all neurons."""

    V: np.ndarray
    A: np.ndarray
    B: np.ndarray
    free: np.ndarray

    @classmethod
    def of(cls, W: np.ndarray, A: np.ndarray, lower: object, upper: object) -> Centred:
        """From W (k×d), A (m×k) and slope bounds α ≤ β (scalars, or one per neuron)."""
        W, A = np.asarray(W, dtype=np.float64), np.asarray(A, dtype=np.float64)
        alpha = np.broadcast_to(np.asarray(lower, dtype=np.float64), W.shape[:1])
        beta = np.broadcast_to(np.asarray(upper, dtype=np.float64), W.shape[:1])
        if not np.all(alpha <= beta):
            raise ValueError("every slope interval needs α_i ≤ β_i")
        free = beta > alpha
        V = ((beta - alpha)[free] / math.sqrt(2.0))[:, None] * W[free]
        return cls(V, A[:, free], (A * (0.5 * (alpha + beta))) @ W, free)

    def expand(self, t: np.ndarray) -> np.ndarray:
        """Multipliers for all k neurons: t on the free ones, +inf (δ_i = 0) on the others."""
        full = np.full(self.free.shape, np.inf)
        full[self.free] = t
        return full


@dataclass(frozen=True)
class Solution:
    """Multipliers t, with ρ(t) and a lower bound on min_t ρ(t) when a solver computed them."""

    t: np.ndarray
    lower: float | None = None
    rho: float | None = None


@dataclass(frozen=True)
class Smoothed:
    """ρ_μ(t), its gradient, ρ(t), and the dual lower bound of the softmax weights."""

    value: float
    gradient: np.ndarray
    rho: float
    lower: float | None


class SchurForm:
    """ρ(t) and its gradient for the centred data (V, A_F, B).

    λ_max is taken in the smaller of the d×d space or the (|F|+m)×(|F|+m) space of ℬℬᵀ, where
    ℬ = [T^½V; L⁻¹B] with C = LLᵀ, since VᵀTV + BᵀC⁻¹B = ℬᵀℬ.
    """

    def __init__(self, data: Centred) -> None:
        self.data = data
        self.V, self.A, self.B = data.V, data.A, data.B
        k, d = self.V.shape
        self.input_space = d <= k + self.B.shape[0]
        stacked = np.vstack([self.V, self.B])
        self._stacked = stacked if self.input_space else None
        self._gram = None if self.input_space else stacked @ stacked.T
        self._count = _FEWEST_EIGENPAIRS

    @property
    def size(self) -> int:
        """Number of multipliers |F|."""
        return self.V.shape[0]

    def cholesky(self, t: np.ndarray) -> np.ndarray | None:
        """Lower Cholesky factor of C(t), or None when C(t) is not (numerically) definite."""
        if t.shape != (self.size,) or not np.all(np.isfinite(t) & (t > 0)):
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
        return _top_eigenvalue(H)

    def smoothed(self, t: np.ndarray, mu: float, eigenspace: bool = False) -> Smoothed:
        """ρ_μ(t) = μ·log Σ_j exp(λ_j/μ) over the eigenvalues λ_j > 10⁻¹²·λ_max of G(t) (those
        that both spaces share), its gradient, ρ(t), and `sdp_lower_bound` at the softmax
        weights S = Σ_j softmax(λ/μ)_j·y_jy_jᵀ with X = C(t)⁻¹ (and, if ``eigenspace``, the
        larger `eigenspace_lower_bound` when it is).

        ρ ≤ ρ_μ ≤ ρ + μ·log n, and ρ_μ is smooth, unlike λ_max where the top eigenvalue is
        multiple, as it typically is at the optimum.  Returns (inf, 0, inf, None) when C(t) is
        not definite.
        """
        factor = self.cholesky(t)
        if factor is None:
            return Smoothed(math.inf, np.zeros_like(t), math.inf, None)
        H, R = self._spectral_matrix(t, factor)
        values, vectors = self._top_eigenpairs(H, mu)
        top = float(values[-1])
        if top <= 0.0:
            return Smoothed(0.0, np.zeros_like(t), 0.0, None)
        kept = values > max(_RANK_TOLERANCE * top, top - _SOFTMAX_RANGE * mu)
        values, P = values[kept], R @ vectors[:, kept]
        if not self.input_space:
            P /= np.sqrt(values)
        exponentials = np.exp((values - top) / mu)
        total = float(np.sum(exponentials))
        weights = exponentials / total
        PV, PB = P[: self.size], P[self.size :]
        factor_inv = scipy.linalg.solve_triangular(factor, np.eye(factor.shape[0]), lower=True)
        C_inv = factor_inv.T @ factor_inv
        slopes = PV**2 - (self.A.T @ (C_inv @ PB)) ** 2 / (2.0 * t[:, None] ** 2)
        lower = sdp_lower_bound(self.A, PV**2 @ weights, (PB * weights) @ PB.T, C_inv)
        if eigenspace:
            lower = largest(lower, eigenspace_lower_bound(self.A, t, C_inv, values, PV, PB))
        return Smoothed(top + mu * math.log(total), slopes @ weights, top, lower)

    def _top_eigenpairs(self, H: np.ndarray, mu: float) -> tuple[np.ndarray, np.ndarray]:
        """The eigenpairs of H within ``_SOFTMAX_RANGE``·μ of the top (possibly a few more): the
        others weigh less than e^-40 in ρ_μ.  Asks LAPACK for twice as many as last time and
        doubles until the range is covered."""
        n = H.shape[0]
        count = self._count
        while True:
            if 2 * count >= n:
                values, vectors = np.linalg.eigh(H)
                break
            values, vectors = scipy.linalg.eigh(
                H, subset_by_index=[n - count, n - 1], driver="evr", check_finite=False
            )
            if values[0] < values[-1] - _SOFTMAX_RANGE * mu:
                break
            count *= 2
        inside = int(np.sum(values >= values[-1] - _SOFTMAX_RANGE * mu))
        self._count = max(_FEWEST_EIGENPAIRS, 2 * inside)
        return values, vectors

    def _spectral_matrix(self, t: np.ndarray, factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H with the spectrum of G(t) (up to zeros), and R with [V; B]·x = R·y for eigenvectors
        y of H (divided by √λ in the (|F|+m)-space, where x = ℬᵀy/√λ)."""
        if self.input_space:
            X = scipy.linalg.solve_triangular(factor, self.B, lower=True)
            return (self.V.T * t) @ self.V + X.T @ X, self._stacked
        inverse = scipy.linalg.solve_triangular(factor, np.eye(factor.shape[0]), lower=True)
        M = scipy.linalg.block_diag(np.diag(np.sqrt(t)), inverse)
        R = self._gram @ M.T
        return M @ R, R


def sdp_lower_bound(A: np.ndarray, sigma: np.ndarray, Q: np.ndarray, X: np.ndarray) -> float | None:
    """A lower bound on min_t ρ(t) from any S ⪰ 0 with tr S = 1, given σ_i = v_iᵀSv_i and
    Q = BSBᵀ, and any m×m matrix X (best near C(t*)⁻¹); None if it says nothing.

    Weak duality: ρ(t) ≥ ⟨G(t), S⟩ = Σ t_iσ_i + tr(C⁻¹Q), and
    ‖C^-½Q^½ − C^½XᵀQ^½‖²_F ≥ 0 gives tr(C⁻¹Q) ≥ 2tr(XQ) − tr(XCXᵀQ), where
    tr(XCXᵀQ) = tr(XᵀQX) − ½Σ a_iᵀXᵀQXa_i/t_i.  By AM–GM,
    t_iσ_i + ½a_iᵀXᵀQXa_i/t_i ≥ √(2σ_i·a_iᵀXᵀQXa_i) for every t_i > 0, so every feasible t has
    ρ(t) ≥ λ·L − λ²·tr(XᵀQX) for all λ ≥ 0 (X replaced by λX), with
    L = 2tr(XQ) + √2·Σ_i √(σ_i·a_iᵀXᵀQXa_i); the best λ gives L²/(4tr(XᵀQX)), and λ → 0 gives 0.
    A floating-point estimate: it only reports how far a bound is from the optimum.
    """
    XQX = X.T @ Q @ X
    curvature = float(np.trace(XQX))
    terms = np.sqrt(np.maximum(sigma, 0.0) * np.maximum(np.sum(A * (XQX @ A), axis=0), 0.0))
    slope = 2.0 * float(np.trace(X @ Q)) + math.sqrt(2.0) * float(np.sum(terms))
    if not (curvature > 0.0 and slope > 0.0 and math.isfinite(slope / curvature)):
        return None
    return slope**2 / (4.0 * curvature)


def eigenspace_lower_bound(
    A: np.ndarray,
    t: np.ndarray,
    C_inv: np.ndarray,
    values: np.ndarray,
    PV: np.ndarray,
    PB: np.ndarray,
) -> float | None:
    """`sdp_lower_bound` for S = YΩYᵀ on the top eigenvectors Y of G(t) (eigenvalues ``values``,
    ascending, with PV = VY and PB = BY), X = C(t)⁻¹, and Ω the weights that come closest to
    stationarity; the best over the widths τ (eigenvalues above (1 − τ)·λ_max).

    At the optimum t*, some S* = YΩ*Yᵀ (Y spanning the top eigenspace) makes t* minimise
    ⟨G(t), S*⟩, i.e. ∂_{t_i}⟨G, S⟩ = p_iᵀΩp_i − q_iᵀΩq_i = 0 with p_i = Yᵀv_i and
    q_i = YᵀBᵀC⁻¹a_i/(√2·t_i): linear in Ω.  So Ω minimises Σ_i (p_iᵀΩp_i − q_iᵀΩq_i)² subject to
    tr Ω = 1 (least squares), then is projected onto Ω ⪰ 0.  Near t* this bound is far tighter than
    the central-path or softmax ones (measured at d = 784, k = 1024: within 2·10⁻³ of ρ nine
    Newton steps earlier).
    """
    Q = (A.T @ (C_inv @ PB)) / (math.sqrt(2.0) * t[:, None])
    bounds = []
    top = np.arange(values.size) >= values.size - EIGENSPACE
    for width in _WIDTHS:
        kept = top & (values >= (1.0 - width) * values[-1])
        weights = _stationary_weights(PV[:, kept], Q[:, kept])
        if weights is not None:
            P_B = PB[:, kept]
            bounds.append(
                sdp_lower_bound(
                    A,
                    np.einsum("ij,jk,ik->i", PV[:, kept], weights, PV[:, kept]),
                    P_B @ weights @ P_B.T,
                    C_inv,
                )
            )
    return largest(*bounds)


def eigenspace_pays(rho: float, lower: float | None, target: float) -> bool:
    """Whether ρ is within ``_EIGENSPACE_GATE`` times the allowed gap, target − 1, of lower."""
    return lower is not None and rho <= (1.0 + _EIGENSPACE_GATE * (target - 1.0)) * lower


def _stationary_weights(P: np.ndarray, Q: np.ndarray) -> np.ndarray | None:
    """Ω ⪰ 0 with tr Ω = 1 from the least-squares problem of `eigenspace_lower_bound`."""
    r = P.shape[1]
    rows, columns = np.triu_indices(r)
    doubled = np.where(rows == columns, 1.0, 2.0)
    features = (P[:, rows] * P[:, columns] - Q[:, rows] * Q[:, columns]) * doubled
    trace = (rows == columns).astype(np.float64)
    n = trace.size
    system = np.block([[features.T @ features, trace[:, None]], [trace[None, :], np.zeros((1, 1))]])
    solution = np.linalg.lstsq(system, np.eye(n + 1)[-1], rcond=None)[0][:n]
    weights = np.zeros((r, r))
    weights[rows, columns] = solution
    values, vectors = np.linalg.eigh(weights + np.triu(weights, 1).T)
    weights = (vectors * np.maximum(values, 0.0)) @ vectors.T
    total = float(np.trace(weights))
    return weights / total if total > 0.0 and math.isfinite(total) else None


def largest(*bounds: float | None) -> float | None:
    """The largest of the bounds that say something (None if none does)."""
    return max((b for b in bounds if b is not None), default=None)


def safe_multipliers(A: np.ndarray) -> np.ndarray:
    """t_i = ‖a_i‖·Σ_j‖a_j‖: then ½A·T⁻¹·Aᵀ ⪯ ½I, so C(t) ⪰ ½I (needs every a_i ≠ 0)."""
    norms = np.linalg.norm(A, axis=0)
    return norms * float(np.sum(norms))


class _Stop(Exception):
    """Raised inside an objective once the deadline has passed or the bound is good enough."""


class _Best:
    """The least finite ρ seen so far with its multipliers, and the largest lower bound; stops
    the search at the deadline or once ρ ≤ (1 + tolerance)²·lower."""

    def __init__(self, rho: float, t: np.ndarray, seconds: float, tolerance: float = 0.0) -> None:
        self.rho, self.t, self.lower = rho, t, None
        self.deadline = time.monotonic() + seconds
        self.factor = (1.0 + tolerance) ** 2

    def record(self, rho: float, t: np.ndarray, lower: float | None = None) -> None:
        if rho < self.rho:
            self.rho, self.t = rho, t.copy()
        if lower is not None and (self.lower is None or lower > self.lower):
            self.lower = lower
        close = self.lower is not None and self.rho <= self.factor * self.lower
        if close or time.monotonic() > self.deadline:
            raise _Stop


def minimise_layer(form: SchurForm, seconds: float, log_accuracy: float = 1e-10) -> np.ndarray:
    """LipSDP-Layer (T = t·I): bounded Brent search on log t between the pole t = ‖A_F‖₂²/2 and
    the ceiling, to ``log_accuracy`` in log t.

    ρ(t·1) is convex in t, hence unimodal in log t.
    """
    ones = np.ones(form.size)
    layer = _LayerForm(form)
    t_low = _layer_pole(form)
    start = 2.0 * t_low * ones  # for ReLU this already gives ρ ≤ (‖A‖₂‖W‖₂)²
    best = _Best(form.value(start), start, seconds)
    t_high = max(2.0 * t_low, float(np.min(_ceiling(form, best.rho))))

    def objective(log_t: float) -> float:
        rho = layer.value(math.exp(log_t))
        best.record(rho, math.exp(log_t) * ones)
        return rho

    low = math.log(t_low)
    with contextlib.suppress(_Stop):
        minimize_scalar(
            objective,
            bounds=(low, math.log(t_high)),
            method="bounded",
            options={"xatol": log_accuracy, "maxiter": 500},
        )
    return best.t


class _LayerForm:
    """ρ(τ·1) for scalar τ.  In the input space G(τ·1) = τ·VᵀV + (UᵀB)ᵀD(UᵀB) with
    A_FA_Fᵀ = UΛUᵀ and D = diag(1/(1 − λ_i/(2τ))), so VᵀV is formed once."""

    def __init__(self, form: SchurForm) -> None:
        self.form = form
        if form.input_space:
            self.gram = form.V.T @ form.V
            self.eigenvalues, vectors = np.linalg.eigh(form.A @ form.A.T)
            self.rotated = vectors.T @ form.B

    def value(self, tau: float) -> float:
        """ρ(τ·1), or inf when C(τ·1) is not definite."""
        if not self.form.input_space:
            return self.form.value(np.full(self.form.size, tau))
        scale = 1.0 - self.eigenvalues / (2.0 * tau)
        if not np.all(scale > 0.0):
            return math.inf
        return _top_eigenvalue(tau * self.gram + (self.rotated.T / scale) @ self.rotated)


def _top_eigenvalue(H: np.ndarray) -> float:
    """max(λ_max(H), 0) for symmetric H, by LAPACK's subset driver (inf if H is not finite)."""
    n = H.shape[0]
    if n == 0:
        return 0.0
    if not np.all(np.isfinite(H)):
        return math.inf
    top = scipy.linalg.eigh(
        H, eigvals_only=True, subset_by_index=[n - 1, n - 1], driver="evr", check_finite=False
    )
    return max(float(top[0]), 0.0)


def _ceiling(form: SchurForm, rho: float) -> np.ndarray:
    """t_i = ρ/‖v_i‖²: since t_i·v_iv_iᵀ ⪯ G(t), no t with ρ(t) ≤ ρ has a larger t_i."""
    return rho / np.sum(form.V**2, axis=1)


def _layer_pole(form: SchurForm) -> float:
    """Just above ‖A_F‖₂²/2, the pole of ρ(t·1): the least t, up to a small factor, with C(t·1)
    numerically definite."""
    ones = np.ones(form.size)
    pole = 0.5 * float(np.linalg.eigvalsh(form.A @ form.A.T)[-1])
    for factor in (1.0 + 1e-12, 1.0 + 1e-9, 1.0 + 1e-6, 1.0 + 1e-3, 2.0):
        if math.isfinite(form.value(pole * factor * ones)):
            return pole * factor
    return float(np.max(safe_multipliers(form.A)))


def minimise_neuron(
    form: SchurForm, start: np.ndarray, seconds: float, tolerance: float = 0.0
) -> Solution:
    """LipSDP-Neuron: L-BFGS-B on u = log t (below the ceiling) for ρ_μ, continued over
    μ = 10⁻²ρ, …, 10⁻⁸ρ and repeated in sweeps with tighter stopping tests, each stage
    warm-started where the last one stopped; returns the multipliers with the least ρ(t) seen
    and the largest lower bound, stopping at the deadline or once √ρ is within ``tolerance``
    (relative) of that bound.

    Infeasible trial points (C(t) not definite) get a large finite value, so the line search
    backtracks.
    """
    best = _Best(form.value(start), start, seconds, tolerance)
    if best.rho == 0.0:
        return Solution(start, 0.0)
    penalty = 1e6 * (1.0 + best.rho)

    def objective(u: np.ndarray, mu: float) -> tuple[float, np.ndarray]:
        t = np.exp(u)
        smoothed = form.smoothed(t, mu, eigenspace_pays(best.rho, best.lower, best.factor))
        best.record(smoothed.rho, t, smoothed.lower)
        if not math.isfinite(smoothed.value):
            return penalty, np.zeros_like(u)
        return smoothed.value, smoothed.gradient * t

    u = np.log(start)
    high = np.maximum(u, np.log(_ceiling(form, best.rho)))
    box = list(zip(u - _LOG_DOWN, high, strict=True))
    with contextlib.suppress(_Stop):
        for sweep, exponent in itertools.product(range(_SWEEPS), range(2, 9)):
            options = {"maxiter": 5_000, "ftol": 10.0 ** -(exponent + sweep + 2), "gtol": 0.0}
            u = minimize(
                objective,
                u,
                args=(best.rho * 10.0**-exponent,),
                jac=True,
                method="L-BFGS-B",
                bounds=box,
                options=options,
            ).x
    return Solution(best.t, best.lower)
