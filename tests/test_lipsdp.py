"""LipSDP-Neuron / LipSDP-Layer: the Schur form, the solvers, per-neuron slope intervals,
soundness against exact constants, and the reduced checker against a dense LMI."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings

from certify import Budget, method_names, verify
from certify.api import exact_lipschitz
from certify.domains import Box
from certify.problem import Problem
from certify.upper import lipsdp
from certify.upper.lipsdp import LipSDPCertificate, LipSDPLayer, LipSDPNeuron
from certify.upper.lipsdp_barrier import _Barrier, minimise_barrier
from certify.upper.lipsdp_solvers import (
    Centred,
    SchurForm,
    minimise_layer,
    minimise_neuron,
    safe_multipliers,
    sdp_lower_bound,
)
from certify.upper.lipsdp_subspace import minimise_subspace
from certify.upper.spectral import SpectralProduct
from certify.verify.checks.lipsdp import reduced_lmi_holds
from certify.verify.definiteness import is_positive_definite
from certify.verify.floating import TINY, frobenius_upper, gamma, up
from models import TwoLayerNetwork

from .strategies import PIECEWISE_LINEAR, networks

METHODS = (LipSDPNeuron, LipSDPLayer)
SLOPES = [(0.0, 1.0), (0.1, 1.0), (-0.5, 1.0), (0.0, 0.25), (-0.1289, 1.1289), (1.0, 1.0)]
ACTIVATIONS = (
    "relu",
    "leaky_relu(0.1)",
    "leaky_relu(-0.5)",
    "leaky_relu(1)",
    "tanh",
    "sigmoid",
    "gelu",
    "softplus",
    "elu(0.5)",
)
MNIST = Path(__file__).resolve().parents[2] / "shared" / "peers" / "lipsdp" / "mnist_weights.mat"
SETTINGS = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
    max_examples=40,
)


def _per_neuron(alpha, beta, k):
    return (
        np.broadcast_to(np.asarray(alpha, dtype=float), (k,)),
        np.broadcast_to(np.asarray(beta, dtype=float), (k,)),
    )


def _dense_lmi(W, A, t, rho, alpha, beta):
    """Fazlyab's N(ρ, T) with one slope interval per neuron, written on Δz directly (not
    centred); neurons with t_i = ∞ are linear (α_i = β_i) and enter as a skip term
    L = A_L·diag(α_L)·W_L."""
    alpha, beta = _per_neuron(alpha, beta, W.shape[0])
    free = np.isfinite(t)
    L = (A[:, ~free] * alpha[~free]) @ W[~free]
    W_F, A_F, t_F, a, b = W[free], A[:, free], t[free], alpha[free], beta[free]
    off = -L.T @ A_F - W_F.T * ((a + b) * t_F)
    return np.block(
        [
            [rho * np.eye(W.shape[1]) - L.T @ L + (W_F.T * (2 * a * b * t_F)) @ W_F, off],
            [off.T, np.diag(2 * t_F) - A_F.T @ A_F],
        ]
    )


def _least_rho(W, A, t, alpha, beta):
    """min ρ with the dense N(ρ, T) ⪰ 0: λ_max of minus the Schur complement of N(0, T)."""
    N = _dense_lmi(W, A, t, 0.0, alpha, beta)
    d = W.shape[1]
    top, off, bottom = N[:d, :d], N[:d, d:], N[d:, d:]
    return np.linalg.eigvalsh(off @ np.linalg.solve(bottom, off.T) - top)[-1]


def _dense_lmi_holds(W, A, t, rho, alpha, beta):
    """N(ρ, T) ≻ 0 proven on the dense LMI with an entrywise rounding bound: an independent
    cross-check of the checker's reduced forms."""
    alpha, beta = _per_neuron(alpha, beta, W.shape[0])
    k, d = W.shape
    N = _dense_lmi(W, A, t, rho, alpha, beta)
    free = np.isfinite(t)
    absW, absA = np.abs(W), np.abs(A)
    L = (absA[:, ~free] * np.abs(alpha[~free])) @ absW[~free]
    W_F, A_F, t_F = absW[free], absA[:, free], t[free]
    off = L.T @ A_F + W_F.T * (np.abs(alpha + beta)[free] * t_F)
    magnitude = np.block(
        [
            [rho * np.eye(d) + L.T @ L + (W_F.T * np.abs(2 * alpha * beta)[free] * t_F) @ W_F, off],
            [off.T, np.diag(2 * t_F) + A_F.T @ A_F],
        ]
    )
    error = gamma(2 * (d + k + A.shape[0]) + 16) * magnitude + TINY
    diagonal = np.diag(N)
    if not (np.all(np.isfinite(N)) and np.all(diagonal > 0.0)):
        return False
    exponents = -np.round(0.5 * np.log2(diagonal)).astype(int)
    pair = exponents[:, None] + exponents[None, :]
    radius = up(frobenius_upper(np.ldexp(error, pair)) + N.shape[0] * TINY)
    return is_positive_definite(np.ldexp(N, pair), radius)


