"""Checker for the co-activation bound (`certify.upper.coactivation`): every exclusion it relies
on re-proven, then every group's bound.

For each live neuron i on the ball (`certify.verify.coactivation.live_neurons`, re-derived), the
live neurons outside its assigned group must each be proven exclusive with i
(`certify.verify.coactivation.exclusive`); then each group's sub-network bound is checked by
the domain spectral checker.  The verdict is the largest of those, or 0 when no neuron is live
(f is then constant on the ball).
"""

from __future__ import annotations

import numpy as np

from models import TwoLayerNetwork

from ...certificates import CoactivationCertificate
from ...domains import Ball
from ...problem import Problem
from ..coactivation import Exclusions, live_neurons, subnetwork
from ..dispatch import Verdict, checker, unsupported, verify


@checker.register
def _(certificate: CoactivationCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, domain_aware=True):
        return Verdict.failed(reason)
    net, ball = problem.net, problem.domain
    if not (isinstance(ball, Ball) and ball.norm == "2") or net.activation.name != "relu":
        return Verdict.failed("co-activation groups are checked for ReLU on an l2 ball only")
    if reason := _malformed(certificate, net):
        return Verdict.failed(reason)
    live = live_neurons(net, ball)
    missing = [int(i) for i in live if int(i) not in certificate.assignment]
    if missing:
        return Verdict.failed(f"live neuron {missing[0]} is in no group")
    apart, _ = Exclusions(net, ball, live).matrix()
    for row, neuron in enumerate(live):
        group = certificate.groups[certificate.assignment[int(neuron)]]
        outside = ~np.isin(live, np.asarray(group, dtype=int))
        if not np.all(apart[row, outside]):
            return Verdict.failed(
                f"neuron {neuron} is not proven exclusive with the neurons outside its group"
            )
    values = []
    for group, bound in zip(certificate.groups, certificate.bounds, strict=True):
        verdict = verify(Problem(subnetwork(net, np.asarray(group, dtype=int)), "2", ball), bound)
        if not verdict.verified:
            return Verdict.failed(f"the bound of group {group[:5]}… fails: {verdict.note}")
        values.append(verdict.value)
    return Verdict(max(values, default=0.0), True)


def _malformed(certificate: CoactivationCertificate, net: TwoLayerNetwork) -> str | None:
    """Why the groups or the assignment do not fit ``net``, if they do not."""
    if len(certificate.groups) != len(certificate.bounds):
        return f"{len(certificate.groups)} groups for {len(certificate.bounds)} bounds"
    for group in certificate.groups:
        if not group or len(set(group)) != len(group) or not all(0 <= i < net.k for i in group):
            return "a group must list distinct neurons of the hidden layer, at least one"
    if not all(0 <= n < len(certificate.groups) for n in certificate.assignment.values()):
        return "the assignment names a group that does not exist"
    return None
