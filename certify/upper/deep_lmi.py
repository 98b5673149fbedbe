"""Solving the multi-layer LipSDP matrix N(ρ, T) of `certify.verify.deep_lmi` (Fazlyab et al.,
NeurIPS 2019, Theorem 2): its least ρ for fixed multipliers, safe starting multipliers, and the
normalisation the solvers work in."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..estimates import spectral_norm_estimate
from ..verify.deep_lmi import LayerSlopes, assemble, sector_coefficients

#: Relative margin demanded on the hidden blocks of N (see `schur_eigenvalues`).
MARGIN = 1e-9

__all__ = ["MARGIN", "least_rho", "normalised", "safe_multipliers", "schur_eigenvalues"]


def normalised(weights: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[float]]:
    """W_l/s_l with s_l = ‖W_l‖_F (all non-zero), and the factors ∏_{j>l}s_j² (l = 1 … L−1) that
    turn multipliers T' of the scaled net into T_l = ∏_{j>l}s_j²·T'_l of the original one.

    The congruence by the block diagonal of (∏_{j>l}s_j)⁻¹·I maps N(ρ, T) of the original net to
    N(ρ/∏_js_j², T') of the scaled one, so both are ⪰ 0 together; solvers work on the scaled
    net, whose entries are all of order one.
    """
    scales = [float(np.linalg.norm(W)) for W in weights]
    factors = np.cumprod([s**2 for s in scales[::-1]])[::-1]
    return [W / s for W, s in zip(weights, scales, strict=True)], [float(f) for f in factors[1:]]


def schur_eigenvalues(
    weights: Sequence[torch.Tensor],
    multipliers: Sequence[torch.Tensor],
    slopes: LayerSlopes,
    margin: float = MARGIN,
) -> torch.Tensor | None:
    """The eigenvalues of G(T) = N_01S_1⁻¹N_10 − W_1ᵀQ_1W_1 (torch, differentiable in T), whose
    largest is the least ρ with N(ρ, T) ⪰ ε·E; None when the hidden part of N is not
    (numerically) that definite.  ε = ``margin``, E is the diagonal of the magnitudes
    (`lmi_magnitudes`) on the hidden blocks and 0 on the input block.

    The margin ε·E leaves room for the checker's rounding errors, which are relative to the
    magnitudes (an entry like 2t − w² may cancel); ρ's own margin is the checker's inflation.
    With H_l = N_ll − ε·E_ll, eliminating the blocks L−1, …, 1 leaves the Schur complements
    S_{L−1} = H_{L−1}, S_l = H_l − N_{l,l+1}S_{l+1}⁻¹N_{l+1,l}, and G = −S_0 (with ρ = 0).
    """
    quadratic, cross = (
        [torch.as_tensor(c, dtype=torch.float64) for c in part]
        for part in sector_coefficients(slopes)
    )
    diagonals = [torch.diag(t) for t in multipliers]
    top_left = torch.zeros((weights[0].shape[1],) * 2, dtype=torch.float64)

    def scaled(coefficients: list[torch.Tensor], sign: float) -> list[torch.Tensor]:
        return [torch.diag(sign * c * t) for c, t in zip(coefficients, multipliers, strict=True)]

    blocks = assemble(
        weights, diagonals, scaled(quadratic, 1.0), scaled(cross, -1.0), top_left, -1.0
    )
    magnitudes = assemble(
        [W.abs() for W in weights],
        diagonals,
        scaled([q.abs() for q in quadratic], 1.0),
        scaled([c.abs() for c in cross], 1.0),
        top_left,
        1.0,
    )
    hidden = [
        H - margin * torch.diag(torch.diagonal(E))
        for H, E in zip(blocks.diagonal[1:], magnitudes.diagonal[1:], strict=True)
    ]
    diagonal = [blocks.diagonal[0], *hidden]
    schur = diagonal[-1]
    for block in range(len(blocks.upper) - 1, -1, -1):
        factor, info = torch.linalg.cholesky_ex(schur)
        if info.item() != 0 or not torch.all(torch.isfinite(factor)):
            return None
        X = torch.linalg.solve_triangular(factor, blocks.upper[block].T, upper=False)
        schur = diagonal[block] - X.T @ X
    return torch.linalg.eigvalsh(-schur)


def least_rho(
    weights: tuple[np.ndarray, ...], multipliers: tuple[np.ndarray, ...], slopes: LayerSlopes
) -> float:
    """The least ρ with N(ρ, T) ⪰ ε·E (see `schur_eigenvalues`), or inf."""
    with torch.no_grad():
        eigenvalues = schur_eigenvalues(
            [torch.tensor(W, dtype=torch.float64) for W in weights],
            [torch.tensor(t, dtype=torch.float64) for t in multipliers],
            slopes,
        )
    return math.inf if eigenvalues is None else max(float(eigenvalues[-1]), 0.0)


def safe_multipliers(
    weights: tuple[np.ndarray, ...], slopes: LayerSlopes
) -> tuple[np.ndarray, ...]:
    """Layer multipliers T_l = τ_l·I with the hidden part of N positive definite (every W_l ≠ 0).

    With c_l = max_i (α_li² + β_li²) (1 where a layer's slopes all vanish), τ_{L−1} = ‖W_L‖²
    gives S_{L−1} ⪰ τ_{L−1}I, and then τ_l = c_{l+1}·τ_{l+1}·‖W_{l+1}‖² gives
    S_l ⪰ 2τ_lI − τ_{l+1}·W_{l+1}ᵀdiag(α_{l+1}² + β_{l+1}²)W_{l+1} ⪰ τ_lI, as 2αβ − (α+β)² =
    −(α² + β²).  Then ρ ≤ c_1·τ_1‖W_1‖², which for ReLU is (∏_l ‖W_l‖₂)², the layer product.  The
    norms are estimates, which the margin S_l ⪰ τ_lI absorbs.
    """
    widths = [W.shape[0] for W in weights[:-1]]
    squares = [spectral_norm_estimate(W) ** 2 for W in weights]
    gains = [float(np.max(a**2 + b**2, initial=0.0)) or 1.0 for a, b in slopes]
    taus = [squares[-1]]
    for square, gain in zip(reversed(squares[1:-1]), reversed(gains[1:]), strict=True):
        taus.append(gain * taus[-1] * square)
    return tuple(np.full(n, tau) for n, tau in zip(widths, reversed(taus), strict=True))
