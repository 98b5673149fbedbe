"""Folding batch normalisation into the affine layer before it, in float64.

Eval-mode batch normalisation (Ioffe and Szegedy, ICML 2015, Algorithm 2) maps each neuron's
pre-activation z to BN(z) = γ·(z − μ)/√(σ² + ε) + β, with μ and σ² its running mean and variance.
After z = W x + b this is again affine: with s = γ/√(σ² + ε) per neuron,

    BN(W x + b) = diag(s)·W x + s·(b − μ) + β,   so W' = diag(s)·W and b' = s·(b − μ) + β.

The fold is exact in real arithmetic; in float64 each entry of W' and b' is within a few ulps of
its exact value, and the folded net is the one that gets certified.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fold_batch_norm"]


def fold_batch_norm(
    weight: np.ndarray,
    bias: np.ndarray | None,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float,
    gamma: np.ndarray | None = None,
    beta: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(W', b') with W' x + b' = BN(W x + b) for every x, in float64.

    ``weight`` is k×d, the vectors have length k; a missing ``bias`` is 0, a missing ``gamma``
    (BatchNorm1d without affine parameters) is 1 and a missing ``beta`` is 0.
    """
    W = np.asarray(weight, dtype=np.float64)
    k = W.shape[0]
    mean = np.asarray(running_mean, dtype=np.float64)
    variance = np.asarray(running_var, dtype=np.float64)
    b = np.zeros(k) if bias is None else np.asarray(bias, dtype=np.float64)
    g = np.ones(k) if gamma is None else np.asarray(gamma, dtype=np.float64)
    shift = np.zeros(k) if beta is None else np.asarray(beta, dtype=np.float64)
    if not all(v.shape == (k,) for v in (mean, variance, b, g, shift)):
        raise ValueError(f"batch-norm vectors must have length {k}, the rows of the weight")
    if np.any(variance + eps <= 0):
        raise ValueError("batch normalisation needs running_var + eps > 0")
    scale = g / np.sqrt(variance + eps)
    return scale[:, None] * W, scale * (b - mean) + shift
