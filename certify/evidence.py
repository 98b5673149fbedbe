"""What bound methods claim: certificates for upper bounds, witnesses for lower bounds.

A method never decides whether its own claim holds; `certify.verify` re-checks every piece of
evidence with proven floating-point error bounds and is the only place that turns a claim
into a verified number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Certificate", "Evidence", "PairWitness", "PointWitness", "Witness"]


@dataclass(frozen=True)
class Certificate:
    """Evidence for an upper bound: ``value`` is the claimed bound Lip(f) ≤ value.

    Each upper-bound method subclasses it with what its checker needs, and registers the
    checker with `certify.verify.verify_certificate`.
    """

    value: float


@dataclass(frozen=True)
class Witness:
    """Evidence for a lower bound: ``value`` is the claimed Lip(f) ≥ value."""

    value: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description of the witness (points as lists)."""
        raise NotImplementedError


@dataclass(frozen=True)
class PointWitness(Witness):
    """A point x where f is differentiable: Lip(f) ≥ ‖J(x)‖₂."""

    point: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"type": "point", "x": self.point.tolist()}


@dataclass(frozen=True)
class PairWitness(Witness):
    """Two points x ≠ y: Lip(f) ≥ ‖f(x) − f(y)‖₂ / ‖x − y‖₂."""

    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"type": "pair", "x": self.x.tolist(), "y": self.y.tolist()}


Evidence = Certificate | Witness
