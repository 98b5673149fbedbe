"""`verify(problem, evidence)`: route each certificate or witness to its rounding-safe checker.

Checkers live in `certify.verify.checks`, one module per kind of evidence, and register with
``@checker.register``; they are discovered on first use, so a new method adds one module.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass
from functools import singledispatch

from models import Network, TwoLayerNetwork

from ..evidence import Evidence
from ..problem import Norm, Problem

__all__ = ["Verdict", "checker", "unsupported", "verify"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: a proven bound (``verified``) or the reason there is none."""

    value: float
    verified: bool
    note: str = ""

    @classmethod
    def failed(cls, reason: str) -> Verdict:
        """A check that proved nothing."""
        return cls(math.nan, False, reason)


@singledispatch
def checker(evidence: Evidence, problem: Problem) -> Verdict:
    """Fallback for evidence that no checker understands: never verified."""
    return Verdict.failed(f"no checker for {type(evidence).__name__}")


_discovered = False


def unsupported(
    problem: Problem,
    *,
    networks: tuple[type[Network], ...] = (TwoLayerNetwork,),
    norms: tuple[Norm, ...] = ("2",),
    domain_aware: bool = False,
) -> str | None:
    """Why a checker that proves claims of this scope cannot check ``problem`` (None if it can).

    A proven global upper bound holds on every domain, so certificate checkers pass
    ``domain_aware=True``; a witness checker must prove its points lie in the domain first.
    """
    if not isinstance(problem.net, networks):
        return f"this evidence is checked for {' and '.join(n.__name__ for n in networks)} only"
    if problem.norm not in norms:
        return f"this evidence is checked in the {' and '.join('l' + n for n in norms)} norm only"
    if problem.domain is not None and not domain_aware:
        return "this evidence is checked over all of R^d only"
    return None


def verify(problem: Problem, evidence: Evidence) -> Verdict:
    """Re-check ``evidence`` about ``problem`` with proven floating-point error bounds.

    For a certificate, the verdict's value is a proven upper bound on the problem's Lipschitz
    constant; for a witness, a proven lower bound.  Claims whose check fails come back with
    ``verified=False``.
    """
    global _discovered
    if not _discovered:
        from . import checks

        for module in pkgutil.iter_modules(checks.__path__):
            importlib.import_module(f"{checks.__name__}.{module.name}")
        _discovered = True
    return checker(evidence, problem)
