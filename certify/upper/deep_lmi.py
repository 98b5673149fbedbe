"""The multi-layer LipSDP matrix (Fazlyab, Robey, Hassani, Morari, Pappas, NeurIPS 2019,
Theorem 2), written as a block-tridiagonal matrix, and its least ρ for fixed multipliers.

Let f(x) = W_L σ(⋯σ(W_1x + b_1)⋯) + b_L, σ slope-restricted in [α, β], hidden widths n_1 … n_{L−1},
and diagonal T_l ⪰ 0 (one multiplier per neuron).  Index blocks by 0 (the input, n_0 = d) and
the hidden layers 1 … L−1.  N(ρ, T) has the blocks

    N_00 = ρI + 2αβ·W_1ᵀT_1W_1,    N_ll = 2T_l + 2αβ·W_{l+1}ᵀT_{l+1}W_{l+1}  (1 ≤ l ≤ L−2),
    N_{L−1,L−1} = 2T_{L−1} − W_LᵀW_L,    N_{l−1,l} = −(α+β)·W_lᵀT_l,

and zeros elsewhere.  For two inputs, with Δz_0 = Δx, Δz_l the change of hidden layer l and
Δv_l = W_lΔz_{l−1}, its quadratic form is ρ‖Δx‖² − ‖W_LΔz_{L−1}‖² − 2Σ_l Σ_i t_li·(Δz_li −
αΔv_li)(βΔv_li − Δz_li), and every product in the sum is ≥ 0 (the sector condition of σ).  So
N(ρ, T) ⪰ 0 gives ‖f(x) − f(y)‖² ≤ ρ‖x − y‖², i.e. Lip(f) ≤ √ρ; biases play no part.  Each
neuron has its own multiplier (LipSDP-Neuron) or each layer one (LipSDP-Layer); the coupled
multipliers of "LipSDP-Network" are not used (they are unsound).

Chordal structure.  The block-sparsity graph of N is the path 0 – 1 – ⋯ – (L−1): chordal, with the
consecutive pairs as maximal cliques.  By the theorem of Agler, Helton, McCullough and Rodman
(Linear Algebra Appl. 107, 1988; see Vandenberghe and Andersen, "Chordal graphs and semidefinite
optimization", Found. Trends Optim. 1, 2015, §9), N ⪰ 0 exactly when N = Σ_k C_k with each C_k ⪰ 0
supported on clique k, so the LMI splits into L − 1 blocks of size n_{k−1} + n_k, and both the
solver and the checker cost O(depth) such blocks instead of one of size Σ n_l.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch

from ..verify.norms import spectral_norm_estimate

#: Relative margin demanded on the hidden blocks of N (see `schur_eigenvalues`).
MARGIN = 1e-9

__all__ = [
    "MARGIN",
    "Blocks",
    "assemble",
    "layer_cliques",
    "least_rho",
    "lmi_blocks",
    "lmi_magnitudes",
    "normalised",
    "safe_multipliers",
    "schur_eigenvalues",
]


@dataclass(frozen=True)
class Blocks:
    """A symmetric block-tridiagonal matrix: ``diagonal[l]`` is N_ll, ``upper[l]`` is N_{l,l+1}
    (numpy arrays, or torch tensors or cvxpy expressions inside the solvers)."""

    diagonal: list
    upper: list


def layer_cliques(depth: int) -> list[tuple[int, int]]:
    """The maximal cliques of the block-sparsity graph of N for ``depth`` linear layers (blocks
    0 … depth − 1), in path order: (0, 1), (1, 2), …"""
    cliques = nx.chordal_graph_cliques(nx.path_graph(depth))
    return sorted(tuple(sorted(clique)) for clique in cliques)


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


def assemble(
    weights: Sequence, diagonals: Sequence, top_left: object, quadratic: float, cross: float,
    last: float,
) -> Blocks:
    """N from the diagonal matrices T_l and its top-left term ρI, with 2αβ, −(α+β) and −1 (the
    sign of W_LᵀW_L) replaced by the given coefficients.  Written with @, * and .T only, so that
    numpy (checker), torch (descent) and cvxpy (cone program) share this one formula."""
    diagonal = [top_left, *(2.0 * T for T in diagonals)]
    for block, (W, T) in enumerate(zip(weights[:-1], diagonals, strict=True)):
        diagonal[block] = diagonal[block] + quadratic * (W.T @ T @ W)
    diagonal[-1] = diagonal[-1] + last * (weights[-1].T @ weights[-1])
    upper = [cross * (W.T @ T) for W, T in zip(weights[:-1], diagonals, strict=True)]
    return Blocks(diagonal, upper)


def lmi_blocks(
    weights: tuple[np.ndarray, ...],
    multipliers: tuple[np.ndarray, ...],
    rho: float,
    alpha: float,
    beta: float,
) -> Blocks:
    """N(ρ, T) in floating point (``multipliers[l]`` is the diagonal of T_{l+1})."""
    diagonals = [np.diag(t) for t in multipliers]
    top_left = rho * np.eye(weights[0].shape[1])
    return assemble(weights, diagonals, top_left, 2.0 * alpha * beta, -(alpha + beta), -1.0)


def lmi_magnitudes(
    weights: tuple[np.ndarray, ...],
    multipliers: tuple[np.ndarray, ...],
    rho: float,
    alpha: float,
    beta: float,
) -> Blocks:
    """N(ρ, T) with every term replaced by its absolute value (t ≥ 0, ρ ≥ 0): the magnitudes
    that bound the rounding errors of `lmi_blocks` entry by entry."""
    absolute = tuple(np.abs(W) for W in weights)
    diagonals = [np.diag(t) for t in multipliers]
    top_left = rho * np.eye(weights[0].shape[1])
    return assemble(absolute, diagonals, top_left, abs(2.0 * alpha * beta), abs(alpha + beta), 1.0)


def schur_eigenvalues(
    weights: Sequence[torch.Tensor],
    multipliers: Sequence[torch.Tensor],
    alpha: float,
    beta: float,
    margin: float = MARGIN,
) -> torch.Tensor | None:
    """The eigenvalues of G(T) = N_01S_1⁻¹N_10 − 2αβ·W_1ᵀT_1W_1 (torch, differentiable in T), whose
    largest is the least ρ with N(ρ, T) ⪰ ε·E; None when the hidden part of N is not
    (numerically) that definite.  ε = ``margin``, E is the diagonal of the magnitudes
    (`lmi_magnitudes`) on the hidden blocks and 0 on the input block.

    The margin ε·E leaves room for the checker's rounding errors, which are relative to the
    magnitudes (an entry like 2t − w² may cancel); ρ's own margin is the checker's inflation.
    With H_l = N_ll − ε·E_ll, eliminating the blocks L−1, …, 1 leaves the Schur complements
    S_{L−1} = H_{L−1}, S_l = H_l − N_{l,l+1}S_{l+1}⁻¹N_{l+1,l}, and G = −S_0 (with ρ = 0).
    """
    diagonals = [torch.diag(t) for t in multipliers]
    top_left = torch.zeros((weights[0].shape[1],) * 2, dtype=torch.float64)
    blocks = assemble(weights, diagonals, top_left, 2.0 * alpha * beta, -(alpha + beta), -1.0)
    magnitudes = assemble([W.abs() for W in weights], diagonals, top_left,
                          abs(2.0 * alpha * beta), abs(alpha + beta), 1.0)
    hidden = [H - margin * torch.diag(torch.diagonal(E)) for H, E in zip(
        blocks.diagonal[1:], magnitudes.diagonal[1:], strict=True)]
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
    weights: tuple[np.ndarray, ...], multipliers: tuple[np.ndarray, ...], alpha: float, beta: float
) -> float:
    """The least ρ with N(ρ, T) ⪰ ε·E (see `schur_eigenvalues`), or inf."""
    with torch.no_grad():
        eigenvalues = schur_eigenvalues(
            [torch.tensor(W, dtype=torch.float64) for W in weights],
            [torch.tensor(t, dtype=torch.float64) for t in multipliers],
            alpha, beta,
        )
    return math.inf if eigenvalues is None else max(float(eigenvalues[-1]), 0.0)


def safe_multipliers(
    weights: tuple[np.ndarray, ...], alpha: float, beta: float
) -> tuple[np.ndarray, ...]:
    """Layer multipliers T_l = τ_l·I with the hidden part of N positive definite (every W_l ≠ 0).

    τ_{L−1} = ‖W_L‖² gives S_{L−1} ⪰ τ_{L−1}I, and then τ_l = (α² + β²)·τ_{l+1}·‖W_{l+1}‖² gives
    S_l ⪰ 2τ_lI + (2αβ − (α+β)²)·τ_{l+1}W_{l+1}ᵀW_{l+1} ⪰ τ_lI.  Then ρ ≤ (α² + β²)·τ_1‖W_1‖²,
    which for ReLU is (∏_l ‖W_l‖₂)², the layer product.  The norms are estimates, which the
    margin S_l ⪰ τ_lI absorbs.
    """
    widths = [W.shape[0] for W in weights[:-1]]
    squares = [spectral_norm_estimate(W) ** 2 for W in weights]
    taus = [squares[-1]]
    for square in reversed(squares[1:-1]):
        taus.append((alpha**2 + beta**2) * taus[-1] * square)
    return tuple(np.full(n, tau) for n, tau in zip(widths, reversed(taus), strict=True))
