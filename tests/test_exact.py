"""The exact method against independent brute-force oracles, and its checker against tampering."""

from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction
from itertools import combinations, pairwise, product
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.io import loadmat
from scipy.optimize import linprog

from certify.api import exact_lipschitz
from certify.certificates import ExactCertificate, FarkasProof, PatternCertificate, PatternNode
from certify.methods import Budget, get_method
from certify.problem import Problem
from certify.regions import PrefixLP, active_neurons, chebyshev_center
from certify.upper.exact import ExactRegions
from certify.upper.pattern_bnb import pattern_search
from certify.verify import verify
from certify.verify.checks.exact import gradient_norm_lower
from certify.verify.farkas import ExactLayer
from certify.verify.neurons import side_slopes
from certify.verify.subtree import ProvenSubtreeBound
from models import TwoLayerNetwork

from .strategies import PIECEWISE_LINEAR, networks

SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)
TIGHT = 1e-9


def _assert_brackets(lower: float, upper: float, exact_square: Fraction) -> None:
    """lower ≤ √exact_square ≤ upper, compared exactly, and the interval is tight."""
    assert Fraction(lower) ** 2 <= exact_square <= Fraction(upper) ** 2
    assert upper - lower <= TIGHT * upper + 1e-100


def _line_slope_square(net: TwoLayerNetwork) -> Fraction:
    """max ‖f′‖₂² over the open intervals between the breakpoints −b_i/w_i (d = 1), exactly."""
    w = [Fraction(v) for v in net.W[:, 0]]
    b = [Fraction(v) for v in net.b]
    negative, positive = (Fraction(s) for s in side_slopes(net.activation))
    cuts = sorted({-bi / wi for wi, bi in zip(w, b, strict=True) if wi != 0})
    probes = [Fraction(0)] if not cuts else [cuts[0] - 1, cuts[-1] + 1]
    probes += [(left + right) / 2 for left, right in pairwise(cuts)]

    def slope_square(x: Fraction) -> Fraction:
        slopes = [positive if wi * x + bi > 0 else negative for wi, bi in zip(w, b, strict=True)]
        return sum(
            sum(Fraction(a) * s * wi for a, s, wi in zip(row, slopes, w, strict=True)) ** 2
            for row in net.A
        )

    return max(slope_square(x) for x in probes)


@st.composite
def line_networks(draw: st.DrawFn) -> TwoLayerNetwork:
    """d = 1 nets with small integer weights (times a scale 1e-6 … 1e6): many zero rows, zero
    columns of A, shared breakpoints, identical and mirrored neurons."""
    k = draw(st.integers(1, 8))
    m = draw(st.sampled_from([1, 2]))
    entries = st.integers(-3, 3).map(float)
    scale_W, scale_A = (10.0 ** draw(st.integers(-6, 6)) for _ in range(2))
    W = np.array(draw(st.lists(entries, min_size=k, max_size=k)))[:, None] * scale_W
    b = np.array(draw(st.lists(entries, min_size=k, max_size=k))) * scale_W
    A = np.array(draw(st.lists(entries, min_size=m * k, max_size=m * k))).reshape(m, k) * scale_A
    return TwoLayerNetwork.create(W, A, b=b, activation=draw(st.sampled_from(PIECEWISE_LINEAR)))


@settings(SETTINGS, max_examples=200)
@given(line_networks())
def test_matches_the_exact_slope_on_the_line(net: TwoLayerNetwork) -> None:
    _assert_brackets(*exact_lipschitz(net), _line_slope_square(net))


def _gaussian_net(k: int, d: int, m: int, seed: int) -> TwoLayerNetwork:
    rng = np.random.default_rng(seed)
    W, A, b = rng.standard_normal((k, d)), rng.standard_normal((m, k)), rng.standard_normal(k)
    return TwoLayerNetwork.create(W, A, b=b)


@pytest.mark.parametrize(("k", "m", "seed"), [(24, 1, 0), (28, 2, 1), (32, 1, 2)])
def test_wide_nets_on_the_line(k: int, m: int, seed: int) -> None:
    net = _gaussian_net(k, 1, m, seed)
    _assert_brackets(*exact_lipschitz(net), _line_slope_square(net))


