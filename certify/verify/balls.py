"""Rigorous helpers on python-flint ``arb`` balls (Johansson, "Arb: efficient arbitrary-precision
midpoint-radius interval arithmetic", IEEE Trans. Computers 66, 2017).

A float64 is a dyadic rational with a 53-bit mantissa, so it converts to an exact ball at any
precision ≥ 53 bits; every later operation returns a ball that encloses the exact result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
from flint import arb, arb_mat

from models import TwoLayerNetwork

from .neurons import active_neurons

__all__ = [
    "PRECISION",
    "arb_matrix",
    "jacobian_product",
    "layer_values",
    "lower_float",
    "max_abs_lower",
    "max_abs_upper",
    "norm_lower",
    "norm_upper",
    "upper_float",
]

#: Working precision (bits) of the witness checks: balls stay ~2⁻¹²⁸ wide relative to the data.
PRECISION = 128


def arb_matrix(X: np.ndarray) -> arb_mat:
    """The float matrix X (or a vector, as one column) as an exact ball matrix."""
    X = np.asarray(X, dtype=np.float64)
    rows, cols = (X.shape[0], 1) if X.ndim == 1 else X.shape
    return arb_mat(rows, cols, X.ravel().tolist())


def norm_lower(entries: Iterable[arb]) -> arb:
    """A ball whose lower end is ≤ ‖u‖₂ for every vector u in the box ``entries``."""
    return sum((e.abs_lower() ** 2 for e in entries), arb(0)).sqrt()


def norm_upper(entries: Iterable[arb]) -> arb:
    """A ball whose upper end is ≥ ‖u‖₂ for every vector u in the box ``entries``."""
    return sum((e.abs_upper() ** 2 for e in entries), arb(0)).sqrt()


def max_abs_lower(entries: Iterable[arb]) -> arb:
    """A ball whose lower end is ≤ ‖u‖∞ for every vector u in the box ``entries``: the largest of
    the exact lower ends of the |u_i|."""
    return max((e.abs_lower() for e in entries), default=arb(0))


def max_abs_upper(entries: Iterable[arb]) -> arb:
    """A ball whose upper end is ≥ ‖u‖∞ for every vector u in the box ``entries``: the largest of
    the exact upper ends of the |u_i| (+inf when one is not finite)."""
    ends = [e.abs_upper() for e in entries]
    return max(ends, default=arb(0)) if all(e.is_finite() for e in ends) else arb(math.inf)


def lower_float(value: arb) -> float:
    """A float ≤ every point of the ball (−inf when the ball is unbounded below or NaN)."""
    end = value.lower()
    if not end.is_finite():
        return -math.inf
    result = float(end)
    if result == math.inf:
        return float(np.finfo(np.float64).max)
    while result > -math.inf and arb(result) > end:
        result = math.nextafter(result, -math.inf)
    return result


def upper_float(value: arb) -> float:
    """A float ≥ every point of the ball (+inf when the ball is unbounded above or NaN)."""
    return -lower_float(-value)


def layer_values(
    W: np.ndarray, b: np.ndarray, value: Callable[[arb], arb], columns: arb_mat
) -> arb_mat:
    """σ(W·X + b) as balls, for the ball matrix X = ``columns`` (one input per column) and σ's
    ball extension ``value``.  Call it inside ``ctx.workprec(PRECISION)``."""
    products = arb_matrix(W) * columns
    rows, cols = products.nrows(), products.ncols()
    entries = [value(products[i, j] + arb(b[i])) for i in range(rows) for j in range(cols)]
    return arb_mat(rows, cols, entries)


def jacobian_product(net: TwoLayerNetwork, columns: arb_mat) -> arb_mat | str:
    """J(x)·v as balls, for ``columns`` = [x | v] (d×2 balls), or the reason it is undefined.

    J(x) = A·diag(σ'(Wx + b))·W exists once every neuron that can change f (w_i ≠ 0 and
    A[:, i] ≠ 0) has its pre-activation proven off the kinks of σ; the others add a constant
    or nothing.  Call it inside ``ctx.workprec(PRECISION)``.
    """
    active = active_neurons(net)
    products = arb_matrix(net.W[active]) * columns
    slopes = []
    for row, neuron in enumerate(active):
        z = products[row, 0] + arb(net.b[neuron])
        if any(not (z < kink or z > kink) for kink in net.activation.kinks):
            return f"pre-activation {neuron} may sit on a kink"
        slopes.append(net.activation.derivative_ball(z) * products[row, 1])
    return arb_matrix(net.A[:, active]) * arb_mat(len(slopes), 1, slopes)
