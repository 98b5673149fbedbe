"""The layer products on a domain (`spectral` on deep nets, `linf-product` at both depths): each
layer's slopes proven on the domain by interval propagation, against exact oracles and the
global bounds they refine, for every activation, polynomial ones included."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certify.api import run_method
from certify.certificates import LayerProductCertificate, LinfLayerProductCertificate
from certify.domains import Ball, Box
from certify.methods import Budget
from certify.problem import Problem
from certify.verify import verify
from certify.verify.propagation import layer_preactivation_bounds
from models import Network

from .oracles import domain_oracle
from .test_conformance import _domain, degenerate_net
from .test_pairs import SETTINGS, quick_ascents, quick_pairs, random_net

TOLERANCE = 1e-9
#: (method, norm) of the layer products, and the depths each one covers on a domain.
PRODUCTS = [("spectral", "2", 3), ("linf-product", "inf", 2), ("linf-product", "inf", 3)]
DOMAINS = ("box", "ball")
ACTIVATIONS = ("tanh", "softplus", "gelu", "square", "cube")


def _sampled_quotient(net: Network, norm: str, domain: Box | Ball, seed: int = 0) -> float:
    """The largest ‖f(x) − f(y)‖/‖x − y‖ over random pairs of nearby points of the domain."""
    rng = np.random.default_rng(seed)
    x = domain.project(domain.sample(400, rng))
    y = domain.project(x + 1e-4 * domain.scale * rng.standard_normal(x.shape))
    order = 2 if norm == "2" else np.inf
    gaps = np.linalg.norm(x - y, ord=order, axis=1)
    keep = gaps > 0
    change = np.linalg.norm(net(x[keep]) - net(y[keep]), ord=order, axis=1)
    return float(np.max(change / gaps[keep], initial=0.0))


@settings(SETTINGS, max_examples=80)
@given(st.sampled_from(list(itertools.product(PRODUCTS, DOMAINS))), st.integers(0, 2**32 - 1))
def test_domain_products_are_sound_and_never_above_the_global_ones(cell: tuple, seed: int):
    (name, norm, depth), region = cell
    rng = np.random.default_rng(seed)
    net = degenerate_net(rng, depth)
    domain = _domain(region, rng, net.d)
    lower, _ = domain_oracle(net, norm, domain)
    bound = run_method(name, Problem(net, norm, domain), 5.0, 0)
    everywhere = run_method(name, Problem(net, norm), 5.0, 0)
    assert bound.verified and everywhere.verified, (bound, everywhere)
    assert bound.value >= lower * (1 - TOLERANCE), (bound, lower, net)
    assert bound.value <= everywhere.value * (1 + 1e-12) + 1e-300, (bound, everywhere)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(("name", "norm", "depth"), PRODUCTS)
@pytest.mark.parametrize("region", DOMAINS)
def test_smooth_and_polynomial_nets_get_a_finite_bound_above_every_witness(
    activation: str, name: str, norm: str, depth: int, region: str
) -> None:
    net = random_net([3, *[4] * (depth - 1), 2], activation, seed=depth)
    domain = _domain(region, np.random.default_rng(2), net.d)
    problem = Problem(net, norm, domain)
    bound = run_method(name, problem, 5.0, 0)
    assert bound.verified and np.isfinite(bound.value), bound
    for search in (quick_pairs(), quick_ascents()):
        witness = verify(problem, search.run(problem, Budget(5.0)))
        assert witness.verified and 0.0 < witness.value <= bound.value
    assert _sampled_quotient(net, norm, domain) <= bound.value


def test_a_polynomial_net_has_no_global_layer_product() -> None:
    net = random_net([3, 4, 4, 2], "square")
    for name, norm in (("spectral", "2"), ("linf-product", "inf")):
        result = run_method(name, Problem(net, norm), 5.0, 0)
        assert not result.applicable and "not globally Lipschitz" in result.note


@pytest.mark.parametrize("activation", ["relu", "leaky_relu(-0.5)", *ACTIVATIONS])
@pytest.mark.parametrize("domain", [Ball(np.full(3, 0.5), 0.7), Box(-np.ones(3), np.ones(3) / 2)])
def test_propagated_bounds_hold_every_preactivation_of_the_domain(
    activation: str, domain: Ball | Box
) -> None:
    net = random_net([3, 5, 4, 3, 2], activation, seed=1)
    x = domain.project(domain.sample(2000, np.random.default_rng(0)))
    layers = layer_preactivation_bounds(net, domain)
    assert len(layers) == net.depth - 1
    hidden = x
    for (lower, upper), W, b in zip(layers, net.weights, net.biases, strict=False):
        z = hidden @ W.T + b
        assert np.all(lower <= z) and np.all(z <= upper)
        hidden = net.activation.value(z)


def test_a_small_domain_where_no_neuron_switches_gives_the_linear_map() -> None:
    net = random_net([3, 5, 4, 2], "relu", seed=3)
    point = np.array([0.3, -0.2, 0.1])
    assert np.all(np.abs(net.preactivation(point)) > 1e-3)  # no neuron switches nearby
    domain = Ball(point, 1e-9)
    bound = run_method("spectral", Problem(net, "2", domain), 5.0, 0)
    J = net.jacobian(point)
    product = np.prod([np.linalg.norm(M, 2) for M in _linear_layers(net, point)])
    assert bound.verified and np.linalg.norm(J, 2) <= bound.value <= product * (1 + 1e-9)


def _linear_layers(net: Network, point: np.ndarray) -> list[np.ndarray]:
    """The layers diag(σ′(z_l))·W_l at ``point``, then W_L."""
    layers, hidden = [], point
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        z = W @ hidden + b
        layers.append(net.activation.derivative(z)[:, None] * W)
        hidden = net.activation.value(z)
    return [*layers, net.weights[-1]]


@pytest.mark.parametrize(
    ("certificate", "norm"),
    [
        (LayerProductCertificate(value=1e-9, norms=np.full(3, 1e-3)), "2"),
        (LinfLayerProductCertificate(value=1e-9), "inf"),
    ],
)
def test_a_tampered_claim_is_verified_only_at_its_proven_value(certificate, norm: str) -> None:
    net = random_net([3, 4, 4, 2], "relu", seed=4)
    domain = Box(-np.ones(3), np.ones(3))
    verdict = verify(Problem(net, norm, domain), certificate)
    lower, _ = domain_oracle(net, norm, domain)
    assert verdict.verified and verdict.value >= lower > 1e-3


def test_flat_axes_of_a_box_do_not_count() -> None:
    net = random_net([3, 4, 4, 2], "tanh", seed=5)
    flat = Box(np.array([-1.0, 0.2, -1.0]), np.array([1.0, 0.2, 1.0]))
    full = Box(np.array([-1.0, 0.2 - 1e-300, -1.0]), np.array([1.0, 0.2 + 1e-300, 1.0]))
    for name, norm in (("spectral", "2"), ("linf-product", "inf")):
        narrow = run_method(name, Problem(net, norm, flat), 5.0, 0)
        wide = run_method(name, Problem(net, norm, full), 5.0, 0)
        assert narrow.verified and wide.verified and narrow.value <= wide.value
