"""The co-activation bound: ReLU neurons never active together on an ℓ2 ball are bounded group
by group, against the exact oracle, on the paper's construction, and against tampering."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certify.api import run_method
from certify.certificates import CoactivationCertificate
from certify.domains import Ball, Box
from certify.methods import Budget, get_method
from certify.problem import Problem
from certify.verify import coactivation, verify
from certify.verify.coactivation import Exclusions
from models import TwoLayerNetwork
from models.constructions import sphere_fit
from models.data import generic_data

from .oracles import domain_oracle
from .test_pairs import SETTINGS

TOLERANCE = 1e-9


def _caps(rng: np.random.Generator, d: int, k: int) -> TwoLayerNetwork:
    """ReLU(w_i·x − t_i) with unit w_i and thresholds near the ball's rim: cap-like neurons,
    some exclusive on the unit ball, some not; now and then a duplicate or a zero output."""
    W = rng.standard_normal((k, d))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    b = -rng.uniform(0.0, 0.95, k)
    A = rng.standard_normal((int(rng.integers(1, 3)), k)) * 10.0 ** rng.integers(-3, 4)
    if k > 1 and rng.random() < 0.3:
        W[1], b[1] = W[0], b[0]
    if rng.random() < 0.2:
        A[:, 0] = 0.0
    return TwoLayerNetwork.create(W, A, b=b)


@settings(SETTINGS, max_examples=60)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_the_bound_is_sound_against_the_exact_oracle(d: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    net = _caps(rng, d, k)
    ball = Ball(rng.uniform(-0.3, 0.3, d), float(rng.uniform(0.3, 1.2)))
    lower, _ = domain_oracle(net, "2", ball)
    result = run_method("coactivation", Problem(net, "2", ball), 5.0, 0)
    assert result.verified, result
    assert result.value >= lower * (1 - TOLERANCE), (result, lower)


def test_exclusions_hold_at_sampled_points_and_are_found_for_separate_caps(monkeypatch) -> None:
    monkeypatch.setattr(coactivation, "_BLOCK", 7 * 40)  # several row blocks of 7
    rng = np.random.default_rng(0)
    net = _caps(rng, 3, 40)
    ball = Ball(np.zeros(3), 1.0)
    i, j = np.triu_indices(net.k, 1)
    matrix, complete = Exclusions(net, ball, np.arange(net.k)).matrix()
    assert complete == net.k
    assert np.array_equal(matrix, matrix.T)  # the test is symmetric in the pair
    apart = matrix[i, j]
    assert 0 < apart.sum() < apart.size  # some pairs are exclusive, some are not
    points = ball.sample(20000, rng)
    active = points @ net.W.T + net.b >= 0.0
    together = np.any(active[:, i] & active[:, j], axis=0)
    assert not np.any(apart & together)


def test_the_papers_construction_is_bounded_by_its_caps() -> None:
    X, y = generic_data(300, 30, "sphere", 0)
    net = sphere_fit(X, y, 300).network
    problem = Problem(net, "2", Ball(np.zeros(30), 1.0))
    groups = run_method("coactivation", problem, 30.0, 0)
    lipsdp = run_method("lipsdp-neuron", problem, 30.0, 0)
    assert groups.verified and lipsdp.verified
    # The tangential slope at a cap's rim, 10·√(1 − 0.9²), is a lower bound on the ball.
    assert 10 * np.sqrt(1 - 0.81) <= groups.value <= 30.0 < lipsdp.value / 5


def test_a_trained_net_whose_neurons_all_meet_gets_the_spectral_bound() -> None:
    rng = np.random.default_rng(1)
    net = TwoLayerNetwork.create(rng.standard_normal((8, 4)), rng.standard_normal((1, 8)))
    problem = Problem(net, "2", Ball(np.zeros(4), 1.0))
    certificate = get_method("coactivation").run(problem, Budget(5.0))
    assert len(certificate.groups) == 1 and len(certificate.groups[0]) == 8
    spectral = run_method("spectral", problem, 5.0, 0)
    assert verify(problem, certificate).value == pytest.approx(spectral.value, rel=1e-12)


def _separate_pair() -> tuple[Problem, CoactivationCertificate]:
    """Two opposite caps on the unit disc, each alone in its group."""
    net = TwoLayerNetwork.create([[1.0, 0.0], [-1.0, 0.0]], [[3.0, 5.0]], b=[-0.5, -0.5])
    problem = Problem(net, "2", Ball(np.zeros(2), 1.0))
    return problem, get_method("coactivation").run(problem, Budget(5.0))


def test_separate_caps_give_the_larger_slope_and_tampering_is_refused() -> None:
    problem, certificate = _separate_pair()
    assert certificate.groups == ((0,), (1,))
    verdict = verify(problem, certificate)
    assert verdict.verified and verdict.value == pytest.approx(5.0, rel=1e-12)
    merged_away = dataclasses.replace(certificate, assignment={0: 0})
    assert "in no group" in verify(problem, merged_away).note
    touching = TwoLayerNetwork.create([[1.0, 0.0], [-1.0, 0.0]], [[3.0, 5.0]], b=[0.5, 0.5])
    wrong = verify(Problem(touching, "2", problem.domain), certificate)
    assert not wrong.verified and "exclusive" in wrong.note
    for groups in (((0, 0), (1,)), ((), (1,)), ((0,), (2,))):
        bad = dataclasses.replace(certificate, groups=groups)
        assert "a group must list" in verify(problem, bad).note


@pytest.mark.parametrize(
    ("net", "domain", "reason"),
    [
        (TwoLayerNetwork.create([[1.0]], [[1.0]], activation="tanh"), Ball([0.0], 1.0), "linear"),
        (
            TwoLayerNetwork.create([[1.0]], [[1.0]], activation="leaky_relu"),
            Ball([0.0], 1.0),
            "ReLU",
        ),
        (TwoLayerNetwork.create([[1.0]], [[1.0]]), Box([0.0], [1.0]), "l2 ball"),
        (TwoLayerNetwork.create([[1.0]], [[1.0]]), Ball([0.0], 1.0, "inf"), "l2 ball"),
        (TwoLayerNetwork.create([[1.0]], [[1.0]]), None, "domain"),
    ],
)
def test_where_it_does_not_apply_it_says_why(net, domain, reason: str) -> None:
    note = get_method("coactivation").why_not(Problem(net, "2", domain))
    assert note is not None and reason in note
