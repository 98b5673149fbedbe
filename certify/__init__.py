"""Certified two-sided bounds on the Lipschitz constant of neural networks."""

from .api import certify, resolve_network
from .domains import Ball, Box
from .methods import Budget, get_method, method_names
from .problem import Problem
from .report import MethodResult, Report
from .verify import Verdict, verify

__all__ = [
    "Ball",
    "Box",
    "Budget",
    "MethodResult",
    "Problem",
    "Report",
    "Verdict",
    "certify",
    "get_method",
    "method_names",
    "resolve_network",
    "verify",
]
