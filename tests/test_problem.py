"""The problem a bound answers: norm and domain validation, and methods refusing what they
cannot bound."""

from __future__ import annotations

import numpy as np
import pytest

from certify import certify
from certify.domains import Ball, Box, DomainError, parse_domain
from certify.methods import Budget, get_method, method_names
from certify.problem import Problem, ProblemError
from certify.verify import verify
from models import TwoLayerNetwork


def _net(d: int = 2) -> TwoLayerNetwork:
    return TwoLayerNetwork.create(np.eye(d)[:1].repeat(2, axis=0), [[1.0, -1.0]], b=[0.0, -1.0])


def test_unknown_norm_and_mismatched_domain_are_refused() -> None:
    with pytest.raises(ProblemError, match="unknown norm"):
        Problem(_net(), norm="1")  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="dimension 3"):
        Problem(_net(2), domain=Ball(np.zeros(3), 1.0))


@pytest.mark.parametrize(
    ("spec", "kind", "corners"),
    [
        ("unit-ball", Ball, (-1.0, 1.0)),
        ("ball:2.5", Ball, (-2.5, 2.5)),
        ("linf-ball:1e-3", Ball, (-1e-3, 1e-3)),
        ("box:-1,3", Box, (-1.0, 3.0)),
    ],
)
def test_domains_parse(spec: str, kind: type, corners: tuple[float, float]) -> None:
    domain = parse_domain(spec, 3)
    assert isinstance(domain, kind) and domain.dimension == 3
    box = domain.bounding_box()
    assert np.all(box.lower == corners[0]) and np.all(box.upper == corners[1])


@pytest.mark.parametrize("spec", ["sphere", "ball:-1", "ball:0", "box:2,1", "box:1", "ball:inf"])
def test_bad_domains_are_refused(spec: str) -> None:
    with pytest.raises(DomainError):
        parse_domain(spec, 2)


def test_domain_values_are_validated() -> None:
    with pytest.raises(DomainError):
        Ball(np.array([np.nan]), 1.0)
    with pytest.raises(DomainError):
        Ball(np.zeros(2), 1.0, norm="1")
    with pytest.raises(DomainError):
        Box(np.zeros(2), np.zeros(3))


def test_every_method_says_why_it_does_not_apply_or_gives_a_sound_claim() -> None:
    """On the W=[1;1], b=(0,−1), a=(1,−1) toy (Lip = 1 in both norms, d = 1), each method
    either refuses the problem with a reason or its verified claim brackets 1."""
    net = TwoLayerNetwork.create([[1.0], [1.0]], [[1.0, -1.0]], b=[0.0, -1.0])
    for problem in (Problem(net), Problem(net, norm="inf"), Problem(net, domain=Ball([0.5], 2.0))):
        for name in method_names():
            method = get_method(name)
            reason = method.why_not(problem)
            if reason is not None:
                assert isinstance(reason, str) and reason
                continue
            verdict = verify(problem, method.run(problem, Budget(seconds=1.0)))
            if verdict.verified:
                assert (verdict.value >= 1 - 1e-9) if method.kind == "upper" else verdict.value <= 1


def test_global_witness_is_not_accepted_for_a_domain_problem() -> None:
    net = _net()
    report = certify(net, methods=["sampling"], time_limit=1.0)
    witness = report.methods[0].evidence
    assert verify(Problem(net), witness).verified
    far = Problem(net, domain=Box(np.full(2, 100.0), np.full(2, 101.0)))
    assert not verify(far, witness).verified


def test_report_names_norm_and_domain() -> None:
    report = certify(_net(), methods=["spectral"], time_limit=1.0, domain=parse_domain("ball:2", 2))
    assert report.model["norm"] == "2"
    assert "ball of radius 2" in str(report.model["domain"])
