"""Proven pre-activation bounds and per-neuron slope intervals of a net on a domain.

Interval bound propagation (Gowal et al., "On the effectiveness of interval bound propagation
for training verifiably robust models", 2018) through the first layer: for x in D,
z_i = w_i·x + b_i lies in

    box [lo, hi]:        [w_i·s_i + b_i, w_i·t_i + b_i],  (s_ij, t_ij) = (lo_j, hi_j) if w_ij ≥ 0
                                                          and (hi_j, lo_j) otherwise,
    ball ‖x − c‖_p ≤ r:  w_i·c + b_i ± r‖w_i‖_q  (Hölder; q = 2 for p = 2, q = 1 for p = ∞),

the ℓ2 ball's interval being narrower than its bounding box's by up to √d.  Each dot product is
computed in float64 and widened by its proven error γ_{d+1}·(|w_i|·|x| + |b_i|) plus underflow
(Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1), every later operation rounded
outward by one ulp.  A deeper layer's inputs σ(z) lie in the box of σ's ball extension on each
interval of the layer before (arb encloses σ over the whole interval), which the box rule then
carries through the next affine map.  `slope_intervals` turns the bounds into slopes
[α_i, β_i] ⊆ [α, β] valid on D (`Activation.slope_range`): a neuron that never switches on D gets
a constant slope; `layer_gains` gives γ_i = max(|α_i|, |β_i|) for every hidden layer.
"""

from __future__ import annotations

import numpy as np
from flint import arb, ctx

from models import Network, TwoLayerNetwork

from ..domains import Ball, Box, Domain
from .balls import PRECISION, lower_float, upper_float
from .floating import TINY, downward, frobenius_upper, gamma, upward

__all__ = [
    "affine_enclosure",
    "centres_and_radii",
    "layer_gains",
    "layer_slope_intervals",
    "preactivation_bounds",
    "slope_intervals",
]

Bounds = tuple[np.ndarray, np.ndarray]


def affine_enclosure(W: np.ndarray, X: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fl(w_i·x_i + b_i) for the rows x_i of X (or one x for all), and a proven bound on its
    error: γ_{d+1}·(|w_i|·|x_i| + |b_i|) + (d + 1)·2⁻¹⁰⁰⁰ (underflow)."""
    terms = W * X
    magnitude = np.sum(np.abs(terms), axis=1) + np.abs(b)
    error = upward(gamma(W.shape[1] + 1) * magnitude + (W.shape[1] + 1) * TINY)
    return np.sum(terms, axis=1) + b, error


def _row_norms_upper(W: np.ndarray, dual: str) -> np.ndarray:
    """Proven upper bounds on ‖w_i‖₂ (dual "2") or ‖w_i‖₁ (dual "1") for the rows of W."""
    if dual == "2":
        return np.array([frobenius_upper(row) for row in W])
    return upward(np.sum(np.abs(W), axis=1) * (1.0 + gamma(W.shape[1])))


def _box_bounds(W: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> Bounds:
    positive = W >= 0.0
    low, low_error = affine_enclosure(W, np.where(positive, lower, upper), b)
    high, high_error = affine_enclosure(W, np.where(positive, upper, lower), b)
    return downward(low - low_error), upward(high + high_error)


def _ball_bounds(W: np.ndarray, b: np.ndarray, ball: Ball) -> Bounds:
    centre, error = affine_enclosure(W, ball.center, b)
    reach = upward(ball.radius * _row_norms_upper(W, "2" if ball.norm == "2" else "1"))
    spread = upward(error + reach)
    return downward(centre - spread), upward(centre + spread)


def _finite_or_infinite(lower: np.ndarray, upper: np.ndarray) -> Bounds:
    """NaN ends (0·inf on overflow) widened to ±inf."""
    return np.where(np.isnan(lower), -np.inf, lower), np.where(np.isnan(upper), np.inf, upper)


def preactivation_bounds(net: Network, domain: Domain) -> Bounds:
    """Proven l, u with l_i ≤ w_i·x + b_i ≤ u_i for every x in ``domain`` and every neuron of the
    first layer (±inf on overflow)."""
    W, b = net.weights[0], net.biases[0]
    with np.errstate(all="ignore"):
        if isinstance(domain, Box):
            lower, upper = _box_bounds(W, b, domain.lower, domain.upper)
        else:
            lower, upper = _ball_bounds(W, b, domain)
    return _finite_or_infinite(lower, upper)


def _value_box(net: Network, bounds: Bounds) -> Bounds:
    """Floats enclosing σ(z) for every z_i in [l_i, u_i] (σ's ball extension on the interval)."""
    lows, highs = [], []
    with ctx.workprec(PRECISION):
        for low, high in zip(*bounds, strict=True):
            if not (np.isfinite(low) and np.isfinite(high)):
                lows.append(-np.inf)
                highs.append(np.inf)
                continue
            value = net.activation.value_ball(arb(float(low)).union(arb(float(high))))
            lows.append(lower_float(value))
            highs.append(upper_float(value))
    return np.array(lows), np.array(highs)


def layer_preactivation_bounds(net: Network, domain: Domain) -> list[Bounds]:
    """Proven bounds on the pre-activations of every hidden layer for x in ``domain``."""
    layers = [preactivation_bounds(net, domain)]
    for W, b in zip(net.weights[1:-1], net.biases[1:-1], strict=True):
        lower, upper = _value_box(net, layers[-1])
        with np.errstate(all="ignore"):
            layers.append(_finite_or_infinite(*_box_bounds(W, b, lower, upper)))
    return layers


def slope_intervals(net: TwoLayerNetwork, domain: Domain | None) -> Bounds:
    """Per-neuron [α_i, β_i] ∋ (σ(z_i(x)) − σ(z_i(y)))/(z_i(x) − z_i(y)) for all x, y in
    ``domain`` with z_i(x) ≠ z_i(y), z_i = w_i·x + b_i; the global sector when ``domain`` is None.

    So f(x) − f(y) = A·diag(q)·W·(x − y) with α ≤ q ≤ β entrywise (q_i free where z_i(x) = z_i(y)).
    """
    return layer_slope_intervals(net, domain)[0]


def layer_slope_intervals(net: Network, domain: Domain | None) -> list[Bounds]:
    """`slope_intervals` for every hidden layer: per neuron [α_i, β_i] holding every secant slope
    of σ between two pre-activations of x, y in ``domain`` (the global sector when None)."""
    activation = net.activation
    if domain is None:
        return [
            (np.full(width, activation.slope_lower), np.full(width, activation.slope_upper))
            for width in net.widths
        ]
    return [activation.slope_range(*bounds) for bounds in layer_preactivation_bounds(net, domain)]


def layer_gains(net: Network, domain: Domain | None) -> list[np.ndarray]:
    """γ_i = max(|α_i|, |β_i|) for every neuron of every hidden layer: f(x) − f(y) =
    W_L·D_{L−1}⋯D_1·W_1·(x − y) for x, y in ``domain`` with diagonal |D_l| ≤ diag(γ)."""
    return [
        np.maximum(np.abs(low), np.abs(high)) for low, high in layer_slope_intervals(net, domain)
    ]


def centres_and_radii(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats μ_i = α_i/2 + β_i/2 and h_i ≥ max(β_i − μ_i, μ_i − α_i) (rounded up, 0 where
    exact), so that [μ_i − h_i, μ_i + h_i] ⊇ [α_i, β_i]."""
    with np.errstate(all="ignore"):
        middle = alpha / 2 + beta / 2
        radius = np.maximum(beta - middle, middle - alpha)
        return middle, np.where(radius > 0.0, upward(radius), 0.0)
