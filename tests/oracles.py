"""Brute-force oracles for the Lipschitz constant of small piecewise-linear networks.

f is affine on each activation region (the set of x with a given sign pattern of every
pre-activation), with Jacobian J; the regions with interior are dense, so Lip(f) on an open set
(or on a box, the closure of its interior) is the largest ‖J‖ over the regions that meet it.
Each region is found by a Chebyshev-centre LP; regions whose radius is clearly positive give the
lower end, those not clearly empty the upper end.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import linprog

from certify.domains import Ball, Box, Domain
from models import Network

__all__ = ["REALISED", "domain_oracle", "pattern_oracle"]

#: Chebyshev radius above which a region counts as realised (and below minus which as empty).
REALISED = 1e-7


def _operator_norm(J: np.ndarray, norm: str) -> float:
    return float(np.linalg.norm(J, 2) if norm == "2" else np.abs(J).sum(axis=1).max())


def pattern_oracle(net: Network, norm: str = "2", box: Box | None = None) -> tuple[float, float]:
    """[max ‖J‖ over the activation patterns whose region (inside ``box``, if given) has a
    Chebyshev radius > REALISED, max over those not proven empty (radius > −REALISED)], in the
    ℓ2 operator norm or (``norm="inf"``) the ℓ∞ one, the largest row ℓ1 norm.

    Depth-first over the layers: inside the region of a pattern prefix the next pre-activations
    are affine in x, so each pattern's region is an LP; a neuron whose pre-activation is constant
    on the region gets no constraint (its slope multiplies a zero row of the Jacobian)."""
    slope_low = net.activation.slope_lower
    bounds = [0.0, 0.0]
    rows, offsets, signs = [], [], []
    if box is not None:
        for axis in range(net.d):  # lower < x_axis < upper
            unit = np.eye(net.d)[axis]
            rows += [unit, unit]
            offsets += [-box.lower[axis], -box.upper[axis]]
            signs += [1.0, -1.0]

    def visit(layer: int, P: np.ndarray, q: np.ndarray, rows, offsets, signs) -> None:
        if layer == net.depth - 1:
            value = _operator_norm(net.weights[-1] @ P, norm)
            radius = _radius(rows, offsets, signs)
            for end, realised in enumerate((radius > REALISED, radius > -REALISED)):
                if realised:
                    bounds[end] = max(bounds[end], value)
            return
        Z, c = net.weights[layer] @ P, net.weights[layer] @ q + net.biases[layer]
        varying = np.any(Z != 0, axis=1)
        for pattern in itertools.product((1.0, -1.0), repeat=int(np.sum(varying))):
            s = np.where(c > 0, 1.0, -1.0)
            s[varying] = pattern
            new = (rows + list(Z[varying]), offsets + list(c[varying]), signs + list(pattern))
            if _radius(*new) <= -REALISED:
                continue
            slopes = np.where(s > 0, 1.0, slope_low)
            visit(layer + 1, slopes[:, None] * Z, slopes * c, *new)

    visit(0, np.eye(net.d), np.zeros(net.d), rows, offsets, signs)
    return bounds[0], bounds[1]


def domain_oracle(net: Network, norm: str, domain: Domain | None) -> tuple[float, float]:
    """[lower, upper] ∋ Lip_D(f): exact patterns on R^d or a box; a ball B(c, r) lies between its
    inscribed box c ± r/√d and its circumscribed one c ± r."""
    if domain is None or isinstance(domain, Box):
        return pattern_oracle(net, norm, domain)
    assert isinstance(domain, Ball)
    if domain.norm == "inf":
        return pattern_oracle(net, norm, domain.bounding_box())
    half = domain.radius / math.sqrt(net.d) * (1 - 1e-9)
    inner = Box(domain.center - half, domain.center + half)
    outer = Box(domain.center - domain.radius, domain.center + domain.radius)
    return pattern_oracle(net, norm, inner)[0], pattern_oracle(net, norm, outer)[1]


def _radius(rows, offsets, signs) -> float:
    """The Chebyshev radius (capped at 1) of {x : s_i(r_i·x + c_i) > 0}, rows normalised first
    (HiGHS misjudges rows of norm 10⁻⁹)."""
    if not rows:
        return 1.0
    norms = np.linalg.norm(rows, axis=1)
    s = np.array(signs)
    G = np.hstack([-s[:, None] * np.array(rows) / norms[:, None], np.ones((len(rows), 1))])
    cost = np.zeros(G.shape[1])
    cost[-1] = -1.0
    bounds = [(None, None)] * (G.shape[1] - 1) + [(None, 1.0)]
    result = linprog(
        cost, A_ub=G, b_ub=s * np.array(offsets) / norms, bounds=bounds, method="highs"
    )
    assert result.status == 0, result.message
    return float(result.x[-1])
