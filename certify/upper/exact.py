"""The exact Lipschitz constant of a small piecewise-linear net, by branch and bound over regions.

With slopes σ'₋ on u < 0 and σ'₊ on u > 0, f is affine on each open region
R(s) = {x : s_i (w_i·x + b_i) > 0} of the active neurons, with Jacobian J_s = A·diag(σ'(s))·W.
The non-empty regions are dense and f is continuous, so Lip(f) = max ‖J_s‖₂ over non-empty R(s)
(the piecewise-linear case of Jordan & Dimakis, "Exactly computing the local Lipschitz constant
of ReLU networks", NeurIPS 2020).

The search is depth first over sign prefixes, the neurons taken in a fixed order.  Every point it
proves inside a prefix region lies in a full region, whose ‖J_s‖₂ is a candidate for the maximum.
A node stops being split when its region is proven empty (`certify.verify.farkas`), when its
`SubtreeBound` (the semidefinite scaling bound, its scaling improved by a few power steps from
the parent's) falls to the best candidate, or when its signs are complete.  The leaves form a
complete prefix code, which the checker re-derives together with every bound.  Out of time, the
open nodes become leaves with their inherited bounds: the value stays a proven upper bound.

This prefix search is the faster engine up to 32 active neurons with one output and up to 20 with
more (measured on 2 cores: 3–8 times faster at d = 10, k = 16–32, m = 1; about even at k = 20–24,
m = 2–3; benchmarks/README.md); beyond, `exact` runs the pattern branch and bound of
`certify.upper.pattern_bnb`, whose LipSDP bounds scale to many outputs and neurons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from models import TwoLayerNetwork

from ..certificates import ExactCertificate, FarkasProof, Leaf, LeafKind, PatternCertificate
from ..evidence import PointWitness
from ..lower.climb import rounded_climb
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..regions import PrefixLP, active_neurons
from ..scope import Scope
from ..threads import single_threaded
from ..verify.farkas import ExactLayer
from .pattern_bnb import pattern_search
from .subtree import Iterate, SubtreeBound

__all__ = ["ExactRegions"]

#: Columns of the power method's iterate Y (the rank of the relaxation's solution it can reach).
_RANK = 16
#: Power steps per round, and rounds per node at most.
_STEPS, _ROUNDS = 4, 8
#: Climbs of the rounding that seeds the search (more cost more than they save, measured).
_SEED_STARTS = 4


@dataclass(frozen=True)
class _Node:
    """A sign prefix, a scaling whose bound ``bound`` covers its subtree, the power method's
    iterate, and a point proven inside its region (None until one is known)."""

    signs: tuple[int, ...]
    bound: float
    scaling: np.ndarray = field(repr=False)
    iterate: Iterate = field(repr=False)
    point: np.ndarray | None = field(default=None, repr=False)


class _Search:
    """The depth-first branch and bound of one `ExactRegions.run`."""

    def __init__(self, net: TwoLayerNetwork, budget: Budget) -> None:
        self.net = net
        self.active = active_neurons(net)
        weight = np.linalg.norm(net.A[:, self.active], axis=0) * np.linalg.norm(
            net.W[self.active], axis=1
        )
        self.order = tuple(int(i) for i in self.active[np.argsort(-weight, kind="stable")])
        self.budget = budget
        self.bound = SubtreeBound(net, self.order)
        self.layer = ExactLayer(net.W, net.b)
        self.regions = PrefixLP(net.W[list(self.order)], net.b[list(self.order)])
        self.leaves: list[Leaf] = []
        self.value = 0.0
        self.best_value, self.best_point = -math.inf, None

    def run(self) -> ExactCertificate:
        self._seed()
        stack = [self._root()]
        while stack and not self.budget.expired():
            stack += self._visit(stack.pop())
        for node in stack:
            self._leaf(node, "bounded")
        witness = None
        if self.best_point is not None:
            witness = PointWitness(value=self.best_value, point=self.best_point)
        return ExactCertificate(
            value=max(self.value, self.best_value),
            order=self.order,
            leaves=tuple(self.leaves),
            witness=witness,
        )

    def _seed(self) -> None:
        """Start from the best point that `rounded_climb` finds in a quarter of the time left."""
        allowance = Budget(self.budget.remaining() / 4, self.budget.seed)
        self._offer(rounded_climb(self.net, allowance, starts=_SEED_STARTS).point)

    def _root(self) -> _Node:
        centre = self.bound.centre(())
        iterate = self.bound.start(centre, 0, _RANK, np.random.default_rng(self.budget.seed))
        scaling = self.bound.scaling(centre, 0, iterate)
        bound = self.bound.estimate(centre, 0, scaling)
        return _Node((), bound, scaling, iterate, np.zeros(self.net.d))

    def _leaf(self, node: _Node, kind: LeafKind, proof: FarkasProof | None = None) -> None:
        scaling = tuple(node.scaling.tolist()) if kind == "bounded" else None
        self.leaves.append(Leaf(node.signs, kind, proof, scaling))
        if kind == "bounded":
            self.value = max(self.value, node.bound)

    def _visit(self, node: _Node) -> list[_Node]:
        """Turn ``node`` into a leaf, or return its children, the preferred one last."""
        if node.bound <= self.best_value:
            self._leaf(node, "bounded")
            return []
        if node.point is None:
            region = self._decide(node.signs)
            if isinstance(region, FarkasProof):
                self._leaf(node, "empty", region)
                return []
            node = replace(node, point=region)
        if node.point is not None:
            self._offer(node.point)
        if len(node.signs) == len(self.order):
            complete = replace(node, scaling=np.ones(1))
            self._leaf(complete, "pattern" if node.point is not None else "bounded")
            return []
        centre = self.bound.centre(node.signs)
        node = self._tightened(node, centre)
        if node.bound <= self.best_value:
            self._leaf(node, "bounded")
            return []
        return self._children(node, centre)

    def _tightened(self, node: _Node, centre: np.ndarray) -> _Node:
        """``node`` with the best scaling found by power steps from its iterate: they stop once
        the bound prunes the node, or once the relaxation's value shows it never will."""
        depth = len(node.signs)
        iterate, bound, scaling = node.iterate, node.bound, node.scaling
        for _ in range(_ROUNDS):
            iterate, relaxation = self.bound.ascend(centre, depth, iterate, _STEPS)
            candidate = self.bound.scaling(centre, depth, iterate)
            estimate = self.bound.estimate(centre, depth, candidate)
            if estimate < bound:
                bound, scaling = estimate, candidate
            if bound <= self.best_value or relaxation > self.best_value:
                break
        return replace(node, bound=bound, scaling=scaling, iterate=iterate)

    def _children(self, node: _Node, centre: np.ndarray) -> list[_Node]:
        """Both children, inheriting the bound (with the scaling of the fixed neuron merged into
        s₀, which cannot raise it) and the point on their side; the preferred child last."""
        depth = len(node.signs)
        scaling = np.concatenate([[math.hypot(node.scaling[0], node.scaling[1])], node.scaling[2:]])
        side = 0 if node.point is None else self.layer.sign(self.order[depth], node.point)
        children = [
            _Node(
                (*node.signs, s),
                node.bound,
                scaling,
                node.iterate,
                node.point if side == s else None,
            )
            for s in (-1, 1)
        ]
        return children if self._preferred(node, centre) > 0 else children[::-1]

    def _preferred(self, node: _Node, centre: np.ndarray) -> int:
        """The sign of the next neuron j that the relaxation leans to: that of e_j when
        ⟨G₀Y, G_jY⟩ ≥ 0 (e_j > 0 correlates the two), read as a side of the kink."""
        depth = len(node.signs)
        right = node.iterate.right
        image = centre @ right
        correlation = float(self.bound.A[:, depth] @ image @ (right.T @ self.bound.W[depth]))
        lean = 1 if correlation >= 0 else -1
        return lean if self.bound.positive >= self.bound.negative else -lean

    def _offer(self, point: np.ndarray) -> None:
        """Make the region of ``point`` the best candidate if its ‖J‖₂ is the largest yet (only
        when no active pre-activation vanishes there)."""
        if np.any(self.layer.signs(point, self.active) == 0):
            return
        value = float(np.linalg.norm(self.net.jacobian(point), 2))
        if value > self.best_value:
            self.best_value, self.best_point = value, point

    def _decide(self, signs: tuple[int, ...]) -> np.ndarray | FarkasProof | None:
        """A point proven inside the prefix region, a proof that it is empty, or None."""
        lp = self.regions.solve(signs)
        if lp is None:
            return None
        rows = self.order[: len(signs)]
        if lp.nonempty and self.layer.contains(rows, signs, lp.center):
            return lp.center
        return self.layer.farkas_proof(rows, signs, lp.duals)


