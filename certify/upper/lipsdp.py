"""LipSDP-Neuron and LipSDP-Layer (Fazlyab, Robey, Hassani, Morari, Pappas, NeurIPS 2019).

For σ slope-restricted in [α, β], each neuron obeys the quadratic constraint
(Δz_i − αΔv_i)(βΔv_i − Δz_i) ≥ 0 with Δv = WΔx, Δz = Δσ; summing it with weights t_i ≥ 0
(S-procedure, their Theorem 1) shows that N(ρ, diag(t)) ⪰ 0 implies ‖AΔz‖² ≤ ρ‖Δx‖², i.e.
Lip(f) ≤ √ρ (see `certify.upper.lipsdp_solvers` for N).  LipSDP-Neuron has one t_i per neuron,
LipSDP-Layer a single t for all.  The coupled "LipSDP-Network" multipliers are deliberately
absent: they are unsound (a counterexample is in tests/test_lipsdp.py).

Only neurons that can change f enter the LMI (`certify.regions.active_neurons`); if there are
none, f is constant and the certificate claims 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from models import TwoLayerNetwork

from ..evidence import Certificate
from ..methods import Budget, Kind, not_globally_lipschitz, register
from ..regions import active_neurons
from ..threads import single_threaded
from .lipsdp_solvers import (
    SchurForm,
    minimise_layer,
    minimise_neuron,
    safe_multipliers,
    solve_cone,
)

__all__ = ["LipSDPCertificate", "LipSDPLayer", "LipSDPNeuron"]

Variant = Literal["neuron", "layer"]
Solver = Literal["auto", "scs", "structured"]

#: Relative increases tried when a solver's multipliers leave C(t) (numerically) indefinite.
_REPAIR_FACTORS = (1.0, 1.0 + 1e-9, 1.0 + 1e-6, 1.0 + 1e-3, 1.1, 2.0)


@dataclass(frozen=True)
class LipSDPCertificate(Certificate):
    """Claimed N(rho, diag(multipliers)) ⪰ 0 for the sub-network of the ``neurons`` (indices
    into the hidden layer; every other neuron has w_i = 0 or A[:, i] = 0); value = √rho."""

    rho: float
    multipliers: np.ndarray = field(repr=False)
    neurons: np.ndarray = field(repr=False)
    variant: Variant


class _LipSDP:
    """Shared run logic; subclasses fix the variant."""

    kind: ClassVar[Kind] = "upper"
    default: ClassVar[bool] = True
    variant: ClassVar[Variant]

    def __init__(self, solver: Solver = "auto") -> None:
        """``"scs"``: the LMI with cvxpy + SCS; ``"structured"`` (and ``"auto"``): the Schur
        form, which was faster and at least as tight as SCS on every net compared (d + k ≤ 70),
        and takes seconds where SCS takes an hour (784→50→10 MNIST net)."""
        if solver not in ("auto", "scs", "structured"):
            raise ValueError(f"unknown LipSDP solver {solver!r}")
        self.solver = solver

    def why_not(self, net: TwoLayerNetwork) -> str | None:
        return not_globally_lipschitz(net)

    def run(self, net: TwoLayerNetwork, budget: Budget) -> LipSDPCertificate:
        neurons = active_neurons(net)
        if neurons.size == 0:
            return LipSDPCertificate(0.0, 0.0, np.zeros(0), neurons, self.variant)
        W, A = net.W[neurons], net.A[:, neurons]
        alpha, beta = net.activation.slope_lower, net.activation.slope_upper
        form = SchurForm(W, A, alpha, beta)
        with single_threaded():
            t = None
            if self.solver == "scs":
                t = solve_cone(W, A, alpha, beta, self.variant == "layer", budget.remaining())
            if t is None:
                t = self._structured(form, budget)
            t = _repaired(form, t)
            rho = form.value(t)
        return LipSDPCertificate(math.sqrt(rho), rho, t, neurons, self.variant)

    def _structured(self, form: SchurForm, budget: Budget) -> np.ndarray:
        layer = minimise_layer(form, budget.remaining())
        if self.variant == "layer":
            return layer
        return minimise_neuron(form, layer, budget.remaining())


def _repaired(form: SchurForm, t: np.ndarray) -> np.ndarray:
    """t scaled up until C(t) ≻ 0 in floating point (non-positive entries replaced first)."""
    safe = safe_multipliers(form.A)
    t = np.where(t > 0.0, t, safe)
    for factor in _REPAIR_FACTORS:
        if math.isfinite(form.value(factor * t)):
            return factor * t
    return safe


@register
class LipSDPNeuron(_LipSDP):
    """LipSDP with one multiplier per neuron: T = diag(t)."""

    name: ClassVar[str] = "lipsdp-neuron"
    variant: ClassVar[Variant] = "neuron"


@register
class LipSDPLayer(_LipSDP):
    """LipSDP with one multiplier for the whole layer: T = t·I."""

    name: ClassVar[str] = "lipsdp-layer"
    variant: ClassVar[Variant] = "layer"
