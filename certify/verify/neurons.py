"""Which hidden neurons of a two-layer network matter (an exact test on the stored floats), and
the two slopes of a piecewise-linear activation."""

from __future__ import annotations

import numpy as np

from models import Activation, TwoLayerNetwork

__all__ = ["active_neurons", "side_slopes"]


def active_neurons(net: TwoLayerNetwork) -> np.ndarray:
    """Indices of neurons that can change Lip(f): w_i ≠ 0 and A[:, i] ≠ 0.

    Any other neuron adds a constant to f (w_i = 0) or nothing at all (A[:, i] = 0).
    """
    return np.flatnonzero(np.any(net.W != 0, axis=1) & np.any(net.A != 0, axis=0))


def side_slopes(activation: Activation) -> tuple[float, float]:
    """(σ'₋, σ'₊): the slopes of a piecewise-linear σ on u < 0 and on u > 0."""
    negative, positive = activation.derivative(np.array([-1.0, 1.0]))
    return float(negative), float(positive)
