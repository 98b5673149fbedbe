"""Gradient ascent of ‖J(x)‖: the lower bound that climbs to where f is steepest.

One method for every problem it handles, dispatching on the network and the question
(`certify.lower.engines`): two-layer nets over R^d (`certify.lower.two_layer_ascent`), deep nets
(`certify.lower.deep_ascent`), two-layer nets on a domain, projected onto it
(`certify.lower.domain_search`), and the ℓ∞ norm (`certify.lower.linf_search`).  Each searches
with smoothed derivatives and claims only the true ‖J(x)‖ at the point it returns, which
`certify.verify` proves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..methods import Kind, register
from ..scope import Scope
from .engines import ASCENT_SCOPE, Ascents

__all__ = ["GradientAscent"]


@register
@dataclass
class GradientAscent(Ascents):
    """The best point of the ascent that fits the problem (see the module docstring)."""

    name: ClassVar[str] = "ascent"
    kind: ClassVar[Kind] = "lower"
    scope: ClassVar[Scope] = ASCENT_SCOPE
