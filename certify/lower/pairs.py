"""Pair witnesses: Lip(f) ≥ ‖f(x) − f(y)‖/‖x − y‖ for any x ≠ y (both in D, on a domain D), in
the ℓ2 or the ℓ∞ norm, whatever the depth and the activation.

From the best gradient point x of the ascent that fits the problem (`certify.lower.engines`;
where none does, the best of random points, `certify.lower.search.sample`), with v the unit
direction along the free axes in which J(x) stretches most — the top right singular vector (ℓ2),
the signs of the row of J(x) of largest ℓ1 norm (ℓ∞) — the symmetric pairs x ± (h/2)·v on a
geometric grid of h (never so small that rounding dominates the difference) approach ‖J(x)‖, and
so, on a domain whose boundary x may lie on, do the pairs ending at x.  The best pair is then
refined by ascent of the quotient q(x, y) = ‖Δf‖/‖x − y‖, Δf = f(x) − f(y), whose (sub)gradient is

    ∇ₓq = (J(x)ᵀe − q·u)/‖x − y‖,    ∇_y q = (q·u − J(y)ᵀe)/‖x − y‖,

with e, u the dual unit vectors of Δf and x − y (⟨e, Δf⟩ = ‖Δf‖: e = Δf/‖Δf‖₂ in ℓ2, sign(Δf_j)·e_j
at the largest |Δf_j| in ℓ∞), the step halved until q increases.  On a domain every point is
projected onto D and moved towards its centre until it is proven inside (`Domain.contains`); a
pair whose points then coincide is not used.  Pairs are compared by a float quotient made
pessimistic by a rough rounding allowance (`_quotient`), so none wins on rounding noise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from models import Network

from ..domains import Domain
from ..estimates import top_direction
from ..evidence import PairWitness
from ..methods import Budget, Kind, register
from ..problem import Norm, Problem
from ..scope import ANYWHERE, Scope
from ..verify.floating import UNIT_ROUNDOFF
from .engines import Ascents
from .search import Pace, inside, sample

__all__ = ["PairSearch"]

#: Widths h of the symmetric pairs, relative to max(1, ‖x‖₂) (on a domain, at most its width).
_WIDTHS = np.geomspace(1.0, 1e-6, 25)

Pair = tuple[np.ndarray, np.ndarray]


@register
@dataclass
class PairSearch:
    """The best difference quotient around the point found by gradient ascent (or sampling,
    with ``samples`` random points, where no ascent fits)."""

    name: ClassVar[str] = "pair"
    kind: ClassVar[Kind] = "lower"
    scope: ClassVar[Scope] = ANYWHERE

    ascent: Ascents = field(default_factory=Ascents)
    samples: int = 1000
    refine_steps: int = 30

    def why_not(self, problem: Problem) -> str | None:
        if reason := self.scope.why_not(problem, upper=False):
            return reason
        if problem.domain is not None and not np.any(problem.domain.free_axes):
            return "the domain is a single point, which holds no two distinct points"
        return None

    def run(self, problem: Problem, budget: Budget) -> PairWitness:
        """The start, leaving time for the grid of symmetric pairs, then refinement steps
        while one more fits."""
        started = time.monotonic()
        origin = np.zeros(problem.net.d) if problem.domain is None else problem.domain.center
        _quotient(problem, *_wide_pair(problem, origin))
        pairs = len(_WIDTHS) * len(_placements(problem)) + 1
        reserve = pairs * (time.monotonic() - started)
        search = Budget(seconds=max(budget.remaining() - reserve, 0.0), seed=budget.seed)
        x, y = _best_symmetric_pair(problem, self._start(problem, search))
        pace = Pace(budget)
        for _ in range(self.refine_steps):
            if not pace.fits():
                break
            x, y = _refined(problem, x, y)
            pace.lap()
        return PairWitness(value=_quotient(problem, x, y), x=x, y=y)

    def _start(self, problem: Problem, budget: Budget) -> np.ndarray:
        """The best point of the ascent that fits ``problem``, else of random points (uniform
        in the domain, if any) by their gradient norms."""
        if self.ascent.why_not(problem) is None:
            return self.ascent.run(problem, budget).point
        rng = np.random.default_rng(budget.seed)
        net, norm, domain = problem.net, problem.norm, problem.domain
        points, norms = sample(net, self.samples, rng, budget, norm=norm, domain=domain)
        return points[int(np.argmax(norms))]


def _norm(v: np.ndarray, norm: Norm) -> float:
    """‖v‖₂ or ‖v‖∞ in floating point."""
    return float(np.linalg.norm(v, 2 if norm == "2" else np.inf))


def _dual(v: np.ndarray, norm: Norm) -> np.ndarray:
    """The u of dual norm 1 with ⟨u, v⟩ = ‖v‖ (v ≠ 0): v/‖v‖₂ (ℓ2), sign(v_j)·e_j at the largest
    |v_j| (ℓ∞)."""
    if norm == "2":
        return v / np.linalg.norm(v)
    j = int(np.argmax(np.abs(v)))
    u = np.zeros_like(v)
    u[j] = np.sign(v[j])
    return u


def _preactivations(net: Network, x: np.ndarray) -> list[np.ndarray]:
    """z_1, …, z_{L−1}: the pre-activations of the hidden layers at x, in floating point."""
    zs, h = [], x
    with np.errstate(all="ignore"):
        for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
            zs.append(W @ h + b)
            h = net.activation.value(zs[-1])
    return zs


def _difference(net: Network, zx: list[np.ndarray], zy: list[np.ndarray]) -> np.ndarray:
    """f(x) − f(y) = W_L·(σ(z_{L−1}(x)) − σ(z_{L−1}(y))) in floating point (b_L cancels
    exactly), from the pre-activations of both points."""
    with np.errstate(all="ignore"):
        sigma = net.activation.value
        return net.weights[-1] @ (sigma(zx[-1]) - sigma(zy[-1]))


def _quotient(problem: Problem, x: np.ndarray, y: np.ndarray) -> float:
    """A pessimistic float estimate of ‖f(x) − f(y)‖/‖x − y‖, 0 when not finite: the numerator
    less a rough bound on its rounding error, so that pairs too close for float64 lose.

    The bound carries magnitudes through the layers, M_0 = |x| + |y| and
    M_l = s_l·(|W_l|·M_{l−1} + 2|b_l|) + |σ(z_l(x))| + |σ(z_l(y))| with
    s_l = max(|σ'(z_l(x))|, |σ'(z_l(y))|), and charges (d + k + 8)·u·‖|W_L|·M_{L−1}‖ (u the unit
    roundoff, k the number of hidden neurons): each layer rounds by about its fan-in times u
    relative to its magnitudes, which later layers carry forward as they carry M, so the
    allowance grows with depth through k and the M_l.  Only a search score: `certify.verify`
    evaluates the quotient rigorously."""
    net, norm = problem.net, problem.norm
    zx, zy = _preactivations(net, x), _preactivations(net, y)
    sigma = net.activation
    with np.errstate(all="ignore"):
        spread = np.abs(x) + np.abs(y)
        for W, b, p, q in zip(net.weights[:-1], net.biases[:-1], zx, zy, strict=True):
            slope = np.maximum(np.abs(sigma.derivative(p)), np.abs(sigma.derivative(q)))
            hidden = np.abs(sigma.value(p)) + np.abs(sigma.value(q))
            spread = slope * (np.abs(W) @ spread + 2 * np.abs(b)) + hidden
        noise = (net.d + net.k + 8) * UNIT_ROUNDOFF * _norm(np.abs(net.weights[-1]) @ spread, norm)
        value = (_norm(_difference(net, zx, zy), norm) - noise) / _norm(x - y, norm)
    return max(float(value), 0.0) if np.isfinite(value) else 0.0


def _kept(domain: Domain | None, point: np.ndarray) -> np.ndarray:
    """``point`` itself over R^d; on a domain, projected onto it and moved towards its centre
    until proven inside."""
    if domain is None:
        return point
    with np.errstate(all="ignore"):
        return inside(domain, domain.project(point)[0])


def _candidate(problem: Problem, x: np.ndarray, y: np.ndarray) -> Pair | None:
    """The pair (x, y) kept in the domain, or None when its points then coincide."""
    x, y = _kept(problem.domain, x), _kept(problem.domain, y)
    return None if np.array_equal(x, y) else (x, y)


def _wide_pair(problem: Problem, x: np.ndarray) -> Pair:
    """A pair for when no symmetric one is usable: x and x + (1 + |x₁|)·e₁ over R^d, the corners
    of the domain's bounding box kept in it on a domain."""
    domain = problem.domain
    if domain is None:
        return x, x + (1.0 + abs(x[0])) * np.eye(len(x))[0]
    box = domain.bounding_box()
    return _kept(domain, box.lower), _kept(domain, box.upper)


