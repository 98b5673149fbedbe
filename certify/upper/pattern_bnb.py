"""The exact ℓ2 Lipschitz constant of a two-layer piecewise-linear net, by branch and bound on
activation patterns with a LipSDP bound on every subproblem.

A node fixes the signs of the neurons of an on-set N (slope σ'₊) and an off-set F (slope σ'₋)
and leaves a set U free.  Every pattern s below it has the Jacobian

    J_s = σ'₊·A_N W_N + σ'₋·A_F W_F + A_U·diag(θ_U)·W_U,   θ_i ∈ [min σ', max σ'],

a two-layer net with a linear part and free neurons: LipSDP-Neuron with one slope interval per
neuron (a fixed neuron has α_i = β_i and no multiplier; `certify.upper.lipsdp_solvers`) bounds
every ‖J_s‖₂ below the node.  Lip(f) is the largest ‖J_s‖₂ over the realised patterns
(`certify.upper.exact`), so a node is settled once its bound is at most (1 + gap) times the best
realised ‖J_s‖₂, once its fixed signs are proven unrealisable (an exact Farkas proof), or once
every sign is fixed (its bound is then ‖J_s‖₂ itself).

Search.  Best first by node bound; a node splits on its free neuron of largest ‖a_i‖·‖w_i‖; each
child's interior-point solve (`certify.upper.lipsdp_barrier`) starts from the parent's multipliers
without the fixed neuron (which removes a positive term from ½A_UT⁻¹A_Uᵀ, so C(t) stays definite),
to a coarse tolerance first, then finer ones only while that does not decide the prune.  Each split
node also climbs to a pattern of its box: s_i = sign((uᵀa_i)(w_iᵀv)) for the top singular pair
(u, v) of its J, repeated (for fixed (u, v) that maximises uᵀJ_sv).  A pattern counts once a point
proven inside its region is known: when the active rows of W are (numerically) independent, the
least-squares solution of W_R x + b_R = c·s_R (c = 1 + max|b_R|), else (or when its exact check
fails) the Chebyshev-centre LP, whose duals give the Farkas proofs of empty regions.  Where regions
can be empty, a node first fixes the free neurons (up to ``_IMPLIED``, by influence) whose other
side is proven empty within its region: each is a split with an empty child, so the bound that
follows sees fewer free neurons (measured at d = 10, k = 32, m = 10: a third fewer bounds).

Anytime: out of time, the open nodes stay leaves with their own bounds, so the certificate still
proves an upper bound.  `certify.verify.checks.pattern_bnb` re-proves every leaf.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

import highspy
import numpy as np

from models import TwoLayerNetwork

from ..certificates import FarkasProof, PatternCertificate, PatternNode
from ..evidence import PointWitness
from ..lower.climb import rounded_climb
from ..methods import Budget
from ..regions import RegionLP, _quiet_highs, active_neurons
from ..verify.farkas import ExactLayer
from ..verify.neurons import side_slopes
from .lipsdp_barrier import minimise_barrier
from .lipsdp_solvers import Centred, SchurForm, minimise_layer, safe_multipliers

__all__ = ["pattern_search"]

Progress = Callable[[float, float, int], None]

#: Relative gap at which a node is pruned against the best realised ‖J_s‖₂.
GAP = 1e-9
#: Tolerances (relative, on √ρ) of a node's successive solves.
_TOLERANCES = (1e-3, 1e-6, 1e-10)
#: The accuracy, in log t, of the LipSDP-Layer search that starts the root's solve.
_START_ACCURACY = 0.5
#: Relative slack for the checker's inflation of ρ, in the prune test.
_SLACK = 1e-11
#: Climbing steps of a node's pattern, and climbs of the rounding that seeds the search.
_CLIMB_STEPS, _SEED_STARTS = 20, 4
#: The least ρ a leaf claims: the checker's range (f may be constant below the node).
_LEAST_RHO = 2.0**-170
#: Free neurons tested for an implied sign at each node.
_IMPLIED = 16
#: Bounds computed between two calls of the progress callback.
_REPORT_EVERY = 200
#: Least-squares realisation needs σ_min(W) above this fraction of σ_max(W).
_CONDITION = 1e-8


@dataclass
class _Node:
    """A node of the search: signs (+1 on, −1 off, 0 free) on the active neurons, its bound and
    multipliers, a point proven inside its region (None until known), and its children."""

    state: np.ndarray
    upper: float = math.inf
    rho: float = math.nan
    t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    point: np.ndarray | None = None
    proof: FarkasProof | None = None
    split: int | None = None
    children: tuple[_Node, ...] = ()


class _Search:
    """The best-first branch and bound of one `pattern_search`."""

    def __init__(
        self, net: TwoLayerNetwork, budget: Budget, gap: float, progress: Progress | None
    ) -> None:
        self.net, self.budget, self.gap, self.progress = net, budget, gap, progress
        self.neurons = active_neurons(net)
        self.W, self.A = net.W[self.neurons], net.A[:, self.neurons]
        self.b = net.b[self.neurons]
        self.negative, self.positive = side_slopes(net.activation)
        self.layer = ExactLayer(self.W, self.b)
        self.regions = _Regions(self.W, self.b)
        self.influence = np.linalg.norm(self.A, axis=0) * np.linalg.norm(self.W, axis=1)
        self.free_regions = _independent_rows(self.W)
        self.best_value, self.best_point = 0.0, None
        self.best_pattern: tuple[int, ...] = ()
        self.nodes, self.closed = 0, 0.0

    def run(self) -> PatternCertificate:
        root = _Node(np.zeros(len(self.neurons), dtype=int), 0.0, 0.0, point=np.zeros(self.net.d))
        if len(self.neurons):
            self._seed()
            self._bound(root, None)
        heap, tie = [(-root.upper, 0, root)], count(1)
        while heap and not self.budget.expired():
            _, _, node = heapq.heappop(heap)
            if self._settled(node):
                self.closed = max(self.closed, node.upper)
                continue
            for child in self._split(node):
                heapq.heappush(heap, (-child.upper, next(tie), child))
            if self.progress is not None and self.nodes % _REPORT_EVERY < 2:
                self.progress(
                    self.best_value, max(self.closed, -heap[0][0] if heap else 0.0), self.nodes
                )
        nodes = tuple(self._preorder(root))
        value = max(
            (math.sqrt(n.rho) for n in nodes if n.split is None and n.proof is None), default=0.0
        )
        witness = None
        if self.best_point is not None:
            witness = PointWitness(self.best_value, self.best_point)
        return PatternCertificate(
            value, tuple(int(i) for i in self.neurons), nodes, witness, self.best_pattern
        )

    def _seed(self) -> None:
        """Start from the best point that `rounded_climb` finds in a quarter of the time left."""
        allowance = Budget(self.budget.remaining() / 4, self.budget.seed)
        self._offer(rounded_climb(self.net, allowance, starts=_SEED_STARTS).point)

    def _target(self) -> float:
        return self.best_value * (1.0 + self.gap)

    def _settled(self, node: _Node) -> bool:
        """Whether ``node`` stays a leaf: proven empty, bounded by the target, or complete."""
        return (
            node.proof is not None
            or node.upper * (1.0 + _SLACK) <= self._target()
            or bool(np.all(node.state != 0))
        )

    def _split(self, node: _Node) -> list[_Node]:
        """Split ``node`` on its free neuron of largest influence; return the open children."""
        self._climb(node)
        free = np.flatnonzero(node.state == 0)
        j = int(free[np.argmax(self.influence[free])])
        node.split = j
        children = []
        for sign in (1, -1):
            state = node.state.copy()
            state[j] = sign
            child = _Node(state)
            if node.point is not None and self.layer.sign(j, node.point) == sign:
                child.point = node.point
            children.append(child)
        node.children = tuple(children)
        open_children = []
        for child in children:
            if not self.free_regions and child.point is None and not self._realise(child):
                continue
            if not self.free_regions and child.point is not None:
                child = self._implied(child)
            self._bound(child, self._start(node, child))
            if np.all(child.state != 0):
                self._complete(child)
            if not self._settled(child):
                open_children.append(child)
            elif child.proof is None:
                self.closed = max(self.closed, child.upper)
        return open_children

    def _implied(self, node: _Node) -> _Node:
        """Fix the free neurons whose other side is proven empty within the node's region, each
        by a split with an empty child; returns the node below the last one."""
        free = np.flatnonzero(node.state == 0)
        for j in free[np.argsort(-self.influence[free])][:_IMPLIED]:
            side = self.layer.sign(int(j), node.point)
            if side == 0:
                continue
            rows = np.append(np.flatnonzero(node.state != 0), j)
            signs = np.append(node.state[rows[:-1]], -side)
            region = self._region(rows, signs)
            if isinstance(region, np.ndarray):
                self._offer(region)
            if not isinstance(region, FarkasProof):
                continue
            kept, empty = node.state.copy(), node.state.copy()
            kept[j], empty[j] = side, -side
            below = _Node(kept, point=node.point)
            cut = _Node(empty, proof=region)
            node.split = int(j)
            node.children = (below, cut) if side > 0 else (cut, below)
            node = below
        return node

    def _realise(self, node: _Node) -> bool:
        """Find a point of the node's region (offering it), or prove the region empty (False)."""
        rows = np.flatnonzero(node.state != 0)
        region = self._region(rows, node.state[rows])
        if isinstance(region, FarkasProof):
            node.proof = region
            return False
        if region is not None:
            node.point = region
            self._offer(region)
        return True

    def _region(self, rows: np.ndarray, signs: np.ndarray) -> np.ndarray | FarkasProof | None:
        """A point proven inside the region of ``signs`` on ``rows``, a proof that it is empty,
        or None."""
        if self.free_regions:
            offsets = self.b[rows]
            right = (1.0 + float(np.max(np.abs(offsets), initial=0.0))) * signs - offsets
            x = np.linalg.lstsq(self.W[rows], right, rcond=None)[0]
            if self.layer.contains(rows.tolist(), signs.tolist(), x):
                return x
        lp = self.regions.solve(rows, signs)
        if lp is None:
            return None
        if lp.nonempty and self.layer.contains(rows.tolist(), signs.tolist(), lp.center):
            return lp.center
        return self.layer.farkas_proof(rows.tolist(), signs.tolist(), lp.duals)

    def _complete(self, node: _Node) -> None:
        """A leaf with every sign fixed: its bound is ‖J_s‖₂; realise it if it beats the best."""
        if node.upper > self._target() and node.point is None:
            self._realise(node)

    def _climb(self, node: _Node) -> None:
        """Climb to a pattern of the node's box (module docstring) and offer it if realised."""
        state = node.state
        free = state == 0
        pattern = np.where(free, 1, state)
        value = 0.0
        for _ in range(_CLIMB_STEPS):
            u, sigma, vt = np.linalg.svd(self._jacobian(pattern), full_matrices=False)
            if sigma[0] <= value:
                break
            value = float(sigma[0])
            gain = (u[:, 0] @ self.A) * (self.W @ vt[0]) * (self.positive - self.negative)
            pattern = np.where(free, np.where(gain >= 0, 1, -1), state)
        value = max(value, float(np.linalg.norm(self._jacobian(pattern), 2)))
        if value > self._target():
            rows = np.arange(len(self.neurons))
            region = self._region(rows, pattern)
            if isinstance(region, np.ndarray):
                self._offer(region)

    def _jacobian(self, pattern: np.ndarray) -> np.ndarray:
        slopes = np.where(pattern > 0, self.positive, self.negative)
        return (self.A * slopes) @ self.W

    def _offer(self, point: np.ndarray) -> None:
        """Make the region of ``point`` the best if its ‖J‖₂ is the largest yet (only when no
        active pre-activation vanishes there)."""
        signs = self.layer.signs(point, range(len(self.neurons)))
        if np.any(signs == 0):
            return
        value = float(np.linalg.norm(self._jacobian(signs), 2))
        if value > self.best_value:
            self.best_value, self.best_point = value, point
            self.best_pattern = tuple(int(s) for s in signs)

    def _slopes(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[α_i, β_i]: σ'₊ on, σ'₋ off, [min σ', max σ'] free."""
        low, high = min(self.negative, self.positive), max(self.negative, self.positive)
        fixed = np.where(state > 0, self.positive, self.negative)
        return np.where(state == 0, low, fixed), np.where(state == 0, high, fixed)

    def _start(self, parent: _Node, child: _Node) -> np.ndarray:
        """The parent's multipliers on the neurons that stay free with a slope interval."""
        kept = self._widths(parent.state)
        return parent.t[self._widths(child.state)[kept]]

    def _widths(self, state: np.ndarray) -> np.ndarray:
        """The neurons of the node with α_i < β_i (those with a multiplier)."""
        low, high = self._slopes(state)
        return high > low

    def _bound(self, node: _Node, start: np.ndarray | None) -> None:
        """The node's LipSDP-Neuron bound, refined through the tolerances until it prunes the
        node or the solver's lower bound shows that it never will."""
        self.nodes += 1
        data = Centred.of(self.W, self.A, *self._slopes(node.state))
        form = SchurForm(data)
        t = np.zeros(0)
        if form.size:
            if start is None:
                start = minimise_layer(form, self.budget.remaining(), _START_ACCURACY)
            t = start
            for tolerance in _TOLERANCES:
                t, lower = self._solve(data, form, t, tolerance)
                target = self._target() ** 2
                if form.value(t) * (1.0 + _SLACK) <= target or (lower or 0.0) > target:
                    break
        node.rho, node.t = max(form.value(t), _LEAST_RHO), t
        node.upper = math.sqrt(node.rho)

    def _solve(
        self, data: Centred, form: SchurForm, start: np.ndarray, tolerance: float
    ) -> tuple[np.ndarray, float | None]:
        """Multipliers with C(t) ≻ 0 (numerically) and the solver's lower bound on ρ*."""
        try:
            solution = minimise_barrier(data, start, self.budget.remaining(), tolerance)
        except ArithmeticError:
            return start, None
        if form.cholesky(solution.t) is None:
            return (start if form.cholesky(start) is not None else safe_multipliers(form.A)), None
        return solution.t, solution.lower

    def _preorder(self, root: _Node) -> list[PatternNode]:
        nodes, stack = [], [root]
        while stack:
            node = stack.pop()
            if node.children:
                nodes.append(PatternNode(split=node.split))
                stack += node.children[::-1]
            elif node.proof is not None:
                nodes.append(PatternNode(proof=node.proof))
            else:
                nodes.append(PatternNode(rho=node.rho, multipliers=tuple(node.t.tolist())))
        return nodes


class _Regions:
    """The Chebyshev-centre LP of `certify.regions` for any signs on any rows, on one HiGHS model
    that holds an on-row −ŵ_i·x + τ ≤ b̂_i and an off-row ŵ_i·x + τ ≤ −b̂_i for every neuron
    (ŵ_i = w_i/‖w_i‖, b̂_i = b_i/‖w_i‖), each switched on and off by its upper bound, so that every
    solve starts from the last basis."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        k, self.d = W.shape
        norms = np.linalg.norm(W, axis=1)
        sides = np.tile([1.0, -1.0], k)
        rows, offsets = np.repeat(W / norms[:, None], 2, axis=0), np.repeat(b / norms, 2)
        self.bounds = sides * offsets
        self.on = np.zeros(2 * k, dtype=bool)
        self.highs = _quiet_highs()
        infinity = highspy.kHighsInf
        columns = np.arange(self.d + 1, dtype=np.int32)
        upper = np.full(self.d + 1, infinity)
        upper[-1] = 1.0
        self.highs.addVars(self.d + 1, np.full(self.d + 1, -infinity), upper)
        self.highs.changeColsCost(self.d + 1, columns, np.where(columns == self.d, -1.0, 0.0))
        coefficients = np.hstack([-sides[:, None] * rows, np.ones((2 * k, 1))])
        self.highs.addRows(
            2 * k,
            np.full(2 * k, -infinity),
            np.full(2 * k, infinity),
            coefficients.size,
            columns.size * np.arange(2 * k, dtype=np.int32),
            np.tile(columns, 2 * k),
            coefficients.ravel(),
        )

    def solve(self, rows: np.ndarray, signs: np.ndarray) -> RegionLP | None:
        """The LP of the region with ``signs`` on ``rows`` (None when HiGHS reports no optimum)."""
        chosen = 2 * rows + (signs < 0)
        wanted = np.zeros_like(self.on)
        wanted[chosen] = True
        changed = np.flatnonzero(wanted != self.on).astype(np.int32)
        if changed.size:
            upper = np.where(wanted[changed], self.bounds[changed], highspy.kHighsInf)
            self.highs.changeRowsBounds(
                changed.size, changed, np.full(changed.size, -highspy.kHighsInf), upper
            )
        self.on = wanted
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        solution = self.highs.getSolution()
        x = np.asarray(solution.col_value, dtype=np.float64)
        duals = -np.asarray(solution.row_dual, dtype=np.float64)[chosen]
        return RegionLP(center=x[: self.d], radius=float(x[-1]), duals=duals)


def _independent_rows(W: np.ndarray) -> bool:
    """Whether the rows of W are numerically independent: then Wx + b takes every value, and
    every sign pattern is realised (each point found is still checked exactly)."""
    if W.shape[0] > W.shape[1]:
        return False
    if W.shape[0] == 0:
        return True
    sigma = np.linalg.svd(W, compute_uv=False)
    return bool(sigma[-1] > _CONDITION * sigma[0])


def pattern_search(
    net: TwoLayerNetwork, budget: Budget, gap: float = GAP, progress: Progress | None = None
) -> PatternCertificate:
    """Run the branch and bound on ``net`` (piecewise-linear σ) within ``budget``; ``progress``
    hears the anytime (best realised ‖J_s‖₂, largest node bound, bounds computed) now and then."""
    return _Search(net, budget, gap, progress).run()
