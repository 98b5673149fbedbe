"""Hypothesis strategies for small random networks, degenerate ones included."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from models import TwoLayerNetwork

PIECEWISE_LINEAR = ("relu", "leaky_relu(0.1)", "leaky_relu(-0.5)")
SMOOTH = ("tanh", "sigmoid", "softplus", "elu", "gelu", "elu(0.5)")


@st.composite
def networks(draw: st.DrawFn, activations: tuple[str, ...] = PIECEWISE_LINEAR) -> TwoLayerNetwork:
    """A random net with d ≤ 4, k ≤ 7, m ≤ 3, weights scaled from 1e-6 to 1e6, and optionally
    zero rows of W, zero columns of A, duplicated or mirrored neurons."""
    d = draw(st.integers(1, 4))
    k = draw(st.integers(1, 7))
    m = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale_W, scale_A = (10.0 ** draw(st.integers(-6, 6)) for _ in range(2))
    W = rng.standard_normal((k, d)) * scale_W
    b = rng.standard_normal(k) * scale_W * draw(st.sampled_from([0.0, 1.0]))
    A = rng.standard_normal((m, k)) * scale_A
    if draw(st.booleans()):
        W, b, A = np.round(W / scale_W) * scale_W, np.round(b / scale_W) * scale_W, np.round(A)
    if k > 1 and draw(st.booleans()):
        i, j = rng.choice(k, size=2, replace=False)
        sign = draw(st.sampled_from([1.0, -1.0]))
        W[j], b[j] = sign * W[i], sign * b[i]
    if draw(st.booleans()):
        W[rng.integers(k)] = 0.0
    if draw(st.booleans()):
        A[:, rng.integers(k)] = 0.0
    activation = draw(st.sampled_from(activations))
    return TwoLayerNetwork.create(W, A, b=b, c=rng.standard_normal(m), activation=activation)
