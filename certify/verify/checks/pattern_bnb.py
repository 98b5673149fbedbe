"""Checker for the pattern branch and bound (`certify.upper.pattern_bnb`): a complete split tree,
an LMI proof for every bounded leaf and an exact Farkas proof for every empty one.

Tree.  The nodes come in preorder; a split on a free neuron j has two subtrees, j on (slope σ'₊)
then j off (σ'₋).  Parsing them from the root, with every sign free, the leaves partition the sign
vectors {−1, +1}ⁿ of the n active neurons (each follows one path), provided the nodes are used up
exactly when the last subtree closes.

Bounded leaf.  With on-set N, off-set F and free set U, every sign vector s below it has the
Jacobian J_s = A·diag(θ)·W with θ_i ∈ [α_i, β_i]: α_i = β_i = σ'₊ on N, σ'₋ on F, and
[min σ', max σ'] on U (multiplier +∞ where α_i = β_i).  For any Δx, Δv = WΔx and δ = (θ − α)∘Δv
satisfy δ_i(e_iΔv_i − δ_i) = (θ_i − α_i)(β_i − θ_i)Δv_i² ≥ 0 (e = β − α), which is all the
S-procedure of `certify.verify.checks.lipsdp` uses: its proven LMI at (ρ, t) gives
‖J_sΔx‖² ≤ ρ‖Δx‖², so ‖J_s‖₂ ≤ √ρ.  A leaf with every sign fixed has no multiplier, and its LMI
is ρI − J_sJ_sᵀ ≻ 0.

Empty leaf: the region of its fixed signs is empty (`ExactLayer.proves_empty`).

Value.  Lip(f) = max ‖J_s‖₂ over the non-empty regions of the active neurons
(`certify.upper.exact`; the other neurons add constants), which is at most the largest proven √ρ
over the bounded leaves.
"""

from __future__ import annotations

import math

import numpy as np

from models import TwoLayerNetwork

from ...certificates import PatternCertificate, PatternNode
from ...problem import Problem
from ...threads import single_threaded
from ..dispatch import Verdict, checker, unsupported
from ..farkas import ExactLayer
from ..floating import up
from ..neurons import active_neurons, side_slopes
from .lipsdp import ReducedLMI

#: Relative inflations of ρ tried for a leaf's LMI.
_INFLATIONS = (1e-12, 1e-9, 1e-6, 1e-3)


class _Leaves:
    """The proofs of the leaves of one net (its active neurons only)."""

    def __init__(self, net: TwoLayerNetwork, neurons: np.ndarray) -> None:
        self.W, self.A = net.W[neurons], net.A[:, neurons]
        self.layer = ExactLayer(self.W, net.b[neurons])
        self.negative, self.positive = side_slopes(net.activation)

    def bound(self, state: np.ndarray, node: PatternNode) -> float | None:
        """The proven √ρ of a bounded leaf (None if its LMI is not proven)."""
        low, high = min(self.negative, self.positive), max(self.negative, self.positive)
        fixed = np.where(state > 0, self.positive, self.negative)
        alpha, beta = np.where(state == 0, low, fixed), np.where(state == 0, high, fixed)
        t = np.full(len(state), math.inf)
        widths = beta > alpha
        multipliers = np.asarray(node.multipliers, dtype=np.float64)
        if multipliers.shape != (int(np.count_nonzero(widths)),):
            return None
        if not (np.all(np.isfinite(multipliers)) and np.all(multipliers > 0.0)):
            return None
        if not (math.isfinite(node.rho) and node.rho > 0.0):
            return None
        t[widths] = multipliers
        lmi = ReducedLMI(self.W, self.A, t, alpha, beta)
        for inflation in _INFLATIONS:
            rho = node.rho * (1.0 + inflation)
            if lmi.holds(rho):
                return up(math.sqrt(rho))
        return None

    def empty(self, state: np.ndarray, node: PatternNode) -> bool:
        """Whether the leaf's proof shows the region of its fixed signs empty."""
        signs = {int(i): int(state[i]) for i in np.flatnonzero(state != 0)}
        return node.proof is not None and self.layer.proves_empty(signs, node.proof)


def _tree_value(certificate: PatternCertificate, leaves: _Leaves, n: int) -> Verdict:
    """Walk the preorder nodes from the root; the largest proven leaf bound."""
    stack, value = [np.zeros(n, dtype=int)], 0.0
    for position, node in enumerate(certificate.nodes):
        if not stack:
            return Verdict.failed(f"node {position} lies outside the tree")
        state = stack.pop()
        if node.split is not None:
            j = node.split
            if not (isinstance(j, int) and 0 <= j < n and state[j] == 0):
                return Verdict.failed(f"node {position} splits on a fixed or unknown neuron")
            for sign in (-1, 1):
                child = state.copy()
                child[j] = sign
                stack.append(child)
        elif node.proof is not None:
            if not leaves.empty(state, node):
                return Verdict.failed(f"node {position}: the emptiness proof does not check")
        else:
            bound = leaves.bound(state, node)
            if bound is None:
                return Verdict.failed(f"node {position}: the LMI is not proven")
            value = max(value, bound)
    if stack:
        return Verdict.failed("the tree is incomplete")
    return Verdict(value, True, f"{len(certificate.nodes)} nodes")


@checker.register
def _(certificate: PatternCertificate, problem: Problem) -> Verdict:
    net = problem.net
    if reason := unsupported(problem, domain_aware=True):
        return Verdict.failed(reason)
    if not net.activation.piecewise_linear:
        return Verdict.failed("the activation is not piecewise linear")
    neurons = active_neurons(net)
    if tuple(certificate.neurons) != tuple(neurons.tolist()):
        return Verdict.failed("the neurons are not the active neurons")
    if neurons.size == 0:
        return Verdict(0.0, True, "no neuron can change f: it is constant")
    with single_threaded():
        return _tree_value(certificate, _Leaves(net, neurons), int(neurons.size))