def _plane_norm_square(net: TwoLayerNetwork) -> Fraction:
    """max ‖J_s‖₂² over the regions of a d = 2, m = 1 net whose lines are in general position,
    exactly: every region has a vertex, and a point just off each vertex in each of its four
    quadrants visits them all."""
    w = [(Fraction(a), Fraction(c)) for a, c in net.W.tolist()]
    b = [Fraction(v) for v in net.b.tolist()]
    a = [Fraction(v) for v in net.A[0].tolist()]
    negative, positive = (Fraction(s) for s in side_slopes(net.activation))

    def solve(i: int, j: int, right: tuple[Fraction, Fraction]) -> tuple[Fraction, Fraction]:
        determinant = w[i][0] * w[j][1] - w[i][1] * w[j][0]
        return (
            (right[0] * w[j][1] - right[1] * w[i][1]) / determinant,
            (w[i][0] * right[1] - w[j][0] * right[0]) / determinant,
        )

    def value(n: int, x: tuple[Fraction, Fraction]) -> Fraction:
        return w[n][0] * x[0] + w[n][1] * x[1] + b[n]

    best = Fraction(0)
    for i, j in combinations(range(len(w)), 2):
        vertex = solve(i, j, (-b[i], -b[j]))
        for signs in product((1, -1), repeat=2):
            q = solve(i, j, signs)
            others = [n for n in range(len(w)) if n not in (i, j)]
            step = min(
                abs(value(n, vertex)) / (2 * abs(w[n][0] * q[0] + w[n][1] * q[1]))
                for n in others
                if w[n][0] * q[0] + w[n][1] * q[1] != 0
            )
            x = (vertex[0] + step * q[0], vertex[1] + step * q[1])
            slopes = [positive if value(n, x) > 0 else negative for n in range(len(w))]
            J = [sum(a[n] * slopes[n] * w[n][c] for n in range(len(w))) for c in range(2)]
            best = max(best, J[0] ** 2 + J[1] ** 2)
    return best


def test_a_wide_net_in_the_plane() -> None:
    net = _gaussian_net(24, 2, 1, 0)
    _assert_brackets(*exact_lipschitz(net), _plane_norm_square(net))


def _region_depth(W: np.ndarray, b: np.ndarray, signs: np.ndarray) -> float:
    """max t with s_i (w_i·x + b_i) ≥ t‖w_i‖, t ≤ 1: > 0 iff the open region is non-empty."""
    norms = np.linalg.norm(W, axis=1)
    G = np.hstack([-(signs / norms)[:, None] * W, np.ones((len(signs), 1))])
    result = linprog(
        np.r_[np.zeros(W.shape[1]), -1.0],
        A_ub=G,
        b_ub=signs * b / norms,
        bounds=[(None, None)] * W.shape[1] + [(None, 1.0)],
        method="highs-ipm",
    )
    return float(result.x[-1])


def _enumerated_norms(net: TwoLayerNetwork, margin: float) -> tuple[float, float]:
    """max ‖J_s‖₂ over the sign vectors of the active neurons whose region is clearly
    non-empty (depth > margin) and over those possibly non-empty (depth > −margin)."""
    active = np.flatnonzero(np.any(net.W != 0, axis=1) & np.any(net.A != 0, axis=0))
    negative, positive = side_slopes(net.activation)
    sure, possible = 0.0, 0.0
    for code in range(2 ** len(active)):
        signs = np.array([1.0 if code >> j & 1 else -1.0 for j in range(len(active))])
        jacobian = (net.A[:, active] * np.where(signs > 0, positive, negative)) @ net.W[active]
        norm = float(np.linalg.norm(jacobian, 2))
        depth = _region_depth(net.W[active], net.b[active], signs) if len(active) else 1.0
        sure = max(sure, norm) if depth > margin else sure
        possible = max(possible, norm) if depth > -margin else possible
    return sure, possible


