"""Neurons that are never active together: a ReLU net on an ℓ2 ball bounded group by group.

f is affine on each activation region, with Jacobian J = Σ_{i∈S} a_i w_iᵀ over the neurons S
active there, so Lip_B(f) is the largest ‖J‖₂ over the regions that meet the ball B.  Call i and
j exclusive on B when no point of B has both active (proven by a combination of the two
pre-activations negative on all of B, `certify.verify.coactivation`).  For a region meeting B
with some i ∈ S, every j ∈ S is active at the same point, so S lies in the group
N(i) = {j : not exclusive with i}, and J is the Jacobian there of the sub-network of N(i).  So

    Lip_B(f) ≤ max_i Lip_B(f_{N(i)}),

each bounded by the spectral bound on a domain (`certify.upper.domain_spectral`) of that
sub-network.  Where neurons act on separate parts of the ball — the caps of Bubeck, Li and
Nagaraj's construction f(x) = Σ 10·y_i·ReLU(x_i·x − 0.9), for one — this removes what LipSDP
adds up: the neurons that never act together.  Where every pair can be active at once (typical
for trained nets), the one group is the whole net and the bound is `spectral`'s.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from models import TwoLayerNetwork

from ..certificates import CoactivationCertificate
from ..domains import Ball
from ..methods import Budget, Kind, register
from ..problem import Problem
from ..scope import Scope
from ..verify.coactivation import Exclusions, live_neurons, subnetwork
from .domain_spectral import domain_bound

__all__ = ["Coactivation"]

#: Up to this many live neurons the exclusions are always all proven, whatever the budget: the
#: bound gains nothing from a partial matrix, and the whole one takes about 3 s at 4,000 neurons
#: (2 cores, measured); larger nets stop with the budget.
_ALWAYS_COMPLETE = 4096


@register
class Coactivation:
    """max over the groups of co-active neurons of the spectral bound of each group's
    sub-network, on an ℓ2 ball, for ReLU."""

    name: ClassVar[str] = "coactivation"
    kind: ClassVar[Kind] = "upper"
    scope: ClassVar[Scope] = Scope.of(regions=("domain",), piecewise_linear_only=True)

    def why_not(self, problem: Problem) -> str | None:
        if reason := self.scope.why_not(problem, upper=True):
            return reason
        if problem.net.activation.name != "relu":
            return "needs ReLU (an inactive neuron must have slope 0)"
        if not (isinstance(problem.domain, Ball) and problem.domain.norm == "2"):
            return "bounds an l2 ball only"
        return None

    def run(self, problem: Problem, budget: Budget) -> CoactivationCertificate:
        net, ball = problem.net, problem.domain
        live = live_neurons(net, ball)
        groups = _groups(net, ball, live, budget)
        distinct = sorted(set(groups.values()))
        index = {group: n for n, group in enumerate(distinct)}
        bounds = tuple(domain_bound(Problem(subnetwork(net, g), "2", ball)) for g in distinct)
        value = max((b.value for b in bounds), default=0.0)
        return CoactivationCertificate(
            value=value,
            groups=tuple(distinct),
            assignment={int(i): index[g] for i, g in groups.items()},
            bounds=bounds,
        )


def _groups(
    net: TwoLayerNetwork, ball: Ball, live: np.ndarray, budget: Budget
) -> dict[int, tuple[int, ...]]:
    """N(i) for every live neuron i; out of time, the neurons left get every live neuron."""
    expired = (lambda: False) if live.size <= _ALWAYS_COMPLETE else budget.expired
    apart, complete = Exclusions(net, ball, live).matrix(expired)
    everyone = tuple(int(j) for j in live)
    return {
        int(neuron): tuple(int(k) for k in live[~apart[row]]) if row < complete else everyone
        for row, neuron in enumerate(live)
    }
