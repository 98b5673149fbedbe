"""The factors of the layer-product bounds on a domain: the definition that both the methods
(`certify.upper.deep_spectral`, `certify.upper.linf_product`) and their checkers build on.

For x, y in D, f(x) − f(y) = W_L·D_{L−1}⋯D_1·W_1·(x − y) with diagonal |D_l| ≤ diag(γ_l), γ_l the
slope gains proven on D (`certify.verify.propagation.layer_gains`), and x − y zero off the free
axes of D.  Since D_l = Δ_l·diag(γ_l) with ‖Δ_l‖ ≤ 1 in every operator norm,

    Lip_D(f) ≤ ‖W_L‖₂ · ∏_{l<L} ‖diag(γ_l)·W_l‖₂                          (ℓ2),
    Lip_D(f) ≤ ‖|W_L|·diag(γ_{L−1})·|W_{L−1}| ⋯ diag(γ_1)·|W_1|‖_∞          (ℓ∞, entrywise |·|),

the first the domain form of Szegedy et al.'s layer product (ICLR 2014, §4.3), with W_1 restricted
to the free axes.  Neither is ever above its global form, as γ_l ≤ L_σ.

Two layers, ℓ∞: with floats μ_i, h_i such that [μ_i − h_i, μ_i + h_i] ⊇ [α_i, β_i], row j of
A·diag(q)·W is Σ_i A_ji·μ_i·w_i + Σ_i A_ji·(q_i − μ_i)·w_i, so

    Lip∞_D(f) ≤ max_j ‖Σ_i μ_i·A_ji·w_i‖₁ + Σ_i h_i·|A_ji|·‖w_i‖₁                (`centred_slopes`),

the closed form of `certify.upper.linf_product` with one centre and radius per neuron.  It is never
above the global one: [μ_i ± h_i] ⊆ [μ ± h] gives |μ_i − μ| + h_i ≤ h.
"""

from __future__ import annotations

import numpy as np

from ..problem import Problem
from .bilinear import slope_enclosure
from .propagation import centres_and_radii, layer_gains, slope_intervals

__all__ = ["centred_slopes", "free_weights", "scaled_layers"]


def free_weights(problem: Problem) -> tuple[np.ndarray, ...]:
    """The weight matrices, the first one on the free axes of the domain only."""
    weights = problem.net.weights
    if problem.domain is None:
        return weights
    return (weights[0][:, problem.domain.free_axes], *weights[1:])


def scaled_layers(problem: Problem) -> list[np.ndarray]:
    """The float matrices diag(γ_l)·W_l of the hidden layers, then W_L (each scaled entry rounded
    once)."""
    gains = layer_gains(problem.net, problem.domain)
    weights = free_weights(problem)
    with np.errstate(all="ignore"):
        scaled = [gain[:, None] * W for gain, W in zip(gains, weights[:-1], strict=True)]
    return [*scaled, weights[-1]]


def centred_slopes(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron floats (μ_i, h_i) with [μ_i − h_i, μ_i + h_i] ⊇ [α_i, β_i] on the domain (the
    global `slope_enclosure` for every neuron when there is none)."""
    net = problem.net
    if problem.domain is None:
        mu, h = slope_enclosure(net.activation)
        return np.full(net.k, mu), np.full(net.k, h)
    return centres_and_radii(*slope_intervals(net, problem.domain))
