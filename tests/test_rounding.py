"""sdp-rounding: its witnesses verify, stay below the exact constant, and usually reach it."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from certify.api import exact_lipschitz
from certify.lower.rounding import SDPRounding
from certify.methods import Budget, get_method
from certify.problem import Problem
from certify.verify import verify
from models import TwoLayerNetwork

from .strategies import networks

SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)


def _verified(net: TwoLayerNetwork, seed: int = 0) -> float:
    witness = SDPRounding().run(Problem(net), Budget(seconds=5.0, seed=seed))
    verdict = verify(Problem(net), witness)
    assert verdict.verified and verdict.value <= witness.value * (1 + 1e-9) + 1e-300
    return verdict.value


@settings(SETTINGS, max_examples=80)
@given(networks())
def test_never_exceeds_the_exact_constant(net: TwoLayerNetwork) -> None:
    _, upper = exact_lipschitz(net)
    assert _verified(net) <= upper


def test_reaches_the_exact_constant_on_most_small_nets() -> None:
    reached = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        k, d, m = int(rng.integers(2, 11)), int(rng.integers(1, 5)), int(rng.integers(1, 3))
        activation = ("relu", "leaky_relu(0.1)", "leaky_relu(-0.5)")[seed % 3]
        net = TwoLayerNetwork.create(
            rng.standard_normal((k, d)),
            rng.standard_normal((m, k)),
            b=rng.standard_normal(k),
            activation=activation,
        )
        _, upper = exact_lipschitz(net)
        reached += _verified(net, seed) >= upper * (1 - 1e-9)
    assert reached >= 26


def test_applicability() -> None:
    method = get_method("sdp-rounding")
    assert method.kind == "lower"
    smooth = TwoLayerNetwork.create([[1.0]], [[1.0]], activation="tanh")
    assert "piecewise linear" in method.why_not(Problem(smooth))
    dead = TwoLayerNetwork.create([[0.0, 0.0]], [[1.0]], b=[1.0])
    assert method.why_not(Problem(dead)) is None and _verified(dead) == 0.0
