"""Which hidden neurons of a two-layer network matter: an exact test on the stored floats."""

from __future__ import annotations

import numpy as np

from models import TwoLayerNetwork

__all__ = ["active_neurons"]


def active_neurons(net: TwoLayerNetwork) -> np.ndarray:
    """Indices of neurons that can change Lip(f): w_i ≠ 0 and A[:, i] ≠ 0.

    Any other neuron adds a constant to f (w_i = 0) or nothing at all (A[:, i] = 0).
    """
    return np.flatnonzero(np.any(net.W != 0, axis=1) & np.any(net.A != 0, axis=0))