def _random_net(seed, d, k, m, activation="relu", bias=True):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal(k) if bias else None
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    return TwoLayerNetwork.create(W, A, b=b, activation=activation)


def _random_slopes(rng, k, fixed=0.3):
    """Per-neuron intervals: lower in [−1, 1], widths in [0.1, 2], a fraction of them fixed."""
    lower = rng.uniform(-1.0, 1.0, k)
    width = np.where(rng.uniform(size=k) < fixed, 0.0, rng.uniform(0.1, 2.0, k))
    return lower, lower + width


def _random_multipliers(rng, A, lower, upper):
    """t > 0 with C(t) ≻ 0 on the free neurons, +inf on the fixed ones."""
    data = Centred.of(np.ones((A.shape[1], 1)), A, lower, upper)
    return data.expand(safe_multipliers(data.A) * rng.uniform(1.0, 3.0, data.A.shape[1]))


def _optimal(W, A, lower, upper, seconds=5.0):
    """Barrier-optimal multipliers for per-neuron slopes (+inf on fixed neurons) and ρ(t)."""
    data = Centred.of(W, A, lower, upper)
    form = SchurForm(data)
    if form.size == 0:
        return data.expand(np.zeros(0)), form.value(np.zeros(0))
    solution = minimise_barrier(data, minimise_layer(form, seconds), seconds, 1e-8)
    return data.expand(solution.t), form.value(solution.t)


def _bounds(net, seconds=5.0, solver="auto"):
    """Verified (neuron, layer) values; fails the test if either does not verify."""
    values = []
    for method in METHODS:
        problem = Problem(net)
        verdict = verify(problem, method(solver, tolerance=1e-7).run(problem, Budget(seconds)))
        assert verdict.verified, verdict
        values.append(verdict.value)
    return values


def _spectral(net):
    return verify(Problem(net), SpectralProduct().run(Problem(net), Budget())).value


def _exact_on_a_line(net):
    """Lip of a piecewise-linear net with d = 1: the largest slope norm between breakpoints."""
    w = net.W[:, 0]
    kinks = np.sort(-net.b[w != 0] / w[w != 0])
    points = np.concatenate([kinks[:1] - 1.0, (kinks[:-1] + kinks[1:]) / 2, kinks[-1:] + 1.0])
    return max(np.linalg.norm(net.jacobian(np.array([x]))) for x in points)


def _sampled_lower(net, samples=4000, seed=0, box=None):
    """max ‖J(x)‖₂ over random points with pre-activations of order one (or in ``box``)."""
    rng = np.random.default_rng(seed)
    if box is None:
        scale = 3.0 / max(np.linalg.norm(net.W, axis=1).max(), 1e-300)
        points = rng.standard_normal((samples, net.d)) * scale
    else:
        points = rng.uniform(box.lower, box.upper, (samples, net.d))
    return max(np.linalg.norm(net.jacobian(x), 2) for x in points)


@pytest.mark.parametrize("alpha, beta", [*SLOPES, ("per-neuron", None)])
@pytest.mark.parametrize("shape", [(3, 6, 2), (12, 5, 3)])
def test_schur_value_is_the_least_rho_making_the_dense_lmi_semidefinite(alpha, beta, shape):
    d, k, m = shape
    rng = np.random.default_rng(k)
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    if alpha == "per-neuron":
        alpha, beta = _random_slopes(rng, k)
    t = _random_multipliers(rng, A, alpha, beta)
    data = Centred.of(W, A, alpha, beta)
    rho = SchurForm(data).value(t[data.free])
    assert rho == pytest.approx(_least_rho(W, A, t, alpha, beta), rel=1e-9)
    assert np.linalg.eigvalsh(_dense_lmi(W, A, t, 1.001 * rho, alpha, beta))[0] > 0
    assert np.linalg.eigvalsh(_dense_lmi(W, A, t, 0.999 * rho, alpha, beta))[0] < 0


