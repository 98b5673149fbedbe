"""The ℓ∞ norm for two-layer nets: closed-form and GeoLIP upper bounds, the ascent lower bound and
the ℓ∞ witness checks, against an exact oracle on small piecewise-linear nets."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from certify import certify
from certify.api import run_method
from certify.certificates import LinfProductCertificate
from certify.cli import main
from certify.evidence import PairWitness, PointWitness
from certify.methods import Budget, get_method
from certify.problem import Problem
from certify.regions import active_neurons, chebyshev_center
from certify.upper.geolip import GeoLIPCertificate
from certify.upper.linf_mixing import solve_dual
from certify.verify import verify
from certify.verify.bilinear import BilinearForm, slope_enclosure
from certify.verify.neurons import side_slopes
from models import TwoLayerNetwork
from models.activations import ACTIVATION_NAMES, get_activation
from models.formats import save_model

from .strategies import PIECEWISE_LINEAR, SMOOTH, networks

LINF_METHODS = ["linf-product", "geolip", "ascent"]
SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)
#: Relative slack between a proven bound and the float evaluation of an exact value.
TIGHT = 1e-9
#: Grothendieck's constant is below π / (2 ln(1 + √2)) (Krivine 1979).
GROTHENDIECK = math.pi / (2.0 * math.log(1.0 + math.sqrt(2.0)))


def exact_linf(net: TwoLayerNetwork, margin: float = 1e-6) -> tuple[float, float]:
    """max_j ‖∇f_j‖₁ over the activation patterns whose region is clearly non-empty (Chebyshev
    radius > margin) and over those possibly non-empty (radius > −margin): f is affine on each
    region and the regions are dense, so Lip∞(f) lies between the two."""
    active = active_neurons(net)
    negative, positive = side_slopes(net.activation)
    sure, possible = 0.0, 0.0
    for signs in itertools.product((-1.0, 1.0), repeat=len(active)):
        s = np.array(signs)
        jacobian = (net.A[:, active] * np.where(s > 0, positive, negative)) @ net.W[active]
        value = float(np.max(np.abs(jacobian).sum(axis=1)))
        region = chebyshev_center(net.W[active], net.b[active], s) if len(active) else None
        depth = 1.0 if not len(active) else (-math.inf if region is None else region.radius)
        sure = max(sure, value) if depth > margin else sure
        possible = max(possible, value) if depth > -margin else possible
    return sure, possible


def small(net: TwoLayerNetwork) -> bool:
    return net.d <= 3 and active_neurons(net).size <= 6


def sum_of_relus() -> TwoLayerNetwork:
    """f(x) = relu(x₁) + relu(x₂): ∇f = (1, 1) on the positive quadrant, so Lip∞ = 2 (Lip₂ = √2)."""
    return TwoLayerNetwork.create(np.eye(2), [[1.0, 1.0]])


@settings(SETTINGS, max_examples=60)
@given(networks())
def test_every_linf_method_brackets_the_exact_constant(net: TwoLayerNetwork) -> None:
    assume(small(net))
    sure, possible = exact_linf(net)
    report = certify(net, methods=LINF_METHODS, time_limit=0.1, norm="inf")
    for result in report.methods:
        assert not result.note.startswith("failed"), result
        if result.kind == "upper":
            assert result.verified and result.value >= sure * (1 - TIGHT), (result, sure)
        elif result.verified:
            assert result.value <= possible * (1 + TIGHT) + 1e-300, (result, possible)


@settings(SETTINGS, max_examples=30)
@given(networks(activations=SMOOTH))
def test_lower_ends_stay_below_upper_ends_for_smooth_activations(net: TwoLayerNetwork) -> None:
    report = certify(net, methods=LINF_METHODS, time_limit=0.1, norm="inf")
    assert all(r.verified for r in report.methods if r.kind == "upper")
    assert report.lower <= report.upper


@settings(SETTINGS, max_examples=40)
@given(networks(activations=PIECEWISE_LINEAR + SMOOTH))
def test_geolip_is_at_least_as_tight_as_the_closed_form(net: TwoLayerNetwork) -> None:
    problem = Problem(net, "inf")
    closed = run_method("linf-product", problem, 1.0, 0)
    sdp = run_method("geolip", problem, 1.0, 0)
    assert closed.verified and sdp.verified
    assert sdp.value <= closed.value * (1 + TIGHT)


def bilinear_maximum(net: TwoLayerNetwork) -> float:
    """max_j ‖M_j‖_{∞→1} by enumerating the column signs u."""
    best = 0.0
    for j in range(net.m):
        M = BilinearForm.of(net, j).matrix()
        if M.size:
            signs = np.array(list(itertools.product((-1.0, 1.0), repeat=M.shape[1]))).T
            best = max(best, float(np.max(np.abs(M @ signs).sum(axis=0))))
    return best


@settings(SETTINGS, max_examples=40)
@given(networks(activations=PIECEWISE_LINEAR + SMOOTH))
def test_geolip_lies_within_grothendieck_of_the_bilinear_maximum(net: TwoLayerNetwork) -> None:
    bilinear = bilinear_maximum(net)
    sdp = run_method("geolip", Problem(net, "inf"), 1.0, 0)
    assert bilinear * (1 - TIGHT) <= sdp.value <= GROTHENDIECK * bilinear * (1 + 1e-6) + 1e-300


@pytest.mark.parametrize("seed", range(3))
def test_mixing_reaches_the_semidefinite_optimum(seed: int) -> None:
    """Against the primal SDP max ⟨C, X⟩, diag(X) = 1, X ⪰ 0, solved by SCS."""
    M = np.random.default_rng(seed).standard_normal((7, 4))
    X = cp.Variable((11, 11), PSD=True)
    C = np.block([[np.zeros((7, 7)), M / 2], [M.T / 2, np.zeros((4, 4))]])
    optimum = cp.Problem(cp.Maximize(cp.trace(C @ X)), [cp.diag(X) == 1]).solve(
        solver=cp.SCS, eps=1e-9, max_iters=100_000
    )
    assert math.isclose(solve_dual(M, 5.0, seed).value, optimum, rel_tol=1e-5)


def test_sum_of_relus_is_solved_exactly() -> None:
    report = certify(sum_of_relus(), methods=LINF_METHODS, time_limit=1.0, norm="inf")
    for result in report.methods:
        assert result.verified and math.isclose(result.value, 2.0, rel_tol=1e-9), result


def test_slope_enclosures_contain_every_sector() -> None:
    for name in ACTIVATION_NAMES:
        activation = get_activation(name)
        if activation.globally_lipschitz:
            mu, h = slope_enclosure(activation)
            assert h >= 0.0
            assert mu - h <= activation.slope_lower and activation.slope_upper <= mu + h
            assert math.isclose(abs(mu) + h, activation.lipschitz, rel_tol=1e-12)


def random_net(seed: int, activation: str = "relu") -> TwoLayerNetwork:
    rng = np.random.default_rng(seed)
    W, A = rng.standard_normal((6, 3)), rng.standard_normal((2, 6))
    return TwoLayerNetwork.create(W, A, b=rng.standard_normal(6), activation=activation)


def test_geolip_checker_recomputes_the_bound_and_refuses_bad_multipliers() -> None:
    net = random_net(0)
    problem = Problem(net, "inf")
    certificate = get_method("geolip").run(problem, Budget(seconds=1.0))
    proven = verify(problem, certificate)
    assert proven.verified and proven.value >= exact_linf(net)[0]
    assert verify(problem, replace(certificate, value=0.0)).value == proven.value
    for rows in (
        -certificate.row_multipliers,
        certificate.row_multipliers * np.nan,
        certificate.row_multipliers[:, :-1],
    ):
        assert not verify(problem, replace(certificate, row_multipliers=rows)).verified
    assert not verify(Problem(net, "2"), certificate).verified


@settings(SETTINGS, max_examples=40)
@given(networks(), st.integers(0, 2**32 - 1))
def test_any_positive_multipliers_give_a_sound_bound(net: TwoLayerNetwork, seed: int) -> None:
    assume(small(net))
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-8, 8, size=2)
    rows = scales[0] * rng.random((net.m, 1 + net.k)) + 1e-300
    columns = scales[1] * rng.random((net.m, net.d)) + 1e-300
    verdict = verify(Problem(net, "inf"), GeoLIPCertificate(0.0, rows, columns))
    assert verdict.verified and verdict.value >= exact_linf(net)[0] * (1 - TIGHT)


def test_closed_form_checker_ignores_the_claim() -> None:
    net = random_net(1, "leaky_relu(0.1)")
    verdict = verify(Problem(net, "inf"), LinfProductCertificate(0.0))
    assert verdict.verified and verdict.value >= exact_linf(net)[0]
    assert not verify(Problem(net, "2"), LinfProductCertificate(0.0)).verified


def test_witnesses_are_proven_in_the_linf_norm() -> None:
    net = TwoLayerNetwork.create([[1.0, 2.0], [1.0, -1.0]], [[1.0, -1.0], [2.0, 0.5]], b=[0, -1])
    x = np.array([1.0, 1.0])  # only the first neuron is on: J = [[1, 2], [2, 4]]
    point = verify(Problem(net, "inf"), PointWitness(value=6.0, point=x))
    assert point.verified and point.value == 6.0 and point.note == ""
    inflated = verify(Problem(net, "inf"), PointWitness(value=7.0, point=x))
    assert inflated.value == 6.0 and "claimed" in inflated.note
    on_kink = verify(Problem(net, "inf"), PointWitness(value=6.0, point=np.array([0.0, 0.0])))
    assert not on_kink.verified and "kink" in on_kink.note
    pair = verify(Problem(net, "inf"), PairWitness(value=2.0, x=x, y=x + np.array([0.25, -0.25])))
    assert pair.verified and math.isclose(pair.value, 2.0, rel_tol=1e-12)  # |J(¼, −¼)|∞ = ½


def test_linf_methods_refuse_the_l2_norm_and_l2_methods_the_linf_norm() -> None:
    net = random_net(2)
    for name in ("linf-product", "geolip"):
        assert "linf" in get_method(name).why_not(Problem(net, "2"))
    for name in LINF_METHODS:
        assert get_method(name).why_not(Problem(net, "inf")) is None
    for name in ("spectral", "lipsdp-neuron", "patterns"):
        assert get_method(name).why_not(Problem(net, "inf")) is not None


def test_cli_certifies_in_the_linf_norm(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "relus.npz"
    save_model(sum_of_relus(), path)
    code = main([str(path), "--norm", "inf", "--json", "--time-limit", "0.5"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["model"]["norm"] == "inf"
    assert math.isclose(report["lower"], 2.0, rel_tol=1e-9)
    assert math.isclose(report["upper"], 2.0, rel_tol=1e-9)
    names = {m["name"] for m in report["methods"] if m["verified"]}
    assert set(LINF_METHODS) <= names
