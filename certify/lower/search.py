"""Search primitives shared by the lower-bound methods: batched Jacobians and their norms, and
random starting points, over R^d or in a domain.

Wherever f is differentiable, Lip(f) ≥ ‖J(x)‖ (ℓ2: the largest singular value; ℓ∞: the largest
row ℓ1 norm), so every search here only proposes points; `certify.verify` proves what they are
worth.
"""

from __future__ import annotations

import time

import numpy as np

from models import Network, TwoLayerNetwork

from ..domains import Domain
from ..estimates import top_direction
from ..methods import Budget
from ..problem import Norm
from ..regions import active_neurons

__all__ = [
    "FAR",
    "Pace",
    "gradient_norms",
    "inside",
    "jacobians",
    "keep_better",
    "length_scales",
    "sample",
    "top_direction",
]

#: Radius, in length scales, of the far starts of the ℓ∞ searches over R^d, whose patterns are
#: those of unbounded regions (often the steepest).
FAR = 100.0
#: Largest number of float64 entries one batched Jacobian may hold.
_BATCH_ENTRIES = 1 << 21
#: Shrinks towards the centre tried, in turn, to bring a rounded point inside a domain.
_SHRINKS = (1.0, 1.0 - 2.0**-40, 1.0 - 2.0**-20, 0.5, 0.0)


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


def gradient_norms(
    net: Network, X: np.ndarray, norm: Norm = "2", free: np.ndarray | None = None
) -> np.ndarray:
    """‖J(x)‖ for every row x of X, in the ℓ2 operator norm or the ℓ∞ one (the largest row ℓ1
    norm), on the ``free`` input axes only when given (a box's); −inf where it overflows or is
    not finite."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    widest = max(net.d, *net.widths)
    rows = max(1, _BATCH_ENTRIES // (net.m * widest))
    norms = np.concatenate(
        [_batch_norms(net, X[start : start + rows], norm, free) for start in range(0, len(X), rows)]
    )
    return np.where(np.isfinite(norms), norms, -np.inf)


def keep_better(net: Network, points: np.ndarray, best: np.ndarray, norms: np.ndarray) -> None:
    """Replace, in place, each row of ``best`` (with gradient norms ``norms``) by the same row
    of ``points`` where that one has the larger true ‖J‖₂."""
    found = gradient_norms(net, points)
    better = found > norms
    best[better], norms[better] = points[better], found[better]


def jacobians(net: Network, X: np.ndarray) -> np.ndarray:
    """J(x) for every row x of X (n×m×d), built from the output side for deep nets:
    G_{L−1} = W_L, G_{l−1} = (G_l·D_l)·W_l, J = G_0."""
    with np.errstate(all="ignore"):
        slopes, h = [], X
        for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
            z = h @ W.T + b
            slopes.append(net.activation.derivative(z))
            h = net.activation.value(z)
        G = np.broadcast_to(net.weights[-1], (len(X), *net.weights[-1].shape))
        for W, slope in zip(reversed(net.weights[:-1]), reversed(slopes), strict=True):
            G = (G * slope[:, None, :]) @ W
    return G


def _batch_norms(net: Network, X: np.ndarray, norm: Norm, free: np.ndarray | None) -> np.ndarray:
    with np.errstate(all="ignore"):
        if net.depth == 2 and net.m == 1 and norm == "2" and free is None:
            slopes = net.activation.derivative(net.preactivation(X))
            return np.linalg.norm((slopes * net.A[0]) @ net.W, axis=1)
        J = np.array(jacobians(net, X))
        if free is not None:
            J = J[:, :, free]
        finite = np.all(np.isfinite(J), axis=(1, 2))
        J[~finite] = 0.0
        if norm == "2":
            values = np.linalg.norm(J, ord=2, axis=(1, 2))
        else:
            values = np.abs(J).sum(axis=2).max(axis=1)
    return np.where(finite, values, np.inf)


def inside(domain: Domain, point: np.ndarray) -> np.ndarray:
    """``point`` moved towards the centre just enough to be proven inside ``domain``."""
    centre = domain.center
    for shrink in _SHRINKS:
        moved = centre + (point - centre) * shrink
        if domain.contains(moved):
            return moved
    return centre


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
    net: Network,
    count: int,
    rng: np.random.Generator,
    budget: Budget,
    scales: tuple[float, ...] = (1.0,),
    norm: Norm = "2",
    domain: Domain | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` random points (x ~ N(0, r²I/d), r cycling through ``scales``, or uniform
    in ``domain``) and their gradient norms, drawn in batches while another batch fits in the
    budget (at least one batch)."""
    batch = max(1, min(count, _BATCH_ENTRIES // (net.m * max(net.d, *net.widths))))
    points, norms = [], []
    pace = Pace(budget)
    for start in range(0, count, batch):
        size = min(batch, count - start)
        X = _random_points(net.d, size, rng, scales) if domain is None else domain.sample(size, rng)
        points.append(X)
        norms.append(gradient_norms(net, X, norm))
        pace.lap()
        if not pace.fits():
            break
    return np.concatenate(points), np.concatenate(norms)