@pytest.mark.parametrize("shape", [(3, 6, 2), (12, 5, 3)])
def test_smoothed_gradient_matches_finite_differences(shape):
    d, k, m = shape
    rng = np.random.default_rng(d)
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    form = SchurForm(Centred.of(W, A, *_random_slopes(rng, k, fixed=0.0)))
    t = safe_multipliers(A) * rng.uniform(0.5, 3.0, k)
    mu = 0.1 * form.value(t)
    smoothed = form.smoothed(t, mu)
    assert smoothed.rho <= smoothed.value <= smoothed.rho + mu * math.log(d + k + m)
    steps = np.eye(k) * 1e-6 * t
    numeric = [
        (form.smoothed(t + h, mu).value - form.smoothed(t - h, mu).value) / (2 * h @ np.ones(k))
        for h in steps
    ]
    np.testing.assert_allclose(
        smoothed.gradient, numeric, rtol=1e-5, atol=1e-8 * np.abs(smoothed.gradient).max()
    )


def test_infeasible_multipliers_give_infinity():
    form = SchurForm(Centred.of(np.eye(2), np.ones((1, 2)), 0.0, 1.0))
    assert form.value(np.array([0.5, 0.5])) == math.inf
    assert form.value(np.array([1.0, 0.0])) == math.inf
    assert form.value(np.array([1.0])) == math.inf
    assert math.isfinite(form.value(safe_multipliers(np.ones((1, 2)))))
    with pytest.raises(ValueError):
        Centred.of(np.eye(2), np.ones((1, 2)), [0.0, 1.0], [1.0, 0.5])


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("activation", ["relu", "leaky_relu(0.1)", "leaky_relu(2)"])
def test_bounds_on_a_line_are_above_the_exact_constant(seed, activation):
    rng = np.random.default_rng(seed)
    net = _random_net(seed, 1, int(rng.integers(1, 9)), int(rng.integers(1, 4)), activation)
    exact = _exact_on_a_line(net)
    for value in _bounds(net):
        assert value >= exact * (1 - 1e-12)
        assert value <= _spectral(net) * (1 + 1e-9)


@SETTINGS
@given(networks(activations=PIECEWISE_LINEAR))
def test_bounds_are_above_the_exact_constant(net):
    """Soundness against the exact branch and bound (its proven lower end)."""
    exact_lower, _ = exact_lipschitz(net, seconds=10.0)
    for value in _bounds(net, seconds=1.0):
        assert value >= exact_lower


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("m", [1, 3])
def test_single_neuron_bounds_are_exact(activation, m):
    """k = 1: Lip(f) = L_σ·‖a‖·‖w‖ (pre-activations cover R), and LipSDP attains it."""
    net = _random_net(m, 4, 1, m, activation)
    exact = net.activation.lipschitz * np.linalg.norm(net.A) * np.linalg.norm(net.W)
    for value in _bounds(net):
        assert exact * (1 - 1e-12) <= value <= exact * (1 + 1e-6)


def test_linear_activation_gives_the_norm_of_the_product():
    """leaky_relu(1) is the identity: every slope is fixed, no multiplier, ρ = ‖AW‖₂²."""
    net = _random_net(2, 5, 7, 3, "leaky_relu(1)")
    exact = np.linalg.norm(net.A @ net.W, 2)
    certificate = LipSDPNeuron().run(Problem(net), Budget(1.0))
    assert np.all(np.isinf(certificate.multipliers))
    for value in _bounds(net):
        assert exact * (1 - 1e-12) <= value <= exact * (1 + 1e-9)


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
        certificate = method().run(Problem(net), Budget(1.0))
        assert certificate.neurons.size == 0
        assert verify(Problem(net), certificate).value == 0.0


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
def test_structured_solvers_agree_with_scs(seed, activation):
    net = _random_net(seed, 5, 8, 2, activation)
    cone = _bounds(net, solver="scs")
    for solver in ("barrier", "smoothed"):
        assert _bounds(net, solver=solver) == pytest.approx(cone, rel=1e-3)


