"""Checkers for lower-bound witnesses, in ``arb`` ball arithmetic.

Point: if f is differentiable at x then Lip(f) ≥ ‖J(x)‖₂ ≥ ‖J(x)v‖₂/‖v‖₂ for any v ≠ 0, with
J(x) = A·diag(σ'(Wx + b))·W.  f is differentiable at x once every neuron that can change f
(w_i ≠ 0 and A[:, i] ≠ 0) has a pre-activation proven off the kinks of σ; the others add a
constant or nothing (deep MLPs: `certify.verify.checks.deep_jacobian`).  Pair: Lip(f) ≥
‖f(x) − f(y)‖₂/‖x − y‖₂ for x ≠ y, for any σ and depth: both points go forward through every
layer in balls (σ's ``value_ball``), and the output bias cancels in the difference.
On a domain D (convex) every point must be proven in D (`Domain.contains`, exact); a point
witness then gives Lip_D(f) ≥ ‖J(x)v‖₂/‖v‖₂ for v along D (a box's free axes), as f is C¹ near
x and D's relative interior comes arbitrarily close to x.
In the ℓ∞ norm (`certify.problem`) every ‖·‖₂ above becomes ‖·‖∞: Lip∞(f) ≥ ‖J(x)v‖∞/‖v‖∞, with
v the signs of the row of J(x) of largest ℓ1 norm, and ≥ ‖f(x) − f(y)‖∞/‖x − y‖∞.
Every quantity is a ball enclosing the exact value; the verdict is the lower end of the last.
"""

from __future__ import annotations

import math

import numpy as np
from flint import arb, arb_mat, ctx

from models import DeepNetwork, Network, TwoLayerNetwork

from ...domains import Domain
from ...evidence import PairWitness, PointWitness
from ...problem import Problem
from ..balls import (
    PRECISION,
    arb_matrix,
    jacobian_product,
    layer_values,
    lower_float,
    max_abs_lower,
    max_abs_upper,
    norm_lower,
    norm_upper,
)
from ..dispatch import Verdict, checker, unsupported
from ..neurons import active_neurons
from .deep_jacobian import deep_jacobian_product

_RELATIVE_SLACK = 1e-9
#: The networks both witnesses are checked for: every depth.
_NETWORKS = (TwoLayerNetwork, DeepNetwork)
#: For each norm, the (proven lower, proven upper) end of ‖·‖ on a box of balls.
_NORM_ENDS = {"2": (norm_lower, norm_upper), "inf": (max_abs_lower, max_abs_upper)}


@checker.register
def _(witness: PointWitness, problem: Problem) -> Verdict:
    if reason := unsupported(problem, networks=_NETWORKS, norms=("2", "inf"), domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    x = np.asarray(witness.point, dtype=np.float64)
    reason = _bad_point(x, net) or _outside(problem.domain, x)
    if reason is not None:
        return Verdict.failed(reason)
    free = np.ones(net.d, dtype=bool) if problem.domain is None else problem.domain.free_axes
    if not np.any(free):
        return Verdict.failed("the domain is a single point")
    direction = np.zeros(net.d)
    with np.errstate(all="ignore"):
        direction[free] = _direction(net.jacobian(x)[:, free], problem.norm)
    lower, upper = _NORM_ENDS[problem.norm]
    with ctx.workprec(PRECISION):
        product = deep_jacobian_product if isinstance(net, DeepNetwork) else jacobian_product
        image = product(net, arb_matrix(np.column_stack([x, direction])))
        if isinstance(image, str):
            return Verdict.failed(image)
        bound = lower(image.entries()) / upper(arb(v) for v in direction)
        return _verdict(lower_float(bound), witness.value)


@checker.register
def _(witness: PairWitness, problem: Problem) -> Verdict:
    if reason := unsupported(problem, networks=_NETWORKS, norms=("2", "inf"), domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    x = np.asarray(witness.x, dtype=np.float64)
    y = np.asarray(witness.y, dtype=np.float64)
    reason = (
        _bad_point(x, net)
        or _bad_point(y, net)
        or _outside(problem.domain, x)
        or _outside(problem.domain, y)
    )
    if reason is not None:
        return Verdict.failed(reason)
    if np.array_equal(x, y):
        return Verdict.failed("the two points of the pair coincide")
    lower, upper = _NORM_ENDS[problem.norm]
    with ctx.workprec(PRECISION):
        image = _difference(net, x, y)
        distance = upper(arb(p) - arb(q) for p, q in zip(x, y, strict=True))
        return _verdict(lower_float(lower(image.entries()) / distance), witness.value)


def _difference(net: Network, x: np.ndarray, y: np.ndarray) -> arb_mat:
    """f(x) − f(y) as balls (an m×1 matrix; the output bias cancels): both points forward through
    every hidden layer, then W_L·(h_x − h_y).  A two-layer net keeps only the neurons that can
    change f (`active_neurons`), for narrower balls.  Call it inside ``ctx.workprec``."""
    if net.depth == 2:
        active = active_neurons(net)
        weights, biases, last = [net.W[active]], [net.b[active]], net.A[:, active]
    else:
        weights, biases, last = net.weights[:-1], net.biases[:-1], net.weights[-1]
    hidden = arb_matrix(np.column_stack([x, y]))
    for W, b in zip(weights, biases, strict=True):
        hidden = layer_values(W, b, net.activation.value_ball, hidden)
    gaps = [hidden[i, 0] - hidden[i, 1] for i in range(hidden.nrows())]
    return arb_matrix(last) * arb_mat(len(gaps), 1, gaps)


def _direction(J: np.ndarray, norm: str) -> np.ndarray:
    """A v with ‖Jv‖ ≈ ‖J‖·‖v‖: the top right singular vector (ℓ2), or the signs of the row of
    largest ℓ1 norm (ℓ∞, where ‖J‖ is the largest row ℓ1 norm); any v gives a valid bound."""
    if not (np.all(np.isfinite(J)) and np.any(J != 0)):
        return np.ones(J.shape[1])
    if norm == "2":
        return np.linalg.svd(J, full_matrices=False)[2][0]
    return np.where(J[int(np.argmax(np.abs(J).sum(axis=1)))] < 0, -1.0, 1.0)


def _bad_point(point: np.ndarray, net: Network) -> str | None:
    """Why ``point`` cannot be a witness point of ``net`` (None when it can)."""
    if point.shape != (net.d,):
        return f"witness point has shape {point.shape}, expected ({net.d},)"
    if not np.all(np.isfinite(point)):
        return "witness point contains NaN or Inf"
    return None


def _outside(domain: Domain | None, point: np.ndarray) -> str | None:
    """Why ``point`` is not proven to lie in ``domain`` (None when it is, or there is none)."""
    if domain is None or domain.contains(point):
        return None
    return f"witness point is not in the domain ({domain.describe()})"


def _verdict(proven: float, claimed: float) -> Verdict:
    """The verified lower bound max(proven, 0), noting a claim it does not confirm."""
    if math.isnan(proven) or proven == -math.inf:
        return Verdict(0.0, True, "the witness proves nothing beyond Lip(f) ≥ 0")
    proven = max(proven, 0.0)
    if claimed > proven * (1.0 + _RELATIVE_SLACK) + math.ulp(proven):
        return Verdict(proven, True, f"claimed {claimed:.17g}, verified only {proven:.17g}")
    return Verdict(proven, True)
