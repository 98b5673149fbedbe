"""An interior-point solver for LipSDP-Neuron, in torch (on a GPU when one is present).

LipSDP-Neuron minimises ρ over (ρ, t) subject to M(ρ, t) ⪰ 0, the centred LMI of
`certify.upper.lipsdp_solvers` (data V, A = A_F, B; T = diag(t); Schur form ρ(t) = λ_max(G(t))).
With R = 2T − AᵀA and Ψ = ρI − G(t), the Schur complement of R gives
−log det M = −log det Ψ − log det R, and this solver follows the central path of the barrier
function

    φ_η(ρ, t) = η·ρ − log det Ψ − ε·log det R,

by Newton's method (Nesterov & Nemirovski, *Interior-Point Polynomial Algorithms in Convex
Programming*, SIAM 1994; Boyd & Vandenberghe, *Convex Optimization*, 2004, §11.3).  ε = 1 is the
standard barrier of the LMI; only Ψ is singular at the optimum, and a lighter ε on R reaches it in
fewer Newton steps (measured: about 40% fewer at ε = 0.3).  φ_η stays convex, since Ψ is
matrix-concave in (ρ, t) (t ↦ C(t)⁻¹ is matrix-convex) and −log det is decreasing and convex.

Newton system.  M = ρE₀ + Σ t_i E_i − GᵀG (G = [B, A]) with E_i = U_i D U_iᵀ, U_i = v_i ⊕ e_i and
D = diag(−1, 2), so the Hessian of −log det M is tr(M⁻¹E_iM⁻¹E_j) = tr(D Ω_(ij) D Ω_(ji)),
Ω_(ij) the 2×2 blocks of Ω = UᵀM⁻¹U (the dual-scaling Schur matrix of Benson, Ye & Zhang,
SIAM J. Optim. 10, 2000).  Inverting M by its Schur complements (R⁻¹Aᵀ = ½Ũ) gives, with
Z = Ψ⁻¹, S = T⁻¹, Ũ = SAᵀC⁻¹, J = VZBᵀ and Q = BZBᵀ,

    a = Ω₁₁ = VZVᵀ,   b = Ω₁₂ = ½JŨᵀ,   R⁻¹ = ½S + ¼ŨCŨᵀ,   e = Ω₂₂ = R⁻¹ + ¼ŨQŨᵀ,

one k×k product and rank-m terms.  With ∘ the entrywise product,

    H_tt = a∘a − 2(b∘b + bᵀ∘bᵀ) + 4e∘e − 4(1 − ε)R⁻¹∘R⁻¹,
    ∂_t φ = a_ii − 2e_ii + 2(1 − ε)R⁻¹_ii,   ∂_ρ φ = η − tr Z,
    ∂²_ρρ = ‖Z‖²_F,   ∂²_ρt_i = −‖Zv_i‖² + ½‖ZBᵀŨ_iᵀ‖²  (Ũ_i the i-th row of Ũ).

A step costs O(kd² + k²d + k³) time and O(k² + kd) memory.

Path following.  Each step takes the largest η whose Newton decrement at the current point is at
most κ (the decrement is the root of a quadratic in η), as long-step methods do, but only while the
point is within θ of the current centre; a backtracking line search on φ_η keeps the iterate
strictly feasible.  The solver stops once ρ is within the tolerance of a lower bound on the SDP
optimum (`certify.upper.lipsdp_solvers.sdp_lower_bound`, from S = Z/tr Z, which is the top-left
block of the dual matrix M⁻¹/η on the central path), or when time runs out.  That bound is only
as good as the point is central (at decrement δ the stationarity of S is off by about δ, whatever
η), so once the barrier's own gap ν/η is within the tolerance, η rises only from points within
θ_close of the centre.  Near the end (`eigenspace_pays`) the solver also takes
`eigenspace_lower_bound` from the top eigenvectors of G(t), which is tight many steps earlier
(measured at d = 784, k = 1024, m = 1: 22 Newton steps to a gap of 10⁻³ instead of 30).  On the
CPU it runs with one thread (`_one_cpu_thread`).

Nothing here is trusted: the method recomputes ρ(t) and `certify.verify` proves the LMI.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from ..threads import single_threaded
from .lipsdp_solvers import (
    EIGENSPACE,
    Centred,
    Solution,
    eigenspace_lower_bound,
    eigenspace_pays,
    largest,
    sdp_lower_bound,
)

__all__ = ["minimise_barrier", "torch_device"]

#: Weight ε of −log det R in the barrier.
_WEIGHT = 0.3
#: Largest Newton decrement allowed after raising η, and largest ones at which η may rise: far
#: from the optimum, and once ν/η is within the tolerance.
_KAPPA, _THETA, _THETA_CLOSE = 1.5, 1.0, 0.01
#: Armijo constant and the smallest step of the backtracking line search.
_ARMIJO, _SMALLEST_STEP = 1e-2, 2.0**-30
#: Stop once the barrier's duality gap ν/η falls below this fraction of ρ: beyond it Ψ is too close
#: to singular for its inverse to carry information.
_FLOOR = 1e-11
#: Start ρ this far above λ_max(G(t₀)).
_START_MARGIN = 0.05
#: Relative diagonal shifts tried when the Newton matrix is numerically singular.
_JITTERS = (0.0, 1e-13, 1e-10, 1e-7)


def torch_device() -> torch.device:
    """The first CUDA device when one is available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class _Point:
    """A strictly feasible (ρ, t) with what its evaluation produced."""

    rho: float
    t: torch.Tensor
    linear: torch.Tensor  # VᵀTV
    factor: torch.Tensor  # lower Cholesky factor of Ψ
    factor_C: torch.Tensor  # lower Cholesky factor of C(t)
    barrier: float  # −log det Ψ − ε·log det R, up to a constant