@settings(SETTINGS, max_examples=60)
@given(networks())
def test_matches_enumeration_of_all_sign_vectors(net: TwoLayerNetwork) -> None:
    if np.sum(np.any(net.W != 0, axis=1) & np.any(net.A != 0, axis=0)) > 6:
        return
    lower, upper = exact_lipschitz(net)
    sure, possible = _enumerated_norms(net, margin=1e-6)
    assert lower >= sure * (1 - TIGHT)
    assert upper <= possible * (1 + TIGHT) + 1e-100


@settings(SETTINGS, max_examples=100)
@given(networks(), st.integers(0, 2**32 - 1))
def test_dominates_sampled_gradients(net: TwoLayerNetwork, seed: int) -> None:
    lower, upper = exact_lipschitz(net)
    assert lower <= upper
    rng = np.random.default_rng(seed)
    spread = 1.0 + np.max(np.abs(net.b)) / max(float(np.max(np.abs(net.W))), 1e-300)
    for x in rng.standard_normal((300, net.d)) * spread:
        assert np.linalg.norm(net.jacobian(x), 2) <= upper * (1 + TIGHT)


@pytest.mark.parametrize(("A", "expected"), [([[1.0, -1.0]], 1.0), ([[-1.0, 4.0]], 3.0)])
def test_two_neurons_on_the_line(A: list[list[float]], expected: float) -> None:
    """f = relu(x) − relu(x − 1) has slopes 0, 1, 0; the pattern with slope a₂ is empty."""
    net = TwoLayerNetwork.create([[1.0], [1.0]], A, b=[0.0, -1.0])
    lower, upper = exact_lipschitz(net)
    assert lower <= expected <= upper <= expected * (1 + TIGHT)


def test_inactive_and_linear_nets() -> None:
    dead = TwoLayerNetwork.create([[0.0, 0.0], [1.0, 2.0]], [[3.0, 0.0]], b=[1.0, 1.0])
    lower, upper = exact_lipschitz(dead)
    assert lower == 0.0 and upper <= 1e-100
    linear = TwoLayerNetwork.create(
        [[1.0, 0.0], [-1.0, 0.0]], [[1.0, 2.0]], activation="leaky_relu(1)"
    )
    lower, upper = exact_lipschitz(linear)
    assert lower <= 1.0 <= upper and upper - lower <= TIGHT
    doubled = TwoLayerNetwork.create([[1.0, 0.0], [1.0, 0.0]], [[1.0, 1.0]], activation="relu")
    lower, upper = exact_lipschitz(doubled)
    assert lower <= 2.0 <= upper and upper - lower <= TIGHT
    cancelled = TwoLayerNetwork.create([[1e-5], [1e-5]], [[3e6, -3e6]], b=[1.0, 1.0])
    lower, upper = exact_lipschitz(cancelled)
    assert lower == 0.0 and upper <= 1e-100


def _mirrored_net() -> TwoLayerNetwork:
    """Mirrored neurons leave patterns that only a Farkas proof can discard."""
    W = np.array([[1.0, 2.0], [-1.0, -2.0], [3.0, -1.0], [0.5, 1.5]])
    b = np.array([0.5, -0.5, 1.0, -2.0])
    return TwoLayerNetwork.create(W, [[1.0, -5.0, -2.0, 0.3]], b=b)


def _certificate(net: TwoLayerNetwork, budget: Budget | None = None) -> ExactCertificate:
    return ExactRegions().run(Problem(net), Budget() if budget is None else budget)


