"""Deep MLPs: loading from every format, the layer product, multi-layer LipSDP (chordal solver and
checker), the deep gradient ascent and its witness checker, against a brute-force exact oracle."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certify import certify
from certify.certificates import DeepLipSDPCertificate
from certify.cli import main
from certify.domains import Ball
from certify.evidence import PointWitness
from certify.methods import Budget, get_method
from certify.problem import Problem
from certify.upper.deep_lipsdp_cone import solve_chordal
from certify.upper.deep_lmi import least_rho, safe_multipliers
from certify.upper.lipsdp import LipSDPLayer, LipSDPNeuron
from certify.verify import verify
from certify.verify.checks.deep_jacobian import reaching_output
from certify.verify.checks.deep_lipsdp import banded_lmi_holds
from certify.verify.deep_lmi import layer_cliques, lmi_blocks, uniform_slopes
from certify.verify.propagation import layer_slope_intervals
from models import DeepNetwork, NetworkError, TwoLayerNetwork
from models.deep import linear_layers, network_from_layers
from models.formats import ModelFormatError, load_model, save_model
from models.torch_io import from_module, to_module

from .oracles import pattern_oracle
from .strategies import PIECEWISE_LINEAR, SMOOTH

LIPSDP = Path(__file__).parents[1] / ".." / "shared" / "peers" / "lipsdp"
DEEP_METHODS = ("spectral", "lipsdp-neuron", "lipsdp-layer", "ascent")
SUFFIXES = (".pt", ".safetensors", ".npz", ".mat", ".onnx")
SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)
#: Chebyshev radii above this count as realised regions, below minus this as empty ones.


def _net(sizes, activation="relu", seed=0, bias=1.0) -> DeepNetwork:
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((n, p)) for p, n in itertools.pairwise(sizes)]
    biases = [bias * rng.standard_normal(n) for n in sizes[1:]]
    return DeepNetwork(tuple(weights), tuple(biases), activation)


_rarely = st.integers(0, 3).map(lambda draw: draw == 0)


@st.composite
def deep_networks(draw: st.DrawFn, activations: tuple[str, ...] = PIECEWISE_LINEAR) -> DeepNetwork:
    """d ≤ 2, 3 or 4 linear layers of width ≤ 3 (≤ 2 when 4), m ≤ 2, each layer scaled by
    10^±6, optionally zero biases, and (each in one layer of four) weights rounded to integers
    times the scale, zero rows, zero columns, duplicated or mirrored neurons."""
    depth = draw(st.integers(3, 4))
    widths = [draw(st.sampled_from((2, 3, 1) if depth == 3 else (2, 1))) for _ in range(depth - 1)]
    sizes = [draw(st.integers(1, 2)), *widths, draw(st.integers(1, 2))]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weights, biases = [], []
    for inputs, outputs in itertools.pairwise(sizes):
        scale = 10.0 ** draw(st.integers(-6, 6))
        W = rng.standard_normal((outputs, inputs)) * scale
        b = rng.standard_normal(outputs) * scale * draw(st.sampled_from([0.0, 1.0]))
        if draw(_rarely):
            W, b = np.round(W / scale) * scale, np.round(b / scale) * scale
        if outputs > 1 and draw(_rarely):
            i, j = rng.choice(outputs, size=2, replace=False)
            sign = draw(st.sampled_from([1.0, -1.0]))
            W[j], b[j] = sign * W[i], sign * b[i]
        if draw(_rarely):
            W[rng.integers(outputs)] = 0.0
        if inputs > 1 and draw(_rarely):
            W[:, rng.integers(inputs)] = 0.0
        weights.append(W)
        biases.append(b)
    return DeepNetwork(tuple(weights), tuple(biases), draw(st.sampled_from(activations)))


def _verified(report, kind):
    return [r for r in report.methods if r.kind == kind and r.verified]


# --- the neutral description -------------------------------------------------------------


def test_layers_round_trip_and_validation() -> None:
    net = _net([3, 4, 5, 2], "tanh")
    assert (net.d, net.widths, net.m, net.depth) == (3, (4, 5), 2, 3)
    again = network_from_layers(*linear_layers(net), "tanh")
    x = np.random.default_rng(1).standard_normal((6, 3))
    np.testing.assert_array_equal(again(x), net(x))
    two = network_from_layers([np.ones((2, 3)), np.ones((1, 2))], [None, None])
    assert isinstance(two, TwoLayerNetwork) and not two.b.any()
    with pytest.raises(NetworkError, match="at least two"):
        network_from_layers([np.ones((2, 3))], [None])
    with pytest.raises(NetworkError, match=r"W2 has shape \(2, 3\), expected \(·, 4\)"):
        network_from_layers([np.ones((4, 3)), np.ones((2, 3)), np.ones((1, 2))], [None] * 3)


def test_jacobian_matches_finite_differences() -> None:
    net = _net([3, 5, 4, 2], "softplus", seed=3)
    x, step = np.array([0.3, -0.2, 0.5]), 1e-6
    columns = [(net(x + step * e) - net(x - step * e)) / (2 * step) for e in np.eye(3)]
    np.testing.assert_allclose(net.jacobian(x), np.column_stack(columns), rtol=1e-6, atol=1e-8)


# --- loading -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu(0.1)", "gelu", "elu(0.5)"])
def test_deep_round_trip(tmp_path: Path, suffix: str, activation: str) -> None:
    net = _net([3, 4, 5, 2, 2], activation)
    path = tmp_path / f"model{suffix}"
    save_model(net, path)
    loaded = load_model(path, activation=activation if suffix == ".pt" else None)
    assert isinstance(loaded, DeepNetwork) and loaded.activation == net.activation
    for ours, theirs in zip(linear_layers(net), linear_layers(loaded), strict=True):
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)


def test_torch_modules_of_any_depth() -> None:
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        torch.nn.ELU(0.5),
        torch.nn.Linear(4, 4, bias=False),
        torch.nn.ELU(0.5),
        torch.nn.Linear(4, 2),
    ).double()
    net = from_module(module)
    assert isinstance(net, DeepNetwork) and not net.biases[1].any()
    x = np.random.default_rng(0).standard_normal((8, 3))
    with torch.no_grad():
        np.testing.assert_allclose(net(x), module(torch.tensor(x)).numpy(), rtol=1e-13)
        np.testing.assert_allclose(to_module(net)(torch.tensor(x)).numpy(), net(x), rtol=1e-13)


def test_state_dict_with_unordered_names_is_refused_when_ambiguous(tmp_path: Path) -> None:
    net = _net([3, 3, 3, 3])
    path = tmp_path / "model.safetensors"
    state = {
        "first.weight": net.weights[0],
        "middle.weight": net.weights[1],
        "output.weight": net.weights[2],
    }
    from safetensors.numpy import save_file

    save_file(state, path)
    with pytest.raises(ModelFormatError, match="cannot tell the order of layers"):
        load_model(path, activation="relu")


@pytest.mark.skipif(not LIPSDP.is_dir(), reason="LipSDP example weights are not available")
def test_lipsdp_random_weights_certify_at_the_published_value() -> None:
    """LipSDP's README reports 36.482 from LipSDP-Neuron on random_weights.mat."""
    report = certify(LIPSDP / "random_weights.mat", methods=DEEP_METHODS, time_limit=5)
    values = {r.name: r.value for r in report.methods if r.verified}
    assert set(values) == set(DEEP_METHODS)
    assert values["lipsdp-neuron"] == pytest.approx(36.482, abs=5e-4)
    assert report.lower <= report.upper
    assert report.upper <= values["lipsdp-layer"] <= values["spectral"]
    assert report.model["widths"] == [10, 30, 20]


