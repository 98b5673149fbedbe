"""`verify(net, evidence)`: route each certificate or witness to its rounding-safe checker.

Checkers live in `certify.verify.checks`, one module per kind of evidence, and register with
``@checker.register``; they are discovered on first use, so a new method adds one module.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass
from functools import singledispatch

from models import TwoLayerNetwork

from ..evidence import Evidence

__all__ = ["Verdict", "checker", "verify"]


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
def checker(evidence: Evidence, net: TwoLayerNetwork) -> Verdict:
    """Fallback for evidence that no checker understands: never verified."""
    return Verdict.failed(f"no checker for {type(evidence).__name__}")


_discovered = False


def verify(net: TwoLayerNetwork, evidence: Evidence) -> Verdict:
    """Re-check ``evidence`` about ``net`` with proven floating-point error bounds.

    For a certificate, the verdict's value is a proven upper bound on Lip(f); for a witness,
    a proven lower bound.  Claims whose check fails come back with ``verified=False``.
    """
    global _discovered
    if not _discovered:
        from . import checks

        for module in pkgutil.iter_modules(checks.__path__):
            importlib.import_module(f"{checks.__name__}.{module.name}")
        _discovered = True
    return checker(evidence, net)