def test_checker_recomputes_the_value_and_rejects_tampering() -> None:
    net = _mirrored_net()
    certificate = _certificate(net)
    honest = verify(Problem(net), certificate)
    assert honest.verified
    assert verify(Problem(net), dataclasses.replace(certificate, value=0.0)).value == honest.value
    empty = next(i for i, leaf in enumerate(certificate.leaves) if leaf.kind == "empty")
    for position in range(len(certificate.leaves)):
        leaves = certificate.leaves[:position] + certificate.leaves[position + 1 :]
        assert not verify(Problem(net), dataclasses.replace(certificate, leaves=leaves)).verified
    proof = certificate.leaves[empty].proof
    for position in range(len(proof.multipliers)):
        multipliers = list(proof.multipliers)
        multipliers[position] += 1
        forged = dataclasses.replace(proof, multipliers=tuple(multipliers))
        leaves = list(certificate.leaves)
        leaves[empty] = dataclasses.replace(leaves[empty], proof=forged)
        forgery = dataclasses.replace(certificate, leaves=tuple(leaves))
        assert not verify(Problem(net), forgery).verified
    twin = next(
        j
        for j, leaf in enumerate(certificate.leaves)
        if j != empty and len(leaf.signs) == len(certificate.leaves[empty].signs)
    )
    leaves = list(certificate.leaves)
    leaves[empty] = leaves[twin]
    assert not verify(Problem(net), dataclasses.replace(certificate, leaves=tuple(leaves))).verified
    for order in (certificate.order[1:], (*certificate.order[:-1], certificate.order[0])):
        assert not verify(Problem(net), dataclasses.replace(certificate, order=order)).verified
    A = net.A.copy()
    A[:, certificate.order[-1]] = 0.0
    smaller = TwoLayerNetwork.create(net.W, A, b=net.b)
    assert not verify(Problem(net), _certificate(smaller)).verified


def test_empty_leaves_need_their_proof_and_relabelling_only_raises_the_value() -> None:
    net = _mirrored_net()
    certificate = _certificate(net)
    honest = verify(Problem(net), certificate).value
    empty = next(i for i, leaf in enumerate(certificate.leaves) if leaf.kind == "empty")

    def with_leaf(**changes: object) -> ExactCertificate:
        leaves = list(certificate.leaves)
        leaves[empty] = dataclasses.replace(leaves[empty], **changes)
        return dataclasses.replace(certificate, leaves=tuple(leaves))

    assert not verify(Problem(net), with_leaf(proof=None)).verified
    assert not verify(Problem(net), with_leaf(kind="pattern", proof=None)).verified
    assert not verify(Problem(net), with_leaf(kind="bounded", proof=None)).verified
    free = len(certificate.order) - len(certificate.leaves[empty].signs)
    unit = (1.0,) * (free + 1)
    relabelled = verify(Problem(net), with_leaf(kind="bounded", proof=None, scaling=unit))
    assert relabelled.verified and relabelled.value >= honest


def test_bounded_leaves_need_a_positive_scaling_of_the_right_length() -> None:
    """Any positive scaling proves a valid bound, so a changed one can only move the value
    within the proven range; a malformed one is refused."""
    net = _gaussian_net(12, 6, 1, 3)
    certificate = _certificate(net)
    lower = gradient_norm_lower(net, certificate.witness.point)
    position, leaf = next(
        (i, leaf)
        for i, leaf in enumerate(certificate.leaves)
        if leaf.kind == "bounded" and len(leaf.scaling) > 1
    )

    def with_scaling(scaling: object) -> ExactCertificate:
        leaves = list(certificate.leaves)
        leaves[position] = dataclasses.replace(leaf, scaling=scaling)
        return dataclasses.replace(certificate, leaves=tuple(leaves))

    s = leaf.scaling
    for bad in (
        None,
        s[:-1],
        (*s, 1.0),
        (0.0, *s[1:]),
        (-s[0], *s[1:]),
        (math.nan, *s[1:]),
        (math.inf, *s[1:]),
        ("x", *s[1:]),
    ):
        assert not verify(Problem(net), with_scaling(bad)).verified, bad
    rng = np.random.default_rng(0)
    for _ in range(20):
        changed = verify(Problem(net), with_scaling(tuple(s * 10.0 ** rng.uniform(-6, 6, len(s)))))
        assert changed.verified and changed.value >= lower


def _exact_norm(A: np.ndarray, t: tuple[float, ...], W: np.ndarray) -> float:
    """‖A·diag(t)·W‖₂ of the exact product (each entry rounded once)."""
    exact = [
        [
            float(
                sum(
                    Fraction(a) * Fraction(s) * Fraction(w)
                    for a, s, w in zip(row, t, col, strict=True)
                )
            )
            for col in W.T.tolist()
        ]
        for row in A.tolist()
    ]
    return float(np.linalg.norm(np.array(exact), 2))


