"""Input domains on which a Lipschitz constant can be asked for: balls and boxes.

A bound "on a domain D" is sup |f(x) − f(y)| / ‖x − y‖ over x ≠ y in D.  Every global bound
holds on every domain; domain-aware methods may do better (neurons that never switch on D have
a fixed slope) and domain-aware lower bounds keep their witnesses inside D.

Searches move points with the float `project` and `sample`; ``contains`` decides membership
exactly (every double is a dyadic rational), and is what the witness checkers trust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from flint import fmpq

__all__ = ["Ball", "Box", "Domain", "DomainError", "parse_domain"]


class DomainError(ValueError):
    """The domain is malformed (shape, sign or non-finite value) or does not fit the network."""


def _vector(name: str, value: object) -> np.ndarray:
    array = np.array(value, dtype=np.float64, ndmin=1)
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise DomainError(f"{name} must be a finite vector, got shape {array.shape}")
    array.setflags(write=False)
    return array


def _rational(x: float) -> fmpq:
    return fmpq(*float(x).as_integer_ratio())


def _fits(point: np.ndarray, dimension: int) -> bool:
    """Whether ``point`` is a finite float vector of the domain's dimension."""
    return point.shape == (dimension,) and bool(np.all(np.isfinite(point)))


@dataclass(frozen=True, eq=False)
class Ball:
    """{x : ‖x − center‖_p ≤ radius}, p = "2" or "inf"."""

    center: np.ndarray = field(repr=False)
    radius: float
    norm: str = "2"

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", _vector("ball center", self.center))
        if not (np.isfinite(self.radius) and self.radius > 0):
            raise DomainError(f"ball radius must be positive and finite, got {self.radius}")
        if self.norm not in ("2", "inf"):
            raise DomainError(f"ball norm must be '2' or 'inf', got {self.norm!r}")

    @property
    def dimension(self) -> int:
        return self.center.shape[0]

    @property
    def free_axes(self) -> np.ndarray:
        """Coordinates along which the domain has positive width: all of them."""
        return np.ones(self.dimension, dtype=bool)

    @property
    def scale(self) -> float:
        """The radius: the length scale of moves inside the domain."""
        return float(self.radius)

    def bounding_box(self) -> Box:
        """The smallest box containing the ball (both norms give center ± radius)."""
        return Box(self.center - self.radius, self.center + self.radius)

    def contains(self, point: np.ndarray) -> bool:
        """Exactly whether ‖point − center‖ ≤ radius, in rational arithmetic."""
        point = np.asarray(point, dtype=np.float64)
        if not _fits(point, self.dimension):
            return False
        offsets = [_rational(x) - _rational(c) for x, c in zip(point, self.center, strict=True)]
        radius = _rational(self.radius)
        if self.norm == "inf":
            return all(abs(offset) <= radius for offset in offsets)
        return sum((offset * offset for offset in offsets), fmpq(0)) <= radius * radius

    def project(self, X: np.ndarray) -> np.ndarray:
        """The nearest points of the ball to the rows of X, in floating point."""
        offsets = np.atleast_2d(X) - self.center
        if self.norm == "inf":
            return self.center + np.clip(offsets, -self.radius, self.radius)
        lengths = np.linalg.norm(offsets, axis=1, keepdims=True)
        shrink = np.minimum(1.0, self.radius / np.maximum(lengths, np.finfo(float).tiny))
        return self.center + offsets * shrink

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` points drawn uniformly from the ball."""
        if self.norm == "inf":
            return self.center + rng.uniform(-self.radius, self.radius, (count, self.dimension))
        directions = rng.standard_normal((count, self.dimension))
        directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-300)
        radii = self.radius * rng.uniform(size=(count, 1)) ** (1.0 / self.dimension)
        return self.center + directions * radii

    def describe(self) -> str:
        return f"l{self.norm} ball of radius {self.radius:g} (dimension {self.dimension})"


@dataclass(frozen=True, eq=False)
class Box:
    """{x : lower ≤ x ≤ upper} (entrywise)."""

    lower: np.ndarray = field(repr=False)
    upper: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        lower = _vector("box lower corner", self.lower)
        upper = _vector("box upper corner", self.upper)
        if lower.shape != upper.shape or np.any(lower > upper):
            raise DomainError("box corners must have one shape and satisfy lower <= upper")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    @property
    def dimension(self) -> int:
        return self.lower.shape[0]

    @property
    def center(self) -> np.ndarray:
        """The midpoint (lower/2 + upper/2, which cannot overflow), inside the box."""
        return np.clip(self.lower / 2 + self.upper / 2, self.lower, self.upper)

    @property
    def free_axes(self) -> np.ndarray:
        """Coordinates along which the box has positive width (lower < upper)."""
        return self.lower < self.upper

    @property
    def scale(self) -> float:
        """The largest half-width: the length scale of moves inside the box."""
        return float(np.max(self.upper / 2 - self.lower / 2))

    def bounding_box(self) -> Box:
        return self

    def contains(self, point: np.ndarray) -> bool:
        """Exactly whether lower ≤ point ≤ upper (float comparisons are exact)."""
        point = np.asarray(point, dtype=np.float64)
        if not _fits(point, self.dimension):
            return False
        return bool(np.all(self.lower <= point) and np.all(point <= self.upper))

    def project(self, X: np.ndarray) -> np.ndarray:
        """The nearest points of the box to the rows of X (exactly inside it)."""
        return np.clip(np.atleast_2d(X), self.lower, self.upper)

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` points drawn uniformly from the box."""
        return rng.uniform(self.lower, self.upper, (count, self.dimension))

    def describe(self) -> str:
        return f"box (dimension {self.dimension})"


Domain = Ball | Box

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_domain(text: str, dimension: int) -> Domain:
    """The domain named on the command line, for inputs of the given dimension.

    ``unit-ball`` (the ℓ2 unit ball, which contains the unit sphere), ``ball:R`` (ℓ2 ball of
    radius R about 0), ``linf-ball:R`` (ℓ∞ ball), ``box:LO,HI`` (the cube [LO, HI]^d).
    """
    spec = text.strip().lower()
    origin = np.zeros(dimension)
    if spec == "unit-ball":
        return Ball(origin, 1.0)
    if match := re.fullmatch(rf"(l2-|linf-)?ball:({_NUMBER})", spec):
        norm = "inf" if match.group(1) == "linf-" else "2"
        return Ball(origin, float(match.group(2)), norm)
    if match := re.fullmatch(rf"box:({_NUMBER}),({_NUMBER})", spec):
        low, high = float(match.group(1)), float(match.group(2))
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise DomainError(
                f"box:{match.group(1)},{match.group(2)} is not a box: LO and HI must be finite "
                "with LO < HI"
            )
        return Box(np.full(dimension, low), np.full(dimension, high))
    raise DomainError(f"unknown domain {text!r} (use unit-ball, ball:R, linf-ball:R or box:LO,HI)")
