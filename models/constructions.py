"""Explicit interpolating ReLU networks: the baselines of the search for smooth interpolators.

- ``sphere``: f(x) = Σ_i 10·y_i·ReLU(x_i·x − 0.9), one neuron per point (k ≥ n), Bubeck, Li,
  Nagaraj (COLT 2021, §1.2): for points on the sphere with x_i·x_j < 0.9 (i ≠ j), f(x_j) = y_j,
  and f is O(1)-Lipschitz on the sphere (its global constant is larger).
- ``linear``: the minimum-norm linear fit w = X⁺y (n ≤ d, generic X has full row rank) written
  with one neuron as ReLU(w·x + B) − B, B = 1 + max_i |w·x_i|, which equals w·x wherever
  w·x ≥ −B, so on every data point; Lip = ‖w‖₂ (≤ √(2n) w.h.p., the same paper).

Unused neurons get zero weights.  Whether a construction fits the sampled points is not assumed:
callers test it on the float64 network (`models.train.fit_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import TwoLayerNetwork

__all__ = ["Construction", "best_construction", "linear_fit", "sphere_fit"]

#: The paper's threshold and height: 10·(1 − 0.9) = 1 on the point itself.
THRESHOLD, HEIGHT = 0.9, 10.0


@dataclass(frozen=True)
class Construction:
    """A constructed network and the name of its construction."""

    name: str
    network: TwoLayerNetwork


def _padded(W: np.ndarray, b: np.ndarray, a: np.ndarray, c: float, k: int) -> TwoLayerNetwork:
    """The net with the given first neurons and k − len(a) zero neurons."""
    used, d = W.shape
    W_full, b_full, A_full = np.zeros((k, d)), np.zeros(k), np.zeros((1, k))
    W_full[:used], b_full[:used], A_full[0, :used] = W, b, a
    return TwoLayerNetwork.create(W_full, A_full, b=b_full, c=np.array([c]), activation="relu")


def sphere_fit(X: np.ndarray, y: np.ndarray, k: int) -> Construction | None:
    """Σ 10·y_i·ReLU(x_i·x − 0.9) when k ≥ n, else None."""
    n = X.shape[0]
    if k < n:
        return None
    return Construction("sphere", _padded(X, np.full(n, -THRESHOLD), HEIGHT * y, 0.0, k))


def linear_fit(X: np.ndarray, y: np.ndarray, k: int) -> Construction | None:
    """The minimum-norm linear interpolant in one ReLU neuron when n ≤ d, else None."""
    n, d = X.shape
    if n > d or k < 1:
        return None
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    shift = 1.0 + float(np.max(np.abs(X @ w)))
    return Construction("linear", _padded(w[None, :], np.array([shift]), np.ones(1), -shift, k))


def best_construction(X: np.ndarray, y: np.ndarray, k: int) -> Construction | None:
    """Of the constructions that apply to (n, d, k), the one with the smallest ‖A‖₂·‖W‖₂."""
    found = [c for c in (linear_fit(X, y, k), sphere_fit(X, y, k)) if c is not None]
    return min(found, key=_product, default=None)


def _product(construction: Construction) -> float:
    net = construction.network
    return float(np.linalg.norm(net.A, 2) * np.linalg.norm(net.W, 2))