@settings(SETTINGS, max_examples=60)
@given(networks(), st.data())
def test_subtree_bound_covers_every_completion(net: TwoLayerNetwork, data: st.DataObject) -> None:
    """For every sign prefix and positive scaling, realisable completions or not."""
    order = data.draw(st.permutations(active_neurons(net).tolist()))
    signs = tuple(data.draw(st.lists(st.sampled_from([1, -1]), max_size=len(order))))
    exponents = st.floats(-8, 8, allow_nan=False)
    scaling = 10.0 ** np.array(
        data.draw(
            st.lists(
                exponents,
                min_size=len(order) - len(signs) + 1,
                max_size=len(order) - len(signs) + 1,
            )
        )
    )
    bound = ProvenSubtreeBound(net, order)(signs, scaling)
    negative, positive = side_slopes(net.activation)
    A, W = net.A[:, order], net.W[order]
    for completion in product((1, -1), repeat=len(order) - len(signs)):
        t = tuple(positive if s > 0 else negative for s in (*signs, *completion))
        assert bound >= _exact_norm(A, t, W) * (1 - 1e-12)


def test_prefix_lps_match_fresh_lps() -> None:
    """Warm-started LPs along a random walk of prefixes agree with LPs solved from scratch, and
    their duals prove the empty regions empty."""
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((10, 3)), rng.standard_normal(10)
    layer, warm, signs = ExactLayer(W, b), PrefixLP(W, b), ()
    for _ in range(300):
        keep = int(rng.integers(0, len(signs) + 1))
        signs = signs[:keep] + tuple(rng.choice([1, -1], int(rng.integers(0, 11 - keep))))
        solved = warm.solve(signs)
        if not signs:
            assert solved.radius == 1.0
            continue
        fresh = chebyshev_center(W[: len(signs)], b[: len(signs)], np.array(signs, float))
        assert abs(solved.radius - fresh.radius) <= 1e-9
        if solved.radius < -1e-9:
            assert layer.farkas_proof(range(len(signs)), signs, solved.duals) is not None


def test_float_filter_agrees_with_exact_signs() -> None:
    rng = np.random.default_rng(2)
    W, b = rng.standard_normal((40, 3)), rng.standard_normal(40)
    layer = ExactLayer(W, b)
    points = list(rng.standard_normal((20, 3)))
    for i in range(0, 40, 4):
        x = rng.standard_normal(3)
        x[0] = -(W[i, 1:] @ x[1:] + b[i]) / W[i, 0]
        points += [x, np.nextafter(x, math.inf), np.nextafter(x, -math.inf)]
    for x in points:
        exact = [
            np.sign(
                sum(Fraction(w) * Fraction(v) for w, v in zip(row, x, strict=True))
                + Fraction(offset)
            )
            for row, offset in zip(W.tolist(), b.tolist(), strict=True)
        ]
        assert layer.signs(x, range(40)).tolist() == exact


def test_farkas_proofs_are_exact() -> None:
    """Opposite half-planes w·x + b > 0 and −w·x + b′ > 0 meet iff b + b′ > 0."""
    W = np.array([[1.0, 3.0], [-1.0, -3.0], [-1.0, -3.0]])
    layer = ExactLayer(W, np.array([0.1, -0.1, 0.5]))
    up = {0: 1, 1: 1, 2: 1}
    assert layer.proves_empty(up, FarkasProof((0, 1), (1, 1)))
    assert not layer.proves_empty(up, FarkasProof((0, 2), (1, 1)))  # a slab: non-empty
    for forged in [
        ((0, 1), (2, 1)),
        ((0, 1), (1, 0)),
        ((0, 1), (1, -1)),
        ((0, 0), (1, 1)),
        ((0, 1), (1.0, 1)),
        ((0, 1, 2), (1, 1)),
        ((), ()),
    ]:
        assert not layer.proves_empty(up, FarkasProof(*forged))
    assert not layer.proves_empty({0: 1, 1: -1}, FarkasProof((0, 1), (1, 1)))
    proof = layer.farkas_proof([0, 1, 2], [1, 1, 1], np.array([0.5, 0.5, 1e-12]))
    assert proof == FarkasProof((0, 1), (1, 1))
    assert layer.farkas_proof([0, 2], [1, 1], np.array([0.5, 0.5])) is None