@register
class ExactRegions:
    """max ‖J_s‖₂ over the non-empty activation regions (piecewise-linear σ, few neurons)."""

    name: ClassVar[str] = "exact"
    kind: ClassVar[Kind] = "upper"
    #: The search tree may have 2^max_neurons leaves; the time budget decides how many it visits.
    max_neurons: ClassVar[int] = 128
    #: The prefix search runs up to this many active neurons, with one output and with more
    #: (module docstring).
    prefix_neurons: ClassVar[tuple[int, int]] = (32, 20)

    scope: ClassVar[Scope] = Scope.of(piecewise_linear_only=True)

    def why_not(self, problem: Problem) -> str | None:
        if reason := self.scope.why_not(problem, upper=True):
            return reason
        count = len(active_neurons(problem.net))
        if count > self.max_neurons:
            return f"{count} active neurons exceed the limit of {self.max_neurons}"
        return None

    def run(self, problem: Problem, budget: Budget) -> ExactCertificate | PatternCertificate:
        net = problem.net
        with single_threaded():
            if self.prefix_search_pays(net):
                return _Search(net, budget).run()
            return pattern_search(net, budget)

    def prefix_search_pays(self, net: TwoLayerNetwork) -> bool:
        """Whether the prefix search is the faster engine (``prefix_neurons``)."""
        single, many = self.prefix_neurons
        return len(active_neurons(net)) <= (single if net.m == 1 else many)