@pytest.mark.parametrize("seed", range(4))
def test_solvers_agree_on_per_neuron_slopes(seed):
    rng = np.random.default_rng(seed)
    d, k, m = 3 + seed, 7, 1 + seed % 3
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    data = Centred.of(W, A, *_random_slopes(rng, k))
    form = SchurForm(data)
    start = minimise_layer(form, 5.0)
    barrier = minimise_barrier(data, start, 10.0, 1e-8)
    smoothed = minimise_neuron(form, start, 10.0, 1e-7)
    values = [form.value(barrier.t), form.value(smoothed.t)]
    assert values == pytest.approx([barrier.rho] * 2, rel=1e-5)
    assert barrier.lower <= min(values) * (1 + 1e-9)


@pytest.mark.parametrize("alpha, beta", [*SLOPES[:-1], ("per-neuron", None)])
@pytest.mark.parametrize("shape", [(4, 7, 1), (6, 5, 3), (2, 9, 4)])
def test_barrier_derivatives_match_finite_differences(alpha, beta, shape):
    d, k, m = shape
    rng = np.random.default_rng(k)
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    if alpha == "per-neuron":
        alpha, beta = _random_slopes(rng, k, fixed=0.0)
    data = Centred.of(W, A, alpha, beta)
    barrier = _Barrier(*(torch.from_numpy(x) for x in (data.V, data.A, data.B)))
    t = torch.from_numpy(safe_multipliers(A) * rng.uniform(1.0, 2.0, k))
    rho = 1.3 * SchurForm(data).value(t.numpy())

    def point(r, tt):
        return barrier.point(r, tt, barrier.linear(tt))

    def gradient(r, tt):
        n = barrier.newton(point(r, tt))
        return np.concatenate([[n.grad_rho], n.grad_t.numpy()])

    n = barrier.newton(point(rho, t))
    hessian = np.block(
        [
            [np.array([[n.hess_rho]]), n.hess_cross.numpy()[None, :]],
            [n.hess_cross.numpy()[:, None], n.hess_t.numpy()],
        ]
    )
    steps = np.diag(1e-6 * np.concatenate([[rho], t.numpy()]))
    numeric_gradient, numeric_hessian = [], []
    for h in steps:
        shift = torch.from_numpy(h[1:])
        plus, minus = (rho + h[0], t + shift), (rho - h[0], t - shift)
        width = 2.0 * h.max()
        numeric_gradient.append((point(*plus).barrier - point(*minus).barrier) / width)
        numeric_hessian.append((gradient(*plus) - gradient(*minus)) / width)
    np.testing.assert_allclose(
        gradient(rho, t), numeric_gradient, rtol=1e-5, atol=1e-7 * np.abs(numeric_gradient).max()
    )
    np.testing.assert_allclose(
        hessian, numeric_hessian, rtol=1e-5, atol=1e-7 * np.abs(hessian).max()
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("alpha, beta", [(0.0, 1.0), (-0.5, 1.0), (0.1, 1.0), ("per-neuron", None)])
def test_lower_bounds_are_below_every_rho_and_close_at_the_optimum(seed, alpha, beta):
    """Weak duality on random multipliers, and a small gap once the barrier has converged."""
    rng = np.random.default_rng(seed)
    d, k, m = 3 + seed, 6 + 2 * seed, 1 + seed % 3
    W, A = rng.standard_normal((k, d)), rng.standard_normal((m, k))
    if alpha == "per-neuron":
        alpha, beta = _random_slopes(rng, k, fixed=0.0)
    data = Centred.of(W, A, alpha, beta)
    form = SchurForm(data)
    solution = minimise_barrier(data, minimise_layer(form, 5.0), 10.0, 1e-7)
    assert solution.lower <= solution.rho <= solution.lower * (1 + 1e-6)
    V = rng.standard_normal((d, 3))
    S = V @ V.T / np.trace(V @ V.T)
    sigma, Q = np.einsum("ij,jk,ik->i", data.V, S, data.V), data.B @ S @ data.B.T
    for _ in range(20):
        t = safe_multipliers(A) * rng.uniform(0.5, 4.0, k)
        bound = sdp_lower_bound(data.A, sigma, Q, rng.standard_normal((m, m)))
        assert bound is None or bound <= form.value(t) * (1 + 1e-12)
        assert bound is None or bound <= solution.rho * (1 + 1e-9)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(3, 8, 2), (9, 4, 2), (5, 5, 1), (7, 3, 5)])
