"""Certified two-sided bounds on the Lipschitz constant of two-layer networks."""

from .api import certify, resolve_network
from .methods import Budget, get_method, method_names
from .report import MethodResult, Report
from .verify import Verdict, verify

__all__ = [
    "Budget",
    "MethodResult",
    "Report",
    "Verdict",
    "certify",
    "get_method",
    "method_names",
    "resolve_network",
    "verify",
]
