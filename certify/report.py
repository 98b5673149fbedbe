"""The `Report`: every method's outcome and the certified interval [lower, upper]."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .evidence import Evidence, Witness
from .methods import Kind

__all__ = ["MethodResult", "Report"]


@dataclass(frozen=True)
class MethodResult:
    """One method's outcome: its proven value when ``verified``, else its bare claim (or None)."""

    name: str
    kind: Kind
    value: float | None
    verified: bool
    seconds: float
    claimed: float | None = None
    evidence: Evidence | None = field(default=None, repr=False)
    note: str = ""
    #: False when the method does not apply to the problem (``note`` says why).
    applicable: bool = True

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (evidence omitted)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "value": _finite_or_none(self.value),
            "verified": self.verified,
            "seconds": round(self.seconds, 6),
            "claimed": _finite_or_none(self.claimed),
            "note": self.note,
            "applicable": self.applicable,
        }


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Report:
    """Certified interval for Lip(f) (ℓ2 → ℓ2 over all of R^d) and how it was obtained.

    ``lower`` is the largest verified lower bound (0 when none is verified), ``upper`` the
    smallest verified upper bound (inf when none is verified).  Unverified claims stay visible
    in ``methods`` but never enter the interval.
    """

    model: dict[str, object]
    methods: tuple[MethodResult, ...]

    def _best(self, kind: Kind) -> MethodResult | None:
        verified = [r for r in self.methods if r.kind == kind and r.verified]
        if not verified:
            return None
        pick = max if kind == "lower" else min
        return pick(verified, key=lambda r: r.value)

    @property
    def lower(self) -> float:
        best = self._best("lower")
        return max(best.value, 0.0) if best else 0.0

    @property
    def upper(self) -> float:
        best = self._best("upper")
        return best.value if best else math.inf

    @property
    def ratio(self) -> float:
        """upper / lower (inf when the lower end is 0; 1 when both are 0)."""
        if self.lower > 0:
            return self.upper / self.lower
        return 1.0 if self.upper == 0 else math.inf

    @property
    def upper_method(self) -> str | None:
        best = self._best("upper")
        return best.name if best else None

    @property
    def lower_method(self) -> str | None:
        best = self._best("lower")
        return best.name if best else None

    @property
    def lower_witness(self) -> Witness | None:
        best = self._best("lower")
        return best.evidence if best and isinstance(best.evidence, Witness) else None

    def to_dict(self) -> dict[str, object]:
        """The JSON object printed by ``certify --json``."""
        witness = self.lower_witness
        return {
            "lower": self.lower,
            "upper": _finite_or_none(self.upper),
            "ratio": _finite_or_none(self.ratio),
            "lower_method": self.lower_method,
            "upper_method": self.upper_method,
            "lower_witness": witness.to_dict() if witness else None,
            "methods": [r.to_dict() for r in self.methods],
            "model": dict(self.model),
        }
