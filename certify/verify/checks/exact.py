"""Checker for the exact method: a complete search tree, exact emptiness proofs, proven norms.

The leaves must form a complete prefix code over the active neurons: no leaf is a prefix of
another and Σ 2^(n − len) = 2^n (Kraft's equality), so every full sign vector extends exactly
one leaf.  Then Lip(f) = max ‖J_s‖₂ over non-empty regions is at most the largest `SubtreeBound`
over the leaves not proven empty: for a "bounded" leaf with the scaling it carries (any positive
scaling gives a valid bound), for a "pattern" leaf with the scaling (1) of its complete signs.
"""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import pairwise

import numpy as np

from models import TwoLayerNetwork

from ...certificates import ExactCertificate, Leaf
from ...problem import Problem
from ..dispatch import Verdict, checker, unsupported
from ..farkas import ExactLayer
from ..neurons import active_neurons, side_slopes
from ..subtree import ProvenSubtreeBound

__all__ = ["gradient_norm_lower"]


def _cover_problem(certificate: ExactCertificate, net: TwoLayerNetwork) -> str | None:
    """Why the leaves are not a complete prefix code over the active neurons, if they are not."""
    order, leaves = certificate.order, certificate.leaves
    if sorted(order) != active_neurons(net).tolist():
        return "the order is not a permutation of the active neurons"
    n = len(order)
    if any(len(leaf.signs) > n or any(s not in (1, -1) for s in leaf.signs) for leaf in leaves):
        return "a leaf is not a sign prefix"
    if sum(1 << (n - len(leaf.signs)) for leaf in leaves) != 1 << n:
        return "the leaves do not cover every sign vector exactly once (Kraft sum)"
    words = sorted(tuple(int(s) for s in leaf.signs) for leaf in leaves)
    # In lexicographic order a prefix of any later word is a prefix of the next word.
    if any(after[: len(before)] == before for before, after in pairwise(words)):
        return "a leaf is a prefix of another"
    return None


def _leaf_value(
    leaf: Leaf, certificate: ExactCertificate, layer: ExactLayer, bound: ProvenSubtreeBound
) -> float | None:
    """The proven bound a leaf contributes (0 for a proven-empty region), None if it fails."""
    signs = tuple(int(s) for s in leaf.signs)
    if leaf.kind == "empty":
        prefix = dict(zip(certificate.order[: len(signs)], signs, strict=True))
        return 0.0 if leaf.proof is not None and layer.proves_empty(prefix, leaf.proof) else None
    free = len(certificate.order) - len(signs)
    if leaf.kind == "pattern" and free == 0:
        return bound(signs, np.ones(1))
    if leaf.kind == "bounded":
        scaling = _scaling(leaf.scaling, free)
        return None if scaling is None else bound(signs, scaling)
    return None


def _scaling(values: object, free: int) -> np.ndarray | None:
    """The scaling of a "bounded" leaf: 1 + ``free`` finite positive floats (None otherwise)."""
    try:
        scaling = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if scaling.shape != (free + 1,) or not np.all(np.isfinite(scaling) & (scaling > 0.0)):
        return None
    return scaling


@checker.register
def _(certificate: ExactCertificate, problem: Problem) -> Verdict:
    net = problem.net
    if reason := unsupported(problem, domain_aware=True) or _cover_problem(certificate, net):
        return Verdict.failed(reason)
    layer = ExactLayer(net.W, net.b)
    bound = ProvenSubtreeBound(net, certificate.order)
    value = 0.0
    for leaf in certificate.leaves:
        contribution = _leaf_value(leaf, certificate, layer, bound)
        if contribution is None:
            return Verdict.failed(f"leaf {leaf.signs} ({leaf.kind}) does not check")
        value = max(value, contribution)
    return Verdict(value, True)


def gradient_norm_lower(net: TwoLayerNetwork, point: np.ndarray) -> float:
    """A proven lower bound on Lip(f) from a point of a region of a piecewise-linear net.

    When no active pre-activation vanishes at x (exact signs, `ExactLayer`), f is differentiable
    at x with Jacobian J = A·diag(σ'(s))·W, computed here in exact rationals, and
    Lip(f) ≥ ‖J‖₂ ≥ ‖J v‖₂ / ‖v‖₂ for v the computed top right singular vector.  Returns 0 when
    differentiability is not proven.
    """
    layer = ExactLayer(net.W, net.b)
    negative, positive = side_slopes(net.activation)
    slopes = {}
    for i in active_neurons(net).tolist():
        sign = layer.sign(i, np.asarray(point, dtype=np.float64))
        if sign == 0 and negative != positive:
            return 0.0
        slopes[i] = Fraction(positive if sign >= 0 else negative)
    jacobian = [
        [
            sum(
                (Fraction(net.A[r, i]) * t * Fraction(net.W[i, c]) for i, t in slopes.items()),
                Fraction(0),
            )
            for c in range(net.d)
        ]
        for r in range(net.m)
    ]
    direction = np.linalg.svd(np.array(jacobian, dtype=np.float64))[2][0]
    v = [Fraction(float(x)) for x in direction]
    image = [sum((j * x for j, x in zip(row, v, strict=True)), Fraction(0)) for row in jacobian]
    ratio = sum(y * y for y in image) / sum(x * x for x in v)
    return _sqrt_lower(ratio)


def _sqrt_lower(ratio: Fraction) -> float:
    """A double s ≥ 0 with s² ≤ ratio, within two ulps of √ratio (ratio a rational ≥ 0)."""
    root = math.sqrt(float(ratio))
    while root > 0.0 and Fraction(root) ** 2 > ratio:
        root = math.nextafter(root, 0.0)
    return root
