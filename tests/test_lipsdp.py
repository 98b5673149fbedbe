"""LipSDP-Neuron / LipSDP-Layer: the Schur form, soundness against exact constants, the checker."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from certify import Budget, method_names, verify
from certify.upper.lipsdp import LipSDPCertificate, LipSDPLayer, LipSDPNeuron
from certify.upper.lipsdp_solvers import SchurForm, safe_multipliers
from certify.upper.spectral import SpectralProduct
from models import TwoLayerNetwork

from .strategies import networks

METHODS = (LipSDPNeuron, LipSDPLayer)
SLOPES = [(0.0, 1.0), (0.1, 1.0), (-0.5, 1.0), (0.0, 0.25), (-0.1289, 1.1289), (1.0, 1.0)]
ACTIVATIONS = (
    "relu", "leaky_relu(0.1)", "leaky_relu(-0.5)", "leaky_relu(1)", "tanh", "sigmoid", "gelu",
    "softplus", "elu(0.5)",
)
MNIST = Path(__file__).resolve().parents[2] / "shared" / "peers" / "lipsdp" / "mnist_weights.mat"
SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None,
    max_examples=60,
)


def _lmi(W, A, t, rho, alpha, beta):
    WT = W.T * t
    return np.block([
        [2 * alpha * beta * WT @ W + rho * np.eye(W.shape[1]), -(alpha + beta) * WT],
        [-(alpha + beta) * WT.T, np.diag(2 * t) - A.T @ A],
    ])


def _random_net(seed, d, k, m, activation="relu", bias=True):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal(k) if bias else None
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    return TwoLayerNetwork.create(W, A, b=b, activation=activation)


def _bounds(net, seconds=5.0, solver="auto"):
    """Verified (neuron, layer) values; fails the test if either does not verify."""
    values = []
    for method in METHODS:
        verdict = verify(net, method(solver).run(net, Budget(seconds)))
        assert verdict.verified, verdict
        values.append(verdict.value)
    return values


def _spectral(net):
    return verify(net, SpectralProduct().run(net, Budget())).value


def _exact_on_a_line(net):
    """Lip of a piecewise-linear net with d = 1: the largest slope norm between breakpoints."""
    w = net.W[:, 0]
    kinks = np.sort(-net.b[w != 0] / w[w != 0])
    points = np.concatenate([kinks[:1] - 1.0, (kinks[:-1] + kinks[1:]) / 2, kinks[-1:] + 1.0])
    return max(np.linalg.norm(net.jacobian(np.array([x]))) for x in points)


def _sampled_lower(net, samples=4000, seed=0):
    """max ‖J(x)‖₂ over random points with pre-activations of order one: a lower bound."""
    rng = np.random.default_rng(seed)
    scale = 3.0 / max(np.linalg.norm(net.W, axis=1).max(), 1e-300)
    points = rng.standard_normal((samples, net.d)) * scale
    return max(np.linalg.norm(net.jacobian(x), 2) for x in points)


@pytest.mark.parametrize("alpha, beta", SLOPES)
@pytest.mark.parametrize("shape", [(3, 6, 2), (12, 5, 3)])
def test_schur_value_is_the_least_rho_making_the_lmi_semidefinite(alpha, beta, shape):
    d, k, m = shape
    rng = np.random.default_rng(k)
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    form = SchurForm(W, A, alpha, beta)
    t = safe_multipliers(A) * rng.uniform(0.5, 3.0, k)
    rho = form.value(t)
    eigenvalues = np.linalg.eigvalsh(_lmi(W, A, t, rho, alpha, beta))
    assert abs(eigenvalues[0]) <= 1e-10 * rho
    assert np.linalg.eigvalsh(_lmi(W, A, t, 0.99 * rho, alpha, beta))[0] < 0


@pytest.mark.parametrize("shape", [(3, 6, 2), (12, 5, 3)])
def test_smoothed_gradient_matches_finite_differences(shape):
    d, k, m = shape
    rng = np.random.default_rng(d)
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    form = SchurForm(W, A, -0.1, 1.0)
    t = safe_multipliers(A) * rng.uniform(0.5, 3.0, k)
    mu = 0.1 * form.value(t)
    value, gradient, rho = form.smoothed(t, mu)
    assert rho <= value <= rho + mu * math.log(d + k + m)
    steps = np.eye(k) * 1e-6 * t
    numeric = [(form.smoothed(t + h, mu)[0] - form.smoothed(t - h, mu)[0]) / (2 * h @ np.ones(k))
               for h in steps]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-8 * np.abs(gradient).max())


def test_infeasible_multipliers_give_infinity():
    form = SchurForm(np.eye(2), np.ones((1, 2)), 0.0, 1.0)
    assert form.value(np.array([0.5, 0.5])) == math.inf
    assert form.value(np.array([1.0, 0.0])) == math.inf
    assert math.isfinite(form.value(safe_multipliers(np.ones((1, 2)))))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("activation", ["relu", "leaky_relu(0.1)", "leaky_relu(2)"])
def test_bounds_on_a_line_are_above_the_exact_constant(seed, activation):
    rng = np.random.default_rng(seed)
    net = _random_net(seed, 1, int(rng.integers(1, 9)), int(rng.integers(1, 4)), activation)
    exact = _exact_on_a_line(net)
    for value in _bounds(net):
        assert value >= exact * (1 - 1e-12)
        assert value <= _spectral(net) * (1 + 1e-9)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("m", [1, 3])
def test_single_neuron_bounds_are_exact(activation, m):
    """k = 1: Lip(f) = L_σ·‖a‖·‖w‖ (pre-activations cover R), and LipSDP attains it."""
    net = _random_net(m, 4, 1, m, activation)
    exact = net.activation.lipschitz * np.linalg.norm(net.A) * np.linalg.norm(net.W)
    for value in _bounds(net):
        assert exact * (1 - 1e-12) <= value <= exact * (1 + 1e-6)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gelu", "softplus", "elu(0.5)"])
@pytest.mark.parametrize("seed", range(3))
def test_smooth_bounds_are_above_sampled_gradients(activation, seed):
    net = _random_net(seed, 3, 6, 2, activation)
    neuron, layer = _bounds(net)
    assert neuron >= _sampled_lower(net)
    assert neuron <= layer * (1 + 1e-9)
    assert layer <= _spectral(net) * (1 + 1e-9)


@SETTINGS
@given(networks(activations=ACTIVATIONS))
def test_degenerate_nets_verify_and_are_ordered(net):
    neuron, layer = _bounds(net, seconds=1.0)
    assert neuron <= layer * (1 + 1e-9)
    assert layer <= _spectral(net) * (1 + 1e-9)
    assert neuron >= _sampled_lower(net, samples=200) * (1 - 1e-9)


def test_network_without_active_neuron_is_constant():
    net = TwoLayerNetwork.create([[1.0, 2.0], [0.0, 0.0]], [[0.0, 3.0]], b=[1.0, 2.0])
    for method in METHODS:
        certificate = method().run(net, Budget(1.0))
        assert certificate.neurons.size == 0
        assert verify(net, certificate).value == 0.0


def test_inactive_neurons_do_not_change_the_bound():
    net = _random_net(5, 3, 4, 2)
    W = np.vstack([net.W, np.zeros((1, 3)), [[5.0, -1.0, 2.0]]])
    A = np.hstack([net.A, [[7.0], [1.0]], np.zeros((2, 1))])
    padded = TwoLayerNetwork.create(W, A, b=np.concatenate([net.b, [1.0, 1.0]]))
    assert _bounds(padded) == pytest.approx(_bounds(net), rel=1e-6)


def test_coupled_multiplier_counterexample_is_not_undercut():
    """f(x) = relu(x) − relu(x − 1) has Lip 1; LipSDP-Network's coupled multipliers would
    "prove" a far smaller bound, so that variant must never be added."""
    net = TwoLayerNetwork.create([[1.0], [1.0]], [[1.0, -1.0]], b=[0.0, -1.0])
    for value in _bounds(net):
        assert value >= 1.0


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_structured_solver_agrees_with_scs(seed, activation):
    net = _random_net(seed, 5, 8, 2, activation)
    structured = _bounds(net, solver="structured")
    cone = _bounds(net, solver="scs")
    assert structured == pytest.approx(cone, rel=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_tampered_certificates_fail(method):
    net = _random_net(7, 3, 6, 2)
    certificate = method().run(net, Budget(2.0))
    lower = _sampled_lower(net)
    shrunk = dataclasses.replace(certificate, rho=0.9 * certificate.rho)
    negative = dataclasses.replace(certificate, multipliers=-certificate.multipliers)
    dropped = dataclasses.replace(
        certificate, neurons=certificate.neurons[1:], multipliers=certificate.multipliers[1:]
    )
    assert verify(net, certificate).value >= lower
    for tampered in (shrunk, negative, dropped):
        assert not verify(net, tampered).verified, tampered


def test_methods_are_registered_and_refuse_unbounded_activations():
    assert {"lipsdp-neuron", "lipsdp-layer"} <= set(method_names("upper", default_only=True))
    square = TwoLayerNetwork.create([[1.0]], [[1.0]], activation="square")
    for method in METHODS:
        assert method().why_not(square) is not None
        assert method().why_not(_random_net(0, 2, 2, 1)) is None
    with pytest.raises(ValueError):
        LipSDPNeuron(solver="mosek")


@pytest.mark.skipif(not MNIST.exists(), reason="LipSDP example weights not available")
def test_mnist_matches_the_published_lipsdp_neuron_value():
    from scipy.io import loadmat

    weights = loadmat(MNIST)["weights"]
    net = TwoLayerNetwork.create(weights[0, 0], weights[0, 1])
    certificate = LipSDPNeuron().run(net, Budget(60.0))
    verdict = verify(net, certificate)
    assert isinstance(certificate, LipSDPCertificate) and verdict.verified
    assert 24.3663 <= verdict.value <= 24.3670
