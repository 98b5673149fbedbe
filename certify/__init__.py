"""Certified two-sided bounds on the Lipschitz constant of neural networks."""

from .api import certify, resolve_network
from .domains import Ball, Box
from .methods import Budget, get_method, method_names
from .problem import Problem
from .report import MethodResult, Report
from .verify import Verdict, verify
from .version import __version__

__all__ = [
    "Ball",
    "Box",
    "Budget",
    "MethodResult",
    "Problem",
    "Report",
    "Verdict",
    "__version__",
    "certify",
    "get_method",
    "method_names",
    "resolve_network",
    "verify",
]