def _direction(problem: Problem, x: np.ndarray) -> np.ndarray:
    """A v along the free axes, ‖v‖ = 1 in the problem's norm, with ‖J(x)v‖ ≈ ‖J(x)‖ there: the
    top right singular vector (ℓ2), the signs of the row of largest ℓ1 norm (ℓ∞)."""
    domain = problem.domain
    free = np.ones(len(x), dtype=bool) if domain is None else domain.free_axes
    with np.errstate(all="ignore"):
        J = problem.net.jacobian(x)[:, free]
        v = np.zeros(len(x))
        if problem.norm == "2":
            v[free] = top_direction(J)
        else:
            v[free] = np.where(J[int(np.argmax(np.abs(J).sum(axis=1)))] < 0, -1.0, 1.0)
    return v


def _placements(problem: Problem) -> tuple[float, ...]:
    """Where a pair of width h along v lies: x + (t ± ½)·h·v, centred on x (t = 0) and, on a
    domain, where x may sit on the boundary, also ending at x from either side (t = ∓½)."""
    return (0.0,) if problem.domain is None else (0.0, -0.5, 0.5)


def _best_symmetric_pair(problem: Problem, x: np.ndarray) -> Pair:
    """The usable pair x + (t ± ½)·h·v (`_placements`) with the largest quotient over the grid
    of widths h."""
    width = max(1.0, float(np.linalg.norm(x)))
    if problem.domain is not None:
        width = min(width, 2.0 * problem.domain.scale)
    steps = width * _WIDTHS[:, None] * _direction(problem, x)
    pairs = [
        _candidate(problem, x + (t - 0.5) * step, x + (t + 0.5) * step)
        for step in steps
        for t in _placements(problem)
    ]
    usable = [pair for pair in pairs if pair is not None]
    if not usable:
        return _wide_pair(problem, x)
    return max(usable, key=lambda pair: _quotient(problem, *pair))


def _refined(problem: Problem, x: np.ndarray, y: np.ndarray) -> Pair:
    """One ascent step on q(x, y) of length ≤ ‖x − y‖/4 (kept in the domain), halved until q
    increases (the same pair when no step does)."""
    net, norm = problem.net, problem.norm
    value = _quotient(problem, x, y)
    change = _difference(net, _preactivations(net, x), _preactivations(net, y))
    if value == 0.0 or not np.all(np.isfinite(change)):
        return x, y
    gap = x - y
    distance = _norm(gap, norm)
    e, u = _dual(change, norm), _dual(gap, norm)
    with np.errstate(all="ignore"):
        grad_x = (net.jacobian(x).T @ e - value * u) / distance
        grad_y = (value * u - net.jacobian(y).T @ e) / distance
        size = float(np.linalg.norm(np.concatenate([grad_x, grad_y])))
    if not np.isfinite(size) or size == 0.0:
        return x, y
    length = 0.25 * distance
    for _ in range(20):
        step = length / size
        candidate = _candidate(problem, x + step * grad_x, y + step * grad_y)
        if candidate is not None and _quotient(problem, *candidate) > value:
            return candidate
        length *= 0.5
    return x, y
