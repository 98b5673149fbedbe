"""The multi-layer LipSDP matrix (Fazlyab, Robey, Hassani, Morari, Pappas, NeurIPS 2019,
Theorem 2), written as a block-tridiagonal matrix, and its least ρ for fixed multipliers.

Let f(x) = W_L σ(⋯σ(W_1x + b_1)⋯) + b_L with hidden widths n_1 … n_{L−1}, neuron i of layer l
slope-restricted in [α_li, β_li] (the sector [α, β] of σ on all of R^d, or the slopes proven on a
domain, `certify.verify.propagation.layer_slope_intervals`), and diagonal T_l ⪰ 0 (one multiplier
per neuron).  With Q_l = diag(2α_lβ_l)·T_l and P_l = diag(α_l + β_l)·T_l, index blocks by 0 (the
input, n_0 = d) and the hidden layers 1 … L−1.  N(ρ, T) has the blocks

    N_00 = ρI + W_1ᵀQ_1W_1,    N_ll = 2T_l + W_{l+1}ᵀQ_{l+1}W_{l+1}  (1 ≤ l ≤ L−2),
    N_{L−1,L−1} = 2T_{L−1} − W_LᵀW_L,    N_{l−1,l} = −W_lᵀP_l,

and zeros elsewhere.  For two inputs, with Δz_0 = Δx, Δz_l the change of hidden layer l and
Δv_l = W_lΔz_{l−1}, its quadratic form is ρ‖Δx‖² − ‖W_LΔz_{L−1}‖² − 2Σ_l Σ_i t_li·(Δz_li −
α_liΔv_li)(β_liΔv_li − Δz_li), and every product in the sum is ≥ 0 (the sector condition of the
neuron, for inputs where it holds).  So N(ρ, T) ⪰ 0 gives ‖f(x) − f(y)‖² ≤ ρ‖x − y‖², i.e.
Lip(f) ≤ √ρ; biases play no part.  Each neuron has its own multiplier (LipSDP-Neuron) or each
layer one (LipSDP-Layer); the coupled multipliers of "LipSDP-Network" are not used (they are
unsound).

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

__all__ = [
    "Blocks",
    "LayerSlopes",
    "assemble",
    "layer_cliques",
    "lmi_blocks",
    "lmi_magnitudes",
    "sector_coefficients",
    "uniform_slopes",
]

#: Per hidden layer, the slope bounds (α_l, β_l) of its neurons.
LayerSlopes = Sequence[tuple[np.ndarray, np.ndarray]]


def uniform_slopes(widths: Sequence[int], alpha: float, beta: float) -> list[tuple]:
    """The sector [α, β] for every neuron of hidden layers of the given widths."""
    return [(np.full(n, float(alpha)), np.full(n, float(beta))) for n in widths]


def sector_coefficients(slopes: LayerSlopes) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per layer, the float vectors 2α_lβ_l and α_l + β_l (the diagonals of Q_l, P_l per unit
    multiplier)."""
    return [2.0 * a * b for a, b in slopes], [a + b for a, b in slopes]


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
    quadratic: Sequence,
    cross: Sequence,
    top_left: object,
    last: float,
) -> Blocks:
    """N from the diagonal matrices T_l, Q_l (for 2αβ·T) and C_l (for −(α+β)·T, or any other
    coefficients in their place), its top-left term ρI and the sign ``last`` of W_LᵀW_L (−1).
    Written with @, + and .T only, so that numpy (checker), torch (descent) and cvxpy (cone
    program) share this one formula."""
    diagonal = [top_left, *(2.0 * T for T in diagonals)]
    for block, (W, Q) in enumerate(zip(weights[:-1], quadratic, strict=True)):
        diagonal[block] = diagonal[block] + W.T @ Q @ W
    diagonal[-1] = diagonal[-1] + last * (weights[-1].T @ weights[-1])
    upper = [W.T @ C for W, C in zip(weights[:-1], cross, strict=True)]
    return Blocks(diagonal, upper)


def lmi_blocks(
    weights: tuple[np.ndarray, ...],
    multipliers: tuple[np.ndarray, ...],
    rho: float,
    slopes: LayerSlopes,
) -> Blocks:
    """N(ρ, T) in floating point (``multipliers[l]`` is the diagonal of T_{l+1})."""
    quadratic, cross = sector_coefficients(slopes)
    return _assembled(weights, multipliers, rho, quadratic, [-c for c in cross], -1.0)


def lmi_magnitudes(
    weights: tuple[np.ndarray, ...],
    multipliers: tuple[np.ndarray, ...],
    rho: float,
    slopes: LayerSlopes,
) -> Blocks:
    """N(ρ, T) with every term replaced by its absolute value (t ≥ 0, ρ ≥ 0): the magnitudes
    that bound the rounding errors of `lmi_blocks` entry by entry."""
    quadratic, cross = sector_coefficients(slopes)
    absolute = tuple(np.abs(W) for W in weights)
    return _assembled(
        absolute, multipliers, rho, [np.abs(q) for q in quadratic], [np.abs(c) for c in cross], 1.0
    )


def _assembled(
    weights: tuple[np.ndarray, ...],
    multipliers: tuple[np.ndarray, ...],
    rho: float,
    quadratic: list[np.ndarray],
    cross: list[np.ndarray],
    last: float,
) -> Blocks:
    """`assemble` on the float diagonal matrices T_l, diag(q_l·t_l), diag(c_l·t_l) and ρI."""
    return assemble(
        weights,
        [np.diag(t) for t in multipliers],
        [np.diag(q * t) for q, t in zip(quadratic, multipliers, strict=True)],
        [np.diag(c * t) for c, t in zip(cross, multipliers, strict=True)],
        rho * np.eye(weights[0].shape[1]),
        last,
    )
