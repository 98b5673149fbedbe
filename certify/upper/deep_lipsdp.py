"""LipSDP-Neuron and LipSDP-Layer for deep MLPs (Fazlyab et al., NeurIPS 2019, Theorem 2): Lip(f) ≤
√ρ whenever N(ρ, T) ⪰ 0 (`certify.verify.deep_lmi`); the deep case of `certify.upper.lipsdp`.
On a domain every neuron gets the slopes proven there (a neuron that never switches has a fixed
slope), which is what makes the bound local; a layer whose slopes all vanish makes f constant.

The multipliers come from L-BFGS on the smoothed least ρ (`certify.upper.deep_lipsdp_descent`)
or from SCS on the chordal form of the LMI (`certify.upper.deep_lipsdp_cone`), and are blended
with the layer multipliers of `safe_multipliers` (which keep the hidden part of N definite)
where that lowers the least ρ for them; ρ is recomputed from the multipliers, never taken from
the solver.  A zero weight matrix makes f constant, and the claim is 0.
`certify.verify.checks.deep_lipsdp` proves the LMI.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from models import DeepNetwork

from ..certificates import DeepLipSDPCertificate, Variant
from ..domains import Domain
from ..methods import Budget
from ..threads import single_threaded
from ..verify.propagation import layer_slope_intervals
from .deep_lipsdp_cone import solve_chordal
from .deep_lipsdp_descent import minimise_rho
from .deep_lmi import least_rho, safe_multipliers

__all__ = ["deep_certificate"]

Solver = Literal["descent", "scs"]

#: Weights w of the blends (1 − w)·T_solver + w·T_safe tried: where the solver's multipliers leave
#: the hidden part of N (nearly) singular, a little of the safe ones restores a margin; the least
#: ρ over the blends is kept (ρ is convex in T).
_BLENDS = (0.0, 1e-9, 1e-6, 1e-3, 0.1, 1.0)


def deep_certificate(
    net: DeepNetwork,
    budget: Budget,
    variant: Variant,
    solver: Solver = "descent",
    domain: Domain | None = None,
) -> DeepLipSDPCertificate:
    """Multipliers for N(ρ, T) ⪰ 0 with the slopes of every neuron on ``domain`` (σ's sector
    when None) and the least ρ for them: ``"descent"`` is L-BFGS on the smoothed least ρ
    (`certify.upper.deep_lipsdp_descent`), for LipSDP-Neuron started from LipSDP-Layer's
    multipliers (a quarter of the time); ``"scs"`` the chordal cone program
    (`certify.upper.deep_lipsdp_cone`)."""
    slopes = layer_slope_intervals(net, domain)
    flat = any(not (np.any(a) or np.any(b)) for a, b in slopes)
    if flat or not all(np.any(W) for W in net.weights):
        return DeepLipSDPCertificate(0.0, 0.0, (), variant, "none")
    safe = safe_multipliers(net.weights, slopes)
    layer = variant == "layer"
    with single_threaded():
        if solver == "scs":
            solved = solve_chordal(net.weights, slopes, layer, budget.remaining())
        else:
            start = (
                safe
                if layer
                else minimise_rho(net.weights, slopes, safe, True, budget.remaining() / 4)
            )
            solved = minimise_rho(net.weights, slopes, start, layer, budget.remaining())
        candidates = (
            [safe]
            if solved is None
            else [
                tuple((1.0 - w) * t + w * s for t, s in zip(solved, safe, strict=True))
                for w in _BLENDS
            ]
        )
        rhos = [least_rho(net.weights, t, slopes) for t in candidates]
    best = int(np.argmin(rhos))
    rho = rhos[best]
    found_by = solver if solved is not None else "safe"
    return DeepLipSDPCertificate(math.sqrt(rho), rho, candidates[best], variant, found_by)
