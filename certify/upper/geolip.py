"""GeoLIP for two-layer nets in the ℓ∞ norm: the Grothendieck relaxation of the bilinear bound.

Lip∞(f) ≤ max_j ‖M_j‖_{∞→1} for the bilinear forms M_j of `certify.verify.bilinear`
(Wang, Prakriya & Jha, NeurIPS 2022).  The semidefinite relaxation of each ‖M_j‖_{∞→1} is within
Grothendieck's constant K_G < 1.783 of it, and every dual-feasible point of it bounds it from above
(`certify.upper.linf_mixing`).  The certificate is the dual multipliers λ, one per row and column of
each M_j, with diag(λ) ⪰ ½[[0, M_j], [M_jᵀ, 0]] and Σλ = the claimed bound for output j; they come
from a block mixing method, stopped early by the budget if need be, and are never trusted: the
checker proves the bound that the multipliers give, feasible or not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..certificates import GeoLIPCertificate
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..scope import Scope
from ..threads import single_threaded
from ..verify.bilinear import BilinearForm
from .linf_mixing import solve_dual

__all__ = ["GeoLIP", "GeoLIPCertificate"]


@register
@dataclass
class GeoLIP:
    """The Grothendieck relaxation of every output's bilinear bound, solved in the dual.

    The budget is shared evenly among the outputs still to solve; each stops once its bound is
    within ``tolerance`` (relative) of the primal value reached.
    """

    name: ClassVar[str] = "geolip"
    kind: ClassVar[Kind] = "upper"

    tolerance: float = 1e-6

    scope: ClassVar[Scope] = Scope.of(norms=("inf",))

    def why_not(self, problem: Problem) -> str | None:
        return self.scope.why_not(problem, upper=True)

    def run(self, problem: Problem, budget: Budget) -> GeoLIPCertificate:
        net = problem.net
        rows = np.zeros((net.m, 1 + net.k))
        columns = np.zeros((net.m, net.d))
        value, primal = 0.0, -math.inf
        with single_threaded():
            for j in range(net.m):
                form = BilinearForm.of(net, j)
                if 0 in form.shape:
                    continue
                share = budget.remaining() / (net.m - j)
                point = solve_dual(form.matrix(), share, budget.seed, self.tolerance)
                half = 0.5 * point.value
                kept_rows = np.concatenate([[0] if form.center else [], 1 + form.neurons])
                rows[j, kept_rows.astype(int)] = half * point.rows / np.sum(point.rows)
                columns[j, form.columns] = half * point.columns / np.sum(point.columns)
                value, primal = max(value, point.value), max(primal, point.primal)
        sdp_lower = primal if math.isfinite(primal) else math.nan
        return GeoLIPCertificate(value, rows, columns, sdp_lower)
