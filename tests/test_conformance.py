"""Conformance of every registered method, in the style of scikit-learn's ``check_estimator``.

For every (depth, norm, region) — two-layer or deep, ℓ2 or ℓ∞, all of R^d, a box or a ball —
random degenerate piecewise-linear nets (weights from 1e-6 to 1e6, zero rows and columns,
duplicated and mirrored neurons, zero biases, d = 1) are certified by every method, and
against the brute-force oracle of `tests.oracles`:

* soundness: every verified upper bound ≥ the oracle's lower end, every verified lower bound ≤
  its upper end;
* usefulness: each method that applies verifies its claim on a stated share of the cases (so a
  checker that rejects everything fails), and every cell has an upper and a lower method;
* the scope it declares is the one it applies on.

The default profile draws a few nets per cell; ``pytest -m slow`` runs the long one.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from certify import certify, get_method, method_names
from certify.domains import Ball, Box
from certify.problem import Problem
from models import Network

from .oracles import domain_oracle

DEPTHS = (2, 3)
NORMS = ("2", "inf")
REGIONS = ("global", "box", "ball")
CELLS = list(itertools.product(DEPTHS, NORMS, REGIONS))
ACTIVATIONS = ("relu", "leaky_relu(0.1)", "leaky_relu(-0.5)")
#: Least share of its applicable cases on which a method's claim must verify.
SHARE = {"upper": 0.9, "lower": 0.9}
TOLERANCE = 1e-9


def degenerate_net(rng: np.random.Generator, depth: int) -> Network:
    """d ≤ 3, widths ≤ 4 (≤ 3 when deep), m ≤ 2, one scale per layer in 10^[−6, 6], and now and
    then integer weights, a zero row, a zero column, a duplicated or mirrored neuron."""
    d = int(rng.integers(1, 4))
    widths = [int(rng.integers(1, 5 if depth == 2 else 4)) for _ in range(depth - 1)]
    sizes = [d, *widths, int(rng.integers(1, 3))]
    weights, biases = [], []
    for inputs, outputs in itertools.pairwise(sizes):
        scale = 10.0 ** rng.integers(-6, 7)
        W = rng.standard_normal((outputs, inputs)) * scale
        b = rng.standard_normal(outputs) * scale * rng.integers(0, 2)
        if rng.random() < 0.25:
            W, b = np.round(W / scale) * scale, np.round(b / scale) * scale
        if outputs > 1 and rng.random() < 0.25:
            i, j = rng.choice(outputs, size=2, replace=False)
            sign = rng.choice([1.0, -1.0])
            W[j], b[j] = sign * W[i], sign * b[i]
        if rng.random() < 0.2:
            W[rng.integers(outputs)] = 0.0
        if inputs > 1 and rng.random() < 0.2:
            W[:, rng.integers(inputs)] = 0.0
        weights.append(W)
        biases.append(b)
    return Network(tuple(weights), tuple(biases), ACTIVATIONS[rng.integers(len(ACTIVATIONS))])


def _domain(region: str, rng: np.random.Generator, d: int) -> Box | Ball | None:
    """A random box or ball of radius 10^[−2, 1] around a point of scale 1."""
    if region == "global":
        return None
    center = rng.standard_normal(d)
    radius = 10.0 ** rng.uniform(-2, 1)
    if region == "ball":
        return Ball(center, radius)
    half = radius * rng.uniform(0.2, 1.0, d)
    return Box(center - half, center + half)


def _run_cell(depth: int, norm: str, region: str, count: int) -> None:
    rng = np.random.default_rng([depth, len(norm), REGIONS.index(region), count])
    applied, verified = Counter(), Counter()
    names = method_names()
    for _ in range(count):
        net = degenerate_net(rng, depth)
        domain = _domain(region, rng, net.d)
        lower, upper = domain_oracle(net, norm, domain)
        report = certify(net, methods=names, time_limit=0.1, norm=norm, domain=domain)
        for result in report.methods:
            method = get_method(result.name)
            inside = method.scope.why_not(Problem(net, norm, domain), method.kind == "upper")
            assert (inside is None) >= result.applicable, (result.name, inside)
            if not result.applicable:
                continue
            assert not result.note.startswith("failed"), result
            applied[result.name] += 1
            if not result.verified:
                continue
            verified[result.name] += 1
            if result.kind == "upper":
                assert result.value >= lower * (1 - TOLERANCE), (result, lower, net)
            else:
                assert result.value <= upper * (1 + TOLERANCE) + 1e-300, (result, upper, net)
    kinds = {get_method(name).kind for name in applied}
    assert kinds == {"upper", "lower"}, (depth, norm, region, applied)
    for name, attempts in applied.items():
        share = verified[name] / attempts
        assert share >= SHARE[get_method(name).kind], (name, verified[name], attempts)


@pytest.mark.parametrize(("depth", "norm", "region"), CELLS)
def test_every_method_conforms(depth: int, norm: str, region: str) -> None:
    _run_cell(depth, norm, region, count=6)


@pytest.mark.slow
@pytest.mark.parametrize(("depth", "norm", "region"), CELLS)
def test_every_method_conforms_at_length(depth: int, norm: str, region: str) -> None:
    _run_cell(depth, norm, region, count=60)
