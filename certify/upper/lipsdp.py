"""LipSDP-Neuron and LipSDP-Layer (Fazlyab, Robey, Hassani, Morari, Pappas, NeurIPS 2019).

For neuron i slope-restricted in [α_i, β_i], the quadratic constraint
(Δz_i − α_iΔv_i)(β_iΔv_i − Δz_i) ≥ 0 with Δv = WΔx, Δz = Δσ, summed with weights t_i ≥ 0
(S-procedure, their Theorem 1), shows that an LMI in (ρ, t) implies ‖AΔz‖² ≤ ρ‖Δx‖², i.e.
Lip(f) ≤ √ρ (the centred LMI of `certify.upper.lipsdp_solvers`).  LipSDP-Neuron has one t_i per
neuron, LipSDP-Layer a single t for all.  The intervals are the activation's sector for every
neuron over R^d, and on a domain those proven by interval bound propagation
(`certify.verify.propagation.slope_intervals`; e.g. [0, 0] for a ReLU that is never
active there) plug in the same way.  A neuron with α_i = β_i is linear and needs no multiplier
(its t_i is +∞).  The coupled "LipSDP-Network" multipliers are deliberately absent: they are
unsound (a counterexample is in tests/test_lipsdp.py).

Only neurons that can change f enter the LMI (`certify.regions.active_neurons`); if there are
none, f is constant and the certificate claims 0.  Every t > 0 with C(t) ≻ 0 gives a valid bound,
so a solver that runs out of time still returns its best multipliers.  The multipliers come from
an interior-point method (`certify.upper.lipsdp_barrier`), L-BFGS on the smoothed Schur form
(`certify.upper.lipsdp_solvers`) or SCS (`certify.upper.lipsdp_cone`); none is trusted, and
`certify.verify.checks.lipsdp` proves the LMI for the claimed ρ.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np

from models import TwoLayerNetwork

from ..certificates import DeepLipSDPCertificate, LipSDPCertificate, Variant
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..regions import active_neurons
from ..scope import Scope
from ..threads import single_threaded
from ..verify.propagation import slope_intervals
from .deep_lipsdp import deep_certificate
from .lipsdp_barrier import minimise_barrier
from .lipsdp_cone import solve_cone
from .lipsdp_solvers import (
    Centred,
    SchurForm,
    Solution,
    minimise_layer,
    minimise_neuron,
    safe_multipliers,
)
from .lipsdp_subspace import minimise_subspace

__all__ = ["LipSDPLayer", "LipSDPNeuron"]

Solver = Literal["auto", "barrier", "smoothed", "descent", "scs"]

#: Relative increases tried when a solver's multipliers leave C(t) (numerically) indefinite.
_REPAIR_FACTORS = (1.0, 1.0 + 1e-9, 1.0 + 1e-6, 1.0 + 1e-3, 1.1, 2.0)
#: The interior-point solver keeps k×k matrices and takes O(k²d + k³) per step; "auto" uses it
#: while k ≤ 2(min(d, k) + m), so that memory stays O(kd), or k ≤ this many neurons.  Beyond,
#: the first-order solver is faster to a tolerance of 10⁻³ and stays within O(kd) memory
#: (measured at d = 1000, k = 4096, m = 1: 7·10⁻⁴ from the optimum in 31 s adding 130 MB; the
#: interior-point solver took 187 s adding 760 MB to converge; benchmarks/README.md).
_BARRIER_NEURONS = 1024
#: Accuracy, in log t, of the LipSDP-Layer search: exact for the layer method, coarse where it
#: only starts the interior-point solver (which took as few steps from there, measured).
_LAYER_ACCURACY, _START_ACCURACY = 1e-10, 0.5
#: The interior-point solver starts from that search while min(d, k) is at most this (each
#: trial is a dense eigenvalue problem on the CPU), else from `safe_multipliers` (measured at
#: d = 784, k = 1024: 40 Newton steps from there instead of 29).
_SEARCHED_START = 1500
#: From this many entries of V (|F|·d), LipSDP-Neuron spends a share of its budget on the
#: first-order descent of `certify.upper.lipsdp_subspace` and starts its solver there (measured
#: on a smooth-trained net, d = 1000, |F| = 2000, m = 1, 3 s: 4.19 against 19.3 for the
#: interior-point solver alone and 11.2 for L-BFGS; benchmarks/README.md).
_SUBSPACE_ENTRIES, _SUBSPACE_SHARE = 10**6, 0.75


class _LipSDP:
    """Shared run logic; subclasses fix the variant.  Two-layer nets get the centred LMI, deep
    nets the block-tridiagonal LMI of Theorem 2 (`certify.upper.deep_lipsdp`), both with the
    slopes proven on the domain."""

    kind: ClassVar[Kind] = "upper"
    variant: ClassVar[Variant]
    scope: ClassVar[Scope] = Scope.of(("two-layer", "deep"), regions=("global", "domain"))

    def __init__(self, solver: Solver = "auto", tolerance: float = 1e-6) -> None:
        """Two layers: ``"barrier"``, the interior-point solver (`certify.upper.lipsdp_barrier`);
        ``"smoothed"``, L-BFGS on the smoothed Schur form; ``"auto"``, the barrier while its k×k
        matrices fit (see ``_BARRIER_NEURONS``), else smoothed; LipSDP-Layer always uses a line
        search.  Deep nets: ``"descent"`` (and ``"auto"``), L-BFGS on the smoothed least ρ.
        ``"scs"``: the LMI with cvxpy + SCS at any depth.  The two-layer neuron solvers stop once
        the bound is within ``tolerance`` (relative) of their lower bound on the optimum."""
        if solver not in ("auto", "barrier", "smoothed", "descent", "scs"):
            raise ValueError(f"unknown LipSDP solver {solver!r}")
        if not tolerance >= 0.0:
            raise ValueError(f"tolerance must be non-negative, got {tolerance}")
        self.solver, self.tolerance = solver, tolerance

    def why_not(self, problem: Problem) -> str | None:
        return self.scope.why_not(problem, upper=True)

    def run(self, problem: Problem, budget: Budget) -> LipSDPCertificate | DeepLipSDPCertificate:
        net = problem.net
        if not isinstance(net, TwoLayerNetwork):
            solver = "scs" if self.solver == "scs" else "descent"
            return deep_certificate(net, budget, self.variant, solver, problem.domain)
        neurons = active_neurons(net)
        if neurons.size == 0:
            return LipSDPCertificate(0.0, 0.0, np.zeros(0), neurons, self.variant, "none")
        lower, upper = (slopes[neurons] for slopes in slope_intervals(net, problem.domain))
        data = Centred.of(net.W[neurons], net.A[:, neurons], lower, upper)
        form = SchurForm(data)
        solver, solution = self._solve(form, budget)
        with single_threaded():
            t = _repaired(form, solution.t)
            rho = solution.rho if t is solution.t and solution.rho is not None else form.value(t)
        sdp_lower = math.nan if solution.lower is None else math.sqrt(min(solution.lower, rho))
        return LipSDPCertificate(
            math.sqrt(rho),
            rho,
            data.expand(t),
            neurons,
            self.variant,
            solver,
            sdp_lower,
            lower,
            upper,
        )

    def _solve(self, form: SchurForm, budget: Budget) -> tuple[str, Solution]:
        """The name of the solver that ran, and its solution."""
        if form.size == 0:
            return "no multipliers", Solution(np.zeros(0))
        if self.solver == "scs":
            t = solve_cone(form.data, self.variant == "layer", budget.remaining())
            if t is not None:
                return "scs", Solution(t)
        neuron = self.variant == "neuron"
        barrier = neuron and (self.solver == "barrier" or (self.solver == "auto" and _fits(form)))
        with single_threaded():
            if barrier and min(form.V.shape) > _SEARCHED_START:
                start = safe_multipliers(form.A)
            else:
                start = minimise_layer(
                    form, budget.remaining(), _START_ACCURACY if barrier else _LAYER_ACCURACY
                )
        if not neuron:
            return "line search", Solution(start)
        if not (self.solver == "auto" and form.V.size >= _SUBSPACE_ENTRIES):
            return self._refine(form, start, barrier, budget)
        with single_threaded():
            start = minimise_subspace(form, start, _SUBSPACE_SHARE * budget.remaining()).t
        name, solution = self._refine(form, start, barrier, budget)
        with single_threaded():
            rho = form.value(solution.t) if solution.rho is None else solution.rho
            rho_start = form.value(start)
        if rho < rho_start:
            return f"subspace, then {name}", Solution(solution.t, solution.lower, rho)
        return "subspace", Solution(start, solution.lower, rho_start)

    def _refine(
        self, form: SchurForm, start: np.ndarray, barrier: bool, budget: Budget
    ) -> tuple[str, Solution]:
        """LipSDP-Neuron's solver from ``start``: interior point or L-BFGS (``barrier``)."""
        if not barrier:
            with single_threaded():
                return "smoothed", minimise_neuron(form, start, budget.remaining(), self.tolerance)
        try:
            return "barrier", minimise_barrier(form.data, start, budget.remaining(), self.tolerance)
        except ArithmeticError:
            return "fallback", Solution(start)


def _fits(form: SchurForm) -> bool:
    """Whether "auto" picks the interior-point solver (see ``_BARRIER_NEURONS``)."""
    k, d = form.V.shape
    return k <= max(_BARRIER_NEURONS, 2 * (min(d, k) + form.B.shape[0]))


def _repaired(form: SchurForm, t: np.ndarray) -> np.ndarray:
    """t, or t scaled up until C(t) ≻ 0 in floating point (non-positive entries replaced first)."""
    if form.cholesky(t) is not None:
        return t
    safe = safe_multipliers(form.A)
    t = np.where(t > 0.0, t, safe)
    for factor in _REPAIR_FACTORS:
        if form.cholesky(factor * t) is not None:
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
