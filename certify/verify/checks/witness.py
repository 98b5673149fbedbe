"""Checkers for lower-bound witnesses, in ``arb`` ball arithmetic.

Point: if f is differentiable at x then Lip(f) ≥ ‖J(x)‖₂ ≥ ‖J(x)v‖₂/‖v‖₂ for any v ≠ 0, with
J(x) = A·diag(σ'(Wx + b))·W.  f is differentiable at x once every neuron that can change f
(w_i ≠ 0 and A[:, i] ≠ 0) has a pre-activation proven off the kinks of σ; the others add a
constant or nothing.  Pair: Lip(f) ≥ ‖f(x) − f(y)‖₂/‖x − y‖₂ for x ≠ y (c cancels).
Every quantity is a ball enclosing the exact value; the verdict is the lower end of the last.
"""

from __future__ import annotations

import math

import numpy as np
from flint import arb, arb_mat, ctx

from models import TwoLayerNetwork

from ...evidence import PairWitness, PointWitness
from ...regions import active_neurons
from ..balls import (
    PRECISION,
    arb_matrix,
    jacobian_product,
    lower_float,
    norm_lower,
    norm_upper,
)
from ..dispatch import Verdict, checker
from ..norms import top_direction

_RELATIVE_SLACK = 1e-9


@checker.register
def _(witness: PointWitness, net: TwoLayerNetwork) -> Verdict:
    x = np.asarray(witness.point, dtype=np.float64)
    reason = _bad_point(x, net)
    if reason is not None:
        return Verdict.failed(reason)
    with np.errstate(all="ignore"):
        direction = top_direction(net.jacobian(x))
    with ctx.workprec(PRECISION):
        image = jacobian_product(net, arb_matrix(np.column_stack([x, direction])))
        if isinstance(image, str):
            return Verdict.failed(image)
        bound = norm_lower(image.entries()) / norm_upper(arb(v) for v in direction)
        return _verdict(lower_float(bound), witness.value)


@checker.register
def _(witness: PairWitness, net: TwoLayerNetwork) -> Verdict:
    x = np.asarray(witness.x, dtype=np.float64)
    y = np.asarray(witness.y, dtype=np.float64)
    reason = _bad_point(x, net) or _bad_point(y, net)
    if reason is not None:
        return Verdict.failed(reason)
    if np.array_equal(x, y):
        return Verdict.failed("the two points of the pair coincide")
    active = active_neurons(net)
    value = net.activation.value_ball
    with ctx.workprec(PRECISION):
        products = arb_matrix(net.W[active]) * arb_matrix(np.column_stack([x, y]))
        gaps = []
        for row, neuron in enumerate(active):
            bias = arb(net.b[neuron])
            gaps.append(value(products[row, 0] + bias) - value(products[row, 1] + bias))
        image = arb_matrix(net.A[:, active]) * arb_mat(len(gaps), 1, gaps)
        distance = norm_upper(arb(p) - arb(q) for p, q in zip(x, y, strict=True))
        return _verdict(lower_float(norm_lower(image.entries()) / distance), witness.value)


def _bad_point(point: np.ndarray, net: TwoLayerNetwork) -> str | None:
    """Why ``point`` cannot be a witness point of ``net`` (None when it can)."""
    if point.shape != (net.d,):
        return f"witness point has shape {point.shape}, expected ({net.d},)"
    if not np.all(np.isfinite(point)):
        return "witness point contains NaN or Inf"
    return None


def _verdict(proven: float, claimed: float) -> Verdict:
    """The verified lower bound max(proven, 0), noting a claim it does not confirm."""
    if math.isnan(proven) or proven == -math.inf:
        return Verdict(0.0, True, "the witness proves nothing beyond Lip(f) ≥ 0")
    proven = max(proven, 0.0)
    if claimed > proven * (1.0 + _RELATIVE_SLACK) + math.ulp(proven):
        return Verdict(proven, True, f"claimed {claimed:.17g}, verified only {proven:.17g}")
    return Verdict(proven, True)