@pytest.mark.parametrize("alpha, beta", [*SLOPES, ("per-neuron", None), ("all fixed", None)])
def test_reduced_checker_agrees_with_the_dense_lmi(seed, shape, alpha, beta):
    """Both forms (input when d ≤ |F|, hidden when d > |F|) prove what the dense check proves,
    just above the least ρ, and neither proves anything just below it; fixed-slope neurons
    come with t_i = ∞ or, for some, a finite multiplier (also valid)."""
    d, k, m = shape
    rng = np.random.default_rng(seed)
    W, A = rng.standard_normal((k, d)) * 10.0 ** rng.integers(-3, 4), rng.standard_normal((m, k))
    if alpha == "per-neuron":
        alpha, beta = _random_slopes(rng, k)
    elif alpha == "all fixed":
        alpha = beta = rng.uniform(-1.0, 1.0, k)
    t = _random_multipliers(rng, A, alpha, beta) * rng.choice([1.0, 1e3])
    if seed % 2:
        t[np.isinf(t)] = safe_multipliers(A)[np.isinf(t)] * k
    rho = _least_rho(W, A, t, alpha, beta)
    for factor, expected in ((1 + 1e-6, True), (1 - 1e-6, False)):
        assert reduced_lmi_holds(W, A, t, factor * rho, alpha, beta) is expected
        assert _dense_lmi_holds(W, A, t, factor * rho, alpha, beta) is expected


def _float_below(exact):
    """The largest float strictly below the rational ``exact``."""
    value = float(exact)
    while Fraction(value) >= exact:
        value = float(np.nextafter(value, -math.inf))
    return value


@pytest.mark.parametrize("seed", range(8))
def test_checker_refuses_just_below_the_exact_least_rho_despite_cancellation(seed):
    """d = m = 1, where ρ* is rational: with slopes [0, 1] (input form) ρ* = ½Σt_iw_i² + B²/C,
    B = ½Σa_iw_i, C = 1 − Σa_i²/(2t_i), and with fixed slopes (hidden form) ρ* = (Σα_ia_iw_i)².
    Large multipliers, and a large neuron pair that cancels in B, make the float matrix differ
    from the exact one by far more than its own margin: only the rounding bound refuses the
    largest float below ρ*."""
    rng = np.random.default_rng(seed)
    k = 40
    W, A = rng.standard_normal((k, 1)), rng.standard_normal((1, k))
    W[:2, 0], A[0, :2] = 1e6 * rng.standard_normal(), [1.0, -1.0]
    w, a = [Fraction(x) for x in W[:, 0]], [Fraction(x) for x in A[0]]
    t = safe_multipliers(A) * 10.0 ** rng.uniform(6, 9, k)
    C = 1 - sum(a_i**2 / (2 * Fraction(t_i)) for a_i, t_i in zip(a, t, strict=True))
    B = sum(a_i * w_i for a_i, w_i in zip(a, w, strict=True)) / 2
    rho_star = sum(Fraction(t_i) * w_i**2 for t_i, w_i in zip(t, w, strict=True)) / 2 + B**2 / C
    assert not reduced_lmi_holds(W, A, t, _float_below(rho_star), 0.0, 1.0)
    assert reduced_lmi_holds(W, A, t, float(rho_star) * (1 + 1e-3), 0.0, 1.0)
    slopes = rng.uniform(-1.0, 1.0, k)
    rho_star = sum(Fraction(s) * a_i * w_i for s, a_i, w_i in zip(slopes, a, w, strict=True)) ** 2
    fixed = np.full(k, np.inf)
    assert not reduced_lmi_holds(W, A, fixed, _float_below(rho_star), slopes, slopes)
    assert reduced_lmi_holds(W, A, fixed, float(rho_star) * (1 + 1e-3), slopes, slopes)


def test_reduced_checker_refuses_data_out_of_range():
    W, A = np.array([[1.0, 2.0]]), np.array([[1.0]])
    t, rho = np.array([1.0]), 100.0
    assert reduced_lmi_holds(W, A, t, rho, 0.0, 1.0)
    assert not reduced_lmi_holds(W * 2.0**-200, A, t, rho, 0.0, 1.0)
    assert not reduced_lmi_holds(W, A, t * 2.0**200, rho, 0.0, 1.0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(3, 6, 2), (8, 4, 1)])
