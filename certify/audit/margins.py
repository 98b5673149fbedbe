"""Rigorous classification margins and distances, as python-flint ``arb`` balls.

Numbers read from a text file are the doubles nearest to their decimals, so each is treated as
the ball ``decimal_ball(v)`` of every real that rounds to v (|x − v| ≤ u|v|, plus an underflow
allowance).  The pre-activation z = Wx + b is computed in float64 with the error bound
|fl(Wx + b) − (Wx* + b)| ≤ γ_{d+2}(|W||x| + |b|) for every x* in those balls (Higham, §3.1:
γ_{d+1} for the dot product and bias, one more u for the input), plus TINY·(Σ|w_il| + d + 2) for
underflow; the k·m remaining operations are done in ball arithmetic.  Every comparison is
"certainly": True only when proven.
"""

from __future__ import annotations

import numpy as np
from flint import arb

from models import TwoLayerNetwork

from ..verify.floating import TINY, UNIT_ROUNDOFF, gamma, up

__all__ = ["SQRT2", "certainly_within", "decimal_ball", "margins", "output_balls"]

SQRT2 = arb(2).sqrt()


def decimal_ball(value: float) -> arb:
    """The ball of every real whose nearest double is ``value``."""
    return arb(value, up(UNIT_ROUNDOFF * abs(value) + TINY))


def output_balls(net: TwoLayerNetwork, x: np.ndarray) -> list[arb]:
    """Balls holding f_j(x*) for every input x* that rounds to x, for each output j.

    An overflow makes the error bound infinite (|z| ≤ size), so its balls prove nothing."""
    with np.errstate(all="ignore"):
        z = net.preactivation(x)
        size = np.abs(net.W) @ np.abs(x) + np.abs(net.b)
        underflow = (np.abs(net.W).sum(axis=1) + net.d + 2) * TINY
        error = gamma(net.d + 2) * size + underflow
    hidden = [
        net.activation.value_ball(arb(mid, up(rad))) for mid, rad in zip(z, error, strict=True)
    ]
    return [
        sum((arb(a) * h for a, h in zip(row, hidden, strict=True)), arb(c))
        for row, c in zip(net.A, net.c, strict=True)
    ]


def margins(outputs: list[arb], label: int) -> list[arb]:
    """How far the label leads: y·f(x) for one output (label ±1), else f_y − f_j for all j ≠ y."""
    if len(outputs) == 1:
        return [label * outputs[0]]
    return [outputs[label] - other for j, other in enumerate(outputs) if j != label]


def certainly_within(point: np.ndarray, centre: np.ndarray, radius: float) -> bool:
    """Proven ‖point − c*‖₂ ≤ r* for every c*, r* that round to ``centre``, ``radius``."""
    distance_squared = sum(
        ((arb(p) - decimal_ball(c)) ** 2 for p, c in zip(point, centre, strict=True)), arb(0)
    )
    return bool(decimal_ball(radius) ** 2 - distance_squared >= 0)
