"""Differentiable upper bounds on Lip(f) for f(x) = A·σ(Wx + b) + c, in torch.

Spectral product (Bubeck, Li, Nagaraj, COLT 2021, Theorem 5): Lip(f) ≤ L·‖A‖₂·‖W‖₂.

Structured LipSDP (Fazlyab et al., NeurIPS 2019, Theorem 1, in the Schur form of
`certify.upper.lipsdp_solvers`): for t > 0 with C(t) = I − A·diag(1/(2t))·Aᵀ ≻ 0,
Lip(f)² ≤ ρ(t) = λ_max(c_T·WᵀTW + c_C·(AW)ᵀC(t)⁻¹(AW)), c_T = (β−α)²/2, c_C = (α+β)²/4.
The multipliers are parameterised so that C(t) ≻ 0 always holds: with p = the first k entries of
softmax(z) (z ∈ R^{k+1}, so Σp < 1) and t_i = ‖a_i‖²/(2p_i) (a_i the i-th column of A),
Σ a_ia_iᵀ/(2t_i) = Σ p_i·â_iâ_iᵀ ⪯ (Σp)·I ≺ I.  For one output every feasible t has this form.
Minimising √ρ jointly over the weights and z minimises min_t √ρ(t), the LipSDP-Neuron bound.

Both are σ_max of a matrix B (‖W‖₂, ‖A‖₂, or B = [√c_T·T^½W; √c_C·L⁻¹AW] with C = LLᵀ), taken by
power iteration with a persistent vector (Miyato et al., ICLR 2018): σ ≈ uᵀBv with u and v held
fixed, whose gradient is the gradient of σ_max when the top singular value is simple.  These are
training objectives only; the certified bound of a trained net comes from `certify`.
"""

from __future__ import annotations

import torch

from .activations import Activation

__all__ = ["LipSDPPenalty", "PowerIteration", "SpectralPenalty", "make_penalty"]

#: Power-iteration steps per evaluation (the vector persists, so a few keep it converged).
_STEPS = 2
_WARM_STEPS = 50
_EPS = 1e-12


class PowerIteration:
    """A differentiable estimate of σ_max(B), warm-started from the previous call's vector."""

    def __init__(self) -> None:
        self._v: torch.Tensor | None = None

    def __call__(self, B: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fresh = self._v is None or self._v.shape[0] != B.shape[1]
            v = torch.ones(B.shape[1], dtype=B.dtype, device=B.device) if fresh else self._v
            for _ in range(_WARM_STEPS if fresh else _STEPS):
                u = B @ v
                u = u / (u.norm() + _EPS)
                v = B.T @ u
                v = v / (v.norm() + _EPS)
            u = B @ v
            u = u / (u.norm() + _EPS)
            self._v = v
        return u @ B @ v


class SpectralPenalty:
    """L·‖A‖₂·‖W‖₂ (Theorem 5's product)."""

    def __init__(self, activation: Activation) -> None:
        self.lipschitz = activation.lipschitz
        self._W, self._A = PowerIteration(), PowerIteration()

    def parameters(self) -> list[torch.Tensor]:
        return []

    def __call__(self, W: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return self.lipschitz * self._A(A) * self._W(W)

    def exact(self, W: torch.Tensor, A: torch.Tensor) -> float:
        """The float value of the bound at these weights (SVD instead of power iteration)."""
        norms = torch.linalg.matrix_norm(W.detach(), 2) * torch.linalg.matrix_norm(A.detach(), 2)
        return float(self.lipschitz * norms)


class LipSDPPenalty:
    """√ρ(t) of structured LipSDP-Neuron with the always-feasible multipliers t(z, A)."""

    def __init__(self, activation: Activation, k: int, dtype: torch.dtype) -> None:
        alpha, beta = activation.slope_lower, activation.slope_upper
        self.c_T = 0.5 * (beta - alpha) ** 2
        self.c_C = 0.25 * (alpha + beta) ** 2
        self.logits = torch.zeros(k + 1, dtype=dtype, requires_grad=True)
        self._power = PowerIteration()

    def parameters(self) -> list[torch.Tensor]:
        return [self.logits]

    def factor(self, W: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """B with BᵀB = c_T·WᵀTW + c_C·(AW)ᵀC(t)⁻¹(AW)."""
        p = torch.softmax(self.logits, dim=0)[:-1]
        columns = (A * A).sum(dim=0) + _EPS
        root_t = torch.sqrt(columns / (2.0 * p))
        unit = A / torch.sqrt(columns)
        C = torch.eye(A.shape[0], dtype=A.dtype) - (unit * p) @ unit.T
        L = torch.linalg.cholesky(C)
        AW = torch.linalg.solve_triangular(L, A @ W, upper=False)
        return torch.cat([self.c_T**0.5 * root_t[:, None] * W, self.c_C**0.5 * AW])

    def __call__(self, W: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return self._power(self.factor(W, A))

    def exact(self, W: torch.Tensor, A: torch.Tensor) -> float:
        """√ρ(t) at the current multipliers, by SVD: the bound these weights and t prove."""
        with torch.no_grad():
            return float(torch.linalg.matrix_norm(self.factor(W, A), 2))


def make_penalty(
    name: str, activation: Activation, k: int, dtype: torch.dtype
) -> SpectralPenalty | LipSDPPenalty:
    """The penalty called ``name``: ``spectral`` or ``lipsdp``."""
    if name == "spectral":
        return SpectralPenalty(activation)
    if name == "lipsdp":
        return LipSDPPenalty(activation, k, dtype)
    raise ValueError(f"unknown penalty {name!r} (known: spectral, lipsdp)")
