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

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

__all__ = ["Blocks", "assemble", "layer_cliques", "lmi_blocks", "lmi_magnitudes"]


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


def assemble(
    weights: Sequence,
    diagonals: Sequence,
    top_left: object,
    quadratic: float,
    cross: float,
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
    diagonals, top_left = _multiplier_blocks(weights, multipliers, rho)
    return assemble(weights, diagonals, top_left, 2.0 * alpha * beta, -(alpha + beta), -1.0)


def _multiplier_blocks(
    weights: tuple[np.ndarray, ...], multipliers: tuple[np.ndarray, ...], rho: float
) -> tuple[list[np.ndarray], np.ndarray]:
    """The diagonal matrices T_l and the top-left term ρI."""
    return [np.diag(t) for t in multipliers], rho * np.eye(weights[0].shape[1])


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
    diagonals, top_left = _multiplier_blocks(weights, multipliers, rho)
    return assemble(absolute, diagonals, top_left, abs(2.0 * alpha * beta), abs(alpha + beta), 1.0)
