"""Search primitives shared by the lower-bound methods: batched gradient norms, top singular
directions and random starting points.

Wherever f is differentiable, Lip(f) ≥ ‖J(x)‖₂ with J(x) = A·diag(σ'(Wx + b))·W, so every search
here only proposes points; `certify.verify` proves what they are worth.
"""

from __future__ import annotations

import time

import numpy as np

from models import TwoLayerNetwork

from ..estimates import top_direction
from ..methods import Budget
from ..regions import active_neurons

__all__ = [
    "Pace",
    "gradient_norms",
    "length_scales",
    "sample",
    "top_direction",
]

#: Largest number of float64 entries one batched Jacobian may hold.
_BATCH_ENTRIES = 1 << 21


class Pace:
    """Whether one more unit of work fits before a budget's deadline, judged by the longest
    unit so far, with ``reserve`` seconds kept for the work that must follow; this keeps a
    method within about one unit of its allowance instead of starting work it cannot finish."""

    def __init__(self, budget: Budget, reserve: float = 0.0) -> None:
        self.budget, self.reserve = budget, reserve
        self.longest = 0.0
        self.mark = time.monotonic()

    def lap(self) -> None:
        """One unit of work ended."""
        now = time.monotonic()
        self.longest = max(self.longest, now - self.mark)
        self.mark = now

    def fits(self) -> bool:
        """Whether another unit (and the reserve) fits in the time left."""
        return self.budget.remaining() > self.longest + self.reserve


def gradient_norms(net: TwoLayerNetwork, X: np.ndarray) -> np.ndarray:
    """‖J(x)‖₂ for every row x of X (−inf where it overflows or is not finite)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    rows = max(1, _BATCH_ENTRIES // (net.m * max(net.k, net.d)))
    norms = np.concatenate(
        [_batch_norms(net, X[start : start + rows]) for start in range(0, len(X), rows)]
    )
    return np.where(np.isfinite(norms), norms, -np.inf)


def _batch_norms(net: TwoLayerNetwork, X: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        slopes = net.activation.derivative(net.preactivation(X))
        if net.m == 1:
            return np.linalg.norm((slopes * net.A[0]) @ net.W, axis=1)
        J = ((slopes[:, None, :] * net.A[None]).reshape(-1, net.k) @ net.W).reshape(
            len(X), net.m, net.d
        )
    finite = np.all(np.isfinite(J), axis=(1, 2))
    J[~finite] = 0.0
    return np.where(finite, np.linalg.norm(J, ord=2, axis=(1, 2)), np.inf)


def length_scales(net: TwoLayerNetwork) -> tuple[float, ...]:
    """Radii at which to look for activation regions: 1, and the median distance |b_i|/‖w_i‖
    from the origin to the neurons' hyperplanes (when it is positive and differs from 1)."""
    active = active_neurons(net)
    if active.size == 0:
        return (1.0,)
    distance = float(np.median(np.abs(net.b[active]) / np.linalg.norm(net.W[active], axis=1)))
    if distance == 0.0:
        return (1.0,)
    return tuple(sorted({1.0, distance}))


def _random_points(
    d: int, count: int, rng: np.random.Generator, scales: tuple[float, ...] = (1.0,)
) -> np.ndarray:
    """``count`` points x ~ N(0, r²I/d), the radius r cycling through ``scales``."""
    radii = np.resize(np.asarray(scales, dtype=np.float64), count)
    return rng.standard_normal((count, d)) * (radii / np.sqrt(d))[:, None]


def sample(
    net: TwoLayerNetwork,
    count: int,
    rng: np.random.Generator,
    budget: Budget,
    scales: tuple[float, ...] = (1.0,),
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` random points and their gradient norms, drawn in batches while another
    batch fits in the budget (at least one batch)."""
    batch = max(1, min(count, _BATCH_ENTRIES // (net.m * max(net.k, net.d))))
    points, norms = [], []
    pace = Pace(budget)
    for start in range(0, count, batch):
        X = _random_points(net.d, min(batch, count - start), rng, scales)
        points.append(X)
        norms.append(gradient_norms(net, X))
        pace.lap()
        if not pace.fits():
            break
    return np.concatenate(points), np.concatenate(norms)
