"""J(x)·v of a deep MLP in ``arb`` ball arithmetic, for the point-witness checker.

J(x) = W_L·D_{L−1}·W_{L−1} ⋯ D_1·W_1 with D_l = diag(σ'(z_l)) is the derivative of f at x once f
is differentiable there.  Near x, call a unit varying unless it is provably constant: an input
varies; a neuron is constant when every non-zero weight into it comes from a constant unit, or
when σ is piecewise linear and z is proven inside a piece of slope 0 (ReLU with z < 0).  A
neuron matters when it varies and a path of non-zero weights joins it to the output.  Freezing
the constant neurons and deleting those joined to the output by no such path leaves a network
equal to f near x in which every neuron matters; so once every neuron that matters has its
pre-activation proven off the kinks of σ, f is differentiable at x and J(x) is the product above
with σ' set to 0 on the other neurons (each path through one of them contributes nothing).
"""

from __future__ import annotations

import numpy as np
from flint import arb, arb_mat

from models import DeepNetwork

from ..balls import arb_matrix

__all__ = ["deep_jacobian_product", "reaching_output"]


def reaching_output(net: DeepNetwork) -> list[np.ndarray]:
    """Per hidden layer, the mask of neurons joined to the output by a path of non-zero
    weights (exact tests on the float weights)."""
    reaching = [np.any(net.weights[-1] != 0, axis=0)]
    for W in reversed(net.weights[1:-1]):
        reaching.append((W != 0).T @ reaching[-1])
    return reaching[::-1]


def deep_jacobian_product(net: DeepNetwork, columns: arb_mat) -> arb_mat | str:
    """J(x)·v as balls (an m×1 matrix), for ``columns`` = [x | v] (d×2 balls), or the reason it
    is undefined.  Call it inside ``ctx.workprec(PRECISION)``."""
    activation = net.activation
    varying = np.ones(net.d, dtype=bool)
    layers = zip(net.weights[:-1], net.biases[:-1], reaching_output(net), strict=True)
    for depth, (W, b, reaching) in enumerate(layers, start=1):
        products = arb_matrix(W) * columns
        reached = (W != 0) @ varying
        entries = []
        for i in range(W.shape[0]):
            z = products[i, 0] + arb(b[i])
            slope = activation.derivative_ball(z)
            matters = reached[i] and reaching[i]
            if matters and any(not (z < kink or z > kink) for kink in activation.kinks):
                return f"pre-activation {i} of hidden layer {depth} may sit on a kink"
            reached[i] &= not (activation.piecewise_linear and slope.is_zero())
            entries += [activation.value_ball(z), slope * products[i, 1] if matters else arb(0)]
        columns, varying = arb_mat(W.shape[0], 2, entries), reached
    tangent = arb_mat(columns.nrows(), 1, [columns[i, 1] for i in range(columns.nrows())])
    return arb_matrix(net.weights[-1]) * tangent
