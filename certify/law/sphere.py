"""Verified lower bounds on the Lipschitz constant of f restricted to the unit sphere S^{d−1}.

Lip_S(f) = sup |f(x) − f(y)| / ‖x − y‖₂ over x ≠ y on S^{d−1} is the quantity of Conjecture 1 of
Bubeck, Li, Nagaraj (COLT 2021).  If f is differentiable at x̂ ∈ S^{d−1} and u ≠ 0 is tangent
there (u·x̂ = 0), the great circle γ(t) = cos t·x̂ + sin t·u/‖u‖ stays on the sphere with
‖γ(t) − x̂‖ = 2 sin(t/2) ~ t, so (f(γ(t)) − f(x̂))/‖γ(t) − x̂‖ → J(x̂)u/‖u‖ and

    Lip_S(f) ≥ ‖J(x̂) u‖₂ / ‖u‖₂    (the tangential derivative; geodesic distance gives the same).

What is certified, exactly: a `SphereWitness` holds two float64 vectors p ≠ 0 and v.  The
witness point is the real point x̂ = p/‖p‖₂, exactly on the sphere (a float64 vector can only be
within ~1e-16 of it); the direction is the exact tangent u = v − (v·x̂)x̂.  The checker encloses
x̂, u, W x̂ + b and J(x̂)u in arb balls, proves every pre-activation off the kinks of σ, and
returns the lower end of ‖J(x̂)u‖/‖u‖.  Since pairs on the sphere are pairs in R^d, the bound
also holds for the global constant.  The search that proposes p and v is plain float64.

Upper ends: S^{d−1} lies in the closed unit ball B = {x : ‖x‖₂ ≤ 1}, so every pair on the
sphere is a pair in B and Lip_S(f) ≤ Lip_B(f) ≤ Lip(f).  `unit_ball_upper` certifies Lip_B with
the domain-aware upper methods (`BALL_METHODS`; the interval propagation behind them is valid
on the closed ball), and `tightest_upper` keeps the smaller of the global and ball bounds.  This
holds for data on the sphere only: with N(0, I/d) data the conjecture's quantity is not the
constant on S^{d−1}, so there the global bound alone is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from flint import arb, arb_mat, ctx

from models import TwoLayerNetwork

from ..api import Progress, certify
from ..domains import Ball
from ..estimates import top_direction
from ..evidence import Witness
from ..methods import Budget
from ..problem import Problem
from ..report import Report
from ..verify.balls import PRECISION, jacobian_product, lower_float, norm_lower, norm_upper
from ..verify.dispatch import Verdict, checker, unsupported, verify
from ..verify.propagation import slope_intervals

__all__ = [
    "BALL_METHODS",
    "GLOBAL",
    "UNIT_BALL",
    "SphereWitness",
    "UpperEnd",
    "search_sphere",
    "sphere_lower_bound",
    "tangential_norms",
    "tightest_upper",
    "unit_ball",
    "unit_ball_upper",
]

#: Largest number of float64 entries one batch of tangential Jacobians may hold.
_BATCH_ENTRIES = 1 << 21
#: Hill climbing: points kept, proposals per point and round, first step (radians) and rounds.
_KEPT, _PROPOSALS, _FIRST_STEP, _ROUNDS = 8, 16, 0.1, 60
#: Candidates tried, best first, until one passes the rigorous check.
_CANDIDATES = 4
#: Upper-bound methods that use the domain, run on the closed unit ball.
BALL_METHODS = ("spectral", "lipsdp-neuron", "coactivation")
#: Where an upper end holds: all of R^d, or the closed unit ball (⊇ S^{d−1}).
GLOBAL, UNIT_BALL = "global", "unit-ball"


@dataclass(frozen=True)
class SphereWitness(Witness):
    """Claimed Lip_S(f) ≥ ‖J(x̂)u‖/‖u‖ with x̂ = point/‖point‖ and u = direction − (direction·x̂)x̂."""

    point: np.ndarray = field(repr=False)
    direction: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"type": "sphere", "x": self.point.tolist(), "direction": self.direction.tolist()}


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _tangential_jacobians(net: TwoLayerNetwork, U: np.ndarray) -> np.ndarray:
    """J(u)·(I − uuᵀ) for every unit row u of U, shape N×m×d."""
    slopes = net.activation.derivative(net.preactivation(U))
    J = (slopes[:, None, :] * net.A[None]) @ net.W
    return J - (J @ U[:, :, None]) * U[:, None, :]


def tangential_norms(net: TwoLayerNetwork, U: np.ndarray) -> np.ndarray:
    """‖J(u)(I − uuᵀ)‖₂ for every unit row u of U (float64 estimates, −inf if not finite)."""
    rows = max(1, _BATCH_ENTRIES // (net.m * max(net.k, net.d)))
    norms = []
    with np.errstate(all="ignore"):
        for start in range(0, len(U), rows):
            P = _tangential_jacobians(net, U[start : start + rows])
            finite = np.all(np.isfinite(P), axis=(1, 2))
            P[~finite] = 0.0
            norms.append(np.where(finite, np.linalg.norm(P, ord=2, axis=(1, 2)), -np.inf))
    return np.concatenate(norms) if norms else np.zeros(0)


def _climb(
    net: TwoLayerNetwork,
    U: np.ndarray,
    values: np.ndarray,
    rng: np.random.Generator,
    budget: Budget,
) -> tuple[np.ndarray, np.ndarray]:
    """Random-direction hill climbing on the sphere from the rows of U: each round tries
    ``_PROPOSALS`` moves per point, keeps the best if it improves, and doubles that point's step
    on success or halves it on failure."""
    steps = np.full(len(U), _FIRST_STEP)
    for _ in range(_ROUNDS):
        if budget.expired():
            break
        noise = rng.standard_normal((len(U), _PROPOSALS, net.d)) / math.sqrt(net.d)
        proposals = _unit((U[:, None, :] + steps[:, None, None] * noise).reshape(-1, net.d))
        scores = tangential_norms(net, proposals).reshape(len(U), _PROPOSALS)
        best = np.argmax(scores, axis=1)
        improved = scores[np.arange(len(U)), best] > values
        U[improved] = proposals.reshape(len(U), _PROPOSALS, net.d)[improved, best[improved]]
        values = np.where(improved, scores[np.arange(len(U)), best], values)
        steps = np.where(improved, 2.0 * steps, 0.5 * steps)
    return U, values


def search_sphere(
    net: TwoLayerNetwork, budget: Budget, count: int = 1000, starts: np.ndarray | None = None
) -> list[SphereWitness]:
    """Candidate witnesses, best first: the largest tangential gradient norms among ``count``
    uniform points on S^{d−1} and the (normalised) ``starts``, improved by hill climbing."""
    rng = np.random.default_rng(budget.seed)
    pool = [_unit(rng.standard_normal((count, net.d)))]
    if starts is not None and len(starts):
        pool.append(_unit(np.asarray(starts, dtype=np.float64)))
    U = np.concatenate(pool)
    values = tangential_norms(net, U)
    keep = np.argsort(-values, kind="stable")[:_KEPT]
    U, values = _climb(net, U[keep].copy(), values[keep], rng, budget)
    order = np.argsort(-values, kind="stable")
    return [
        SphereWitness(
            value=max(float(values[i]), 0.0),
            point=U[i],
            direction=top_direction(_tangential_jacobians(net, U[i : i + 1])[0]),
        )
        for i in order
    ]


def sphere_lower_bound(
    net: TwoLayerNetwork, budget: Budget, count: int = 1000, starts: np.ndarray | None = None
) -> tuple[float, SphereWitness | None]:
    """The verified lower bound on Lip_S(f) of the best candidate that passes the rigorous check
    (trying the best ``_CANDIDATES``), with its witness; 0 and None when none passes."""
    for witness in search_sphere(net, budget, count, starts)[:_CANDIDATES]:
        verdict = verify(Problem(net), witness)
        if verdict.verified:
            return verdict.value, witness
    return 0.0, None


@checker.register
def _(witness: SphereWitness, problem: Problem) -> Verdict:
    if reason := unsupported(problem):
        return Verdict.failed(reason)
    net = problem.net
    p = np.asarray(witness.point, dtype=np.float64)
    v = np.asarray(witness.direction, dtype=np.float64)
    if p.shape != (net.d,) or v.shape != (net.d,):
        return Verdict.failed(f"witness vectors must have shape ({net.d},)")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(v)) and np.any(p != 0)):
        return Verdict.failed("witness point is zero or not finite")
    with ctx.workprec(PRECISION):
        norm = sum((arb(value) ** 2 for value in p), arb(0)).sqrt()
        unit = [arb(value) / norm for value in p]
        along = sum((arb(a) * b for a, b in zip(v, unit, strict=True)), arb(0))
        tangent = [arb(a) - along * b for a, b in zip(v, unit, strict=True)]
        columns = arb_mat(net.d, 2, [e for pair in zip(unit, tangent, strict=True) for e in pair])
        image = jacobian_product(net, columns)
        if isinstance(image, str):
            return Verdict.failed(image)
        proven = lower_float(norm_lower(image.entries()) / norm_upper(tangent))
    if not math.isfinite(proven):
        return Verdict(0.0, True, "the witness proves nothing beyond Lip_S(f) ≥ 0")
    return Verdict(max(proven, 0.0), True)


def unit_ball(d: int) -> Ball:
    """The closed ball {x ∈ R^d : ‖x‖₂ ≤ 1}, which contains S^{d−1}."""
    return Ball(np.zeros(d), 1.0)


def _some_slope_fixed(net: TwoLayerNetwork, ball: Ball) -> bool:
    """Whether some neuron's slope interval on ``ball`` is narrower than the global sector;
    if none is, LipSDP-Neuron on the ball is the global problem and need not run again."""
    low, high = slope_intervals(net, ball)
    global_low, global_high = slope_intervals(net, None)
    return bool(np.any((low > global_low) | (high < global_high)))


def unit_ball_upper(
    net: TwoLayerNetwork, time_limit: float, seed: int, progress: Progress | None = None
) -> Report:
    """Verified upper bounds on Lip_B(f), B the closed unit ball, from `BALL_METHODS`
    (LipSDP-Neuron only where some neuron's slope is fixed on B)."""
    ball = unit_ball(net.d)
    methods = [m for m in BALL_METHODS if m != "lipsdp-neuron" or _some_slope_fixed(net, ball)]
    return certify(
        net, methods=methods, time_limit=time_limit, seed=seed, domain=ball, progress=progress
    )


@dataclass(frozen=True)
class UpperEnd:
    """The smallest verified upper end, its method and domain, and the global one alone."""

    value: float
    method: str | None
    domain: str
    global_value: float


def tightest_upper(global_report: Report, ball_report: Report | None) -> UpperEnd:
    """The smaller verified upper end of the global report and of the unit-ball report (None:
    not asked for); a tie keeps the global one."""
    best = UpperEnd(global_report.upper, global_report.upper_method, GLOBAL, global_report.upper)
    if ball_report is not None and ball_report.upper < best.value:
        return UpperEnd(ball_report.upper, ball_report.upper_method, UNIT_BALL, best.value)
    return best
