"""Lower-bound methods: their verified values stay below proven upper ends and exact constants."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise, product

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certify.evidence import PairWitness, PointWitness
from certify.lower.ascent import GradientAscent
from certify.lower.engines import Ascents
from certify.lower.pairs import PairSearch
from certify.lower.patterns import PatternSearch, _Climb
from certify.lower.sampling import GradientSampling
from certify.lower.two_layer_ascent import TwoLayerAscent
from certify.methods import Budget, get_method, method_names
from certify.problem import Problem
from certify.regions import active_neurons
from certify.upper.spectral import SpectralProduct
from certify.verify import verify
from models import TwoLayerNetwork

ACTIVATIONS = ("relu", "leaky_relu(0.1)", "tanh", "sigmoid", "softplus", "elu", "gelu")
SHAPES = list(product((1, 3), (1, 2, 5), (1, 3, 8)))  # (m, d, k)
SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)


def quick_methods() -> list:
    """Each method with a small search, so that the tests stay fast."""
    two_layer = TwoLayerAscent(restarts=6, steps=60, max_rounds=1)
    return [
        GradientSampling(count=200),
        GradientAscent(two_layer=two_layer),
        PatternSearch(samples=200, starts=3),
        PairSearch(ascent=Ascents(two_layer=two_layer), refine_steps=10),
    ]


def applicable(net: TwoLayerNetwork) -> list:
    return [method for method in quick_methods() if method.why_not(Problem(net)) is None]


def verified_lower(net: TwoLayerNetwork, method, seed: int = 0) -> float:
    evidence = method.run(Problem(net), Budget(seconds=5.0, seed=seed))
    assert isinstance(evidence, PointWitness | PairWitness)
    verdict = verify(Problem(net), evidence)
    assert verdict.verified, (method.name, verdict)
    return verdict.value


def spectral_upper(net: TwoLayerNetwork) -> float:
    verdict = verify(Problem(net), SpectralProduct().run(Problem(net), Budget()))
    assert verdict.verified
    return verdict.value


def random_net(activation: str, m: int, d: int, k: int, seed: int = 0) -> TwoLayerNetwork:
    rng = np.random.default_rng(seed)
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    return TwoLayerNetwork.create(W, A, b=rng.standard_normal(k), activation=activation)


def degenerate_nets() -> list[TwoLayerNetwork]:
    rng = np.random.default_rng(1)
    W, A, b = rng.standard_normal((6, 3)), rng.standard_normal((2, 6)), rng.standard_normal(6)
    zero_row, zero_column = W.copy(), A.copy()
    zero_row[2] = 0.0
    zero_column[:, 4] = 0.0
    duplicated, duplicated_b = W.copy(), b.copy()
    duplicated[1], duplicated_b[1] = W[0], b[0]
    mirrored, mirrored_b = W.copy(), b.copy()
    mirrored[1], mirrored_b[1] = -2.0 * W[0], -2.0 * b[0]
    return [
        TwoLayerNetwork.create(zero_row, A, b=b),
        TwoLayerNetwork.create(W, zero_column, b=b, activation="tanh"),
        TwoLayerNetwork.create(duplicated, A, b=duplicated_b),
        TwoLayerNetwork.create(mirrored, A, b=mirrored_b, activation="leaky_relu(-0.5)"),
        TwoLayerNetwork.create(W * 1e-6, A, b=b),
        TwoLayerNetwork.create(W * 1e6, A * 1e-6, b=b * 1e6, activation="elu(0.5)"),
        TwoLayerNetwork.create(W * 1e6, A, b=b, activation="gelu"),
        TwoLayerNetwork.create(W, np.zeros((2, 6)), b=b),
        TwoLayerNetwork.create(np.zeros((6, 3)), A, b=b, activation="softplus"),
    ]


def exact_lipschitz_1d(net: TwoLayerNetwork) -> Fraction:
    """Exact Lip(f)² of a d = 1 ReLU net: the largest ‖J‖₂² over the intervals between the
    breakpoints −b_i/w_i, in rational arithmetic."""
    w, b = [Fraction(v) for v in net.W[:, 0]], [Fraction(v) for v in net.b]
    A = [[Fraction(v) for v in row] for row in net.A]
    breaks = sorted({-bi / wi for wi, bi in zip(w, b, strict=True) if wi != 0})
    probes = [Fraction(0)] if not breaks else [breaks[0] - 1, breaks[-1] + 1]
    probes += [(s + t) / 2 for s, t in pairwise(breaks)]
    best = Fraction(0)
    for t in probes:
        on = [i for i in range(net.k) if w[i] * t + b[i] > 0]
        best = max(best, sum(sum(row[i] * w[i] for i in on) ** 2 for row in A))
    return best


def test_the_four_methods_are_registered_lower_bounds() -> None:
    names = method_names(kind="lower")
    assert {"sampling", "ascent", "patterns", "pair"} <= set(names)
    for name in ("sampling", "ascent", "patterns", "pair"):
        assert get_method(name).kind == "lower"


def test_patterns_refuse_smooth_activations() -> None:
    net = random_net("tanh", 1, 2, 3)
    assert "piecewise linear" in PatternSearch().why_not(Problem(net))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_verified_lower_bounds_stay_below_the_spectral_bound(
    activation: str, shape: tuple[int, int, int]
) -> None:
    net = random_net(activation, *shape)
    upper = spectral_upper(net)
    for method in applicable(net):
        assert 0.0 <= verified_lower(net, method) <= upper


@pytest.mark.parametrize("index", range(len(degenerate_nets())))
def test_degenerate_networks(index: int) -> None:
    net = degenerate_nets()[index]
    upper = spectral_upper(net)
    for method in applicable(net):
        assert 0.0 <= verified_lower(net, method) <= upper


def test_networks_that_are_constant_give_zero() -> None:
    for net in degenerate_nets()[-2:]:
        for method in applicable(net):
            assert verified_lower(net, method) == 0.0


@pytest.mark.parametrize("name", ["sampling", "ascent", "patterns", "pair"])
def test_default_methods_find_the_toy_constant_and_never_exceed_it(name: str) -> None:
    net = TwoLayerNetwork.create([[1.0], [1.0]], [[1.0, -1.0]], b=[0.0, -1.0])
    assert 1.0 - 1e-9 <= verified_lower(net, get_method(name)) <= 1.0


@settings(SETTINGS, max_examples=40)
@given(
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1e-6, 1.0, 1e6]),
)
def test_relu_in_one_dimension_never_exceeds_the_exact_constant(
    k: int, m: int, seed: int, scale: float
) -> None:
    rng = np.random.default_rng(seed)
    W = np.round(rng.standard_normal((k, 1)) * 2) * scale
    b = np.round(rng.standard_normal(k) * 2) * scale
    net = TwoLayerNetwork.create(W, rng.standard_normal((m, k)), b=b)
    exact_squared = exact_lipschitz_1d(net)
    for method in applicable(net):
        assert Fraction(verified_lower(net, method)) ** 2 <= exact_squared, method.name


@pytest.mark.parametrize("method", quick_methods(), ids=lambda method: method.name)
def test_same_seed_same_witness(method) -> None:
    net = random_net("relu", 2, 3, 5)
    first, second = (method.run(Problem(net), Budget(seconds=30.0, seed=7)) for _ in range(2))
    assert first.to_dict() == second.to_dict() and first.value == second.value


def test_methods_return_promptly_when_the_budget_is_spent() -> None:
    net = random_net("relu", 2, 3, 5)
    for name in ("sampling", "ascent", "patterns", "pair"):
        evidence = get_method(name).run(Problem(net), Budget(seconds=0.0))
        assert verify(Problem(net), evidence).verified


def test_patterns_reach_a_narrow_region_that_sampling_misses() -> None:
    # Slope 100 only on (10, 10.01); zero elsewhere.
    net = TwoLayerNetwork.create([[1.0], [1.0]], [[100.0, -100.0]], b=[-10.0, -10.01])
    assert verified_lower(net, GradientSampling()) == 0.0
    assert verified_lower(net, PatternSearch()) == 100.0


def test_pattern_moves_are_scored_exactly() -> None:
    """The rank-one Gram update agrees with ‖J‖₂ recomputed after each flip, when neurons
    share hyperplanes (duplicated and mirrored ones included)."""
    rng = np.random.default_rng(2)
    W, b = rng.standard_normal((7, 3)), rng.standard_normal(7)
    W[1], b[1] = W[0], b[0]
    W[2], b[2] = -2.0 * W[0], -2.0 * b[0]
    net = TwoLayerNetwork.create(W, rng.standard_normal((2, 7)), b=b, activation="leaky_relu(-0.5)")
    climb = _Climb(net, active_neurons(net), tries=1, budget=Budget())
    signs = np.where(net.preactivation(rng.standard_normal(3)) > 0, 1.0, -1.0)
    groups = climb.planes.group
    assert groups[0] == groups[1] == groups[2] and len(set(groups)) == 5
    for group, score in enumerate(climb._neighbour_values(signs)):
        flipped = np.where(groups == group, -signs, signs)
        assert score == pytest.approx(climb._value(flipped), rel=1e-9)
