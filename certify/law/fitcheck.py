"""A proof that a float64 network fits its data: every sign, and the mean square loss ≤ ε.

The outputs are computed in float64 and enclosed with Higham's dot-product bound (*Accuracy and
Stability of Numerical Algorithms*, §3.1): with ẑ = fl(XWᵀ + b), |ẑ − z| ≤ r_z = γ_{d+1}·(|X||W|ᵀ
+ |b|).  The hidden values σ(z) lie in σ(ẑ ± r_z): for ReLU in max(ẑ, 0) ± r_z (1-Lipschitz,
computed exactly), otherwise in the activation's arb ball.  With ĥ and radius r_h,
|fl(Aĥ + c) − (Ah + c)| ≤ γ_{k+1}·(|A||ĥ| + |c|) + |A|·r_h.  Every bound computed in floating
point is inflated by ``SAFETY`` and ``TINY`` (`certify.verify.floating`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flint import arb, ctx

from models import TwoLayerNetwork

from ..verify.balls import PRECISION
from ..verify.floating import SAFETY, TINY, gamma, up

__all__ = ["FitCheck", "check_fit"]


@dataclass(frozen=True)
class FitCheck:
    """Proven: min_i y_i·f(x_i) ≥ ``margin``, mean (f(x_i) − y_i)² ≤ ``loss``."""

    margin: float
    loss: float

    def fits(self, epsilon: float) -> bool:
        return self.margin > 0 and self.loss <= epsilon


def _hidden(net: TwoLayerNetwork, z: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, ...]:
    """Midpoints and radii enclosing σ(z) for all z within ``radius`` of ``z``."""
    if net.activation.name == "relu":
        return np.maximum(z, 0.0), radius
    with ctx.workprec(PRECISION):
        balls = [
            net.activation.value_ball(arb(m, r))
            for m, r in zip(z.ravel().tolist(), radius.ravel().tolist(), strict=True)
        ]
        middle = np.array([float(b.mid()) for b in balls]).reshape(z.shape)
        spread = np.array([float(b.rad()) for b in balls]).reshape(z.shape)
    # float(mid) is the midpoint rounded to nearest: off by at most 2⁻⁵²·|float(mid)|.
    return middle, SAFETY * (spread + 2.0**-52 * np.abs(middle)) + TINY


def _outputs(net: TwoLayerNetwork, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float outputs f̂ (n×m) and proven radii with |f̂ − f| ≤ radius."""
    z = X @ net.W.T + net.b
    r_z = SAFETY * gamma(net.d + 1) * (np.abs(X) @ np.abs(net.W).T + np.abs(net.b)) + TINY
    h, r_h = _hidden(net, z, r_z)
    out = h @ net.A.T + net.c
    radius = gamma(net.k + 1) * (np.abs(h) @ np.abs(net.A).T + np.abs(net.c))
    return out, SAFETY * (radius + SAFETY * (r_h @ np.abs(net.A).T)) + TINY


def check_fit(net: TwoLayerNetwork, X: np.ndarray, y: np.ndarray) -> FitCheck:
    """Proven margin and loss of ``net`` on n points X and labels y ∈ {−1, +1}ⁿ (one output)."""
    out, radius = _outputs(net, np.asarray(X, dtype=np.float64))
    f, r = out[:, 0], radius[:, 0]
    margin = float(np.min(np.nextafter(y * f - r, -np.inf)))
    worst = np.abs(f - y) + r
    loss = up(float(np.sum(worst * worst)) * SAFETY / len(y))
    return FitCheck(margin, loss)