def test_tampered_certificates_fail(method, shape):
    net = _random_net(7, *shape)
    certificate = method().run(Problem(net), Budget(2.0))
    lower = _sampled_lower(net)
    n = certificate.neurons.size
    shrunk = dataclasses.replace(certificate, rho=0.9 * certificate.rho)
    negative = dataclasses.replace(certificate, multipliers=-certificate.multipliers)
    zero = dataclasses.replace(certificate, multipliers=0.0 * certificate.multipliers)
    dropped = dataclasses.replace(
        certificate, neurons=certificate.neurons[1:], multipliers=certificate.multipliers[1:]
    )
    infinite = dataclasses.replace(certificate, multipliers=np.full(n, np.inf))
    narrowed = dataclasses.replace(
        certificate, slopes_lower=np.zeros(n), slopes_upper=np.full(n, 0.5)
    )
    misshapen = dataclasses.replace(certificate, slopes_lower=np.zeros(n + 1))
    assert verify(Problem(net), certificate).value >= lower
    W, A = net.W[certificate.neurons], net.A[:, certificate.neurons]
    t = certificate.multipliers
    assert _dense_lmi_holds(W, A, t, 1.001 * certificate.rho, 0.0, 1.0)
    assert not _dense_lmi_holds(W, A, t, shrunk.rho, 0.0, 1.0)
    for tampered in (shrunk, negative, zero, dropped, infinite, narrowed, misshapen):
        assert not verify(Problem(net), tampered).verified, tampered


def test_wider_slopes_are_accepted_and_looser():
    net = _random_net(3, 4, 6, 2)
    k = net.k
    tight = LipSDPNeuron().run(Problem(net), Budget(2.0))
    lower, upper = np.full(k, -0.1), np.full(k, 1.2)
    t, rho = _optimal(net.W, net.A, lower, upper)
    wide = dataclasses.replace(
        tight, rho=rho, multipliers=t, slopes_lower=lower, slopes_upper=upper
    )
    verdict = verify(Problem(net), wide)
    assert verdict.verified
    assert verdict.value >= verify(Problem(net), tight).value


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lower, upper", [(0.0, 0.5), (0.5, 1.0)])
def test_narrowed_slopes_prove_the_lmi_but_are_refused(seed, lower, upper):
    """Slopes [0, ½] or [½, 1] for a ReLU net: the LMI holds for them (and with [0, ½] claims
    less than Lip(f)), so a certificate with them must be refused for the global problem."""
    net = _random_net(seed, 2, 5, 1)
    k = net.k
    t, rho = _optimal(net.W, net.A, lower, upper)
    assert reduced_lmi_holds(net.W, net.A, t, rho * (1 + 1e-6), lower, upper)
    if upper == 0.5:
        assert math.sqrt(rho) < exact_lipschitz(net)[0]
    certificate = LipSDPCertificate(
        math.sqrt(rho),
        rho,
        t,
        np.arange(k),
        "neuron",
        slopes_lower=np.full(k, lower),
        slopes_upper=np.full(k, upper),
    )
    assert not verify(Problem(net), certificate).verified


@pytest.mark.parametrize("seed", range(8))
def test_fixed_slopes_bound_the_equivalent_relu_net(seed):
    """Neurons with α_i = β_i = s_i are the linear maps s_i·a_i·w_iᵀx, which a ReLU net writes
    as s_i·a_i·relu(w_iᵀx) − s_i·a_i·relu(−w_iᵀx): its exact constant is below our bound, and
    intervals [s_i − ε, s_i + ε] give bounds that decrease to it as ε → 0."""
    rng = np.random.default_rng(seed)
    d, k, m = int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(1, 3))
    W, A, b = rng.standard_normal((k, d)), rng.standard_normal((m, k)), rng.standard_normal(k)
    fixed = rng.uniform(size=k) < 0.5
    slope = rng.choice([0.0, 1.0, 0.5, -0.3], k)
    lower, upper = np.where(fixed, slope, 0.0), np.where(fixed, slope, 1.0)
    t, rho = _optimal(W, A, lower, upper)
    assert np.array_equal(np.isinf(t), fixed)
    assert reduced_lmi_holds(W, A, t, rho * (1 + 1e-9), lower, upper)
    relu = ~fixed
    expanded = TwoLayerNetwork.create(
        np.vstack([W[relu], W[fixed], -W[fixed]]),
        np.hstack([A[:, relu], A[:, fixed] * slope[fixed], -A[:, fixed] * slope[fixed]]),
        b=np.concatenate([b[relu], np.zeros(2 * int(fixed.sum()))]),
    )
    exact_lower, _ = exact_lipschitz(expanded)
    assert math.sqrt(rho * (1 + 1e-9)) >= exact_lower
    previous = math.inf
    for epsilon in (1e-1, 1e-2, 1e-4):
        width = np.where(fixed, epsilon, 0.0)
        rho_epsilon = _optimal(W, A, lower - width, upper + width)[1]
        assert rho * (1 - 1e-7) <= rho_epsilon <= previous * (1 + 1e-7)
        previous = rho_epsilon
    assert previous == pytest.approx(rho, rel=1e-2)


