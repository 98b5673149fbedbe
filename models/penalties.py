"""Differentiable upper bounds on Lip(f) for f(x) = A·σ(Wx + b) + c, in torch.

Spectral product (Bubeck, Li, Nagaraj, COLT 2021, Theorem 5): Lip(f) ≤ L·‖A‖₂·‖W‖₂.

Structured LipSDP (Fazlyab et al., NeurIPS 2019, Theorem 1, in the Schur form of
`certify.upper.lipsdp_solvers`): for t > 0 with C(t) = I − A·diag(1/(2t))·Aᵀ ≻ 0,
Lip(f)² ≤ ρ(t) = λ_max(c_T·WᵀTW + c_C·(AW)ᵀC(t)⁻¹(AW)), c_T = (β−α)²/2, c_C = (α+β)²/4.
The multipliers are parameterised so that C(t) ≻ 0 always holds: with p = the first k entries of
softmax(z) (z ∈ R^{k+1}, so Σp < 1) and t_i = ‖a_i‖²/(2p_i) (a_i the i-th column of A),
Σ a_ia_iᵀ/(2t_i) = Σ p_i·â_iâ_iᵀ ⪯ (Σp)·I ≺ I.  For one output every feasible t has this form.
Minimising √ρ jointly over the weights and z minimises min_t √ρ(t), the LipSDP-Neuron bound.

Both are σ_max of a matrix B (‖W‖₂, ‖A‖₂, or B = [√c_T·T^½W; √c_C·L⁻¹AW] with C = LLᵀ).  σ_max
is not differentiable where the top singular value is multiple, which is where minimising it
tends to go (as in eigenvalue optimisation), so training minimises the smooth Schatten-type
surrogate s_p(B) = (Σ_{j≤r} σ_j^{2p})^{1/(2p)} ∈ [σ_max, r^{1/(2p)}·σ_max], which tends to σ_max
as p grows (p = ∞ is σ_max itself; Nesterov, "Smoothing technique and its applications in
semidefinite optimization", Math. Program. 2007, smooths λ_max the same way with exponentials).
The σ_j are the Ritz values of BᵀB on a persistent r-dimensional subspace refined by a few steps
of subspace iteration per call (Golub and Van Loan, *Matrix Computations*, §8.2.4; for r = 1
this is the power iteration of Miyato et al., ICLR 2018); with the subspace held fixed their
gradient is that of the leading singular values.  These are training objectives only; the
certified bound of a trained net comes from `certify`.
"""

from __future__ import annotations

import math

import torch

from .activations import Activation

__all__ = ["LipSDPPenalty", "SpectralPenalty", "TopSingularValues", "make_penalty"]

#: Singular values in the training surrogate, and subspace-iteration steps per evaluation (the
#: subspace persists, so a few keep it converged).
RANK, _STEPS = 8, 2
_WARM_STEPS = 50
_EPS = 1e-12


class TopSingularValues:
    """The differentiable surrogate s_p(B) over the r leading singular values of B, from the
    Ritz values of BᵀB on a subspace warm-started from the previous call's."""

    def __init__(self, rank: int = 1) -> None:
        self.rank = rank
        self._Q: torch.Tensor | None = None

    def __call__(self, B: torch.Tensor, power: float = math.inf) -> torch.Tensor:
        """s_p(B); p = ∞ gives σ_max(B)."""
        with torch.no_grad():
            shape = (B.shape[1], min(self.rank, *B.shape))
            fresh = self._Q is None or self._Q.shape != shape
            Q = _initial_basis(shape, B) if fresh else self._Q
            for _ in range(_WARM_STEPS if fresh else _STEPS):
                Q = torch.linalg.qr(B.T @ (B @ Q)).Q
            self._Q = Q
        image = B @ Q
        ritz = torch.linalg.eigvalsh(image.T @ image).clamp(min=0.0)
        if math.isinf(power):
            return torch.sqrt(ritz[-1].clamp(min=_EPS))
        top = ritz[-1].detach().clamp(min=_EPS)
        # (Σ μ_j^p)^{1/(2p)} with the largest term scaled to 1, so that no power overflows.
        return torch.sqrt(top) * torch.sum((ritz / top) ** power).clamp(min=1.0) ** (0.5 / power)


