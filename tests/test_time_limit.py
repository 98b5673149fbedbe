"""The time allowance is a deadline the lower-bound searches honour (issue 16): they start no
unit of work that cannot end in time, and with no time left they do only what a witness needs.
Counted in units of work (or on a simulated clock), never against the wall clock."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import certify.lower.search as search
import certify.methods
from certify import Budget, Problem, get_method, verify
from models import TwoLayerNetwork


@pytest.fixture
def net() -> TwoLayerNetwork:
    rng = np.random.default_rng(3)
    return TwoLayerNetwork.create(rng.standard_normal((20, 5)), rng.standard_normal((2, 20)))


def _count_jacobians(net: TwoLayerNetwork, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the calls of ``net.jacobian`` (of its class's, to be exact)."""
    calls = [0]
    kind = type(net)
    original = kind.jacobian

    def counted(self: TwoLayerNetwork, x: np.ndarray) -> np.ndarray:
        calls[0] += 1
        return original(self, x)

    monkeypatch.setattr(kind, "jacobian", counted)
    return calls


def _spent() -> Budget:
    return Budget(seconds=0.0)


@pytest.mark.parametrize(("name", "most"), [("ascent", 0), ("pair", 1)])
def test_with_no_time_left_the_ascents_skip_their_jacobian_work(name, most, net, monkeypatch):
    """Before the fix the ascent computed 16 Jacobians (top directions) and 16 more to nudge
    its points after the deadline had passed, and the pair search all of those too."""
    jacobians = _count_jacobians(net, monkeypatch)
    problem = Problem(net)
    evidence = get_method(name).run(problem, _spent())
    assert jacobians[0] <= most
    assert verify(problem, evidence).verified


def test_sampling_starts_no_batch_that_cannot_end_in_time(net, monkeypatch) -> None:
    """Each batch of gradient norms costs one second on a simulated clock; with 2.5 s allowed,
    a third batch would end at 3 s, so only two are drawn (before the fix: three)."""
    clock = [0.0]
    fake_time = SimpleNamespace(monotonic=lambda: clock[0])
    monkeypatch.setattr(certify.methods, "time", fake_time)
    monkeypatch.setattr(search, "time", fake_time)
    original = search.gradient_norms

    def one_second_each(*args: object) -> np.ndarray:
        clock[0] += 1.0
        return original(*args)

    monkeypatch.setattr(search, "gradient_norms", one_second_each)
    monkeypatch.setattr(search, "_BATCH_ENTRIES", 2 * 20 * 10)
    points, _ = search.sample(net, 1000, np.random.default_rng(0), Budget(2.5, started=0.0))
    assert len(points) == 2 * 10 and clock[0] == 2.0


def test_pace_judges_by_the_longest_unit_and_keeps_the_reserve(monkeypatch) -> None:
    clock = [0.0]
    fake_time = SimpleNamespace(monotonic=lambda: clock[0])
    monkeypatch.setattr(certify.methods, "time", fake_time)
    monkeypatch.setattr(search, "time", fake_time)
    pace = search.Pace(Budget(10.0, started=0.0), reserve=2.0)
    for duration in (1.0, 3.0, 0.5):
        clock[0] += duration
        pace.lap()
    assert pace.longest == 3.0 and clock[0] == 4.5
    assert pace.fits()  # 5.5 s left > 3 + 2
    clock[0] = 5.5
    assert not pace.fits()  # 4.5 s left < 3 + 2
