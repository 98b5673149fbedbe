"""The ℓ∞ Lipschitz constant of a two-layer net bounded by a bilinear maximum over signs.

For one output f_j = a·σ(Wx + b) + c_j (a = A[j]) and x, y ∈ R^d, the sector condition gives
secant slopes s_i ∈ [α, β] with f_j(x) − f_j(y) = Σ_i a_i s_i w_i·(x − y), so
|f_j(x) − f_j(y)| ≤ max_{s ∈ [α,β]^k} ‖Wᵀ(a∘s)‖₁·‖x − y‖∞ (every slope pattern counts, realised
or not).  With floats μ, h ≥ 0 such that [μ − h, μ + h] ⊇ [α, β] (`slope_enclosure`), write
s_i = μ + h·e_i, e ∈ [−1, 1]^k; the objective is linear in each e_i and ‖v‖₁ = max_{u ∈ {±1}^d} v·u,
so that maximum is at most

    ‖M‖_{∞→1} = max_{y ∈ {±1}^{1+k}, u ∈ {±1}^d} yᵀMu,   M = [μ·aᵀW ; h·diag(a)·W]

(y₀ = −1 is covered by the symmetry (y, u) ↦ (−y, −u)).  This is the two-layer case of the ℓ∞
formulation of GeoLIP (Wang, Prakriya & Jha, "A quantitative geometric approach to neural-network
smoothness", NeurIPS 2022, arXiv:2203.01212), derived here from the sector condition.  Rows and
columns of M that vanish exactly — neuron rows with a_i = 0, w_i = 0 or h = 0, the centre row when
μ = 0, columns l with a_i·W_il = 0 for all i — do not change yᵀMu and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from models import TwoLayerNetwork
from models.activations import Activation

__all__ = ["BilinearForm", "slope_enclosure"]


def slope_enclosure(activation: Activation) -> tuple[float, float]:
    """Floats (μ, h), h ≥ 0, with [μ − h, μ + h] ⊇ [α, β], proven in exact rational arithmetic."""
    alpha, beta = activation.slope_lower, activation.slope_upper
    mu = 0.5 * (alpha + beta)
    h = max(beta - mu, mu - alpha, 0.0)
    low, high = Fraction(alpha), Fraction(beta)
    while Fraction(mu) - Fraction(h) > low or Fraction(mu) + Fraction(h) < high:
        h = float(np.nextafter(h, np.inf))
    return mu, h


@dataclass(frozen=True)
class BilinearForm:
    """The rows and columns of M kept for output ``j``: the centre row when ``center``, the rows
    of the hidden ``neurons`` and the input ``columns``; ``mu``, ``h`` from `slope_enclosure`."""

    a: np.ndarray
    W: np.ndarray
    mu: float
    h: float
    center: bool
    neurons: np.ndarray
    columns: np.ndarray

    @classmethod
    def of(cls, net: TwoLayerNetwork, j: int) -> BilinearForm:
        a, W = net.A[j], net.W
        mu, h = slope_enclosure(net.activation)
        reaches = (a != 0)[:, None] & (W != 0)
        columns = np.flatnonzero(np.any(reaches, axis=0))
        neurons = np.flatnonzero(np.any(reaches, axis=1)) if h != 0.0 else np.zeros(0, int)
        center = mu != 0.0 and columns.size > 0
        return cls(a, W, mu, h, center, neurons, columns)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the kept part of M."""
        return int(self.center) + self.neurons.size, self.columns.size

    def rows(self, full: np.ndarray) -> np.ndarray:
        """The entries of a vector indexed like the rows of M (centre first, then all k neurons)
        that belong to the kept rows."""
        return np.concatenate([full[:1] if self.center else full[:0], full[1 + self.neurons]])

    def matrix(self, magnitude: bool = False) -> np.ndarray:
        """The kept part of M in floating point, or with ``magnitude`` the entrywise bound
        |μ|·(|a|ᵀ|W|) (centre row), h·|a_i|·|W_il| (neuron rows) on |M| that rounding bounds use."""
        a, W = self.a, self.W[:, self.columns]
        mu = self.mu
        if magnitude:
            a, W, mu = np.abs(a), np.abs(W), abs(mu)
        center = mu * (a @ W)[None, :] if self.center else np.zeros((0, W.shape[1]))
        return np.vstack([center, (self.h * a[self.neurons])[:, None] * W[self.neurons]])