@pytest.mark.skipif(not LIPSDP.is_dir(), reason="LipSDP example weights are not available")
def test_command_line_on_a_deep_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(LIPSDP / "random_weights.mat")
    assert main([path, "--json", "--method", "spectral", "--method", "lipsdp-layer"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["widths"] == [10, 30, 20] and report["upper"] > 0


# --- the exact oracle, and every method against it -----------------------------------------


def test_oracle_on_a_hand_computed_net() -> None:
    """f(x) = c(x) − 2·relu(c(x) − ½) with c(x) = relu(x) − relu(x − 1) = clip(x, 0, 1) has
    slope 1 on (0, ½) and −1 on (½, 1), so Lip(f) = 1."""
    net = DeepNetwork(
        (np.array([[1.0], [1.0]]), np.array([[1.0, -1.0], [1.0, -1.0]]), np.array([[1.0, -2.0]])),
        (np.array([0.0, -1.0]), np.array([0.0, -0.5]), np.zeros(1)),
    )
    assert pattern_oracle(net) == (1.0, 1.0)
    report = certify(net, methods=DEEP_METHODS, time_limit=1)
    assert report.lower == 1.0 <= report.upper


@settings(SETTINGS, max_examples=40)
@given(deep_networks())
def test_every_deep_method_brackets_the_exact_constant(net: DeepNetwork) -> None:
    lower, upper = pattern_oracle(net)
    report = certify(net, methods=DEEP_METHODS, time_limit=0.2)
    for result in report.methods:
        assert not result.note.startswith(("failed", "not applicable")), result
    for result in _verified(report, "upper"):
        assert result.value >= lower * (1 - 1e-9), (result, lower)
    for result in _verified(report, "lower"):
        assert result.value <= upper * (1 + 1e-9), (result, upper)
    assert any(r.name == "spectral" for r in _verified(report, "upper"))


@settings(SETTINGS, max_examples=40)
@given(deep_networks())
def test_the_linf_product_bounds_the_exact_linf_constant(net: DeepNetwork) -> None:
    lower, _ = pattern_oracle(net, "inf")
    problem = Problem(net, "inf")
    verdict = verify(problem, get_method("linf-product").run(problem, Budget()))
    assert verdict.verified and verdict.value >= lower * (1 - 1e-9), (verdict, lower)
    product = math.prod(np.abs(W).sum(axis=1).max() for W in net.weights)
    assert verdict.value <= product * (1 + 1e-6) + 1e-290


@settings(SETTINGS, max_examples=30)
@given(deep_networks(), st.integers(0, 2**32 - 1))
def test_forged_claims_never_verify_beyond_the_exact_constant(net: DeepNetwork, seed: int) -> None:
    """A LipSDP certificate with ρ = (0.9·Lip(f))² fails (the checker inflates ρ by at most
    10 %); random witness points prove at most Lip(f)."""
    lower, upper = pattern_oracle(net)
    problem = Problem(net)
    certificate = LipSDPNeuron().run(problem, Budget(seconds=1))
    if lower > 0 and certificate.multipliers:
        rho = (0.9 * lower) ** 2
        assert not verify(problem, dataclasses.replace(certificate, rho=rho)).verified
    scales = 10.0 ** np.arange(-2, 3)[:, None]
    points = np.random.default_rng(seed).standard_normal((5, net.d)) * scales
    for x in points:
        verdict = verify(problem, PointWitness(math.inf, x))
        assert not verdict.verified or verdict.value <= upper * (1 + 1e-9)


@settings(SETTINGS, max_examples=15)
@given(deep_networks(activations=SMOOTH))
def test_lower_ends_stay_below_upper_ends_for_smooth_activations(net: DeepNetwork) -> None:
    report = certify(net, methods=DEEP_METHODS, time_limit=0.2)
    for result in report.methods:
        assert not result.note.startswith("failed"), result
    assert report.lower <= report.upper < math.inf


# --- multi-layer LipSDP --------------------------------------------------------------------


def _dense(blocks) -> np.ndarray:
    sizes = [b.shape[0] for b in blocks.diagonal]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    N = np.zeros((offsets[-1], offsets[-1]))
    for k, block in enumerate(blocks.diagonal):
        N[offsets[k] : offsets[k + 1], offsets[k] : offsets[k + 1]] = block
    for k, block in enumerate(blocks.upper):
        N[offsets[k] : offsets[k + 1], offsets[k + 1] : offsets[k + 2]] = block
        N[offsets[k + 1] : offsets[k + 2], offsets[k] : offsets[k + 1]] = block.T
    return N


def _dense_optimum(net: DeepNetwork, slopes: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """min ρ over the whole LMI N(ρ, T) ⪰ 0 (no decomposition) with the per-neuron slopes
    [α_li, β_li], by cvxpy + SCS."""
    import cvxpy as cp

    t = [cp.Variable(n, nonneg=True) for n in net.widths]
    rho = cp.Variable()
    sizes = [net.d, *net.widths]
    blocks = [[np.zeros((p, q)) for q in sizes] for p in sizes]
    blocks[0][0] = rho * np.eye(net.d)
    for layer, (W, tl, (alpha, beta)) in enumerate(
        zip(net.weights[:-1], t, slopes, strict=True), start=1
    ):
        T, Q, P = (
            cp.diag(tl),
            cp.diag(cp.multiply(2 * alpha * beta, tl)),
            cp.diag(cp.multiply(alpha + beta, tl)),
        )
        blocks[layer - 1][layer - 1] = blocks[layer - 1][layer - 1] + W.T @ Q @ W
        blocks[layer][layer] = blocks[layer][layer] + 2 * T
        blocks[layer - 1][layer] = -W.T @ P
        blocks[layer][layer - 1] = -P @ W
    blocks[-1][-1] = blocks[-1][-1] - net.weights[-1].T @ net.weights[-1]
    problem = cp.Problem(cp.Minimize(rho), [cp.bmat(blocks) >> 0])
    problem.solve(solver=cp.SCS, eps_abs=1e-9, eps_rel=1e-9)
    return math.sqrt(problem.value)


@pytest.mark.parametrize(
    ("activation", "sizes"),
    [
        ("relu", [2, 4, 3, 2]),
        ("leaky_relu(-0.5)", [3, 3, 2, 3, 1]),
        ("tanh", [2, 5, 4, 2]),
    ],
)
def test_both_solvers_reach_the_dense_optimum(activation: str, sizes: list[int]) -> None:
    net = _net(sizes, activation, seed=7)
    slopes = layer_slope_intervals(net, None)
    optimum = _dense_optimum(net, slopes)
    t = solve_chordal(net.weights, slopes, layer=False, seconds=30)
    assert math.sqrt(least_rho(net.weights, t, slopes)) == pytest.approx(optimum, rel=1e-4)
    for solver in ("descent", "scs"):
        problem = Problem(net)
        # An allowance far beyond what either solver needs: they stop at their own convergence
        # tests, so the value asserted does not depend on how busy the machine is.
        verdict = verify(problem, LipSDPNeuron(solver).run(problem, Budget(seconds=300)))
        assert verdict.verified and verdict.value == pytest.approx(optimum, rel=1e-4)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_on_a_domain_both_solvers_reach_the_optimum_with_the_slopes_proven_there(
    activation: str,
) -> None:
    net = _net([2, 4, 3, 2], activation, seed=7)
    domain = Ball(np.array([0.3, -0.2]), 0.5)
    slopes = layer_slope_intervals(net, domain)
    optimum = _dense_optimum(net, slopes)
    problem = Problem(net, "2", domain)
    for solver in ("descent", "scs"):
        verdict = verify(problem, LipSDPNeuron(solver).run(problem, Budget(seconds=300)))
        # The dense SCS solve is itself only accurate to ~1e-4 here (it warns so): a verified
        # bound below it means SCS stopped above the optimum.
        assert verdict.verified and optimum * (1 - 1e-3) <= verdict.value <= optimum * (1 + 1e-4)
    everywhere = verify(Problem(net), LipSDPNeuron().run(Problem(net), Budget(seconds=300)))
    assert verdict.value <= everywhere.value * (1 + 1e-6)


@pytest.mark.parametrize("activation", ["square", "cube"])
def test_polynomial_nets_get_lipsdp_on_a_domain_between_a_witness_and_the_product(
    activation: str,
) -> None:
    net = _net([2, 4, 3, 2], activation, seed=7)
    problem = Problem(net, "2", Ball(np.array([0.3, -0.2]), 0.5))
    assert LipSDPNeuron().why_not(Problem(net)) is not None  # no global bound exists
    witness = verify(problem, get_method("pair").run(problem, Budget(seconds=10)))
    product = verify(problem, get_method("spectral").run(problem, Budget(seconds=10)))
    for method in (LipSDPNeuron(), LipSDPLayer()):
        verdict = verify(problem, method.run(problem, Budget(seconds=60)))
        assert verdict.verified and witness.verified and product.verified
        assert witness.value <= verdict.value <= product.value


def test_on_a_ball_where_no_neuron_switches_the_bound_is_the_jacobian_norm() -> None:
    net = _net([3, 5, 4, 2], seed=3)
    centre = np.array([0.3, -0.2, 0.1])
    hidden = centre
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        assert np.all(np.abs(W @ hidden + b) > 1e-3)  # no neuron switches nearby
        hidden = np.maximum(W @ hidden + b, 0.0)
    problem = Problem(net, "2", Ball(centre, 1e-9))
    jacobian = np.linalg.norm(net.jacobian(centre), 2)
    global_bound = verify(Problem(net), LipSDPNeuron().run(Problem(net), Budget(seconds=30)))
    assert global_bound.value > 1.2 * jacobian
    for method in (LipSDPNeuron(), LipSDPLayer()):
        verdict = verify(problem, method.run(problem, Budget(seconds=30)))
        # A fixed slope is an equality, which a multiplier t ≥ 0 only enforces as t → ∞.
        assert verdict.verified and jacobian <= verdict.value <= jacobian * (1 + 1e-3)


def test_a_layer_dead_on_the_domain_makes_the_bound_zero() -> None:
    net = _net([2, 3, 3, 1], seed=1)
    weights = (net.weights[0], net.weights[1], net.weights[2])
    biases = (net.biases[0], np.full(3, -1e6), net.biases[2])  # layer 2 is off near the data
    dead = DeepNetwork(weights, biases)
    problem = Problem(dead, "2", Ball(np.zeros(2), 1.0))
    verdict = verify(problem, LipSDPNeuron().run(problem, Budget(seconds=5)))
    assert verdict.verified and verdict.value == 0.0
    forged = DeepLipSDPCertificate(0.0, 0.0, (), "neuron")
    assert not verify(Problem(dead, "2", Ball(np.zeros(2), 1e7)), forged).verified


def test_least_rho_makes_the_lmi_singular_and_safe_multipliers_bound_the_product() -> None:
    net = _net([3, 6, 5, 4, 2], seed=2)
    slopes = uniform_slopes(net.widths, 0.0, 1.0)
    t = safe_multipliers(net.weights, slopes)
    rho = least_rho(net.weights, t, slopes)
    N = _dense(lmi_blocks(net.weights, t, rho, slopes))
    eigenvalues = np.linalg.eigvalsh(N)
    assert abs(eigenvalues[0]) <= 1e-9 * eigenvalues[-1]
    product = math.prod(np.linalg.norm(W, 2) for W in net.weights)
    assert math.sqrt(rho) <= product * (1 + 1e-9)
    assert layer_cliques(net.depth) == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("method", [LipSDPNeuron, LipSDPLayer])
def test_checker_refuses_a_rho_below_the_true_constant(method) -> None:
    net = DeepNetwork(
        (np.array([[1.0], [1.0]]), np.array([[1.0, -1.0], [1.0, -1.0]]), np.array([[1.0, -2.0]])),
        (np.array([0.0, -1.0]), np.array([0.0, -0.5]), np.zeros(1)),
    )
    problem = Problem(net)
    certificate = method().run(problem, Budget(seconds=5))
    verdict = verify(problem, certificate)
    assert verdict.verified and verdict.value >= 1.0
    for rho in (0.99, 0.5):
        wrong = dataclasses.replace(certificate, value=math.sqrt(rho), rho=rho)
        assert not verify(problem, wrong).verified
    bad = dataclasses.replace(certificate, multipliers=certificate.multipliers[:1])
    assert "multiplier vectors" in verify(problem, bad).note
    negative = tuple(-t for t in certificate.multipliers)
    assert not verify(problem, dataclasses.replace(certificate, multipliers=negative)).verified


def test_zero_layer_gives_a_constant_network() -> None:
    net = _net([2, 3, 3, 1])
    net = DeepNetwork((net.weights[0], np.zeros((3, 3)), net.weights[2]), net.biases)
    problem = Problem(net)
    for method in (LipSDPNeuron(), LipSDPLayer()):
        verdict = verify(problem, method.run(problem, Budget(seconds=5)))
        assert verdict.verified and verdict.value == 0.0
    forged = DeepLipSDPCertificate(0.0, 0.0, (), "neuron")
    assert not verify(Problem(_net([2, 3, 3, 1])), forged).verified


def test_banded_check_scales_over_many_orders_of_magnitude() -> None:
    net = _net([2, 3, 3, 2], seed=4)
    scales = (1e-150, 1e100, 1e-40)
    scaled = tuple(s * W for s, W in zip(scales, net.weights, strict=True))
    slopes = uniform_slopes(net.widths, 0.0, 1.0)
    t = solve_chordal(scaled, slopes, layer=False, seconds=30)
    rho = least_rho(scaled, t, slopes)
    assert banded_lmi_holds(scaled, t, rho * (1 + 1e-6), slopes)
    assert not banded_lmi_holds(scaled, t, rho * (1 - 1e-6), slopes)


# --- the deep gradient ascent and its witnesses --------------------------------------------


def test_constant_neurons_on_kinks_do_not_block_a_witness() -> None:
    """Neuron 2 of layer 1 has a zero row and b = 0 (on the kink, but constant); neuron 2 of
    layer 2 feeds nothing.  At x = (−1, 0) neuron 1 of layer 1 is off (z < 0), so layer 2 sees
    only constants and its neuron 1 may sit on the kink: J(x) = 0 there."""
    W1 = np.array([[1.0, 0.5], [0.0, 0.0]])
    W2 = np.array([[2.0, 1.0], [1.0, -1.0]])
    W3 = np.array([[1.0, 0.0]])
    net = DeepNetwork((W1, W2, W3), (np.zeros(2), np.zeros(2), np.zeros(1)))
    assert [m.tolist() for m in reaching_output(net)] == [[True, True], [True, False]]
    verdict = verify(Problem(net), PointWitness(1.0, np.array([1.0, 0.0])))
    assert verdict.verified and verdict.value == pytest.approx(2 * math.hypot(1.0, 0.5))
    flat = verify(Problem(net), PointWitness(0.0, np.array([-1.0, 0.0])))
    assert flat.verified and flat.value == 0.0 and flat.note == ""
    on_kink = verify(Problem(net), PointWitness(1.0, np.array([-0.5, 1.0])))
    assert not on_kink.verified and "kink" in on_kink.note


def test_witness_claims_are_verified_at_their_true_value() -> None:
    net = _net([3, 5, 4, 2], "gelu", seed=5)
    x = np.array([0.1, -0.3, 0.7])
    true = float(np.linalg.norm(net.jacobian(x), 2))
    verdict = verify(Problem(net), PointWitness(2 * true, x))
    assert verdict.verified and verdict.value == pytest.approx(true, rel=1e-12)
    assert "verified only" in verdict.note


def test_two_layer_methods_refuse_deep_nets() -> None:
    deep = certify(_net([2, 3, 3, 1]), methods=["patterns", "sdp-rounding"], time_limit=1)
    assert all(r.note.startswith("not applicable") for r in deep.methods)
