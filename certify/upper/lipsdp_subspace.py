"""LipSDP-Neuron multipliers for large nets by first-order descent on always-feasible multipliers.

With s = softmax(z), z ∈ R^{|F|+1}, p_i = s_i·(Σ_{j≤|F|} s_j)/λ_max(Σ_j s_j·â_jâ_jᵀ) and
t_i = ‖a_i‖²/(2p_i), ½A_FT⁻¹A_Fᵀ = Σ p_i·â_iâ_iᵀ has λ_max = Σ_{j≤|F|} s_j < 1, so C(t) ≻ 0 at
every z; and every feasible t has this form (take s ∝ the p of t, summing to that λ_max < 1;
for one output the rescaling is 1).  ρ(t) = σ_max(ℬ)² with ℬ = [T^½V; L⁻¹B], C = LLᵀ
(`certify.upper.lipsdp_solvers.SchurForm`).  Adam on z minimises the smooth surrogate
s_q(ℬ) = (Σ_{j≤r} σ_j^{2q})^{1/(2q)} of σ_max over the r leading singular values, from subspace
iteration on a persistent basis, with q rising through 4, 16, 64 (continuation; the smoothing of
`models.penalties`, which trains the same bound jointly with the weights).  A step costs
O(r(|F| + m)d) and no d×d eigendecomposition, so it scales where the interior-point solver's
O(|F|²d + |F|³) steps do not fit the budget (measured at d = 1000, |F| = 2000, m = 1:
benchmarks/README.md).  The multipliers are only proposed here; the checker proves the bound.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
import torch

from models.penalties import TopSingularValues

from .lipsdp_solvers import SchurForm, Solution

__all__ = ["minimise_subspace"]

#: Leading singular values in the surrogate, Adam's step on z, and the surrogate's exponents.
_RANK, _STEP, _POWERS = 8, 0.05, (4.0, 16.0, 64.0)
#: Adam steps per exponent at most; a stage also ends at its share of the time, or once the
#: surrogate has not fallen by the fraction _PROGRESS for _PATIENCE steps.
_STEPS, _PROGRESS, _PATIENCE = 400, 1e-3, 40
_TINY = 1e-300


def _logits(form: SchurForm, start: np.ndarray) -> torch.Tensor:
    """z with multipliers(z) = ``start``: s_i ∝ p_i = ‖a_i‖²/(2t_i), Σ_{i≤|F|} s_i = the λ_max
    of Σ p_i·â_iâ_iᵀ = ½A_FT⁻¹A_Fᵀ (< 1 since C(t) ≻ 0), and the slack s_{|F|+1} = 1 − Σs."""
    p = np.sum(form.A * form.A, axis=0) / (2.0 * start)
    top = float(np.linalg.eigvalsh(0.5 * (form.A / start) @ form.A.T)[-1])
    s = np.append(p * (top / np.sum(p)), 1.0 - top)
    return torch.from_numpy(np.log(np.maximum(s, _TINY)))


def minimise_subspace(form: SchurForm, start: np.ndarray, seconds: float) -> Solution:
    """Multipliers from Adam on the softmax logits z (module docstring), started at the feasible
    multipliers ``start``, within ``seconds``: the exponents share the time equally (a stage
    that stalls ends early), and of the multipliers at the start and at the end of each stage,
    those with the least estimate of ρ(t) (the top Ritz value) are returned, without ρ (its
    exact value costs as much as a few hundred steps).  A factorisation that fails in floating
    point (C(t) numerically singular) ends the descent with the best multipliers so far."""
    deadline = time.monotonic() + seconds
    V, A, B = (torch.from_numpy(np.ascontiguousarray(M)) for M in (form.V, form.A, form.B))
    squares = (A * A).sum(dim=0).clamp(min=_TINY)
    logits = _logits(form, start).requires_grad_(True)
    optimiser = torch.optim.Adam([logits], lr=_STEP)
    top = TopSingularValues(_RANK)

    directions = A / torch.sqrt(squares)

    def multipliers() -> torch.Tensor:
        p = torch.softmax(logits, dim=0)[:-1]
        top_eigenvalue = torch.linalg.eigvalsh((directions * p) @ directions.T)[-1]
        return squares / (2.0 * p * (p.sum() / top_eigenvalue))

    def factor() -> torch.Tensor:
        t = multipliers()
        C = torch.eye(A.shape[0], dtype=A.dtype) - 0.5 * (A / t) @ A.T
        image = torch.linalg.solve_triangular(torch.linalg.cholesky(C), B, upper=False)
        return torch.cat([torch.sqrt(t)[:, None] * V, image])

    def estimate() -> float:
        with torch.no_grad():
            return float(top(factor())) ** 2

    best, best_rho = start, float("inf")
    with torch.enable_grad(), contextlib.suppress(torch.linalg.LinAlgError):
        best_rho = estimate()
        for stage, power in enumerate(_POWERS):
            stop = time.monotonic() + (deadline - time.monotonic()) / (len(_POWERS) - stage)
            least, stale = float("inf"), 0
            for _ in range(_STEPS):
                if time.monotonic() > stop or stale >= _PATIENCE:
                    break
                optimiser.zero_grad()
                surrogate = top(factor(), power)
                surrogate.backward()
                optimiser.step()
                value = float(surrogate.detach())
                stale = 0 if value < least * (1.0 - _PROGRESS) else stale + 1
                least = min(least, value)
            rho = estimate()
            if rho < best_rho:
                best, best_rho = multipliers().detach().numpy().copy(), rho
    return Solution(best)
