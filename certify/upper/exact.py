"""The exact Lipschitz constant of a small piecewise-linear net, by branch and bound over regions.

With slopes σ'₋ on u < 0 and σ'₊ on u > 0, f is affine on each open region
R(s) = {x : s_i (w_i·x + b_i) > 0} of the active neurons, with Jacobian J_s = A·diag(σ'(s))·W.
The non-empty regions are dense and f is continuous, so Lip(f) = max ‖J_s‖₂ over non-empty R(s)
(the piecewise-linear case of Jordan & Dimakis, "Exactly computing the local Lipschitz constant
of ReLU networks", NeurIPS 2020).

The search is depth first over sign prefixes, the neurons taken in a fixed order.  A node stops
being split when its region is proven empty (`certify.verify.farkas`), when `SubtreeBound` proves
every completion no better than the best realised region, or when its signs are complete.  The
leaves form a complete prefix code, which the checker re-derives together with every bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from models import Activation, TwoLayerNetwork

from ..evidence import Certificate, PointWitness
from ..methods import Budget, Kind, register
from ..regions import active_neurons, chebyshev_center
from ..verify.dispatch import verify
from ..verify.farkas import ExactLayer, FarkasProof
from ..verify.floating import TINY, frobenius_upper, gamma, up
from ..verify.norms import spectral_norm_estimate, spectral_norm_upper

__all__ = [
    "ExactCertificate",
    "ExactRegions",
    "Leaf",
    "SubtreeBound",
    "exact_lipschitz",
    "product_norm_upper",
    "side_slopes",
]

LeafKind = Literal["pattern", "empty", "bounded"]


@dataclass(frozen=True)
class Leaf:
    """An unsplit node: its signs on the first neurons of the order, and why it is a leaf.

    "pattern": complete signs of a realised region; "empty": the prefix region is empty, by
    ``proof``; "bounded": `SubtreeBound` of the prefix covers it (pruned, undecided or out of time).
    """

    signs: tuple[int, ...]
    kind: LeafKind
    proof: FarkasProof | None = None


@dataclass(frozen=True)
class ExactCertificate(Certificate):
    """The leaves of a complete search tree over the active neurons taken in ``order``, and a
    point of the best realised region."""

    order: tuple[int, ...]
    leaves: tuple[Leaf, ...] = field(repr=False)
    witness: PointWitness | None = None


def side_slopes(activation: Activation) -> tuple[float, float]:
    """(σ'₋, σ'₊): the slopes of a piecewise-linear σ on u < 0 and on u > 0."""
    negative, positive = activation.derivative(np.array([-1.0, 1.0]))
    return float(negative), float(positive)


def product_norm_upper(A: np.ndarray, t: np.ndarray, W: np.ndarray) -> float:
    """A proven upper bound on ‖A·diag(t)·W‖₂.

    The float product P has |P − A·diag(t)·W| ≤ γ_{k+2}·|A|·diag|t|·|W| entrywise (Higham,
    *Accuracy and Stability of Numerical Algorithms*, §3.5), whose Frobenius norm is added.
    """
    product = (A * t) @ W
    error = gamma(t.size + 2) * ((np.abs(A) * np.abs(t)) @ np.abs(W)) + t.size * TINY
    return up(spectral_norm_upper(product) + frobenius_upper(error))


class SubtreeBound:
    """A proven upper bound on ‖J_s‖₂ over every completion s of a sign prefix p.

    Write σ'(s_j) = μ + e_j for any real μ, so |e_j| ≤ h = max|σ'± − μ|.  With t = (σ'(p), μ…μ)
    and F the free neurons, J_s = A·diag(t)·W + A_F·diag(e_F)·W_F, and by the triangle inequality

        ‖J_s‖₂ ≤ ‖A·diag(t)·W‖₂ + h·min(‖A_F‖₂‖W_F‖₂, ‖|A_F|·|W_F|‖₂),

    the last term because |A_F·diag(e)·W_F| ≤ h|A_F||W_F| entrywise and ‖X‖₂ ≤ ‖Y‖₂ whenever
    |X| ≤ Y.  For complete signs it is a proven bound on ‖J_s‖₂ itself.
    """

    def __init__(self, net: TwoLayerNetwork, order: Sequence[int]) -> None:
        self.A = net.A[:, list(order)]
        self.W = net.W[list(order)]
        self.negative, self.positive = side_slopes(net.activation)
        self.middle = 0.5 * (self.negative + self.positive)
        half = up(max(abs(self.negative - self.middle), abs(self.positive - self.middle)))
        self.free = [self._free_part(depth, half) for depth in range(len(order) + 1)]

    def _free_part(self, depth: int, half: float) -> float:
        A, W = self.A[:, depth:], self.W[depth:]
        if half == 0.0 or W.size == 0:
            return 0.0
        product = up(spectral_norm_upper(A) * spectral_norm_upper(W))
        absolute = product_norm_upper(np.abs(A), np.ones(W.shape[0]), np.abs(W))
        return up(half * min(product, absolute))

    def slopes(self, signs: Sequence[int]) -> np.ndarray:
        """t: σ'(s_j) on the prefix, μ on the free neurons."""
        t = np.full(self.W.shape[0], self.middle)
        t[: len(signs)] = [self.positive if s > 0 else self.negative for s in signs]
        return t

    def __call__(self, signs: Sequence[int]) -> float:
        jacobian = product_norm_upper(self.A, self.slopes(signs), self.W)
        return up(jacobian + self.free[len(signs)])

    def estimate(self, signs: Sequence[int]) -> float:
        """The same bound with ‖A·diag(t)·W‖₂ estimated: cheap, for steering the search."""
        jacobian = (self.A * self.slopes(signs)) @ self.W
        return spectral_norm_estimate(jacobian) + self.free[len(signs)]


@dataclass(frozen=True)
class _Node:
    """A sign prefix, its estimated `SubtreeBound`, and a point proven inside its region."""

    signs: tuple[int, ...]
    bound: float
    point: np.ndarray | None = field(default=None, repr=False)


class _Search:
    """The depth-first branch and bound of one `ExactRegions.run`."""

    def __init__(self, net: TwoLayerNetwork, budget: Budget) -> None:
        active = active_neurons(net)
        weight = np.linalg.norm(net.A[:, active], axis=0) * np.linalg.norm(net.W[active], axis=1)
        self.order = tuple(int(i) for i in active[np.argsort(-weight, kind="stable")])
        self.budget = budget
        self.bound = SubtreeBound(net, self.order)
        self.layer = ExactLayer(net.W, net.b)
        norms = np.linalg.norm(net.W[list(self.order)], axis=1)
        self.unit_W = net.W[list(self.order)] / norms[:, None]
        self.unit_b = net.b[list(self.order)] / norms
        self.origin = np.zeros(net.d)
        self.leaves: list[Leaf] = []
        self.value = 0.0
        self.best = _Node((), -math.inf)

    def run(self) -> ExactCertificate:
        stack = [_Node((), self.bound.estimate(()), self.origin)]
        while stack and not self.budget.expired():
            stack += self._visit(stack.pop())
        for node in stack:
            self._leaf(node, "bounded")
        return ExactCertificate(
            value=self.value, order=self.order, leaves=tuple(self.leaves), witness=self._witness()
        )

    def _leaf(self, node: _Node, kind: LeafKind, proof: FarkasProof | None = None) -> None:
        self.leaves.append(Leaf(node.signs, kind, proof))
        if kind != "empty":
            self.value = max(self.value, node.bound)

    def _visit(self, node: _Node) -> list[_Node]:
        """Turn ``node`` into a leaf, or return its children, the more promising one last."""
        if node.bound <= self.best.bound:
            self._leaf(node, "bounded")
            return []
        if node.point is None:
            region = self._decide(node.signs)
            if isinstance(region, FarkasProof):
                self._leaf(node, "empty", region)
                return []
            node = _Node(node.signs, node.bound, region)
        depth = len(node.signs)
        if self.bound.free[depth] == 0.0:
            complete = depth == len(self.order) and node.point is not None
            self._leaf(node, "pattern" if complete else "bounded")
            if node.point is not None:
                self.best = node
            return []
        side = 0 if node.point is None else self.layer.sign(self.order[depth], node.point)
        children = [self._child(node, s, side) for s in (1, -1)]
        return sorted(children, key=lambda child: child.bound)

    def _child(self, node: _Node, sign: int, side: int) -> _Node:
        signs = (*node.signs, sign)
        return _Node(signs, self.bound.estimate(signs), node.point if side == sign else None)

    def _decide(self, signs: tuple[int, ...]) -> np.ndarray | FarkasProof | None:
        """A point proven inside the prefix region, a proof that it is empty, or None."""
        if not signs:
            return self.origin
        depth = len(signs)
        lp = chebyshev_center(self.unit_W[:depth], self.unit_b[:depth], np.array(signs, float))
        if lp is None:
            return None
        if lp.nonempty and self.layer.contains(self.order[:depth], signs, lp.center):
            return lp.center
        return self.layer.farkas_proof(self.order[:depth], signs, lp.duals)

    def _witness(self) -> PointWitness | None:
        """The best realised region's Chebyshev centre (its search point if that is unproven)."""
        if self.best.point is None:
            return None
        centre = self._decide(self.best.signs)
        point = centre if isinstance(centre, np.ndarray) else self.best.point
        jacobian = (self.bound.A * self.bound.slopes(self.best.signs)) @ self.bound.W
        return PointWitness(value=spectral_norm_estimate(jacobian), point=point)


@register
class ExactRegions:
    """max ‖J_s‖₂ over the non-empty activation regions (piecewise-linear σ, few neurons)."""

    name: ClassVar[str] = "exact"
    kind: ClassVar[Kind] = "upper"
    default: ClassVar[bool] = True
    #: The search tree may have 2^max_neurons leaves.
    max_neurons: ClassVar[int] = 20

    def why_not(self, net: TwoLayerNetwork) -> str | None:
        if not net.activation.piecewise_linear:
            return f"activation {net.activation.spec!r} is not piecewise linear"
        count = len(active_neurons(net))
        if count > self.max_neurons:
            return f"{count} active neurons exceed the limit of {self.max_neurons}"
        return None

    def run(self, net: TwoLayerNetwork, budget: Budget) -> ExactCertificate:
        return _Search(net, budget).run()


def exact_lipschitz(net: TwoLayerNetwork, seconds: float = math.inf) -> tuple[float, float]:
    """Proven (lower, upper) around Lip(f): the checker's value, and the exact rational
    ‖J_s‖₂ lower bound at the witness of the best realised region.

    Out of time, the upper end stays proven and the lower end may fall short of Lip(f).
    Raises ValueError where the method does not apply.
    """
    # The checker module imports this one, so it is imported here, once both exist.
    from ..verify.checks.exact import gradient_norm_lower

    method = ExactRegions()
    reason = method.why_not(net)
    if reason is not None:
        raise ValueError(reason)
    certificate = method.run(net, Budget(seconds=seconds))
    verdict = verify(net, certificate)
    if not verdict.verified:
        raise RuntimeError(f"exact certificate rejected: {verdict.note}")
    witness = certificate.witness
    lower = 0.0 if witness is None else gradient_norm_lower(net, witness.point)
    return lower, verdict.value