def _initial_basis(shape: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    """A fixed pseudo-random orthonormal basis (seeded, so training is reproducible)."""
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)
    return torch.linalg.qr(start).Q


class SpectralPenalty:
    """L·‖A‖₂·‖W‖₂ (Theorem 5's product); training uses L·s_p(A)·s_p(W), p = ``power``."""

    def __init__(self, activation: Activation) -> None:
        self.lipschitz = activation.lipschitz
        self.power = math.inf
        self._W, self._A = TopSingularValues(RANK), TopSingularValues(RANK)

    def parameters(self) -> list[torch.Tensor]:
        return []

    def __call__(self, W: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return self.lipschitz * self._A(A, self.power) * self._W(W, self.power)

    def exact(self, W: torch.Tensor, A: torch.Tensor) -> float:
        """The float64 value of the bound at these weights, by SVD."""
        norms = torch.linalg.matrix_norm(W.detach().double(), 2) * torch.linalg.matrix_norm(
            A.detach().double(), 2
        )
        return float(self.lipschitz * norms)


class LipSDPPenalty:
    """√ρ(t) of structured LipSDP-Neuron with the always-feasible multipliers t(z, A); training
    uses s_p of its factor, p = ``power``."""

    def __init__(
        self,
        activation: Activation,
        k: int,
        dtype: torch.dtype,
        device: str | torch.device = "cpu",
    ) -> None:
        alpha, beta = activation.slope_lower, activation.slope_upper
        self.c_T = 0.5 * (beta - alpha) ** 2
        self.c_C = 0.25 * (alpha + beta) ** 2
        self.logits = torch.zeros(k + 1, dtype=dtype, device=device, requires_grad=True)
        self.power = math.inf
        self._top = TopSingularValues(RANK)

    def parameters(self) -> list[torch.Tensor]:
        return [self.logits]

    def factor(self, W: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """B with BᵀB = c_T·WᵀTW + c_C·(AW)ᵀC(t)⁻¹(AW)."""
        p = torch.softmax(self.logits, dim=0)[:-1]
        columns = (A * A).sum(dim=0) + _EPS
        root_t = torch.sqrt(columns / (2.0 * p))
        unit = A / torch.sqrt(columns)
        C = torch.eye(A.shape[0], dtype=A.dtype, device=A.device) - (unit * p) @ unit.T
        L = torch.linalg.cholesky(C)
        AW = torch.linalg.solve_triangular(L, A @ W, upper=False)
        return torch.cat([self.c_T**0.5 * root_t[:, None] * W, self.c_C**0.5 * AW])

    def __call__(self, W: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return self._top(self.factor(W, A), self.power)

    def exact(self, W: torch.Tensor, A: torch.Tensor) -> float:
        """√ρ(t) at the current multipliers, by SVD in float64: the bound these weights and t
        prove."""
        with torch.no_grad():
            return float(torch.linalg.matrix_norm(self.factor(W.double(), A.double()), 2))


def make_penalty(
    name: str,
    activation: Activation,
    k: int,
    dtype: torch.dtype,
    device: str | torch.device = "cpu",
) -> SpectralPenalty | LipSDPPenalty:
    """The penalty called ``name``: ``spectral`` or ``lipsdp`` (its multipliers in ``dtype`` on
    ``device``)."""
    if name == "spectral":
        return SpectralPenalty(activation)
    if name == "lipsdp":
        return LipSDPPenalty(activation, k, dtype, device)
    raise ValueError(f"unknown penalty {name!r} (known: spectral, lipsdp)")
