"""Multi-layer LipSDP-Neuron and LipSDP-Layer for deep MLPs (Fazlyab et al., NeurIPS 2019,
Theorem 2): Lip(f) ≤ √ρ whenever N(ρ, T) ⪰ 0 (`certify.upper.deep_lmi`).

The multipliers come from L-BFGS on the smoothed least ρ (`certify.upper.deep_lipsdp_descent`)
or from SCS on the chordal form of the LMI (`certify.upper.deep_lipsdp_cone`), and are blended
with the layer multipliers of `safe_multipliers` (which keep the hidden part of N definite)
where that lowers the least ρ for them; ρ is recomputed from the multipliers, never taken from
the solver.  A zero weight matrix makes f constant, and the claim is 0.
`certify.verify.checks.deep_lipsdp` proves the LMI.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np

from models import DeepNetwork

from ..certificates import DeepLipSDPCertificate, Variant
from ..methods import Budget, Kind, outside_scope, register
from ..problem import Problem
from ..threads import single_threaded
from .deep_lipsdp_cone import solve_chordal
from .deep_lipsdp_descent import minimise_rho
from .deep_lmi import least_rho, safe_multipliers

__all__ = ["DeepLipSDPCertificate", "DeepLipSDPLayer", "DeepLipSDPNeuron"]

Solver = Literal["descent", "scs"]

#: Weights w of the blends (1 − w)·T_solver + w·T_safe tried: where the solver's multipliers leave
#: the hidden part of N (nearly) singular, a little of the safe ones restores a margin; the least
#: ρ over the blends is kept (ρ is convex in T).
_BLENDS = (0.0, 1e-9, 1e-6, 1e-3, 0.1, 1.0)


class _DeepLipSDP:
    """Shared run logic; subclasses fix the variant."""

    kind: ClassVar[Kind] = "upper"
    default: ClassVar[bool] = True
    variant: ClassVar[Variant]

    def __init__(self, solver: Solver = "descent") -> None:
        """``"descent"``: L-BFGS on the smoothed least ρ (`certify.upper.deep_lipsdp_descent`),
        for LipSDP-Neuron started from LipSDP-Layer's multipliers (a quarter of the time);
        ``"scs"``: the chordal cone program (`certify.upper.deep_lipsdp_cone`)."""
        if solver not in ("descent", "scs"):
            raise ValueError(f"unknown deep LipSDP solver {solver!r}")
        self.solver = solver

    def why_not(self, problem: Problem) -> str | None:
        return outside_scope(problem, self.kind, networks=(DeepNetwork,))

    def run(self, problem: Problem, budget: Budget) -> DeepLipSDPCertificate:
        net = problem.net
        if not all(np.any(W) for W in net.weights):
            return DeepLipSDPCertificate(0.0, 0.0, (), self.variant, "none")
        alpha, beta = net.activation.slope_lower, net.activation.slope_upper
        safe = safe_multipliers(net.weights, alpha, beta)
        layer = self.variant == "layer"
        with single_threaded():
            if self.solver == "scs":
                solved = solve_chordal(net.weights, alpha, beta, layer, budget.remaining())
            else:
                start = safe if layer else minimise_rho(
                    net.weights, alpha, beta, safe, True, budget.remaining() / 4)
                solved = minimise_rho(net.weights, alpha, beta, start, layer, budget.remaining())
            candidates = [safe] if solved is None else [
                tuple((1.0 - w) * t + w * s for t, s in zip(solved, safe, strict=True))
                for w in _BLENDS
            ]
            rhos = [least_rho(net.weights, t, alpha, beta) for t in candidates]
        best = int(np.argmin(rhos))
        rho = rhos[best]
        solver = self.solver if solved is not None else "safe"
        return DeepLipSDPCertificate(math.sqrt(rho), rho, candidates[best], self.variant, solver)


@register
class DeepLipSDPNeuron(_DeepLipSDP):
    """Multi-layer LipSDP with one multiplier per neuron: T_l = diag(t_l)."""

    name: ClassVar[str] = "deep-lipsdp-neuron"
    variant: ClassVar[Variant] = "neuron"


@register
class DeepLipSDPLayer(_DeepLipSDP):
    """Multi-layer LipSDP with one multiplier per layer: T_l = τ_l·I."""

    name: ClassVar[str] = "deep-lipsdp-layer"
    variant: ClassVar[Variant] = "layer"
