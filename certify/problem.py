"""The question a bound answers: Lip(f) of a network, in a norm, over a domain.

``norm="2"``: sup ‖f(x) − f(y)‖₂ / ‖x − y‖₂.  ``norm="inf"``: sup ‖f(x) − f(y)‖∞ / ‖x − y‖∞,
which is max_j sup_x ‖∇f_j(x)‖₁ (the ℓ∞ → ℓ∞ operator norm of the Jacobian is its largest row
ℓ1 norm), so it splits into one scalar problem per output.  ``domain=None`` means all of R^d.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models import Network

from .domains import Domain, DomainError

__all__ = ["NORMS", "Norm", "Problem", "ProblemError"]

Norm = Literal["2", "inf"]
NORMS: tuple[Norm, ...] = ("2", "inf")


class ProblemError(ValueError):
    """The norm is unknown or the domain does not fit the network."""


@dataclass(frozen=True, eq=False)
class Problem:
    """Bound Lip(``net``) for ``norm`` over ``domain`` (None: all of R^d)."""

    net: Network
    norm: Norm = "2"
    domain: Domain | None = None

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ProblemError(f"unknown norm {self.norm!r} (use one of {', '.join(NORMS)})")
        if self.domain is not None and self.domain.dimension != self.net.d:
            raise DomainError(
                f"the domain has dimension {self.domain.dimension}, "
                f"the network's input {self.net.d}"
            )

    @property
    def is_global(self) -> bool:
        """True when the bound is over all of R^d."""
        return self.domain is None

    def describe(self) -> dict[str, object]:
        """The network's summary plus the norm and domain, for reports."""
        domain = "R^d" if self.domain is None else self.domain.describe()
        return {**self.net.describe(), "norm": self.norm, "domain": domain}