def test_signs_at_a_point_are_exact() -> None:
    layer = ExactLayer(np.array([[10.0], [2.0], [-3.0]]), np.array([-1.0, -1.0, 0.3]))
    assert layer.sign(0, np.array([0.1])) == 1  # the double nearest 0.1 exceeds 1/10
    assert layer.sign(1, np.array([0.5])) == 0
    assert layer.sign(2, np.array([0.1])) == -1  # 3·fl(0.1) > fl(0.3)
    assert not layer.contains([0, 1], [1, 1], np.array([0.5]))


class _Countdown(Budget):
    """A budget that runs out after a fixed number of checks."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.checks = checks

    def expired(self) -> bool:
        self.checks -= 1
        return self.checks < 0


@pytest.mark.parametrize("checks", [0, 1, 3, 10, 30])
def test_out_of_time_certificates_stay_sound(checks: int) -> None:
    rng = np.random.default_rng(7)
    net = TwoLayerNetwork.create(
        rng.standard_normal((10, 3)), rng.standard_normal((2, 10)), b=rng.standard_normal(10)
    )
    exact_lower, _ = exact_lipschitz(net)
    verdict = verify(Problem(net), _certificate(net, _Countdown(checks)))
    assert verdict.verified and verdict.value >= exact_lower


def test_applicability() -> None:
    method = get_method("exact")
    assert method.kind == "upper"
    smooth = TwoLayerNetwork.create([[1.0]], [[1.0]], activation="tanh")
    assert "piecewise linear" in method.why_not(Problem(smooth))
    limit = ExactRegions.max_neurons
    wide = TwoLayerNetwork.create(np.ones((limit + 1, 2)), np.ones((1, limit + 1)))
    assert "exceed" in method.why_not(Problem(wide))
    with pytest.raises(ValueError, match="piecewise linear"):
        exact_lipschitz(smooth)


# The pattern branch and bound (`certify.upper.pattern_bnb`), the engine of `exact` for many
# outputs or independent rows.

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "peers" / "lipsdp" / "mnist_weights.mat"
MNIST_CERTIFICATE = ROOT / "benchmarks" / "results" / "mnist_exact.json"


def _degenerate_net(seed: int, biased: bool) -> TwoLayerNetwork:
    """k ≤ 10 (≤ 7 with biases or a duplicated or mirrored neuron), d ≤ 5 (d ≥ k when not
    ``biased``), m ≤ 4, weights scaled 1e-6 … 1e6, and by turns zero rows, duplicated or mirrored
    neurons, k = 1 and d = 1."""
    rng = np.random.default_rng(seed)
    k = 1 if seed % 7 == 0 else int(rng.integers(2, 8 if biased or seed % 3 == 0 else 11))
    d = 1 if seed % 5 == 0 and biased else int(rng.integers(1, 6)) + (0 if biased else k)
    m = int(rng.integers(1, 5))
    scale_W, scale_A = 10.0 ** rng.integers(-6, 7, size=2)
    W, A = rng.standard_normal((k, d)) * scale_W, rng.standard_normal((m, k)) * scale_A
    b = rng.standard_normal(k) * scale_W * biased
    if k > 1 and seed % 3 == 0:
        W[1], b[1] = rng.choice([1.0, -1.0]) * W[0], b[0]
    if k > 2 and seed % 4 == 0:
        W[2] = 0.0
    activation = PIECEWISE_LINEAR[seed % len(PIECEWISE_LINEAR)]
    return TwoLayerNetwork.create(W, A, b=b, activation=activation)


def _all_patterns_norm(net: TwoLayerNetwork) -> tuple[float, float]:
    """max ‖J_s‖₂ over every sign vector of the active neurons when their rows of W are
    independent (each one is realised, Wx + b taking every value), else `_enumerated_norms`."""
    active = active_neurons(net)
    if np.linalg.matrix_rank(net.W[active]) < len(active):
        return _enumerated_norms(net, margin=1e-6)
    negative, positive = side_slopes(net.activation)
    best = 0.0
    for signs in product((negative, positive), repeat=len(active)):
        jacobian = (net.A[:, active] * np.array(signs)) @ net.W[active]
        best = max(best, float(np.linalg.norm(jacobian, 2)))
    return best, best


def _pattern_interval(net: TwoLayerNetwork, budget: Budget | None = None) -> tuple[float, float]:
    """The verified (lower, upper) of the pattern search; NaN upper when it does not check."""
    certificate = pattern_search(net, Budget() if budget is None else budget)
    verdict = verify(Problem(net), certificate)
    witness = certificate.witness
    lower = 0.0 if witness is None else verify(Problem(net), witness).value
    return lower, verdict.value if verdict.verified else math.nan


@pytest.mark.parametrize("biased", [False, True])
def test_pattern_search_brackets_the_enumeration(biased: bool) -> None:
    """upper ≥ exact ≥ lower on 40 nets, and at least 90% of them closed to 1e-9 (bias-free:
    k ≤ 10 with d ≥ k, every pattern realised; biased: k ≤ 7 against the LP enumeration)."""
    closed = 0
    for seed in range(40):
        net = _degenerate_net(seed, biased)
        lower, upper = _pattern_interval(net)
        sure, possible = _enumerated_norms(net, 1e-6) if biased else _all_patterns_norm(net)
        assert upper >= sure * (1 - 1e-12), seed
        assert lower <= possible * (1 + 1e-12), seed
        closed += upper <= possible * (1 + TIGHT) + 1e-300 and lower >= sure * (1 - TIGHT)
    assert closed >= 36


@settings(SETTINGS, max_examples=40)
@given(networks())
def test_pattern_search_matches_enumeration(net: TwoLayerNetwork) -> None:
    lower, upper = _pattern_interval(net)
    sure, possible = _enumerated_norms(net, margin=1e-6)
    assert sure * (1 - TIGHT) <= upper <= possible * (1 + TIGHT) + 1e-100
    assert sure * (1 - TIGHT) <= lower <= possible * (1 + 1e-12)


def _pattern_certificate() -> tuple[TwoLayerNetwork, PatternCertificate]:
    """A biased net with more neurons than inputs: splits, empty and bounded leaves."""
    rng = np.random.default_rng(5)
    net = TwoLayerNetwork.create(
        rng.standard_normal((9, 2)), rng.standard_normal((3, 9)), b=rng.standard_normal(9)
    )
    return net, pattern_search(net, Budget())


def test_pattern_checker_rejects_tampering() -> None:
    net, certificate = _pattern_certificate()
    problem = Problem(net)
    honest = verify(problem, certificate)
    assert honest.verified
    nodes = certificate.nodes
    kinds = {("split" if n.split is not None else "empty" if n.proof else "bounded") for n in nodes}
    assert kinds == {"split", "empty", "bounded"}

    def forged(position: int, node: PatternNode) -> bool:
        changed = (*nodes[:position], node, *nodes[position + 1 :])
        return verify(problem, dataclasses.replace(certificate, nodes=changed)).verified

    for position in range(len(nodes)):
        shorter = nodes[:position] + nodes[position + 1 :]
        assert not verify(problem, dataclasses.replace(certificate, nodes=shorter)).verified
    longer = (*nodes, nodes[-1])
    assert not verify(problem, dataclasses.replace(certificate, nodes=longer)).verified
    for position, node in enumerate(nodes):
        if node.split is not None:
            assert not forged(position, dataclasses.replace(node, split=len(certificate.neurons)))
        elif node.proof is not None:
            multipliers = (node.proof.multipliers[0] + 1, *node.proof.multipliers[1:])
            assert not forged(
                position,
                dataclasses.replace(
                    node, proof=dataclasses.replace(node.proof, multipliers=multipliers)
                ),
            )
        else:
            assert not forged(position, dataclasses.replace(node, rho=node.rho / 2))
            assert not forged(
                position, dataclasses.replace(node, multipliers=(*node.multipliers, 1.0))
            )
    first_split = next(i for i, node in enumerate(nodes) if node.split is not None)
    later = next(i for i, node in enumerate(nodes) if i > first_split and node.split is not None)
    assert not forged(later, nodes[first_split])  # a split on a neuron already fixed
    assert not verify(
        problem, dataclasses.replace(certificate, neurons=certificate.neurons[1:])
    ).verified


def test_pattern_leaves_accept_any_multipliers_their_lmi_proves() -> None:
    """Multipliers are only proposals: scaled ones are refused or prove a value that is still
    an upper bound."""
    net, certificate = _pattern_certificate()
    problem = Problem(net)
    lower = verify(problem, certificate.witness).value
    rng = np.random.default_rng(0)
    for position, node in enumerate(certificate.nodes):
        if node.split is not None or node.proof is not None or not node.multipliers:
            continue
        scaled = tuple(t * 10.0 ** rng.uniform(-1, 1) for t in node.multipliers)
        for rho in (node.rho, 100.0 * node.rho):
            nodes = list(certificate.nodes)
            nodes[position] = dataclasses.replace(node, multipliers=scaled, rho=rho)
            verdict = verify(problem, dataclasses.replace(certificate, nodes=tuple(nodes)))
            assert not verdict.verified or verdict.value >= lower


@pytest.mark.parametrize("checks", [0, 1, 3, 10])
def test_stopped_pattern_searches_stay_sound(checks: int) -> None:
    net, _ = _pattern_certificate()
    exact_lower, _ = _pattern_interval(net)
    lower, upper = _pattern_interval(net, _Countdown(checks))
    assert lower <= exact_lower * (1 + 1e-12) <= upper * (1 + 1e-12)


def test_pattern_certificates_survive_json() -> None:
    net, certificate = _pattern_certificate()
    copy = PatternCertificate.from_dict(json.loads(json.dumps(certificate.to_dict())))
    assert copy.nodes == certificate.nodes
    assert verify(Problem(net), copy).value == verify(Problem(net), certificate).value


def test_exact_picks_its_engine() -> None:
    """The prefix search up to 32 active neurons with one output and 20 with more, the pattern
    search beyond."""
    rng = np.random.default_rng(3)
    for (k, m), engine in [
        ((32, 1), ExactCertificate),
        ((20, 2), ExactCertificate),
        ((33, 1), PatternCertificate),
        ((21, 2), PatternCertificate),
    ]:
        net = TwoLayerNetwork.create(
            rng.standard_normal((k, 3)), rng.standard_normal((m, k)), b=rng.standard_normal(k)
        )
        assert isinstance(_certificate(net, _Countdown(2)), engine)


def _mnist() -> TwoLayerNetwork:
    if not MNIST.exists():
        pytest.skip(f"{MNIST} is absent")
    W, A = loadmat(MNIST)["weights"].ravel()
    return TwoLayerNetwork.create(W, A)


def test_the_published_mnist_constant_rechecks() -> None:
    """benchmarks/results/mnist_exact.json proves Lip(f) of LipSDP's MNIST net to 1e-6."""
    net = _mnist()
    data = json.loads(MNIST_CERTIFICATE.read_text())
    certificate = PatternCertificate.from_dict(data["certificate"])
    upper = verify(Problem(net), certificate)
    witness = dataclasses.replace(certificate.witness, value=float(data["lower"]))
    lower = verify(Problem(net), witness)
    assert upper.verified and lower.verified
    assert lower.value <= upper.value <= lower.value * (1 + 1e-6)
    assert upper.value == float(data["upper"])
    assert lower.value >= float(data["lower"])
    assert ExactLayer(net.W, net.b).contains(
        list(certificate.neurons), certificate.pattern, certificate.witness.point
    )