def test_domain_slopes_tighten_the_bound():
    """On a box where some ReLUs are never active ([0, 0]) and some always ([1, 1]), interval
    bound propagation proves those slopes: a certificate with them verifies on the box, stays
    above the gradients sampled there, and is refused for all of R^d; the method finds it."""
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    b = np.array([-5.0, 5.0, 0.0, 0.0])
    A = np.array([[1.0, 2.0, -1.0, 1.0]])
    net = TwoLayerNetwork.create(W, A, b=b)
    box = Problem(net, domain=Box(np.full(2, -1.0), np.full(2, 1.0)))
    lower, upper = np.array([0.0, 1.0, 0.0, 0.0]), np.array([0.0, 1.0, 1.0, 1.0])
    t, rho = _optimal(W, A, lower, upper)
    certificate = LipSDPCertificate(
        math.sqrt(rho), rho, t, np.arange(4), "neuron", slopes_lower=lower, slopes_upper=upper
    )
    local = verify(box, certificate)
    assert local.verified
    assert local.value >= _sampled_lower(net, box=box.domain)
    found = verify(box, LipSDPNeuron().run(box, Budget(2.0)))
    assert found.verified and found.value <= local.value * (1 + 1e-6)
    assert local.value < verify(Problem(net), LipSDPNeuron().run(Problem(net), Budget(2.0))).value
    assert not verify(Problem(net), certificate).verified


def test_zero_slopes_on_a_domain_prove_a_constant():
    """Where propagation proves every ReLU inactive on the box, f is constant there."""
    net = TwoLayerNetwork.create([[1.0, 0.0], [0.0, -1.0]], [[1.0, 2.0]], b=[-5.0, -5.0])
    zeros = np.zeros(2)
    certificate = LipSDPCertificate(
        0.0, 0.0, np.full(2, np.inf), np.arange(2), "neuron", slopes_lower=zeros, slopes_upper=zeros
    )
    box = Box(np.full(2, -1.0), np.full(2, 1.0))
    assert verify(Problem(net, domain=box), certificate).value == 0.0
    assert not verify(Problem(net), certificate).verified
    assert not verify(Problem(net, domain=box), dataclasses.replace(certificate, rho=-1.0)).verified
    elsewhere = Problem(net, domain=Box(np.full(2, 4.0), np.full(2, 6.0)))
    assert not verify(elsewhere, certificate).verified


def test_medium_net_verifies_with_a_small_gap():
    rng = np.random.default_rng(0)
    d, k, m = 200, 1000, 10
    net = TwoLayerNetwork.create(
        rng.standard_normal((k, d)) / math.sqrt(d), rng.standard_normal((m, k)) / math.sqrt(k)
    )
    certificate = LipSDPNeuron(tolerance=1e-4).run(Problem(net), Budget(60.0))
    verdict = verify(Problem(net), certificate)
    assert certificate.solver == "barrier" and verdict.verified
    assert certificate.sdp_lower <= verdict.value <= certificate.sdp_lower * (1 + 2e-4)
    assert verdict.value <= _spectral(net)


