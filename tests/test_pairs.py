"""The pair method and its checker at every depth, in the ℓ2 and ℓ∞ norms, over R^d and on
balls and boxes: verified pairs never exceed the exact constant, the checker proves the exact
quotient and refuses what is not a pair of D, and the search finds what its ascent finds."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from certify.api import run_method
from certify.domains import Ball, Box
from certify.evidence import PairWitness
from certify.lower.deep_ascent import DeepAscent
from certify.lower.domain_search import DomainAscent
from certify.lower.engines import Ascents
from certify.lower.linf_search import LinfAscent
from certify.lower.pairs import PairSearch
from certify.lower.search import inside
from certify.lower.two_layer_ascent import TwoLayerAscent
from certify.methods import Budget
from certify.problem import Problem
from certify.verify import verify
from models import Network, TwoLayerNetwork

from .oracles import domain_oracle
from .test_conformance import REGIONS, _domain, degenerate_net

SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)
CELLS = list(itertools.product((2, 3), ("2", "inf"), REGIONS))
TOLERANCE = 1e-9
#: Long enough that only the search sizes below, never the clock, end a search.
BUDGET = 5.0


def quick_ascents() -> Ascents:
    """Each ascent with one small round, so that the tests stay fast."""
    sizes = {"restarts": 4, "steps": 40, "max_rounds": 1, "samples": 200}
    return Ascents(
        TwoLayerAscent(**sizes),
        DeepAscent(**sizes),
        DomainAscent(**sizes),
        LinfAscent(samples=200, restarts=4, steps=100, max_rounds=1),
    )


def quick_pairs() -> PairSearch:
    return PairSearch(ascent=quick_ascents(), samples=200, refine_steps=10)


def random_net(widths: list[int], activation: str, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((n, p)) for p, n in itertools.pairwise(widths)]
    return Network(tuple(weights), tuple(rng.standard_normal(n) for n in widths[1:]), activation)


def exact_quotient(net: Network, norm: str, x: np.ndarray, y: np.ndarray) -> Fraction:
    """‖f(x) − f(y)‖/‖x − y‖ of a (leaky) ReLU net in rational arithmetic, squared for ℓ2."""
    slope = Fraction(net.activation.parameter or 0.0)
    points = [[Fraction(v) for v in x], [Fraction(v) for v in y]]
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        for n, h in enumerate(points):
            z = [
                sum(Fraction(w) * v for w, v in zip(row, h, strict=True)) + Fraction(c)
                for row, c in zip(W, b, strict=True)
            ]
            points[n] = [v if v > 0 else slope * v for v in z]
    last = net.weights[-1]
    change = [
        sum(Fraction(w) * (p - q) for w, p, q in zip(row, *points, strict=True)) for row in last
    ]
    gap = [Fraction(p) - Fraction(q) for p, q in zip(x, y, strict=True)]
    if norm == "inf":
        return max(abs(v) for v in change) / max(abs(v) for v in gap)
    return sum(v * v for v in change) / sum(v * v for v in gap)


def _problem(rng: np.random.Generator, depth: int, norm: str, region: str) -> Problem:
    net = degenerate_net(rng, depth)
    return Problem(net, norm, _domain(region, rng, net.d))


@settings(SETTINGS, max_examples=60)
@given(st.sampled_from(CELLS), st.integers(0, 2**32 - 1))
def test_verified_pairs_never_exceed_the_exact_constant(cell: tuple, seed: int) -> None:
    problem = _problem(np.random.default_rng(seed), *cell)
    _, upper = domain_oracle(problem.net, problem.norm, problem.domain)
    verdict = verify(problem, quick_pairs().run(problem, Budget(BUDGET, seed)))
    assert verdict.verified and verdict.note == "", verdict  # the float score is pessimistic
    assert verdict.value <= upper * (1 + TOLERANCE) + 1e-300, (verdict, upper)


@pytest.mark.parametrize(("depth", "norm", "region"), CELLS)
def test_pairs_verify_and_reach_the_constant_on_most_nets(depth: int, norm: str, region: str):
    rng = np.random.default_rng([depth, len(norm), REGIONS.index(region)])
    reached = tried = 0
    for _ in range(10):
        problem = _problem(rng, depth, norm, region)
        lower, _ = domain_oracle(problem.net, problem.norm, problem.domain)
        verdict = verify(problem, quick_pairs().run(problem, Budget(BUDGET)))
        assert verdict.verified, verdict
        if lower > 0:
            tried += 1
            reached += verdict.value >= lower * (1 - 1e-6)
    assert reached >= 0.6 * tried, (reached, tried)


GENERAL_CELLS = [(3, "2", "box"), (3, "2", "ball"), (3, "inf", "box"), (2, "inf", "ball")]


@pytest.mark.parametrize(("depth", "norm", "region"), GENERAL_CELLS)
def test_the_general_ascent_reaches_the_constant_where_no_specialised_one_runs(
    depth: int, norm: str, region: str
) -> None:
    ascent, sampled = [], []
    for seed in range(5):
        net = random_net([4, *[5] * (depth - 1), 2], "relu", seed=seed)
        problem = Problem(net, norm, _domain(region, np.random.default_rng(seed), net.d))
        lower, upper = domain_oracle(net, norm, problem.domain)
        found = run_method("ascent", problem, 1.0, 0)
        assert found.verified and found.value <= upper * (1 + TOLERANCE), (found, upper)
        if lower > 0:
            ascent.append(found.value / lower)
            sampled.append(run_method("sampling", problem, 1.0, 0).value / lower)
    reached = sum(ratio >= 1 - 1e-6 for ratio in ascent)
    assert reached >= 0.6 * len(ascent) > 0, ascent
    assert np.median(ascent) >= np.median(sampled), (ascent, sampled)


def test_the_general_ascent_beats_sampling_on_deep_nets_in_linf() -> None:
    ratios = {"ascent": [], "sampling": []}
    for seed in range(5):
        problem = Problem(random_net([4, 5, 5, 2], "relu", seed=seed), "inf")
        lower, _ = domain_oracle(problem.net, "inf", None)
        for name in ratios:
            result = run_method(name, problem, 1.0, 0)
            assert result.verified
            ratios[name].append(result.value / lower)
    assert np.median(ratios["ascent"]) >= max(0.85, np.median(ratios["sampling"])), ratios


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "elu(0.5)", "gelu"])
@pytest.mark.parametrize(("depth", "norm", "region"), CELLS)
def test_smooth_pairs_stay_below_a_verified_upper_bound(
    activation: str, depth: int, norm: str, region: str
) -> None:
    net = random_net([3, *[4] * (depth - 1), 2], activation, seed=depth)
    upper = run_method("spectral" if norm == "2" else "linf-product", Problem(net, norm), 5.0, 0)
    assert upper.verified
    domain = _domain(region, np.random.default_rng(1), net.d)
    problem = Problem(net, norm, domain)
    verdict = verify(problem, quick_pairs().run(problem, Budget(BUDGET)))
    assert verdict.verified and verdict.note == "", verdict
    assert 0.0 < verdict.value <= upper.value


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("two-layer l2", Problem(random_net([3, 6, 2], "tanh"))),
        ("deep l2", Problem(random_net([3, 5, 4, 2], "gelu"))),
        ("two-layer l2 ball", Problem(random_net([3, 6, 2], "softplus"), "2", Ball(np.ones(3), 1))),
        ("two-layer linf", Problem(random_net([3, 6, 2], "tanh"), "inf")),
    ],
)
def test_pairs_reach_the_gradient_norm_of_their_ascent(name: str, problem: Problem) -> None:
    """Around a point where f is smooth, x ± (h/2)·v tends to ‖J(x)‖ as h → 0."""
    ascents = quick_ascents()
    point = verify(problem, ascents.run(problem, Budget(BUDGET)))
    pair = verify(problem, PairSearch(ascent=ascents, refine_steps=0).run(problem, Budget(BUDGET)))
    assert point.verified and pair.verified
    assert pair.value >= point.value * (1 - 1e-4), (point, pair)


def test_squares_have_pairs_on_a_domain_only() -> None:
    """f(x) = x² has Lip = 2 on [0, 1] (|x² − y²|/|x − y| = x + y) and none on R."""
    net = TwoLayerNetwork.create([[1.0]], [[1.0]], activation="square")
    assert "not globally Lipschitz" in PairSearch().why_not(Problem(net))
    problem = Problem(net, "inf", Box([0.0], [1.0]))
    verdict = verify(problem, PairSearch().run(problem, Budget(BUDGET)))
    assert verdict.verified and 2.0 * (1 - 1e-2) <= verdict.value <= 2.0


def test_pairs_keep_the_fixed_coordinates_of_a_box() -> None:
    net = random_net([3, 5, 5, 1], "relu", seed=4)
    problem = Problem(net, "2", Box([-1.0, 0.5, -1.0], [1.0, 0.5, 1.0]))
    witness = quick_pairs().run(problem, Budget(BUDGET))
    assert witness.x[1] == witness.y[1] == 0.5
    assert verify(problem, witness).verified


def test_a_single_point_domain_holds_no_pair() -> None:
    net = random_net([2, 3, 1], "relu")
    problem = Problem(net, "2", Box([1.0, 2.0], [1.0, 2.0]))
    assert "single point" in PairSearch().why_not(problem)


@settings(SETTINGS, max_examples=60)
@given(st.sampled_from(CELLS), st.integers(0, 2**32 - 1), st.sampled_from([1.0, 1e-8]))
def test_the_checker_proves_the_exact_quotient(cell: tuple, seed: int, closeness: float) -> None:
    rng = np.random.default_rng(seed)
    problem = _problem(rng, *cell)
    domain = problem.domain
    x = rng.standard_normal(problem.net.d) if domain is None else domain.center
    y = x + closeness * rng.standard_normal(problem.net.d)
    if domain is not None:
        y = inside(domain, domain.project(y)[0])
    assume(not np.array_equal(x, y))
    exact = exact_quotient(problem.net, problem.norm, x, y)
    verdict = verify(problem, PairWitness(value=0.0, x=x, y=y))
    proven = Fraction(verdict.value) ** (2 if problem.norm == "2" else 1)
    assert verdict.verified and proven <= exact
    assert proven >= exact * (1 - Fraction(1, 10**12)) - Fraction(1, 10**300)


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_a_tampered_claim_is_verified_only_at_its_proven_value(norm: str) -> None:
    net = random_net([3, 4, 4, 2], "leaky_relu(0.1)", seed=2)
    x, y = np.array([0.1, -0.2, 0.3]), np.array([0.4, 0.1, -0.5])
    true = float(exact_quotient(net, norm, x, y)) ** (0.5 if norm == "2" else 1)
    verdict = verify(Problem(net, norm), PairWitness(value=2 * true, x=x, y=y))
    assert verdict.verified and verdict.value == pytest.approx(true, rel=1e-12)
    assert "claimed" in verdict.note


@pytest.mark.parametrize("domain", [Ball(np.zeros(3), 1.0), Box(-np.ones(3), np.ones(3))])
def test_the_checker_refuses_a_point_outside_the_domain(domain: Ball | Box) -> None:
    net = random_net([3, 4, 4, 1], "tanh")
    outside = np.array([np.nextafter(1.0, 2.0), 0.0, 0.0])
    for x, y in ((np.zeros(3), outside), (outside, np.zeros(3))):
        verdict = verify(Problem(net, "inf", domain), PairWitness(value=0.0, x=x, y=y))
        assert not verdict.verified and "not in the domain" in verdict.note
    inside = verify(Problem(net, "inf", domain), PairWitness(0.0, np.zeros(3), np.ones(3) / 2))
    assert inside.verified


def test_the_checker_refuses_coinciding_points_of_a_deep_net() -> None:
    net = random_net([2, 3, 3, 1], "relu")
    x = np.array([0.5, -0.5])
    verdict = verify(Problem(net, "inf"), PairWitness(value=1.0, x=x, y=x.copy()))
    assert not verdict.verified and "coincide" in verdict.note
