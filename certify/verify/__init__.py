"""Rounding-safe verification: the only place where a claim becomes a verified number."""

from .definiteness import is_positive_definite
from .dispatch import Verdict, checker, verify
from .norms import spectral_norm_upper

__all__ = [
    "Verdict",
    "checker",
    "is_positive_definite",
    "spectral_norm_upper",
    "verify",
]
