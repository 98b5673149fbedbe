"""Soundness of every bound method against the exact oracle, on many random small networks.

For piecewise-linear nets the exact method gives a proven interval [L*, U*] around the true
constant; every verified upper bound must be ≥ L* and every verified lower bound ≤ U*.  For
smooth activations (no exact oracle) every verified lower bound must stay below every verified
upper bound.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from certify import certify, method_names
from certify.api import exact_lipschitz
from models import TwoLayerNetwork

from .strategies import SMOOTH, networks

METHODS = [name for name in method_names() if name != "exact"]
SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)


def _verified(report, kind):
    return [r for r in report.methods if r.kind == kind and r.verified]


@settings(SETTINGS, max_examples=1000)
@given(networks())
def test_every_method_brackets_the_exact_constant(net: TwoLayerNetwork) -> None:
    exact_lower, exact_upper = exact_lipschitz(net)
    assert exact_lower <= exact_upper
    report = certify(net, methods=METHODS, time_limit=0.25)
    for result in report.methods:
        assert not result.note.startswith("failed"), result
    for upper in _verified(report, "upper"):
        assert upper.value >= exact_lower, (upper, exact_lower)
    for lower in _verified(report, "lower"):
        assert lower.value <= exact_upper, (lower, exact_upper)
    assert report.lower <= exact_upper and report.upper >= exact_lower


@settings(SETTINGS, max_examples=200)
@given(networks(activations=SMOOTH))
def test_lower_ends_stay_below_upper_ends_for_smooth_activations(net: TwoLayerNetwork) -> None:
    report = certify(net, methods=METHODS, time_limit=0.25)
    for result in report.methods:
        assert not result.note.startswith("failed"), result
    assert report.lower <= report.upper
    assert _verified(report, "upper"), "the spectral bound always verifies"