def test_wide_nets_use_the_first_order_solver():
    """k > 1024 and k > 2(d + m): "auto" picks the smoothed solver, which keeps O(kd) memory."""
    net = _random_net(1, 6, 1100, 2)
    certificate = LipSDPNeuron(tolerance=1e-4).run(Problem(net), Budget(30.0))
    verdict = verify(Problem(net), certificate)
    assert certificate.solver == "smoothed" and verdict.verified
    assert certificate.sdp_lower <= verdict.value <= certificate.sdp_lower * (1 + 2e-4)


def test_methods_are_registered_and_refuse_unbounded_activations():
    assert {"lipsdp-neuron", "lipsdp-layer"} <= set(method_names("upper"))
    square = TwoLayerNetwork.create([[1.0]], [[1.0]], activation="square")
    for method in METHODS:
        assert method().why_not(Problem(square)) is not None
        assert method().why_not(Problem(_random_net(0, 2, 2, 1))) is None
    with pytest.raises(ValueError):
        LipSDPNeuron(solver="mosek")
    with pytest.raises(ValueError):
        LipSDPNeuron(tolerance=-1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_barrier_on_the_gpu_matches_the_cpu():
    rng = np.random.default_rng(3)
    W, A = rng.standard_normal((40, 20)), rng.standard_normal((3, 40))
    data = Centred.of(W, A, 0.0, 1.0)
    start = minimise_layer(SchurForm(data), 5.0)
    on = [
        minimise_barrier(data, start, 10.0, 1e-7, torch.device(device)).rho
        for device in ("cpu", "cuda")
    ]
    assert on[0] == pytest.approx(on[1], rel=1e-6)


@pytest.mark.skipif(not MNIST.exists(), reason="LipSDP example weights not available")
def test_mnist_matches_the_published_lipsdp_neuron_value():
    from scipy.io import loadmat

    weights = loadmat(MNIST)["weights"]
    net = TwoLayerNetwork.create(weights[0, 0], weights[0, 1])
    certificate = LipSDPNeuron().run(Problem(net), Budget(60.0))
    verdict = verify(Problem(net), certificate)
    assert isinstance(certificate, LipSDPCertificate) and verdict.verified
    assert 24.3663 <= verdict.value <= 24.3670


# --- the first-order descent for large nets (certify.upper.lipsdp_subspace) --------------------


@pytest.mark.parametrize("m", [1, 3])
@pytest.mark.parametrize("seed", range(3))
def test_subspace_descent_gives_feasible_multipliers_near_the_optimum(seed, m):
    net = _random_net(seed, d=30, k=120, m=m)
    data = Centred.of(net.W, net.A, 0.0, 1.0)
    form = SchurForm(data)
    t = minimise_subspace(form, safe_multipliers(form.A), 2.0).t
    assert form.cholesky(t) is not None  # C(t) ≻ 0 by construction, for any logits
    _, optimum = _optimal(net.W, net.A, 0.0, 1.0)
    assert optimum <= form.value(t) <= optimum * 1.1**2  # √ρ within 10 % of LipSDP's optimum
    verdict = verify(
        Problem(net),
        LipSDPCertificate(
            math.sqrt(form.value(t)), form.value(t), t, np.arange(net.k), "neuron", "subspace"
        ),
    )
    assert verdict.verified and verdict.value >= math.sqrt(optimum)


@SETTINGS
@given(networks(activations=PIECEWISE_LINEAR))
def test_lipsdp_neuron_started_by_the_subspace_descent_is_above_the_exact_constant(net):
    """The large-net path of "auto", forced on small nets (degenerate ones included)."""
    problem = Problem(net)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lipsdp, "_SUBSPACE_ENTRIES", 0)
        certificate = LipSDPNeuron().run(problem, Budget(1.0))
    exact_lower, _ = exact_lipschitz(net, seconds=10.0)
    verdict = verify(problem, certificate)
    assert verdict.verified, verdict
    assert verdict.value >= exact_lower
    assert certificate.solver.startswith("subspace") or not certificate.neurons.size


def test_subspace_descent_from_a_barely_feasible_start_returns_feasible_multipliers():
    net = _random_net(5, d=8, k=30, m=1)
    form = SchurForm(Centred.of(net.W, net.A, 0.0, 1.0))
    squares = np.sum(form.A**2, axis=0)
    start = squares / (2.0 * (1.0 - 1e-15) / squares.size)  # p_i equal, Σ p_i = 1 − 1e-15
    t = minimise_subspace(form, start, 0.5).t
    assert form.cholesky(t) is not None or np.array_equal(t, start)
