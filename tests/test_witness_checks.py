"""The rigorous checkers of point and pair witnesses, and the arb helpers behind them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from flint import arb, ctx
from hypothesis import HealthCheck, given, settings

from certify.evidence import PairWitness, PointWitness
from certify.problem import Problem
from certify.verify import verify
from certify.verify.balls import lower_float, norm_lower, norm_upper
from models import TwoLayerNetwork

from .strategies import PIECEWISE_LINEAR, SMOOTH, networks

ACTIVATIONS = ("relu", "leaky_relu(0.1)", "tanh", "sigmoid", "softplus", "elu", "elu(0.5)", "gelu")
SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)


def toy() -> TwoLayerNetwork:
    """f(x) = relu(x) − relu(x − 1): slope 1 on (0, 1), 0 elsewhere, so Lip(f) = 1."""
    return TwoLayerNetwork.create([[1.0], [1.0]], [[1.0, -1.0]], b=[0.0, -1.0])


def random_net(activation: str, seed: int, k: int = 6, d: int = 4, m: int = 3) -> TwoLayerNetwork:
    rng = np.random.default_rng(seed)
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    return TwoLayerNetwork.create(W, A, b=rng.standard_normal(k), activation=activation)


def test_point_in_a_region_verifies_its_exact_gradient_norm() -> None:
    verdict = verify(Problem(toy()), PointWitness(value=1.0, point=np.array([0.5])))
    assert verdict.verified and verdict.value == 1.0 and verdict.note == ""


def test_inflated_claims_are_not_verified_above_the_truth() -> None:
    point = verify(Problem(toy()), PointWitness(value=5.0, point=np.array([0.5])))
    assert point.verified and point.value == 1.0 and "claimed" in point.note
    pair = verify(Problem(toy()), PairWitness(value=5.0, x=np.array([0.25]), y=np.array([2.0])))
    assert pair.verified and pair.value <= 0.75 / 1.75 and "claimed" in pair.note


@pytest.mark.parametrize("x", [0.0, 1.0])
def test_point_on_a_relu_kink_is_refused(x: float) -> None:
    verdict = verify(Problem(toy()), PointWitness(value=1.0, point=np.array([x])))
    assert not verdict.verified and "kink" in verdict.note


@pytest.mark.parametrize("activation", ["leaky_relu(0.1)", "leaky_relu(-0.5)", "elu(0.5)"])
def test_point_on_other_kinks_is_refused(activation: str) -> None:
    net = TwoLayerNetwork.create([[1.0, 2.0]], [[1.0]], b=[-3.0], activation=activation)
    assert not verify(Problem(net), PointWitness(value=1.0, point=np.array([1.0, 1.0]))).verified


def test_kinks_of_neurons_that_cannot_change_f_are_harmless() -> None:
    # Neuron 1 has w = 0 with its bias on the kink; neuron 2 has a zero output column.
    net = TwoLayerNetwork.create([[2.0], [0.0], [1.0]], [[3.0, 1.0, 0.0]], b=[1.0, 0.0, -1.0])
    verdict = verify(Problem(net), PointWitness(value=6.0, point=np.array([1.0])))
    assert verdict.verified and verdict.value == 6.0


def test_smooth_activations_have_no_kink_to_refuse() -> None:
    net = TwoLayerNetwork.create([[1.0]], [[1.0]], activation="tanh")
    verdict = verify(Problem(net), PointWitness(value=1.0, point=np.array([0.0])))
    assert verdict.verified and verdict.value == 1.0


def test_pair_of_equal_points_is_refused() -> None:
    x = np.array([0.5])
    verdict = verify(Problem(toy()), PairWitness(value=1.0, x=x, y=x.copy()))
    assert not verdict.verified and "coincide" in verdict.note


@pytest.mark.parametrize(
    "witness",
    [
        PointWitness(value=1.0, point=np.array([0.5, 0.5])),
        PointWitness(value=1.0, point=np.array([math.nan])),
        PairWitness(value=1.0, x=np.array([0.5]), y=np.array([math.inf])),
        PairWitness(value=1.0, x=np.array([[0.5]]), y=np.array([1.0])),
    ],
)
def test_malformed_points_are_refused(witness: PointWitness | PairWitness) -> None:
    assert not verify(Problem(toy()), witness).verified


def test_zero_network_verifies_zero() -> None:
    net = TwoLayerNetwork.create([[1.0, -1.0]], [[0.0]], b=[0.0])
    assert verify(Problem(net), PointWitness(value=0.0, point=np.zeros(2))) == verify(
        Problem(net), PairWitness(value=0.0, x=np.zeros(2), y=np.ones(2))
    )
    assert verify(Problem(net), PointWitness(value=0.0, point=np.zeros(2))).value == 0.0


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_verified_values_match_floating_point_on_ordinary_inputs(activation: str) -> None:
    net = random_net(activation, seed=3)
    rng = np.random.default_rng(4)
    for _ in range(5):
        x, y = rng.standard_normal(net.d), rng.standard_normal(net.d)
        gradient = np.linalg.norm(net.jacobian(x), ord=2)
        point = verify(Problem(net), PointWitness(value=gradient, point=x))
        assert point.verified and point.note == ""
        assert point.value == pytest.approx(gradient, rel=1e-10)
        secant = np.linalg.norm(net(x) - net(y)) / np.linalg.norm(x - y)
        pair = verify(Problem(net), PairWitness(value=secant, x=x, y=y))
        assert pair.verified and pair.value == pytest.approx(secant, rel=1e-10)


def test_close_pairs_keep_their_accuracy() -> None:
    net = random_net("tanh", seed=5)
    x = np.random.default_rng(6).standard_normal(net.d)
    y = x + 1e-9
    secant = np.linalg.norm(net.jacobian(x) @ (y - x)) / np.linalg.norm(y - x)
    verdict = verify(Problem(net), PairWitness(value=secant, x=x, y=y))
    assert verdict.value == pytest.approx(secant, rel=1e-6)


def test_big_networks_verify() -> None:
    net = random_net("relu", seed=7, k=50, d=784, m=10)
    x = np.random.default_rng(8).standard_normal(784)
    gradient = np.linalg.norm(net.jacobian(x), ord=2)
    verdict = verify(Problem(net), PointWitness(value=gradient, point=x))
    assert verdict.value == pytest.approx(gradient)


@SETTINGS
@given(networks(activations=PIECEWISE_LINEAR + SMOOTH))
def test_verified_point_values_never_exceed_a_proven_upper_end(net: TwoLayerNetwork) -> None:
    """The exact ‖J(x)‖₂ is at most ‖J(x)‖_F, bounded above here in exact ball arithmetic."""
    x = np.random.default_rng(net.k).standard_normal(net.d)
    verdict = verify(Problem(net), PointWitness(value=math.inf, point=x))
    if not verdict.verified:
        return
    with ctx.workprec(200):
        slopes = [net.activation.derivative_ball(arb(z)) for z in _exact_preactivation(net, x)]
        frobenius = norm_upper(
            sum((arb(a[i]) * slopes[i] * arb(net.W[i, j]) for i in range(net.k)), arb(0))
            for a in net.A
            for j in range(net.d)
        )
        assert arb(verdict.value) <= frobenius.upper()


def _exact_preactivation(net: TwoLayerNetwork, x: np.ndarray) -> list[arb]:
    return [
        sum((arb(w) * arb(v) for w, v in zip(row, x, strict=True)), arb(bias))
        for row, bias in zip(net.W, net.b, strict=True)
    ]


def test_lower_float_rounds_down() -> None:
    with ctx.workprec(128):
        third = arb(1) / 3
        assert arb(lower_float(third)) <= third.lower()
        assert lower_float(arb(0.5)) == 0.5
        assert lower_float(-third) <= -1 / 3
        assert lower_float(arb(1) / 0) == -math.inf
        assert lower_float(arb(10) ** 400) == np.finfo(np.float64).max
        assert lower_float(-(arb(10) ** 400)) == -math.inf
        assert lower_float(arb(10) ** -400) == 0.0
        assert lower_float(-(arb(10) ** -400)) < 0.0


def test_norm_bounds_enclose_the_norm_of_every_vector_in_the_box() -> None:
    box = [arb("0 +/- 1"), arb(3), arb("-4 +/- 0.5")]
    assert norm_lower(box).lower() <= math.sqrt(9 + 3.5**2)
    assert norm_upper(box).upper() >= math.sqrt(1 + 9 + 4.5**2)