@dataclass
class _Newton:
    """Gradient and Hessian of φ_η − η·ρ, split into the ρ and t parts."""

    grad_rho: float
    grad_t: torch.Tensor
    hess_rho: float
    hess_cross: torch.Tensor
    hess_t: torch.Tensor
    lower: float | None


@dataclass(frozen=True)
class _Step:
    """A Newton step in (ρ, t) and its squared Newton decrement."""

    rho: float
    t: torch.Tensor
    decrement: float


class _Barrier:
    """−log det Ψ − ε·log det R for fixed centred data V, A, B (on one device)."""

    def __init__(self, V: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> None:
        self.V, self.A, self.B = V, A, B
        self.eye_d = torch.eye(V.shape[1], dtype=torch.float64, device=V.device)
        self.eye_m = torch.eye(A.shape[0], dtype=torch.float64, device=V.device)

    def linear(self, t: torch.Tensor) -> torch.Tensor:
        """VᵀTV (linear in t, so line searches reuse it)."""
        return (self.V.T * t) @ self.V

    def matrix(self, t: torch.Tensor, linear: torch.Tensor, factor_C: torch.Tensor) -> torch.Tensor:
        """G(t) = VᵀTV + BᵀC(t)⁻¹B from its linear part and the Cholesky factor of C(t)."""
        return linear + self.B.T @ torch.cholesky_solve(self.B, factor_C)

    def point(self, rho: float, t: torch.Tensor, linear: torch.Tensor) -> _Point | None:
        """The evaluated point, or None when it is not strictly feasible (numerically)."""
        if not bool(torch.all(t > 0)):
            return None
        factor_C, info = torch.linalg.cholesky_ex(self.eye_m - 0.5 * (self.A / t) @ self.A.T)
        if int(info) != 0:
            return None
        factor, info = torch.linalg.cholesky_ex(rho * self.eye_d - self.matrix(t, linear, factor_C))
        if int(info) != 0:
            return None
        log_det = 2.0 * torch.log(torch.diagonal(factor)).sum()
        log_det_R = 2.0 * torch.log(torch.diagonal(factor_C)).sum() + torch.log(2.0 * t).sum()
        barrier = float(-log_det - _WEIGHT * log_det_R)
        return _Point(rho, t, linear, factor, factor_C, barrier) if math.isfinite(barrier) else None

    def newton(self, x: _Point) -> _Newton:
        """Derivatives of the barrier at x (module docstring), and a lower bound on the SDP.

        The Hessian is accumulated in place: at most three k×k arrays alive at once.
        """
        V, A, B, s = self.V, self.A, self.B, 1.0 / x.t
        Z = torch.cholesky_inverse(x.factor)
        C = self.eye_m - 0.5 * (A * s) @ A.T
        C_inv = torch.cholesky_inverse(x.factor_C)
        U = (A.T * s[:, None]) @ C_inv
        VZ, BZ = V @ Z, B @ Z
        J, Q = VZ @ B.T, BZ @ B.T
        hess_t = VZ @ V.T
        a_diagonal = hess_t.diagonal().clone()
        hess_t.mul_(hess_t)
        b = 0.5 * J @ U.T
        hess_t.addcmul_(b, b, value=-2.0).addcmul_(b.T, b.T, value=-2.0)
        del b
        R_inv = 0.25 * (U @ C) @ U.T
        R_inv.diagonal().add_(0.5 * s)
        e = torch.addmm(R_inv, U @ Q, U.T, alpha=0.25)
        hess_t.addcmul_(e, e, value=4.0).addcmul_(R_inv, R_inv, value=-4.0 * (1.0 - _WEIGHT))
        grad_t = a_diagonal - 2.0 * e.diagonal() + 2.0 * (1.0 - _WEIGHT) * R_inv.diagonal()
        del e, R_inv
        trace = float(torch.trace(Z))
        hess_cross = -(VZ * VZ).sum(dim=1) + 0.5 * ((U @ (BZ @ BZ.T)) * U).sum(dim=1)
        lower = sdp_lower_bound(
            A.cpu().numpy(),
            (a_diagonal / trace).cpu().numpy(),
            (Q / trace).cpu().numpy(),
            C_inv.cpu().numpy(),
        )
        return _Newton(-trace, grad_t, float((Z * Z).sum()), hess_cross, hess_t, lower)

    def eigenspace_lower(self, x: _Point) -> float | None:
        """`eigenspace_lower_bound` at x, from the top eigenpairs of G(t)."""
        values, Y = _top_eigenpairs(self.matrix(x.t, x.linear, x.factor_C), EIGENSPACE)
        Y = Y.to(self.V.device)
        data = (self.A, x.t, torch.cholesky_inverse(x.factor_C), values, self.V @ Y, self.B @ Y)
        return eigenspace_lower_bound(*(z.cpu().numpy() for z in data))


class _NewtonSolve:
    """Solves with the Newton matrix [[h, wᵀ], [w, K]] by a Cholesky factor of K and the
    scalar Schur complement h − wᵀK⁻¹w."""

    def __init__(self, n: _Newton) -> None:
        """Factorises n.hess_t, shifting its diagonal in place if it must."""
        self.n = n
        diagonal = n.hess_t.diagonal()
        scale, added = float(torch.mean(diagonal)), 0.0
        for jitter in _JITTERS:
            diagonal.add_((jitter - added) * scale)
            added = jitter
            factor, info = torch.linalg.cholesky_ex(n.hess_t)
            if int(info) == 0:
                break
        else:
            raise ArithmeticError("Newton matrix is not positive definite")
        self.factor = factor
        self.cross = self._solve_t(n.hess_cross)
        self.schur = n.hess_rho - float(n.hess_cross @ self.cross)
        if not self.schur > 0.0:
            raise ArithmeticError("Newton matrix is not positive definite")

    def _solve_t(self, r: torch.Tensor) -> torch.Tensor:
        return torch.cholesky_solve(r[:, None], self.factor)[:, 0]

    def solve(self, r_rho: float, r_t: torch.Tensor) -> tuple[float, torch.Tensor]:
        """The solution (x_ρ, x_t) of H·x = (r_ρ, r_t)."""
        K_inv_r = self._solve_t(r_t)
        x_rho = (r_rho - float(self.n.hess_cross @ K_inv_r)) / self.schur
        return x_rho, K_inv_r - x_rho * self.cross


def minimise_barrier(
    data: Centred,
    start: np.ndarray,
    seconds: float,
    tolerance: float,
    device: torch.device | None = None,
) -> Solution:
    """Multipliers t with √ρ(t) within ``tolerance`` (relative) of the LipSDP-Neuron optimum, or
    the last iterate when ``seconds`` run out (no step starts that would outlast them); the
    largest lower bound seen comes with them.  ``start`` must have C(start) ≻ 0.

    The data are scaled first: with s_A = ‖A‖_F and s = ‖[s_A·V; B]‖_F, the LMI M of (V, A, B)
    at (s²ρ', s_A²t') is D·M'·D, M' that of (s_A·V/s, A/s_A, B/s) at (ρ', t') and
    D = diag(s·I_d, s_A·I_k).  When d > k + m, V and B are replaced by VQ and BQ, Q the
    orthonormal factor of [V; B]ᵀ = QR, which leaves G's nonzero spectrum unchanged.
    """
    device = device or torch_device()
    with _one_cpu_thread(device):
        return _minimise(data, start, time.monotonic() + seconds, tolerance, device)


@contextlib.contextmanager
def _one_cpu_thread(device: torch.device) -> Iterator[None]:
    """One torch thread while the solver runs on the CPU.  On two cores shared with other
    work, two threads made it 36 times slower at d = 100, k = 300 (6.6 s against 0.18 s) and 4
    times at d = 784, k = 1024 (measured; `certify.threads` has the same policy for BLAS)."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with single_threaded():
            yield
    finally:
        torch.set_num_threads(threads)


def _minimise(
    data: Centred, start: np.ndarray, deadline: float, tolerance: float, device: torch.device
) -> Solution:
    """`minimise_barrier` with its deadline, on the device."""
    scale_A = float(np.linalg.norm(data.A))
    scale = float(np.linalg.norm(np.vstack([scale_A * data.V, data.B])))
    V, B = _reduced(scale_A * data.V / scale, data.B / scale, device)
    barrier = _Barrier(V, torch.as_tensor(data.A / scale_A, device=device), B)
    parameter = V.shape[1] + _WEIGHT * V.shape[0]
    target = (1.0 + tolerance) ** 2
    x = _start(barrier, torch.as_tensor(start / scale_A**2, device=device))
    eta = float(torch.trace(torch.cholesky_inverse(x.factor)))
    lower = None
    began, step_time = time.monotonic(), 0.0
    with contextlib.suppress(ArithmeticError):
        while began + step_time < deadline and parameter > _FLOOR * eta * x.rho:
            n = barrier.newton(x)
            lower = largest(lower, n.lower)
            if eigenspace_pays(x.rho, lower, target):
                lower = largest(lower, barrier.eigenspace_lower(x))
            if lower is not None and x.rho <= target * lower:
                break
            close = parameter <= (target - 1.0) * eta * x.rho
            eta, step = _newton_step(n, eta, _THETA_CLOSE if close else _THETA)
            moved = _line_search(barrier, x, eta, step)
            if moved is None:
                break
            x = moved
            now = time.monotonic()
            began, step_time = now, now - began
    top = float(torch.linalg.eigvalsh(barrier.matrix(x.t, x.linear, x.factor_C))[-1])
    t = x.t.cpu().numpy() * scale_A**2
    return Solution(t, None if lower is None else lower * scale**2, top * scale**2)


def _top_eigenpairs(G: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``count`` largest eigenvalues of G (ascending) and their eigenvectors; on the CPU
    by LAPACK's subset driver, several times faster than a full decomposition."""
    n = G.shape[0]
    count = min(count, n)
    if G.device.type != "cpu":
        values, vectors = torch.linalg.eigh(G)
        return values[-count:], vectors[:, -count:]
    values, vectors = scipy.linalg.eigh(
        G.numpy(), subset_by_index=[n - count, n - 1], driver="evr", check_finite=False
    )
    return torch.from_numpy(values), torch.from_numpy(vectors)


def _reduced(V: np.ndarray, B: np.ndarray, device: torch.device) -> tuple[torch.Tensor, ...]:
    """V and B on the device, or Rᵀ split into its first k and last m rows, from
    [V; B]ᵀ = QR, when d > k + m."""
    stacked = torch.as_tensor(np.vstack([V, B]), dtype=torch.float64, device=device)
    if stacked.shape[1] > stacked.shape[0]:
        stacked = torch.linalg.qr(stacked.T, mode="reduced").R.T
    return stacked[: V.shape[0]].contiguous(), stacked[V.shape[0] :].contiguous()


def _start(barrier: _Barrier, t: torch.Tensor) -> _Point:
    """(ρ₀, t) with ρ₀ a little above λ_max(G(t))."""
    linear = barrier.linear(t)
    factor_C = torch.linalg.cholesky(barrier.eye_m - 0.5 * (barrier.A / t) @ barrier.A.T)
    top = float(torch.linalg.eigvalsh(barrier.matrix(t, linear, factor_C))[-1])
    for margin in (_START_MARGIN, 1.0, 100.0):
        x = barrier.point(top * (1.0 + margin), t, linear)
        if x is not None:
            return x
    raise ArithmeticError("no strictly feasible starting point")


def _newton_step(n: _Newton, eta: float, theta: float) -> tuple[float, _Step]:
    """The raised η and the Newton step −H⁻¹(η·e_ρ + ∇) for it.

    With u = H⁻¹∇ and v = H⁻¹e_ρ the squared decrement at η' is v_ρη'² + 2u_ρη' + ∇ᵀu.
    """
    system = _NewtonSolve(n)
    u_rho, u_t = system.solve(n.grad_rho, n.grad_t)
    v_rho, v_t = system.solve(1.0, torch.zeros_like(n.grad_t))
    constant = n.grad_rho * u_rho + float(n.grad_t @ u_t)
    if v_rho * eta**2 + 2.0 * u_rho * eta + constant <= theta**2:
        discriminant = u_rho**2 - v_rho * (constant - _KAPPA**2)
        if discriminant > 0.0:
            eta = max(eta, (-u_rho + math.sqrt(discriminant)) / v_rho)
    decrement = v_rho * eta**2 + 2.0 * u_rho * eta + constant
    step = _Step(-(u_rho + eta * v_rho), -(u_t + eta * v_t), decrement)
    if not (math.isfinite(step.rho + decrement) and bool(torch.isfinite(step.t).all())):
        raise ArithmeticError("Newton step is not finite")
    return eta, step


def _line_search(barrier: _Barrier, x: _Point, eta: float, step: _Step) -> _Point | None:
    """The first point x + a·step, a = 1, ½, ¼, … that is feasible with Armijo decrease of
    φ_η (whose slope along a Newton step is minus the squared decrement); None when the step
    has become negligible."""
    d_linear = barrier.linear(step.t)
    start = eta * x.rho + x.barrier
    a = 1.0
    while a >= _SMALLEST_STEP:
        trial = barrier.point(x.rho + a * step.rho, x.t + a * step.t, x.linear + a * d_linear)
        if trial is not None and (
            eta * trial.rho + trial.barrier <= start - _ARMIJO * a * step.decrement
        ):
            return trial
        a *= 0.5
    return None
